//! # taosr1-grpo
//!
//! Stage 3 of TaoSR1 (arXiv 2508.12365): reinforcement learning of the relevance "thinking
//! model" with **GRPO** and **difficulty-based dynamic sampling**, on top of
//! [burn](https://burn.dev). The crate knows nothing about a concrete model: it works on
//! log-probability tensors and on any model implementing [`Policy`].
//!
//! [`GrpoTrainer`] runs the whole loop for any [`Policy`] with your rollout and reward
//! functions, owning the frozen reference, the optimizer ([`OptimizerConfig`]: AdamW,
//! gradient clipping, warm-up + cosine; shared with `taosr1-dpo` and the SFT of the root
//! crate) and per-step [`GrpoMetrics`]. The pieces it is made of, in the order a training loop
//! uses them:
//!
//! 1. [`DynamicSampler::fill`] pulls prompts, asks your rollout function for `G` scored
//!    responses per prompt and keeps only groups that are neither all-correct nor all-wrong,
//!    until the batch holds `target_groups` groups;
//! 2. [`group_advantages`] / [`SampledBatch::advantages`] turn each group's rewards into
//!    group-relative advantages `(r - mean) / (std + eps)`;
//! 3. [`TokenBatch::from_sequences`] packs prompt + response token ids with a response mask;
//! 4. [`grpo_loss`] computes the clipped surrogate with a k3 KL penalty to the reference
//!    policy; [`PolicyState::update`] (or [`grpo_step`]) backpropagates and steps AdamW.
//!
//! ```
//! use taosr1_grpo::{group_advantages_batched, DynamicSampler, DynamicSamplingConfig, Rollout};
//!
//! let mut sampler = DynamicSampler::new(DynamicSamplingConfig::new(2, 1)).unwrap();
//! let batch = sampler
//!     .fill(["easy", "medium"], |p: &&str, n| {
//!         let solved = |i: usize| *p == "easy" || i == 0;
//!         Ok::<_, String>((0..n).map(|i| Rollout::new(i, solved(i) as u8 as f32, solved(i))).collect())
//!     })
//!     .unwrap();
//! assert_eq!(batch.groups[0].prompt, "medium");
//! assert_eq!(batch.stats.dropped_all_correct, 1);
//! let rewards: Vec<f32> = batch.groups.iter().flat_map(|g| g.rewards()).collect();
//! assert_eq!(group_advantages_batched(&rewards, 2, 0.0).unwrap(), vec![1.0, -1.0]);
//! ```
#![deny(missing_docs)]

mod advantage;
mod balance;
mod error;
mod loss;
mod optim;
mod policy;
mod sampling;
mod state;
mod trainer;

/// burn, re-exported: the public API takes burn tensors, modules and devices, so use this
/// one to be sure of a matching version.
pub use burn;

pub use advantage::{group_advantages, group_advantages_batched};
pub use balance::class_balanced;
pub use error::{BoxError, GrpoError};
pub use loss::{grpo_loss, GrpoConfig, GrpoLoss, GrpoStats, Normalization};
pub use optim::OptimizerConfig;
pub use policy::{grpo_step, token_logprobs_from_logits, Policy, TokenBatch};
pub use sampling::{
    DynamicSampler, DynamicSamplingConfig, DynamicSamplingStats, Rollout, SampledBatch,
    SampledGroup, SolvedCriterion,
};
pub use state::PolicyState;
pub use trainer::{Completion, GrpoMetrics, GrpoTrainer, GrpoTrainerConfig, Reward};
