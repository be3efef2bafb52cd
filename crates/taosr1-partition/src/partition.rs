//! Thresholds on the cumulative distribution and the partitioner that applies them.

use std::path::Path;

use crate::distribution::score_from_total;
use crate::{GradeDistribution, PartitionError, ScoreCuts};

/// Per-grade thresholds `t_k` for `k = 1..K` (stored as a vector of length `K - 1`, position
/// `k - 1` holding `t_k`), each in `[0, 1]`.
///
/// The decision rule they define is documented on [`Thresholds::grade_for`].
///
/// JSON form (see [`Thresholds::to_json`]): `{"t":[0.5,0.5,0.5]}`.
///
/// ```
/// use taosr1_partition::Thresholds;
///
/// let t = Thresholds::new(vec![0.5, 0.4, 0.3])?;
/// assert_eq!(t.num_grades(), 4);
/// assert_eq!(t.as_slice(), &[0.5, 0.4, 0.3]);
/// assert!(Thresholds::new(vec![1.5]).is_err());
/// # Ok::<(), taosr1_partition::PartitionError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    t: Vec<f32>,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdsJson {
    t: Vec<f32>,
}

impl Thresholds {
    /// Validates thresholds `t` (position `k - 1` holds `t_k`).
    ///
    /// Errors: [`PartitionError::TooFewGrades`] when `t` is empty (that would describe fewer
    /// than two grades) and [`PartitionError::InvalidThreshold`] for a NaN or out-of-`[0, 1]`
    /// value.
    ///
    /// ```
    /// use taosr1_partition::{PartitionError, Thresholds};
    /// assert!(Thresholds::new(vec![0.0, 1.0]).is_ok());
    /// assert!(matches!(
    ///     Thresholds::new(vec![0.2, f32::NAN]),
    ///     Err(PartitionError::InvalidThreshold { index: 1, grade: 2, .. })
    /// ));
    /// ```
    pub fn new(t: Vec<f32>) -> Result<Self, PartitionError> {
        if t.is_empty() {
            return Err(PartitionError::TooFewGrades { found: 1 });
        }
        for (index, &value) in t.iter().enumerate() {
            if !(0.0..=1.0).contains(&value) {
                return Err(PartitionError::InvalidThreshold {
                    index,
                    grade: index + 1,
                    value,
                });
            }
        }
        Ok(Self { t })
    }

    /// The same threshold `value` for every `k` of a `num_grades`-grade scale.
    ///
    /// ```
    /// use taosr1_partition::Thresholds;
    /// let t = Thresholds::uniform(3, 0.25)?;
    /// assert_eq!(t.as_slice(), &[0.25, 0.25]);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn uniform(num_grades: usize, value: f32) -> Result<Self, PartitionError> {
        if num_grades < 2 {
            return Err(PartitionError::TooFewGrades { found: num_grades });
        }
        Self::new(vec![value; num_grades - 1])
    }

    /// The default thresholds: `0.5` everywhere, which makes the partition pick the median
    /// grade of the distribution.
    ///
    /// ```
    /// use taosr1_partition::Thresholds;
    /// assert_eq!(Thresholds::default_for(4)?.as_slice(), &[0.5, 0.5, 0.5]);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn default_for(num_grades: usize) -> Result<Self, PartitionError> {
        Self::uniform(num_grades, 0.5)
    }

    /// The thresholds; position `k - 1` holds `t_k`.
    ///
    /// ```
    /// use taosr1_partition::Thresholds;
    /// assert_eq!(Thresholds::new(vec![0.7])?.as_slice(), &[0.7]);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn as_slice(&self) -> &[f32] {
        &self.t
    }

    /// Number of grades `K` these thresholds partition (`len + 1`).
    ///
    /// ```
    /// use taosr1_partition::Thresholds;
    /// assert_eq!(Thresholds::new(vec![0.5, 0.5])?.num_grades(), 3);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn num_grades(&self) -> usize {
        self.t.len() + 1
    }

    /// The decision rule: given the cumulative vector `c` (`c[k] = P(grade >= k)`, length
    /// `K`), returns the largest `k` in `1..K` with `c[k] >= t_k`, or `0` when there is none.
    ///
    /// Because every `c[k]` can only grow when probability mass moves up the scale, the set
    /// of satisfied `k` can only grow too, so the grade is monotone in first-order stochastic
    /// dominance for *any* thresholds. When the thresholds are non-decreasing in `k` the
    /// satisfied set is a prefix `{1, …, g}`, so the grade also equals the *number* of
    /// satisfied `k`.
    ///
    /// Errors: [`PartitionError::GradeCountMismatch`] when `c.len() != K`.
    ///
    /// ```
    /// use taosr1_partition::Thresholds;
    /// let t = Thresholds::default_for(4)?;
    /// // P(>=1) = 0.9, P(>=2) = 0.6, P(>=3) = 0.2: the median grade is 2.
    /// assert_eq!(t.grade_for(&[1.0, 0.9, 0.6, 0.2])?, 2);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn grade_for(&self, cumulative: &[f32]) -> Result<usize, PartitionError> {
        if cumulative.len() != self.num_grades() {
            return Err(PartitionError::GradeCountMismatch {
                expected: self.num_grades(),
                found: cumulative.len(),
            });
        }
        Ok(self.grade_unchecked(cumulative))
    }

    /// [`Thresholds::grade_for`] without the length check (`cumulative.len() == K`).
    pub(crate) fn grade_unchecked(&self, cumulative: &[f32]) -> usize {
        (1..cumulative.len())
            .rev()
            .find(|&k| cumulative[k] >= self.t[k - 1])
            .unwrap_or(0)
    }

    /// Serialises as `{"t":[...]}`.
    ///
    /// Errors: [`PartitionError::Json`] (cannot happen for validated thresholds, which are
    /// always finite, but the signature keeps the door open).
    ///
    /// ```
    /// use taosr1_partition::Thresholds;
    /// let t = Thresholds::new(vec![0.5, 0.25])?;
    /// assert_eq!(t.to_json()?, r#"{"t":[0.5,0.25]}"#);
    /// assert_eq!(Thresholds::from_json(&t.to_json()?)?, t);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn to_json(&self) -> Result<String, PartitionError> {
        serde_json::to_string(&ThresholdsJson { t: self.t.clone() })
            .map_err(|source| PartitionError::Json { path: None, source })
    }

    /// Parses and validates `{"t":[...]}`.
    ///
    /// Errors: [`PartitionError::Json`] for malformed JSON (unknown fields are rejected), and
    /// the errors of [`Thresholds::new`] for invalid values.
    ///
    /// ```
    /// use taosr1_partition::{PartitionError, Thresholds};
    /// assert!(matches!(Thresholds::from_json("{"), Err(PartitionError::Json { .. })));
    /// assert!(matches!(
    ///     Thresholds::from_json(r#"{"t":[2.0]}"#),
    ///     Err(PartitionError::InvalidThreshold { .. })
    /// ));
    /// ```
    pub fn from_json(json: &str) -> Result<Self, PartitionError> {
        let raw: ThresholdsJson = serde_json::from_str(json)
            .map_err(|source| PartitionError::Json { path: None, source })?;
        Self::new(raw.t)
    }

    /// Writes [`Thresholds::to_json`] to `path` atomically (temporary file, fsync, rename):
    /// an interrupted save leaves the previous file intact.
    ///
    /// Errors: [`PartitionError::Io`] naming `path`.
    ///
    /// ```
    /// use taosr1_partition::Thresholds;
    /// let path = std::env::temp_dir().join(format!("taosr1-doc-save-{}.json", std::process::id()));
    /// let t = Thresholds::new(vec![0.5, 0.6, 0.7])?;
    /// t.save(&path)?;
    /// assert_eq!(Thresholds::load(&path)?, t);
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), PartitionError> {
        let path = path.as_ref();
        let json = self.to_json()?;
        write_atomic(path, json.as_bytes())
    }

    /// Reads and validates thresholds written by [`Thresholds::save`].
    ///
    /// Errors, all naming `path`: [`PartitionError::Io`] when the file cannot be read,
    /// [`PartitionError::Json`] when it is not valid thresholds JSON, and
    /// [`PartitionError::InvalidThresholdsFile`] when the values fail validation.
    ///
    /// ```
    /// use taosr1_partition::{PartitionError, Thresholds};
    /// let err = Thresholds::load("/definitely/not/here.json").unwrap_err();
    /// assert!(matches!(err, PartitionError::Io { .. }));
    /// assert!(err.to_string().contains("/definitely/not/here.json"));
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Self, PartitionError> {
        load_json(path.as_ref(), |raw: ThresholdsJson| Self::new(raw.t))
    }
}

/// The result of partitioning one distribution.
///
/// ```
/// use taosr1_partition::{GradeDistribution, Partitioner};
/// let p = Partitioner::default_for(2)?.partition(&GradeDistribution::new(vec![0.25, 0.75], 0.0)?)?;
/// assert_eq!((p.grade, p.score), (1, 0.75));
/// assert_eq!(p.cumulative, vec![1.0, 0.75]);
/// # Ok::<(), taosr1_partition::PartitionError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Partition {
    /// The decided grade index (0 = worst), see [`Thresholds::grade_for`] and
    /// [`ScoreCuts::grade`].
    pub grade: usize,
    /// Continuous relevance score in `[0, 1]`, see [`GradeDistribution::score`].
    pub score: f32,
    /// `c[k] = P(grade >= k)`, see [`GradeDistribution::cumulative`].
    pub cumulative: Vec<f32>,
}

/// Applies [`Thresholds`] (or [`ScoreCuts`], see [`Partitioner::from_cuts`]) to
/// [`GradeDistribution`]s.
///
/// ```
/// use taosr1_partition::{GradeDistribution, Partitioner, Thresholds};
///
/// let d = GradeDistribution::new(vec![0.1, 0.3, 0.35, 0.25], 1e-6)?;
/// // Median grade: P(>=2) = 0.6 >= 0.5 but P(>=3) = 0.25 < 0.5.
/// assert_eq!(Partitioner::default_for(4)?.partition(&d)?.grade, 2);
/// // A lenient top threshold promotes it, although argmax says grade 2.
/// let lenient = Partitioner::new(Thresholds::new(vec![0.5, 0.5, 0.2])?);
/// assert_eq!(lenient.partition(&d)?.grade, 3);
/// assert_eq!(d.argmax(), 2);
/// # Ok::<(), taosr1_partition::PartitionError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Partitioner {
    rule: Rule,
}

/// The decision rule a [`Partitioner`] applies to a distribution.
///
/// ```
/// use taosr1_partition::{Partitioner, Rule, ScoreCuts};
/// let p = Partitioner::from_cuts(ScoreCuts::new(vec![1.4, 1.7, 2.2])?);
/// assert!(matches!(p.rule(), Rule::ExpectedGrade(_)));
/// # Ok::<(), taosr1_partition::PartitionError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Rule {
    /// Thresholds on the cumulative probabilities ([`Thresholds::grade_for`]).
    Cumulative(Thresholds),
    /// Cuts on the expected grade ([`ScoreCuts::grade`]).
    ExpectedGrade(ScoreCuts),
}

impl Rule {
    fn num_grades(&self) -> usize {
        match self {
            Rule::Cumulative(t) => t.num_grades(),
            Rule::ExpectedGrade(c) => c.num_grades(),
        }
    }
}

impl Partitioner {
    /// Wraps validated thresholds.
    ///
    /// ```
    /// use taosr1_partition::{Partitioner, Thresholds};
    /// let p = Partitioner::new(Thresholds::default_for(3)?);
    /// assert_eq!(p.num_grades(), 3);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn new(thresholds: Thresholds) -> Self {
        Self {
            rule: Rule::Cumulative(thresholds),
        }
    }

    /// A partitioner that cuts the expected grade instead ([`Rule::ExpectedGrade`]); the
    /// score and cumulative vector it reports are the same as with thresholds.
    ///
    /// ```
    /// use taosr1_partition::{GradeDistribution, Partitioner, ScoreCuts};
    /// let d = GradeDistribution::new(vec![0.1, 0.2, 0.5, 0.2], 1e-6)?;
    /// let cut = Partitioner::from_cuts(ScoreCuts::new(vec![1.4, 1.7, 1.75])?).partition(&d)?;
    /// assert_eq!(cut.grade, 3); // expected grade 1.8 is past the top cut
    /// assert_eq!(cut.score, Partitioner::default_for(4)?.partition(&d)?.score);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn from_cuts(cuts: ScoreCuts) -> Self {
        Self {
            rule: Rule::ExpectedGrade(cuts),
        }
    }

    /// A partitioner with [`Thresholds::default_for`] (all `0.5`: the median grade).
    ///
    /// Errors: [`PartitionError::TooFewGrades`] when `num_grades < 2`.
    ///
    /// ```
    /// use taosr1_partition::Partitioner;
    /// assert!(Partitioner::default_for(4).is_ok());
    /// assert!(Partitioner::default_for(1).is_err());
    /// ```
    pub fn default_for(num_grades: usize) -> Result<Self, PartitionError> {
        Thresholds::default_for(num_grades).map(Self::new)
    }

    /// The thresholds in use, when the rule is [`Rule::Cumulative`].
    ///
    /// ```
    /// use taosr1_partition::{Partitioner, ScoreCuts};
    /// assert_eq!(Partitioner::default_for(2)?.thresholds().unwrap().as_slice(), &[0.5]);
    /// assert!(Partitioner::from_cuts(ScoreCuts::new(vec![0.5])?).thresholds().is_none());
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn thresholds(&self) -> Option<&Thresholds> {
        match &self.rule {
            Rule::Cumulative(t) => Some(t),
            Rule::ExpectedGrade(_) => None,
        }
    }

    /// The decision rule.
    ///
    /// ```
    /// use taosr1_partition::{Partitioner, Rule};
    /// assert!(matches!(Partitioner::default_for(3)?.rule(), Rule::Cumulative(_)));
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn rule(&self) -> &Rule {
        &self.rule
    }

    /// Number of grades `K` this partitioner expects.
    ///
    /// ```
    /// use taosr1_partition::Partitioner;
    /// assert_eq!(Partitioner::default_for(5)?.num_grades(), 5);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn num_grades(&self) -> usize {
        self.rule.num_grades()
    }

    /// Computes the cumulative vector, the thresholded grade and the continuous score.
    ///
    /// Errors: [`PartitionError::GradeCountMismatch`] when the distribution has a different
    /// number of grades than the thresholds.
    ///
    /// ```
    /// use taosr1_partition::{GradeDistribution, Partitioner};
    /// let d = GradeDistribution::new(vec![0.5, 0.5], 0.0)?;
    /// assert!(Partitioner::default_for(3)?.partition(&d).is_err());
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn partition(&self, dist: &GradeDistribution) -> Result<Partition, PartitionError> {
        if dist.num_grades() != self.num_grades() {
            return Err(PartitionError::GradeCountMismatch {
                expected: self.num_grades(),
                found: dist.num_grades(),
            });
        }
        let mut cumulative = vec![0.0; dist.num_grades()];
        let total = dist.cumulative_into(&mut cumulative);
        Ok(Partition {
            grade: match &self.rule {
                Rule::Cumulative(t) => t.grade_unchecked(&cumulative),
                Rule::ExpectedGrade(c) => c.grade_unchecked(dist.expected_grade()),
            },
            score: score_from_total(total, dist.num_grades()),
            cumulative,
        })
    }
}

/// Read `path` as JSON of `T` and validate it with `check`. Every error names the file:
/// [`PartitionError::Io`] when it cannot be read, [`PartitionError::Json`] when it does not
/// parse, and [`PartitionError::InvalidThresholdsFile`] wrapping what `check` refused.
pub(crate) fn load_json<T: serde::de::DeserializeOwned, U>(
    path: &Path,
    check: impl FnOnce(T) -> Result<U, PartitionError>,
) -> Result<U, PartitionError> {
    let text = std::fs::read_to_string(path).map_err(|source| PartitionError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let raw: T = serde_json::from_str(&text).map_err(|source| PartitionError::Json {
        path: Some(path.to_path_buf()),
        source,
    })?;
    check(raw).map_err(|e| PartitionError::InvalidThresholdsFile {
        path: path.to_path_buf(),
        source: Box::new(e),
    })
}

/// Write `bytes` to `path` atomically: a temporary file next to the target, fsynced, then
/// renamed over it, so a crash or a full disk never leaves a truncated file.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PartitionError> {
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        path.file_name()
            .map_or("partition".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        PartitionError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use proptest::prelude::*;

    fn dist(p: &[f32]) -> GradeDistribution {
        GradeDistribution::new(p.to_vec(), 1e-5).unwrap()
    }

    #[test]
    fn median_rule_by_hand() {
        let part = Partitioner::default_for(4).unwrap();
        // c = [1, 0.6, 0.5, 0.1]: c[2] = 0.5 >= 0.5 is satisfied (>=), c[3] is not.
        let p = part.partition(&dist(&[0.4, 0.1, 0.4, 0.1])).unwrap();
        assert_eq!(p.grade, 2);
        assert_abs_diff_eq!(p.score, (0.6 + 0.5 + 0.1) / 3.0, epsilon = 1e-6);
        // Argmax is a tie between 0 and 2 and picks 0; the median is 2.
        assert_eq!(dist(&[0.4, 0.1, 0.4, 0.1]).argmax(), 0);
        let p = part.partition(&dist(&[0.7, 0.1, 0.1, 0.1])).unwrap();
        assert_eq!(p.grade, 0);
        let p = part.partition(&dist(&[0.0, 0.0, 0.0, 1.0])).unwrap();
        assert_eq!((p.grade, p.score), (3, 1.0));
    }

    #[test]
    fn largest_satisfied_k_wins_for_non_monotone_thresholds() {
        // t = [0.95, 0.1, 0.9]; c = [1, 0.9, 0.5, 0.2]: only k = 2 is satisfied.
        let part = Partitioner::new(Thresholds::new(vec![0.95, 0.1, 0.9]).unwrap());
        let p = part.partition(&dist(&[0.1, 0.4, 0.3, 0.2])).unwrap();
        assert_eq!(p.grade, 2);
    }

    #[test]
    fn mismatches_are_errors() {
        let part = Partitioner::default_for(3).unwrap();
        assert!(matches!(
            part.partition(&dist(&[0.5, 0.5])),
            Err(PartitionError::GradeCountMismatch {
                expected: 3,
                found: 2
            })
        ));
        assert!(part.thresholds().unwrap().grade_for(&[1.0]).is_err());
        assert!(matches!(
            Thresholds::new(vec![]),
            Err(PartitionError::TooFewGrades { .. })
        ));
        assert!(matches!(
            Thresholds::new(vec![0.5, -0.1]),
            Err(PartitionError::InvalidThreshold { index: 1, .. })
        ));
        assert!(Thresholds::uniform(1, 0.5).is_err());
    }

    #[test]
    fn json_and_files() {
        let t = Thresholds::new(vec![0.125, 0.5, 0.875]).unwrap();
        assert_eq!(Thresholds::from_json(&t.to_json().unwrap()).unwrap(), t);
        assert!(matches!(
            Thresholds::from_json(r#"{"t":[0.5],"extra":1}"#),
            Err(PartitionError::Json { path: None, .. })
        ));
        assert!(matches!(
            Thresholds::from_json(r#"{"t":[]}"#),
            Err(PartitionError::TooFewGrades { .. })
        ));

        let dir =
            std::env::temp_dir().join(format!("taosr1-partition-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.json");
        t.save(&good).unwrap();
        assert_eq!(Thresholds::load(&good).unwrap(), t);

        let bad_json = dir.join("bad.json");
        std::fs::write(&bad_json, "not json").unwrap();
        let err = Thresholds::load(&bad_json).unwrap_err();
        assert!(matches!(err, PartitionError::Json { path: Some(_), .. }));
        assert!(err.to_string().contains("bad.json"), "{err}");

        let bad_vals = dir.join("bad-values.json");
        std::fs::write(&bad_vals, r#"{"t":[0.5,7.0]}"#).unwrap();
        let err = Thresholds::load(&bad_vals).unwrap_err();
        assert!(matches!(err, PartitionError::InvalidThresholdsFile { .. }));
        assert!(err.to_string().contains("bad-values.json"), "{err}");
        assert!(err.to_string().contains("t_2"), "{err}");

        let err = t.save(dir.join("no/such/dir/t.json")).unwrap_err();
        assert!(matches!(err, PartitionError::Io { .. }));
        std::fs::remove_dir_all(&dir).ok();
    }

    /// Random distributions on the lattice `n_g / 1024`: every sum below is exact in `f32`
    /// and `f64`, so monotonicity can be asserted with no tolerance at all.
    fn lattice_counts() -> impl Strategy<Value = Vec<u32>> {
        (2usize..=6).prop_flat_map(|k| {
            prop::collection::vec(0u32..=1024, k - 1).prop_map(move |mut cuts| {
                cuts.sort_unstable();
                let mut counts = Vec::with_capacity(k);
                let mut prev = 0;
                for c in cuts {
                    counts.push(c - prev);
                    prev = c;
                }
                counts.push(1024 - prev);
                counts
            })
        })
    }

    fn from_counts(counts: &[u32]) -> GradeDistribution {
        GradeDistribution::new(counts.iter().map(|&c| c as f32 / 1024.0).collect(), 0.0).unwrap()
    }

    proptest! {
        #[test]
        fn fosd_monotone_exact(
            counts in lattice_counts(),
            seed in any::<(usize, usize, u32)>(),
            t_raw in prop::collection::vec(0.0f32..=1.0, 5),
        ) {
            let k = counts.len();
            let (i_raw, j_raw, amount_raw) = seed;
            let i = i_raw % (k - 1);
            let j = i + 1 + j_raw % (k - 1 - i);
            prop_assume!(counts[i] > 0);
            let amount = 1 + amount_raw % counts[i];
            let mut moved = counts.clone();
            moved[i] -= amount;
            moved[j] += amount;

            let part = Partitioner::new(Thresholds::new(t_raw[..k - 1].to_vec()).unwrap());
            let before = part.partition(&from_counts(&counts)).unwrap();
            let after = part.partition(&from_counts(&moved)).unwrap();
            prop_assert!(after.grade >= before.grade, "{before:?} -> {after:?}");
            prop_assert!(after.score >= before.score, "{before:?} -> {after:?}");
            prop_assert!(after.cumulative.iter().zip(&before.cumulative).all(|(a, b)| a >= b));
            prop_assert!((0.0..=1.0).contains(&after.score));
        }

        #[test]
        fn fosd_monotone_continuous(
            weights in prop::collection::vec(0.0f32..1.0, 2..8),
            frac in 0.0f32..=1.0,
            seed in any::<(usize, usize)>(),
            t_raw in prop::collection::vec(0.0f32..=1.0, 7),
        ) {
            prop_assume!(weights.iter().sum::<f32>() > 1e-3);
            let before_d = GradeDistribution::from_unnormalized(weights).unwrap();
            let k = before_d.num_grades();
            let i = seed.0 % (k - 1);
            let j = i + 1 + seed.1 % (k - 1 - i);
            let mut p = before_d.probs().to_vec();
            let delta = p[i] * frac;
            p[i] -= delta;
            p[j] += delta;
            let after_d = GradeDistribution::new(p, 1e-4).unwrap();

            let thresholds = Thresholds::new(t_raw[..k - 1].to_vec()).unwrap();
            // f32 rounding of the moved mass can shift untouched c[k] by an ulp; skip the
            // measure-zero cases where that lands exactly on a threshold.
            let c_before = before_d.cumulative();
            prop_assume!((1..k).all(|g| (c_before[g] - thresholds.as_slice()[g - 1]).abs() > 1e-5));
            let part = Partitioner::new(thresholds);
            let before = part.partition(&before_d).unwrap();
            let after = part.partition(&after_d).unwrap();
            prop_assert!(after.grade >= before.grade, "{before:?} -> {after:?}");
            prop_assert!(after.score >= before.score - 1e-6, "{before:?} -> {after:?}");
            prop_assert!((0.0..=1.0).contains(&after.score));
            prop_assert!(after.cumulative.windows(2).all(|w| w[0] >= w[1]));
            prop_assert_eq!(after.cumulative[0], 1.0);
        }

        #[test]
        fn score_equals_normalised_expected_grade(weights in prop::collection::vec(0.0f32..1.0, 2..8)) {
            prop_assume!(weights.iter().sum::<f32>() > 1e-3);
            let d = GradeDistribution::from_unnormalized(weights).unwrap();
            let k = d.num_grades();
            let expected: f32 = d.probs().iter().enumerate().map(|(g, &p)| g as f32 * p).sum::<f32>()
                / (k - 1) as f32;
            prop_assert!((d.score() - expected).abs() < 1e-5);
        }

        #[test]
        fn monotone_thresholds_grade_is_count(
            weights in prop::collection::vec(0.0f32..1.0, 2..8),
            mut t_raw in prop::collection::vec(0.0f32..=1.0, 7),
        ) {
            prop_assume!(weights.iter().sum::<f32>() > 1e-3);
            let d = GradeDistribution::from_unnormalized(weights).unwrap();
            let k = d.num_grades();
            t_raw.truncate(k - 1);
            t_raw.sort_by(f32::total_cmp);
            let part = Partitioner::new(Thresholds::new(t_raw.clone()).unwrap());
            let p = part.partition(&d).unwrap();
            let count = (1..k).filter(|&g| p.cumulative[g] >= t_raw[g - 1]).count();
            prop_assert_eq!(p.grade, count);
        }
    }
}
