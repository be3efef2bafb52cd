//! End-to-end runs shared by the example binaries and the end-to-end tests, so a test exercises
//! exactly the code a user runs.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::Device;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use taosr1_cot::{Example, Grade};
use taosr1_model::{ModelConfig, Transformer};
use taosr1_partition::Partitioner;

use crate::assets::{load_examples, save_checkpoint, DataPaths, Split};
use crate::codec::Codec;
use crate::eval::{evaluate, majority_baseline, EvalReport};
use crate::infer::{predict, InferConfig};
use crate::sft::{train, SftConfig, SftReport, StepLog};
use crate::Error;

/// Settings of an SFT run.
#[derive(Clone, Debug)]
pub struct SftRun {
    /// Optimisation settings.
    pub sft: SftConfig,
    /// Model shape (vocabulary size is taken from the tokenizer).
    pub model: ModelConfig,
    /// Where to write `config.json` + `model.safetensors` (none: don't save).
    pub out_dir: Option<PathBuf>,
    /// Evaluate on at most this many test examples.
    pub eval_limit: usize,
    /// Inference settings of the evaluation.
    pub infer: InferConfig,
    /// Seed of parameter initialisation.
    pub seed: u64,
    /// Where the train and test splits and the tokenizer are read from (default: the
    /// shipped files).
    pub data: DataPaths,
    /// Response order trained and evaluated (default label-first).
    pub order: taosr1_cot::ResponseOrder,
}

impl Default for SftRun {
    fn default() -> Self {
        Self {
            sft: SftConfig::default(),
            model: ModelConfig::tiny(0),
            out_dir: Some(PathBuf::from("runs/sft")),
            eval_limit: usize::MAX,
            infer: InferConfig::default(),
            seed: 42,
            data: DataPaths::default(),
            order: taosr1_cot::ResponseOrder::default(),
        }
    }
}

/// What an SFT run produced.
pub struct SftOutcome {
    /// The fine-tuned model.
    pub model: Transformer,
    /// Its config.
    pub config: ModelConfig,
    /// Loss curve.
    pub report: SftReport,
    /// Test-split evaluation.
    pub eval: EvalReport,
    /// Majority-class accuracy on the same test examples.
    pub majority_baseline: f64,
}

/// The first `limit` examples of the test split at `test`.
///
/// # Errors
/// As [`load_examples`]; [`Error::Input`] naming the file when it (or `limit`) leaves no
/// example.
///
/// ```
/// use taosr1::assets::Split;
/// use taosr1::pipeline::test_examples;
///
/// assert_eq!(test_examples(&Split::Test.path(), 5).unwrap().len(), 5);
/// let err = test_examples(std::path::Path::new("missing/test.jsonl"), 5).unwrap_err();
/// assert!(err.to_string().contains("missing/test.jsonl"), "{err}");
/// ```
pub fn test_examples(test: &Path, limit: usize) -> Result<Vec<Example>, Error> {
    let mut examples = load_examples(test)?;
    examples.truncate(limit);
    if examples.is_empty() {
        return Err(Error::Input(format!(
            "{}: no test examples to evaluate on",
            test.display()
        )));
    }
    Ok(examples)
}

/// Evaluate `model` on labelled `examples` with the given partitioner.
pub fn evaluate_model(
    model: &Transformer,
    codec: &Codec,
    examples: &[Example],
    infer: &InferConfig,
    partitioner: &Partitioner,
) -> Result<EvalReport, Error> {
    let items: Vec<_> = examples.iter().map(Example::item).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let started = std::time::Instant::now();
    let preds = predict(model, codec, &items, infer, &mut rng)?;
    let seconds = started.elapsed().as_secs_f64();
    let gold: Vec<_> = examples.iter().map(|e| e.grade).collect();
    let mut report = evaluate(&preds, &gold, partitioner)?;
    report.predict_seconds = seconds;
    Ok(report)
}

/// Stage 1 end to end: train the tiny model on the train split of `run.data`, save it, and
/// evaluate thinking-first generation on its test split.
///
/// # Errors
/// Data and tokenizer errors name the file at fault (see [`DataPaths`]); an empty train or
/// test split is an [`Error::Input`] naming it.
pub fn run_sft(
    run: &SftRun,
    device: &Device,
    on_step: impl FnMut(&StepLog, &Transformer),
) -> Result<SftOutcome, Error> {
    let codec = run.data.codec()?.with_order(run.order);
    let train_set = run.data.load_nonempty(Split::Train)?;
    let data = codec.encode_all(&train_set)?;
    let mut config = run.model.clone();
    config.vocab_size = codec.tokenizer().vocab_size();
    device.seed(run.seed);
    let model = Transformer::new(&config, device)?;
    let (model, report) = train(model, &codec, &data, &run.sft, on_step)?;
    if let Some(dir) = &run.out_dir {
        save_checkpoint(&model, &config, dir)?;
        crate::assets::save_order(dir, run.order)?;
    }
    let test = test_examples(&run.data.test, run.eval_limit)?;
    let partitioner = Partitioner::default_for(codec.template().scale().len())?;
    let eval = evaluate_model(&model.valid(), &codec, &test, &run.infer, &partitioner)?;
    let majority_baseline = majority_baseline(&train_set, &test)?;
    Ok(SftOutcome {
        model,
        config,
        report,
        eval,
        majority_baseline,
    })
}

/// Evaluate `model` on the first `limit` examples of the test split at `test` with the
/// default (uncalibrated) partitioner and greedy thinking.
pub fn evaluate_on_test(
    model: &Transformer,
    codec: &Codec,
    test: &Path,
    limit: usize,
) -> Result<EvalReport, Error> {
    let test = test_examples(test, limit)?;
    let partitioner = Partitioner::default_for(codec.template().scale().len())?;
    evaluate_model(model, codec, &test, &InferConfig::default(), &partitioner)
}

/// Argmax vs. cumulative partition on the test split, before and after fitting thresholds.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PartitionComparison {
    /// Thresholds fitted on the validation split.
    #[serde(serialize_with = "thresholds_as_list")]
    pub thresholds: taosr1_partition::Thresholds,
    /// Validation metric (macro-F1) with the default thresholds (all 0.5).
    pub validation_before: f64,
    /// Validation metric with the fitted thresholds.
    pub validation_after: f64,
    /// Test split with the default thresholds (the `argmax` part is the argmax rule).
    pub test_default: EvalReport,
    /// Test split with the fitted thresholds.
    pub test_fitted: EvalReport,
    /// CumPT online tiers (default map, e.g. L4, L3 → Good; L2 → Mid; L1 → Bad) with the
    /// single β fitted on the validation split for tier macro-F1.
    pub cumpt: taosr1_partition::CumPt,
    /// Tier macro-F1 on validation at β = 0.5 and at the fitted β.
    pub cumpt_validation: (f64, f64),
    /// Tier accuracy and macro-F1 on the test split for three rules: the argmax grade's
    /// tier, the fitted per-grade thresholds' tier, and CumPT.
    pub test_tiers: TierReport,
}

/// Tier accuracy and macro-F1 of three decision rules on the same predictions.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TierReport {
    /// `(accuracy, macro-F1)` of the argmax grade mapped to its tier.
    pub argmax: (f64, f64),
    /// Of the fitted per-grade thresholds' grade mapped to its tier.
    pub thresholds: (f64, f64),
    /// Of CumPT with the fitted β.
    pub cumpt: (f64, f64),
}

/// Tier `(accuracy, macro-F1)` of predicted grades, or of CumPT tiers, against gold grades.
fn tier_scores(
    map: &taosr1_partition::TierMap,
    pred_tiers: &[usize],
    gold: &[Grade],
) -> Result<(f64, f64), Error> {
    let gold: Vec<usize> = gold
        .iter()
        .map(|g| map.tier_of_grade(g.index()))
        .collect::<Result<_, _>>()?;
    Ok((
        taosr1_partition::metrics::accuracy(pred_tiers, &gold)?,
        taosr1_partition::metrics::macro_f1(pred_tiers, &gold, map.num_tiers())?,
    ))
}

fn thresholds_as_list<S: serde::Serializer>(
    t: &taosr1_partition::Thresholds,
    s: S,
) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(t.as_slice(), s)
}

/// Deployment calibration: predict the first `validation_limit` examples of the validation
/// split of `data` (thinking first), fit partition thresholds that maximise macro-F1
/// ([`taosr1_partition::fit_thresholds`]), and compare argmax with the default and the fitted
/// partition on the first `test_limit` examples of its test split.
pub fn compare_partition(
    model: &Transformer,
    codec: &Codec,
    data: &DataPaths,
    validation_limit: usize,
    test_limit: usize,
    infer: &InferConfig,
) -> Result<PartitionComparison, Error> {
    let mut val = data.load_nonempty(Split::Validation)?;
    val.truncate(validation_limit);
    // Thresholds fitted on a set that lacks a grade say nothing about that grade: refuse
    // before anything is predicted or written.
    let k = codec.template().scale().len();
    let mut counts = vec![0usize; k];
    for e in &val {
        if let Some(c) = counts.get_mut(e.grade.index()) {
            *c += 1;
        }
    }
    if let Some(missing) = counts.iter().position(|&c| c == 0) {
        return Err(Error::Input(format!(
            "{}: the {} validation examples used contain no example of grade {}; thresholds \
             cannot be fitted (use more validation data, e.g. a larger --val)",
            data.validation.display(),
            val.len(),
            codec.template().scale().labels()[missing]
        )));
    }
    let items: Vec<_> = val.iter().map(Example::item).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let preds = predict(model, codec, &items, infer, &mut rng)?;
    let dists: Vec<_> = preds.iter().map(|p| p.distribution.clone()).collect();
    let labels: Vec<usize> = val.iter().map(|e| e.grade.index()).collect();
    let fit = taosr1_partition::fit_thresholds(
        &dists,
        &labels,
        taosr1_partition::Metric::MacroF1,
        taosr1_partition::FitConfig::default(),
    )?;
    let test = test_examples(&data.test, test_limit)?;
    let items: Vec<_> = test.iter().map(Example::item).collect();
    let preds = predict(model, codec, &items, infer, &mut rng)?;
    let gold: Vec<_> = test.iter().map(|e| e.grade).collect();
    let test_default = evaluate(&preds, &gold, &Partitioner::default_for(k)?)?;
    let fitted = Partitioner::new(fit.thresholds.clone());
    let test_fitted = evaluate(&preds, &gold, &fitted)?;
    // CumPT: one β for the online tiers, fitted on the same validation predictions
    let beta =
        taosr1_partition::fit_beta(&dists, &labels, taosr1_partition::TierMap::default_for(k)?)?;
    let map = beta.cumpt.map().clone();
    let test_dists: Vec<_> = preds.iter().map(|p| &p.distribution).collect();
    let argmax_tiers = test_dists
        .iter()
        .map(|d| map.tier_of_grade(d.argmax()))
        .collect::<Result<Vec<_>, _>>()?;
    let threshold_tiers = test_dists
        .iter()
        .map(|d| map.tier_of_grade(fitted.partition(d)?.grade))
        .collect::<Result<Vec<_>, _>>()?;
    let cumpt_tiers = test_dists
        .iter()
        .map(|d| beta.cumpt.tier(d))
        .collect::<Result<Vec<_>, _>>()?;
    let test_tiers = TierReport {
        argmax: tier_scores(&map, &argmax_tiers, &gold)?,
        thresholds: tier_scores(&map, &threshold_tiers, &gold)?,
        cumpt: tier_scores(&map, &cumpt_tiers, &gold)?,
    };
    Ok(PartitionComparison {
        thresholds: fit.thresholds,
        validation_before: fit.before,
        validation_after: fit.after,
        test_default,
        test_fitted,
        cumpt: beta.cumpt,
        cumpt_validation: (beta.tier_macro_f1_at_half, beta.tier_macro_f1),
        test_tiers,
    })
}

impl PartitionComparison {
    /// The comparison as a plain-text table.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{:<28} {:>9} {:>9} {:>9} {:>10}\n",
            "decision rule (test split)", "accuracy", "macro-F1", "NDCG@10", "NDCG@100"
        );
        let rows = [
            ("argmax grade", &self.test_default.argmax),
            ("partition, thresholds 0.5", &self.test_default.partition),
            ("partition, fitted", &self.test_fitted.partition),
        ];
        for (name, m) in rows {
            s.push_str(&format!(
                "{:<28} {:>9.3} {:>9.3} {:>9.3} {:>10.3}\n",
                name, m.accuracy, m.macro_f1, m.ndcg_at_10, m.ndcg_at_100
            ));
        }
        s.push_str(&format!(
            "\n{:<28} {:>9} {:>9}   (tiers {}; CumPT beta {:.3})\n",
            "tier rule (test split)",
            "accuracy",
            "macro-F1",
            self.cumpt.map().names().join("/"),
            self.cumpt.beta()
        ));
        let t = &self.test_tiers;
        for (name, (acc, f1)) in [
            ("argmax grade -> tier", t.argmax),
            ("fitted thresholds -> tier", t.thresholds),
            ("CumPT, one beta", t.cumpt),
        ] {
            s.push_str(&format!("{name:<28} {acc:>9.3} {f1:>9.3}\n"));
        }
        s
    }
}
