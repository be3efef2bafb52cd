//! Batched deployment inference: query/product JSONL in, one JSON line per item out with the
//! partition grade, CumPT tier, relevance score, argmax grade, grade probabilities and
//! rationale.
//!
//! `cargo run --release --example serve -- [--model runs/grpo] [--thresholds FILE]
//! [--input data/test.jsonl | -] [--output FILE | -] [--batch 64] [--think-budget 48]
//! [--explain] [--tokenizer assets/tokenizer.json]`
//!
//! The checkpoint's response order (`response_order.json`) decides how it is scored: a
//! label-first model with one prefill per item (items of one query share their prompt
//! prefix) and a rationale only with `--explain`, written after the label; a think-first model
//! (or a checkpoint that records no order) thinks first and is read at the forced answer slot.
//! Tiers come from `<model>/cumpt.json` when present, else the default tiers
//! (L4, L3 → Good; L2 → Mid; L1 → Bad) with β = 0.5.
//!
//! Every flag, its default and what it accepts:
//! `cargo run --release --example serve -- --help` (see [`taosr1::cli::ServeArgs`]).
//!
//! Input lines need `query` and `product` (`title`, `category`, `brand`, optional
//! `attributes`); any other field (a gold `grade`, a `rationale`) is ignored. The grade rule
//! is `--thresholds FILE` (on the cumulative probabilities) or `--cuts FILE` (on the expected
//! grade), else whichever of `<model>/thresholds.json` (see `examples/calibrate.rs`) and
//! `<model>/cuts.json` (written by `examples/home_depot.rs` next to its deployed checkpoint) is
//! present, else the median rule (all 0.5); both files present is refused. Throughput goes to
//! stderr.
//!
//! A Hugging Face checkpoint folder (one with `taosr1_template.json`, as `home_depot` and the
//! real-model stages save) is served with its own tokenizer, chat template and response
//! order; `--tokenizer` is for the embedded word-level models only. When the folder has
//! `prompt_evidence.json` (a checkpoint trained with `home_depot --prompt-evidence`), every
//! item is first annotated with the rule analyser's findings, as its training prompts were.
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

use std::borrow::Cow;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use clap::Parser;
use rand::SeedableRng;
use serde::Serialize;
use taosr1::assets::{checkpoint_order, load_checkpoint, load_codec_from};
use taosr1::cli::{RuleFile, ServeArgs, CUMPT_FILE, STDIO, TOKENIZER};
use taosr1::codec::Codec;
use taosr1::http::BatchScorer;
use taosr1::infer::{predict, InferConfig, Prediction, Scored, SLOT_RESERVE};
use taosr1::Error;
use taosr1::{backend, real};
use taosr1_cot::teacher::RuleTeacher;
use taosr1_cot::{Item, ResponseOrder};
use taosr1_model::Transformer;
use taosr1_partition::{CumPt, Partitioner, ScoreCuts, Thresholds, TierMap};

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

/// A checkpoint ready to score: the model, its codec in the checkpoint's response order, the
/// grade partitioner and the CumPT tiers. Both modes score through [`Deployed::score`].
struct Deployed {
    model: Transformer,
    codec: Codec,
    cfg: InferConfig,
    partitioner: Partitioner,
    /// The grade rule, for the summary line.
    rule: String,
    cumpt: CumPt,
    /// The rule analyser that annotated the checkpoint's training prompts, when it did.
    evidence: Option<RuleTeacher>,
}

impl Deployed {
    /// Load `--model` and its deployment files; everything is checked before any input is
    /// read or any output written, and the choice of grade rule before the model is loaded.
    fn load(args: &ServeArgs, cfg: InferConfig) -> Result<Self, Error> {
        let rule_file = args.rule_file()?;
        let (model, codec) = if args.model.join(real::TEMPLATE_FILE).is_file() {
            // a Hugging Face checkpoint: its own tokenizer, chat template and response order
            if args.tokenizer.path != Path::new(TOKENIZER) {
                return Err(Error::Input(format!(
                    "--tokenizer {}: {} is a Hugging Face checkpoint, which brings its own \
                     tokenizer.json and chat template ({}); drop --tokenizer",
                    args.tokenizer.path.display(),
                    args.model.display(),
                    real::TEMPLATE_FILE
                )));
            }
            let (model, _, codec) = real::load(&args.model, &backend::device())?;
            (model, codec)
        } else {
            let codec =
                load_codec_from(&args.tokenizer.path)?.with_order(checkpoint_order(&args.model)?);
            (load_checkpoint(&args.model, &backend::device())?.0, codec)
        };
        let grades = codec.template().scale().len();
        let count = |p: &Path, found: usize| -> Result<(), Error> {
            if found == grades {
                return Ok(());
            }
            Err(Error::Input(format!(
                "{}: it decides among {found} grades, but the grade scale has {grades}",
                p.display()
            )))
        };
        let (partitioner, rule) = match rule_file {
            Some(RuleFile::Thresholds(p)) => {
                let t = Thresholds::load(&p)?;
                count(&p, t.num_grades())?;
                (Partitioner::new(t), format!("thresholds {}", p.display()))
            }
            Some(RuleFile::Cuts(p)) => {
                let c = ScoreCuts::load(&p)?;
                count(&p, c.num_grades())?;
                (
                    Partitioner::from_cuts(c),
                    format!("expected-grade cuts {}", p.display()),
                )
            }
            None => (
                Partitioner::default_for(grades)?,
                "thresholds 0.5 (default)".into(),
            ),
        };
        let cumpt_path = args.model.join(CUMPT_FILE);
        let cumpt = if cumpt_path.exists() {
            let c = CumPt::load(&cumpt_path)?;
            count(&cumpt_path, c.map().num_grades())?;
            c
        } else {
            CumPt::new(TierMap::default_for(grades)?, 0.5)?
        };
        let evidence = real::PromptEvidence::load(&args.model)?
            .map(|e| e.teacher(codec.template().scale().clone()));
        let rule = match &evidence {
            Some(_) => format!("{rule}, prompts with rule checks ({})", real::EVIDENCE_FILE),
            None => rule,
        };
        Ok(Self {
            model,
            codec,
            cfg,
            partitioner,
            rule,
            cumpt,
            evidence,
        })
    }

    /// The items as the checkpoint's training prompts showed them: with the rule analyser's
    /// findings when it was trained with them, else as they are.
    fn shown<'a>(&self, items: &'a [Item]) -> Cow<'a, [Item]> {
        match &self.evidence {
            Some(t) => Cow::Owned(items.iter().map(|i| t.annotate(i)).collect()),
            None => Cow::Borrowed(items),
        }
    }

    /// Whether `item` fits the model's context in this order (the HTTP service's 422).
    fn fits(&self, item: &Item) -> Result<(), String> {
        let shown = self.shown(std::slice::from_ref(item));
        let prompt = self
            .codec
            .prompt_ids(&shown[0])
            .map_err(|e| e.to_string())?;
        let context = self.model.max_positions();
        let (needed, what) = match self.codec.template().order() {
            ResponseOrder::LabelFirst => (1, "the answer tag"),
            ResponseOrder::ThinkFirst => (SLOT_RESERVE, "the answer slot"),
        };
        if prompt.len() + needed > context {
            return Err(format!(
                "the prompt has {} tokens and {what} needs {needed} more, but the model's \
                 context is {context} tokens",
                prompt.len()
            ));
        }
        Ok(())
    }

    /// The one scoring call of both modes: predictions, then (label-first, where asked) the
    /// rationale written after the decided grade, then the output records with tiers.
    fn score<R: rand::Rng>(
        &self,
        items: &[Item],
        explain: &[bool],
        rng: &mut R,
    ) -> Result<Vec<(Prediction, Scored)>, Error> {
        let shown = self.shown(items);
        let items = &shown[..];
        let mut preds = predict(&self.model, &self.codec, items, &self.cfg, rng)?;
        if self.codec.template().order() == ResponseOrder::LabelFirst {
            let asked: Vec<usize> = (0..items.len()).filter(|&i| explain[i]).collect();
            if !asked.is_empty() {
                let chosen: Vec<Item> = asked.iter().map(|&i| items[i].clone()).collect();
                let grades = asked
                    .iter()
                    .map(|&i| {
                        let g = self.partitioner.partition(&preds[i].distribution)?.grade;
                        Ok(self.codec.template().scale().grade(g)?)
                    })
                    .collect::<Result<Vec<_>, Error>>()?;
                let why =
                    taosr1::infer::explain(&self.model, &self.codec, &chosen, &grades, &self.cfg)?;
                for (&i, text) in asked.iter().zip(why) {
                    preds[i].thinking = text;
                }
            }
        }
        preds
            .into_iter()
            .zip(items)
            .map(|(p, item)| {
                let s = Scored::new(&item.id, &p, &self.partitioner, &self.codec)?
                    .with_tier(&p, &self.cumpt)?;
                Ok((p, s))
            })
            .collect()
    }
}

fn run(args: &ServeArgs) -> Result<(), Error> {
    let (input, output) = (args.input.as_path(), args.output.as_path());
    let stdio = Path::new(STDIO);
    let cfg: InferConfig = args.infer();
    let deployed = Deployed::load(args, cfg.clone())?;
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
        let explain = vec![args.explain; items.len()];
        let scored_batch: Vec<Result<_, Error>> = match deployed.score(&items, &explain, &mut rng) {
            Ok(p) => p.into_iter().map(Ok).collect(),
            Err(_) => items
                .iter()
                .map(|i| {
                    deployed
                        .score(std::slice::from_ref(i), &explain[..1], &mut rng)
                        .map(|mut p| p.remove(0))
                })
                .collect(),
        };
        for ((slot, line, _), pred) in chunk.iter().zip(scored_batch) {
            let record = pred.and_then(|(p, s)| {
                tokens += p.generated_tokens;
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
        "{} items in {:.2}s on {} ({}): {:.1} items/s, {:.0} generated tokens/s (batch {}, {})",
        scored,
        secs,
        backend::name(),
        deployed.codec.template().order(),
        scored as f64 / secs,
        tokens as f64 / secs,
        cfg.batch_size,
        deployed.rule
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
    deployed: Deployed,
    rng: rand_chacha::ChaCha8Rng,
}

impl ModelScorer {
    fn load(args: &ServeArgs) -> Result<Self, Error> {
        // a whole HTTP batch is scored together
        let cfg = InferConfig {
            batch_size: args.max_batch,
            ..args.infer()
        };
        Ok(Self {
            deployed: Deployed::load(args, cfg)?,
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(0),
        })
    }
}

impl BatchScorer for ModelScorer {
    type Output = HttpResult;

    fn check(&self, item: &Item) -> Result<(), String> {
        self.deployed.fits(item)
    }

    fn score(&mut self, items: &[Item], explain: &[bool]) -> Result<Vec<HttpResult>, String> {
        let scored = self
            .deployed
            .score(items, explain, &mut self.rng)
            .map_err(|e| e.to_string())?;
        Ok(scored
            .into_iter()
            .zip(explain)
            .map(|((_, s), &explain)| HttpResult {
                id: s.id,
                grade: s.grade,
                tier: s.tier.unwrap_or_default(),
                score: s.score,
                probs: s.probs,
                rationale: explain.then_some(s.rationale),
            })
            .collect())
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
