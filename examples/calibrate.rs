//! Deployment calibration: fit the cumulative-probability partition thresholds on the
//! validation split (maximising macro-F1), save them next to the checkpoint, and compare the
//! argmax grade with the partition grade on the test split (accuracy, macro-F1, NDCG).
//!
//! `cargo run --release --example calibrate -- [--model runs/sft] [--val N] [--eval N]
//! [--thresholds FILE] [--output FILE] [--validation data/validation.jsonl]
//! [--test data/test.jsonl] [--tokenizer assets/tokenizer.json]`
//!
//! Writes the thresholds to `--thresholds` (default `<model>/thresholds.json`, read by
//! `examples/serve.rs`) and the comparison to `--output` (default
//! `<model>/partition_comparison.json`). Every flag, its default and what it accepts:
//! `cargo run --release --example calibrate -- --help` (see [`taosr1::cli::CalibrateArgs`]).

use clap::Parser;
use taosr1::assets::load_checkpoint;
use taosr1::backend;
use taosr1::cli::CalibrateArgs;
use taosr1::infer::InferConfig;
use taosr1::pipeline::compare_partition;
use taosr1::Error;

fn main() -> std::process::ExitCode {
    taosr1::cli::report(run(&CalibrateArgs::parse()))
}

fn run(args: &CalibrateArgs) -> Result<(), Error> {
    let val = args.val.unwrap_or(usize::MAX);
    let data = args.source.resolve(args.data_paths())?;
    println!("backend: {}", backend::name());
    let codec = data.codec_for(&args.model)?;
    let (model, _) = load_checkpoint(&args.model, &backend::device())?;
    let cmp = compare_partition(
        &model,
        &codec,
        &data,
        val,
        args.eval.limit(),
        &InferConfig::default(),
    )?;
    println!(
        "thresholds fitted on validation (macro-F1 {:.3} -> {:.3}): {:?}",
        cmp.validation_before,
        cmp.validation_after,
        cmp.thresholds.as_slice()
    );
    let path = args.thresholds_path();
    let thresholds = cmp.thresholds.to_json()?;
    taosr1_model::write_atomic(&path, thresholds.as_bytes()).map_err(|e| Error::io(&path, e))?;
    println!("saved {}", path.display());
    let cumpt = path.with_file_name(taosr1::cli::CUMPT_FILE);
    cmp.cumpt.save(&cumpt)?;
    println!(
        "saved {} (CumPT tiers, beta {:.3})",
        cumpt.display(),
        cmp.cumpt.beta()
    );
    let report = args.output_path();
    let json = serde_json::to_string_pretty(&cmp).map_err(|e| Error::Input(e.to_string()))?;
    taosr1_model::write_atomic(&report, json.as_bytes()).map_err(|e| Error::io(&report, e))?;
    println!("saved {}", report.display());
    println!(
        "\n{} test examples, {}:",
        cmp.test_default.n,
        codec.template().order()
    );
    print!("{}", cmp.table());
    Ok(())
}
