//! Writes the shipped synthetic data set: `train.jsonl`, `validation.jsonl` and `test.jsonl`
//! generated from `SynthConfig::default()` and split 80 / 10 / 10.
//!
//! Usage: `cargo run --example gen_data [OUTPUT_DIR]` (default `data`).

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use taosr1_cot::synth::{generate, split, SynthConfig, TRAIN_FRAC, VALIDATION_FRAC};
use taosr1_cot::{write_examples, Example, GradeScale};

fn write(
    path: &std::path::Path,
    examples: &[Example],
    scale: &GradeScale,
) -> Result<(), Box<dyn std::error::Error>> {
    let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    write_examples(BufWriter::new(file), examples, scale)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    println!("wrote {} examples to {}", examples.len(), path.display());
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("data"), PathBuf::from);
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let config = SynthConfig::default();
    let scale = GradeScale::default();
    let splits = split(generate(&config), TRAIN_FRAC, VALIDATION_FRAC)?;
    write(&out_dir.join("train.jsonl"), &splits.train, &scale)?;
    write(
        &out_dir.join("validation.jsonl"),
        &splits.validation,
        &scale,
    )?;
    write(&out_dir.join("test.jsonl"), &splits.test, &scale)?;
    Ok(())
}
