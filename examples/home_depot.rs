//! The TaoSR1 staircase on real data: a Hugging Face checkpoint (SmolLM2-135M-Instruct by
//! default) on the Home Depot search relevance pairs, label-first from the start, every stage
//! scored by one prefill per item on the same test queries, with bootstrap intervals over
//! queries next to simple baselines.
//!
//! ```text
//! cargo run --release --example home_depot -- --model ../models/smollm2-135m-instruct \
//!     --data ../shared/data/home-depot-search-relevance/train_utf8.csv --out runs/home-depot
//! ```
//!
//! Stages (`--stages`, in this order; each starts from the one before it that trains, the
//! SFT stages from the base checkpoint):
//! * `zero-shot`: the checkpoint with TaoSR1's tags and grade labels added as tokens, each
//!   initialised from the pieces it replaced (`taosr1::real::adapt`);
//! * `label-probe`: the base model frozen, only the grade tokens' output rows fitted (a
//!   softmax regression on the logits of `--probe-basis` tokens at the label position, over
//!   the rows of the first `--probe-queries` training queries, written into the model
//!   exactly; `taosr1::probe`): what the deployed read-out alone can get from the base model;
//! * `sft-labels`: SFT on `<answer>G</answer><think></think>` (labels only);
//! * `sft-cot`: SFT on the label followed by the rule teacher's five-step rationale (rows
//!   whose rationale the teacher rejected keep only their label);
//! * `dpo`: offline pass@N sampling from `sft-cot`, correct vs wrong samples, gold as the
//!   chosen response when none is correct;
//! * `grpo`: difficulty-filtered GRPO from `dpo` with class-balanced prompts.
//!
//! Every stage is already in the deployed, post-CoT form (label first, reasoning after it).
//! After the stages comes the **deployed row**: each stage scores `--beta-rows` validation
//! rows, three cuts on its expected grade are fitted there for macro-F1 (the same kind of
//! decision rule the lexical baseline gets), and the stage with the best validation macro-F1
//! (or `--deploy STAGE`) is scored on the test rows that way; CumPT's β is fitted on the same
//! validation rows. The deployed stage's checkpoint folder gets `cuts.json`, `cumpt.json` and,
//! with `--prompt-evidence`, `prompt_evidence.json`, so that `serve --model OUT/STAGE/model`
//! grades, tiers and prompts exactly as the deployed row was scored.
//!
//! Resumable: a stage whose `OUT/STAGE/eval.json` exists is not recomputed (`--force` redoes
//! it); a stage whose model was saved (`OUT/STAGE/trained.json`) but whose test scoring did
//! not finish is scored, not trained again; and its scores on the deployment choice's
//! validation rows are kept in `OUT/STAGE/validation.jsonl` (matched by row id, so growing
//! `--validation-queries` scores only the new queries; a recomputed stage deletes it). Each
//! training stage writes `OUT/STAGE/steps.jsonl` (one JSON object per step: loss, learning
//! rate, the trainer's metrics, and every `--val-every` steps the accuracy and macro-F1 on
//! the first `--val-rows` validation rows) and its checkpoint as a Hugging Face folder;
//! `OUT/staircase.md` holds the table and `OUT/plots/` the PNG plots.
//!
//! Subsets: the splits are by query (sha256 of `"0\t" + query`, sorted; 80/10/10), and
//! `--train-queries`, `--validation-queries`, `--test-queries` take the first queries of each
//! split in that order (a pseudo-random sample), all their rows (`--query-order file` takes
//! them in order of first appearance in the file instead). Validation is used only for
//! choices and curves (the lexical baseline's and the deployed row's cuts, CumPT's β, the
//! per-step validation accuracy).

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use taosr1::codec::Codec;
use taosr1::infer::{label_logits, score_label_first, InferConfig};
use taosr1::real::PromptEvidence;
use taosr1::sft::{rating_targets, train, LossTokens, SftConfig};
use taosr1::stages::{run_dpo, run_grpo, DpoRun, GrpoRun, RolloutConfig};
use taosr1::{backend, real, Error};
use taosr1_cot::adapter::{read_csv, split_by_query, take_queries, ColumnSpec, QueryOrder};
use taosr1_cot::teacher::{brand_lexicon, Teacher, EVIDENCE_ATTRIBUTE};
use taosr1_cot::{Example, GradeScale, Template, TextStyle};
use taosr1_grpo::{DynamicSamplingConfig, GrpoTrainerConfig, OptimizerConfig};
use taosr1_model::{ModelConfig, StorageDtype, TaoTokenizer, Transformer};
use taosr1_partition::metrics::{
    accuracy, bootstrap_groups, macro_f1, mean_ndcg_by_group, Interval,
};
use taosr1_partition::{GradeDistribution, Metric, ScoreCuts};

const STAGES: [&str; 6] = [
    "zero-shot",
    "label-probe",
    "sft-labels",
    "sft-cot",
    "dpo",
    "grpo",
];
/// Where each stage keeps its scores on the deployment choice's validation rows.
const VALIDATION_FILE: &str = "validation.jsonl";
/// Where each stage keeps its scores on the test rows.
const PREDICTIONS_FILE: &str = "predictions.jsonl";
/// Where each stage keeps its test metrics; a stage is finished when this file exists.
const EVAL_FILE: &str = "eval.json";
/// Written when a stage's model is saved, before its test scoring: a run stopped between the
/// two scores the saved model when resumed instead of training it again.
const TRAINED_FILE: &str = "trained.json";

/// What `TRAINED_FILE` records: the training's wall time and the stage's note.
#[derive(Serialize, Deserialize)]
struct Trained {
    train_seconds: f64,
    note: String,
}

#[derive(Parser, Debug)]
#[command(
    name = "home_depot",
    about = "The TaoSR1 staircase on Home Depot with a real checkpoint"
)]
struct Args {
    /// Hugging Face checkpoint folder (config.json, model.safetensors, tokenizer.json, chat template), or a .gguf file (its weights dequantised to f32, its tokenizer and chat template).
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// The Home Depot CSV (id, product_uid, product_title, search_term, relevance).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "../shared/data/home-depot-search-relevance/train_utf8.csv"
    )]
    data: PathBuf,
    /// Output folder: one sub-folder per stage, staircase.md.
    #[arg(long, value_name = "DIR", default_value = "runs/home-depot")]
    out: PathBuf,
    /// Comma-separated stages to run, from: zero-shot, label-probe, sft-labels, sft-cot, dpo,
    /// grpo.
    #[arg(long, default_value = "zero-shot,sft-labels,sft-cot")]
    stages: String,
    /// Training queries (their rows are the SFT data).
    #[arg(long, default_value_t = 300)]
    train_queries: usize,
    /// Skip the first this many queries of the training split before taking
    /// --train-queries (to continue a checkpoint, `--sft-from DIR`, on rows it has not seen).
    #[arg(long, value_name = "N", default_value_t = 0)]
    train_skip_queries: usize,
    /// Validation queries: the lexical baseline's and the deployed row's cuts, CumPT's beta
    /// (on the first --beta-rows of their rows) and the per-step checks (the first --val-rows).
    /// Growing it between runs scores only the new queries' rows.
    #[arg(long, default_value_t = 100)]
    validation_queries: usize,
    /// Test queries (every stage and baseline is scored on their rows).
    #[arg(long, default_value_t = 120)]
    test_queries: usize,
    /// How --train-skip-queries, --train-queries, --validation-queries, --test-queries and
    /// --probe-queries pick queries. `key`: by a hash of the query, so the
    /// first N are a uniform sample of the split. `file`: by first appearance in the file;
    /// the Home Depot file is sorted by product id and its later products are rated lower
    /// (the L4 share of training queries 7 000-8 400 in file order is 0.17, against 0.26 on
    /// test). The runs in docs/RESULTS.md up to the seventeenth session's sixth cycle used
    /// `file`.
    #[arg(long, value_enum, default_value_t = Order::Key)]
    query_order: Order,
    /// SFT epochs.
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// label-probe: training queries whose rows fit the probe (the first of the training
    /// split in --query-order, independent of --train-queries; each row costs one prefill,
    /// no backward).
    #[arg(long, default_value_t = 150)]
    probe_queries: usize,
    /// label-probe: basis tokens whose label-position logits are the probe's features.
    #[arg(long, default_value_t = 1024)]
    probe_basis: usize,
    /// label-probe: what the softmax regression is fitted on. `logits`: the basis logits,
    /// whitened (the best read-out on its own, but its output rows grow ~100x the size of
    /// other tokens' rows, which breaks SFT started from it). `hidden`: the hidden states
    /// recovered from them, with the penalty on the output rows' size (what
    /// `--sft-from label-probe` needs).
    #[arg(long, value_name = "logits|hidden", default_value = "logits")]
    probe_space: String,
    /// Where the SFT stages start: `base` (the adapted checkpoint), `label-probe` (its
    /// fitted read-out, LP-FT: the head is fitted before the body is fine-tuned), or a
    /// checkpoint folder this example wrote (e.g. an earlier run's `sft-labels/model`, to
    /// train it further; its prompts must have been built with the same --prompt-evidence).
    #[arg(long, value_name = "base|label-probe|DIR", default_value = "base")]
    sft_from: String,
    /// SFT: at most this many optimizer steps (the learning-rate schedule ends there).
    #[arg(long)]
    max_steps: Option<usize>,
    /// SFT: stop after the step that passes this many minutes of training (a guard for a
    /// time-boxed GPU; the schedule is not shortened, so size --max-steps to fit).
    #[arg(long)]
    max_train_minutes: Option<f64>,
    /// SFT: keep the token embeddings and the first K decoder blocks fixed (partial
    /// fine-tuning: the backward pass covers only the blocks above them). A tied head is
    /// untied first, so the output rows still train; the checkpoint then has its own head.
    #[arg(long, value_name = "K", default_value_t = 0)]
    frozen_layers: usize,
    /// SFT: which response tokens the loss scores. `response`: all of them (plain SFT).
    /// `grade`: only the grade label's, the token the deployed model reads (for `sft-labels`;
    /// `sft-cot` then learns no rationale). `grade-among-grades`: the same with its
    /// probability renormalised over the grade tokens, the deployed read-out's cross-entropy.
    /// `grade-distribution`: as `grade-among-grades` against a soft target built from each
    /// row's mean rating (`sft::rating_targets`, mixed with the gold one-hot by --soft-alpha).
    #[arg(
        long,
        value_name = "response|grade|grade-among-grades|grade-distribution",
        default_value = "response"
    )]
    sft_loss: String,
    /// SFT with `--sft-loss grade-distribution`: the share of the rating's two-hot target in
    /// each row's target (`0`: the gold one-hot; `1`: the two-hot alone), in [0, 1].
    #[arg(long, value_name = "ALPHA", default_value_t = 0.5)]
    soft_alpha: f32,
    /// SFT: weight each training row so that every grade carries the same share of the loss.
    #[arg(long)]
    class_balanced: bool,
    /// Put the rule analyser's findings in every prompt, as a `Rule checks:` line after the
    /// product (`RuleTeacher::annotate`: matched and missing query words, type, brand, size,
    /// colour, material and exclusion clauses; read from query and title only, never a label).
    /// A run folder remembers the choice in `prompt.json` and refuses to resume with the other.
    #[arg(long)]
    prompt_evidence: bool,
    /// SFT peak learning rate (AdamW, warmup then linear decay).
    #[arg(long, default_value_t = 5e-5)]
    lr: f64,
    /// SFT batch size.
    #[arg(long, default_value_t = 8)]
    batch_size: usize,
    /// Scoring batch size.
    #[arg(long, default_value_t = 32)]
    eval_batch: usize,
    /// DPO: training prompts, samples per prompt, new tokens per sample.
    #[arg(long, default_value_t = 64)]
    dpo_prompts: usize,
    #[arg(long, default_value_t = 4)]
    dpo_n: usize,
    /// GRPO steps, group size and prompts per step.
    #[arg(long, default_value_t = 8)]
    grpo_steps: usize,
    #[arg(long, default_value_t = 4)]
    grpo_group: usize,
    #[arg(long, default_value_t = 4)]
    grpo_prompts: usize,
    /// New tokens per sampled response (DPO and GRPO rollouts).
    #[arg(long, default_value_t = 48)]
    max_new_tokens: usize,
    /// Validation rows scored by each candidate stage to fit CumPT's beta and the
    /// expected-grade cuts of the deployed row (default: every validation row).
    #[arg(long, value_name = "N")]
    beta_rows: Option<usize>,
    /// The stage the deployed row uses: `auto` picks the stage run this time whose grades,
    /// cut on the expected grade, have the best macro-F1 on the `--beta-rows` validation rows;
    /// or name one.
    #[arg(long, default_value = "auto", value_name = "auto|STAGE")]
    deploy: String,
    /// Validation rows scored during training for the per-step validation curve (0: none).
    #[arg(long, default_value_t = 64)]
    val_rows: usize,
    /// Score those rows every this many optimizer steps (and after the last step; 0 counts
    /// as 1).
    #[arg(long, default_value_t = 10)]
    val_every: usize,
    /// Bootstrap resamples over test queries.
    #[arg(long, default_value_t = 1000)]
    resamples: usize,
    /// How each stage's checkpoint stores its weights: f32 (exact; the next stage starts from
    /// exactly the trained weights) or bf16 (half the disk; the next stage starts from them
    /// rounded).
    #[arg(long, default_value = "f32", value_name = "f32|bf16")]
    save_dtype: StorageDtype,
    /// Recompute stages that already have results.
    #[arg(long)]
    force: bool,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// One stage's (or baseline's) test metrics.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct StageEval {
    name: String,
    n_items: usize,
    n_queries: usize,
    macro_f1: Interval,
    accuracy: Interval,
    ndcg_at_10: Interval,
    train_seconds: f64,
    eval_ms_per_item: f64,
    note: String,
}

fn main() -> std::process::ExitCode {
    taosr1::cli::report(run(&Args::parse()))
}

/// `--query-order`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Order {
    Key,
    File,
}

/// The rows of the first `n` queries in `--query-order`, query by query.
fn first_queries(args: &Args, rows: Vec<Example>, n: usize) -> Vec<Example> {
    queries(args, rows, 0, n)
}

/// The rows of `n` queries after the first `skip` in `--query-order` ([`take_queries`]).
fn queries(args: &Args, rows: Vec<Example>, skip: usize, n: usize) -> Vec<Example> {
    let order = match args.query_order {
        Order::Key => QueryOrder::Key,
        Order::File => QueryOrder::File,
    };
    take_queries(rows, skip, n, order)
}

/// The validation rows that fit the deployed cuts and CumPT's beta (`--beta-rows`, default all).
fn beta_rows<'a>(args: &Args, validation: &'a [Example]) -> &'a [Example] {
    &validation[..validation.len().min(args.beta_rows.unwrap_or(usize::MAX))]
}

/// Row indices per query, in first-appearance order.
fn query_groups(rows: &[Example]) -> Vec<Vec<usize>> {
    taosr1::eval::group_by_query(rows.iter().map(|e| e.query.as_str()))
}

/// Metrics with bootstrap intervals over queries: grades are predicted `pred`, ranked by
/// `score`.
fn metrics(
    name: &str,
    test: &[Example],
    pred: &[usize],
    score: &[f32],
    resamples: usize,
    seed: u64,
) -> Result<StageEval, Error> {
    let gold: Vec<usize> = test.iter().map(|e| e.grade.index()).collect();
    let groups = query_groups(test);
    let k = 4;
    let pooled = |drawn: &[&[usize]]| -> (Vec<usize>, Vec<usize>) {
        let idx = drawn.iter().flat_map(|g| g.iter().copied());
        idx.map(|i| (pred[i], gold[i])).unzip()
    };
    let err = |e: taosr1_partition::PartitionError| Error::Input(format!("{name}: {e}"));
    let f1 = bootstrap_groups(&groups, resamples, 0.95, seed, |d| {
        let (p, g) = pooled(d);
        macro_f1(&p, &g, k)
    })
    .map_err(err)?;
    let acc = bootstrap_groups(&groups, resamples, 0.95, seed, |d| {
        let (p, g) = pooled(d);
        accuracy(&p, &g)
    })
    .map_err(err)?;
    let ndcg = bootstrap_groups(&groups, resamples, 0.95, seed, |d| {
        mean_ndcg_by_group(score, &gold, d, 10)
    })
    .map_err(err)?;
    Ok(StageEval {
        name: name.to_string(),
        n_items: test.len(),
        n_queries: groups.len(),
        macro_f1: f1,
        accuracy: acc,
        ndcg_at_10: ndcg,
        train_seconds: 0.0,
        eval_ms_per_item: 0.0,
        note: String::new(),
    })
}

/// Score the test rows by one prefill each; the grade is the argmax, the ranking score the
/// expected grade.
fn evaluate(
    model: &Transformer,
    codec: &Codec,
    test: &[Example],
    args: &Args,
    name: &str,
    dir: &Path,
) -> Result<StageEval, Error> {
    let bar = bar(test.len(), &format!("{name}: scoring"));
    let started = Instant::now();
    let mut dists = Vec::with_capacity(test.len());
    for chunk in test.chunks(args.eval_batch * 4) {
        dists.extend(score_rows(model, codec, chunk, args.eval_batch)?);
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let ms = started.elapsed().as_secs_f64() * 1000.0 / test.len().max(1) as f64;
    let pred: Vec<usize> = dists.iter().map(|d| d.argmax()).collect();
    let score: Vec<f32> = dists
        .iter()
        .map(GradeDistribution::expected_grade)
        .collect();
    write(&dir.join(PREDICTIONS_FILE), &predictions_text(test, &dists))?;
    let mut m = metrics(name, test, &pred, &score, args.resamples, args.seed)?;
    m.eval_ms_per_item = ms;
    Ok(m)
}

/// Whether a batch's shared prompt prefix runs once (scoring's prefix reuse, and
/// `share_prompt_prefix` in SFT, DPO and GRPO): it pays on the CPU (4.6x for scoring, 1.83x
/// for an SFT step, 1.84x for DPO's policy pass) and loses on CUDA (0.68x for scoring;
/// training there is unmeasured; docs/RESULTS.md).
const SHARE_PREFIX: bool = !cfg!(feature = "cuda");

/// Label-first scoring settings for `batch` items at a time.
fn infer_config(batch: usize) -> InferConfig {
    InferConfig::new()
        .with_batch_size(batch)
        .with_prefix_reuse(SHARE_PREFIX)
}

/// Grade probabilities of `rows`, one prefill each.
fn score_rows(
    model: &Transformer,
    codec: &Codec,
    rows: &[Example],
    batch: usize,
) -> Result<Vec<taosr1_partition::GradeDistribution>, Error> {
    let items: Vec<_> = rows.iter().map(Example::item).collect();
    Ok(
        score_label_first(model, codec, &items, &infer_config(batch))?
            .into_iter()
            .map(|p| p.distribution)
            .collect(),
    )
}

/// The per-step validation check: every `--val-every` steps and after the last one, accuracy
/// and macro-F1 of the argmax grade on the first `--val-rows` validation rows, merged into the
/// step's JSON line.
struct Validator<'a> {
    rows: &'a [Example],
    every: usize,
    batch: usize,
}

impl Validator<'_> {
    /// Before a stage trains: every validation row must fit the model's context, so a check
    /// cannot fail after the training it would report on.
    fn precheck(&self, model: &Transformer, codec: &Codec) -> Result<(), Error> {
        let context = model.max_positions();
        for e in self.rows {
            let n = codec.label_slot_ids(&e.item())?.len();
            if n > context {
                return Err(Error::Input(format!(
                    "validation row {}: {n} prompt tokens, more than the model's context of \
                     {context} (lower --val-rows or drop the row)",
                    e.id
                )));
            }
        }
        Ok(())
    }

    fn check(
        &self,
        step: usize,
        total: usize,
        model: &Transformer,
        codec: &Codec,
        line: &mut serde_json::Value,
    ) -> Result<(), Error> {
        let due = step + 1 == total || (step + 1).is_multiple_of(self.every.max(1));
        if self.rows.is_empty() || !due {
            return Ok(());
        }
        let dists = score_rows(&model.clone().valid(), codec, self.rows, self.batch)?;
        let pred: Vec<usize> = dists.iter().map(|d| d.argmax()).collect();
        let gold: Vec<usize> = self.rows.iter().map(|e| e.grade.index()).collect();
        let err = |e: taosr1_partition::PartitionError| Error::Input(format!("validation: {e}"));
        line["val_accuracy"] = serde_json::json!(accuracy(&pred, &gold).map_err(err)?);
        line["val_macro_f1"] = serde_json::json!(macro_f1(&pred, &gold, 4).map_err(err)?);
        Ok(())
    }
}

/// The `label-probe` stage: the base model frozen, the grade tokens' output rows fitted by a
/// softmax regression on the logits of `--probe-basis` tokens at the label position
/// ([`taosr1::probe`]), over the rows of the first `--probe-queries` training queries. Twelve
/// candidates (L2 1e-4 … 10, plain or class-balanced) are compared on the validation rows by
/// the deployment's rule (expected grade with fitted cuts); each is one line of
/// `steps.jsonl`. The best is written into the model. Those are the `--beta-rows` rows the
/// deployment choice scores every stage on, so the probe's figure there is flattered by its
/// pick among twelve.
fn label_probe(
    args: &Args,
    model: Transformer,
    codec: &Codec,
    added: &[(String, Vec<u32>)],
    train: &[Example],
    validation: &[Example],
    dir: &Path,
) -> Result<(Transformer, String), Error> {
    use taosr1::probe::{apply, basis, features, fit, hidden_states, ProbeConfig};
    if train.is_empty() || validation.is_empty() {
        return Err(Error::Input(
            "label-probe needs training rows (--probe-queries) and validation rows (--beta-rows)"
                .into(),
        ));
    }
    let tok = codec.tokenizer();
    let skip: Vec<u32> = added
        .iter()
        .filter_map(|(t, _)| tok.token_to_id(t))
        .collect();
    let basis = basis(model.vocab_size(), args.probe_basis, &skip);
    let feats = |rows: &[Example], what: &str| -> Result<Vec<Vec<f32>>, Error> {
        let bar = bar(rows.len(), &format!("label-probe: {what} features"));
        let cfg = infer_config(args.eval_batch);
        let mut out = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(args.eval_batch * 4) {
            let items: Vec<_> = chunk.iter().map(Example::item).collect();
            for row in label_logits(&model, codec, &items, &cfg)? {
                out.push(features(&row, &basis));
            }
            bar.inc(chunk.len() as u64);
        }
        bar.finish_and_clear();
        Ok(out)
    };
    // `hidden`: the label position's hidden states, recovered from the basis logits; the
    // probe's weights are then output rows, and the penalty is on their size
    let hidden = args.probe_space == "hidden";
    let (x, vx) = (feats(train, "training")?, feats(validation, "validation")?);
    let (x, vx) = if hidden {
        let rows_b = model.output_rows(&basis)?;
        (hidden_states(&rows_b, &x)?, hidden_states(&rows_b, &vx)?)
    } else {
        (x, vx)
    };
    let gold: Vec<usize> = train.iter().map(|e| e.grade.index()).collect();
    let vgold: Vec<usize> = validation.iter().map(|e| e.grade.index()).collect();
    let mut log = StepWriter::create(dir)?;
    let mut best: Option<(f64, taosr1::probe::Probe, String)> = None;
    let mut step = 0;
    for balanced in [false, true] {
        for l2 in [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0] {
            let cfg = ProbeConfig::new()
                .with_l2(l2)
                .with_balanced(balanced)
                .with_whiten(!hidden);
            let probe = fit(&x, &gold, 4, &cfg)?;
            let dists = vx
                .iter()
                .map(|v| {
                    taosr1_partition::grade_distribution(&probe.logits(v), &[0, 1, 2, 3])
                        .map_err(|e| Error::Input(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let argmax: Vec<usize> = dists.iter().map(|d| d.argmax()).collect();
            let score: Vec<f32> = dists
                .iter()
                .map(GradeDistribution::expected_grade)
                .collect();
            let cut = fit_cuts(&score, &vgold)?.grades_of_scores(&score)?;
            let err = |e: taosr1_partition::PartitionError| Error::Input(e.to_string());
            let f_cuts = macro_f1(&cut, &vgold, 4).map_err(err)?;
            let f_argmax = macro_f1(&argmax, &vgold, 4).map_err(err)?;
            let train_acc = accuracy(&probe.predict(&x), &gold).map_err(err)?;
            log.line(serde_json::json!({
                "step": step, "l2": l2, "balanced": balanced, "train_ce": probe.train_loss,
                "train_accuracy": train_acc, "val_macro_f1_argmax": f_argmax,
                "val_macro_f1_cuts": f_cuts,
            }))?;
            step += 1;
            let name = format!("l2 {l2:e}{}", if balanced { ", balanced" } else { "" });
            if best.as_ref().is_none_or(|b| f_cuts > b.0) {
                best = Some((f_cuts, probe, name));
            }
        }
    }
    log.finish()?;
    let Some((f, probe, name)) = best else {
        unreachable!("twelve candidates were fitted")
    };
    let model = if hidden {
        model.with_output_rows(codec.grade_ids(), &probe.weights)?
    } else {
        apply(model, codec.grade_ids(), &basis, &probe)?
    };
    Ok((
        model,
        format!(
            "{} rows of {} queries, {} basis logits, fitted on {}; {name} (validation macro-F1 {f:.3} with cuts)",
            train.len(),
            query_groups(train).len(),
            basis.len(),
            if hidden { "hidden states" } else { "whitened logits" }
        ),
    ))
}

fn bar(len: usize, label: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{label} {{bar:40}} {{pos}}/{{len}} {{elapsed}} (eta {{eta}}) {{msg}}"
        ))
        .expect("valid template"),
    );
    bar
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    taosr1_model::write_atomic(path, text.as_bytes()).map_err(|e| Error::io(path, e))
}

/// A JSON file read into `T`; errors name the file.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Input(format!("{}: {e}", path.display())))
}

/// `value` as pretty JSON, written atomically; errors name the file.
fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Input(format!("{}: {e}", path.display())))?;
    write(path, &text)
}

/// Deletes `path` if it is there.
fn remove_if_present(path: &Path) -> Result<(), Error> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    }
}

/// Appends one JSON line per step to `steps.jsonl` (created fresh for the stage). A trainer's
/// step callback cannot return an error, so the first failure (a validation check or a
/// write) is kept, later steps are not logged, and [`StepWriter::finish`] returns it.
struct StepWriter {
    file: std::io::BufWriter<std::fs::File>,
    path: PathBuf,
    failed: Option<Error>,
}

impl StepWriter {
    fn create(dir: &Path) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join("steps.jsonl");
        let file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
        Ok(Self {
            file: std::io::BufWriter::new(file),
            path,
            failed: None,
        })
    }

    /// Log step `step` of `total`: `line`, with the validator's check merged in when due.
    fn step(
        &mut self,
        mut line: serde_json::Value,
        (step, total): (usize, usize),
        validator: &Validator,
        model: &Transformer,
        codec: &Codec,
    ) {
        if self.failed.is_some() {
            return;
        }
        let logged = validator
            .check(step, total, model, codec, &mut line)
            .and_then(|()| self.line(line));
        if let Err(e) = logged {
            self.failed = Some(e);
        }
    }

    /// Log one line as it is (a stage without a trainer's callback).
    fn line(&mut self, line: serde_json::Value) -> Result<(), Error> {
        writeln!(self.file, "{line}")
            .and_then(|_| self.file.flush())
            .map_err(|e| Error::io(&self.path, e))
    }

    /// The first failure of the stage's logging, if any.
    fn finish(self) -> Result<(), Error> {
        self.failed.map_or(Ok(()), Err)
    }
}

/// Lexical overlap: the share of the query's words (lower-cased, alphanumeric) found in the
/// title; three thresholds fitted on validation for macro-F1 over a grid of quantiles.
fn overlap(e: &Example) -> f32 {
    let words = |s: &str| -> Vec<String> {
        s.to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    let q = words(&e.query);
    let t: std::collections::HashSet<String> = words(&e.product.title).into_iter().collect();
    if q.is_empty() {
        return 0.0;
    }
    q.iter().filter(|w| t.contains(*w)).count() as f32 / q.len() as f32
}

/// Three cuts on `scores` that maximise macro-F1 against `gold` ([`ScoreCuts::fit`]).
fn fit_cuts(scores: &[f32], gold: &[usize]) -> Result<ScoreCuts, Error> {
    Ok(ScoreCuts::fit(scores, gold, 4, Metric::MacroF1)?.cuts)
}

/// `a b c`, two decimals each.
fn show_cuts(cuts: &ScoreCuts) -> String {
    let shown: Vec<String> = cuts.as_slice().iter().map(|c| format!("{c:.2}")).collect();
    shown.join(" ")
}

/// Records the prompt settings in `OUT/prompt.json`, or checks them against the record, so
/// that a resumed run never scores stages made with different prompts side by side: when the
/// settings change, every finished stage in the folder must be recomputed now (`--force` and
/// named in `--stages`). A folder with finished stages and no record predates
/// `--prompt-evidence`: its prompts had none.
fn check_prompt_record(args: &Args, wanted: &[&str]) -> Result<(), Error> {
    let path = args.out.join("prompt.json");
    let want = serde_json::json!({ "evidence": args.prompt_evidence });
    let finished: Vec<&str> = STAGES
        .iter()
        .copied()
        .filter(|s| {
            let dir = args.out.join(s);
            dir.join(EVAL_FILE).is_file() || dir.join(TRAINED_FILE).is_file()
        })
        .collect();
    let had = match std::fs::read_to_string(&path) {
        Ok(text) => Some(
            serde_json::from_str::<serde_json::Value>(&text).map_err(|e| {
                Error::Input(format!("{}: not a prompt record: {e}", path.display()))
            })?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            (!finished.is_empty()).then(|| serde_json::json!({ "evidence": false }))
        }
        Err(e) => return Err(Error::io(&path, e)),
    };
    if let Some(had) = had.filter(|had| *had != want) {
        let kept: Vec<&str> = finished
            .iter()
            .copied()
            .filter(|s| !(args.force && wanted.contains(s)))
            .collect();
        if !kept.is_empty() {
            return Err(Error::Input(format!(
                "{}: stages {} were made with prompt settings {had}, not {want}; use another \
                 --out, or recompute them all with --force",
                args.out.display(),
                kept.join(", ")
            )));
        }
        // every finished stage is about to be recomputed: until it is, it is not finished, so
        // a run stopped half way never resumes an old-prompt stage under the new record
        for s in finished {
            for file in [EVAL_FILE, TRAINED_FILE] {
                remove_if_present(&args.out.join(s).join(file))?;
            }
        }
    }
    write(&path, &want.to_string())
}

fn load_base(args: &Args, template: &Template) -> Result<real::Adapted, Error> {
    let p = taosr1_model::load_pretrained(&args.model, &backend::train_device())?;
    let tok = if args.model.is_file() {
        TaoTokenizer::from_gguf(&args.model)?
    } else {
        TaoTokenizer::from_pretrained(&args.model)?
    };
    real::adapt(p.model, p.config, tok, template.clone())
}

fn run(args: &Args) -> Result<(), Error> {
    let wanted: Vec<&str> = args.stages.split(',').map(str::trim).collect();
    if let Some(bad) = wanted.iter().find(|s| !STAGES.contains(s)) {
        return Err(Error::Input(format!(
            "--stages: unknown stage {bad:?} (expected some of {})",
            STAGES.join(", ")
        )));
    }
    if !["logits", "hidden"].contains(&args.probe_space.as_str()) {
        return Err(Error::Input(format!(
            "--probe-space: {:?} is neither logits nor hidden",
            args.probe_space
        )));
    }
    let sft_loss = match args.sft_loss.as_str() {
        "response" => LossTokens::Response,
        "grade" => LossTokens::Grade,
        "grade-among-grades" => LossTokens::GradeAmongGrades,
        "grade-distribution" => LossTokens::GradeDistribution,
        other => {
            return Err(Error::Input(format!(
                "--sft-loss: {other:?} is none of response, grade, grade-among-grades, \
                 grade-distribution"
            )))
        }
    };
    if !(0.0..=1.0).contains(&args.soft_alpha) {
        return Err(Error::Input(format!(
            "--soft-alpha: {} is outside [0, 1]",
            args.soft_alpha
        )));
    }
    if args.sft_from == "label-probe"
        && wanted.contains(&"label-probe")
        && args.probe_space != "hidden"
    {
        return Err(Error::Input(
            "--sft-from label-probe needs --probe-space hidden: a probe fitted on whitened \
             logits has output rows ~100x the size of other tokens' rows, and SFT from it \
             starts at a loss of 150 (docs/RESULTS.md)"
                .into(),
        ));
    }
    // the checkpoint the SFT stages start from (None: the adapted base)
    let sft_init: Option<PathBuf> = match args.sft_from.as_str() {
        "base" => None,
        "label-probe"
            if wanted.contains(&"label-probe") || args.out.join("label-probe/model").is_dir() =>
        {
            Some(args.out.join("label-probe/model"))
        }
        dir if Path::new(dir).join("config.json").is_file() => Some(PathBuf::from(dir)),
        other => {
            return Err(Error::Input(format!(
                "--sft-from: {other:?} is neither base, nor label-probe (run in this or an \
                 earlier run into the same --out), nor a checkpoint folder with a config.json"
            )))
        }
    };
    let deploy: Vec<&str> = match args.deploy.as_str() {
        "auto" => STAGES
            .iter()
            .copied()
            .filter(|s| wanted.contains(s))
            .collect(),
        named if wanted.contains(&named) => vec![named],
        named => {
            return Err(Error::Input(format!(
                "--deploy: {named:?} is not one of this run's stages ({}) nor auto",
                wanted.join(", ")
            )))
        }
    };
    // settled before any work, so that a refused resume costs nothing
    std::fs::create_dir_all(&args.out).map_err(|e| Error::io(&args.out, e))?;
    check_prompt_record(args, &wanted)?;
    println!("backend: {}", backend::name());
    let scale = GradeScale::default();
    let read = read_csv(&args.data, &ColumnSpec::home_depot(), &scale, false)?;
    let brands = brand_lexicon(read.examples.iter().map(|e| e.product.title.as_str()), 5);
    let split = split_by_query(read.examples, 0.8, 0.1)?;
    // the analyser that annotates prompts; its settings go next to the deployed checkpoint
    let evidence = PromptEvidence {
        brands: brands.into_iter().collect(),
    };
    let mut teacher = evidence.teacher(scale.clone());
    let annotate = |rows: Vec<Example>| -> Vec<Example> {
        if !args.prompt_evidence {
            return rows;
        }
        rows.into_iter()
            .map(|e| Example {
                product: teacher.annotate(&e.item()).product,
                ..e
            })
            .collect()
    };
    let probe_rows = if wanted.contains(&"label-probe") {
        annotate(first_queries(args, split.train.clone(), args.probe_queries))
    } else {
        Vec::new()
    };
    let train_rows = annotate(queries(
        args,
        split.train,
        args.train_skip_queries,
        args.train_queries,
    ));
    let validation = annotate(first_queries(
        args,
        split.validation,
        args.validation_queries,
    ));
    let test = annotate(first_queries(args, split.test, args.test_queries));
    if let Some(e) = test.first().filter(|_| args.prompt_evidence) {
        let checks = e
            .product
            .attributes
            .get(EVIDENCE_ATTRIBUTE)
            .map_or("(nothing to report)", String::as_str);
        println!(
            "prompt evidence on every row, e.g. {:?} / {:?}: {EVIDENCE_ATTRIBUTE}: {checks}",
            e.query, e.product.title
        );
    }
    println!(
        "data: {} ({} rows skipped); train {} rows of {} queries, validation {} rows, test {} rows of {} queries",
        args.data.display(),
        read.rejected.len(),
        train_rows.len(),
        query_groups(&train_rows).len(),
        validation.len(),
        test.len(),
        query_groups(&test).len()
    );
    // rationales from the rule teacher; a rejected one leaves the row with its label only
    let batch: Vec<_> = train_rows.iter().map(|e| (e.item(), e.grade)).collect();
    let verdicts = teacher.write_batch(&batch)?;
    let mut kept = 0;
    let cot: Vec<Example> = train_rows
        .iter()
        .zip(&verdicts)
        .map(|(e, v)| {
            let mut e = e.clone();
            e.rationale = v.rationale().map(str::to_string).unwrap_or_default();
            kept += usize::from(!e.rationale.is_empty());
            e
        })
        .collect();
    let labels_only: Vec<Example> = train_rows
        .iter()
        .map(|e| Example {
            rationale: String::new(),
            ..e.clone()
        })
        .collect();
    println!(
        "rule teacher: {kept} of {} training rows have a kept rationale",
        cot.len()
    );

    let mut table: Vec<StageEval> = Vec::new();
    // baselines on the same test rows
    let majority = {
        let mut counts = [0usize; 4];
        for e in &train_rows {
            counts[e.grade.index()] += 1;
        }
        let m = (0..4).max_by_key(|&g| counts[g]).unwrap_or(0);
        let pred = vec![m; test.len()];
        let score = vec![0.0; test.len()];
        let mut s = metrics(
            "majority (train)",
            &test,
            &pred,
            &score,
            args.resamples,
            args.seed,
        )?;
        s.note = "NDCG of a constant score is the input order's".into();
        s
    };
    table.push(majority);
    let vgold: Vec<usize> = validation.iter().map(|e| e.grade.index()).collect();
    let vscore: Vec<f32> = validation.iter().map(overlap).collect();
    let cuts = fit_cuts(&vscore, &vgold)?;
    let s: Vec<f32> = test.iter().map(overlap).collect();
    let pred = cuts.grades_of_scores(&s)?;
    let mut lex = metrics(
        "lexical overlap",
        &test,
        &pred,
        &s,
        args.resamples,
        args.seed,
    )?;
    lex.note = format!("cuts {} fitted on validation", show_cuts(&cuts));
    table.push(lex);

    let template = Template::default().with_style(TextStyle::Verbatim);
    let infer_device = backend::device();
    let validator = Validator {
        rows: &validation[..validation.len().min(args.val_rows)],
        every: args.val_every,
        batch: args.eval_batch,
    };
    for stage in STAGES.iter().filter(|s| wanted.contains(s)) {
        let dir = args.out.join(stage);
        let eval_path = dir.join(EVAL_FILE);
        if eval_path.is_file() && !args.force {
            let old: StageEval = read_json(&eval_path)?;
            let scored = dir.join(PREDICTIONS_FILE);
            let (_, _, ids) = read_predictions(&scored)?;
            if same_rows(&ids, &test) {
                println!(
                    "{stage}: done before ({}), not recomputed",
                    eval_path.display()
                );
                table.push(old);
                continue;
            }
            // other test rows than the stage was scored on (e.g. --test-queries changed):
            // the trained model is kept and scored on this run's rows
            println!(
                "{stage}: finished before; its {} scored test rows are not this run's {}, so \
                 its model is scored on them",
                ids.len(),
                test.len()
            );
            let trained = Trained {
                train_seconds: old.train_seconds,
                note: old.note,
            };
            table.push(score_trained(args, stage, &template, &test, trained)?);
            continue;
        }
        let trained_path = dir.join(TRAINED_FILE);
        if trained_path.is_file() && !args.force {
            // trained and saved, but stopped before its test scores were written
            let trained: Trained = read_json(&trained_path)?;
            println!(
                "{stage}: trained before ({}), so its saved model is scored, not retrained",
                trained_path.display()
            );
            table.push(score_trained(args, stage, &template, &test, trained)?);
            continue;
        }
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        // the deployment choice's cached validation scores belong to the old model, and the
        // old model is not a trained stage any more once its folder is being rewritten
        remove_if_present(&dir.join(VALIDATION_FILE))?;
        remove_if_present(&trained_path)?;
        let started = Instant::now();
        let (model, codec, note) = match *stage {
            "zero-shot" => {
                let a = load_base(args, &template)?;
                let note = format!("{} tokens added", a.added.len());
                (a.model, a.codec, note)
            }
            "label-probe" => {
                let a = load_base(args, &template)?;
                let rows = beta_rows(args, &validation);
                let (model, note) = label_probe(
                    args,
                    a.model.valid(),
                    &a.codec,
                    &a.added,
                    &probe_rows,
                    rows,
                    &dir,
                )?;
                real::save_as(
                    &dir.join("model"),
                    &model,
                    &ModelConfig {
                        tie_word_embeddings: model.is_tied(),
                        ..a.config.clone()
                    },
                    &a.codec,
                    &args.model,
                    args.save_dtype,
                )?;
                (model, a.codec, note)
            }
            "sft-labels" | "sft-cot" => {
                // LP-FT: `--sft-from label-probe` starts from the probe's fitted read-out;
                // `--sft-from DIR` from a checkpoint an earlier run wrote
                let mut a = if let Some(init) = &sft_init {
                    let (model, config, codec) = real::load(init, &backend::train_device())?;
                    real::Adapted {
                        model,
                        config,
                        codec,
                        added: Vec::new(),
                    }
                } else {
                    load_base(args, &template)?
                };
                // frozen embeddings would freeze a tied head with them: untie it
                if args.frozen_layers > 0 && a.model.is_tied() {
                    a.model = a.model.with_output_rows(&[], &[])?;
                    a.config.tie_word_embeddings = false;
                }
                let data = if *stage == "sft-labels" {
                    &labels_only
                } else {
                    &cot
                };
                let mut encoded = a.codec.encode_all(data)?;
                if sft_loss == LossTokens::GradeDistribution {
                    let rated: Vec<_> = data.iter().map(|e| (e.score, e.grade)).collect();
                    let targets =
                        rating_targets(&rated, a.codec.grade_ids().len(), args.soft_alpha)?;
                    for (e, t) in encoded.iter_mut().zip(targets) {
                        e.target = t;
                    }
                }
                let cfg = SftConfig::new()
                    .with_epochs(args.epochs)
                    .with_max_steps(args.max_steps)
                    .with_time_limit_secs(args.max_train_minutes.map(|m| m * 60.0))
                    .with_batch_size(args.batch_size)
                    .with_seed(args.seed)
                    .with_frozen_layers(args.frozen_layers)
                    .with_share_prompt_prefix(SHARE_PREFIX)
                    .with_loss_tokens(sft_loss)
                    .with_class_balanced(args.class_balanced)
                    .with_optimizer(
                        OptimizerConfig::new()
                            .with_learning_rate(args.lr)
                            .with_weight_decay(0.01)
                            .with_warmup_steps(Some(10)),
                    );
                validator.precheck(&a.model, &a.codec)?;
                let mut log = StepWriter::create(&dir)?;
                let steps = (encoded.len().div_ceil(args.batch_size) * args.epochs)
                    .min(args.max_steps.unwrap_or(usize::MAX));
                let bar = bar(steps, &format!("{stage}: training"));
                let (model, report) = train(a.model, &a.codec, &encoded, &cfg, |s, model| {
                    bar.set_position(s.step as u64 + 1);
                    bar.set_message(format!("loss {:.4}", s.loss));
                    let line = serde_json::json!({"step": s.step, "loss": s.loss, "lr": s.lr});
                    log.step(line, (s.step, s.total), &validator, model, &a.codec);
                })?;
                bar.finish_and_clear();
                log.finish()?;
                real::save_as(
                    &dir.join("model"),
                    &model,
                    &a.config,
                    &a.codec,
                    &args.model,
                    args.save_dtype,
                )?;
                let note = format!(
                    "{}{}{}{}{} rows, {} of {steps} steps{}, loss {:.3} -> {:.3}",
                    match args.sft_from.as_str() {
                        "base" => String::new(),
                        from => format!("from {from}; "),
                    },
                    if args.frozen_layers > 0 {
                        format!(
                            "blocks 0..{} of {} frozen; ",
                            args.frozen_layers,
                            model.num_layers()
                        )
                    } else {
                        String::new()
                    },
                    match sft_loss {
                        LossTokens::Response => String::new(),
                        LossTokens::Grade => "grade-token loss; ".into(),
                        LossTokens::GradeAmongGrades => "loss among the grades; ".into(),
                        LossTokens::GradeDistribution => format!(
                            "loss among the grades against rating targets (alpha {}); ",
                            args.soft_alpha
                        ),
                    },
                    if args.class_balanced {
                        "class-balanced; "
                    } else {
                        ""
                    },
                    encoded.len(),
                    report.losses.len(),
                    if report.stopped_by_time {
                        " (stopped by --max-train-minutes)"
                    } else {
                        ""
                    },
                    report.head_mean(10),
                    report.tail_mean(10)
                );
                (model, a.codec, note)
            }
            "dpo" | "grpo" => {
                let from = if *stage == "dpo" { "sft-cot" } else { "dpo" };
                let init = args.out.join(from).join("model");
                let (model, _, codec) = real::load(&init, &backend::train_device())?;
                validator.precheck(&model, &codec)?;
                let rollout = RolloutConfig::new()
                    .with_max_new_tokens(args.max_new_tokens)
                    .with_temperature(1.0);
                let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
                let mut log = StepWriter::create(&dir)?;
                let (model, note) = if *stage == "dpo" {
                    let run = DpoRun::new()
                        .with_prompts(args.dpo_prompts)
                        .with_n(args.dpo_n)
                        .with_rollout(rollout)
                        .with_epochs(1)
                        .with_batch_size(8)
                        .with_share_prompt_prefix(SHARE_PREFIX);
                    let bar = bar(0, "dpo: training");
                    let (model, rep) = run_dpo(model, &codec, &cot, &run, &mut rng, |l, model| {
                        let (step, total) = (l.metrics.step, l.total);
                        bar.set_length(total as u64);
                        bar.set_position(step as u64 + 1);
                        let line = serde_json::to_value(l.metrics).unwrap_or_default();
                        log.step(line, (step, total), &validator, model, &codec);
                    })?;
                    bar.finish_and_clear();
                    let note = format!(
                        "pass@1 {:.3}, pass@{} {:.3}; {} mixed prompts, {} all-wrong with gold chosen",
                        rep.pass_at_1,
                        args.dpo_n,
                        rep.pass_at_n,
                        rep.pair_stats.mixed,
                        rep.pair_stats.all_wrong_gold
                    );
                    (model, note)
                } else {
                    let trainer = GrpoTrainerConfig::new(
                        DynamicSamplingConfig::new(args.grpo_group, args.grpo_prompts)
                            .with_max_prompts(Some(args.grpo_prompts * 16)),
                    )
                    .with_optimizer(OptimizerConfig::new().with_learning_rate(args.lr / 5.0));
                    let run = GrpoRun::new()
                        .with_steps(args.grpo_steps)
                        .with_rollout(rollout)
                        .with_class_balanced(true)
                        .with_trainer(trainer)
                        .with_share_prompt_prefix(SHARE_PREFIX);
                    let bar = bar(args.grpo_steps, "grpo: training");
                    let (model, rep) =
                        run_grpo(model, &codec, &cot, &run, &mut rng, |l, model| {
                            bar.inc(1);
                            let line = serde_json::to_value(l.metrics).unwrap_or_default();
                            log.step(line, (l.metrics.step, l.total), &validator, model, &codec);
                        })?;
                    bar.finish_and_clear();
                    let s = rep.sampling;
                    let note = format!(
                        "{} prompts seen, {} all-correct and {} all-wrong dropped",
                        s.prompts_seen, s.dropped_all_correct, s.dropped_all_wrong
                    );
                    (model, note)
                };
                log.finish()?;
                let config = ModelConfig::from_json_file(&init.join("config.json"))?;
                real::save_as(
                    &dir.join("model"),
                    &model,
                    &config,
                    &codec,
                    &init,
                    args.save_dtype,
                )?;
                (model, codec, note)
            }
            _ => unreachable!("stages were checked"),
        };
        let train_seconds = started.elapsed().as_secs_f64();
        let trained = Trained {
            train_seconds,
            note: note.clone(),
        };
        write_json(&trained_path, &trained)?;
        // the test rows score the checkpoint as stored, as the validation rows that choose the
        // deployed stage and its cuts do: with --save-dtype bf16 that is the rounded model
        let (model, codec) = if args.save_dtype == StorageDtype::F32 || *stage == "zero-shot" {
            (model.valid().to_device(&infer_device), codec)
        } else {
            drop(model);
            stage_model(args, stage, &template)?
        };
        let mut e = evaluate(&model, &codec, &test, args, stage, &dir)?;
        e.train_seconds = train_seconds;
        e.note = note;
        save_eval(&eval_path, &e)?;
        table.push(e);
    }
    let mut extra = String::new();
    if !deploy.is_empty() {
        let shown = args.prompt_evidence.then_some(&evidence);
        let (row, text) = deployment(args, &deploy, &template, &validation, &test, shown)?;
        table.push(row);
        extra = text;
    }
    let mut md = "| stage | macro-F1 [95% CI] | accuracy [95% CI] | NDCG@10 [95% CI] | train s | ms/item | note |\n|---|---|---|---|---|---|---|\n".to_string();
    for e in &table {
        md += &format!(
            "| {} | {} | {} | {} | {:.0} | {:.1} | {} |\n",
            e.name,
            e.macro_f1,
            e.accuracy,
            e.ndcg_at_10,
            e.train_seconds,
            e.eval_ms_per_item,
            e.note
        );
    }
    md += &format!(
        "\n{} test rows of {} queries; intervals: {} bootstrap resamples over queries.\n",
        test.len(),
        query_groups(&test).len(),
        args.resamples
    );
    md += &extra;
    write(&args.out.join("staircase.md"), &md)?;
    println!("\n{md}");
    Ok(())
}

/// Read a stage's `steps.jsonl` field as `(step, value)` points.
fn curve(dir: &Path, field: &str) -> Result<Vec<(f64, f64)>, Error> {
    let path = dir.join("steps.jsonl");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(Vec::new());
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .filter_map(|(i, l)| {
            let v: serde_json::Value = match serde_json::from_str(l) {
                Ok(v) => v,
                Err(e) => {
                    return Some(Err(Error::Input(format!(
                        "{}:{}: {e}",
                        path.display(),
                        i + 1
                    ))))
                }
            };
            v[field].as_f64().map(|y| Ok((i as f64, y)))
        })
        .collect()
}

/// One JSON line per row: its id, gold grade index, grade probabilities and expected grade
/// (`predictions.jsonl`, and the deployment choice's `validation.jsonl`).
fn predictions_text(rows: &[Example], dists: &[taosr1_partition::GradeDistribution]) -> String {
    rows.iter()
        .zip(dists)
        .map(|(e, d)| prediction_line(&e.id, e.grade.index(), d))
        .collect()
}

/// One line of [`predictions_text`], newline included.
fn prediction_line(id: &str, gold: usize, d: &taosr1_partition::GradeDistribution) -> String {
    let line = serde_json::json!({
        "id": id, "gold": gold, "probs": d.probs(), "score": d.expected_grade(),
    });
    format!("{line}\n")
}

/// Predictions back from a file [`predictions_text`] wrote: distributions, gold grades, ids.
type Predictions = (
    Vec<taosr1_partition::GradeDistribution>,
    Vec<usize>,
    Vec<String>,
);

fn read_predictions(path: &Path) -> Result<Predictions, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut dists = Vec::new();
    let mut gold = Vec::new();
    let mut ids = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = |field: &str, e: &dyn std::fmt::Display| {
            Error::Input(format!("{}:{}: {field}: {e}", path.display(), i + 1))
        };
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| at("line", &e))?;
        let probs: Vec<f32> =
            serde_json::from_value(v["probs"].clone()).map_err(|e| at("probs", &e))?;
        dists.push(
            taosr1_partition::GradeDistribution::new(probs, 1e-3).map_err(|e| at("probs", &e))?,
        );
        let g = v["gold"]
            .as_u64()
            .filter(|&g| g < 4)
            .ok_or_else(|| at("gold", &"not a grade index 0..4"))?;
        gold.push(g as usize);
        let id = v["id"].as_str().ok_or_else(|| at("id", &"not a string"))?;
        ids.push(id.to_string());
    }
    Ok((dists, gold, ids))
}

/// Writes a stage's test metrics to its `eval.json` and prints them.
fn save_eval(path: &Path, e: &StageEval) -> Result<(), Error> {
    write_json(path, e)?;
    println!(
        "{}: macro-F1 {} accuracy {} NDCG@10 {} ({:.0} s, {:.1} ms/item; {})",
        e.name, e.macro_f1, e.accuracy, e.ndcg_at_10, e.train_seconds, e.eval_ms_per_item, e.note
    );
    Ok(())
}

/// Whether `ids` are the ids of `rows`, in order.
fn same_rows(ids: &[String], rows: &[Example]) -> bool {
    ids.len() == rows.len() && ids.iter().zip(rows).all(|(id, e)| *id == e.id)
}

/// Scores a stage's saved model on this run's test rows and writes its `EVAL_FILE`, keeping
/// the training time and note it was trained with.
fn score_trained(
    args: &Args,
    stage: &str,
    template: &Template,
    test: &[Example],
    trained: Trained,
) -> Result<StageEval, Error> {
    let dir = args.out.join(stage);
    let (model, codec) = stage_model(args, stage, template)?;
    let mut e = evaluate(&model, &codec, test, args, stage, &dir)?;
    e.train_seconds = trained.train_seconds;
    e.note = trained.note;
    save_eval(&dir.join(EVAL_FILE), &e)?;
    Ok(e)
}

/// A finished stage's model for scoring: the adapted base for `zero-shot`, otherwise the
/// checkpoint the stage saved.
fn stage_model(
    args: &Args,
    stage: &str,
    template: &Template,
) -> Result<(Transformer, Codec), Error> {
    if stage == "zero-shot" {
        let a = load_base(args, template)?;
        return Ok((a.model.valid(), a.codec));
    }
    let (m, _, c) = real::load(&args.out.join(stage).join("model"), &backend::device())?;
    Ok((m, c))
}

/// A stage's grade distributions on the deployment choice's validation rows, reusing
/// `STAGE/validation.jsonl` by id: the rows scored there before are read back, whatever
/// their order, and only the others are scored. When anything was scored the file is
/// rewritten with all of `rows`, then the cached rows not asked for, so no scored row is lost.
/// So `--validation-queries` and `--beta-rows` can grow or shrink between runs and only rows
/// never scored are scored. A stage that is recomputed deletes the file first, so a resumed
/// run rescores only what changed.
fn validation_scores(
    args: &Args,
    stage: &str,
    template: &Template,
    rows: &[Example],
) -> Result<Vec<taosr1_partition::GradeDistribution>, Error> {
    let path = args.out.join(stage).join(VALIDATION_FILE);
    let mut slots: Vec<Option<taosr1_partition::GradeDistribution>> = vec![None; rows.len()];
    let mut not_asked = String::new();
    if path.is_file() {
        let (stored, gold, ids) = read_predictions(&path)?;
        let at: HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(k, id)| (id.as_str(), k))
            .collect();
        for (slot, e) in slots.iter_mut().zip(rows) {
            *slot = at.get(e.id.as_str()).map(|&k| stored[k].clone());
        }
        let asked: HashSet<&str> = rows.iter().map(|e| e.id.as_str()).collect();
        for (k, id) in ids.iter().enumerate() {
            if !asked.contains(id.as_str()) {
                not_asked += &prediction_line(id, gold[k], &stored[k]);
            }
        }
    }
    let missing: Vec<usize> = (0..rows.len()).filter(|&i| slots[i].is_none()).collect();
    let kept = rows.len() - missing.len();
    if missing.is_empty() {
        println!("{stage}: validation scores reused ({})", path.display());
    } else {
        if kept > 0 {
            println!(
                "{stage}: {kept} validation scores reused ({}), {} to score",
                path.display(),
                missing.len()
            );
        }
        let rest: Vec<Example> = missing.iter().map(|&i| rows[i].clone()).collect();
        let bar = bar(rest.len(), &format!("{stage}: scoring validation"));
        let (model, codec) = stage_model(args, stage, template)?;
        let scored = score_rows(&model, &codec, &rest, args.eval_batch)?;
        bar.finish_and_clear();
        for (&i, d) in missing.iter().zip(scored) {
            slots[i] = Some(d);
        }
    }
    let dists: Vec<taosr1_partition::GradeDistribution> = slots.into_iter().flatten().collect();
    if !missing.is_empty() {
        write(&path, &(predictions_text(rows, &dists) + &not_asked))?;
    }
    Ok(dists)
}

/// The deployment view, post-CoT style (label first, one prefill per item):
/// * each candidate stage scores the `--beta-rows` validation rows; three cuts on its
///   expected grade are fitted there for macro-F1 (the same kind of decision rule the lexical
///   baseline gets), and the stage with the best validation macro-F1 is deployed;
/// * the **deployed row**: that stage's test predictions graded by its cuts, with bootstrap
///   intervals;
/// * CumPT's β fitted on the same validation rows, applied to the test rows as tiers;
/// * plots: training loss and validation accuracy per stage, GRPO's curves, a reliability
///   diagram of the test probabilities, tier macro-F1 against β.
///
/// Returns the deployed row and the markdown that follows the table in staircase.md.
fn deployment(
    args: &Args,
    candidates: &[&str],
    template: &Template,
    validation: &[Example],
    test: &[Example],
    evidence: Option<&PromptEvidence>,
) -> Result<(StageEval, String), Error> {
    use taosr1::cli::{CUMPT_FILE, CUTS_FILE};
    use taosr1::plots::{line_chart, reliability, reliability_diagram, Series};
    use taosr1_partition::{fit_beta, TierMap};
    let perr = |e: taosr1_partition::PartitionError| Error::Input(e.to_string());
    let rows = beta_rows(args, validation);
    let vgold: Vec<usize> = rows.iter().map(|e| e.grade.index()).collect();
    let mut out = format!(
        "\nDeployment choice on {} validation rows (macro-F1):\n\n| stage | argmax grade | expected grade, fitted cuts |\n|---|---|---|\n",
        rows.len()
    );
    let mut best: Option<(
        f64,
        &str,
        Vec<taosr1_partition::GradeDistribution>,
        ScoreCuts,
    )> = None;
    for &stage in candidates {
        let vdists = validation_scores(args, stage, template, rows)?;
        let argmax: Vec<usize> = vdists.iter().map(|d| d.argmax()).collect();
        let f_argmax = macro_f1(&argmax, &vgold, 4).map_err(perr)?;
        let vscore: Vec<f32> = vdists
            .iter()
            .map(GradeDistribution::expected_grade)
            .collect();
        let cuts = fit_cuts(&vscore, &vgold)?;
        let cut = cuts.grades_of_scores(&vscore)?;
        let f_cuts = macro_f1(&cut, &vgold, 4).map_err(perr)?;
        out += &format!("| {stage} | {f_argmax:.3} | {f_cuts:.3} |\n");
        if best.as_ref().is_none_or(|b| f_cuts > b.0) {
            best = Some((f_cuts, stage, vdists, cuts));
        }
    }
    let Some((_, last, vdists, cuts)) = best else {
        return Err(Error::Input("no stage to deploy".into()));
    };
    out += &format!("\nDeployed: {last}.\n");
    let last_dir = args.out.join(last);
    let (dists, gold, _) = read_predictions(&last_dir.join(PREDICTIONS_FILE))?;
    if gold.len() != test.len() {
        return Err(Error::Input(format!(
            "{}: {} predictions for {} test rows (rerun {last} with --force)",
            last_dir.join(PREDICTIONS_FILE).display(),
            gold.len(),
            test.len()
        )));
    }
    let stage: StageEval = read_json(&last_dir.join(EVAL_FILE))?;
    // the deployed row: the chosen stage's expected-grade cuts on the test rows
    let score: Vec<f32> = dists
        .iter()
        .map(GradeDistribution::expected_grade)
        .collect();
    let pred = cuts.grades_of_scores(&score)?;
    let mut row = metrics(
        &format!("post-CoT deployment ({last}, fitted cuts)"),
        test,
        &pred,
        &score,
        args.resamples,
        args.seed,
    )?;
    row.eval_ms_per_item = stage.eval_ms_per_item;
    row.note = format!(
        "grade = expected grade cut at {}, fitted on {} validation rows",
        show_cuts(&cuts),
        rows.len()
    );
    // CumPT
    let map = TierMap::default_for(4).map_err(perr)?;
    let fit = fit_beta(&vdists, &vgold, map.clone()).map_err(perr)?;
    let cumpt = &fit.cumpt;
    let tiers: Vec<usize> = dists
        .iter()
        .map(|d| cumpt.tier(d))
        .collect::<Result<_, _>>()
        .map_err(perr)?;
    let tgold: Vec<usize> = gold
        .iter()
        .map(|&g| map.tier_of_grade(g))
        .collect::<Result<_, _>>()
        .map_err(perr)?;
    let tier_f1 = macro_f1(&tiers, &tgold, map.num_tiers()).map_err(perr)?;
    let argmax: Vec<usize> = dists
        .iter()
        .map(|d| map.tier_of_grade(d.argmax()))
        .collect::<Result<_, _>>()
        .map_err(perr)?;
    let argmax_f1 = macro_f1(&argmax, &tgold, map.num_tiers()).map_err(perr)?;
    out += &format!(
        "\nCumPT ({last}): beta {:.3} fitted on {} validation rows (tier macro-F1 {:.3} there, {:.3} at 0.5); on the test rows tier macro-F1 {:.3} against {:.3} for argmax grade -> tier.\n",
        cumpt.beta(),
        rows.len(),
        fit.tier_macro_f1,
        fit.tier_macro_f1_at_half,
        tier_f1,
        argmax_f1
    );
    // the deployed rule next to the checkpoint, where `serve --model` finds it
    let model_dir = last_dir.join("model");
    let serving = if model_dir.join("config.json").is_file() {
        model_dir
    } else {
        last_dir.clone()
    };
    cuts.save(serving.join(CUTS_FILE))?;
    cumpt.save(serving.join(CUMPT_FILE))?;
    let evidence_path = serving.join(real::EVIDENCE_FILE);
    match evidence {
        Some(e) => e.save(&serving)?,
        None => remove_if_present(&evidence_path)?,
    }
    out += &format!(
        "\nServing files: {dir}/{CUTS_FILE} (these cuts), {dir}/{CUMPT_FILE} (this beta){}; {}.\n",
        if evidence.is_some() {
            format!(
                " and {}/{} (the prompts' rule checks)",
                serving.display(),
                real::EVIDENCE_FILE
            )
        } else {
            String::new()
        },
        if serving == last_dir {
            "this stage has no checkpoint folder of its own".to_string()
        } else {
            format!(
                "`serve --model {}` grades and tiers with them",
                serving.display()
            )
        },
        dir = serving.display(),
    );
    let plots = args.out.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| Error::io(&plots, e))?;
    if taosr1::plots::find_font().is_none() {
        out += "\nNo font for plots (set TAOSR1_FONT); none drawn.\n";
        return Ok((row, out));
    }
    // per-stage curves from steps.jsonl
    let trained = ["sft-labels", "sft-cot", "dpo", "grpo"];
    let per_stage = |field: &str| -> Result<Vec<Series>, Error> {
        let mut v = Vec::new();
        for stage in trained {
            let points = curve(&args.out.join(stage), field)?;
            if !points.is_empty() {
                v.push(Series {
                    name: stage.into(),
                    points,
                });
            }
        }
        Ok(v)
    };
    let losses = per_stage("loss")?;
    if !losses.is_empty() {
        line_chart(
            &plots.join("training_loss.png"),
            "Training loss per stage",
            "step",
            "loss",
            &losses,
        )?;
        out += "\n![training loss](plots/training_loss.png)\n";
    }
    let val = per_stage("val_accuracy")?;
    if !val.is_empty() {
        line_chart(
            &plots.join("validation_accuracy.png"),
            &format!(
                "Accuracy on {} validation rows during training",
                validation.len().min(args.val_rows)
            ),
            "step",
            "accuracy",
            &val,
        )?;
        out += "![validation accuracy](plots/validation_accuracy.png)\n";
    }
    let grpo = args.out.join("grpo");
    let rl: Vec<Series> = ["reward_mean", "reward_std", "kl", "correct_fraction"]
        .iter()
        .map(|f| {
            Ok(Series {
                name: (*f).into(),
                points: curve(&grpo, f)?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?
        .into_iter()
        .filter(|s| !s.points.is_empty())
        .collect();
    if !rl.is_empty() {
        line_chart(&plots.join("grpo.png"), "GRPO", "step", "value", &rl)?;
        out += "![GRPO](plots/grpo.png)\n";
    }
    let conf: Vec<f32> = dists.iter().map(|d| d.probs()[d.argmax()]).collect();
    let right: Vec<bool> = dists
        .iter()
        .zip(&gold)
        .map(|(d, &g)| d.argmax() == g)
        .collect();
    let (bins, ece) = reliability(&conf, &right, 10)?;
    reliability_diagram(
        &plots.join("reliability.png"),
        &format!("{last}, test"),
        &bins,
        ece,
    )?;
    out += &format!("![reliability](plots/reliability.png)\n\n{last}: expected calibration error {ece:.3} on the test rows.\n");
    let points = fit.curve.iter().map(|&(b, f)| (f64::from(b), f)).collect();
    line_chart(
        &plots.join("cumpt_beta.png"),
        &format!(
            "CumPT tier macro-F1 against beta ({last}, {} validation rows)",
            rows.len()
        ),
        "beta",
        "tier macro-F1",
        &[Series {
            name: "validation".into(),
            points,
        }],
    )?;
    out += "![CumPT beta](plots/cumpt_beta.png)\n";
    Ok((row, out))
}
