//! Difficulty-based dynamic sampling (DAPO-style): keep only prompts whose rollout group is
//! neither fully solved nor fully failed, and keep pulling prompts until the batch is full.

use burn::config::Config;
use serde::{Deserialize, Serialize};

use crate::advantage::mean_and_std;
use crate::{group_advantages, BoxError, GrpoError};

/// One sampled response with its score.
///
/// `response` is whatever the caller needs later to train on it (token ids, text, ...).
///
/// ```
/// use taosr1_grpo::Rollout;
///
/// let r = Rollout::new(vec![5u32, 9, 2], 1.0, true);
/// assert_eq!(r.response, vec![5, 9, 2]);
/// assert!(r.correct);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Rollout<T> {
    /// The sampled response.
    pub response: T,
    /// Its scalar reward.
    pub reward: f32,
    /// Whether the response solved the prompt (e.g. predicted the gold relevance grade).
    pub correct: bool,
}

impl<T> Rollout<T> {
    /// Creates a rollout.
    ///
    /// ```
    /// let r = taosr1_grpo::Rollout::new("<answer> L4 </answer>", 0.5, false);
    /// assert_eq!(r.reward, 0.5);
    /// ```
    pub fn new(response: T, reward: f32, correct: bool) -> Self {
        Self {
            response,
            reward,
            correct,
        }
    }
}

/// How the sampler decides that a group carries no learning signal.
///
/// ```
/// use taosr1_grpo::SolvedCriterion;
/// assert_eq!(SolvedCriterion::default(), SolvedCriterion::CorrectFlag);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SolvedCriterion {
    /// Drop a group when every rollout is `correct` or none is (the TaoSR1 / DAPO filter).
    #[default]
    CorrectFlag,
    /// Drop a group when the population standard deviation of its rewards is `<= min_std`
    /// (`min_std = 0.0` drops exactly the groups whose advantages would all be zero).
    /// Useful with graded rewards where an all-correct group can still have varied rewards.
    RewardVariance {
        /// Threshold on the reward standard deviation; must be finite and `>= 0`.
        min_std: f32,
    },
}

/// Configuration of a [`DynamicSampler`].
///
/// A burn [`Config`]: construct with `DynamicSamplingConfig::new(group_size, target_groups)`
/// and adjust with the generated `with_*` methods; JSON save/load comes with it.
///
/// ```
/// use taosr1_grpo::{DynamicSamplingConfig, SolvedCriterion};
///
/// let cfg = DynamicSamplingConfig::new(8, 32)
///     .with_max_prompts(Some(256))
///     .with_criterion(SolvedCriterion::RewardVariance { min_std: 0.0 });
/// assert_eq!(cfg.group_size, 8);
/// assert!(cfg.validate().is_ok());
/// ```
#[derive(Config, Debug, PartialEq)]
#[non_exhaustive]
pub struct DynamicSamplingConfig {
    /// Rollouts per prompt (`G` in GRPO); at least 2.
    pub group_size: usize,
    /// Number of informative groups to collect per [`DynamicSampler::fill`] call; at least 1.
    pub target_groups: usize,
    /// Upper bound on prompts rolled out per `fill` call; `None` = until the iterator ends.
    /// Set it when the prompt iterator is infinite, otherwise a model that solves everything
    /// makes `fill` loop forever.
    pub max_prompts: Option<usize>,
    /// What counts as an uninformative group.
    #[config(default = "SolvedCriterion::CorrectFlag")]
    pub criterion: SolvedCriterion,
}

impl DynamicSamplingConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`GrpoError::InvalidConfig`] naming the first bad field.
    ///
    /// ```
    /// use taosr1_grpo::{DynamicSamplingConfig, GrpoError};
    /// let err = DynamicSamplingConfig::new(1, 2).validate().unwrap_err();
    /// assert!(matches!(err, GrpoError::InvalidConfig { field: "group_size", .. }));
    /// ```
    pub fn validate(&self) -> Result<(), GrpoError> {
        if self.group_size < 2 {
            return Err(GrpoError::InvalidConfig {
                field: "group_size",
                value: self.group_size as f64,
                reason: "must be at least 2 (a single rollout is always all-correct or all-wrong)",
            });
        }
        if self.target_groups == 0 {
            return Err(GrpoError::InvalidConfig {
                field: "target_groups",
                value: 0.0,
                reason: "must be at least 1",
            });
        }
        if self.max_prompts == Some(0) {
            return Err(GrpoError::InvalidConfig {
                field: "max_prompts",
                value: 0.0,
                reason: "must be None or at least 1",
            });
        }
        if let SolvedCriterion::RewardVariance { min_std } = self.criterion
            && !(min_std.is_finite() && min_std >= 0.0)
        {
            return Err(GrpoError::InvalidConfig {
                field: "criterion.min_std",
                value: f64::from(min_std),
                reason: "must be finite and >= 0",
            });
        }
        Ok(())
    }
}

/// Counters of one [`DynamicSampler::fill`] call (or, from
/// [`DynamicSampler::total_stats`], of all calls).
///
/// Invariant: `kept + dropped() == prompts_seen`.
///
/// ```
/// let s = taosr1_grpo::DynamicSamplingStats::default();
/// assert_eq!(s.kept + s.dropped(), s.prompts_seen);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DynamicSamplingStats {
    /// Prompts that were rolled out.
    pub prompts_seen: usize,
    /// Groups kept in the batch.
    pub kept: usize,
    /// Groups dropped because every rollout was correct.
    pub dropped_all_correct: usize,
    /// Groups dropped because no rollout was correct.
    pub dropped_all_wrong: usize,
    /// Groups with both correct and wrong rollouts dropped by
    /// [`SolvedCriterion::RewardVariance`] (always 0 with [`SolvedCriterion::CorrectFlag`]).
    pub dropped_low_variance: usize,
}

impl DynamicSamplingStats {
    /// Total number of dropped groups.
    ///
    /// ```
    /// let mut s = taosr1_grpo::DynamicSamplingStats::default();
    /// s.dropped_all_correct = 2;
    /// s.dropped_all_wrong = 1;
    /// assert_eq!(s.dropped(), 3);
    /// ```
    pub fn dropped(&self) -> usize {
        self.dropped_all_correct + self.dropped_all_wrong + self.dropped_low_variance
    }

    /// Fraction of seen prompts that were kept (`0.0` when nothing was seen).
    ///
    /// ```
    /// let mut s = taosr1_grpo::DynamicSamplingStats::default();
    /// s.prompts_seen = 4;
    /// s.kept = 1;
    /// assert_eq!(s.keep_rate(), 0.25);
    /// ```
    pub fn keep_rate(&self) -> f64 {
        if self.prompts_seen == 0 {
            0.0
        } else {
            self.kept as f64 / self.prompts_seen as f64
        }
    }

    fn add(&mut self, other: &Self) {
        self.prompts_seen += other.prompts_seen;
        self.kept += other.kept;
        self.dropped_all_correct += other.dropped_all_correct;
        self.dropped_all_wrong += other.dropped_all_wrong;
        self.dropped_low_variance += other.dropped_low_variance;
    }
}

/// A kept prompt with its group of rollouts.
///
/// ```
/// use taosr1_grpo::{Rollout, SampledGroup};
///
/// let g = SampledGroup::new("q", 0, vec![Rollout::new((), 1.0, true), Rollout::new((), 0.0, false)]);
/// assert_eq!(g.rewards(), vec![1.0, 0.0]);
/// assert_eq!(g.advantages(0.0).unwrap(), vec![1.0, -1.0]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SampledGroup<P, T> {
    /// The prompt.
    pub prompt: P,
    /// Position of the prompt in the iterator passed to `fill` (0-based, per call).
    pub prompt_index: usize,
    /// Exactly `group_size` rollouts.
    pub rollouts: Vec<Rollout<T>>,
}

impl<P, T> SampledGroup<P, T> {
    /// Creates a group (mostly useful in tests; [`DynamicSampler::fill`] builds them).
    ///
    /// ```
    /// let g = taosr1_grpo::SampledGroup::<_, ()>::new(1u32, 3, vec![]);
    /// assert_eq!(g.prompt_index, 3);
    /// ```
    pub fn new(prompt: P, prompt_index: usize, rollouts: Vec<Rollout<T>>) -> Self {
        Self {
            prompt,
            prompt_index,
            rollouts,
        }
    }

    /// The rewards of the rollouts, in order.
    ///
    /// ```
    /// use taosr1_grpo::{Rollout, SampledGroup};
    /// let g = SampledGroup::new((), 0, vec![Rollout::new((), 0.5, true)]);
    /// assert_eq!(g.rewards(), vec![0.5]);
    /// ```
    pub fn rewards(&self) -> Vec<f32> {
        self.rollouts.iter().map(|r| r.reward).collect()
    }

    /// Group-relative advantages of the rollouts ([`group_advantages`]).
    ///
    /// # Errors
    /// As [`group_advantages`].
    ///
    /// ```
    /// use taosr1_grpo::{Rollout, SampledGroup};
    /// let g = SampledGroup::new((), 0, vec![Rollout::new((), 2.0, true), Rollout::new((), 0.0, false)]);
    /// assert_eq!(g.advantages(0.0).unwrap(), vec![1.0, -1.0]);
    /// ```
    pub fn advantages(&self, eps: f32) -> Result<Vec<f32>, GrpoError> {
        group_advantages(&self.rewards(), eps)
    }
}

/// The result of one [`DynamicSampler::fill`] call.
///
/// ```
/// use taosr1_grpo::{DynamicSampler, DynamicSamplingConfig, Rollout};
///
/// let mut sampler = DynamicSampler::new(DynamicSamplingConfig::new(2, 1)).unwrap();
/// let batch = sampler
///     .fill(0..3, |&p: &i32, n| {
///         Ok::<_, String>((0..n).map(|i| Rollout::new((), i as f32, i == 0)).collect())
///     })
///     .unwrap();
/// assert_eq!(batch.groups.len(), 1);
/// assert!(batch.reached_target);
/// assert_eq!(batch.advantages(0.0).unwrap(), vec![-1.0, 1.0]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SampledBatch<P, T> {
    /// The kept groups, in the order their prompts were drawn.
    pub groups: Vec<SampledGroup<P, T>>,
    /// Counters for this call.
    pub stats: DynamicSamplingStats,
    /// `true` when `target_groups` groups were collected; `false` when the prompts (or
    /// `max_prompts`) ran out first.
    pub reached_target: bool,
}

impl<P, T> SampledBatch<P, T> {
    /// Advantages of every rollout, flattened group after group (`groups[g].rollouts[i]` is
    /// entry `g * group_size + i`, the order of [`rollouts`](Self::rollouts)), ready to
    /// become the `[batch]` advantage tensor of [`grpo_loss`](crate::grpo_loss).
    ///
    /// # Errors
    /// As [`group_advantages`] (a batch with no groups yields [`GrpoError::EmptyGroup`]).
    ///
    /// ```
    /// use taosr1_grpo::{DynamicSampler, DynamicSamplingConfig, GrpoError, Rollout};
    /// let mut s = DynamicSampler::new(DynamicSamplingConfig::new(2, 1)).unwrap();
    /// // every group is solved: nothing is kept
    /// let batch = s
    ///     .fill(0..2, |_: &i32, n| Ok::<_, String>(vec![Rollout::new((), 1.0, true); n]))
    ///     .unwrap();
    /// assert!(matches!(batch.advantages(0.0), Err(GrpoError::EmptyGroup)));
    /// ```
    pub fn advantages(&self, eps: f32) -> Result<Vec<f32>, GrpoError> {
        if self.groups.is_empty() {
            return Err(GrpoError::EmptyGroup);
        }
        let mut adv = Vec::new();
        for group in &self.groups {
            adv.extend(group.advantages(eps)?);
        }
        Ok(adv)
    }

    /// Every `(prompt, rollout)` pair, flattened group after group (the order of
    /// [`advantages`](Self::advantages)).
    ///
    /// ```
    /// use taosr1_grpo::{DynamicSampler, DynamicSamplingConfig, Rollout};
    /// let mut s = DynamicSampler::new(DynamicSamplingConfig::new(2, 2)).unwrap();
    /// let batch = s
    ///     .fill(["a", "b"], |_: &&str, n| {
    ///         Ok::<_, String>((0..n).map(|i| Rollout::new(i, i as f32, i == 0)).collect())
    ///     })
    ///     .unwrap();
    /// let flat: Vec<(&str, usize)> = batch.rollouts().map(|(p, r)| (*p, r.response)).collect();
    /// assert_eq!(flat, vec![("a", 0), ("a", 1), ("b", 0), ("b", 1)]);
    /// ```
    pub fn rollouts(&self) -> impl Iterator<Item = (&P, &Rollout<T>)> + '_ {
        self.groups
            .iter()
            .flat_map(|g| g.rollouts.iter().map(move |r| (&g.prompt, r)))
    }
}

/// Why a group was dropped, or `None` when it is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Keep,
    AllCorrect,
    AllWrong,
    LowVariance,
}

fn judge<T>(rollouts: &[Rollout<T>], criterion: SolvedCriterion) -> Verdict {
    let n_correct = rollouts.iter().filter(|r| r.correct).count();
    let by_flag = if n_correct == rollouts.len() {
        Verdict::AllCorrect
    } else if n_correct == 0 {
        Verdict::AllWrong
    } else {
        Verdict::LowVariance
    };
    match criterion {
        SolvedCriterion::CorrectFlag => match by_flag {
            Verdict::LowVariance => Verdict::Keep,
            other => other,
        },
        SolvedCriterion::RewardVariance { min_std } => {
            let rewards: Vec<f32> = rollouts.iter().map(|r| r.reward).collect();
            let (_, std) = mean_and_std(&rewards);
            if std <= f64::from(min_std) {
                by_flag
            } else {
                Verdict::Keep
            }
        }
    }
}

/// Difficulty-based dynamic sampler (TaoSR1 stage 3, after DAPO).
///
/// Each [`fill`](Self::fill) call draws prompts one at a time, asks the caller's rollout
/// function for `group_size` rollouts, and keeps the group only if it is informative: with
/// [`SolvedCriterion::CorrectFlag`], at least one rollout is correct and at least one is wrong
/// (all-correct groups are too easy, all-wrong groups too hard — both give all-zero
/// advantages). It stops as soon as `target_groups` groups are kept (no further prompt is
/// rolled out), or when the prompts or `max_prompts` run out.
///
/// Prompts that were pulled from the iterator are consumed; pass `&mut iter` to continue
/// from the same stream in the next call.
///
/// ```
/// use taosr1_grpo::{DynamicSampler, DynamicSamplingConfig, Rollout};
///
/// let mut sampler = DynamicSampler::new(DynamicSamplingConfig::new(4, 2)).unwrap();
/// // toy "model": prompt p is solved by the rollouts i < p
/// let rollout = |p: &usize, n: usize| -> Result<Vec<Rollout<usize>>, String> {
///     Ok((0..n).map(|i| Rollout::new(i, (i < *p) as u8 as f32, i < *p)).collect())
/// };
/// let mut prompts = [0usize, 4, 2, 9, 1, 3].into_iter();
/// let batch = sampler.fill(&mut prompts, rollout).unwrap();
/// // 0 -> all wrong, 4 -> all correct, 2 -> kept, 9 -> all correct, 1 -> kept: stop.
/// assert_eq!(batch.groups.iter().map(|g| g.prompt).collect::<Vec<_>>(), vec![2, 1]);
/// assert_eq!(batch.stats.prompts_seen, 5);
/// assert_eq!(batch.stats.dropped_all_correct, 2);
/// assert_eq!(batch.stats.dropped_all_wrong, 1);
/// assert_eq!(prompts.next(), Some(3)); // untouched
/// ```
#[derive(Debug, Clone)]
pub struct DynamicSampler {
    config: DynamicSamplingConfig,
    total: DynamicSamplingStats,
}

impl DynamicSampler {
    /// Creates a sampler after validating `config`.
    ///
    /// # Errors
    /// [`GrpoError::InvalidConfig`] (see [`DynamicSamplingConfig::validate`]).
    ///
    /// ```
    /// use taosr1_grpo::{DynamicSampler, DynamicSamplingConfig};
    /// assert!(DynamicSampler::new(DynamicSamplingConfig::new(8, 16)).is_ok());
    /// assert!(DynamicSampler::new(DynamicSamplingConfig::new(8, 0)).is_err());
    /// ```
    pub fn new(config: DynamicSamplingConfig) -> Result<Self, GrpoError> {
        config.validate()?;
        Ok(Self {
            config,
            total: DynamicSamplingStats::default(),
        })
    }

    /// The configuration.
    ///
    /// ```
    /// use taosr1_grpo::{DynamicSampler, DynamicSamplingConfig};
    /// let s = DynamicSampler::new(DynamicSamplingConfig::new(8, 16)).unwrap();
    /// assert_eq!(s.config().target_groups, 16);
    /// ```
    pub fn config(&self) -> &DynamicSamplingConfig {
        &self.config
    }

    /// Counters accumulated over every `fill` call so far (including calls that failed
    /// part-way: the prompts processed before the error are counted).
    ///
    /// ```
    /// use taosr1_grpo::{DynamicSampler, DynamicSamplingConfig, Rollout};
    /// let mut s = DynamicSampler::new(DynamicSamplingConfig::new(2, 1)).unwrap();
    /// for _ in 0..2 {
    ///     s.fill(0..1, |_: &i32, n| Ok::<_, String>(vec![Rollout::new((), 0.0, false); n])).unwrap();
    /// }
    /// assert_eq!(s.total_stats().dropped_all_wrong, 2);
    /// ```
    pub fn total_stats(&self) -> DynamicSamplingStats {
        self.total
    }

    /// Fills one batch; see the type-level docs.
    ///
    /// `rollout(&prompt, group_size)` must return exactly `group_size` rollouts. Its error
    /// type only needs to convert into a boxed error (`String`, `&str` and every
    /// `std::error::Error + Send + Sync` do).
    ///
    /// # Errors
    /// * [`GrpoError::Rollout`] when the rollout function fails (wrapping its error);
    /// * [`GrpoError::RolloutCount`] when it returns the wrong number of rollouts;
    /// * [`GrpoError::NonFiniteRolloutReward`] when a reward is NaN or infinite.
    ///
    /// ```
    /// use taosr1_grpo::{DynamicSampler, DynamicSamplingConfig, GrpoError, Rollout};
    /// let mut s = DynamicSampler::new(DynamicSamplingConfig::new(2, 1)).unwrap();
    /// let err = s
    ///     .fill(0..1, |_: &i32, _| Ok::<_, String>(vec![Rollout::new((), 1.0, true)]))
    ///     .unwrap_err();
    /// assert!(matches!(err, GrpoError::RolloutCount { expected: 2, actual: 1, .. }));
    /// ```
    pub fn fill<P, T, I, F, E>(
        &mut self,
        prompts: I,
        mut rollout: F,
    ) -> Result<SampledBatch<P, T>, GrpoError>
    where
        I: IntoIterator<Item = P>,
        F: FnMut(&P, usize) -> Result<Vec<Rollout<T>>, E>,
        E: Into<BoxError>,
    {
        let cfg = self.config.clone();
        let mut stats = DynamicSamplingStats::default();
        let mut groups = Vec::with_capacity(cfg.target_groups);
        let mut prompts = prompts.into_iter();
        let result = loop {
            if groups.len() >= cfg.target_groups {
                break Ok(true);
            }
            if cfg.max_prompts.is_some_and(|m| stats.prompts_seen >= m) {
                break Ok(false);
            }
            let Some(prompt) = prompts.next() else {
                break Ok(false);
            };
            let prompt_index = stats.prompts_seen;
            let rollouts = match rollout(&prompt, cfg.group_size) {
                Ok(r) => r,
                Err(e) => {
                    break Err(GrpoError::Rollout {
                        prompt_index,
                        source: e.into(),
                    })
                }
            };
            if rollouts.len() != cfg.group_size {
                break Err(GrpoError::RolloutCount {
                    prompt_index,
                    expected: cfg.group_size,
                    actual: rollouts.len(),
                });
            }
            if let Some((rollout_index, r)) = rollouts
                .iter()
                .enumerate()
                .find(|(_, r)| !r.reward.is_finite())
            {
                break Err(GrpoError::NonFiniteRolloutReward {
                    prompt_index,
                    rollout_index,
                    value: r.reward,
                });
            }
            stats.prompts_seen += 1;
            match judge(&rollouts, cfg.criterion) {
                Verdict::Keep => {
                    stats.kept += 1;
                    groups.push(SampledGroup::new(prompt, prompt_index, rollouts));
                }
                Verdict::AllCorrect => stats.dropped_all_correct += 1,
                Verdict::AllWrong => stats.dropped_all_wrong += 1,
                Verdict::LowVariance => stats.dropped_low_variance += 1,
            }
        };
        self.total.add(&stats);
        let reached_target = result?;
        Ok(SampledBatch {
            groups,
            stats,
            reached_target,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(flags: &[bool], rewards: &[f32]) -> Vec<Rollout<()>> {
        flags
            .iter()
            .zip(rewards)
            .map(|(&c, &r)| Rollout::new((), r, c))
            .collect()
    }

    #[test]
    fn judge_variants() {
        let cf = SolvedCriterion::CorrectFlag;
        assert_eq!(
            judge(&group(&[true, true], &[1.0, 0.5]), cf),
            Verdict::AllCorrect
        );
        assert_eq!(
            judge(&group(&[false, false], &[0.0, 0.5]), cf),
            Verdict::AllWrong
        );
        assert_eq!(
            judge(&group(&[true, false], &[1.0, 1.0]), cf),
            Verdict::Keep
        );
        let rv = SolvedCriterion::RewardVariance { min_std: 0.0 };
        assert_eq!(judge(&group(&[true, true], &[1.0, 0.5]), rv), Verdict::Keep);
        assert_eq!(
            judge(&group(&[true, false], &[1.0, 1.0]), rv),
            Verdict::LowVariance
        );
        assert_eq!(
            judge(&group(&[true, true], &[0.1, 0.1]), rv),
            Verdict::AllCorrect
        );
        let rv = SolvedCriterion::RewardVariance { min_std: 0.3 };
        // std of [0, 0.5] is 0.25 <= 0.3
        assert_eq!(
            judge(&group(&[false, false], &[0.0, 0.5]), rv),
            Verdict::AllWrong
        );
    }

    #[test]
    fn max_prompts_and_errors_update_totals() {
        let mut s = DynamicSampler::new(DynamicSamplingConfig::new(2, 5).with_max_prompts(Some(3)))
            .unwrap();
        let b = s
            .fill(0.., |_: &u32, n| {
                Ok::<_, String>(vec![Rollout::new((), 0.0, false); n])
            })
            .unwrap();
        assert_eq!(b.stats.prompts_seen, 3);
        assert!(!b.reached_target);
        let err = s
            .fill(0..5, |p: &u32, n| {
                if *p == 2 {
                    Err("boom".to_string())
                } else {
                    Ok(vec![Rollout::new((), 1.0, true); n])
                }
            })
            .unwrap_err();
        assert!(matches!(
            err,
            GrpoError::Rollout {
                prompt_index: 2,
                ..
            }
        ));
        assert_eq!(err.to_string(), "rollout for prompt 2 failed: boom");
        assert_eq!(s.total_stats().prompts_seen, 5);
        assert_eq!(s.total_stats().dropped_all_correct, 2);
        let err = s
            .fill(0..5, |_: &u32, n| {
                Ok::<_, String>(vec![Rollout::new((), f32::NAN, true); n])
            })
            .unwrap_err();
        assert!(matches!(
            err,
            GrpoError::NonFiniteRolloutReward {
                prompt_index: 0,
                rollout_index: 0,
                ..
            }
        ));
    }
}
