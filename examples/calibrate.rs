//! Deployment calibration: fit the cumulative-probability partition thresholds on the
//! validation split (maximising macro-F1), save them next to the checkpoint, and compare the
//! argmax grade with the partition grade on the test split (accuracy, macro-F1, NDCG).
//!
//! `cargo run --release --example calibrate -- [--model runs/sft] [--val 300] [--eval 300]`
//!
//! Writes `<model>/thresholds.json` (read by `examples/serve.rs`) and
//! `<model>/partition_comparison.json`.

use std::path::PathBuf;

use taosr1::assets::{load_checkpoint, load_codec};
use taosr1::backend::{self, Infer};
use taosr1::cli::Args;
use taosr1::infer::InferConfig;
use taosr1::pipeline::compare_partition;
use taosr1::Error;

fn main() -> std::process::ExitCode {
    taosr1::cli::report(run())
}

fn run() -> Result<(), Error> {
    let args = Args::from_env()?;
    let dir: PathBuf = args.get("model", String::from("runs/sft"))?.into();
    let val = args.get("val", usize::MAX)?;
    let eval = args.get("eval", usize::MAX)?;
    println!("backend: {}", backend::name());
    let codec = load_codec()?;
    let (model, _) = load_checkpoint::<Infer>(&dir, &backend::device())?;
    let cmp = compare_partition(&model, &codec, val, eval, &InferConfig::default())?;
    println!(
        "thresholds fitted on validation (macro-F1 {:.3} -> {:.3}): {:?}",
        cmp.validation_before,
        cmp.validation_after,
        cmp.thresholds.as_slice()
    );
    let path = dir.join("thresholds.json");
    cmp.thresholds.save(&path)?;
    println!("saved {}", path.display());
    let report = dir.join("partition_comparison.json");
    let json = serde_json::to_string_pretty(&cmp).map_err(|e| Error::Input(e.to_string()))?;
    std::fs::write(&report, json).map_err(|e| Error::io(&report, e))?;
    println!(
        "\n{} test examples, thinking generated first:",
        cmp.test_default.n
    );
    print!("{}", cmp.table());
    Ok(())
}
