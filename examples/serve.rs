//! Batched deployment inference: query/product JSONL in, one JSON line per item out with the
//! partition grade, relevance score, argmax grade, grade probabilities and rationale.
//!
//! `cargo run --release --example serve -- [--model runs/sft] [--thresholds FILE]
//! [--input data/test.jsonl | -] [--output FILE | -] [--batch 64] [--think-budget 48]
//! [--tokenizer assets/tokenizer.json]`
//!
//! Every flag, its default and what it accepts:
//! `cargo run --release --example serve -- --help` (see [`taosr1::cli::ServeArgs`]).
//!
//! Input lines need `query` and `product` (`title`, `category`, `brand`, optional
//! `attributes`); any other field (a gold `grade`, a `rationale`) is ignored. Thresholds
//! default to `<model>/thresholds.json` when present (see `examples/calibrate.rs`), else the
//! median rule (all 0.5). Throughput goes to stderr.

use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use clap::Parser;
use rand::SeedableRng;
use taosr1::assets::{load_checkpoint, load_codec_from};
use taosr1::backend;
use taosr1::cli::{ServeArgs, STDIO};
use taosr1::infer::{predict, InferConfig, Scored};
use taosr1::Error;
use taosr1_partition::{Partitioner, Thresholds};

fn main() -> std::process::ExitCode {
    taosr1::cli::report(run(&ServeArgs::parse()))
}

fn run(args: &ServeArgs) -> Result<(), Error> {
    let (input, output) = (args.input.as_path(), args.output.as_path());
    let stdio = Path::new(STDIO);
    let cfg: InferConfig = args.infer();

    let codec = load_codec_from(&args.tokenizer.path)?;
    let (model, _) = load_checkpoint(&args.model, &backend::device())?;
    let thresholds_path = args.thresholds_path();
    let partitioner = match &thresholds_path {
        Some(p) => Partitioner::new(Thresholds::load(p)?),
        None => Partitioner::default_for(codec.template().scale().len())?,
    };
    let items = if input == stdio {
        taosr1_cot::read_items(BufReader::new(std::io::stdin()))?
    } else {
        taosr1_cot::load_items(input)?
    };
    // A file output is written only once every item has been scored, atomically (temporary
    // file + fsync + rename): an error half-way never truncates an existing output.
    let to_file = output != stdio;
    let mut buffered = Vec::new();
    let mut out: Box<dyn Write + '_> = if to_file {
        Box::new(&mut buffered)
    } else {
        Box::new(BufWriter::new(std::io::stdout()))
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
            writeln!(out, "{line}").map_err(|e| Error::io(output, e))?;
        }
    }
    out.flush().map_err(|e| Error::io(output, e))?;
    drop(out);
    if to_file {
        taosr1_model::write_atomic(output, &buffered).map_err(|e| Error::io(output, e))?;
    }
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
