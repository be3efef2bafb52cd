//! `examples/home_depot` end to end on a tiny random checkpoint (the SmolLM2-style fixture
//! tokenizer, a 2-layer model written as a Hugging Face folder) and a small Home Depot-shaped
//! CSV: the stages run, write their results and checkpoints, the table lists the baselines and
//! stages, and a second run resumes without recomputing anything.

mod common;

use std::path::{Path, PathBuf};

use taosr1_model::{ModelConfig, Transformer};

/// The JSON objects of a JSONL text, one per line.
fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Two scored rows' grade probabilities agree within 1e-5.
fn assert_probs_close(a: &serde_json::Value, b: &serde_json::Value) {
    let (a, b) = (
        a["probs"].as_array().unwrap(),
        b["probs"].as_array().unwrap(),
    );
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        approx::assert_abs_diff_eq!(x.as_f64().unwrap(), y.as_f64().unwrap(), epsilon = 1e-5);
    }
}

fn tiny_checkpoint(dir: &Path, context: usize) {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("crates/taosr1-model/tests/fixtures/tokenizers/smollm2");
    std::fs::create_dir_all(dir).unwrap();
    for f in [
        "tokenizer.json",
        "tokenizer_config.json",
        "chat_template.jinja",
        "generation_config.json",
    ] {
        std::fs::copy(fixture.join(f), dir.join(f)).unwrap();
    }
    let vocab = taosr1_model::TaoTokenizer::from_pretrained(dir)
        .unwrap()
        .vocab_size();
    let mut cfg = ModelConfig::tiny(vocab);
    cfg.max_position_embeddings = context;
    let model = Transformer::new(&cfg, &Default::default()).unwrap();
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_string(&cfg).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("model.safetensors"),
        taosr1_model::to_safetensors_bytes(&model).unwrap(),
    )
    .unwrap();
}

#[test]
fn home_depot_runs_its_stages_and_resumes() {
    let Some(bin) = common::example_bin("home_depot") else {
        eprintln!("skipped: the home_depot example binary is not built (run under cargo test)");
        return;
    };
    let dir = common::scratch_dir("hd-example");
    tiny_checkpoint(&dir.join("model"), 1024);
    let csv = dir.join("pairs.csv");
    let mut text = String::from("id,product_uid,product_title,search_term,relevance\n");
    // two mean ratings per grade (odd queries rated a rater's vote higher), so
    // `--sft-loss grade-distribution` has soft targets to build
    let grades = [["1", "1.67", "2.33", "3"], ["1.33", "2", "2.67", "3"]];
    for q in 0..60 {
        for (p, g) in grades[q % 2].iter().enumerate() {
            text += &format!("{q}-{p},{p},Steel claw hammer {p},hammer {q},{g}\n");
        }
    }
    std::fs::write(&csv, text).unwrap();
    let out = dir.join("out");
    let args = [
        "--model",
        dir.join("model").to_str().unwrap(),
        "--data",
        csv.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--stages",
        "zero-shot,label-probe,sft-labels",
        "--train-queries",
        "4",
        "--validation-queries",
        "3",
        "--test-queries",
        "3",
        "--resamples",
        "50",
        "--beta-rows",
        "8",
        "--val-rows",
        "4",
        "--val-every",
        "5",
        "--save-dtype",
        "bf16",
    ]
    .map(String::from);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let first = common::run_ok(&bin, &args);
    let table = std::fs::read_to_string(out.join("staircase.md")).unwrap();
    for row in [
        "| majority (train) |",
        "| lexical overlap |",
        "| zero-shot |",
        "| sft-labels |",
    ] {
        assert!(table.contains(row), "{row} missing from:\n{table}");
    }
    // the deployed stage is the one with the best validation macro-F1 after its cuts
    let choice: Vec<(String, f64)> = table
        .split("| stage | argmax grade | expected grade, fitted cuts |")
        .nth(1)
        .unwrap()
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells[1].to_string(), cells[3].parse().unwrap())
        })
        .collect();
    assert_eq!(choice.len(), 3, "{table}");
    let best = choice
        .iter()
        .fold(&choice[0], |b, c| if c.1 > b.1 { c } else { b });
    assert!(table.contains(&format!("Deployed: {}.", best.0)), "{table}");
    assert!(
        table.contains(&format!(
            "| post-CoT deployment ({}, fitted cuts) |",
            best.0
        )),
        "{table}"
    );
    for stage in ["zero-shot", "label-probe", "sft-labels"] {
        let e: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(stage).join("eval.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(e["n_items"], 12, "{stage}: 3 test queries of 4 rows");
        let f1 = &e["macro_f1"];
        let (lo, est, hi) = (
            f1["lo"].as_f64().unwrap(),
            f1["estimate"].as_f64().unwrap(),
            f1["hi"].as_f64().unwrap(),
        );
        assert!(lo <= est && est <= hi, "{stage}: {f1}");
        let preds = std::fs::read_to_string(out.join(stage).join("predictions.jsonl")).unwrap();
        assert_eq!(preds.lines().count(), 12);
    }
    // the probe: twelve candidates compared on validation, the model untied and loadable
    let probe = std::fs::read_to_string(out.join("label-probe/steps.jsonl")).unwrap();
    assert_eq!(probe.lines().count(), 12, "{probe}");
    for l in probe.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let f = v["val_macro_f1_cuts"].as_f64().unwrap();
        assert!(
            (0.0..=1.0).contains(&f) && v["train_ce"].as_f64().unwrap() > 0.0,
            "{l}"
        );
    }
    assert!(table.contains("basis logits"), "{table}");
    let (probed, config, _) =
        taosr1::real::load(&out.join("label-probe/model"), &Default::default()).unwrap();
    assert!(!probed.is_tied() && !config.tie_word_embeddings);
    // 16 training rows, batch 8: two steps logged, and the checkpoint is a loadable folder
    let steps = std::fs::read_to_string(out.join("sft-labels/steps.jsonl")).unwrap();
    assert_eq!(steps.lines().count(), 2, "{steps}");
    // validation every 5 steps and after the last: only step 1 of 0..2 is scored, on 4 rows
    let lines = json_lines(&steps);
    assert!(lines[0].get("val_accuracy").is_none(), "{steps}");
    let acc = lines[1]["val_accuracy"].as_f64().unwrap();
    assert!(
        (acc * 4.0 - (acc * 4.0).round()).abs() < 1e-9,
        "{acc}: 4 rows"
    );
    let f1 = lines[1]["val_macro_f1"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc) && (0.0..=1.0).contains(&f1));
    taosr1::real::load(&out.join("sft-labels/model"), &Default::default()).unwrap();
    let st = std::fs::read(out.join("sft-labels/model/model.safetensors")).unwrap();
    // the safetensors header: an 8-byte length, then JSON naming each tensor's dtype
    let n = u64::from_le_bytes(st[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&st[8..8 + n]).unwrap();
    let dtypes: Vec<&str> = header
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "__metadata__")
        .map(|(_, v)| v["dtype"].as_str().unwrap())
        .collect();
    assert!(
        !dtypes.is_empty() && dtypes.iter().all(|d| *d == "BF16"),
        "{dtypes:?}"
    );
    assert!(!first.contains("not recomputed"));
    // resumed: nothing is recomputed and the table is the same
    let second = common::run_ok(&bin, &args);
    assert!(second.contains("zero-shot: done before"), "{second}");
    assert!(second.contains("sft-labels: done before"), "{second}");
    assert!(second.contains("label-probe: done before"), "{second}");
    // the deployment choice's validation scores are read back, not rescored
    for stage in ["zero-shot", "label-probe", "sft-labels"] {
        assert!(
            second.contains(&format!("{stage}: validation scores reused")),
            "{second}"
        );
        let cached = std::fs::read_to_string(out.join(stage).join("validation.jsonl")).unwrap();
        assert_eq!(cached.lines().count(), 8, "--beta-rows 8");
    }
    let again = std::fs::read_to_string(out.join("staircase.md")).unwrap();
    let rows = |t: &str| {
        t.lines()
            .filter(|l| l.starts_with('|'))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(rows(&table), rows(&again));
    // stopped after its model was saved but before its test scores were written: resumed, the
    // saved model is scored, not trained again, and the stage's row comes back the same
    let sft = out.join("sft-labels");
    let read_json = |path: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let eval_before = read_json(&sft.join("eval.json"));
    let trained = read_json(&sft.join("trained.json"));
    assert_eq!(trained["train_seconds"], eval_before["train_seconds"]);
    assert_eq!(trained["note"], eval_before["note"]);
    let weights = std::fs::read(sft.join("model/model.safetensors")).unwrap();
    std::fs::remove_file(sft.join("eval.json")).unwrap();
    std::fs::remove_file(sft.join("predictions.jsonl")).unwrap();
    let resumed = common::run_ok(&bin, &args);
    assert!(
        resumed.contains("sft-labels: trained before") && resumed.contains("not retrained"),
        "{resumed}"
    );
    assert!(resumed.contains("zero-shot: done before"), "{resumed}");
    assert!(
        resumed.contains("sft-labels: validation scores reused"),
        "the same model keeps its validation scores: {resumed}"
    );
    assert_eq!(
        std::fs::read_to_string(sft.join("steps.jsonl")).unwrap(),
        steps,
        "not retrained"
    );
    assert_eq!(
        std::fs::read(sft.join("model/model.safetensors")).unwrap(),
        weights
    );
    let eval_after = read_json(&sft.join("eval.json"));
    for key in [
        "macro_f1",
        "accuracy",
        "ndcg_at_10",
        "train_seconds",
        "note",
        "n_items",
    ] {
        assert_eq!(eval_after[key], eval_before[key], "{key}");
    }
    assert_eq!(
        std::fs::read_to_string(sft.join("predictions.jsonl"))
            .unwrap()
            .lines()
            .count(),
        12
    );
    // other test rows: every finished stage keeps its model and is scored on them, not
    // retrained, and its eval and predictions follow (then back to the first rows)
    let mut other_test = args.clone();
    let at = other_test
        .iter()
        .position(|a| *a == "--test-queries")
        .unwrap();
    other_test[at + 1] = "2";
    let rescored = common::run_ok(&bin, &other_test);
    let sft_steps = std::fs::read_to_string(out.join("sft-labels/steps.jsonl")).unwrap();
    assert_eq!(sft_steps, steps, "not retrained");
    for stage in ["zero-shot", "label-probe", "sft-labels"] {
        assert!(
            rescored.contains(&format!(
                "{stage}: finished before; its 12 scored test rows are not this run's 8"
            )),
            "{rescored}"
        );
        let eval: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(stage).join("eval.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(eval["n_items"], 8, "{eval}");
        let scored = std::fs::read_to_string(out.join(stage).join("predictions.jsonl")).unwrap();
        assert_eq!(scored.lines().count(), 8);
    }
    let back = common::run_ok(&bin, &args);
    assert!(
        back.contains("its 8 scored test rows are not this run's 12"),
        "{back}"
    );
    // the same metrics as before (the scoring time per item is measured anew)
    let metric_cols = |t: &str| {
        rows(t)
            .iter()
            .map(|l| l.split('|').take(5).collect::<Vec<_>>().join("|"))
            .collect::<Vec<_>>()
    };
    let table_back = std::fs::read_to_string(out.join("staircase.md")).unwrap();
    assert_eq!(metric_cols(&table), metric_cols(&table_back));
    // fewer validation rows: the first ones of the cached scores, read back, the file kept
    let with_beta_rows = |n: &'static str| {
        let mut a = args.clone();
        let at = a.iter().position(|a| *a == "--beta-rows").unwrap();
        a[at + 1] = n;
        a
    };
    let fewer = with_beta_rows("6");
    let third = common::run_ok(&bin, &fewer);
    let cached_of =
        |stage: &str| std::fs::read_to_string(out.join(stage).join("validation.jsonl")).unwrap();
    let eight: Vec<String> = ["zero-shot", "label-probe", "sft-labels"]
        .iter()
        .map(|stage| {
            assert!(
                third.contains(&format!("{stage}: validation scores reused")),
                "{third}"
            );
            let cached = cached_of(stage);
            assert_eq!(cached.lines().count(), 8, "kept: {cached}");
            cached
        })
        .collect();
    assert!(
        std::fs::read_to_string(out.join("staircase.md"))
            .unwrap()
            .contains("Deployment choice on 6 validation rows"),
        "the choice is made on the 6 rows asked for"
    );
    // more validation rows: the 8 cached ones are read back and only the other 2 are scored
    let more = with_beta_rows("10");
    let grown = common::run_ok(&bin, &more);
    for (stage, before) in ["zero-shot", "label-probe", "sft-labels"]
        .iter()
        .zip(&eight)
    {
        assert!(
            grown.contains(&format!("{stage}: 8 validation scores reused")),
            "{grown}"
        );
        assert!(grown.contains(", 2 to score"), "{grown}");
        let cached = cached_of(stage);
        assert_eq!(cached.lines().count(), 10, "{cached}");
        assert!(cached.starts_with(before.as_str()), "{cached}");
    }
    // and those 2 are what scoring all 10 afresh gives
    let extended = json_lines(&cached_of("sft-labels"));
    std::fs::remove_file(out.join("sft-labels/validation.jsonl")).unwrap();
    let fresh = common::run_ok(&bin, &more);
    assert!(
        !fresh.contains("sft-labels: 8 validation scores reused"),
        "{fresh}"
    );
    let rescored = json_lines(&cached_of("sft-labels"));
    assert_eq!(rescored.len(), 10);
    for (a, b) in extended.iter().zip(&rescored) {
        assert_probs_close(a, b);
    }
    // the cache is matched by id, not by place: its lines reversed, two of them gone and a row
    // not asked for added, the 8 left are read back, the 2 gone are scored, and the row not
    // asked for is kept at the end
    let mut shuffled = cached_of("sft-labels")
        .lines()
        .rev()
        .map(String::from)
        .collect::<Vec<_>>();
    let dropped: Vec<String> = [shuffled.remove(6), shuffled.remove(2)]
        .iter()
        .map(|l| json_lines(l)[0]["id"].as_str().unwrap().to_string())
        .collect();
    let mut extra = json_lines(&shuffled[0]).remove(0);
    extra["id"] = "not-asked".into();
    shuffled.push(extra.to_string());
    std::fs::write(
        out.join("sft-labels/validation.jsonl"),
        shuffled.join("\n") + "\n",
    )
    .unwrap();
    let by_id = common::run_ok(&bin, &more);
    assert!(
        by_id.contains("sft-labels: 8 validation scores reused") && by_id.contains(", 2 to score"),
        "{by_id}"
    );
    let merged = json_lines(&cached_of("sft-labels"));
    assert_eq!(merged.len(), 11);
    for (a, b) in merged.iter().zip(&rescored) {
        assert_eq!(a["id"], b["id"], "the asked-for rows first, in their order");
        assert_probs_close(a, b);
    }
    assert_eq!(merged[10]["id"], "not-asked");
    assert!(dropped
        .iter()
        .all(|id| merged.iter().any(|m| m["id"] == id.as_str())));
    // a recomputed stage drops its cached scores with its old model
    // (and LP-FT: SFT starts from the label probe's checkpoint)
    let mut forced = fewer.clone();
    forced[7] = "sft-labels"; // --stages
    forced.extend(["--force", "--sft-from", "label-probe"]);
    forced.extend(["--sft-loss", "grade-among-grades", "--class-balanced"]);
    let fourth = common::run_ok(&bin, &forced);
    assert!(!fourth.contains("validation scores reused"), "{fourth}");
    assert!(
        fourth.contains("from label-probe; loss among the grades; class-balanced; 16 rows"),
        "{fourth}"
    );
    let (lpft, _, _) =
        taosr1::real::load(&out.join("sft-labels/model"), &Default::default()).unwrap();
    assert!(!lpft.is_tied(), "the probe's untied head came along");
    // --query-order: the test rows are the first 3 test queries by key (the default) or by
    // first appearance in the file
    let read = taosr1_cot::adapter::read_csv(
        &csv,
        &taosr1_cot::adapter::ColumnSpec::home_depot(),
        &Default::default(),
        true,
    )
    .unwrap();
    let split = taosr1_cot::adapter::split_by_query(read.examples, 0.8, 0.1).unwrap();
    let ids_of = |order| -> Vec<String> {
        taosr1_cot::adapter::take_queries(split.test.clone(), 0, 3, order)
            .into_iter()
            .map(|e| e.id)
            .collect()
    };
    let (by_key, by_file) = (
        ids_of(taosr1_cot::adapter::QueryOrder::Key),
        ids_of(taosr1_cot::adapter::QueryOrder::File),
    );
    assert_ne!(
        by_key, by_file,
        "the two orders pick other queries on this file"
    );
    let scored_ids = |dir: &Path| -> Vec<String> {
        json_lines(&std::fs::read_to_string(dir.join("zero-shot/predictions.jsonl")).unwrap())
            .iter()
            .map(|v| v["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(scored_ids(&out), by_key);
    let file_out = dir.join("file-order");
    let mut file_order = args.clone();
    file_order[5] = file_out.to_str().unwrap(); // --out
    file_order[7] = "zero-shot"; // --stages
    file_order.extend(["--query-order", "file"]);
    common::run_ok(&bin, &file_order);
    assert_eq!(scored_ids(&file_out), by_file);
    // a checkpoint folder trains further, here on the last 2 of the 48 training queries;
    // without --beta-rows every validation row fits the deployed cuts
    let cont_out = dir.join("cont-out");
    let lpft_dir = out.join("sft-labels/model");
    let mut cont: Vec<&str> = args.clone();
    let at = cont.iter().position(|a| *a == "--beta-rows").unwrap();
    cont.drain(at..at + 2);
    cont[5] = cont_out.to_str().unwrap(); // --out
    cont[7] = "sft-labels"; // --stages
    cont.extend(["--sft-from", lpft_dir.to_str().unwrap()]);
    cont.extend(["--train-skip-queries", "46"]);
    // against soft targets from the rows' mean ratings
    cont.extend(["--sft-loss", "grade-distribution", "--soft-alpha", "0.3"]);
    let fifth = common::run_ok(&bin, &cont);
    assert!(fifth.contains("train 8 rows of 2 queries"), "{fifth}");
    let table = std::fs::read_to_string(cont_out.join("staircase.md")).unwrap();
    assert!(
        table.contains(&format!(
            "from {}; loss among the grades against rating targets (alpha 0.3); 8 rows",
            lpft_dir.display()
        )),
        "{table}"
    );
    let cached = std::fs::read_to_string(cont_out.join("sft-labels/validation.jsonl")).unwrap();
    assert_eq!(cached.lines().count(), 12, "3 validation queries of 4 rows");
    let (further, _, _) =
        taosr1::real::load(&cont_out.join("sft-labels/model"), &Default::default()).unwrap();
    assert!(!further.is_tied());
    // the deployed rule lies next to the deployed checkpoint; plain prompts need no analyser
    let deployed = cont_out.join("sft-labels/model");
    let cuts = taosr1_partition::ScoreCuts::load(deployed.join("cuts.json")).unwrap();
    assert_eq!(cuts.num_grades(), 4);
    taosr1_partition::CumPt::load(deployed.join("cumpt.json")).unwrap();
    assert!(!deployed.join(taosr1::real::EVIDENCE_FILE).exists());
    assert!(fifth.contains("`serve --model"), "{fifth}");
    let mut missing = cont.clone();
    let at = missing.iter().position(|a| *a == "--sft-from").unwrap();
    missing[at + 1] = "no/such/checkpoint";
    let err = common::run_err(&bin, &missing);
    assert!(
        err.contains("--sft-from") && err.contains("no/such/checkpoint"),
        "{err}"
    );
    let mut unknown = args.clone();
    unknown.extend(["--sft-from", "dpo"]);
    let err = common::run_err(&bin, &unknown);
    assert!(err.contains("--sft-from"), "{err}");
    let mut bad_alpha = args.clone();
    bad_alpha.extend(["--sft-loss", "grade-distribution", "--soft-alpha", "1.5"]);
    let err = common::run_err(&bin, &bad_alpha);
    assert!(err.contains("--soft-alpha") && err.contains("1.5"), "{err}");
    let mut unknown_loss = args.clone();
    unknown_loss.extend(["--sft-loss", "answer"]);
    let err = common::run_err(&bin, &unknown_loss);
    assert!(
        err.contains("--sft-loss") && err.contains("\"answer\""),
        "{err}"
    );
    // LP-FT from a whitened-logits probe is refused before anything runs
    let mut whitened = args.clone();
    whitened.extend(["--sft-from", "label-probe"]);
    let err = common::run_err(&bin, &whitened);
    assert!(err.contains("--probe-space hidden"), "{err}");
    // the hidden-state probe (its penalty is on the output rows' size) saves a loadable model
    let mut on_hidden = args.clone();
    on_hidden[7] = "label-probe"; // --stages
    on_hidden.extend(["--probe-space", "hidden", "--force"]);
    let out_h = common::run_ok(&bin, &on_hidden);
    assert!(out_h.contains("fitted on hidden states"), "{out_h}");
    taosr1::real::load(&out.join("label-probe/model"), &Default::default()).unwrap();
    // a deployed stage the run does not have is refused before anything runs
    let mut bad = args.clone();
    bad.extend(["--deploy", "grpo"]);
    let err = common::run_err(&bin, &bad);
    assert!(err.contains("--deploy") && err.contains("grpo"), "{err}");
    // validation rows longer than the context stop a stage before it trains, not after
    tiny_checkpoint(&dir.join("short"), 64);
    let short_out = dir.join("short-out");
    let (short_model, short_dir) = (dir.join("short"), short_out.clone());
    let mut short: Vec<&str> = args.clone();
    short[1] = short_model.to_str().unwrap(); // --model
    short[5] = short_dir.to_str().unwrap(); // --out
    short[7] = "sft-labels"; // --stages
    let err = common::run_err(&bin, &short);
    assert!(
        err.contains("validation row") && err.contains("context of 64"),
        "{err}"
    );
    assert!(!short_out.join("sft-labels/steps.jsonl").exists());
    // a .gguf file is a model too (weights and tokenizer from the one file), --max-steps
    // caps the steps, and the stage's checkpoint is a folder that loads on its own
    let gguf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crates/taosr1-model/tests/fixtures/gguf/tiny_llama.gguf");
    let gguf_out = dir.join("gguf-out");
    let mut from_gguf: Vec<&str> = args.clone();
    from_gguf[1] = gguf.to_str().unwrap(); // --model
    from_gguf[5] = gguf_out.to_str().unwrap(); // --out
    from_gguf[7] = "sft-labels"; // --stages
    from_gguf.extend(["--max-steps", "1"]);
    common::run_ok(&bin, &from_gguf);
    let steps = std::fs::read_to_string(gguf_out.join("sft-labels/steps.jsonl")).unwrap();
    assert_eq!(steps.lines().count(), 1, "{steps}");
    let table = std::fs::read_to_string(gguf_out.join("staircase.md")).unwrap();
    assert!(table.contains("16 rows, 1 of 1 steps"), "{table}");
    let saved = gguf_out.join("sft-labels/model");
    assert!(saved.join("tokenizer_config.json").is_file());
    taosr1::real::load(&saved, &Default::default()).unwrap();
    // --prompt-evidence puts the rule analyser's findings in every prompt; a run folder keeps
    // its prompt settings and refuses to resume with the other ones, either way round
    let mut evidence: Vec<&str> = args.clone();
    evidence.push("--prompt-evidence");
    let err = common::run_err(&bin, &evidence);
    assert!(
        err.contains("prompt settings") && err.contains(r#"{"evidence":false}"#),
        "{err}"
    );
    // --force recomputes only the stages it names; the others would keep the old prompts
    let mut partly: Vec<&str> = evidence.clone();
    partly[7] = "label-probe"; // --stages
    partly.push("--force");
    let err = common::run_err(&bin, &partly);
    assert!(
        err.contains("stages zero-shot, sft-labels were made"),
        "{err}"
    );
    assert!(
        out.join("label-probe/eval.json").is_file(),
        "a refusal deletes nothing"
    );
    let ev_out = dir.join("ev-out");
    evidence[5] = ev_out.to_str().unwrap(); // --out
    evidence[7] = "label-probe"; // --stages
    let shown = common::run_ok(&bin, &evidence);
    assert!(
        shown.contains(
            "Rule checks: 1 of 1 query words are in the title ; product type match : hammer"
        ),
        "{shown}"
    );
    assert_eq!(
        std::fs::read_to_string(ev_out.join("prompt.json")).unwrap(),
        r#"{"evidence":true}"#
    );
    // served as deployed: `serve --model` on the deployed folder reads the test rows' prompts
    // with the same rule checks and gives the run's own probabilities and cut grades
    serve_matches_the_run(&dir, &ev_out, "label-probe", true);
    let mut plain: Vec<&str> = evidence.clone();
    plain.pop();
    let err = common::run_err(&bin, &plain);
    assert!(err.contains(r#"{"evidence":true}"#), "{err}");
    assert!(
        ev_out.join("label-probe/eval.json").is_file(),
        "a refusal deletes nothing"
    );
    // a forced change unfinishes the old stages first: a run that stops before recomputing
    // them (here: no model to load) leaves nothing that resumes under the new record
    let no_model = dir.join("no-model");
    let mut forced_plain: Vec<&str> = plain.clone();
    forced_plain[1] = no_model.to_str().unwrap(); // --model
    forced_plain.push("--force");
    common::run_err(&bin, &forced_plain);
    assert_eq!(
        std::fs::read_to_string(ev_out.join("prompt.json")).unwrap(),
        r#"{"evidence":false}"#
    );
    assert!(!ev_out.join("label-probe/eval.json").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `examples/serve` on a run's deployed checkpoint folder scores the run's test rows (rebuilt
/// from their ids, `Q-P` = query `hammer Q`, title `Steel claw hammer P`) with the run's
/// probabilities and grades them with its fitted cuts. With `evidence`, the folder's rule
/// checks are needed for that: without them the prompts, and so the probabilities, differ.
fn serve_matches_the_run(dir: &Path, out: &Path, stage: &str, evidence: bool) {
    let Some(serve) = common::example_bin("serve") else {
        eprintln!("skipped: the serve example binary is not built (run under cargo test)");
        return;
    };
    let deployed = out.join(stage).join("model");
    assert_eq!(
        deployed.join(taosr1::real::EVIDENCE_FILE).is_file(),
        evidence
    );
    let cuts = taosr1_partition::ScoreCuts::load(deployed.join("cuts.json")).unwrap();
    let preds =
        json_lines(&std::fs::read_to_string(out.join(stage).join("predictions.jsonl")).unwrap());
    let items: String = preds
        .iter()
        .map(|p| {
            let id = p["id"].as_str().unwrap();
            let (q, n) = id.split_once('-').unwrap();
            serde_json::json!({
                "id": id, "query": format!("hammer {q}"),
                "product": {"title": format!("Steel claw hammer {n}")},
            })
            .to_string()
                + "\n"
        })
        .collect();
    let input = dir.join(format!("{stage}-served-input.jsonl"));
    std::fs::write(&input, items).unwrap();
    let run = || -> Vec<serde_json::Value> {
        let args = [
            "--model",
            deployed.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
        ];
        let shown = common::run_ok(&serve, &args);
        shown
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let served = run();
    assert_eq!(served.len(), preds.len());
    for (p, s) in preds.iter().zip(&served) {
        assert_eq!(p["id"], s["id"]);
        assert_probs_close(p, s);
        let g = cuts
            .grade_of_score(p["score"].as_f64().unwrap() as f32)
            .unwrap();
        assert_eq!(s["grade"], format!("L{}", g + 1), "{s}");
    }
    // a Hugging Face folder brings its own tokenizer: another one is refused, not mixed in
    let err = common::run_err(
        &serve,
        &[
            "--model",
            deployed.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--tokenizer",
            "other/tokenizer.json",
        ],
    );
    assert!(err.contains("drop --tokenizer"), "{err}");
    if evidence {
        let file = deployed.join(taosr1::real::EVIDENCE_FILE);
        let aside = dir.join("evidence-aside.json");
        std::fs::rename(&file, &aside).unwrap();
        let bare = run();
        std::fs::rename(&aside, &file).unwrap();
        assert!(
            preds
                .iter()
                .zip(&bare)
                .any(|(p, s)| p["probs"] != s["probs"]),
            "the rule checks changed no prompt"
        );
    }
}
