//! The error type shared by every fallible routine of this crate.

use thiserror::Error;

/// A boxed error coming from caller-supplied code (a rollout function).
///
/// ```
/// let e: taosr1_grpo::BoxError = "model crashed".into();
/// assert_eq!(e.to_string(), "model crashed");
/// ```
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in this crate.
///
/// Every variant names the offending input so that a caller can tell a bad reward from a bad
/// tensor shape without reading the source. The enum is `#[non_exhaustive]`: new failure modes
/// may be added in minor releases.
///
/// ```
/// use taosr1_grpo::{group_advantages, GrpoError};
///
/// let err = group_advantages(&[], 1e-6).unwrap_err();
/// assert!(matches!(err, GrpoError::EmptyGroup));
/// assert_eq!(err.to_string(), "empty reward group: a group needs at least one reward");
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum GrpoError {
    /// A reward group (or a whole batch) was empty.
    #[error("empty reward group: a group needs at least one reward")]
    EmptyGroup,

    /// A reward was NaN or infinite.
    #[error("reward at index {index} is not finite ({value})")]
    NonFiniteReward {
        /// Position of the reward in the slice that was passed in.
        index: usize,
        /// The offending value.
        value: f32,
    },

    /// An advantage was NaN or infinite.
    #[error("advantage at index {index} is not finite ({value})")]
    NonFiniteAdvantage {
        /// Position of the advantage in the batch.
        index: usize,
        /// The offending value.
        value: f32,
    },

    /// A flat reward slice is not a whole number of groups.
    #[error("{len} rewards cannot be split into groups of {group_size}")]
    GroupSizeMismatch {
        /// Number of rewards passed in.
        len: usize,
        /// Requested group size.
        group_size: usize,
    },

    /// A configuration value is out of its valid range.
    #[error("invalid configuration: `{field}` = {value} ({reason})")]
    InvalidConfig {
        /// Name of the configuration field.
        field: &'static str,
        /// The rejected value, as `f64`.
        value: f64,
        /// What the valid range is.
        reason: &'static str,
    },

    /// A tensor did not have the shape the routine expects.
    #[error("shape mismatch for `{name}`: expected {expected:?}, got {actual:?}")]
    ShapeMismatch {
        /// Name of the argument.
        name: &'static str,
        /// Expected dimensions.
        expected: Vec<usize>,
        /// Actual dimensions.
        actual: Vec<usize>,
    },

    /// A batch has zero rows or zero columns.
    #[error("empty batch: `{name}` has shape {shape:?}")]
    EmptyBatch {
        /// Name of the argument.
        name: &'static str,
        /// Its dimensions.
        shape: Vec<usize>,
    },

    /// A mask entry is neither `0.0` nor `1.0`.
    #[error("mask entry [{row}, {col}] is {value}; masks must contain only 0.0 and 1.0")]
    InvalidMask {
        /// Batch row.
        row: usize,
        /// Token column.
        col: usize,
        /// The offending value.
        value: f32,
    },

    /// The mask selects no response token (in the whole batch, or in one sequence when
    /// `sequence` is `Some`).
    #[error("{}", match .sequence {
        Some(row) => format!("mask selects no response token in sequence {row}"),
        None => "mask selects no response token in the batch".to_string(),
    })]
    EmptyMask {
        /// The sequence without response tokens, or `None` when the whole batch has none.
        sequence: Option<usize>,
    },

    /// A token id is outside the vocabulary of the logits it indexes.
    #[error("token id {id} at [{row}, {col}] is outside the vocabulary of size {vocab}")]
    TokenOutOfVocab {
        /// Batch row.
        row: usize,
        /// Token column.
        col: usize,
        /// The offending id.
        id: i64,
        /// Vocabulary size (last logits dimension).
        vocab: usize,
    },

    /// A token sequence cannot form a training example.
    #[error("sequence {index}: {reason}")]
    InvalidSequence {
        /// Index of the sequence.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },

    /// A computed scalar (the loss) is NaN or infinite; usually the log-probabilities fed in
    /// contain NaN or `-inf` on response tokens.
    #[error("{what} is not finite ({value})")]
    NonFinite {
        /// Which quantity.
        what: &'static str,
        /// Its value.
        value: f64,
    },

    /// The caller's rollout function failed.
    #[error("rollout for prompt {prompt_index} failed: {source}")]
    Rollout {
        /// Index of the prompt (position in the iterator passed to `fill`).
        prompt_index: usize,
        /// The caller's error.
        #[source]
        source: BoxError,
    },

    /// The rollout function returned the wrong number of rollouts.
    #[error("rollout for prompt {prompt_index} returned {actual} rollouts, expected {expected}")]
    RolloutCount {
        /// Index of the prompt.
        prompt_index: usize,
        /// The configured group size.
        expected: usize,
        /// What the rollout function returned.
        actual: usize,
    },

    /// A rollout carried a NaN or infinite reward.
    #[error("rollout {rollout_index} of prompt {prompt_index} has a non-finite reward ({value})")]
    NonFiniteRolloutReward {
        /// Index of the prompt.
        prompt_index: usize,
        /// Index of the rollout in its group.
        rollout_index: usize,
        /// The offending value.
        value: f32,
    },

    /// A policy has no parameters: nothing to train, and no device to place batches on.
    #[error("the policy has no parameters to train")]
    NoParameters,
}
