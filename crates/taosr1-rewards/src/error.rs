//! The crate's error type.

use taosr1_cot::ParseError;

/// Everything that can go wrong when building or evaluating a reward.
///
/// `#[non_exhaustive]`: match with a wildcard arm.
///
/// ```
/// use taosr1_cot::{Template, GradeScale};
/// use taosr1_rewards::{CompositeReward, Correctness, RewardError, RewardTerm, Strictness};
///
/// let reward = CompositeReward::builder()
///     .term(1.0, RewardTerm::Correctness(Correctness::Exact))
///     .strictness(Strictness::Strict)
///     .build()?;
/// let gold = GradeScale::default().parse("L3").unwrap();
/// let err = reward.score("L3", gold).unwrap_err();
/// assert!(matches!(err, RewardError::Unparseable { .. }));
/// # Ok::<(), RewardError>(())
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RewardError {
    /// The generated text does not parse (strictly, under [`crate::Strictness::Strict`]).
    #[error("generated text does not parse: {reason}")]
    Unparseable {
        /// Why the parser rejected it.
        #[source]
        reason: ParseError,
    },
    /// A grade's index is not on the scale being scored against.
    #[error("{which} grade index {index} is out of range for {num_grades} grades")]
    GradeOutOfRange {
        /// `"gold"` or `"predicted"`.
        which: &'static str,
        /// The offending grade index.
        index: usize,
        /// Number of grades on the scale.
        num_grades: usize,
    },
    /// The number of grades was below 2.
    #[error("need at least 2 grades, got {num_grades}")]
    TooFewGrades {
        /// The offending grade count.
        num_grades: usize,
    },
    /// A term weight was NaN or infinite.
    #[error("weight of term {index} is not finite: {weight}")]
    InvalidWeight {
        /// Position of the term.
        index: usize,
        /// The offending weight.
        weight: f32,
    },
    /// A composite reward was built without any term.
    #[error("a composite reward needs at least one term")]
    NoTerms,
    /// A length penalty's budget was not below its hard cap.
    #[error("length budget {budget} must be below the hard cap {hard_cap}")]
    InvalidLengthPenalty {
        /// Tokens allowed before the penalty starts.
        budget: usize,
        /// Token count at which the penalty reaches -1.
        hard_cap: usize,
    },
    /// A reward given to unparseable output was NaN or infinite.
    #[error("unparseable {which} reward is not finite: {value}")]
    InvalidUnparseableReward {
        /// `"correctness"` or `"format"`.
        which: &'static str,
        /// The offending value.
        value: f32,
    },
}
