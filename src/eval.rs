//! Evaluation on labelled data: argmax grade vs. cumulative-partition grade.

use serde::Serialize;
use taosr1_cot::{Example, Grade, SlotStatus};
use taosr1_partition::metrics::{accuracy, macro_f1, ndcg_at};
use taosr1_partition::Partitioner;

use crate::infer::Prediction;
use crate::Error;

/// Accuracy of always answering the most frequent grade of `train` on `test`.
///
/// ```
/// use taosr1::eval::majority_baseline;
/// let data = taosr1_cot::synth::generate(&taosr1_cot::synth::SynthConfig { seed: 1, n_examples: 50 });
/// let acc = majority_baseline(&data, &data).unwrap();
/// assert!(acc > 0.0 && acc < 1.0);
/// ```
pub fn majority_baseline(train: &[Example], test: &[Example]) -> Result<f64, Error> {
    if train.is_empty() || test.is_empty() {
        return Err(Error::Input(
            "majority baseline needs non-empty train and test sets".into(),
        ));
    }
    let mut counts = std::collections::BTreeMap::<Grade, usize>::new();
    for e in train {
        *counts.entry(e.grade).or_default() += 1;
    }
    let majority = counts
        .iter()
        .max_by_key(|(g, c)| (**c, std::cmp::Reverse(**g)))
        .map(|(g, _)| *g);
    let hits = test.iter().filter(|e| Some(e.grade) == majority).count();
    Ok(hits as f64 / test.len() as f64)
}

/// Metrics of one decision rule.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleMetrics {
    /// Fraction of exact grades.
    pub accuracy: f64,
    /// Macro-averaged F1 over grades.
    pub macro_f1: f64,
    /// NDCG@10 of the whole set ranked by this rule's score.
    pub ndcg_at_10: f64,
    /// NDCG@100.
    pub ndcg_at_100: f64,
}

/// Argmax vs. cumulative partition on one labelled set.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvalReport {
    /// Items evaluated.
    pub n: usize,
    /// Argmax of the grade distribution (ranking score: the argmax grade).
    pub argmax: RuleMetrics,
    /// Cumulative-probability partition (ranking score: the partition score).
    pub partition: RuleMetrics,
    /// Items whose thinking ran past the budget and had the answer slot forced.
    pub truncated_thinking: usize,
    /// Wall-clock seconds the predictions took (0 when not timed), for latency per item.
    pub predict_seconds: f64,
}

impl EvalReport {
    /// Milliseconds of prediction per item (batched throughput, not single-request latency).
    ///
    /// ```
    /// use taosr1::eval::{EvalReport, RuleMetrics};
    /// let m = RuleMetrics { accuracy: 1.0, macro_f1: 1.0, ndcg_at_10: 1.0, ndcg_at_100: 1.0 };
    /// let r = EvalReport { n: 200, argmax: m.clone(), partition: m, truncated_thinking: 0, predict_seconds: 0.5 };
    /// assert_eq!(r.ms_per_item(), 2.5);
    /// ```
    pub fn ms_per_item(&self) -> f64 {
        1e3 * self.predict_seconds / self.n.max(1) as f64
    }
}

fn rule(pred: &[usize], scores: &[f32], gold: &[usize], k: usize) -> Result<RuleMetrics, Error> {
    Ok(RuleMetrics {
        accuracy: accuracy(pred, gold)?,
        macro_f1: macro_f1(pred, gold, k)?,
        ndcg_at_10: ndcg_at(scores, gold, 10)?,
        ndcg_at_100: ndcg_at(scores, gold, 100)?,
    })
}

/// Evaluate predictions against gold grades.
pub fn evaluate(
    predictions: &[Prediction],
    gold: &[Grade],
    partitioner: &Partitioner,
) -> Result<EvalReport, Error> {
    if predictions.len() != gold.len() || gold.is_empty() {
        return Err(Error::Input(format!(
            "{} predictions for {} gold grades",
            predictions.len(),
            gold.len()
        )));
    }
    let k = partitioner.num_grades();
    let gold: Vec<usize> = gold.iter().map(|g| g.index()).collect();
    let argmax: Vec<usize> = predictions
        .iter()
        .map(|p| p.distribution.argmax())
        .collect();
    let argmax_scores: Vec<f32> = argmax.iter().map(|g| *g as f32).collect();
    let parts = predictions
        .iter()
        .map(|p| partitioner.partition(&p.distribution))
        .collect::<Result<Vec<_>, _>>()?;
    let part_grades: Vec<usize> = parts.iter().map(|p| p.grade).collect();
    let part_scores: Vec<f32> = parts.iter().map(|p| p.score).collect();
    Ok(EvalReport {
        n: gold.len(),
        argmax: rule(&argmax, &argmax_scores, &gold, k)?,
        partition: rule(&part_grades, &part_scores, &gold, k)?,
        truncated_thinking: predictions
            .iter()
            .filter(|p| p.slot == SlotStatus::ThinkingTruncated)
            .count(),
        predict_seconds: 0.0,
    })
}

/// A plain-text table of per-stage results on one labelled set (argmax accuracy and macro-F1,
/// and the change in accuracy against the first row, the baseline).
///
/// ```
/// use taosr1::eval::{stage_table, EvalReport, RuleMetrics};
/// let m = |a| RuleMetrics { accuracy: a, macro_f1: a, ndcg_at_10: 1.0, ndcg_at_100: 1.0 };
/// let r = |a| EvalReport { n: 10, argmax: m(a), partition: m(a), truncated_thinking: 0, predict_seconds: 0.02 };
/// let t = stage_table(&[("SFT", &r(0.5)), ("DPO", &r(0.6))]);
/// assert!(t.contains("DPO") && t.contains("+0.100") && t.contains("2.00"));
/// ```
pub fn stage_table(rows: &[(&str, &EvalReport)]) -> String {
    let mut out = format!(
        "{:<24} {:>6} {:>9} {:>9} {:>10} {:>11} {:>8}\n",
        "stage", "n", "accuracy", "macro-F1", "vs first", "NDCG@100", "ms/item"
    );
    let base = rows.first().map(|(_, r)| r.argmax.accuracy).unwrap_or(0.0);
    for (name, r) in rows {
        out.push_str(&format!(
            "{:<24} {:>6} {:>9.3} {:>9.3} {:>+10.3} {:>11.3} {:>8.2}\n",
            name,
            r.n,
            r.argmax.accuracy,
            r.argmax.macro_f1,
            r.argmax.accuracy - base,
            r.partition.ndcg_at_100,
            r.ms_per_item()
        ));
    }
    out
}

pub use taosr1_cot::adapter::group_by_query;
