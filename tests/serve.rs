//! `examples/serve` as a user runs it: every valid line is scored, every invalid one is
//! reported as `file:line: reason` in its place, and a failed run never truncates an existing
//! output file.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use burn::tensor::Device;
use taosr1::assets::{load_codec, save_checkpoint};
use taosr1_model::{ModelConfig, Transformer};

mod common;

/// A fresh scratch directory `<tmp>/<name>-<pid>` holding a random tiny checkpoint in
/// `model/` (what it scores does not matter here, only how serve handles it).
fn scratch_checkpoint(name: &str) -> (PathBuf, PathBuf) {
    let root = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    fs::create_dir_all(&root).unwrap();
    let codec = load_codec().unwrap();
    let cfg = ModelConfig::tiny(codec.tokenizer().vocab_size());
    let model = Transformer::new(&cfg, &Device::default()).unwrap();
    let model_dir = root.join("model");
    save_checkpoint(&model, &cfg, &model_dir).unwrap();
    (root, model_dir)
}

#[test]
fn serve_scores_good_lines_and_reports_bad_ones_in_order() {
    let Some(bin) = common::example_bin("serve") else {
        eprintln!("skipped: the serve example is not built (run through `cargo test`)");
        return;
    };
    let (root, model_dir) = scratch_checkpoint("taosr1-serve");

    let shipped =
        fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/test.jsonl")).unwrap();
    let good: Vec<&str> = shipped.lines().take(3).collect();
    let input = root.join("mixed.jsonl");
    fs::write(
        &input,
        format!(
            "{}\n{}\n{{oops\n{{\"query\":\"q\"}}\n\n{}\n{}\n",
            good[0],
            good[1],
            good[2],
            good[0].replacen("\"query\":\"", "\"query\":\"Gartenschlauch Größe ", 1)
        ) + &good[1].replacen(
            "\"title\":\"",
            &format!("\"title\":\"{}", "case ".repeat(200_000)),
            1,
        ) + "\n",
    )
    .unwrap();
    let output = root.join("out.jsonl");
    let run = |input: &PathBuf| {
        Command::new(&bin)
            .arg("--model")
            .arg(&model_dir)
            .arg("--input")
            .arg(input)
            .arg("--output")
            .arg(&output)
            .arg("--think-budget")
            .arg("4")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap()
    };
    let out = run(&input);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let text = fs::read_to_string(&output).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 7, "{text}");
    let ids: Vec<String> = good
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(lines[0]["id"], ids[0].as_str());
    assert_eq!(lines[1]["id"], ids[1].as_str());
    assert_eq!(lines[2]["line"], 3);
    assert_eq!(lines[3]["line"], 4);
    assert_eq!(lines[4]["id"], ids[2].as_str());
    let where_ = format!("{}:4: ", input.display());
    assert!(
        lines[3]["error"].as_str().unwrap().starts_with(&where_),
        "{}",
        lines[3]
    );
    assert!(lines[3]["error"].as_str().unwrap().contains("product"));
    assert!(stderr.contains(&where_), "{stderr}");
    assert!(
        stderr.contains("scored 4, rejected 3, warned 1"),
        "{stderr}"
    );
    // a 1 MB title: the item is rejected with its reason, the others are still scored
    assert_eq!(lines[6]["line"], 8);
    let reason = lines[6]["error"].as_str().unwrap();
    assert!(
        reason.contains(&format!("item {}", ids[1])) && reason.contains("context"),
        "{reason}"
    );
    // shipped text is all known; real-world words are not, and the item says so
    assert_eq!(lines[0]["unknown_token_share"], 0.0);
    assert!(lines[0].get("warning").is_none());
    assert!(lines[5]["unknown_token_share"].as_f64().unwrap() > 0.05);
    assert!(lines[5]["warning"].as_str().unwrap().contains("unknown"));

    // a run that fails (missing input file) leaves the previous output as it was
    let before = fs::read(&output).unwrap();
    let out = run(&root.join("missing.jsonl"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.jsonl"));
    assert_eq!(fs::read(&output).unwrap(), before);
    // thresholds of the wrong length are refused before the output is touched
    let bad = root.join("bad-thresholds.json");
    taosr1_partition::Thresholds::new(vec![0.5, 0.5])
        .unwrap()
        .save(&bad)
        .unwrap();
    let out = Command::new(&bin)
        .arg("--model")
        .arg(&model_dir)
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .arg("--thresholds")
        .arg(&bad)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("decides among 3 grades"));
    assert_eq!(fs::read(&output).unwrap(), before);
    // an empty input scores nothing and says so
    let empty = root.join("empty.jsonl");
    fs::write(&empty, "").unwrap();
    let out = run(&empty);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("scored 0, rejected 0"));
    assert_eq!(fs::read_to_string(&output).unwrap(), "");
    fs::remove_dir_all(&root).unwrap();
}

/// A label-first checkpoint is scored with one prefill: no thinking unless `--explain`, the
/// same probabilities either way, and every record carries its CumPT tier.
#[test]
fn serve_scores_a_label_first_checkpoint_and_explains_only_on_request() {
    let Some(bin) = common::example_bin("serve") else {
        eprintln!("skipped: the serve example is not built (run through `cargo test`)");
        return;
    };
    let (root, model_dir) = scratch_checkpoint("taosr1-serve-lf");
    taosr1::assets::save_order(&model_dir, taosr1_cot::ResponseOrder::LabelFirst).unwrap();
    let run = |explain: bool| {
        let mut cmd = Command::new(&bin);
        cmd.arg("--model")
            .arg(&model_dir)
            .arg("--think-budget")
            .arg("5")
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if explain {
            cmd.arg("--explain");
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("label-first"));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .take(20)
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    let plain = run(false);
    let explained = run(true);
    let mut any_rationale = false;
    for (a, b) in plain.iter().zip(&explained) {
        assert_eq!(a["slot"], "label_first");
        assert_eq!(a["rationale"], "");
        assert_eq!(
            (&a["probs"], &a["grade"], &a["tier"]),
            (&b["probs"], &b["grade"], &b["tier"])
        );
        assert!(
            ["Good", "Mid", "Bad"].contains(&a["tier"].as_str().unwrap()),
            "{a}"
        );
        any_rationale |= !b["rationale"].as_str().unwrap().is_empty();
    }
    assert!(any_rationale, "--explain wrote no rationale at all");
    let _ = fs::remove_dir_all(&root);
}

/// Expected-grade cuts: `MODEL/cuts.json` (what `home_depot` writes for its deployed stage) or
/// `--cuts FILE` decides each grade by how many cuts the item's expected grade reaches; two
/// deployed rules in one folder, or a rule of the wrong size, are refused.
#[test]
fn serve_grades_by_expected_grade_cuts() {
    let Some(bin) = common::example_bin("serve") else {
        eprintln!("skipped: the serve example is not built (run through `cargo test`)");
        return;
    };
    let (root, model_dir) = scratch_checkpoint("taosr1-serve-cuts");
    taosr1::assets::save_order(&model_dir, taosr1_cot::ResponseOrder::LabelFirst).unwrap();
    let run = |extra: &[&str]| {
        Command::new(&bin)
            .arg("--model")
            .arg(&model_dir)
            .args(extra)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap()
    };
    let records = |out: &std::process::Output| -> Vec<serde_json::Value> {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .take(40)
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let expected = |r: &serde_json::Value| -> f32 {
        r["probs"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(k, p)| k as f32 * p.as_f64().unwrap() as f32)
            .sum()
    };
    // cuts at the quartiles of the items' expected grades, so all four grades occur
    let plain = records(&run(&[]));
    let mut e: Vec<f32> = plain.iter().map(expected).collect();
    e.sort_by(f32::total_cmp);
    let q = |f: usize| e[f * e.len() / 4];
    let cuts = taosr1_partition::ScoreCuts::new(vec![q(1), q(2), q(3)]).unwrap();
    cuts.save(model_dir.join("cuts.json")).unwrap();
    let out = run(&[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected-grade cuts"));
    let cut = records(&out);
    let mut seen = std::collections::BTreeSet::new();
    for (a, b) in plain.iter().zip(&cut) {
        assert_eq!(a["probs"], b["probs"], "the rule changes the grade only");
        assert_eq!(a["score"], b["score"]);
        let g = cuts.grade_of_score(expected(b)).unwrap();
        assert_eq!(b["grade"], format!("L{}", g + 1), "{b}");
        seen.insert(g);
    }
    assert_eq!(seen.len(), 4, "{seen:?}");
    // --cuts names a file; the same cuts give the same grades
    let elsewhere = root.join("mine.json");
    fs::rename(model_dir.join("cuts.json"), &elsewhere).unwrap();
    let named = records(&run(&["--cuts", elsewhere.to_str().unwrap()]));
    assert_eq!(
        named.iter().map(|r| &r["grade"]).collect::<Vec<_>>(),
        cut.iter().map(|r| &r["grade"]).collect::<Vec<_>>()
    );
    // two deployed rules in one folder: which one is meant is not guessed
    fs::copy(&elsewhere, model_dir.join("cuts.json")).unwrap();
    taosr1_partition::Thresholds::default_for(4)
        .unwrap()
        .save(model_dir.join("thresholds.json"))
        .unwrap();
    let out = run(&[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("both thresholds.json and cuts.json"), "{err}");
    // a flag settles it
    records(&run(&[
        "--cuts",
        model_dir.join("cuts.json").to_str().unwrap(),
    ]));
    // cuts for another grade scale are refused, naming the file
    let two = root.join("two.json");
    taosr1_partition::ScoreCuts::new(vec![1.0])
        .unwrap()
        .save(&two)
        .unwrap();
    let out = run(&["--cuts", two.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("two.json") && err.contains("2 grades"),
        "{err}"
    );
    let _ = fs::remove_dir_all(&root);
}
