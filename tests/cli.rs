//! The examples' command lines (`taosr1::cli`): help renders, unknown, misspelled and stray
//! arguments are refused, empty paths and out-of-range numbers are refused, and every path
//! defaults to the shipped file.

use std::path::Path;

use clap::error::ErrorKind;
use clap::Parser;
use taosr1::cli::{
    BuildTokenizerArgs, CalibrateArgs, DpoArgs, GenDataArgs, GrpoArgs, PipelineArgs, ServeArgs,
    SftArgs,
};

/// Parse `args` (after the program name) with `T` and return the error kind, if any.
fn kind<T: Parser>(args: &[&str]) -> Option<ErrorKind> {
    let name = T::command().get_name().to_string();
    T::try_parse_from(std::iter::once(name.as_str()).chain(args.iter().copied()))
        .err()
        .map(|e| e.kind())
}

/// The error of parsing `args` (after the program name) with `T`.
fn error<T: Parser>(args: &[&str]) -> clap::Error {
    let name = T::command().get_name().to_string();
    match T::try_parse_from(std::iter::once(name.as_str()).chain(args.iter().copied())) {
        Ok(_) => panic!("{name} {args:?} parsed"),
        Err(e) => e,
    }
}

fn parse<T: Parser>(args: &[&str]) -> T {
    let name = T::command().get_name().to_string();
    T::try_parse_from(std::iter::once(name.as_str()).chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("{name} {args:?}: {e}"))
}

/// Checks every example shares: a valid command, help, unknown and stray arguments, empty and
/// missing path values. `path_flags` are the flags taking a path.
fn common<T: Parser>(path_flags: &[&str]) {
    let cmd = T::command();
    cmd.clone().debug_assert();
    let name = cmd.get_name().to_string();

    for help in ["--help", "-h"] {
        let err = error::<T>(&[help]);
        assert_eq!(err.kind(), ErrorKind::DisplayHelp, "{name} {help}");
        let text = err.to_string();
        assert!(text.contains("Usage:"), "{name} {help}: {text}");
        for flag in path_flags {
            assert!(text.contains(flag), "{name} help lacks {flag}: {text}");
        }
    }
    // the defaults parse
    parse::<T>(&[]);
    assert_eq!(
        kind::<T>(&["--no-such-flag"]),
        Some(ErrorKind::UnknownArgument)
    );
    assert_eq!(
        kind::<T>(&["--no-such-flag", "3"]),
        Some(ErrorKind::UnknownArgument)
    );
    assert_eq!(kind::<T>(&["stray"]), Some(ErrorKind::UnknownArgument));
    assert_eq!(kind::<T>(&["-x"]), Some(ErrorKind::UnknownArgument));

    assert!(
        !path_flags.is_empty(),
        "{name}: every example reads or writes a file"
    );
    for flag in path_flags {
        for empty in ["", "  "] {
            let err = error::<T>(&[flag, empty]);
            assert!(
                matches!(
                    err.kind(),
                    ErrorKind::ValueValidation | ErrorKind::InvalidValue
                ),
                "{name} {flag} {empty:?}: {:?}",
                err.kind()
            );
            let msg = err.to_string();
            assert!(msg.contains(flag) && msg.contains("empty"), "{msg}");
            let joined = format!("{flag}={empty}");
            assert!(
                T::try_parse_from([name.as_str(), joined.as_str()]).is_err(),
                "{name} {joined}"
            );
        }
        // a flag without its value
        assert!(kind::<T>(&[flag]).is_some(), "{name} {flag} with no value");
        // given twice
        assert_eq!(
            kind::<T>(&[flag, "a", flag, "b"]),
            Some(ErrorKind::ArgumentConflict),
            "{name} {flag} twice"
        );
    }
}

/// A misspelled flag is refused and the message suggests the right one.
fn suggests<T: Parser>(typo: &str, flag: &str) {
    let name = T::command().get_name().to_string();
    let err = error::<T>(&[typo, "1"]);
    assert_eq!(err.kind(), ErrorKind::UnknownArgument, "{name} {typo}");
    let msg = err.to_string();
    assert!(
        msg.contains(typo) && msg.contains(&format!("'{flag}'")),
        "{name} {typo}: {msg}"
    );
}

/// `flag` refuses zero, negative, NaN, infinite and non-numeric values and accepts `good`.
fn positive_number<T: Parser>(flag: &str, good: &str) {
    for bad in [
        "0", "-1", "-0.5", "0.0", "nan", "NaN", "inf", "abc", "1e400", "", "0x10",
    ] {
        assert!(
            matches!(
                kind::<T>(&[flag, bad]),
                Some(ErrorKind::ValueValidation | ErrorKind::InvalidValue)
            ),
            "{flag} {bad}"
        );
    }
    // not a negative number to clap: refused as an unknown `-i` flag
    assert!(kind::<T>(&[flag, "-inf"]).is_some(), "{flag} -inf");
    let eq = format!("{flag}=-1");
    assert!(kind::<T>(&[&eq]).is_some(), "{eq}");
    let msg = error::<T>(&[flag, "-1"]).to_string();
    assert!(msg.contains("greater than 0"), "{msg}");
    assert_eq!(kind::<T>(&[flag, good]), None, "{flag} {good}");
}

/// `flag` refuses values below `min` and non-integers, accepts `min`.
fn count<T: Parser>(flag: &str, min: usize) {
    let below = (min - 1).to_string();
    for bad in [below.as_str(), "-1", "1.5", "x", ""] {
        assert!(
            matches!(
                kind::<T>(&[flag, bad]),
                Some(ErrorKind::ValueValidation | ErrorKind::InvalidValue)
            ),
            "{flag} {bad:?}"
        );
    }
    let msg = error::<T>(&[flag, &below]).to_string();
    assert!(msg.contains(&format!("at least {min}")), "{msg}");
    assert_eq!(kind::<T>(&[flag, &min.to_string()]), None, "{flag} {min}");
}

#[test]
fn pipeline_args() {
    common::<PipelineArgs>(&[
        "--train",
        "--validation",
        "--test",
        "--tokenizer",
        "--sft-out",
        "--dpo-out",
        "--grpo-out",
    ]);
    suggests::<PipelineArgs>("--grpo-step", "--grpo-steps");
    suggests::<PipelineArgs>("--evl", "--eval");
    count::<PipelineArgs>("--grpo-steps", 1);
    count::<PipelineArgs>("--eval", 1);

    let a = parse::<PipelineArgs>(&[]);
    let data = a.data_paths();
    assert_eq!(data.train, Path::new("data/train.jsonl"));
    assert_eq!(data.validation, Path::new("data/validation.jsonl"));
    assert_eq!(data.test, Path::new("data/test.jsonl"));
    assert_eq!(data.tokenizer, Path::new("assets/tokenizer.json"));
    assert_eq!(a.sft_out, Path::new("runs/sft"));
    assert_eq!(a.dpo_out, Path::new("runs/dpo"));
    assert_eq!(a.grpo_out, Path::new("runs/grpo"));
    assert_eq!(a.grpo_steps, taosr1::stages::GrpoRun::default().steps);
    assert_eq!(a.eval.limit(), usize::MAX);

    // the README form
    let a = parse::<PipelineArgs>(&["--eval", "300", "--grpo-steps", "40"]);
    assert_eq!((a.eval.limit(), a.grpo_steps), (300, 40));
    let a = parse::<PipelineArgs>(&["--train=t.jsonl", "--tokenizer", "tok.json"]);
    assert_eq!(a.data_paths().train, Path::new("t.jsonl"));
    assert_eq!(a.data_paths().tokenizer, Path::new("tok.json"));
}

#[test]
fn sft_args() {
    common::<SftArgs>(&["--train", "--test", "--tokenizer", "--out"]);
    suggests::<SftArgs>("--step", "--steps");
    suggests::<SftArgs>("--stepz", "--steps");
    suggests::<SftArgs>("--lrr", "--lr");
    suggests::<SftArgs>("--epoch", "--epochs");
    assert_eq!(
        kind::<SftArgs>(&["--validation", "v.jsonl"]),
        Some(ErrorKind::UnknownArgument)
    );
    positive_number::<SftArgs>("--lr", "1e-3");
    for flag in [
        "--epochs", "--steps", "--batch", "--hidden", "--layers", "--eval",
    ] {
        count::<SftArgs>(flag, 1);
    }
    assert!(kind::<SftArgs>(&["--seed", "-3"]).is_some());

    // defaults: the shipped files and today's run
    let a = parse::<SftArgs>(&[]);
    let run = a.run();
    let want = taosr1::pipeline::SftRun::default();
    assert_eq!(run.sft, want.sft);
    assert_eq!(run.model, want.model);
    assert_eq!(run.seed, want.seed);
    assert_eq!(run.eval_limit, usize::MAX);
    assert_eq!(run.out_dir.as_deref(), Some(Path::new("runs/sft")));
    assert_eq!(run.data.train, Path::new("data/train.jsonl"));
    assert_eq!(run.data.test, Path::new("data/test.jsonl"));
    assert_eq!(run.data.tokenizer, Path::new("assets/tokenizer.json"));

    let a = parse::<SftArgs>(&[
        "--epochs",
        "2",
        "--steps",
        "5",
        "--lr",
        "1e-3",
        "--batch",
        "8",
        "--hidden",
        "32",
        "--layers",
        "1",
        "--out",
        "runs/x",
        "--eval",
        "300",
        "--seed",
        "9",
        "--train",
        "t.jsonl",
        "--test",
        "e.jsonl",
        "--tokenizer",
        "k.json",
    ]);
    let run = a.run();
    assert_eq!(run.sft.epochs, 2);
    assert_eq!(run.sft.max_steps, Some(5));
    assert_eq!(run.sft.optimizer.learning_rate, 1e-3);
    assert_eq!(run.sft.batch_size, 8);
    assert_eq!(
        (
            run.model.hidden_size,
            run.model.intermediate_size,
            run.model.num_hidden_layers
        ),
        (32, 64, 1)
    );
    assert_eq!(run.out_dir.as_deref(), Some(Path::new("runs/x")));
    assert_eq!((run.eval_limit, run.seed), (300, 9));
    assert_eq!(run.data.train, Path::new("t.jsonl"));
    assert_eq!(run.data.test, Path::new("e.jsonl"));
    assert_eq!(run.data.tokenizer, Path::new("k.json"));
}

#[test]
fn dpo_args() {
    common::<DpoArgs>(&["--train", "--test", "--tokenizer", "--init", "--out"]);
    suggests::<DpoArgs>("--epoch", "--epochs");
    suggests::<DpoArgs>("--lrr", "--lr");
    suggests::<DpoArgs>("--betta", "--beta");
    suggests::<DpoArgs>("--prompt", "--prompts");
    positive_number::<DpoArgs>("--lr", "1e-4");
    positive_number::<DpoArgs>("--beta", "0.5");
    positive_number::<DpoArgs>("--temperature", "0.7");
    for flag in ["--prompts", "--n", "--epochs", "--eval"] {
        count::<DpoArgs>(flag, 1);
    }
    for bad in ["-1", "nan", "inf"] {
        assert!(kind::<DpoArgs>(&["--nll", bad]).is_some(), "--nll {bad}");
    }
    assert_eq!(kind::<DpoArgs>(&["--nll", "0"]), None);

    let a = parse::<DpoArgs>(&[]);
    assert_eq!(a.run(), taosr1::stages::DpoRun::default());
    assert_eq!(a.init, Path::new("runs/sft"));
    assert_eq!(a.out, Path::new("runs/dpo"));
    assert_eq!(a.data_paths().train, Path::new("data/train.jsonl"));
    assert_eq!(a.data_paths().test, Path::new("data/test.jsonl"));
    assert_eq!(a.data_paths().tokenizer, Path::new("assets/tokenizer.json"));

    let a = parse::<DpoArgs>(&[
        "--prompts",
        "24",
        "--n",
        "4",
        "--temperature",
        "0.5",
        "--epochs",
        "1",
        "--beta",
        "0.2",
        "--nll",
        "0",
        "--lr",
        "2e-4",
    ]);
    let run = a.run();
    assert_eq!((run.prompts, run.n, run.epochs), (24, 4, 1));
    assert_eq!(run.rollout.temperature, 0.5);
    assert_eq!((run.trainer.loss.beta, run.trainer.nll_weight), (0.2, 0.0));
    assert_eq!(run.trainer.optimizer.learning_rate, 2e-4);
}

#[test]
fn grpo_args() {
    common::<GrpoArgs>(&[
        "--train",
        "--test",
        "--tokenizer",
        "--sft",
        "--init",
        "--out",
    ]);
    suggests::<GrpoArgs>("--step", "--steps");
    suggests::<GrpoArgs>("--lrr", "--lr");
    suggests::<GrpoArgs>("--kll", "--kl");
    positive_number::<GrpoArgs>("--lr", "5e-4");
    count::<GrpoArgs>("--steps", 1);
    count::<GrpoArgs>("--group", 2);
    count::<GrpoArgs>("--groups", 1);
    count::<GrpoArgs>("--eval", 1);
    for bad in ["-0.1", "nan", "inf"] {
        assert!(kind::<GrpoArgs>(&["--kl", bad]).is_some(), "--kl {bad}");
    }

    let a = parse::<GrpoArgs>(&[]);
    assert_eq!(a.run(), taosr1::stages::GrpoRun::default());
    assert_eq!(a.sft, Path::new("runs/sft"));
    assert_eq!(a.init, None);
    assert_eq!(a.out, Path::new("runs/grpo"));
    assert_eq!(a.data_paths().train, Path::new("data/train.jsonl"));

    let a = parse::<GrpoArgs>(&[
        "--steps",
        "3",
        "--group",
        "4",
        "--groups",
        "2",
        "--lr",
        "1e-3",
        "--kl",
        "0",
        "--init",
        "runs/other",
    ]);
    let run = a.run();
    assert_eq!(run.steps, 3);
    assert_eq!(
        (
            run.trainer.sampling.group_size,
            run.trainer.sampling.target_groups
        ),
        (4, 2)
    );
    assert_eq!(run.trainer.optimizer.learning_rate, 1e-3);
    assert_eq!(run.trainer.loss.kl_beta, 0.0);
    assert_eq!(a.init_dir(), Path::new("runs/other"));
}

#[test]
fn calibrate_args() {
    common::<CalibrateArgs>(&[
        "--model",
        "--validation",
        "--test",
        "--tokenizer",
        "--thresholds",
        "--output",
    ]);
    suggests::<CalibrateArgs>("--modle", "--model");
    suggests::<CalibrateArgs>("--threshold", "--thresholds");
    count::<CalibrateArgs>("--val", 1);
    count::<CalibrateArgs>("--eval", 1);
    assert_eq!(
        kind::<CalibrateArgs>(&["--train", "t.jsonl"]),
        Some(ErrorKind::UnknownArgument)
    );

    let a = parse::<CalibrateArgs>(&[]);
    assert_eq!(a.model, Path::new("runs/sft"));
    assert_eq!(a.val, None);
    assert_eq!(a.thresholds_path(), Path::new("runs/sft/thresholds.json"));
    assert_eq!(
        a.output_path(),
        Path::new("runs/sft/partition_comparison.json")
    );
    let data = a.data_paths();
    assert_eq!(data.validation, Path::new("data/validation.jsonl"));
    assert_eq!(data.test, Path::new("data/test.jsonl"));
    assert_eq!(data.tokenizer, Path::new("assets/tokenizer.json"));

    let a = parse::<CalibrateArgs>(&["--thresholds", "t.json", "--output", "o.json"]);
    assert_eq!(a.thresholds_path(), Path::new("t.json"));
    assert_eq!(a.output_path(), Path::new("o.json"));
}

#[test]
fn serve_args() {
    common::<ServeArgs>(&[
        "--model",
        "--tokenizer",
        "--thresholds",
        "--input",
        "--output",
    ]);
    suggests::<ServeArgs>("--think_budget", "--think-budget");
    suggests::<ServeArgs>("--batches", "--batch");
    suggests::<ServeArgs>("--inptu", "--input");
    count::<ServeArgs>("--batch", 1);
    assert_eq!(kind::<ServeArgs>(&["--think-budget", "0"]), None);
    assert!(kind::<ServeArgs>(&["--think-budget", "-1"]).is_some());

    let a = parse::<ServeArgs>(&[]);
    assert_eq!(a.model, Path::new("runs/sft"));
    assert_eq!(a.tokenizer.path, Path::new("assets/tokenizer.json"));
    assert_eq!(a.input, Path::new("data/test.jsonl"));
    assert_eq!(a.output, Path::new("-"));
    assert_eq!(a.thresholds, None);
    assert_eq!(a.infer(), taosr1::infer::InferConfig::default());

    let a = parse::<ServeArgs>(&[
        "--batch",
        "8",
        "--think-budget",
        "16",
        "--thresholds",
        "t.json",
    ]);
    assert_eq!((a.infer().batch_size, a.infer().think_budget), (8, 16));
    assert_eq!(
        a.rule_file().unwrap(),
        Some(taosr1::cli::RuleFile::Thresholds("t.json".into()))
    );

    // --http and its flags
    assert_eq!(a.http, None);
    assert_eq!(a.http_config(), taosr1::http::ServeConfig::default());
    count::<ServeArgs>("--max-batch", 1);
    count::<ServeArgs>("--max-body-bytes", 1);
    assert_eq!(kind::<ServeArgs>(&["--max-wait-ms", "0"]), None);
    for bad in ["-1", "1.5", "x", ""] {
        assert!(
            kind::<ServeArgs>(&["--max-wait-ms", bad]).is_some(),
            "--max-wait-ms {bad:?}"
        );
    }
    for good in ["127.0.0.1:0", "localhost:8080", "[::1]:9000", "0.0.0.0:80"] {
        let a = parse::<ServeArgs>(&["--http", good]);
        assert_eq!(a.http.as_deref(), Some(good));
    }
    for bad in [
        "",
        "8080",
        "127.0.0.1",
        ":8080",
        "127.0.0.1:99999",
        "host:port",
    ] {
        let err = error::<ServeArgs>(&["--http", bad]);
        assert!(err.to_string().contains("--http"), "{bad:?}: {err}");
    }
    // the service reads and writes no file
    for file_flag in ["--input", "--output"] {
        assert_eq!(
            kind::<ServeArgs>(&["--http", "127.0.0.1:0", file_flag, "f.jsonl"]),
            Some(ErrorKind::ArgumentConflict),
            "{file_flag}"
        );
    }
    let a = parse::<ServeArgs>(&[
        "--http",
        "127.0.0.1:0",
        "--max-batch",
        "8",
        "--max-wait-ms",
        "20",
        "--max-body-bytes",
        "4096",
    ]);
    let cfg = a.http_config();
    assert_eq!(
        (cfg.max_batch, cfg.max_wait, cfg.max_body_bytes),
        (8, std::time::Duration::from_millis(20), 4096)
    );
}

#[test]
fn gen_data_args() {
    common::<GenDataArgs>(&["--train", "--validation", "--test"]);
    suggests::<GenDataArgs>("--tset", "--test");
    let a = parse::<GenDataArgs>(&[]);
    assert_eq!(a.data.train.path, Path::new("data/train.jsonl"));
    assert_eq!(a.data.validation.path, Path::new("data/validation.jsonl"));
    assert_eq!(a.data.test.path, Path::new("data/test.jsonl"));
}

#[test]
fn build_tokenizer_args() {
    common::<BuildTokenizerArgs>(&["--train", "--validation", "--test", "--output"]);
    suggests::<BuildTokenizerArgs>("--ouput", "--output");
    let a = parse::<BuildTokenizerArgs>(&[]);
    assert_eq!(a.output, Path::new("assets/tokenizer.json"));
    assert_eq!(a.data.train.path, Path::new("data/train.jsonl"));
    assert_eq!(a.data.validation.path, Path::new("data/validation.jsonl"));
    assert_eq!(a.data.test.path, Path::new("data/test.jsonl"));
}

/// The shipped files the defaults name exist (the tests run from the package root, like the
/// README's commands), and the library's `DataPaths::default()` addresses the same files.
#[test]
fn defaults_are_the_shipped_files() {
    let a = parse::<PipelineArgs>(&[]);
    let cli = a.data_paths();
    let lib = taosr1::assets::DataPaths::default();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (from_cli, from_lib) in [
        (&cli.train, &lib.train),
        (&cli.validation, &lib.validation),
        (&cli.test, &lib.test),
        (&cli.tokenizer, &lib.tokenizer),
    ] {
        assert!(from_cli.is_relative(), "{}", from_cli.display());
        assert_eq!(&root.join(from_cli), from_lib);
        assert!(from_lib.is_file(), "{}", from_lib.display());
    }
}

/// Errors of the path-taking loaders name the file.
#[test]
fn loaders_name_the_file() {
    let dir = std::env::temp_dir().join(format!("taosr1-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, "{\"query\": 1}\n").unwrap();
    let err = taosr1::assets::load_examples(&bad).unwrap_err().to_string();
    assert!(
        err.contains(&bad.display().to_string()) && err.contains("line 1"),
        "{err}"
    );

    let empty = dir.join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let err = taosr1::pipeline::test_examples(&empty, 10)
        .unwrap_err()
        .to_string();
    assert!(err.contains(&empty.display().to_string()), "{err}");
    let data = taosr1::assets::DataPaths {
        validation: empty.clone(),
        ..Default::default()
    };
    let err = data
        .load_nonempty(taosr1::assets::Split::Validation)
        .unwrap_err()
        .to_string();
    assert!(err.contains(&empty.display().to_string()), "{err}");

    let missing = dir.join("missing.json");
    let err = taosr1::assets::load_codec_from(&missing)
        .unwrap_err()
        .to_string();
    assert!(err.contains(&missing.display().to_string()), "{err}");
    let not_a_tokenizer = dir.join("tokenizer.json");
    std::fs::write(&not_a_tokenizer, "{}").unwrap();
    let err = taosr1::assets::load_codec_from(&not_a_tokenizer)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&not_a_tokenizer.display().to_string()),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--data FILE` (your own pairs) is a flag of every example that trains or evaluates, and
/// resolves to splits and a tokenizer made from the file; a spec that is neither
/// `home-depot` nor a readable JSON spec is an error naming it.
#[test]
fn data_source_flags_on_every_training_example() {
    use taosr1::cli::{DataSourceArg, PostCotArgs};
    fn source<T: Parser>(get: fn(&T) -> &DataSourceArg) {
        let name = T::command().get_name().to_string();
        let a = parse::<T>(&["--data", "pairs.csv", "--strict", "--data-dir", "d"]);
        let s = get(&a);
        assert_eq!(s.data.as_deref(), Some(Path::new("pairs.csv")), "{name}");
        assert!(s.strict, "{name}");
        assert_eq!(s.data_dir, Path::new("d"), "{name}");
        assert!(kind::<T>(&["--data", ""]).is_some(), "{name}: empty --data");
    }
    source::<PipelineArgs>(|a| &a.source);
    source::<SftArgs>(|a| &a.source);
    source::<DpoArgs>(|a| &a.source);
    source::<GrpoArgs>(|a| &a.source);
    source::<CalibrateArgs>(|a| &a.source);
    source::<PostCotArgs>(|a| &a.source);

    let dir = std::env::temp_dir().join(format!("taosr1-cli-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("pairs.csv");
    let mut text = String::from("id,product_uid,product_title,search_term,relevance\n");
    for q in 0..30 {
        text += &format!("{q},1,Steel hammer {q},hammer {q},2.67\n");
    }
    std::fs::write(&csv, text).unwrap();
    let csv_arg = csv.to_str().unwrap();
    let dir_arg = dir.to_str().unwrap();
    let a = parse::<SftArgs>(&["--data", csv_arg, "--data-dir", dir_arg]);
    let paths = a.source.resolve(a.data_paths()).unwrap();
    assert_eq!(paths.train, dir.join("pairs").join("train.jsonl"));
    let train = paths.load(taosr1::assets::Split::Train).unwrap();
    assert!(train.iter().all(|e| e.grade.index() == 2), "2.67 is L3");
    let a = parse::<SftArgs>(&["--data", csv_arg, "--spec", "esci-typo"]);
    let err = a.source.resolve(a.data_paths()).unwrap_err().to_string();
    assert!(err.contains("esci-typo"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
