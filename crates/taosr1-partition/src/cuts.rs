//! Cuts on a scalar score: the expected-grade read-out.
//!
//! [`Thresholds`](crate::Thresholds) decide a grade from the cumulative probabilities, one
//! threshold per grade boundary. [`ScoreCuts`] decide it from one number per item instead,
//! usually the distribution's expected grade ([`GradeDistribution::expected_grade`]): the
//! grade is the number of cuts at or below the score. Fitted for macro-F1 on validation rows,
//! this is the read-out of the best rows on real data in this project (docs/RESULTS.md): the
//! expected grade keeps how the mass is spread over neighbouring grades, which argmax drops,
//! and three cuts place the grade boundaries where a model trained on a skewed grade mix
//! under-predicts the rare grades.

use std::path::Path;

use crate::fit::{common_grade_count, Metric};
use crate::partition::{load_json, write_atomic};
use crate::{GradeDistribution, PartitionError};

/// `K - 1` non-decreasing, finite cuts on a scalar score; the grade of a score `s` is the
/// number of cuts `c` with `s >= c` (0 = worst).
///
/// JSON form ([`ScoreCuts::to_json`]): `{"cuts":[1.42,1.70,2.19]}`.
///
/// ```
/// use taosr1_partition::ScoreCuts;
/// let cuts = ScoreCuts::new(vec![1.4, 1.7, 2.2])?;
/// assert_eq!(cuts.num_grades(), 4);
/// assert_eq!(cuts.grade_of_score(1.69)?, 1);
/// assert_eq!(cuts.grade_of_score(1.7)?, 2); // a score on a cut takes the higher grade
/// assert!(ScoreCuts::new(vec![2.0, 1.0]).is_err()); // cuts must not fall
/// # Ok::<(), taosr1_partition::PartitionError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreCuts {
    cuts: Vec<f32>,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CutsJson {
    cuts: Vec<f32>,
}

/// What [`ScoreCuts::fit`] found.
///
/// ```
/// use taosr1_partition::{Metric, ScoreCuts};
/// let fit = ScoreCuts::fit(&[0.1, 0.2, 0.8, 0.9], &[0, 0, 1, 1], 2, Metric::MacroF1)?;
/// assert_eq!(fit.value, 1.0);
/// assert_eq!(fit.metric, Metric::MacroF1);
/// assert_eq!(fit.candidates, 5); // the four scores and one above them all
/// # Ok::<(), taosr1_partition::PartitionError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CutsFit {
    /// The fitted cuts.
    pub cuts: ScoreCuts,
    /// The metric that was maximised.
    pub metric: Metric,
    /// Its value on the fitting rows with these cuts.
    pub value: f64,
    /// Candidate values each cut was chosen from.
    pub candidates: usize,
}

/// Largest number of cut tuples [`ScoreCuts::fit`] evaluates; the candidate grid is thinned
/// for many grades so that the exhaustive search stays within it.
const MAX_TUPLES: u128 = 2_000_000;

/// Most data quantiles a cut is chosen from (before the one value above every score).
const MAX_QUANTILES: usize = 64;

impl ScoreCuts {
    /// Validates `cuts`: at least one, each finite, none below the one before it.
    ///
    /// Errors: [`PartitionError::TooFewGrades`] for no cut, [`PartitionError::InvalidCut`]
    /// naming the first bad one.
    ///
    /// ```
    /// use taosr1_partition::{PartitionError, ScoreCuts};
    /// assert!(ScoreCuts::new(vec![0.5, 0.5]).is_ok()); // an empty middle grade is allowed
    /// assert!(matches!(
    ///     ScoreCuts::new(vec![0.5, f32::NAN]),
    ///     Err(PartitionError::InvalidCut { index: 1, .. })
    /// ));
    /// ```
    pub fn new(cuts: Vec<f32>) -> Result<Self, PartitionError> {
        if cuts.is_empty() {
            return Err(PartitionError::TooFewGrades { found: 1 });
        }
        for (index, &value) in cuts.iter().enumerate() {
            let reason = if !value.is_finite() {
                "is not finite"
            } else if index > 0 && value < cuts[index - 1] {
                "is below the cut before it"
            } else {
                continue;
            };
            return Err(PartitionError::InvalidCut {
                index,
                value,
                reason,
            });
        }
        Ok(Self { cuts })
    }

    /// The cuts, lowest first.
    ///
    /// ```
    /// use taosr1_partition::ScoreCuts;
    /// assert_eq!(ScoreCuts::new(vec![0.3, 0.6])?.as_slice(), &[0.3, 0.6]);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn as_slice(&self) -> &[f32] {
        &self.cuts
    }

    /// Number of grades `K` (cuts + 1).
    ///
    /// ```
    /// use taosr1_partition::ScoreCuts;
    /// assert_eq!(ScoreCuts::new(vec![0.5])?.num_grades(), 2);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn num_grades(&self) -> usize {
        self.cuts.len() + 1
    }

    /// The grade of one score: how many cuts are at or below it.
    ///
    /// Errors: [`PartitionError::NonFiniteScore`] for a NaN or infinite score.
    ///
    /// ```
    /// use taosr1_partition::ScoreCuts;
    /// let cuts = ScoreCuts::new(vec![1.0, 2.0])?;
    /// assert_eq!(cuts.grade_of_score(-5.0)?, 0);
    /// assert_eq!(cuts.grade_of_score(2.5)?, 2);
    /// assert!(cuts.grade_of_score(f32::NAN).is_err());
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn grade_of_score(&self, score: f32) -> Result<usize, PartitionError> {
        finite(0, score).map(|s| self.grade_unchecked(s))
    }

    /// The grade of each score, in order.
    ///
    /// Errors: [`PartitionError::NonFiniteScore`] naming the first NaN or infinite score.
    ///
    /// ```
    /// use taosr1_partition::{PartitionError, ScoreCuts};
    /// let cuts = ScoreCuts::new(vec![1.0, 2.0])?;
    /// assert_eq!(cuts.grades_of_scores(&[0.5, 1.0, 2.5])?, vec![0, 1, 2]);
    /// assert!(matches!(
    ///     cuts.grades_of_scores(&[0.5, f32::NAN]),
    ///     Err(PartitionError::NonFiniteScore { index: 1, .. })
    /// ));
    /// # Ok::<(), PartitionError>(())
    /// ```
    pub fn grades_of_scores(&self, scores: &[f32]) -> Result<Vec<usize>, PartitionError> {
        scores
            .iter()
            .enumerate()
            .map(|(index, &value)| finite(index, value).map(|s| self.grade_unchecked(s)))
            .collect()
    }

    pub(crate) fn grade_unchecked(&self, score: f32) -> usize {
        self.cuts.iter().filter(|&&c| score >= c).count()
    }

    /// The grade of a distribution: its [`GradeDistribution::expected_grade`] cut.
    ///
    /// Errors: [`PartitionError::GradeCountMismatch`] when the distribution has a different
    /// number of grades.
    ///
    /// ```
    /// use taosr1_partition::{GradeDistribution, ScoreCuts};
    /// // expected grade 0.2·1 + 0.5·2 + 0.2·3 = 1.8: above the cut at 1.7, so grade 2
    /// let d = GradeDistribution::new(vec![0.1, 0.2, 0.5, 0.2], 1e-6)?;
    /// assert_eq!(ScoreCuts::new(vec![1.4, 1.7, 2.2])?.grade(&d)?, 2);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn grade(&self, dist: &GradeDistribution) -> Result<usize, PartitionError> {
        if dist.num_grades() != self.num_grades() {
            return Err(PartitionError::GradeCountMismatch {
                expected: self.num_grades(),
                found: dist.num_grades(),
            });
        }
        Ok(self.grade_unchecked(dist.expected_grade()))
    }

    /// Fits `num_grades - 1` cuts on `scores` that maximise `metric` against `labels` (gold
    /// grade indices, 0 = worst).
    ///
    /// # Algorithm
    ///
    /// Exhaustive over a candidate grid, so the result is the grid's global optimum, not a
    /// local one. The candidates are the distinct scores (thinned to at most 64 evenly spaced
    /// quantiles, fewer for many grades so that at most two million cut tuples are tried)
    /// and one value above every score, which leaves the grades above it empty. Each
    /// non-decreasing tuple of candidates is scored from per-class prefix counts in
    /// `O(K²)`, after one `O(n log n)` sort. Ties go to the first tuple in lexicographic
    /// order of the candidates, i.e. the lowest cuts.
    ///
    /// Errors: [`PartitionError::EmptyInput`], [`PartitionError::LengthMismatch`],
    /// [`PartitionError::TooFewGrades`] for `num_grades < 2`,
    /// [`PartitionError::LabelOutOfRange`] and [`PartitionError::NonFiniteScore`] naming
    /// the row.
    ///
    /// ```
    /// use taosr1_partition::{Metric, ScoreCuts};
    /// // three grades; the middle one sits between 0.4 and 0.6
    /// let scores = [0.1, 0.3, 0.45, 0.5, 0.55, 0.7, 0.9];
    /// let labels = [0, 0, 1, 1, 1, 2, 2];
    /// let fit = ScoreCuts::fit(&scores, &labels, 3, Metric::Accuracy)?;
    /// assert_eq!(fit.cuts.as_slice(), &[0.45, 0.7]);
    /// assert_eq!(fit.value, 1.0);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn fit(
        scores: &[f32],
        labels: &[usize],
        num_grades: usize,
        metric: Metric,
    ) -> Result<CutsFit, PartitionError> {
        if scores.len() != labels.len() {
            return Err(PartitionError::LengthMismatch {
                what: "scores vs labels",
                left: scores.len(),
                right: labels.len(),
            });
        }
        if scores.is_empty() {
            return Err(PartitionError::EmptyInput { what: "scores" });
        }
        if num_grades < 2 {
            return Err(PartitionError::TooFewGrades { found: num_grades });
        }
        for (index, &value) in scores.iter().enumerate() {
            finite(index, value)?;
        }
        if let Some(index) = labels.iter().position(|&l| l >= num_grades) {
            return Err(PartitionError::LabelOutOfRange {
                what: "labels",
                index,
                label: labels[index],
                num_grades,
            });
        }
        let k = num_grades;
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
        let sorted: Vec<f32> = order.iter().map(|&i| scores[i]).collect();
        let grid = candidates(&sorted, k);

        // below[j][c]: rows of class c with a score under grid[j]
        let mut below = vec![vec![0usize; k]; grid.len()];
        let mut seen = vec![0usize; k];
        let mut next = 0;
        for (j, &cut) in grid.iter().enumerate() {
            while next < order.len() && sorted[next] < cut {
                seen[labels[order[next]]] += 1;
                next += 1;
            }
            below[j].clone_from(&seen);
        }
        let mut totals = vec![0usize; k];
        for &l in labels {
            totals[l] += 1;
        }

        // every non-decreasing tuple of grid indices, lexicographically
        let mut idx = vec![0usize; k - 1];
        let mut conf = vec![vec![0usize; k]; k];
        let mut best: Option<(f64, Vec<usize>)> = None;
        loop {
            for p in 0..k {
                for c in 0..k {
                    let upper = if p + 1 < k {
                        below[idx[p]][c]
                    } else {
                        totals[c]
                    };
                    let lower = if p == 0 { 0 } else { below[idx[p - 1]][c] };
                    conf[c][p] = upper - lower;
                }
            }
            let value = metric.on_confusion(&conf);
            if best.as_ref().is_none_or(|(v, _)| value > *v) {
                best = Some((value, idx.clone()));
            }
            // advance: the last position that can still grow, then reset the rest to it
            let Some(pos) = (0..k - 1).rev().find(|&p| idx[p] + 1 < grid.len()) else {
                break;
            };
            idx[pos] += 1;
            let start = idx[pos];
            idx[pos + 1..].iter_mut().for_each(|i| *i = start);
        }
        let (value, tuple) = best.expect("the grid has at least one tuple");
        Ok(CutsFit {
            cuts: Self::new(tuple.iter().map(|&j| grid[j]).collect())?,
            metric,
            value,
            candidates: grid.len(),
        })
    }

    /// [`ScoreCuts::fit`] on the distributions' expected grades.
    ///
    /// Errors: as [`ScoreCuts::fit`], and [`PartitionError::InconsistentGradeCount`] when the
    /// distributions disagree on `K`.
    ///
    /// ```
    /// use taosr1_partition::{GradeDistribution, Metric, ScoreCuts};
    /// let d = |p: [f32; 2]| GradeDistribution::new(p.to_vec(), 1e-6);
    /// // a model that is never sure of the top grade: argmax gets one of three right
    /// let dists = [d([0.9, 0.1])?, d([0.7, 0.3])?, d([0.6, 0.4])?];
    /// let fit = ScoreCuts::fit_expected_grade(&dists, &[0, 1, 1], Metric::Accuracy)?;
    /// assert_eq!(fit.value, 1.0);
    /// assert_eq!(fit.cuts.grade(&dists[1])?, 1);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn fit_expected_grade(
        dists: &[GradeDistribution],
        labels: &[usize],
        metric: Metric,
    ) -> Result<CutsFit, PartitionError> {
        let k = common_grade_count(dists)?;
        let scores: Vec<f32> = dists
            .iter()
            .map(GradeDistribution::expected_grade)
            .collect();
        Self::fit(&scores, labels, k, metric)
    }

    /// The JSON form, `{"cuts":[...]}`.
    ///
    /// Errors: [`PartitionError::Json`] (not expected for finite cuts).
    ///
    /// ```
    /// use taosr1_partition::ScoreCuts;
    /// let cuts = ScoreCuts::new(vec![0.25, 0.5])?;
    /// assert_eq!(cuts.to_json()?, r#"{"cuts":[0.25,0.5]}"#);
    /// assert_eq!(ScoreCuts::from_json(&cuts.to_json()?)?, cuts);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn to_json(&self) -> Result<String, PartitionError> {
        serde_json::to_string(&CutsJson {
            cuts: self.cuts.clone(),
        })
        .map_err(|source| PartitionError::Json { path: None, source })
    }

    /// Parses and validates the JSON form.
    ///
    /// Errors: [`PartitionError::Json`] for malformed JSON or unknown fields, then as
    /// [`ScoreCuts::new`].
    ///
    /// ```
    /// use taosr1_partition::ScoreCuts;
    /// assert!(ScoreCuts::from_json(r#"{"cuts":[1.0,2.0]}"#).is_ok());
    /// assert!(ScoreCuts::from_json(r#"{"cuts":[2.0,1.0]}"#).is_err());
    /// assert!(ScoreCuts::from_json(r#"{"t":[0.5]}"#).is_err());
    /// ```
    pub fn from_json(json: &str) -> Result<Self, PartitionError> {
        let raw: CutsJson = serde_json::from_str(json)
            .map_err(|source| PartitionError::Json { path: None, source })?;
        Self::new(raw.cuts)
    }

    /// Writes [`ScoreCuts::to_json`] to `path` atomically (temporary file, fsync, rename): an
    /// interrupted save leaves the previous file intact.
    ///
    /// Errors: [`PartitionError::Io`] naming `path`.
    ///
    /// ```
    /// use taosr1_partition::ScoreCuts;
    /// let path = std::env::temp_dir().join(format!("cuts-doc-{}.json", std::process::id()));
    /// let cuts = ScoreCuts::new(vec![1.4, 1.7, 2.2])?;
    /// cuts.save(&path)?;
    /// assert_eq!(ScoreCuts::load(&path)?, cuts);
    /// std::fs::remove_file(&path).ok();
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), PartitionError> {
        write_atomic(path.as_ref(), self.to_json()?.as_bytes())
    }

    /// Reads and validates a file [`ScoreCuts::save`] wrote.
    ///
    /// Errors: [`PartitionError::Io`], [`PartitionError::Json`] or
    /// [`PartitionError::InvalidThresholdsFile`], each naming `path`.
    ///
    /// ```
    /// use taosr1_partition::{PartitionError, ScoreCuts};
    /// let path = std::env::temp_dir().join(format!("cuts-bad-{}.json", std::process::id()));
    /// std::fs::write(&path, r#"{"cuts":[3.0,1.0]}"#).unwrap();
    /// let err = ScoreCuts::load(&path).unwrap_err();
    /// assert!(matches!(err, PartitionError::InvalidThresholdsFile { .. }));
    /// assert!(err.to_string().contains("cuts-bad-"));
    /// std::fs::remove_file(&path).ok();
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Self, PartitionError> {
        load_json(path.as_ref(), |raw: CutsJson| Self::new(raw.cuts))
    }
}

/// `value` when it is finite, else [`PartitionError::NonFiniteScore`] naming it as row `index`.
fn finite(index: usize, value: f32) -> Result<f32, PartitionError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(PartitionError::NonFiniteScore { index, value })
    }
}

/// The candidate cuts, ascending: the distinct values of `sorted` (ascending scores), thinned
/// to evenly spaced quantiles, then one value above them all.
fn candidates(sorted: &[f32], k: usize) -> Vec<f32> {
    let mut grid: Vec<f32> = sorted.to_vec();
    grid.dedup();
    let mut m = MAX_QUANTILES;
    // tuples of k - 1 non-decreasing picks among m + 1 candidates: C(m + k - 1, k - 1)
    while m > 1 && combinations(m + k - 1, k - 1) > MAX_TUPLES {
        m -= 1;
    }
    if grid.len() > m {
        let n = grid.len();
        grid = (0..m).map(|i| grid[i * (n - 1) / (m - 1).max(1)]).collect();
        grid.dedup();
    }
    let top = grid.last().copied().unwrap_or(0.0);
    let above = top + 1.0f32.max(top.abs());
    grid.push(if above.is_finite() { above } else { f32::MAX });
    grid.dedup();
    grid
}

fn combinations(n: usize, r: usize) -> u128 {
    (0..r).fold(1u128, |acc, i| acc * (n - i) as u128 / (i + 1) as u128)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::macro_f1;
    use proptest::prelude::*;

    fn ascending(scores: &[f32]) -> Vec<f32> {
        let mut v = scores.to_vec();
        v.sort_by(f32::total_cmp);
        v
    }

    /// The plain search: every non-decreasing triple of the same grid, each scored by
    /// grading every row.
    fn brute(scores: &[f32], labels: &[usize]) -> (Vec<f32>, f64) {
        let grid = candidates(&ascending(scores), 4);
        let mut best = (vec![], -1.0);
        for (i, &a) in grid.iter().enumerate() {
            for (j, &b) in grid.iter().enumerate().skip(i) {
                for &c in grid.iter().skip(j) {
                    let cuts = ScoreCuts::new(vec![a, b, c]).unwrap();
                    let pred: Vec<usize> =
                        scores.iter().map(|&s| cuts.grade_unchecked(s)).collect();
                    let f = macro_f1(&pred, labels, 4).unwrap();
                    if f > best.1 {
                        best = (vec![a, b, c], f);
                    }
                }
            }
        }
        best
    }

    #[test]
    fn the_prefix_count_search_equals_grading_every_row() {
        // noisy ordinal data: a score that rises with the grade, plus ties
        let mut state = 7u64;
        let mut rnd = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as f32 / (1u64 << 31) as f32
        };
        let labels: Vec<usize> = (0..300).map(|i| (i * 7) % 4).collect();
        let scores: Vec<f32> = labels
            .iter()
            .map(|&l| ((l as f32 * 0.6 + rnd() * 1.5) * 8.0).round() / 8.0)
            .collect();
        let fit = ScoreCuts::fit(&scores, &labels, 4, Metric::MacroF1).unwrap();
        let (cuts, f) = brute(&scores, &labels);
        assert_eq!(fit.cuts.as_slice(), cuts.as_slice());
        approx::assert_abs_diff_eq!(fit.value, f, epsilon = 1e-12);
        let pred: Vec<usize> = scores
            .iter()
            .map(|&s| fit.cuts.grade_of_score(s).unwrap())
            .collect();
        approx::assert_abs_diff_eq!(
            macro_f1(&pred, &labels, 4).unwrap(),
            fit.value,
            epsilon = 1e-12
        );
        // and it beats the argmax-like equal split of [0, 3]
        let even = ScoreCuts::new(vec![0.75, 1.5, 2.25]).unwrap();
        let pred: Vec<usize> = scores.iter().map(|&s| even.grade_unchecked(s)).collect();
        assert!(fit.value > macro_f1(&pred, &labels, 4).unwrap());
    }

    #[test]
    fn a_separable_set_is_fitted_exactly_by_hand() {
        // grades sit in disjoint score bands; the lowest cut of each gap is the band's start
        let scores = [0.0, 0.1, 1.0, 1.1, 2.0, 2.1, 3.0];
        let labels = [0, 0, 1, 1, 2, 2, 3];
        let fit = ScoreCuts::fit(&scores, &labels, 4, Metric::MacroF1).unwrap();
        assert_eq!(fit.cuts.as_slice(), &[1.0, 2.0, 3.0]);
        assert_eq!(fit.value, 1.0);
        assert_eq!(fit.candidates, 8);
    }

    #[test]
    fn an_absent_grade_can_be_left_empty() {
        // no row of grade 1: its band may be empty (two equal cuts)
        let scores = [0.0, 0.2, 0.8, 1.0];
        let labels = [0, 0, 2, 2];
        let fit = ScoreCuts::fit(&scores, &labels, 3, Metric::MacroF1).unwrap();
        assert_eq!(fit.value, 1.0);
        let pred: Vec<usize> = scores
            .iter()
            .map(|&s| fit.cuts.grade_unchecked(s))
            .collect();
        assert_eq!(pred, labels);
    }

    #[test]
    fn bad_input_is_refused_by_name() {
        let m = Metric::MacroF1;
        assert!(matches!(
            ScoreCuts::fit(&[0.1, f32::INFINITY], &[0, 1], 2, m),
            Err(PartitionError::NonFiniteScore { index: 1, .. })
        ));
        assert!(matches!(
            ScoreCuts::fit(&[0.1, 0.2], &[0, 2], 2, m),
            Err(PartitionError::LabelOutOfRange {
                index: 1,
                label: 2,
                ..
            })
        ));
        assert!(matches!(
            ScoreCuts::fit(&[0.1], &[0, 1], 2, m),
            Err(PartitionError::LengthMismatch { .. })
        ));
        assert!(matches!(
            ScoreCuts::fit(&[], &[], 2, m),
            Err(PartitionError::EmptyInput { .. })
        ));
        assert!(matches!(
            ScoreCuts::fit(&[0.1], &[0], 1, m),
            Err(PartitionError::TooFewGrades { found: 1 })
        ));
        assert!(matches!(
            ScoreCuts::new(vec![]),
            Err(PartitionError::TooFewGrades { found: 1 })
        ));
        let d2 = GradeDistribution::new(vec![0.5, 0.5], 0.0).unwrap();
        let d3 = GradeDistribution::new(vec![0.5, 0.25, 0.25], 0.0).unwrap();
        assert!(matches!(
            ScoreCuts::fit_expected_grade(&[d2.clone(), d3], &[0, 1], m),
            Err(PartitionError::InconsistentGradeCount { index: 1, .. })
        ));
        let cuts = ScoreCuts::new(vec![0.5, 1.5]).unwrap();
        assert!(matches!(
            cuts.grade(&d2),
            Err(PartitionError::GradeCountMismatch {
                expected: 3,
                found: 2
            })
        ));
    }

    #[test]
    fn many_grades_thin_the_grid_to_the_tuple_budget() {
        let scores: Vec<f32> = (0..500).map(|i| i as f32 / 50.0).collect();
        let labels: Vec<usize> = (0..500).map(|i| i / 50).collect();
        let fit = ScoreCuts::fit(&scores, &labels, 10, Metric::Accuracy).unwrap();
        assert!(combinations(fit.candidates + 8, 9) <= MAX_TUPLES);
        assert!(fit.candidates >= 10);
        assert_eq!(fit.cuts.num_grades(), 10);
        // a coarser grid still finds cuts far better than one grade for everything
        assert!(fit.value > 0.8, "{}", fit.value);
    }

    #[test]
    fn huge_scores_keep_a_finite_top_candidate() {
        let fit = ScoreCuts::fit(&[f32::MAX, 0.0], &[1, 0], 2, Metric::Accuracy).unwrap();
        assert!(fit.cuts.as_slice().iter().all(|c| c.is_finite()));
        assert_eq!(fit.value, 1.0);
    }

    proptest! {
        #[test]
        fn the_fit_is_never_beaten_by_a_grid_pair_and_grades_rise_with_the_score(
            rows in prop::collection::vec((0usize..3, 0u8..12), 1..60)
        ) {
            let labels: Vec<usize> = rows.iter().map(|r| r.0).collect();
            let scores: Vec<f32> = rows.iter().map(|r| f32::from(r.1) / 4.0).collect();
            let fit = ScoreCuts::fit(&scores, &labels, 3, Metric::MacroF1).unwrap();
            // what it reports is what its cuts give
            let pred: Vec<usize> = scores.iter().map(|&s| fit.cuts.grade_unchecked(s)).collect();
            let got = macro_f1(&pred, &labels, 3).unwrap();
            prop_assert!((got - fit.value).abs() < 1e-12);
            // no pair of candidates does better
            let grid = candidates(&ascending(&scores), 3);
            for (i, &a) in grid.iter().enumerate() {
                for &b in &grid[i..] {
                    let c = ScoreCuts::new(vec![a, b]).unwrap();
                    let p: Vec<usize> = scores.iter().map(|&s| c.grade_unchecked(s)).collect();
                    prop_assert!(macro_f1(&p, &labels, 3).unwrap() <= fit.value + 1e-12);
                }
            }
            // the grade never falls as the score rises
            let mut sorted = scores.clone();
            sorted.sort_by(f32::total_cmp);
            let g: Vec<usize> = sorted.iter().map(|&s| fit.cuts.grade_unchecked(s)).collect();
            prop_assert!(g.windows(2).all(|w| w[0] <= w[1]));
        }
    }
}
