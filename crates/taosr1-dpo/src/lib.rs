//! # taosr1-dpo
//!
//! Stage 2 of TaoSR1 (arXiv 2508.12365): **offline pass@N sampling** from the SFT model,
//! **preference-pair construction** and the **DPO / IPO loss** in [burn](https://burn.dev).
//! The crate knows nothing about a concrete model: sampling and scoring are caller
//! closures (or [`ResponseSampler`] impls) and the loss works on log-probability tensors.
//!
//! [`DpoTrainer`] runs the stage for any [`Policy`] (the trait of `taosr1-grpo`): offline
//! pass@N with your sampling and reward functions ([`DpoTrainer::sample_pairs`]), then DPO
//! against the frozen reference ([`DpoTrainer::fit`]), owning the optimizer and per-step
//! [`DpoMetrics`]. The pieces it is made of, in order:
//!
//! 1. [`pass_at_n`] samples `N` responses per prompt and scores them (`reward`, `correct`);
//!    [`pass_at_k`] / [`mean_pass_at_k`] report the unbiased pass@k estimate;
//! 2. [`build_pairs`] turns each prompt's samples into (chosen = correct,
//!    rejected = incorrect) pairs, hardest negative first, per a [`PairPolicy`];
//! 3. [`sequence_logprob`] sums per-token log-probabilities over the response mask, and
//!    [`dpo_loss`] computes the DPO (sigmoid, optional label smoothing) or IPO loss against
//!    a frozen reference model.
//!
//! ```
//! use taosr1_dpo::{build_pairs, pass_at_n, PairPolicy};
//!
//! let prompts = ["L2", "L4"]; // here a prompt is just its gold grade
//! let mut sampler = |_: &&str, n: usize| {
//!     Ok::<_, String>((0..n).map(|i| format!("L{}", 1 + i % 4)).collect())
//! };
//! let scorer = |gold: &&str, r: &str| Ok::<_, String>((f32::from(u8::from(r == *gold)), r == *gold));
//! let groups = pass_at_n(&prompts, 4, &mut sampler, scorer).unwrap();
//! let (pairs, stats) = build_pairs(&groups, &PairPolicy::default());
//! assert_eq!(stats.mixed, 2);
//! assert_eq!(pairs[0].chosen, "L2");
//! ```
#![deny(missing_docs)]

mod error;
mod loss;
mod pairs;
mod sampling;
mod trainer;

/// burn, re-exported: the public API takes burn tensors, modules and devices.
pub use burn;
/// The policy abstraction, token batches and the optimizer helper the trainer shares with
/// GRPO.
pub use taosr1_grpo::{Completion, OptimizerConfig, Policy, PolicyState, Reward, TokenBatch};

pub use error::{BoxError, DpoError};
pub use loss::{dpo_loss, sequence_logprob, DpoConfig, DpoLoss, DpoLossKind, DpoStats};
pub use pairs::{
    build_pairs, AllWrongPolicy, PairPolicy, PairSelection, PairStats, PreferencePair,
};
pub use sampling::{
    mean_pass_at_k, pass_at_k, pass_at_n, ResponseSampler, ScoredGroup, ScoredSample,
};
pub use trainer::{DpoMetrics, DpoTrainer, DpoTrainerConfig, OfflinePairs, TokenPair};
