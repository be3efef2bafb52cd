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
//!
//! Every valid line is scored; an invalid one (bad JSON, a missing field, a line the model
//! cannot score) is reported on stderr as `FILE:LINE: reason` and, in its place in the
//! output, as `{"line": LINE, "error": "FILE:LINE: reason"}`; a last stderr line counts
//! scored and rejected lines. A file output is written atomically once everything is done.

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
    let grades = codec.template().scale().len();
    let partitioner = match &thresholds_path {
        Some(p) => {
            let t = Thresholds::load(p)?;
            // checked before any input is read or any output written
            if t.num_grades() != grades {
                return Err(Error::Input(format!(
                    "{}: {} thresholds, but the grade scale has {grades} grades (needs {})",
                    p.display(),
                    t.num_grades() - 1,
                    grades - 1
                )));
            }
            Partitioner::new(t)
        }
        None => Partitioner::default_for(grades)?,
    };
    // Every line is read on its own: a bad line is reported (stderr and an error record in
    // its place in the output) and the good ones are still scored, in input order.
    let source = if input == stdio {
        "<stdin>".to_string()
    } else {
        input.display().to_string()
    };
    let entries = if input == stdio {
        taosr1_cot::read_items_lenient(BufReader::new(std::io::stdin()))
    } else {
        let f = std::fs::File::open(input).map_err(|e| Error::io(input, e))?;
        taosr1_cot::read_items_lenient(BufReader::new(f))
    };
    let mut records: Vec<String> = vec![String::new(); entries.len()];
    let mut valid = Vec::with_capacity(entries.len());
    let mut rejected = 0usize;
    let mut reject = |records: &mut Vec<String>, slot: usize, line: usize, reason: String| {
        let reason = reason
            .strip_prefix(&format!("line {line}: "))
            .map(str::to_string)
            .unwrap_or(reason);
        let message = format!("{source}:{line}: {reason}");
        eprintln!("{message}");
        records[slot] = serde_json::json!({ "line": line, "error": message }).to_string();
        rejected += 1;
    };
    for (slot, (line, entry)) in entries.into_iter().enumerate() {
        match entry {
            Ok(item) => valid.push((slot, line, item)),
            Err(e) => reject(&mut records, slot, line, e.to_string()),
        }
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let start = std::time::Instant::now();
    let mut tokens = 0usize;
    let mut scored = 0usize;
    let mut warned = 0usize;
    for chunk in valid.chunks(cfg.batch_size.max(1)) {
        let items: Vec<_> = chunk.iter().map(|(_, _, item)| item.clone()).collect();
        // a batch that fails is retried item by item, so one bad item rejects only itself
        let preds: Vec<Result<_, Error>> = match predict(&model, &codec, &items, &cfg, &mut rng) {
            Ok(p) => p.into_iter().map(Ok).collect(),
            Err(_) => items
                .iter()
                .map(|i| {
                    predict(&model, &codec, std::slice::from_ref(i), &cfg, &mut rng)
                        .map(|mut p| p.remove(0))
                })
                .collect(),
        };
        for ((slot, line, item), pred) in chunk.iter().zip(preds) {
            let record = pred.and_then(|p| {
                tokens += p.generated_tokens;
                let s = Scored::new(&item.id, &p, &partitioner, &codec)?;
                let mut v = serde_json::to_value(&s).map_err(|e| Error::Input(e.to_string()))?;
                let share = p.unknown_share;
                v["unknown_token_share"] = serde_json::json!(share);
                if share > args.max_unknown_share {
                    warned += 1;
                    v["warning"] = serde_json::json!(format!(
                        "{:.0}% of the prompt's tokens are unknown to the tokenizer; the score is unreliable",
                        100.0 * share
                    ));
                }
                Ok(v.to_string())
            });
            match record {
                Ok(r) => {
                    records[*slot] = r;
                    scored += 1;
                }
                Err(e) => reject(&mut records, *slot, *line, e.to_string()),
            }
        }
    }
    // A file output is written only once every item has been handled, atomically (temporary
    // file + fsync + rename): an error half-way never truncates an existing output.
    let mut text = String::with_capacity(records.iter().map(|r| r.len() + 1).sum());
    for r in &records {
        text.push_str(r);
        text.push('\n');
    }
    if output == stdio {
        let mut out = BufWriter::new(std::io::stdout());
        out.write_all(text.as_bytes())
            .and_then(|_| out.flush())
            .map_err(|e| Error::io(output, e))?;
    } else {
        taosr1_model::write_atomic(output, text.as_bytes()).map_err(|e| Error::io(output, e))?;
    }
    eprintln!(
        "{source}: scored {scored}, rejected {rejected}, warned {warned} (unknown-token share > {})",
        args.max_unknown_share
    );
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{} items in {:.2}s on {}: {:.1} items/s, {:.0} generated tokens/s (batch {}, thresholds {})",
        scored,
        secs,
        backend::name(),
        scored as f64 / secs,
        tokens as f64 / secs,
        cfg.batch_size,
        thresholds_path.map_or("0.5 (default)".into(), |p| p.display().to_string())
    );
    Ok(())
}
