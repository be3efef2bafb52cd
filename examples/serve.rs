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
//!
//! With `--http ADDR` it serves instead of reading a file (see [`taosr1::http`]):
//! `cargo run --release --example serve -- --http 127.0.0.1:8080 [--max-batch 32]
//! [--max-wait-ms 5] [--max-body-bytes 1048576] [--model runs/sft] [--think-budget 48]`.
//! `POST /v1/score` takes a JSON array of items (or `{"items": [...], "explain": true}`) and
//! answers `{"results": [{"id", "grade", "tier", "score", "probs", "rationale"}]}` in request
//! order (`rationale` only with `explain`); `GET /healthz` answers `{"status":"ok"}`. The
//! bound address is printed on stderr (`listening on http://ADDR`; port 0 picks a free one).
//! Requests from concurrent clients are scored together, up to `--max-batch` items, waiting at
//! most `--max-wait-ms` for a batch to fill. `tier` is the CumPT tier (`<model>/cumpt.json`
//! when present, else the default tiers with β = 0.5). SIGTERM or Ctrl-C stops it after the
//! requests in flight are answered.

use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::Parser;
use rand::SeedableRng;
use serde::Serialize;
use taosr1::assets::{load_checkpoint, load_codec_from};
use taosr1::backend;
use taosr1::cli::{ServeArgs, STDIO};
use taosr1::codec::Codec;
use taosr1::http::BatchScorer;
use taosr1::infer::{predict, InferConfig, Prediction, Scored, SLOT_RESERVE};
use taosr1::Error;
use taosr1_cot::Item;
use taosr1_model::Transformer;
use taosr1_partition::{CumPt, Partitioner, Thresholds, TierMap};

fn main() -> std::process::ExitCode {
    let args = ServeArgs::parse();
    if args.http.is_some() {
        match run_http(&args) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                std::process::ExitCode::FAILURE
            }
        }
    } else {
        taosr1::cli::report(run(&args))
    }
}

/// The partitioner of `--thresholds` (or `<model>/thresholds.json`, else the median rule) and
/// the thresholds file it came from.
fn partitioner(args: &ServeArgs, grades: usize) -> Result<(Partitioner, Option<PathBuf>), Error> {
    let thresholds_path = args.thresholds_path();
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
    Ok((partitioner, thresholds_path))
}

/// The one scoring call of both modes: grade distributions (and rationales) of `items`.
fn score_items<R: rand::Rng>(
    model: &Transformer,
    codec: &Codec,
    items: &[Item],
    cfg: &InferConfig,
    rng: &mut R,
) -> Result<Vec<Prediction>, Error> {
    predict(model, codec, items, cfg, rng)
}

fn run(args: &ServeArgs) -> Result<(), Error> {
    let (input, output) = (args.input.as_path(), args.output.as_path());
    let stdio = Path::new(STDIO);
    let cfg: InferConfig = args.infer();

    let codec = load_codec_from(&args.tokenizer.path)?;
    let (model, _) = load_checkpoint(&args.model, &backend::device())?;
    let grades = codec.template().scale().len();
    let (partitioner, thresholds_path) = partitioner(args, grades)?;
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
        let preds: Vec<Result<_, Error>> = match score_items(&model, &codec, &items, &cfg, &mut rng)
        {
            Ok(p) => p.into_iter().map(Ok).collect(),
            Err(_) => items
                .iter()
                .map(|i| {
                    score_items(&model, &codec, std::slice::from_ref(i), &cfg, &mut rng)
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

// ---------------------------------------------------------------------------------------------
// --http ADDR

/// One element of the HTTP response's `results`.
#[derive(Serialize)]
struct HttpResult {
    id: String,
    /// Partition grade (as in the file mode's `grade`).
    grade: String,
    /// CumPT tier name.
    tier: String,
    score: f32,
    probs: Vec<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rationale: Option<String>,
}

/// The model behind the HTTP service; built on the service's worker thread.
struct ModelScorer {
    model: Transformer,
    codec: Codec,
    cfg: InferConfig,
    partitioner: Partitioner,
    cumpt: CumPt,
    rng: rand_chacha::ChaCha8Rng,
}

impl ModelScorer {
    fn load(args: &ServeArgs) -> Result<Self, Error> {
        let codec = load_codec_from(&args.tokenizer.path)?;
        let (model, _) = load_checkpoint(&args.model, &backend::device())?;
        let grades = codec.template().scale().len();
        let (partitioner, _) = partitioner(args, grades)?;
        let cumpt_path = args.model.join("cumpt.json");
        let cumpt = if cumpt_path.exists() {
            let c = CumPt::load(&cumpt_path)?;
            if c.map().num_grades() != grades {
                return Err(Error::Input(format!(
                    "{}: its tiers cover {} grades, but the grade scale has {grades}",
                    cumpt_path.display(),
                    c.map().num_grades()
                )));
            }
            c
        } else {
            CumPt::new(TierMap::default_for(grades)?, 0.5)?
        };
        // a whole HTTP batch is decoded together
        let cfg = InferConfig {
            batch_size: args.max_batch,
            ..args.infer()
        };
        Ok(Self {
            model,
            codec,
            cfg,
            partitioner,
            cumpt,
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(0),
        })
    }

    fn result(&self, item: &Item, p: &Prediction, explain: bool) -> Result<HttpResult, Error> {
        let s = Scored::new(&item.id, p, &self.partitioner, &self.codec)?;
        Ok(HttpResult {
            id: s.id,
            grade: s.grade,
            tier: self.cumpt.tier_name(&p.distribution)?.to_string(),
            score: s.score,
            probs: s.probs,
            rationale: explain.then_some(s.rationale),
        })
    }
}

impl BatchScorer for ModelScorer {
    type Output = HttpResult;

    fn check(&self, item: &Item) -> Result<(), String> {
        let prompt = self.codec.prompt_ids(item).map_err(|e| e.to_string())?;
        let context = self.model.max_positions();
        if prompt.len() + SLOT_RESERVE > context {
            return Err(format!(
                "the prompt has {} tokens and the answer slot needs {SLOT_RESERVE} more, \
                 but the model's context is {context} tokens",
                prompt.len()
            ));
        }
        Ok(())
    }

    fn score(&mut self, items: &[Item], explain: &[bool]) -> Result<Vec<HttpResult>, String> {
        let preds = score_items(&self.model, &self.codec, items, &self.cfg, &mut self.rng)
            .map_err(|e| e.to_string())?;
        items
            .iter()
            .zip(&preds)
            .zip(explain)
            .map(|((item, p), &explain)| self.result(item, p, explain).map_err(|e| e.to_string()))
            .collect()
    }
}

fn run_http(args: &ServeArgs) -> Result<(), taosr1::http::HttpError> {
    let addr = args.http.clone().unwrap_or_default();
    let cfg = args.http_config();
    let model_args = args.clone();
    let (max_batch, max_wait) = (cfg.max_batch, cfg.max_wait);
    taosr1::http::run(
        &addr,
        move || ModelScorer::load(&model_args),
        cfg,
        |bound| {
            eprintln!(
                "listening on http://{bound} ({} backend, max batch {max_batch}, max wait {} ms)",
                backend::name(),
                max_wait.as_millis()
            );
        },
    )?;
    eprintln!("shut down");
    Ok(())
}
