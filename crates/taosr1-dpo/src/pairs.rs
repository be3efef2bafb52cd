//! Preference-pair construction from pass@N groups.

use std::collections::HashSet;

use burn::config::Config;
use serde::{Deserialize, Serialize};

use crate::{ScoredGroup, ScoredSample};

/// Which incorrect samples become `rejected`.
///
/// ```
/// use taosr1_dpo::PairSelection;
/// assert_eq!(PairSelection::default(), PairSelection::HardestNegative);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum PairSelection {
    /// Highest-reward incorrect samples first: the negatives the model finds most plausible
    /// (default).
    #[default]
    HardestNegative,
    /// Lowest-reward incorrect samples first: the largest reward margin to the chosen one.
    MaxMargin,
}

/// What to do with a prompt whose samples are all wrong.
///
/// ```
/// use taosr1_dpo::AllWrongPolicy;
/// assert_eq!(AllWrongPolicy::default(), AllWrongPolicy::GoldAsChosen);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum AllWrongPolicy {
    /// Use the group's gold response as `chosen` against the incorrect samples; skip the
    /// prompt when it has no gold response (default).
    #[default]
    GoldAsChosen,
    /// Always skip.
    Skip,
}

/// How [`build_pairs`] turns scored groups into preference pairs (a burn [`Config`]:
/// generated `new()`, `with_*` builders, JSON save/load).
///
/// Defaults: [`PairSelection::HardestNegative`], one pair per prompt,
/// [`AllWrongPolicy::GoldAsChosen`]. Prompts whose samples are **all correct** are always
/// skipped: there is nothing to reject, so they carry no preference signal.
///
/// ```
/// use taosr1_dpo::{AllWrongPolicy, PairPolicy, PairSelection};
///
/// let policy = PairPolicy::new()
///     .with_selection(PairSelection::MaxMargin)
///     .with_max_pairs_per_prompt(3)
///     .with_all_wrong(AllWrongPolicy::Skip);
/// assert_eq!(policy.max_pairs_per_prompt, 3);
/// assert_eq!(PairPolicy::default(), PairPolicy::new());
/// ```
#[derive(Config, Debug, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PairPolicy {
    /// Ranking of the incorrect samples.
    #[config(default = "PairSelection::HardestNegative")]
    pub selection: PairSelection,
    /// Upper bound on pairs per prompt (`0` produces no pairs).
    #[config(default = 1)]
    pub max_pairs_per_prompt: usize,
    /// Treatment of all-wrong prompts.
    #[config(default = "AllWrongPolicy::GoldAsChosen")]
    pub all_wrong: AllWrongPolicy,
}

impl Default for PairPolicy {
    fn default() -> Self {
        Self::new()
    }
}

/// One DPO training pair for the prompt `prompt_index`.
///
/// ```
/// use taosr1_dpo::{build_pairs, PairPolicy, ScoredGroup, ScoredSample};
/// let g = ScoredGroup::new(7, vec![ScoredSample::new("good", 1.0, true), ScoredSample::new("bad", 0.2, false)]);
/// let (pairs, _) = build_pairs(&[g], &PairPolicy::default());
/// assert_eq!((pairs[0].prompt_index, pairs[0].chosen.as_str(), pairs[0].rejected.as_str()), (7, "good", "bad"));
/// assert_eq!(pairs[0].chosen_reward, Some(1.0));
/// assert!(!pairs[0].chosen_is_gold());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PreferencePair {
    /// The prompt both responses answer.
    pub prompt_index: usize,
    /// The preferred (correct) response.
    pub chosen: String,
    /// The dispreferred (incorrect) response.
    pub rejected: String,
    /// Reward of `chosen`; `None` when `chosen` is the group's gold response.
    pub chosen_reward: Option<f32>,
    /// Reward of `rejected`.
    pub rejected_reward: f32,
}

impl PreferencePair {
    /// `true` when `chosen` is the gold response rather than a sample.
    ///
    /// ```
    /// use taosr1_dpo::{build_pairs, PairPolicy, ScoredGroup, ScoredSample};
    /// let g = ScoredGroup::new(0, vec![ScoredSample::new("bad", 0.0, false)]).with_gold("gold");
    /// let (pairs, _) = build_pairs(&[g], &PairPolicy::default());
    /// assert!(pairs[0].chosen_is_gold());
    /// ```
    pub fn chosen_is_gold(&self) -> bool {
        self.chosen_reward.is_none()
    }
}

/// What [`build_pairs`] did with each prompt.
///
/// Invariant: `mixed + all_correct_skipped + all_wrong_gold + all_wrong_skipped +
/// empty_skipped == prompts`.
///
/// ```
/// let s = taosr1_dpo::PairStats::default();
/// assert_eq!(s.prompts, 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PairStats {
    /// Groups examined.
    pub prompts: usize,
    /// Groups with both correct and incorrect samples (pairs come from the samples).
    pub mixed: usize,
    /// All-correct groups, skipped (no negative).
    pub all_correct_skipped: usize,
    /// All-wrong groups paired against their gold response.
    pub all_wrong_gold: usize,
    /// All-wrong groups skipped (policy `Skip`, or no gold response).
    pub all_wrong_skipped: usize,
    /// Groups without samples, skipped.
    pub empty_skipped: usize,
    /// Pairs produced.
    pub pairs: usize,
    /// Candidate pairs dropped because `chosen` and `rejected` had identical text, or the
    /// same text pair was already produced for the prompt.
    pub duplicates_skipped: usize,
}

/// Sort key treating NaN as the lowest reward.
fn key(s: &ScoredSample) -> f32 {
    if s.reward.is_nan() {
        f32::NEG_INFINITY
    } else {
        s.reward
    }
}

/// Builds DPO preference pairs from pass@N groups.
///
/// For each group (by [`PairPolicy`]):
///
/// * **mixed** (some correct, some not): correct samples are ranked by reward, highest
///   first; incorrect ones by [`PairSelection`]. Pair `i` is
///   `(correct[i % n_correct], incorrect[i % n_incorrect])` for
///   `i < max(n_correct, n_incorrect)`, stopping at `max_pairs_per_prompt` pairs — so the
///   first pair is *best correct vs hardest negative*, and further pairs cycle through both
///   lists without repeating a combination;
/// * **all correct**: skipped;
/// * **all wrong**: with [`AllWrongPolicy::GoldAsChosen`] and a gold response, pairs
///   `(gold, incorrect[i])`; otherwise skipped;
/// * **empty**: skipped.
///
/// Candidates whose `chosen` and `rejected` texts are equal, or repeat an already produced
/// text pair, are dropped and counted in [`PairStats::duplicates_skipped`]. Ties keep the
/// sample order; NaN rewards rank lowest. Never fails and never panics.
///
/// ```
/// use taosr1_dpo::{build_pairs, PairPolicy, ScoredGroup, ScoredSample};
///
/// let s = ScoredSample::new;
/// let groups = vec![
///     ScoredGroup::new(0, vec![s("c1", 0.9, true), s("w1", 0.1, false), s("w2", 0.4, false)]),
///     ScoredGroup::new(1, vec![s("c", 1.0, true), s("c2", 1.0, true)]),
///     ScoredGroup::new(2, vec![s("w", 0.0, false)]).with_gold("gold"),
/// ];
/// let (pairs, stats) = build_pairs(&groups, &PairPolicy::default());
/// assert_eq!(pairs.len(), 2);
/// assert_eq!((pairs[0].chosen.as_str(), pairs[0].rejected.as_str()), ("c1", "w2")); // hardest negative
/// assert_eq!((pairs[1].chosen.as_str(), pairs[1].rejected.as_str()), ("gold", "w"));
/// assert_eq!((stats.mixed, stats.all_correct_skipped, stats.all_wrong_gold), (1, 1, 1));
/// ```
pub fn build_pairs(
    groups: &[ScoredGroup],
    policy: &PairPolicy,
) -> (Vec<PreferencePair>, PairStats) {
    let mut pairs = Vec::new();
    let mut stats = PairStats {
        prompts: groups.len(),
        ..PairStats::default()
    };
    for group in groups {
        let mut correct: Vec<&ScoredSample> = group.samples.iter().filter(|s| s.correct).collect();
        let mut wrong: Vec<&ScoredSample> = group.samples.iter().filter(|s| !s.correct).collect();
        correct.sort_by(|a, b| key(b).total_cmp(&key(a)));
        match policy.selection {
            PairSelection::HardestNegative => wrong.sort_by(|a, b| key(b).total_cmp(&key(a))),
            PairSelection::MaxMargin => wrong.sort_by(|a, b| key(a).total_cmp(&key(b))),
        }

        // (chosen text, chosen reward) candidates
        let chosen: Vec<(&str, Option<f32>)> = if group.samples.is_empty() {
            stats.empty_skipped += 1;
            continue;
        } else if wrong.is_empty() {
            stats.all_correct_skipped += 1;
            continue;
        } else if correct.is_empty() {
            match (&group.gold, policy.all_wrong) {
                (Some(gold), AllWrongPolicy::GoldAsChosen) => {
                    stats.all_wrong_gold += 1;
                    vec![(gold.as_str(), None)]
                }
                _ => {
                    stats.all_wrong_skipped += 1;
                    continue;
                }
            }
        } else {
            stats.mixed += 1;
            correct
                .iter()
                .map(|s| (s.text.as_str(), Some(s.reward)))
                .collect()
        };

        let mut seen: HashSet<(&str, &str)> = HashSet::new();
        let mut made = 0;
        for i in 0..chosen.len().max(wrong.len()) {
            if made >= policy.max_pairs_per_prompt {
                break;
            }
            let (c_text, c_reward) = chosen[i % chosen.len()];
            let r = wrong[i % wrong.len()];
            if c_text == r.text || !seen.insert((c_text, r.text.as_str())) {
                stats.duplicates_skipped += 1;
                continue;
            }
            pairs.push(PreferencePair {
                prompt_index: group.prompt_index,
                chosen: c_text.to_string(),
                rejected: r.text.clone(),
                chosen_reward: c_reward,
                rejected_reward: r.reward,
            });
            made += 1;
        }
    }
    stats.pairs = pairs.len();
    (pairs, stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: &str, r: f32, c: bool) -> ScoredSample {
        ScoredSample::new(t, r, c)
    }

    #[test]
    fn selection_and_multiple_pairs() {
        let g = ScoredGroup::new(
            0,
            vec![
                s("c_lo", 0.5, true),
                s("w_hi", 0.4, false),
                s("c_hi", 0.9, true),
                s("w_lo", 0.0, false),
                s("w_mid", 0.2, false),
            ],
        );
        let texts = |p: &[PreferencePair]| {
            p.iter()
                .map(|p| (p.chosen.clone(), p.rejected.clone()))
                .collect::<Vec<_>>()
        };
        let pol = PairPolicy::default().with_max_pairs_per_prompt(10);
        let (pairs, st) = build_pairs(std::slice::from_ref(&g), &pol);
        // i = 0..3: correct [c_hi, c_lo] cycles, wrong [w_hi, w_mid, w_lo]
        let want = [("c_hi", "w_hi"), ("c_lo", "w_mid"), ("c_hi", "w_lo")];
        assert_eq!(
            texts(&pairs),
            want.map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert_eq!(st.pairs, 3);
        let (pairs, _) = build_pairs(
            std::slice::from_ref(&g),
            &pol.with_selection(PairSelection::MaxMargin)
                .with_max_pairs_per_prompt(1),
        );
        assert_eq!(
            texts(&pairs),
            vec![("c_hi".to_string(), "w_lo".to_string())]
        );
    }

    #[test]
    fn all_wrong_policies_and_duplicates() {
        let wrong = ScoredGroup::new(1, vec![s("w", 0.0, false), s("gold", 0.1, false)]);
        let with_gold = wrong.clone().with_gold("gold");
        let pol = PairPolicy::default().with_max_pairs_per_prompt(5);
        let (pairs, st) = build_pairs(std::slice::from_ref(&with_gold), &pol);
        // "gold" vs "gold" is dropped
        assert_eq!(pairs.len(), 1);
        assert_eq!(st.duplicates_skipped, 1);
        assert_eq!(st.all_wrong_gold, 1);
        let (pairs, st) = build_pairs(&[wrong], &pol);
        assert!(pairs.is_empty());
        assert_eq!(st.all_wrong_skipped, 1);
        let (pairs, st) = build_pairs(&[with_gold], &pol.with_all_wrong(AllWrongPolicy::Skip));
        assert!(pairs.is_empty());
        assert_eq!(st.all_wrong_skipped, 1);
        let (pairs, st) = build_pairs(&[ScoredGroup::new(0, vec![]).with_gold("g")], &pol);
        assert!(pairs.is_empty());
        assert_eq!(st.empty_skipped, 1);
        let nan = ScoredGroup::new(0, vec![s("c", f32::NAN, true), s("w", f32::NAN, false)]);
        assert_eq!(build_pairs(&[nan], &pol).0.len(), 1);
    }
}
