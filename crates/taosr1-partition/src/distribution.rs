//! The answer-slot grade distribution and post-CoT renormalisation.

use crate::PartitionError;

/// Default tolerance on `|Σp - 1|` used by [`GradeDistribution`]'s serde support.
pub const DEFAULT_TOLERANCE: f32 = 1e-4;

/// A validated probability distribution over `K >= 2` ordered grades (index 0 = worst).
///
/// Invariants (checked by every constructor): at least two grades, every probability finite
/// and `>= 0`, and the probabilities sum to one within the tolerance given at construction.
///
/// ```
/// use taosr1_partition::GradeDistribution;
///
/// let d = GradeDistribution::new(vec![0.1, 0.2, 0.3, 0.4], 1e-6)?;
/// assert_eq!(d.num_grades(), 4);
/// assert_eq!(d.argmax(), 3);
/// # Ok::<(), taosr1_partition::PartitionError>(())
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "Vec<f32>", into = "Vec<f32>")]
pub struct GradeDistribution {
    probs: Vec<f32>,
}

impl GradeDistribution {
    /// Validates `probs` as a distribution over grades (index 0 = worst).
    ///
    /// Errors: [`PartitionError::TooFewGrades`] for fewer than two entries,
    /// [`PartitionError::InvalidProbability`] for a NaN, infinite or negative entry,
    /// [`PartitionError::InvalidTolerance`] for a negative or non-finite `tolerance`, and
    /// [`PartitionError::NotNormalized`] when `|Σp - 1| > tolerance`.
    ///
    /// ```
    /// use taosr1_partition::{GradeDistribution, PartitionError};
    ///
    /// assert!(GradeDistribution::new(vec![0.25, 0.75], 1e-6).is_ok());
    /// assert!(matches!(
    ///     GradeDistribution::new(vec![0.5, f32::NAN], 1e-6),
    ///     Err(PartitionError::InvalidProbability { index: 1, .. })
    /// ));
    /// ```
    pub fn new(probs: Vec<f32>, tolerance: f32) -> Result<Self, PartitionError> {
        if !tolerance.is_finite() || tolerance < 0.0 {
            return Err(PartitionError::InvalidTolerance { tolerance });
        }
        let sum = validate_entries(&probs)?;
        if (sum - 1.0).abs() > f64::from(tolerance) {
            return Err(PartitionError::NotNormalized { sum: sum as f32 });
        }
        Ok(Self { probs })
    }

    /// Builds a distribution from non-negative weights by dividing by their sum.
    ///
    /// Errors as [`GradeDistribution::new`] for bad entries, plus
    /// [`PartitionError::ZeroMass`] when every weight is zero.
    ///
    /// ```
    /// use taosr1_partition::GradeDistribution;
    ///
    /// let d = GradeDistribution::from_unnormalized(vec![1.0, 1.0, 2.0])?;
    /// assert_eq!(d.probs(), &[0.25, 0.25, 0.5]);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn from_unnormalized(weights: Vec<f32>) -> Result<Self, PartitionError> {
        let sum = validate_entries(&weights)?;
        if sum <= 0.0 || !sum.is_finite() {
            return Err(PartitionError::ZeroMass);
        }
        let probs = weights
            .iter()
            .map(|&w| (f64::from(w) / sum) as f32)
            .collect();
        Ok(Self { probs })
    }

    /// The probabilities, index 0 = worst grade.
    ///
    /// ```
    /// use taosr1_partition::GradeDistribution;
    /// let d = GradeDistribution::new(vec![0.5, 0.5], 0.0)?;
    /// assert_eq!(d.probs(), &[0.5, 0.5]);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn probs(&self) -> &[f32] {
        &self.probs
    }

    /// Number of grades `K` (always at least 2).
    ///
    /// ```
    /// use taosr1_partition::GradeDistribution;
    /// let d = GradeDistribution::new(vec![0.2, 0.3, 0.5], 1e-6)?;
    /// assert_eq!(d.num_grades(), 3);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn num_grades(&self) -> usize {
        self.probs.len()
    }

    /// Cumulative "at least" probabilities: `c[k] = P(grade >= k)` for `k = 0..K`.
    ///
    /// `c[0]` is exactly `1.0`; the vector is non-increasing and every entry lies in `[0, 1]`
    /// (sums are accumulated in `f64` from the best grade down, so rounding can never break
    /// monotonicity).
    ///
    /// ```
    /// use taosr1_partition::GradeDistribution;
    /// let d = GradeDistribution::new(vec![0.125, 0.125, 0.25, 0.5], 0.0)?;
    /// assert_eq!(d.cumulative(), vec![1.0, 0.875, 0.75, 0.5]);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn cumulative(&self) -> Vec<f32> {
        let mut out = vec![0.0f32; self.probs.len()];
        self.cumulative_into(&mut out);
        out
    }

    /// Writes [`GradeDistribution::cumulative`] into `out` (which has length `K`) and returns
    /// `Σ_{k>=1} c[k]` in `f64`.
    pub(crate) fn cumulative_into(&self, out: &mut [f32]) -> f64 {
        debug_assert_eq!(out.len(), self.probs.len());
        let mut acc = 0.0f64;
        let mut total = 0.0f64;
        for k in (1..self.probs.len()).rev() {
            acc += f64::from(self.probs[k]);
            let c = acc.min(1.0);
            out[k] = c as f32;
            total += c;
        }
        out[0] = 1.0;
        total
    }

    /// Continuous relevance score in `[0, 1]`: `(Σ_{k>=1} c[k]) / (K - 1)`.
    ///
    /// This equals the expected grade index divided by `K - 1`, so 0 means "certainly the
    /// worst grade" and 1 "certainly the best". It never decreases when probability mass
    /// moves from a lower grade to a higher one.
    ///
    /// ```
    /// use taosr1_partition::GradeDistribution;
    /// // E[grade] = 0.5·1 + 0.5·3 = 2, divided by K - 1 = 3.
    /// let d = GradeDistribution::new(vec![0.0, 0.5, 0.0, 0.5], 0.0)?;
    /// assert!((d.score() - 2.0 / 3.0).abs() < 1e-6);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn score(&self) -> f32 {
        let mut acc = 0.0f64;
        let mut total = 0.0f64;
        for k in (1..self.probs.len()).rev() {
            acc += f64::from(self.probs[k]);
            total += acc.min(1.0);
        }
        score_from_total(total, self.probs.len())
    }

    /// The expected grade index `Σ k · p[k]` (0 = worst, `K - 1` = best), summed in `f32`
    /// from the worst grade up: [`GradeDistribution::score`] times `K - 1`, up to rounding.
    /// [`ScoreCuts`](crate::ScoreCuts) cut it into grades.
    ///
    /// ```
    /// use taosr1_partition::GradeDistribution;
    /// let d = GradeDistribution::new(vec![0.1, 0.2, 0.5, 0.2], 1e-6)?;
    /// assert!((d.expected_grade() - 1.8).abs() < 1e-6);
    /// assert!((d.expected_grade() - 3.0 * d.score()).abs() < 1e-6);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn expected_grade(&self) -> f32 {
        self.probs
            .iter()
            .enumerate()
            .map(|(k, &p)| k as f32 * p)
            .sum()
    }

    /// The most probable grade; ties go to the lower (more conservative) grade.
    ///
    /// Provided for comparison with the cumulative partition: argmax ignores how the
    /// remaining mass is spread, which is what makes it unstable on near-ties.
    ///
    /// ```
    /// use taosr1_partition::GradeDistribution;
    /// let d = GradeDistribution::new(vec![0.4, 0.4, 0.2], 1e-6)?;
    /// assert_eq!(d.argmax(), 0);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn argmax(&self) -> usize {
        let mut best = 0;
        for (i, &p) in self.probs.iter().enumerate().skip(1) {
            if p > self.probs[best] {
                best = i;
            }
        }
        best
    }
}

pub(crate) fn score_from_total(total: f64, num_grades: usize) -> f32 {
    let denom = (num_grades.saturating_sub(1)).max(1) as f64;
    (total / denom).clamp(0.0, 1.0) as f32
}

/// Checks length >= 2 and every entry finite and non-negative; returns the `f64` sum.
fn validate_entries(values: &[f32]) -> Result<f64, PartitionError> {
    if values.len() < 2 {
        return Err(PartitionError::TooFewGrades {
            found: values.len(),
        });
    }
    let mut sum = 0.0f64;
    for (index, &value) in values.iter().enumerate() {
        if !value.is_finite() || value < 0.0 {
            return Err(PartitionError::InvalidProbability { index, value });
        }
        sum += f64::from(value);
    }
    Ok(sum)
}

impl TryFrom<Vec<f32>> for GradeDistribution {
    type Error = PartitionError;

    /// Same as [`GradeDistribution::new`] with [`DEFAULT_TOLERANCE`].
    fn try_from(probs: Vec<f32>) -> Result<Self, Self::Error> {
        Self::new(probs, DEFAULT_TOLERANCE)
    }
}

impl From<GradeDistribution> for Vec<f32> {
    fn from(d: GradeDistribution) -> Self {
        d.probs
    }
}

/// Post-CoT renormalisation: softmax over the grade tokens' logits only.
///
/// `logits` is the full-vocabulary logit vector read at the answer position (after the
/// model has closed its thinking and emitted the answer opener); `grade_token_ids[g]` is the
/// vocabulary id of grade `g` (0 = worst). Every other token is ignored, so the result is the
/// model's belief over grades conditional on answering with a grade at all.
///
/// The softmax is computed in `f64` after subtracting the maximum grade logit, so it is
/// stable for arbitrarily large or small finite logits.
///
/// Errors: [`PartitionError::TooFewGrades`] for fewer than two ids,
/// [`PartitionError::DuplicateGradeToken`], [`PartitionError::TokenOutOfRange`], and
/// [`PartitionError::NonFiniteLogit`] when a *grade* token's logit is NaN or infinite
/// (logits of other tokens are never read).
///
/// ```
/// use taosr1_partition::grade_distribution;
///
/// // A 6-token vocabulary whose grade tokens are ids 2, 3, 4 and 5.
/// let logits = [9.0, 9.0, 0.0, 0.0, 1.0, 1.0];
/// let d = grade_distribution(&logits, &[2, 3, 4, 5])?;
/// let e = std::f32::consts::E;
/// let z = 2.0 + 2.0 * e;
/// assert!((d.probs()[0] - 1.0 / z).abs() < 1e-6);
/// assert!((d.probs()[3] - e / z).abs() < 1e-6);
/// # Ok::<(), taosr1_partition::PartitionError>(())
/// ```
pub fn grade_distribution(
    logits: &[f32],
    grade_token_ids: &[u32],
) -> Result<GradeDistribution, PartitionError> {
    if grade_token_ids.len() < 2 {
        return Err(PartitionError::TooFewGrades {
            found: grade_token_ids.len(),
        });
    }
    let mut max = f64::NEG_INFINITY;
    for (grade, &token_id) in grade_token_ids.iter().enumerate() {
        if let Some(first) = grade_token_ids[..grade].iter().position(|&t| t == token_id) {
            return Err(PartitionError::DuplicateGradeToken {
                token_id,
                first,
                second: grade,
            });
        }
        let index = token_id as usize;
        let value = *logits.get(index).ok_or(PartitionError::TokenOutOfRange {
            token_id,
            grade,
            vocab_size: logits.len(),
        })?;
        if !value.is_finite() {
            return Err(PartitionError::NonFiniteLogit {
                index,
                grade,
                value,
            });
        }
        max = max.max(f64::from(value));
    }
    let mut exps: Vec<f64> = grade_token_ids
        .iter()
        .map(|&t| (f64::from(logits[t as usize]) - max).exp())
        .collect();
    // The max term contributes exp(0) = 1, so the sum is in [1, K] and never zero.
    let sum: f64 = exps.iter().sum();
    for e in &mut exps {
        *e /= sum;
    }
    Ok(GradeDistribution {
        probs: exps.into_iter().map(|p| p as f32).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    #[test]
    fn softmax_matches_hand_computation() {
        // logits 0, ln 2, ln 3 -> weights 1, 2, 3 -> probs 1/6, 2/6, 3/6
        let logits = [0.0, 2f32.ln(), 3f32.ln(), 100.0];
        let d = grade_distribution(&logits, &[0, 1, 2]).unwrap();
        assert_abs_diff_eq!(d.probs()[0], 1.0 / 6.0, epsilon = 1e-6);
        assert_abs_diff_eq!(d.probs()[1], 2.0 / 6.0, epsilon = 1e-6);
        assert_abs_diff_eq!(d.probs()[2], 3.0 / 6.0, epsilon = 1e-6);
    }

    #[test]
    fn softmax_is_stable_for_huge_logits() {
        let logits = [1e30, 1e30 - 1e24, -1e30];
        let d = grade_distribution(&logits, &[0, 2]).unwrap();
        assert_abs_diff_eq!(d.probs()[0], 1.0, epsilon = 1e-6);
        assert_abs_diff_eq!(d.probs()[1], 0.0, epsilon = 1e-6);
        let d = grade_distribution(&[1e30, 1e30], &[1, 0]).unwrap();
        assert_eq!(d.probs(), &[0.5, 0.5]);
    }

    #[test]
    fn grade_order_follows_token_ids_order() {
        let d = grade_distribution(&[0.0, 10.0], &[1, 0]).unwrap();
        assert!(d.probs()[0] > d.probs()[1]);
    }

    #[test]
    fn softmax_errors_name_the_problem() {
        assert!(matches!(
            grade_distribution(&[0.0, 1.0], &[0]),
            Err(PartitionError::TooFewGrades { found: 1 })
        ));
        assert!(matches!(
            grade_distribution(&[0.0, 1.0], &[]),
            Err(PartitionError::TooFewGrades { found: 0 })
        ));
        assert!(matches!(
            grade_distribution(&[0.0, 1.0, 2.0], &[2, 0, 2]),
            Err(PartitionError::DuplicateGradeToken {
                token_id: 2,
                first: 0,
                second: 2
            })
        ));
        assert!(matches!(
            grade_distribution(&[0.0, 1.0], &[0, 7]),
            Err(PartitionError::TokenOutOfRange {
                token_id: 7,
                grade: 1,
                vocab_size: 2
            })
        ));
        let err = grade_distribution(&[0.0, f32::NAN, 1.0], &[0, 1]).unwrap_err();
        assert!(matches!(
            err,
            PartitionError::NonFiniteLogit {
                index: 1,
                grade: 1,
                ..
            }
        ));
        assert!(err.to_string().contains("index 1"));
        assert!(matches!(
            grade_distribution(&[f32::INFINITY, 0.0], &[0, 1]),
            Err(PartitionError::NonFiniteLogit { index: 0, .. })
        ));
        // Non-grade logits are never read.
        assert!(grade_distribution(&[f32::NAN, 0.0, 1.0], &[1, 2]).is_ok());
    }

    #[test]
    fn new_validates() {
        assert!(matches!(
            GradeDistribution::new(vec![1.0], 1e-4),
            Err(PartitionError::TooFewGrades { found: 1 })
        ));
        assert!(matches!(
            GradeDistribution::new(vec![1.5, -0.5], 1e-4),
            Err(PartitionError::InvalidProbability { index: 1, .. })
        ));
        assert!(matches!(
            GradeDistribution::new(vec![f32::INFINITY, 0.5], 1e-4),
            Err(PartitionError::InvalidProbability { index: 0, .. })
        ));
        match GradeDistribution::new(vec![0.5, 0.6], 1e-4) {
            Err(PartitionError::NotNormalized { sum }) => {
                assert_abs_diff_eq!(sum, 1.1, epsilon = 1e-6)
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(GradeDistribution::new(vec![0.5, 0.50005], 1e-4).is_ok());
        assert!(matches!(
            GradeDistribution::new(vec![0.5, 0.5], -1.0),
            Err(PartitionError::InvalidTolerance { .. })
        ));
        assert!(matches!(
            GradeDistribution::new(vec![0.5, 0.5], f32::NAN),
            Err(PartitionError::InvalidTolerance { .. })
        ));
    }

    #[test]
    fn from_unnormalized_validates() {
        assert!(matches!(
            GradeDistribution::from_unnormalized(vec![0.0, 0.0]),
            Err(PartitionError::ZeroMass)
        ));
        assert!(matches!(
            GradeDistribution::from_unnormalized(vec![1.0, -1.0]),
            Err(PartitionError::InvalidProbability { index: 1, .. })
        ));
        let d = GradeDistribution::from_unnormalized(vec![3.0, 1.0]).unwrap();
        assert_eq!(d.probs(), &[0.75, 0.25]);
        // Huge finite weights whose sum overflows f32 still normalise.
        let d = GradeDistribution::from_unnormalized(vec![f32::MAX, f32::MAX]).unwrap();
        assert_eq!(d.probs(), &[0.5, 0.5]);
    }

    #[test]
    fn cumulative_and_score_by_hand() {
        let d = GradeDistribution::new(vec![0.1, 0.2, 0.3, 0.4], 1e-6).unwrap();
        let c = d.cumulative();
        assert_eq!(c[0], 1.0);
        assert_abs_diff_eq!(c[1], 0.9, epsilon = 1e-6);
        assert_abs_diff_eq!(c[2], 0.7, epsilon = 1e-6);
        assert_abs_diff_eq!(c[3], 0.4, epsilon = 1e-6);
        // (0.9 + 0.7 + 0.4) / 3 = 2/3 = E[grade] / 3 = (0.2 + 0.6 + 1.2) / 3
        assert_abs_diff_eq!(d.score(), 2.0 / 3.0, epsilon = 1e-6);
        let worst = GradeDistribution::new(vec![1.0, 0.0, 0.0], 0.0).unwrap();
        assert_eq!(worst.score(), 0.0);
        let best = GradeDistribution::new(vec![0.0, 0.0, 1.0], 0.0).unwrap();
        assert_eq!(best.score(), 1.0);
    }

    #[test]
    fn serde_round_trip_validates() {
        let d = GradeDistribution::new(vec![0.25, 0.75], 0.0).unwrap();
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, "[0.25,0.75]");
        let back: GradeDistribution = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d);
        assert!(serde_json::from_str::<GradeDistribution>("[0.5,0.6]").is_err());
    }
}
