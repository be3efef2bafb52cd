//! Relevance grades and grade scales.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::error::CotError;
use crate::tags::is_tag;

/// A relevance grade: a 0-based index into a [`GradeScale`] (0 = worst).
///
/// Grades are ordered worst → best. They are created through a scale
/// ([`GradeScale::grade`], [`GradeScale::parse`], [`Grade::from_index`], …), never from a bare
/// number. Serde writes a grade as its index (the JSONL functions write labels instead).
///
/// ```rust
/// use taosr1_cot::{Grade, GradeScale};
///
/// let scale = GradeScale::default();
/// let l2 = scale.parse("L2")?;
/// assert_eq!(l2.index(), 1);
/// assert!(l2 < scale.best());
/// assert_eq!(Grade::from_index(1, &scale)?, l2);
/// # Ok::<(), taosr1_cot::CotError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Grade(usize);

impl Grade {
    /// The 0-based index of this grade on its scale (0 = worst).
    ///
    /// ```rust
    /// let scale = taosr1_cot::GradeScale::default();
    /// assert_eq!(scale.best().index(), 3);
    /// ```
    pub fn index(self) -> usize {
        self.0
    }

    /// The grade with 0-based `index` on `scale`.
    ///
    /// # Errors
    /// [`CotError::GradeOutOfRange`] if `index >= scale.len()`.
    ///
    /// ```rust
    /// use taosr1_cot::{CotError, Grade, GradeScale};
    ///
    /// let scale = GradeScale::default();
    /// assert_eq!(Grade::from_index(0, &scale)?, scale.worst());
    /// assert!(matches!(
    ///     Grade::from_index(4, &scale),
    ///     Err(CotError::GradeOutOfRange { index: 4, len: 4 })
    /// ));
    /// # Ok::<(), CotError>(())
    /// ```
    pub fn from_index(index: usize, scale: &GradeScale) -> Result<Grade, CotError> {
        scale.grade(index)
    }
}

/// An ordered set of grade labels, worst → best. The default is `L1 L2 L3 L4`.
///
/// Labels are non-empty, contain no whitespace, are unique and are not one of the template tags,
/// so each label is a single token of the model vocabulary. Serde reads and writes a scale as its
/// list of labels and validates it on the way in.
///
/// ```rust
/// use taosr1_cot::GradeScale;
///
/// let scale = GradeScale::new(["bad", "ok", "good"])?;
/// assert_eq!(scale.len(), 3);
/// assert_eq!(scale.label(scale.best()), "good");
/// assert_eq!(GradeScale::default().labels(), ["L1", "L2", "L3", "L4"]);
/// # Ok::<(), taosr1_cot::CotError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct GradeScale {
    labels: Vec<String>,
}

impl Default for GradeScale {
    fn default() -> Self {
        GradeScale {
            labels: ["L1", "L2", "L3", "L4"].map(String::from).to_vec(),
        }
    }
}

impl TryFrom<Vec<String>> for GradeScale {
    type Error = CotError;
    fn try_from(labels: Vec<String>) -> Result<Self, CotError> {
        GradeScale::new(labels)
    }
}

impl From<GradeScale> for Vec<String> {
    fn from(scale: GradeScale) -> Self {
        scale.labels
    }
}

impl GradeScale {
    /// Builds a scale from labels ordered worst → best.
    ///
    /// # Errors
    /// [`CotError::TooFewLabels`] for fewer than two labels, [`CotError::DuplicateLabel`] for a
    /// repeated label, [`CotError::InvalidLabel`] for an empty label, a label containing
    /// whitespace, or a label equal to a template tag such as `<answer>`.
    ///
    /// ```rust
    /// use taosr1_cot::{CotError, GradeScale};
    ///
    /// assert!(GradeScale::new(["irrelevant", "relevant"]).is_ok());
    /// assert!(matches!(GradeScale::new(["a", "a"]), Err(CotError::DuplicateLabel { .. })));
    /// assert!(matches!(GradeScale::new(["a", "b c"]), Err(CotError::InvalidLabel { .. })));
    /// ```
    pub fn new<I, S>(labels: I) -> Result<GradeScale, CotError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let labels: Vec<String> = labels.into_iter().map(Into::into).collect();
        if labels.len() < 2 {
            return Err(CotError::TooFewLabels {
                count: labels.len(),
            });
        }
        let mut seen = HashSet::new();
        for label in &labels {
            if label.is_empty() || label.chars().any(char::is_whitespace) || is_tag(label) {
                return Err(CotError::InvalidLabel {
                    label: label.clone(),
                });
            }
            if !seen.insert(label.as_str()) {
                return Err(CotError::DuplicateLabel {
                    label: label.clone(),
                });
            }
        }
        Ok(GradeScale { labels })
    }

    /// Number of grades on the scale (always at least 2).
    ///
    /// ```rust
    /// assert_eq!(taosr1_cot::GradeScale::default().len(), 4);
    /// ```
    #[allow(clippy::len_without_is_empty)] // a scale is never empty
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// The labels, worst → best.
    ///
    /// ```rust
    /// assert_eq!(taosr1_cot::GradeScale::default().labels()[0], "L1");
    /// ```
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Whether `grade` is a grade of this scale (its index is below [`len`](Self::len)).
    ///
    /// ```rust
    /// use taosr1_cot::GradeScale;
    ///
    /// let big = GradeScale::new(["a", "b", "c", "d", "e"])?;
    /// assert!(!GradeScale::default().contains(big.best()));
    /// # Ok::<(), taosr1_cot::CotError>(())
    /// ```
    pub fn contains(&self, grade: Grade) -> bool {
        grade.0 < self.labels.len()
    }

    /// The label of `grade`.
    ///
    /// A grade made from a different, longer scale has no label here; then this returns
    /// `"<unk>"` rather than panicking (check with [`contains`](Self::contains)).
    ///
    /// ```rust
    /// let scale = taosr1_cot::GradeScale::default();
    /// assert_eq!(scale.label(scale.worst()), "L1");
    /// ```
    pub fn label(&self, grade: Grade) -> &str {
        self.labels.get(grade.0).map_or("<unk>", String::as_str)
    }

    /// The grade with 0-based `index`.
    ///
    /// # Errors
    /// [`CotError::GradeOutOfRange`] if `index >= len()`.
    ///
    /// ```rust
    /// let scale = taosr1_cot::GradeScale::default();
    /// assert_eq!(scale.label(scale.grade(2)?), "L3");
    /// assert!(scale.grade(9).is_err());
    /// # Ok::<(), taosr1_cot::CotError>(())
    /// ```
    pub fn grade(&self, index: usize) -> Result<Grade, CotError> {
        if index < self.labels.len() {
            Ok(Grade(index))
        } else {
            Err(CotError::GradeOutOfRange {
                index,
                len: self.labels.len(),
            })
        }
    }

    /// Parses a label (surrounding whitespace is trimmed; otherwise an exact, case-sensitive match).
    ///
    /// # Errors
    /// [`CotError::UnknownLabel`] naming the (trimmed) label.
    ///
    /// ```rust
    /// use taosr1_cot::{CotError, GradeScale};
    ///
    /// let scale = GradeScale::default();
    /// assert_eq!(scale.parse(" L4\n")?, scale.best());
    /// assert!(matches!(scale.parse("l4"), Err(CotError::UnknownLabel { label }) if label == "l4"));
    /// # Ok::<(), CotError>(())
    /// ```
    pub fn parse(&self, label: &str) -> Result<Grade, CotError> {
        let label = label.trim();
        self.labels
            .iter()
            .position(|l| l == label)
            .map(Grade)
            .ok_or_else(|| CotError::UnknownLabel {
                label: label.to_string(),
            })
    }

    /// All grades, worst → best.
    ///
    /// ```rust
    /// let scale = taosr1_cot::GradeScale::default();
    /// let idx: Vec<usize> = scale.grades().map(|g| g.index()).collect();
    /// assert_eq!(idx, [0, 1, 2, 3]);
    /// ```
    pub fn grades(&self) -> impl ExactSizeIterator<Item = Grade> + DoubleEndedIterator + use<> {
        (0..self.labels.len()).map(Grade)
    }

    /// The worst grade (index 0).
    ///
    /// ```rust
    /// assert_eq!(taosr1_cot::GradeScale::default().worst().index(), 0);
    /// ```
    pub fn worst(&self) -> Grade {
        Grade(0)
    }

    /// The best grade (index `len() - 1`).
    ///
    /// ```rust
    /// let scale = taosr1_cot::GradeScale::default();
    /// assert_eq!(scale.label(scale.best()), "L4");
    /// ```
    pub fn best(&self) -> Grade {
        Grade(self.labels.len().saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_scale_is_l1_to_l4() {
        let s = GradeScale::default();
        assert_eq!(s.labels(), ["L1", "L2", "L3", "L4"]);
        assert_eq!(s, GradeScale::new(["L1", "L2", "L3", "L4"]).unwrap());
        assert_eq!(s.worst().index(), 0);
        assert_eq!(s.best().index(), 3);
        let all: Vec<&str> = s.grades().map(|g| s.label(g)).collect();
        assert_eq!(all, ["L1", "L2", "L3", "L4"]);
        assert_eq!(s.grades().len(), 4);
        assert_eq!(s.grades().next_back(), Some(s.best()));
    }

    #[test]
    fn new_rejects_bad_label_sets() {
        assert!(matches!(
            GradeScale::new(Vec::<String>::new()),
            Err(CotError::TooFewLabels { count: 0 })
        ));
        assert!(matches!(
            GradeScale::new(["x"]),
            Err(CotError::TooFewLabels { count: 1 })
        ));
        assert!(matches!(
            GradeScale::new(["a", "b", "a"]),
            Err(CotError::DuplicateLabel { label }) if label == "a"
        ));
        assert!(matches!(
            GradeScale::new(["a", ""]),
            Err(CotError::InvalidLabel { label }) if label.is_empty()
        ));
        assert!(matches!(
            GradeScale::new(["a", "b\tc"]),
            Err(CotError::InvalidLabel { label }) if label == "b\tc"
        ));
        assert!(matches!(
            GradeScale::new([" a", "b"]),
            Err(CotError::InvalidLabel { label }) if label == " a"
        ));
        assert!(matches!(
            GradeScale::new(["a", "<answer>"]),
            Err(CotError::InvalidLabel { label }) if label == "<answer>"
        ));
    }

    #[test]
    fn parse_and_grade_lookups() {
        let s = GradeScale::new(["bad", "ok", "good"]).unwrap();
        assert_eq!(s.parse("ok").unwrap().index(), 1);
        assert_eq!(s.parse("  good ").unwrap(), s.best());
        assert!(matches!(s.parse("OK"), Err(CotError::UnknownLabel { label }) if label == "OK"));
        assert!(matches!(s.parse(""), Err(CotError::UnknownLabel { label }) if label.is_empty()));
        assert!(matches!(
            s.grade(3),
            Err(CotError::GradeOutOfRange { index: 3, len: 3 })
        ));
        assert_eq!(Grade::from_index(2, &s).unwrap(), s.best());
    }

    #[test]
    fn foreign_grade_label_does_not_panic() {
        let big = GradeScale::new(["a", "b", "c", "d", "e", "f"]).unwrap();
        let small = GradeScale::default();
        let g = big.best();
        assert!(!small.contains(g));
        assert_eq!(small.label(g), "<unk>");
    }

    #[test]
    fn grades_are_ordered_worst_to_best() {
        let s = GradeScale::default();
        let v: Vec<Grade> = s.grades().collect();
        assert!(v.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn serde_round_trips_and_validates() {
        let s = GradeScale::default();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"["L1","L2","L3","L4"]"#);
        assert_eq!(serde_json::from_str::<GradeScale>(&json).unwrap(), s);
        assert!(serde_json::from_str::<GradeScale>(r#"["L1","L1"]"#).is_err());
        let g = s.parse("L3").unwrap();
        assert_eq!(serde_json::to_string(&g).unwrap(), "2");
        assert_eq!(serde_json::from_str::<Grade>("2").unwrap(), g);
    }
}
