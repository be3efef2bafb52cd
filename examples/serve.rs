//! Batched deployment inference: query/product JSONL in, one JSON line per item out with the
//! partition grade, relevance score, argmax grade, grade probabilities and rationale.
//!
//! `cargo run --release --example serve -- [--model runs/sft] [--thresholds FILE]
//! [--input data/test.jsonl | -] [--output FILE | -] [--batch 64] [--think-budget 48]`
//!
//! Input lines need `query` and `product` (`title`, `category`, `brand`, optional
//! `attributes`); any other field (a gold `grade`, a `rationale`) is ignored. Thresholds
//! default to `<model>/thresholds.json` when present (see `examples/calibrate.rs`), else the
//! median rule (all 0.5). Throughput goes to stderr.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;

use rand::SeedableRng;
use taosr1::assets::{load_checkpoint, load_codec};
use taosr1::backend::{self, Infer};
use taosr1::cli::Args;
use taosr1::infer::{predict, InferConfig, Scored};
use taosr1::Error;
use taosr1_partition::{Partitioner, Thresholds};

fn main() -> std::process::ExitCode {
    taosr1::cli::report(run())
}

fn run() -> Result<(), Error> {
    let args = Args::from_env()?;
    let dir: PathBuf = args.get("model", String::from("runs/sft"))?.into();
    let input = args.get("input", String::from("data/test.jsonl"))?;
    let output = args.get("output", String::from("-"))?;
    let mut cfg = InferConfig::default();
    cfg.batch_size = args.get("batch", cfg.batch_size)?;
    cfg.think_budget = args.get("think-budget", cfg.think_budget)?;

    let codec = load_codec()?;
    let (model, _) = load_checkpoint::<Infer>(&dir, &backend::device())?;
    let thresholds_path = args
        .string("thresholds")
        .map(PathBuf::from)
        .or_else(|| Some(dir.join("thresholds.json")).filter(|p| p.exists()));
    let partitioner = match &thresholds_path {
        Some(p) => Partitioner::new(Thresholds::load(p)?),
        None => Partitioner::default_for(codec.template().scale().len())?,
    };
    let reader: Box<dyn BufRead> = if input == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let f = std::fs::File::open(&input).map_err(|e| Error::io(input.as_ref(), e))?;
        Box::new(BufReader::new(f))
    };
    let items = taosr1_cot::read_items(reader)?;
    let mut out: Box<dyn Write> = if output == "-" {
        Box::new(BufWriter::new(std::io::stdout()))
    } else {
        let f = std::fs::File::create(&output).map_err(|e| Error::io(output.as_ref(), e))?;
        Box::new(BufWriter::new(f))
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let start = std::time::Instant::now();
    let mut tokens = 0usize;
    for chunk in items.chunks(cfg.batch_size.max(1)) {
        let preds = predict(&model, &codec, chunk, &cfg, &mut rng)?;
        for (item, p) in chunk.iter().zip(&preds) {
            tokens += p.generated_tokens;
            let line = serde_json::to_string(&Scored::new(&item.id, p, &partitioner, &codec)?)
                .map_err(|e| Error::Input(e.to_string()))?;
            writeln!(out, "{line}").map_err(|e| Error::io(output.as_ref(), e))?;
        }
    }
    out.flush().map_err(|e| Error::io(output.as_ref(), e))?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{} items in {:.2}s on {}: {:.1} items/s, {:.0} generated tokens/s (batch {}, thresholds {})",
        items.len(),
        secs,
        backend::name(),
        items.len() as f64 / secs,
        tokens as f64 / secs,
        cfg.batch_size,
        thresholds_path.map_or("0.5 (default)".into(), |p| p.display().to_string())
    );
    Ok(())
}
