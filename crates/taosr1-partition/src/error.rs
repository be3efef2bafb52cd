//! The crate's single error type.

use std::path::{Path, PathBuf};

/// Everything that can go wrong in this crate.
///
/// Every variant names the offending value (and where it sits) so that a caller can report
/// the problem without re-inspecting its input. The enum is `#[non_exhaustive]`: match it with
/// a wildcard arm.
///
/// ```
/// use taosr1_partition::{GradeDistribution, PartitionError};
///
/// let err = GradeDistribution::new(vec![0.5, 0.2], 1e-4).unwrap_err();
/// assert!(matches!(err, PartitionError::NotNormalized { .. }));
/// assert!(err.to_string().contains("0.7"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PartitionError {
    /// A distribution (or a list of grade tokens) had fewer than two grades.
    #[error("need at least 2 grades, found {found}")]
    TooFewGrades {
        /// How many grades were supplied.
        found: usize,
    },
    /// The same grade token id was listed twice.
    #[error("grade token id {token_id} is listed twice (grades {first} and {second})")]
    DuplicateGradeToken {
        /// The repeated token id.
        token_id: u32,
        /// Grade index of the first occurrence.
        first: usize,
        /// Grade index of the second occurrence.
        second: usize,
    },
    /// A grade token id does not index into the logits slice.
    #[error("grade token id {token_id} (grade {grade}) is out of range for {vocab_size} logits")]
    TokenOutOfRange {
        /// The offending token id.
        token_id: u32,
        /// The grade it was meant to represent.
        grade: usize,
        /// Length of the logits slice.
        vocab_size: usize,
    },
    /// A grade token's logit was NaN or infinite.
    #[error("logit at index {index} (grade {grade}) is not finite: {value}")]
    NonFiniteLogit {
        /// Index into the logits slice (the token id).
        index: usize,
        /// The grade whose token this is.
        grade: usize,
        /// The offending value.
        value: f32,
    },
    /// A probability (or unnormalised weight) was NaN, infinite or negative.
    #[error("probability for grade {index} is invalid: {value} (must be finite and >= 0)")]
    InvalidProbability {
        /// Grade index of the offending entry.
        index: usize,
        /// The offending value.
        value: f32,
    },
    /// Probabilities did not sum to one within the requested tolerance.
    #[error("probabilities sum to {sum}, not 1")]
    NotNormalized {
        /// The actual sum.
        sum: f32,
    },
    /// Unnormalised weights summed to zero, so they cannot be normalised.
    #[error("weights sum to zero; cannot normalise")]
    ZeroMass,
    /// The normalisation tolerance was negative or not finite.
    #[error("tolerance must be finite and >= 0, got {tolerance}")]
    InvalidTolerance {
        /// The offending tolerance.
        tolerance: f32,
    },
    /// A grade-to-tier map is inconsistent (a better grade in a worse tier, an unused or
    /// unnamed tier, a tier index out of range).
    #[error("invalid tier map: {0}")]
    InvalidTierMap(String),
    /// A CumPT threshold β was NaN or outside `[0, 1]`.
    #[error("CumPT threshold beta is {value}, must lie in [0, 1]")]
    InvalidBeta {
        /// The offending value.
        value: f32,
    },
    /// A threshold was NaN or outside `[0, 1]`.
    #[error("threshold t_{grade} (position {index}) is {value}, must lie in [0, 1]")]
    InvalidThreshold {
        /// Position in the threshold vector (0-based).
        index: usize,
        /// The grade `k = index + 1` the threshold guards.
        grade: usize,
        /// The offending value.
        value: f32,
    },
    /// Two objects disagree on the number of grades.
    #[error("grade count mismatch: expected {expected} grades, found {found}")]
    GradeCountMismatch {
        /// Number of grades the receiver was built for.
        expected: usize,
        /// Number of grades actually supplied.
        found: usize,
    },
    /// One element of a batch has a different number of grades than the first element.
    #[error("element {index} has {found} grades, but element 0 has {expected}")]
    InconsistentGradeCount {
        /// Position of the offending element.
        index: usize,
        /// Grade count of element 0.
        expected: usize,
        /// Grade count of the offending element.
        found: usize,
    },
    /// An input that must be non-empty was empty.
    #[error("{what} is empty")]
    EmptyInput {
        /// Which input was empty.
        what: &'static str,
    },
    /// Two inputs that must have the same length did not.
    #[error("length mismatch: {what} ({left} vs {right})")]
    LengthMismatch {
        /// Which inputs were compared, e.g. `"predictions vs gold"`.
        what: &'static str,
        /// Length of the first input.
        left: usize,
        /// Length of the second input.
        right: usize,
    },
    /// A label (grade index) was `>=` the number of grades.
    #[error("{what}[{index}] = {label} is out of range for {num_grades} grades")]
    LabelOutOfRange {
        /// Which input held the label, e.g. `"gold"` or `"predictions"`.
        what: &'static str,
        /// Position of the offending label.
        index: usize,
        /// The offending label.
        label: usize,
        /// Number of grades.
        num_grades: usize,
    },
    /// A ranking score was NaN.
    #[error("score at index {index} is NaN")]
    NanScore {
        /// Position of the offending score.
        index: usize,
    },
    /// A score to cut was NaN or infinite.
    #[error("score at index {index} is {value}, not a finite number")]
    NonFiniteScore {
        /// Position of the offending score.
        index: usize,
        /// The offending score.
        value: f32,
    },
    /// A cut of [`ScoreCuts`](crate::ScoreCuts) was not finite or fell below the one before.
    #[error("cut {index} is {value}: it {reason}")]
    InvalidCut {
        /// Position of the offending cut.
        index: usize,
        /// The offending cut.
        value: f32,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A relevance gain was too large for the exponential gain `2^g - 1` to stay exact.
    #[error("gain at index {index} is {gain}, above the maximum {max}")]
    GainTooLarge {
        /// Position of the offending gain.
        index: usize,
        /// The offending gain.
        gain: usize,
        /// The largest supported gain.
        max: usize,
    },
    /// A bootstrap setting was out of range (no resamples, or a level outside (0, 1)).
    #[error("bootstrap: {reason}")]
    InvalidBootstrap {
        /// What was wrong.
        reason: String,
    },
    /// The NDCG cutoff was zero.
    #[error("NDCG cutoff must be at least 1, got {k}")]
    InvalidCutoff {
        /// The offending cutoff.
        k: usize,
    },
    /// Reading or writing a thresholds file failed.
    #[error("I/O error on {}: {source}", .path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Thresholds JSON was malformed.
    #[error("invalid thresholds JSON{}: {source}", describe_path(.path.as_deref()))]
    Json {
        /// The file the JSON came from, if any.
        path: Option<PathBuf>,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
    /// A thresholds file parsed but its content failed validation.
    #[error("invalid thresholds in {}: {source}", .path.display())]
    InvalidThresholdsFile {
        /// The file involved.
        path: PathBuf,
        /// What was wrong with its content.
        #[source]
        source: Box<PartitionError>,
    },
}

fn describe_path(path: Option<&Path>) -> String {
    match path {
        Some(p) => format!(" in {}", p.display()),
        None => String::new(),
    }
}
