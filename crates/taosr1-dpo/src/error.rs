//! The error type shared by every fallible routine of this crate.

use thiserror::Error;

/// A boxed error coming from caller-supplied code (a sampler or a scorer).
///
/// ```
/// let e: taosr1_dpo::BoxError = "decoder failed".into();
/// assert_eq!(e.to_string(), "decoder failed");
/// ```
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in this crate.
///
/// Variants name the offending input. The enum is `#[non_exhaustive]`: new failure modes may
/// be added in minor releases.
///
/// ```
/// use taosr1_dpo::{pass_at_k, DpoError};
///
/// let err = pass_at_k(4, 5, 1).unwrap_err();
/// assert!(matches!(err, DpoError::InvalidCounts { n: 4, c: 5, k: 1, .. }));
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DpoError {
    /// A configuration value or argument is out of its valid range.
    #[error("invalid configuration: `{field}` = {value} ({reason})")]
    InvalidConfig {
        /// Name of the field or argument.
        field: &'static str,
        /// The rejected value, as `f64`.
        value: f64,
        /// What the valid range is.
        reason: &'static str,
    },

    /// The caller's sampler failed.
    #[error("sampling prompt {prompt_index} failed: {source}")]
    Sampler {
        /// Index of the prompt.
        prompt_index: usize,
        /// The caller's error.
        #[source]
        source: BoxError,
    },

    /// The sampler returned the wrong number of responses.
    #[error("sampler returned {actual} responses for prompt {prompt_index}, expected {expected}")]
    SampleCount {
        /// Index of the prompt.
        prompt_index: usize,
        /// The requested `n`.
        expected: usize,
        /// What the sampler returned.
        actual: usize,
    },

    /// The caller's scorer failed.
    #[error("scoring sample {sample_index} of prompt {prompt_index} failed: {source}")]
    Scorer {
        /// Index of the prompt.
        prompt_index: usize,
        /// Index of the sample within its group.
        sample_index: usize,
        /// The caller's error.
        #[source]
        source: BoxError,
    },

    /// The scorer returned a NaN or infinite reward.
    #[error("sample {sample_index} of prompt {prompt_index} has a non-finite reward ({value})")]
    NonFiniteReward {
        /// Index of the prompt.
        prompt_index: usize,
        /// Index of the sample within its group.
        sample_index: usize,
        /// The offending value.
        value: f32,
    },

    /// Invalid arguments to the pass@k estimator.
    #[error("invalid pass@k arguments n = {n}, c = {c}, k = {k}: {reason}")]
    InvalidCounts {
        /// Samples drawn.
        n: usize,
        /// Correct samples.
        c: usize,
        /// The `k` of pass@k.
        k: usize,
        /// What is wrong.
        reason: &'static str,
    },

    /// A collection that must be non-empty was empty.
    #[error("`{name}` is empty")]
    Empty {
        /// Name of the argument.
        name: &'static str,
    },

    /// A tensor did not have the expected shape.
    #[error("shape mismatch for `{name}`: expected {expected:?}, got {actual:?}")]
    ShapeMismatch {
        /// Name of the argument.
        name: &'static str,
        /// Expected dimensions.
        expected: Vec<usize>,
        /// Actual dimensions.
        actual: Vec<usize>,
    },

    /// A computed quantity (the loss) is NaN or infinite; usually NaN or `-inf`
    /// log-probabilities were fed in.
    #[error("{what} is not finite ({value})")]
    NonFinite {
        /// Which quantity.
        what: &'static str,
        /// Its value.
        value: f64,
    },

    /// An error of the shared policy machinery (token batches, optimizer settings, a policy
    /// without parameters).
    #[error(transparent)]
    Grpo(#[from] taosr1_grpo::GrpoError),

    /// A training step failed (e.g. its loss became NaN); the policy keeps the last good
    /// update.
    #[error("DPO step {step}: {source}")]
    Step {
        /// 0-based step that failed.
        step: usize,
        /// What went wrong.
        #[source]
        source: Box<DpoError>,
    },
}
