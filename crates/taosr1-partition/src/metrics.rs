//! Classification and ranking metrics over 0-based grade indices.
//!
//! All functions validate their inputs and return [`PartitionError`] instead of panicking:
//! [`PartitionError::EmptyInput`] for empty inputs, [`PartitionError::LengthMismatch`] when
//! paired inputs differ in length, and [`PartitionError::LabelOutOfRange`] for labels `>= k`.
//!
//! ```
//! use taosr1_partition::metrics::{accuracy, macro_f1};
//!
//! let pred = [0, 1, 1, 3];
//! let gold = [0, 1, 2, 3];
//! assert_eq!(accuracy(&pred, &gold)?, 0.75);
//! assert!(macro_f1(&pred, &gold, 4)? < 1.0);
//! # Ok::<(), taosr1_partition::PartitionError>(())
//! ```

use crate::PartitionError;

/// Largest relevance gain accepted by [`ndcg_at`]; `2^64 - 1` is still far from `f64`
/// overflow, and real grade scales are tiny.
pub const MAX_GAIN: usize = 64;

fn check_pair(pred: &[usize], gold: &[usize]) -> Result<(), PartitionError> {
    if pred.len() != gold.len() {
        return Err(PartitionError::LengthMismatch {
            what: "predictions vs gold",
            left: pred.len(),
            right: gold.len(),
        });
    }
    if pred.is_empty() {
        return Err(PartitionError::EmptyInput {
            what: "predictions",
        });
    }
    Ok(())
}

fn check_labels(what: &'static str, labels: &[usize], k: usize) -> Result<(), PartitionError> {
    match labels.iter().position(|&l| l >= k) {
        Some(index) => Err(PartitionError::LabelOutOfRange {
            what,
            index,
            label: labels[index],
            num_grades: k,
        }),
        None => Ok(()),
    }
}

/// Fraction of positions where `pred[i] == gold[i]`.
///
/// Errors: [`PartitionError::LengthMismatch`], [`PartitionError::EmptyInput`].
///
/// ```
/// use taosr1_partition::metrics::accuracy;
/// assert_eq!(accuracy(&[1, 2, 3, 0], &[1, 2, 0, 0])?, 0.75);
/// assert!(accuracy(&[], &[]).is_err());
/// # Ok::<(), taosr1_partition::PartitionError>(())
/// ```
pub fn accuracy(pred: &[usize], gold: &[usize]) -> Result<f64, PartitionError> {
    check_pair(pred, gold)?;
    let correct = pred.iter().zip(gold).filter(|(p, g)| p == g).count();
    Ok(correct as f64 / pred.len() as f64)
}

/// `k × k` confusion matrix with rows = gold grade and columns = predicted grade:
/// `m[gold][pred]` counts the examples with that pair.
///
/// Errors: [`PartitionError::LengthMismatch`], [`PartitionError::EmptyInput`],
/// [`PartitionError::LabelOutOfRange`] (naming `"predictions"` or `"gold"`).
///
/// ```
/// use taosr1_partition::metrics::confusion_matrix;
/// let m = confusion_matrix(&[0, 1, 1], &[0, 0, 1], 2)?;
/// assert_eq!(m, vec![vec![1, 1], vec![0, 1]]);
/// # Ok::<(), taosr1_partition::PartitionError>(())
/// ```
pub fn confusion_matrix(
    pred: &[usize],
    gold: &[usize],
    k: usize,
) -> Result<Vec<Vec<usize>>, PartitionError> {
    check_pair(pred, gold)?;
    check_labels("predictions", pred, k)?;
    check_labels("gold", gold, k)?;
    let mut m = vec![vec![0usize; k]; k];
    for (&p, &g) in pred.iter().zip(gold) {
        m[g][p] += 1;
    }
    Ok(m)
}

/// Macro-averaged F1 over the grades `0..k`.
///
/// For each grade `c`, `F1_c = 2·TP / (2·TP + FP + FN)`. Grades that occur neither in `gold`
/// nor in `pred` have an undefined F1 and are left out of the average (so a validation set
/// without any L2 example is not penalised for it); a grade that occurs on only one side
/// scores 0.
///
/// Errors: as [`confusion_matrix`].
///
/// ```
/// use taosr1_partition::metrics::macro_f1;
/// // grade 0: TP=1 FP=0 FN=1 -> 2/3; grade 1: TP=1 FP=1 FN=0 -> 2/3; grade 2 absent.
/// let f1 = macro_f1(&[0, 1, 1], &[0, 0, 1], 3)?;
/// assert!((f1 - 2.0 / 3.0).abs() < 1e-12);
/// # Ok::<(), taosr1_partition::PartitionError>(())
/// ```
pub fn macro_f1(pred: &[usize], gold: &[usize], k: usize) -> Result<f64, PartitionError> {
    let m = confusion_matrix(pred, gold, k)?;
    Ok(macro_f1_from_confusion(&m))
}

/// Macro F1 of a square confusion matrix (rows = gold); see [`macro_f1`].
pub(crate) fn macro_f1_from_confusion(m: &[Vec<usize>]) -> f64 {
    let k = m.len();
    let mut sum = 0.0;
    let mut classes = 0usize;
    for c in 0..k {
        let tp = m[c][c];
        let gold_total: usize = m[c].iter().sum();
        let pred_total: usize = m.iter().map(|row| row[c]).sum();
        let denom = gold_total + pred_total; // = 2TP + FP + FN
        if denom == 0 {
            continue;
        }
        sum += 2.0 * tp as f64 / denom as f64;
        classes += 1;
    }
    if classes == 0 {
        0.0
    } else {
        sum / classes as f64
    }
}

/// Accuracy of a square confusion matrix (rows = gold); 0 for an empty matrix.
pub(crate) fn accuracy_from_confusion(m: &[Vec<usize>]) -> f64 {
    let total: usize = m.iter().flatten().sum();
    if total == 0 {
        return 0.0;
    }
    let correct: usize = (0..m.len()).map(|c| m[c][c]).sum();
    correct as f64 / total as f64
}

/// Normalised discounted cumulative gain of the ranking induced by `scores` (higher score =
/// ranked earlier), truncated at the first `k_cutoff` positions.
///
/// `gains[i]` is the graded relevance of item `i`, normally its grade index (0 = worst).
/// With the exponential gain and logarithmic discount
///
/// ```text
/// DCG@k  = Σ_{r=1..min(k,n)} (2^{g_r} - 1) / log2(r + 1)
/// NDCG@k = DCG@k / IDCG@k
/// ```
///
/// where `g_r` is the gain of the item at rank `r` and `IDCG@k` is the DCG of the ideal
/// (gain-sorted) ranking. Ties in `scores` keep the input order (a stable sort), and a list
/// whose gains are all zero has `IDCG = 0` and NDCG defined as `0.0` (the scikit-learn
/// convention; callers averaging over queries may prefer to skip such lists). The result lies
/// in `[0, 1]`.
///
/// Errors: [`PartitionError::LengthMismatch`], [`PartitionError::EmptyInput`],
/// [`PartitionError::InvalidCutoff`] for `k_cutoff == 0`, [`PartitionError::NanScore`], and
/// [`PartitionError::GainTooLarge`] for a gain above [`MAX_GAIN`].
///
/// ```
/// use taosr1_partition::metrics::ndcg_at;
/// // Perfect ordering.
/// assert_eq!(ndcg_at(&[0.9, 0.5, 0.1], &[3, 2, 0], 3)?, 1.0);
/// // Reversed ordering of two items with gains 1 and 0: DCG = 1/log2(3), IDCG = 1.
/// let n = ndcg_at(&[0.1, 0.9], &[1, 0], 2)?;
/// assert!((n - 1.0 / 3f64.log2()).abs() < 1e-12);
/// # Ok::<(), taosr1_partition::PartitionError>(())
/// ```
pub fn ndcg_at(scores: &[f32], gains: &[usize], k_cutoff: usize) -> Result<f64, PartitionError> {
    if scores.len() != gains.len() {
        return Err(PartitionError::LengthMismatch {
            what: "scores vs gains",
            left: scores.len(),
            right: gains.len(),
        });
    }
    if scores.is_empty() {
        return Err(PartitionError::EmptyInput { what: "scores" });
    }
    if k_cutoff == 0 {
        return Err(PartitionError::InvalidCutoff { k: k_cutoff });
    }
    if let Some(index) = scores.iter().position(|s| s.is_nan()) {
        return Err(PartitionError::NanScore { index });
    }
    if let Some(index) = gains.iter().position(|&g| g > MAX_GAIN) {
        return Err(PartitionError::GainTooLarge {
            index,
            gain: gains[index],
            max: MAX_GAIN,
        });
    }

    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let actual = dcg(order.iter().map(|&i| gains[i]), k_cutoff);

    let mut ideal = gains.to_vec();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg = dcg(ideal.into_iter(), k_cutoff);

    if idcg <= 0.0 {
        Ok(0.0)
    } else {
        Ok((actual / idcg).clamp(0.0, 1.0))
    }
}

fn dcg(gains_in_rank_order: impl Iterator<Item = usize>, k_cutoff: usize) -> f64 {
    gains_in_rank_order
        .take(k_cutoff)
        .enumerate()
        .map(|(pos, g)| {
            // pos is 0-based: rank r = pos + 1, discount log2(r + 1) = log2(pos + 2).
            let gain = 2f64.powi(g as i32) - 1.0;
            gain / ((pos + 2) as f64).log2()
        })
        .sum()
}

/// Mean over groups (queries) of [`ndcg_at`] within each group: the items of `groups[g]` are
/// ranked by their `scores` and scored against their `gains`. Groups whose gains are all zero
/// (no relevant item: NDCG undefined) are left out of the mean; when every group is such,
/// the result is `0.0`.
///
/// Errors: those of [`ndcg_at`], and [`PartitionError::EmptyInput`] for no groups or an
/// empty group, [`PartitionError::LengthMismatch`] when an index is past `scores`.
///
/// ```
/// use taosr1_partition::metrics::mean_ndcg_by_group;
/// let scores = [0.9, 0.1, 0.2, 0.8];
/// let gains = [2, 0, 1, 0];
/// // query A (items 0, 1) is ranked perfectly, query B (items 2, 3) reversed
/// let n = mean_ndcg_by_group(&scores, &gains, &[&[0, 1], &[2, 3]], 10)?;
/// assert!((n - (1.0 + 1.0 / 3f64.log2()) / 2.0).abs() < 1e-12);
/// # Ok::<(), taosr1_partition::PartitionError>(())
/// ```
pub fn mean_ndcg_by_group(
    scores: &[f32],
    gains: &[usize],
    groups: &[&[usize]],
    k_cutoff: usize,
) -> Result<f64, PartitionError> {
    if groups.is_empty() {
        return Err(PartitionError::EmptyInput { what: "groups" });
    }
    let (mut sum, mut n) = (0.0, 0usize);
    for group in groups {
        if let Some(&bad) = group
            .iter()
            .find(|&&i| i >= scores.len() || i >= gains.len())
        {
            return Err(PartitionError::LengthMismatch {
                what: "group index vs scores",
                left: bad,
                right: scores.len().min(gains.len()),
            });
        }
        let s: Vec<f32> = group.iter().map(|&i| scores[i]).collect();
        let g: Vec<usize> = group.iter().map(|&i| gains[i]).collect();
        if g.iter().all(|&x| x == 0) {
            if g.is_empty() {
                return Err(PartitionError::EmptyInput { what: "group" });
            }
            continue;
        }
        sum += ndcg_at(&s, &g, k_cutoff)?;
        n += 1;
    }
    Ok(if n == 0 { 0.0 } else { sum / n as f64 })
}

/// A point estimate with a bootstrap percentile interval; it prints as `0.397 [0.381, 0.413]`.
///
/// ```
/// use taosr1_partition::metrics::Interval;
/// let f1 = Interval { estimate: 0.397, lo: 0.3812, hi: 0.4129 };
/// assert_eq!(f1.to_string(), "0.397 [0.381, 0.413]");
/// assert!(f1.lo <= f1.estimate && f1.estimate <= f1.hi);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Interval {
    /// The metric on the data as it is.
    pub estimate: f64,
    /// Lower end of the interval.
    pub lo: f64,
    /// Upper end of the interval.
    pub hi: f64,
}

impl Interval {
    /// Whether the two intervals share no point (`self` entirely above or below `other`).
    ///
    /// ```
    /// use taosr1_partition::metrics::Interval;
    /// let a = Interval { estimate: 0.5, lo: 0.45, hi: 0.55 };
    /// let b = Interval { estimate: 0.4, lo: 0.35, hi: 0.44 };
    /// assert!(a.disjoint(&b) && b.disjoint(&a));
    /// assert!(!a.disjoint(&Interval { estimate: 0.5, lo: 0.3, hi: 0.46 }));
    /// ```
    pub fn disjoint(&self, other: &Interval) -> bool {
        self.lo > other.hi || other.lo > self.hi
    }
}

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.3} [{:.3}, {:.3}]", self.estimate, self.lo, self.hi)
    }
}

/// Bootstrap over groups (queries, the unit the data was sampled by): `resamples` times,
/// draw as many groups as there are, with replacement, and compute `metric` on them; the
/// interval is the `(1 - level) / 2` and `(1 + level) / 2` percentiles of those values, the
/// estimate `metric` on all groups once. `metric` receives the drawn groups, each the list of
/// its item indices (a group drawn twice appears twice), so a per-query metric can average
/// over the entries and a pooled one concatenate them. Deterministic for a `seed`.
///
/// Errors: [`PartitionError::InvalidBootstrap`] for `resamples == 0` or `level` outside
/// `(0, 1)`, [`PartitionError::EmptyInput`] for no groups, and any error of `metric`.
///
/// ```
/// use taosr1_partition::metrics::{accuracy, bootstrap_groups};
/// let pred = [1, 1, 0, 0, 1, 1];
/// let gold = [1, 1, 0, 1, 1, 0];
/// let groups: Vec<Vec<usize>> = vec![vec![0, 1], vec![2, 3], vec![4, 5]];
/// let acc = |drawn: &[&[usize]]| {
///     let idx: Vec<usize> = drawn.iter().flat_map(|g| g.iter().copied()).collect();
///     let p: Vec<usize> = idx.iter().map(|&i| pred[i]).collect();
///     let g: Vec<usize> = idx.iter().map(|&i| gold[i]).collect();
///     accuracy(&p, &g)
/// };
/// let ci = bootstrap_groups(&groups, 1000, 0.95, 7, acc)?;
/// assert!((ci.estimate - 4.0 / 6.0).abs() < 1e-12);
/// assert!(ci.lo <= ci.estimate && ci.estimate <= ci.hi);
/// assert!(ci.lo >= 0.5 - 1e-12 && ci.hi <= 1.0); // each query's accuracy is 1 or 1/2
/// # Ok::<(), taosr1_partition::PartitionError>(())
/// ```
pub fn bootstrap_groups<G, F>(
    groups: &[G],
    resamples: usize,
    level: f64,
    seed: u64,
    metric: F,
) -> Result<Interval, PartitionError>
where
    G: AsRef<[usize]>,
    F: Fn(&[&[usize]]) -> Result<f64, PartitionError>,
{
    if resamples == 0 {
        return Err(PartitionError::InvalidBootstrap {
            reason: "at least one resample is needed".into(),
        });
    }
    if !(level > 0.0 && level < 1.0) {
        return Err(PartitionError::InvalidBootstrap {
            reason: format!("level {level} is not in (0, 1)"),
        });
    }
    if groups.is_empty() {
        return Err(PartitionError::EmptyInput { what: "groups" });
    }
    let all: Vec<&[usize]> = groups.iter().map(AsRef::as_ref).collect();
    let estimate = metric(&all)?;
    // splitmix64: a small, well-mixed generator; no dependency for a percentile bootstrap
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let n = all.len();
    let mut values = Vec::with_capacity(resamples);
    let mut drawn: Vec<&[usize]> = Vec::with_capacity(n);
    for _ in 0..resamples {
        drawn.clear();
        for _ in 0..n {
            // multiply-shift: an unbiased enough index for n far below 2^32
            let i = ((next() >> 32) * n as u64) >> 32;
            drawn.push(all[i as usize]);
        }
        values.push(metric(&drawn)?);
    }
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((q * (resamples - 1) as f64).round() as usize).min(resamples - 1)];
    Ok(Interval {
        estimate,
        lo: at((1.0 - level) / 2.0),
        hi: at((1.0 + level) / 2.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    #[test]
    fn accuracy_by_hand() {
        assert_abs_diff_eq!(accuracy(&[0, 1, 2], &[0, 1, 1]).unwrap(), 2.0 / 3.0);
        assert!(matches!(
            accuracy(&[0, 1], &[0]),
            Err(PartitionError::LengthMismatch {
                left: 2,
                right: 1,
                ..
            })
        ));
        assert!(matches!(
            accuracy(&[], &[]),
            Err(PartitionError::EmptyInput { .. })
        ));
    }

    #[test]
    fn confusion_by_hand() {
        let pred = [0, 2, 2, 1, 0];
        let gold = [0, 2, 1, 1, 2];
        let m = confusion_matrix(&pred, &gold, 3).unwrap();
        assert_eq!(m, vec![vec![1, 0, 0], vec![0, 1, 1], vec![1, 0, 1]]);
        assert!(matches!(
            confusion_matrix(&[0, 3], &[0, 1], 3),
            Err(PartitionError::LabelOutOfRange {
                what: "predictions",
                index: 1,
                label: 3,
                num_grades: 3
            })
        ));
        assert!(matches!(
            confusion_matrix(&[0, 1], &[5, 1], 3),
            Err(PartitionError::LabelOutOfRange {
                what: "gold",
                index: 0,
                ..
            })
        ));
    }

    #[test]
    fn macro_f1_by_hand() {
        // pred = [0, 2, 2, 1, 0], gold = [0, 2, 1, 1, 2]
        // grade 0: TP 1, FP 1, FN 0 -> 2/3
        // grade 1: TP 1, FP 0, FN 1 -> 2/3
        // grade 2: TP 1, FP 1, FN 1 -> 1/2
        // macro = (2/3 + 2/3 + 1/2) / 3 = 11/18
        let f1 = macro_f1(&[0, 2, 2, 1, 0], &[0, 2, 1, 1, 2], 3).unwrap();
        assert_abs_diff_eq!(f1, 11.0 / 18.0, epsilon = 1e-12);
        // Grade 3 never occurs: it is skipped rather than counted as 0.
        let f1_k4 = macro_f1(&[0, 2, 2, 1, 0], &[0, 2, 1, 1, 2], 4).unwrap();
        assert_abs_diff_eq!(f1_k4, 11.0 / 18.0, epsilon = 1e-12);
        // A grade that is predicted but never gold scores 0.
        let f1 = macro_f1(&[1, 1], &[1, 0], 2).unwrap();
        // grade 0: TP 0, FP 0, FN 1 -> 0; grade 1: TP 1, FP 1, FN 0 -> 2/3
        assert_abs_diff_eq!(f1, 1.0 / 3.0, epsilon = 1e-12);
        assert_abs_diff_eq!(macro_f1(&[2, 0], &[2, 0], 3).unwrap(), 1.0);
    }

    #[test]
    fn ndcg_four_items_by_hand() {
        // Items (score, gain): a (0.9, 1), b (0.8, 3), c (0.3, 0), d (0.1, 2).
        // Ranking by score: a, b, c, d -> gains 1, 3, 0, 2.
        // DCG@4 = (2^1-1)/log2 2 + (2^3-1)/log2 3 + 0/log2 4 + (2^2-1)/log2 5
        //       = 1 + 7/1.5849625 + 0 + 3/2.3219281
        //       = 1 + 4.4165083 + 1.2920297 = 6.7085380
        // Ideal: gains 3, 2, 1, 0:
        // IDCG@4 = 7/1 + 3/1.5849625 + 1/2 + 0 = 7 + 1.8927893 + 0.5 = 9.3927893
        // NDCG@4 = 6.7085380 / 9.3927893 = 0.7142221
        let scores = [0.9, 0.8, 0.3, 0.1];
        let gains = [1, 3, 0, 2];
        let n4 = ndcg_at(&scores, &gains, 4).unwrap();
        assert_abs_diff_eq!(n4, 0.714_222_1, epsilon = 1e-6);
        // @2: DCG = 1 + 4.4165083 = 5.4165083; IDCG = 7 + 1.8927893 = 8.8927893 -> 0.6090899
        let n2 = ndcg_at(&scores, &gains, 2).unwrap();
        assert_abs_diff_eq!(n2, 0.609_089_9, epsilon = 1e-6);
        // A cutoff past the end is the same as the full list.
        assert_abs_diff_eq!(ndcg_at(&scores, &gains, 100).unwrap(), n4);
    }

    #[test]
    fn ndcg_edge_cases() {
        assert_eq!(ndcg_at(&[0.1, 0.2], &[0, 0], 2).unwrap(), 0.0);
        // Ties keep input order: the first item (gain 0) is ranked first.
        let tie = ndcg_at(&[0.5, 0.5], &[0, 1], 2).unwrap();
        assert_abs_diff_eq!(tie, 1.0 / 3f64.log2(), epsilon = 1e-12);
        assert!(matches!(
            ndcg_at(&[0.1], &[0, 1], 1),
            Err(PartitionError::LengthMismatch { .. })
        ));
        assert!(matches!(
            ndcg_at(&[], &[], 1),
            Err(PartitionError::EmptyInput { .. })
        ));
        assert!(matches!(
            ndcg_at(&[0.1], &[1], 0),
            Err(PartitionError::InvalidCutoff { k: 0 })
        ));
        assert!(matches!(
            ndcg_at(&[0.1, f32::NAN], &[1, 0], 2),
            Err(PartitionError::NanScore { index: 1 })
        ));
        assert!(matches!(
            ndcg_at(&[0.1], &[65], 1),
            Err(PartitionError::GainTooLarge { gain: 65, .. })
        ));
        assert!(ndcg_at(&[f32::INFINITY, f32::NEG_INFINITY], &[64, 0], 2).unwrap() == 1.0);
    }

    #[test]
    fn bootstrap_interval_of_a_mean_matches_the_normal_approximation() {
        // 400 groups with one value each, spread uniformly on [0, 1): sd = 1/sqrt(12)
        let values: Vec<f64> = (0..400)
            .map(|i| ((i * 7919) % 400) as f64 / 400.0)
            .collect();
        let groups: Vec<Vec<usize>> = (0..400).map(|i| vec![i]).collect();
        let mean =
            |d: &[&[usize]]| Ok(d.iter().map(|g| values[g[0]]).sum::<f64>() / d.len() as f64);
        let ci = bootstrap_groups(&groups, 2000, 0.95, 3, mean).unwrap();
        let sd = (values
            .iter()
            .map(|v| (v - ci.estimate).powi(2))
            .sum::<f64>()
            / 400.0)
            .sqrt();
        let half = 1.96 * sd / 20.0;
        assert_abs_diff_eq!(ci.estimate, 399.0 / 800.0, epsilon = 1e-12);
        assert!(
            ((ci.hi - ci.lo) / 2.0 - half).abs() < 0.15 * half,
            "{ci} vs ±{half}"
        );
        assert!(ci.lo < ci.estimate && ci.estimate < ci.hi);
        // deterministic for a seed, different for another
        assert_eq!(ci, bootstrap_groups(&groups, 2000, 0.95, 3, mean).unwrap());
        assert_ne!(ci, bootstrap_groups(&groups, 2000, 0.95, 4, mean).unwrap());
        // a metric that does not depend on the draw has a zero-width interval
        let one = bootstrap_groups(&groups, 50, 0.9, 1, |_| Ok(0.25)).unwrap();
        assert_eq!((one.lo, one.estimate, one.hi), (0.25, 0.25, 0.25));
        // bad settings are typed errors
        assert!(matches!(
            bootstrap_groups(&groups, 0, 0.95, 1, mean),
            Err(PartitionError::InvalidBootstrap { .. })
        ));
        assert!(matches!(
            bootstrap_groups(&groups, 10, 1.0, 1, mean),
            Err(PartitionError::InvalidBootstrap { .. })
        ));
        let none: Vec<Vec<usize>> = Vec::new();
        assert!(bootstrap_groups(&none, 10, 0.9, 1, mean).is_err());
    }

    #[test]
    fn mean_ndcg_by_group_skips_groups_without_relevant_items() {
        let scores = [0.9, 0.1, 0.5, 0.4];
        let gains = [1, 0, 0, 0];
        assert_abs_diff_eq!(
            mean_ndcg_by_group(&scores, &gains, &[&[0, 1], &[2, 3]], 10).unwrap(),
            1.0
        );
        assert_abs_diff_eq!(
            mean_ndcg_by_group(&scores, &gains, &[&[2, 3]], 10).unwrap(),
            0.0
        );
        assert!(mean_ndcg_by_group(&scores, &gains, &[&[0, 9]], 10).is_err());
        assert!(mean_ndcg_by_group(&scores, &gains, &[], 10).is_err());
    }
}
