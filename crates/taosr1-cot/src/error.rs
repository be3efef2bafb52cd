//! Error types of the crate.

use std::path::PathBuf;

/// Errors from grade scales, JSONL I/O and dataset splitting.
///
/// Errors that come from a line of a JSONL stream carry its 1-based line number; errors from
/// [`load_examples`](crate::load_examples) / [`load_items`](crate::load_items) are wrapped in
/// [`CotError::File`], which names the path.
///
/// ```rust
/// use taosr1_cot::{CotError, GradeScale};
///
/// let err = GradeScale::new(["L1"]).unwrap_err();
/// assert!(matches!(err, CotError::TooFewLabels { count: 1 }));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CotError {
    /// A grade scale was built from fewer than two labels.
    #[error("a grade scale needs at least 2 labels, got {count}")]
    TooFewLabels {
        /// How many labels were given.
        count: usize,
    },
    /// A grade scale was built with the same label twice.
    #[error("duplicate grade label {label:?}")]
    DuplicateLabel {
        /// The repeated label.
        label: String,
    },
    /// A grade label is empty, contains whitespace, or is one of the template tags.
    #[error("invalid grade label {label:?}: labels must be non-empty, contain no whitespace and not be a template tag")]
    InvalidLabel {
        /// The rejected label.
        label: String,
    },
    /// A grade index does not exist on the scale.
    #[error("grade index {index} is out of range for a scale of {len} labels")]
    GradeOutOfRange {
        /// The requested index.
        index: usize,
        /// Number of labels on the scale.
        len: usize,
    },
    /// A label (outside of any file) is not on the scale.
    #[error("unknown grade label {label:?}")]
    UnknownLabel {
        /// The label that was looked up.
        label: String,
    },
    /// A JSONL line names a grade label that is not on the scale.
    #[error("line {line}: unknown grade label {label:?}")]
    UnknownGrade {
        /// 1-based line number.
        line: usize,
        /// The label found on that line.
        label: String,
    },
    /// A JSONL line is not valid JSON for the expected record (or a record failed to serialise).
    #[error("line {line}: invalid JSON record: {source}")]
    Json {
        /// 1-based line number (for writers: 1-based record number).
        line: usize,
        /// The underlying serde_json error.
        source: serde_json::Error,
    },
    /// Reading or writing the underlying stream failed.
    #[error("I/O error: {source}")]
    Io {
        /// The underlying I/O error.
        #[from]
        source: std::io::Error,
    },
    /// An error while reading a file; names the path.
    #[error("{}: {source}", path.display())]
    File {
        /// The file being read.
        path: PathBuf,
        /// What went wrong.
        source: Box<CotError>,
    },
    /// A row of a data file that an [`adapter`](crate::adapter) cannot turn into an example.
    #[error("{}:{line}: {reason}", path.display())]
    Row {
        /// The file.
        path: PathBuf,
        /// 1-based line number (the header is line 1 of a CSV file).
        line: usize,
        /// What is wrong, naming the column.
        reason: String,
    },
    /// A line of an atomic-rules file ([`RuleBook`](crate::rules::RuleBook)) is unusable;
    /// names the file, the 1-based line and the field.
    #[error("{}:{line}: field `{field}`: {reason}", path.display())]
    Rule {
        /// The rules file (`<default rules>` for the shipped one).
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The JSON field at fault (`id`, `text`, `triggers`, `checks`, or `line` for the whole
        /// record).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// An adapter spec is unusable (a column the file lacks, unordered cut points...).
    #[error("invalid data spec: {0}")]
    Spec(String),
    /// A response order other than `label-first` or `think-first`.
    #[error("unknown response order {name:?} (expected label-first or think-first)")]
    UnknownOrder {
        /// The name given.
        name: String,
    },
    /// A text style other than `words` or `verbatim`.
    #[error("unknown text style {name:?} (expected words or verbatim)")]
    UnknownStyle {
        /// The name given.
        name: String,
    },
    /// Invalid fractions for [`synth::split`](crate::synth::split).
    #[error("invalid split fractions: train {train_frac}, validation {val_frac} (each must be in [0, 1] and their sum at most 1)")]
    InvalidSplit {
        /// Requested training fraction.
        train_frac: f64,
        /// Requested validation fraction.
        val_frac: f64,
    },
}

/// Errors from parsing generated (model) text with
/// [`Template::parse_strict`](crate::Template::parse_strict) or
/// [`Template::parse_lenient`](crate::Template::parse_lenient).
///
/// ```rust
/// use taosr1_cot::{ParseError, Template};
///
/// let t = Template::think_first();
/// assert_eq!(t.parse_strict("   "), Err(ParseError::Empty));
/// assert_eq!(
///     t.parse_strict("<think> ok . </think> <answer> L9 </answer>"),
///     Err(ParseError::UnknownGrade { label: "L9".into() })
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The text is empty or whitespace only.
    #[error("empty response")]
    Empty,
    /// No `<think>` where the template's order puts it (at the start for think-first, right
    /// after `</answer>` for label-first).
    #[error("no <think> where the response order puts it")]
    MissingThinking,
    /// `<think>` is never closed by `</think>`.
    #[error("<think> is not closed by </think>")]
    UnclosedThinking,
    /// A tag appears where it is not allowed (e.g. `<answer>` inside the thinking block).
    #[error("misplaced tag {tag}")]
    MisplacedTag {
        /// The misplaced tag.
        tag: String,
    },
    /// No `<answer>` where the template's order puts it (after `</think>` for think-first, at
    /// the start for label-first).
    #[error("no <answer> where the response order puts it")]
    MissingAnswer,
    /// `<answer>` is never closed by `</answer>`.
    #[error("<answer> is not closed by </answer>")]
    UnclosedAnswer,
    /// More than one `<answer>` block.
    #[error("{count} <answer> blocks, expected exactly one")]
    MultipleAnswers {
        /// Number of `<answer>` tags found.
        count: usize,
    },
    /// The answer is not a label of the grade scale.
    #[error("unknown grade label {label:?} in <answer>")]
    UnknownGrade {
        /// The answer text (trimmed).
        label: String,
    },
    /// Unexpected text between or after the blocks.
    #[error("unexpected text {text:?}")]
    TrailingText {
        /// The unexpected text (trimmed).
        text: String,
    },
}
