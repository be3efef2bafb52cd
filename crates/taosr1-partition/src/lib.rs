//! TaoSR1 deployment step: turn the grade-token probabilities read at the answer position into
//! a stable grade and a continuous ranking score.
//!
//! TaoSR1 (arXiv 2508.12365) lets the model think first (`<think> … </think>`) and only then
//! answer with one grade token (`L1` worst … `L4` best). Sampling that single token, or taking
//! its argmax, is unstable when the model hesitates between neighbouring grades. The paper's
//! remedy is *cumulative-probability partitioning*: read the full distribution over the grade
//! tokens at the answer slot and decide with thresholds on the "at least grade k" probabilities.
//!
//! The pipeline, all on 0-based grade indices (0 = worst) and plain slices:
//!
//! 1. **Post-CoT renormalisation** — [`grade_distribution`] takes the full-vocabulary logits at
//!    the answer position and the grade token ids, and applies a numerically stable softmax over
//!    the grade tokens only, giving a validated [`GradeDistribution`].
//! 2. **Cumulative partition** — [`GradeDistribution::cumulative`] gives
//!    `c[k] = P(grade >= k)`; a [`Partitioner`] with [`Thresholds`] `t_k` picks the largest `k`
//!    with `c[k] >= t_k` (see [`Thresholds::grade_for`]), and [`GradeDistribution::score`] gives
//!    a continuous relevance score `Σ_{k>=1} c[k] / (K-1)` in `[0, 1]`. Both are monotone: moving
//!    probability mass up the scale never lowers them.
//! 3. **Fitting** — [`fit_thresholds`] tunes the thresholds on a labelled validation set for
//!    [`Metric::Accuracy`] or [`Metric::MacroF1`]; thresholds round-trip through JSON
//!    ([`Thresholds::save`] / [`Thresholds::load`]).
//!    [`ScoreCuts`] are the other decision rule: cuts on the expected grade
//!    ([`GradeDistribution::expected_grade`]), fitted exhaustively for a metric by
//!    [`ScoreCuts::fit_expected_grade`]; a [`Partitioner`] applies either ([`Rule`]).
//! 4. **Evaluation** — the [`metrics`] module: accuracy, macro F1, confusion matrix, NDCG.
//! 5. **CumPT tiers** — [`CumPt`] maps a distribution to ordered online tiers ([`TierMap`],
//!    default L4, L3 → Good, L2 → Mid, L1 → Bad) with one threshold β on the cumulative
//!    probabilities from the best grade down; [`fit_beta`] tunes β for tier macro-F1.
//!
//! # Why renormalisation lives here and not in `taosr1-cot`
//!
//! `taosr1-cot` owns the *text* side of the answer slot: rendering the response template,
//! forcing generation into the answer slot and parsing what the model wrote. Renormalising the
//! grade-token probabilities is purely *numeric* work on a logit vector: it needs no template,
//! tokenizer or tensor backend, and is the first step of the partition computation that
//! follows it. Keeping it here leaves this crate dependency-free (no other workspace crate,
//! no `burn`), so any serving backend that can hand over a `&[f32]` of logits can use it.
//!
//! # Example
//!
//! ```
//! use taosr1_partition::{grade_distribution, Partitioner};
//!
//! // Logits over a toy vocabulary; tokens 4..8 are L1..L4.
//! let logits = [3.0, -1.0, 0.5, 2.0, -2.0, 0.0, 1.2, 1.0];
//! let dist = grade_distribution(&logits, &[4, 5, 6, 7])?;
//! let p = Partitioner::default_for(4)?.partition(&dist)?;
//! assert_eq!(p.grade, 2); // the median grade (L3)
//! assert!(p.score > 0.5 && p.score < 1.0);
//! # Ok::<(), taosr1_partition::PartitionError>(())
//! ```
#![deny(missing_docs)]

mod cumpt;
mod cuts;
mod distribution;
mod error;
mod fit;
pub mod metrics;
mod partition;

pub use cumpt::{fit_beta, BetaFit, CumPt, TierMap};
pub use cuts::{CutsFit, ScoreCuts};
pub use distribution::{grade_distribution, GradeDistribution, DEFAULT_TOLERANCE};
pub use error::PartitionError;
pub use fit::{fit_thresholds, FitConfig, FitReport, Metric};
pub use partition::{Partition, Partitioner, Rule, Thresholds};
