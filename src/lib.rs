#![deny(missing_docs)]
//! # taosr1
//!
//! The TaoSR1 pipeline composed from the workspace crates: the glue that the examples, benches
//! and end-to-end tests share.
//!
//! - [`codec`]: TaoSR1 text (from `taosr1-cot`) to token ids and padded training batches.
//! - [`sft`]: stage 1, supervised fine-tuning with the loss masked to the response tokens.
//! - [`infer`]: thinking-first inference with the forced answer slot, grade probabilities,
//!   and the cumulative-probability partition of `taosr1-partition`.
//! - [`eval`]: accuracy, macro-F1, NDCG and the majority-class baseline on labelled data.
//! - [`stages`]: stage 2 (pass@N + DPO) and stage 3 (dynamic sampling + GRPO) training loops.
//! - [`assets`]: the shipped tokenizer and data, checkpoints on disk.
//! - [`backend`]: the CPU default and the optional CUDA backend.
//! - [`pipeline`]: the end-to-end runs the examples and tests share.
//! - [`cli`]: argument parsing for the examples.
//! - [`http`]: the HTTP scoring service (`serve --http`): requests from concurrent clients
//!   batched on one worker thread, graceful shutdown.
//! - [`teacher`]: [`teacher::LlmTeacher`], a loaded checkpoint that writes five-step rationales
//!   for labelled data (the `taosr1_cot::teacher::Teacher` trait).

pub mod assets;
pub mod backend;
pub mod cli;
pub mod codec;
mod error;
pub mod eval;
pub mod http;
pub mod infer;
pub mod pipeline;
pub mod plots;
pub mod probe;
pub mod real;
pub mod sft;
pub mod stages;
pub mod teacher;

pub use error::Error;
