//! CumPT, the paper's online tiering: one threshold β over the cumulative probabilities from
//! the best grade down.
//!
//! Grades (0 = worst) are grouped into ordered tiers (0 = best), e.g. the default for four
//! grades: L4, L3 → Good; L2 → Mid; L1 → Bad. An item gets the best tier `j` whose
//! cumulative probability — the mass of every grade in tier `j` or better — reaches β; the
//! worst tier otherwise. With the default map: Good if P(L4) + P(L3) ≥ β, else Mid if
//! P(L4) + P(L3) + P(L2) ≥ β, else Bad. One number replaces one threshold per grade, and
//! [`fit_beta`] tunes it on validation data for tier macro-F1.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::metrics::macro_f1;
use crate::{GradeDistribution, PartitionError};

/// Ordered tiers (best first) and the tier of every grade.
///
/// ```
/// let map = taosr1_partition::TierMap::default_for(4)?;
/// assert_eq!(map.names(), ["Good", "Mid", "Bad"]);
/// assert_eq!(map.tier_of_grade(3)?, 0); // L4 -> Good
/// assert_eq!(map.tier_of_grade(2)?, 0); // L3 -> Good
/// assert_eq!(map.tier_of_grade(0)?, 2); // L1 -> Bad
/// # Ok::<(), taosr1_partition::PartitionError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierMap {
    names: Vec<String>,
    tier_of_grade: Vec<usize>,
}

impl TierMap {
    /// A map from tier names (best first) and the tier index of each grade (worst grade
    /// first). Every tier must hold at least one grade, and a better grade never sits in a
    /// worse tier.
    ///
    /// ```
    /// use taosr1_partition::TierMap;
    /// assert!(TierMap::new(vec!["Top".into(), "Rest".into()], vec![1, 1, 0]).is_ok());
    /// assert!(TierMap::new(vec!["Top".into(), "Rest".into()], vec![0, 1, 1]).is_err()); // inverted
    /// assert!(TierMap::new(vec!["A".into(), "B".into(), "C".into()], vec![2, 0]).is_err()); // B unused
    /// ```
    pub fn new(names: Vec<String>, tier_of_grade: Vec<usize>) -> Result<Self, PartitionError> {
        let bad = |why: String| Err(PartitionError::InvalidTierMap(why));
        if names.len() < 2 {
            return bad(format!("need at least 2 tiers, found {}", names.len()));
        }
        if tier_of_grade.len() < 2 {
            return bad(format!(
                "need at least 2 grades, found {}",
                tier_of_grade.len()
            ));
        }
        if let Some((i, n)) = names.iter().enumerate().find(|(_, n)| n.trim().is_empty()) {
            return bad(format!("tier {i} has an empty name `{n}`"));
        }
        for (g, &t) in tier_of_grade.iter().enumerate() {
            if t >= names.len() {
                return bad(format!(
                    "grade {g} maps to tier {t}, but there are {} tiers",
                    names.len()
                ));
            }
        }
        for g in 1..tier_of_grade.len() {
            if tier_of_grade[g] > tier_of_grade[g - 1] {
                return bad(format!(
                    "grade {g} (better) is in tier {} but grade {} is in the better tier {}",
                    tier_of_grade[g],
                    g - 1,
                    tier_of_grade[g - 1]
                ));
            }
        }
        if let Some(t) = (0..names.len()).find(|t| !tier_of_grade.contains(t)) {
            return bad(format!("tier {t} (`{}`) holds no grade", names[t]));
        }
        Ok(Self {
            names,
            tier_of_grade,
        })
    }

    /// The default map: for four grades L4, L3 → Good, L2 → Mid, L1 → Bad; for `k` grades
    /// the top half → Good, the next grade down → Mid, the rest → Bad (two grades: Good/Bad).
    ///
    /// ```
    /// let map = taosr1_partition::TierMap::default_for(2)?;
    /// assert_eq!(map.names(), ["Good", "Bad"]);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn default_for(num_grades: usize) -> Result<Self, PartitionError> {
        if num_grades < 2 {
            return Err(PartitionError::TooFewGrades { found: num_grades });
        }
        if num_grades == 2 {
            return Self::new(vec!["Good".into(), "Bad".into()], vec![1, 0]);
        }
        let good_from = num_grades / 2; // grades >= this are Good
        let tiers = (0..num_grades)
            .map(|g| {
                if g >= good_from {
                    0
                } else if g + 1 == good_from {
                    1
                } else {
                    2
                }
            })
            .collect::<Vec<_>>();
        let names = if tiers.contains(&2) {
            vec!["Good".into(), "Mid".into(), "Bad".into()]
        } else {
            vec!["Good".into(), "Mid".into()]
        };
        Self::new(names, tiers)
    }

    /// Tier names, best first.
    ///
    /// ```
    /// let map = taosr1_partition::TierMap::default_for(4)?;
    /// assert_eq!(map.names()[0], "Good");
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of grades the map covers.
    ///
    /// ```
    /// assert_eq!(taosr1_partition::TierMap::default_for(5)?.num_grades(), 5);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn num_grades(&self) -> usize {
        self.tier_of_grade.len()
    }

    /// Number of tiers.
    ///
    /// ```
    /// assert_eq!(taosr1_partition::TierMap::default_for(4)?.num_tiers(), 3);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn num_tiers(&self) -> usize {
        self.names.len()
    }

    /// The tier of a grade (0-based, 0 = worst grade).
    ///
    /// ```
    /// let map = taosr1_partition::TierMap::default_for(4)?;
    /// assert!(map.tier_of_grade(4).is_err());
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn tier_of_grade(&self, grade: usize) -> Result<usize, PartitionError> {
        self.tier_of_grade
            .get(grade)
            .copied()
            .ok_or(PartitionError::LabelOutOfRange {
                what: "grade",
                index: 0,
                label: grade,
                num_grades: self.num_grades(),
            })
    }

    /// `cum[j]` = probability that the grade lies in tier `j` or a better one.
    fn tier_cumulative(&self, dist: &GradeDistribution) -> Result<Vec<f32>, PartitionError> {
        if dist.num_grades() != self.num_grades() {
            return Err(PartitionError::GradeCountMismatch {
                expected: self.num_grades(),
                found: dist.num_grades(),
            });
        }
        let mut per_tier = vec![0.0f32; self.num_tiers()];
        for (g, p) in dist.probs().iter().enumerate() {
            per_tier[self.tier_of_grade[g]] += p;
        }
        let mut acc = 0.0;
        Ok(per_tier
            .into_iter()
            .map(|p| {
                acc += p;
                acc
            })
            .collect())
    }
}

/// A tier map with its single threshold β.
///
/// ```
/// use taosr1_partition::{CumPt, GradeDistribution, TierMap};
/// let cumpt = CumPt::new(TierMap::default_for(4)?, 0.6)?;
/// // P(L1..L4) = 0.1, 0.3, 0.35, 0.25: P(L4)+P(L3) = 0.6 >= 0.6 -> Good
/// let d = GradeDistribution::new(vec![0.1, 0.3, 0.35, 0.25], 1e-4)?;
/// assert_eq!(cumpt.tier(&d)?, 0);
/// // P(L4)+P(L3) = 0.5 < 0.6, + P(L2) = 0.8 >= 0.6 -> Mid
/// let d = GradeDistribution::new(vec![0.2, 0.3, 0.3, 0.2], 1e-4)?;
/// assert_eq!(cumpt.tier(&d)?, 1);
/// # Ok::<(), taosr1_partition::PartitionError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CumPt {
    map: TierMap,
    beta: f32,
}

impl CumPt {
    /// A map and β in `[0, 1]`.
    ///
    /// ```
    /// use taosr1_partition::{CumPt, TierMap};
    /// assert!(CumPt::new(TierMap::default_for(4)?, f32::NAN).is_err());
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn new(map: TierMap, beta: f32) -> Result<Self, PartitionError> {
        if !(0.0..=1.0).contains(&beta) {
            return Err(PartitionError::InvalidBeta { value: beta });
        }
        Ok(Self { map, beta })
    }

    /// The threshold.
    ///
    /// ```
    /// use taosr1_partition::{CumPt, TierMap};
    /// assert_eq!(CumPt::new(TierMap::default_for(4)?, 0.3)?.beta(), 0.3);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn beta(&self) -> f32 {
        self.beta
    }

    /// The tier map.
    ///
    /// ```
    /// use taosr1_partition::{CumPt, TierMap};
    /// let c = CumPt::new(TierMap::default_for(4)?, 0.3)?;
    /// assert_eq!(c.map(), &TierMap::default_for(4)?);
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn map(&self) -> &TierMap {
        &self.map
    }

    /// The best tier whose cumulative probability reaches β; the worst tier otherwise.
    /// Monotone: moving probability mass to a better grade never gives a worse tier.
    pub fn tier(&self, dist: &GradeDistribution) -> Result<usize, PartitionError> {
        let cum = self.map.tier_cumulative(dist)?;
        Ok(tier_at(&cum, self.beta))
    }

    /// Name of the tier [`tier`](Self::tier) picks.
    ///
    /// ```
    /// use taosr1_partition::{CumPt, GradeDistribution, TierMap};
    /// let c = CumPt::new(TierMap::default_for(4)?, 0.5)?;
    /// let d = GradeDistribution::new(vec![0.7, 0.1, 0.1, 0.1], 1e-4)?;
    /// assert_eq!(c.tier_name(&d)?, "Bad");
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn tier_name(&self, dist: &GradeDistribution) -> Result<&str, PartitionError> {
        Ok(&self.map.names[self.tier(dist)?])
    }

    /// Save as JSON, atomically (temporary file + rename).
    ///
    /// ```
    /// use taosr1_partition::{CumPt, TierMap};
    /// let path = std::env::temp_dir().join(format!("taosr1-doc-cumpt-{}.json", std::process::id()));
    /// let c = CumPt::new(TierMap::default_for(4)?, 0.42)?;
    /// c.save(&path)?;
    /// assert_eq!(CumPt::load(&path)?, c);
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), taosr1_partition::PartitionError>(())
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), PartitionError> {
        let json = serde_json::to_string_pretty(self)
            .map_err(|source| PartitionError::Json { path: None, source })?;
        crate::partition::write_atomic(path.as_ref(), json.as_bytes())
    }

    /// Read and validate a file written by [`save`](Self::save); errors name the file.
    ///
    /// ```
    /// assert!(taosr1_partition::CumPt::load("/not/here.json").is_err());
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Self, PartitionError> {
        crate::partition::load_json(path.as_ref(), |raw: CumPt| {
            Self::new(
                TierMap::new(raw.map.names, raw.map.tier_of_grade)?,
                raw.beta,
            )
        })
    }
}

fn tier_at(cum: &[f32], beta: f32) -> usize {
    cum.iter()
        .position(|&c| c >= beta)
        .unwrap_or(cum.len() - 1)
        .min(cum.len() - 1)
}

/// What [`fit_beta`] found.
///
/// ```
/// use taosr1_partition::{fit_beta, GradeDistribution, TierMap};
/// let d = GradeDistribution::new(vec![0.1, 0.1, 0.3, 0.5], 1e-4)?;
/// let fit = fit_beta(&[d], &[3], TierMap::default_for(4)?)?;
/// assert_eq!(fit.tier_macro_f1, 1.0);
/// # Ok::<(), taosr1_partition::PartitionError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct BetaFit {
    /// The fitted tiering.
    pub cumpt: CumPt,
    /// Tier macro-F1 on the fitting data at the chosen β.
    pub tier_macro_f1: f64,
    /// Tier macro-F1 at β = 0.5, for comparison.
    pub tier_macro_f1_at_half: f64,
    /// Every candidate β with its tier macro-F1 on the fitting data, β ascending (the curve a
    /// plot of macro-F1 against β draws).
    pub curve: Vec<(f32, f64)>,
}

/// Fit β on labelled data for tier macro-F1: every cumulative value in the data (and 0.5) is
/// a candidate, since the tiers only change there; ties keep the β closest to 0.5.
///
/// ```
/// use taosr1_partition::{fit_beta, GradeDistribution, TierMap};
/// let d = |p: [f32; 4]| GradeDistribution::new(p.to_vec(), 1e-4).unwrap();
/// // Good items (L4/L3) have P(L4)+P(L3) = 0.4: only a β <= 0.4 calls them Good.
/// let dists = vec![d([0.3, 0.3, 0.2, 0.2]), d([0.9, 0.05, 0.03, 0.02]), d([0.1, 0.6, 0.2, 0.1])];
/// let gold = vec![3, 0, 1];
/// let fit = fit_beta(&dists, &gold, TierMap::default_for(4)?)?;
/// assert!(fit.cumpt.beta() <= 0.4);
/// assert!(fit.tier_macro_f1 >= fit.tier_macro_f1_at_half);
/// // the curve holds every candidate, β ascending, and its best point is the fit
/// assert!(fit.curve.windows(2).all(|w| w[0].0 < w[1].0));
/// let top = fit.curve.iter().map(|&(_, f)| f).fold(f64::MIN, f64::max);
/// assert!((top - fit.tier_macro_f1).abs() < 1e-12);
/// # Ok::<(), taosr1_partition::PartitionError>(())
/// ```
pub fn fit_beta(
    dists: &[GradeDistribution],
    gold_grades: &[usize],
    map: TierMap,
) -> Result<BetaFit, PartitionError> {
    if dists.is_empty() {
        return Err(PartitionError::EmptyInput {
            what: "distributions",
        });
    }
    if dists.len() != gold_grades.len() {
        return Err(PartitionError::LengthMismatch {
            what: "distributions vs gold",
            left: dists.len(),
            right: gold_grades.len(),
        });
    }
    let gold: Vec<usize> = gold_grades
        .iter()
        .enumerate()
        .map(|(i, &g)| {
            map.tier_of_grade(g)
                .map_err(|_| PartitionError::LabelOutOfRange {
                    what: "gold",
                    index: i,
                    label: g,
                    num_grades: map.num_grades(),
                })
        })
        .collect::<Result<_, _>>()?;
    let cums: Vec<Vec<f32>> = dists
        .iter()
        .map(|d| map.tier_cumulative(d))
        .collect::<Result<_, _>>()?;
    let score = |beta: f32| -> Result<f64, PartitionError> {
        let pred: Vec<usize> = cums.iter().map(|c| tier_at(c, beta)).collect();
        macro_f1(&pred, &gold, map.num_tiers())
    };
    let mut candidates: Vec<f32> = cums
        .iter()
        .flat_map(|c| c[..c.len() - 1].iter().copied())
        .filter(|v| v.is_finite())
        .map(|v| v.clamp(0.0, 1.0))
        .collect();
    candidates.push(0.5);
    candidates.sort_by(f32::total_cmp);
    candidates.dedup();
    // at most ~1000 candidates: evenly spaced order statistics
    if candidates.len() > 1000 {
        let step = candidates.len() as f64 / 1000.0;
        let mut thinned: Vec<f32> = (0..1000)
            .map(|i| candidates[(i as f64 * step) as usize])
            .collect();
        thinned.push(0.5);
        thinned.sort_by(f32::total_cmp);
        thinned.dedup();
        candidates = thinned;
    }
    let at_half = score(0.5)?;
    let (mut best_beta, mut best) = (0.5f32, at_half);
    let mut curve = Vec::with_capacity(candidates.len());
    for &beta in &candidates {
        let f1 = score(beta)?;
        curve.push((beta, f1));
        if f1 > best + 1e-12 || (f1 >= best - 1e-12 && (beta - 0.5).abs() < (best_beta - 0.5).abs())
        {
            best = f1;
            best_beta = beta;
        }
    }
    Ok(BetaFit {
        cumpt: CumPt::new(map, best_beta)?,
        tier_macro_f1: best,
        tier_macro_f1_at_half: at_half,
        curve,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dist(p: Vec<f32>) -> GradeDistribution {
        GradeDistribution::from_unnormalized(p).unwrap()
    }

    #[test]
    fn the_paper_rule_by_hand() {
        let c = CumPt::new(TierMap::default_for(4).unwrap(), 0.55).unwrap();
        // P(L4)+P(L3) = 0.5 < 0.55; + P(L2) = 0.75 >= 0.55 -> Mid
        assert_eq!(c.tier(&dist(vec![0.25, 0.25, 0.25, 0.25])).unwrap(), 1);
        // 0.56 -> Good
        assert_eq!(c.tier(&dist(vec![0.2, 0.24, 0.26, 0.3])).unwrap(), 0);
        // 0.3 and 0.5 -> Bad
        assert_eq!(c.tier(&dist(vec![0.5, 0.2, 0.2, 0.1])).unwrap(), 2);
        // β = 0 puts everything in the best tier, β = 1 needs all the mass
        let zero = CumPt::new(TierMap::default_for(4).unwrap(), 0.0).unwrap();
        assert_eq!(zero.tier(&dist(vec![0.97, 0.01, 0.01, 0.01])).unwrap(), 0);
        assert!(CumPt::new(TierMap::default_for(4).unwrap(), 1.5).is_err());
        // wrong grade count
        assert!(c.tier(&dist(vec![0.5, 0.5])).is_err());
    }

    #[test]
    fn fitting_finds_the_separating_beta() {
        // Good items put 0.45 on L3+L4, Mid items 0.2 on L3+L4 and 0.7 up to L2, Bad 0.1/0.3
        let good = dist(vec![0.3, 0.25, 0.25, 0.2]);
        let mid = dist(vec![0.3, 0.5, 0.1, 0.1]);
        let bad = dist(vec![0.7, 0.2, 0.05, 0.05]);
        let dists = vec![good.clone(), good, mid.clone(), mid, bad.clone(), bad];
        let gold = vec![3, 2, 1, 1, 0, 0];
        let fit = fit_beta(&dists, &gold, TierMap::default_for(4).unwrap()).unwrap();
        assert_eq!(fit.tier_macro_f1, 1.0);
        let b = fit.cumpt.beta();
        assert!(b > 0.3 && b <= 0.45, "beta {b}");
        assert!(fit.tier_macro_f1_at_half < 1.0);
        // bad input
        assert!(fit_beta(&[], &[], TierMap::default_for(4).unwrap()).is_err());
        assert!(fit_beta(&dists, &gold[..2], TierMap::default_for(4).unwrap()).is_err());
        assert!(fit_beta(
            &dists,
            &[9, 0, 0, 0, 0, 0],
            TierMap::default_for(4).unwrap()
        )
        .is_err());
    }

    proptest! {
        #[test]
        fn moving_mass_up_never_lowers_the_tier(
            w in proptest::collection::vec(0.01f32..1.0, 4),
            from in 0usize..3,
            share in 0.0f32..1.0,
            beta in 0.0f32..=1.0,
        ) {
            let c = CumPt::new(TierMap::default_for(4).unwrap(), beta).unwrap();
            let before = dist(w.clone());
            let mut moved = before.probs().to_vec();
            let m = moved[from] * share;
            moved[from] -= m;
            moved[from + 1] += m;
            let after = dist(moved);
            prop_assert!(c.tier(&after).unwrap() <= c.tier(&before).unwrap());
        }

        #[test]
        fn a_larger_beta_never_gives_a_better_tier(
            w in proptest::collection::vec(0.01f32..1.0, 4),
            b1 in 0.0f32..=1.0,
            b2 in 0.0f32..=1.0,
        ) {
            let (lo, hi) = if b1 <= b2 { (b1, b2) } else { (b2, b1) };
            let d = dist(w);
            let map = TierMap::default_for(4).unwrap();
            let t_lo = CumPt::new(map.clone(), lo).unwrap().tier(&d).unwrap();
            let t_hi = CumPt::new(map, hi).unwrap().tier(&d).unwrap();
            prop_assert!(t_hi >= t_lo);
        }
    }
}
