//! Fitting thresholds on a labelled validation set.

use crate::metrics::{accuracy_from_confusion, macro_f1_from_confusion};
use crate::{metrics, GradeDistribution, PartitionError, Thresholds};

/// The objective maximised by [`fit_thresholds`].
///
/// ```
/// use taosr1_partition::Metric;
/// assert_eq!(Metric::Accuracy.evaluate(&[0, 1], &[0, 0], 2)?, 0.5);
/// # Ok::<(), taosr1_partition::PartitionError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Metric {
    /// [`metrics::accuracy`].
    Accuracy,
    /// [`metrics::macro_f1`].
    MacroF1,
}

impl Metric {
    /// Evaluates the metric on predicted vs gold grade indices for a `k`-grade scale.
    ///
    /// Errors: as [`metrics::confusion_matrix`].
    ///
    /// ```
    /// use taosr1_partition::Metric;
    /// let f1 = Metric::MacroF1.evaluate(&[0, 1, 1], &[0, 0, 1], 2)?;
    /// assert!((f1 - 2.0 / 3.0).abs() < 1e-12);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn evaluate(self, pred: &[usize], gold: &[usize], k: usize) -> Result<f64, PartitionError> {
        let m = metrics::confusion_matrix(pred, gold, k)?;
        Ok(self.on_confusion(&m))
    }

    pub(crate) fn on_confusion(self, m: &[Vec<usize>]) -> f64 {
        match self {
            Metric::Accuracy => accuracy_from_confusion(m),
            Metric::MacroF1 => macro_f1_from_confusion(m),
        }
    }
}

/// Search settings for [`fit_thresholds`]. `#[non_exhaustive]`: start from
/// [`FitConfig::default`] and adjust fields or use the `with_*` methods.
///
/// ```
/// use taosr1_partition::FitConfig;
/// let cfg = FitConfig::default().with_max_sweeps(3).with_grid_steps(10);
/// assert_eq!((cfg.max_sweeps, cfg.grid_steps), (3, 10));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FitConfig {
    /// The fixed grid `{i / grid_steps : i = 0..=grid_steps}` added to every coordinate's
    /// candidates (0 disables the grid). Default 20 (steps of 0.05).
    pub grid_steps: usize,
    /// At most this many candidates per coordinate are taken from the data's cumulative
    /// values (evenly spaced quantiles of the sorted distinct values when there are more;
    /// 0 disables data candidates). Default 512.
    pub max_data_candidates: usize,
    /// Maximum number of full coordinate sweeps. Default 10.
    pub max_sweeps: usize,
}

impl Default for FitConfig {
    fn default() -> Self {
        Self {
            grid_steps: 20,
            max_data_candidates: 512,
            max_sweeps: 10,
        }
    }
}

impl FitConfig {
    /// Sets [`FitConfig::grid_steps`].
    ///
    /// ```
    /// use taosr1_partition::FitConfig;
    /// assert_eq!(FitConfig::default().with_grid_steps(4).grid_steps, 4);
    /// ```
    pub fn with_grid_steps(mut self, grid_steps: usize) -> Self {
        self.grid_steps = grid_steps;
        self
    }

    /// Sets [`FitConfig::max_data_candidates`].
    ///
    /// ```
    /// use taosr1_partition::FitConfig;
    /// assert_eq!(FitConfig::default().with_max_data_candidates(0).max_data_candidates, 0);
    /// ```
    pub fn with_max_data_candidates(mut self, max_data_candidates: usize) -> Self {
        self.max_data_candidates = max_data_candidates;
        self
    }

    /// Sets [`FitConfig::max_sweeps`].
    ///
    /// ```
    /// use taosr1_partition::FitConfig;
    /// assert_eq!(FitConfig::default().with_max_sweeps(1).max_sweeps, 1);
    /// ```
    pub fn with_max_sweeps(mut self, max_sweeps: usize) -> Self {
        self.max_sweeps = max_sweeps;
        self
    }
}

/// What [`fit_thresholds`] found.
///
/// ```
/// use taosr1_partition::{fit_thresholds, FitConfig, GradeDistribution, Metric};
/// let dists = vec![GradeDistribution::new(vec![0.6, 0.4], 1e-6)?];
/// let report = fit_thresholds(&dists, &[1], Metric::Accuracy, FitConfig::default())?;
/// assert!(report.after >= report.before);
/// # Ok::<(), taosr1_partition::PartitionError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FitReport {
    /// The fitted thresholds.
    pub thresholds: Thresholds,
    /// The metric that was maximised.
    pub metric: Metric,
    /// Metric on the fitting set with [`Thresholds::default_for`] (all 0.5).
    pub before: f64,
    /// Metric on the fitting set with the fitted thresholds (`>= before`).
    pub after: f64,
    /// Number of coordinate sweeps performed (including the final one that found no
    /// improvement, if the search converged before `max_sweeps`).
    pub sweeps: usize,
}

/// Fits per-grade thresholds that maximise `metric` on a labelled validation set.
///
/// `dists[i]` is the answer-slot distribution for example `i` and `labels[i]` its gold grade
/// index (0 = worst). All distributions must have the same number of grades `K`.
///
/// # Algorithm
///
/// Coordinate ascent, starting from the default thresholds (all 0.5, the median rule):
///
/// 1. For every `k = 1..K`, the candidate values of `t_k` are the fixed grid
///    `{i / grid_steps}` plus the examples' cumulative values `c_i[k]` (thinned to at most
///    `max_data_candidates` quantiles). All candidates lie in `[0, 1]`, and because the rule
///    is `c[k] >= t_k`, the data values hit every distinct decision boundary.
/// 2. A sweep visits `t_1, …, t_{K-1}` in turn; with the other thresholds fixed it evaluates
///    the metric for every candidate of the current coordinate and moves to the best one,
///    but only if that is a *strict* improvement (ties among the best candidates go to the
///    one nearest the current value).
/// 3. Sweeps repeat until one changes nothing or `max_sweeps` is reached.
///
/// Since the search starts at the default thresholds and only ever accepts strict
/// improvements, the returned `after` is never below `before` on the fitting set. It is a
/// local optimum, not necessarily the global one. Each candidate evaluation costs `O(n)`, so
/// a sweep costs `O((K-1) · candidates · n)`.
///
/// Errors: [`PartitionError::EmptyInput`] for an empty set,
/// [`PartitionError::LengthMismatch`] when `dists` and `labels` differ in length,
/// [`PartitionError::InconsistentGradeCount`] when the distributions disagree on `K`, and
/// [`PartitionError::LabelOutOfRange`] for a label `>= K`.
///
/// ```
/// use taosr1_partition::{fit_thresholds, FitConfig, GradeDistribution, Metric, Partitioner};
///
/// // A model that is systematically under-confident about the top grade.
/// let d = |p: [f32; 3]| GradeDistribution::new(p.to_vec(), 1e-6);
/// let dists = vec![d([0.7, 0.2, 0.1])?, d([0.2, 0.5, 0.3])?, d([0.1, 0.5, 0.4])?];
/// let labels = [0, 1, 2];
/// let report = fit_thresholds(&dists, &labels, Metric::Accuracy, FitConfig::default())?;
/// assert!((report.before - 2.0 / 3.0).abs() < 1e-12);
/// assert_eq!(report.after, 1.0);
/// let fitted = Partitioner::new(report.thresholds);
/// assert_eq!(fitted.partition(&dists[2])?.grade, 2);
/// # Ok::<(), taosr1_partition::PartitionError>(())
/// ```
pub fn fit_thresholds(
    dists: &[GradeDistribution],
    labels: &[usize],
    metric: Metric,
    config: FitConfig,
) -> Result<FitReport, PartitionError> {
    if dists.len() != labels.len() {
        return Err(PartitionError::LengthMismatch {
            what: "distributions vs labels",
            left: dists.len(),
            right: labels.len(),
        });
    }
    let k = common_grade_count(dists)?;
    if let Some(index) = labels.iter().position(|&l| l >= k) {
        return Err(PartitionError::LabelOutOfRange {
            what: "labels",
            index,
            label: labels[index],
            num_grades: k,
        });
    }

    let n = dists.len();
    // Row-major n × K cumulative matrix.
    let mut cum = vec![0.0f32; n * k];
    for (d, row) in dists.iter().zip(cum.chunks_exact_mut(k)) {
        d.cumulative_into(row);
    }

    let mut t: Vec<f32> = vec![0.5; k - 1];
    let grade_of = |row: &[f32], t: &[f32]| -> usize {
        (1..k).rev().find(|&g| row[g] >= t[g - 1]).unwrap_or(0)
    };
    let evaluate = |preds: &[usize], conf: &mut Vec<Vec<usize>>| -> f64 {
        conf.iter_mut().for_each(|r| r.fill(0));
        for (&p, &g) in preds.iter().zip(labels) {
            conf[g][p] += 1;
        }
        metric.on_confusion(conf)
    };

    let mut conf = vec![vec![0usize; k]; k];
    let mut preds: Vec<usize> = cum.chunks_exact(k).map(|row| grade_of(row, &t)).collect();
    let before = evaluate(&preds, &mut conf);
    let mut best = before;

    let candidates: Vec<Vec<f32>> = (1..k)
        .map(|g| candidates_for(&cum, k, g, &config))
        .collect();

    let mut base = vec![0usize; n];
    let mut trial = vec![0usize; n];
    let mut sweeps = 0;
    while sweeps < config.max_sweeps {
        sweeps += 1;
        let mut improved = false;
        for g in 1..k {
            // Grade of every example ignoring coordinate g (largest other satisfied k).
            for (b, row) in base.iter_mut().zip(cum.chunks_exact(k)) {
                *b = (1..k)
                    .rev()
                    .find(|&j| j != g && row[j] >= t[j - 1])
                    .unwrap_or(0);
            }
            let current = t[g - 1];
            let mut chosen: Option<(f64, f32)> = None;
            for &cand in &candidates[g - 1] {
                for ((p, &b), row) in trial.iter_mut().zip(&base).zip(cum.chunks_exact(k)) {
                    *p = if g > b && row[g] >= cand { g } else { b };
                }
                let value = evaluate(&trial, &mut conf);
                if value <= best + 1e-12 {
                    continue;
                }
                let better = match chosen {
                    None => true,
                    Some((v, c)) => {
                        value > v + 1e-12
                            || (value > v - 1e-12 && (cand - current).abs() < (c - current).abs())
                    }
                };
                if better {
                    chosen = Some((value, cand));
                }
            }
            if let Some((value, cand)) = chosen {
                t[g - 1] = cand;
                best = value;
                improved = true;
            }
        }
        if !improved {
            break;
        }
    }

    for (p, row) in preds.iter_mut().zip(cum.chunks_exact(k)) {
        *p = grade_of(row, &t);
    }
    let after = evaluate(&preds, &mut conf);
    Ok(FitReport {
        thresholds: Thresholds::new(t)?,
        metric,
        before,
        after,
        sweeps,
    })
}

/// The number of grades every distribution in a non-empty set shares.
///
/// Errors: [`PartitionError::EmptyInput`] for no distribution,
/// [`PartitionError::InconsistentGradeCount`] naming the first that differs.
pub(crate) fn common_grade_count(dists: &[GradeDistribution]) -> Result<usize, PartitionError> {
    let Some(first) = dists.first() else {
        return Err(PartitionError::EmptyInput {
            what: "distributions",
        });
    };
    let k = first.num_grades();
    match dists.iter().position(|d| d.num_grades() != k) {
        Some(index) => Err(PartitionError::InconsistentGradeCount {
            index,
            expected: k,
            found: dists[index].num_grades(),
        }),
        None => Ok(k),
    }
}

/// Sorted, de-duplicated candidate thresholds for coordinate `g`, all within `[0, 1]`.
fn candidates_for(cum: &[f32], k: usize, g: usize, config: &FitConfig) -> Vec<f32> {
    let mut data: Vec<f32> = cum.chunks_exact(k).map(|row| row[g]).collect();
    data.sort_by(f32::total_cmp);
    data.dedup();
    let mut out: Vec<f32> = Vec::new();
    let m = config.max_data_candidates;
    if m > 0 && !data.is_empty() {
        if data.len() <= m {
            out.extend_from_slice(&data);
        } else if m == 1 {
            out.push(data[data.len() / 2]);
        } else {
            let last = data.len() - 1;
            out.extend((0..m).map(|i| data[i * last / (m - 1)]));
        }
    }
    if config.grid_steps > 0 {
        let steps = config.grid_steps as f64;
        out.extend((0..=config.grid_steps).map(|i| (i as f64 / steps) as f32));
    }
    out.retain(|v| (0.0..=1.0).contains(v));
    out.sort_by(f32::total_cmp);
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Partitioner;
    use proptest::prelude::*;

    fn dist(p: &[f32]) -> GradeDistribution {
        GradeDistribution::new(p.to_vec(), 1e-5).unwrap()
    }

    #[test]
    fn input_errors() {
        let d = dist(&[0.5, 0.5]);
        let cfg = FitConfig::default();
        assert!(matches!(
            fit_thresholds(&[], &[], Metric::Accuracy, cfg.clone()),
            Err(PartitionError::EmptyInput { .. })
        ));
        assert!(matches!(
            fit_thresholds(
                std::slice::from_ref(&d),
                &[0, 1],
                Metric::Accuracy,
                cfg.clone()
            ),
            Err(PartitionError::LengthMismatch {
                left: 1,
                right: 2,
                ..
            })
        ));
        assert!(matches!(
            fit_thresholds(
                std::slice::from_ref(&d),
                &[2],
                Metric::Accuracy,
                cfg.clone()
            ),
            Err(PartitionError::LabelOutOfRange {
                label: 2,
                num_grades: 2,
                ..
            })
        ));
        assert!(matches!(
            fit_thresholds(
                &[d.clone(), dist(&[0.2, 0.3, 0.5])],
                &[0, 0],
                Metric::MacroF1,
                cfg
            ),
            Err(PartitionError::InconsistentGradeCount {
                index: 1,
                expected: 2,
                found: 3
            })
        ));
    }

    #[test]
    fn recovers_a_shifted_boundary() {
        // Binary task where the true boundary is P(grade >= 1) >= 0.3, not 0.5.
        let mut dists = Vec::new();
        let mut labels = Vec::new();
        for i in 0..100 {
            let p1 = i as f32 / 100.0;
            dists.push(dist(&[1.0 - p1, p1]));
            labels.push(usize::from(p1 >= 0.3));
        }
        let r = fit_thresholds(&dists, &labels, Metric::Accuracy, FitConfig::default()).unwrap();
        assert!((r.before - 0.8).abs() < 1e-9, "{r:?}");
        assert_eq!(r.after, 1.0);
        let t = r.thresholds.as_slice()[0];
        assert!(t > 0.29 && t <= 0.3, "{t}");
        let part = Partitioner::new(r.thresholds.clone());
        let preds: Vec<usize> = dists
            .iter()
            .map(|d| part.partition(d).unwrap().grade)
            .collect();
        assert_eq!(
            Metric::Accuracy.evaluate(&preds, &labels, 2).unwrap(),
            r.after
        );
    }

    #[test]
    fn zero_sweeps_returns_default() {
        let dists = vec![dist(&[0.6, 0.4])];
        let r = fit_thresholds(
            &dists,
            &[1],
            Metric::MacroF1,
            FitConfig::default().with_max_sweeps(0),
        )
        .unwrap();
        assert_eq!(r.thresholds, Thresholds::default_for(2).unwrap());
        assert_eq!((r.before, r.after, r.sweeps), (0.0, 0.0, 0));
    }

    #[test]
    fn candidate_thinning_keeps_extremes() {
        let cum: Vec<f32> = (0..1000).flat_map(|i| [1.0, i as f32 / 999.0]).collect();
        let cfg = FitConfig::default()
            .with_grid_steps(0)
            .with_max_data_candidates(5);
        let c = candidates_for(&cum, 2, 1, &cfg);
        assert_eq!(c.len(), 5);
        assert_eq!(c[0], 0.0);
        assert_eq!(c[4], 1.0);
        let none = candidates_for(&cum, 2, 1, &cfg.with_max_data_candidates(0));
        assert!(none.is_empty());
    }

    fn labelled_set() -> impl Strategy<Value = (Vec<Vec<f32>>, Vec<usize>)> {
        (2usize..=5, 1usize..40).prop_flat_map(|(k, n)| {
            (
                prop::collection::vec(prop::collection::vec(0.01f32..1.0, k), n),
                prop::collection::vec(0..k, n),
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn never_worse_than_default((weights, labels) in labelled_set(), f1 in any::<bool>()) {
            let dists: Vec<GradeDistribution> = weights
                .into_iter()
                .map(|w| GradeDistribution::from_unnormalized(w).unwrap())
                .collect();
            let metric = if f1 { Metric::MacroF1 } else { Metric::Accuracy };
            let k = dists[0].num_grades();
            let r = fit_thresholds(&dists, &labels, metric, FitConfig::default()).unwrap();
            prop_assert!(r.after >= r.before);
            prop_assert!(r.thresholds.as_slice().iter().all(|t| (0.0..=1.0).contains(t)));

            // `before` and `after` agree with evaluating the partitioner directly.
            let eval = |p: &Partitioner| {
                let preds: Vec<usize> = dists.iter().map(|d| p.partition(d).unwrap().grade).collect();
                metric.evaluate(&preds, &labels, k).unwrap()
            };
            prop_assert!((eval(&Partitioner::default_for(k).unwrap()) - r.before).abs() < 1e-12);
            prop_assert!((eval(&Partitioner::new(r.thresholds.clone())) - r.after).abs() < 1e-12);
        }
    }
}
