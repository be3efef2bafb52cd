//! Reward functions over generated chain-of-thought text for TaoSR1 (arXiv 2508.12365).
//!
//! The RL stages (pass@N DPO and GRPO) score each sampled response
//! (label-first `<answer> LABEL </answer> <think> … </think>` by default, or
//! think-first: see `taosr1_cot::ResponseOrder`) against the gold relevance grade. This crate
//! provides the terms and a weighted composite:
//!
//! * **correctness** ([`Correctness`]): [`Correctness::Exact`] (1 if the grade matches, else 0)
//!   or [`Correctness::Ordinal`] (`1 - |pred - gold| / (K - 1)`: partial credit by distance);
//! * **format** ([`FormatScoring`]): 1 for a well-formed response (thinking present and
//!   closed, exactly one final answer), with an optional documented partial credit;
//! * **length** ([`LengthPenalty`]): 0 up to a token budget, then linearly down to -1 at a
//!   hard cap.
//!
//! A [`CompositeReward`] combines weighted terms and returns a [`RewardBreakdown`] with every
//! term and `total = Σ weight · value`. Its [`Strictness`] decides what happens to malformed
//! output: [`Strictness::Strict`] rejects it with [`RewardError::Unparseable`];
//! [`Strictness::Lenient`] repairs it with the lenient parser of `taosr1-cot` and, when no grade
//! can be recovered at all, uses the documented [`UnparseableReward`] values (0 by default).
//! [`is_correct`] and [`CompositeReward::is_correct`] are the yes/no checks used by pass@N
//! sampling and dynamic sampling.
//!
//! # Example
//!
//! ```
//! use taosr1_cot::GradeScale;
//! use taosr1_rewards::{CompositeReward, Correctness, FormatScoring, RewardTerm};
//!
//! let reward = CompositeReward::builder()
//!     .term(1.0, RewardTerm::Correctness(Correctness::Ordinal))
//!     .term(0.2, RewardTerm::Format(FormatScoring::Binary))
//!     .build()?;
//! let gold = GradeScale::default().parse("L4")?;
//! let b = reward.score("<answer> L3 </answer> <think> category match . brand match . </think>", gold)?;
//! // 1 · (1 - 1/3) + 0.2 · 1
//! assert!((b.total - (2.0 / 3.0 + 0.2)).abs() < 1e-6);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod composite;
mod error;
mod terms;

pub use composite::{
    is_correct, CompositeReward, CompositeRewardBuilder, ParseStatus, RewardBreakdown, RewardTerm,
    Strictness, TermValue, UnparseableReward,
};
pub use error::RewardError;
pub use terms::{count_tokens, Correctness, FormatScoring, LengthPenalty};
