//! Writes the shipped synthetic data set: `train.jsonl`, `validation.jsonl` and `test.jsonl`
//! generated from `SynthConfig::default()` and split 80 / 10 / 10.
//!
//! `cargo run --example gen_data -- [--train data/train.jsonl]
//! [--validation data/validation.jsonl] [--test data/test.jsonl]`
//!
//! Every flag, its default and what it accepts:
//! `cargo run --example gen_data -- --help` (see [`taosr1::cli::GenDataArgs`]).

use std::path::Path;

use clap::Parser;
use taosr1::cli::GenDataArgs;
use taosr1_cot::synth::{generate, split, SynthConfig, TRAIN_FRAC, VALIDATION_FRAC};
use taosr1_cot::{write_examples, Example, GradeScale};

fn write(path: &Path, examples: &[Example], scale: &GradeScale) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    // serialise in memory, then replace the file atomically (temp + fsync + rename)
    let mut bytes = Vec::new();
    write_examples(&mut bytes, examples, scale).map_err(|e| format!("{}: {e}", path.display()))?;
    taosr1_model::write_atomic(path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("wrote {} examples to {}", examples.len(), path.display());
    Ok(())
}

fn run(args: &GenDataArgs) -> Result<(), String> {
    let config = SynthConfig::default();
    let scale = GradeScale::default();
    let splits =
        split(generate(&config), TRAIN_FRAC, VALIDATION_FRAC).map_err(|e| e.to_string())?;
    let d = &args.data;
    write(&d.train.path, &splits.train, &scale)?;
    write(&d.validation.path, &splits.validation, &scale)?;
    write(&d.test.path, &splits.test, &scale)?;
    Ok(())
}

fn main() -> std::process::ExitCode {
    match run(&GenDataArgs::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
