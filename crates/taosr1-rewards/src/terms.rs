//! The individual reward terms.

use serde::{Deserialize, Serialize};
use taosr1_cot::{Grade, ParsedResponse};

use crate::RewardError;

/// How a predicted grade is compared with the gold grade. Values lie in `[0, 1]`.
///
/// ```
/// use taosr1_cot::GradeScale;
/// use taosr1_rewards::Correctness;
///
/// let s = GradeScale::default();
/// let (l1, l3) = (s.parse("L1")?, s.parse("L3")?);
/// assert_eq!(Correctness::Exact.reward(l1, l3, 4)?, 0.0);
/// // 1 - |0 - 2| / 3
/// assert!((Correctness::Ordinal.reward(l1, l3, 4)? - 1.0 / 3.0).abs() < 1e-6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Correctness {
    /// 1 if the predicted grade equals the gold grade, else 0.
    Exact,
    /// Partial credit by grade distance: `1 - |pred - gold| / (K - 1)` for a `K`-grade scale,
    /// so 1 iff exact, 0 for the opposite end of the scale, symmetric in the distance.
    Ordinal,
}

impl Correctness {
    /// The reward for predicting `pred` when the answer is `gold`, on a `num_grades`-grade scale.
    ///
    /// Errors: [`RewardError::TooFewGrades`] for `num_grades < 2`, and
    /// [`RewardError::GradeOutOfRange`] when either grade's index is `>= num_grades`.
    ///
    /// ```
    /// use taosr1_cot::GradeScale;
    /// use taosr1_rewards::Correctness;
    ///
    /// let s = GradeScale::default();
    /// assert_eq!(Correctness::Ordinal.reward(s.best(), s.best(), 4)?, 1.0);
    /// assert_eq!(Correctness::Ordinal.reward(s.worst(), s.best(), 4)?, 0.0);
    /// assert!(Correctness::Exact.reward(s.best(), s.best(), 3).is_err());
    /// # Ok::<(), taosr1_rewards::RewardError>(())
    /// ```
    pub fn reward(self, pred: Grade, gold: Grade, num_grades: usize) -> Result<f32, RewardError> {
        if num_grades < 2 {
            return Err(RewardError::TooFewGrades { num_grades });
        }
        for (which, g) in [("predicted", pred), ("gold", gold)] {
            if g.index() >= num_grades {
                return Err(RewardError::GradeOutOfRange {
                    which,
                    index: g.index(),
                    num_grades,
                });
            }
        }
        Ok(match self {
            Correctness::Exact => {
                if pred == gold {
                    1.0
                } else {
                    0.0
                }
            }
            Correctness::Ordinal => {
                let distance = pred.index().abs_diff(gold.index());
                (1.0 - distance as f64 / (num_grades - 1) as f64) as f32
            }
        })
    }
}

/// How format validity is scored. Values lie in `[0, 1]`; 1 iff the response is well-formed.
///
/// A response is *well-formed* when [`taosr1_cot::Template::parse_strict`] accepts it: it is
/// exactly `<answer> LABEL </answer> <think> … </think>`, so the thinking part is present and
/// closed and there is exactly one final answer.
///
/// ```
/// use taosr1_cot::Template;
/// use taosr1_rewards::FormatScoring;
///
/// let t = Template::default();
/// let repaired = t.parse_lenient("<answer> L2 <think> a . </think>")?;
/// assert_eq!(FormatScoring::Binary.reward(&repaired, false), 0.0);
/// // present + closed + one answer, but not well-formed: 3 of 4 checks.
/// assert_eq!(FormatScoring::Partial.reward(&repaired, false), 0.75);
/// # Ok::<(), taosr1_cot::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FormatScoring {
    /// 1 if the response is well-formed, else 0.
    #[default]
    Binary,
    /// Partial credit: ¼ for each of (1) a thinking part is present (`<think>` or `</think>`
    /// found), (2) the thinking is closed by `</think>`, (3) exactly one `<answer>` follows it,
    /// and (4) the whole response is well-formed. A well-formed response passes all four and
    /// scores 1; a repaired one scores at most ¾.
    Partial,
}

impl FormatScoring {
    /// Scores a parsed response; `well_formed` says whether the strict parser accepted the text.
    ///
    /// ```
    /// use taosr1_cot::Template;
    /// use taosr1_rewards::FormatScoring;
    ///
    /// let t = Template::default();
    /// let ok = t.parse_strict("<answer> L2 </answer> <think> a . </think>")?;
    /// assert_eq!(FormatScoring::Binary.reward(&ok, true), 1.0);
    /// assert_eq!(FormatScoring::Partial.reward(&ok, true), 1.0);
    /// // No tags at all: nothing but the grade.
    /// let bare = t.parse_lenient("L2")?;
    /// assert_eq!(FormatScoring::Partial.reward(&bare, false), 0.0);
    /// # Ok::<(), taosr1_cot::ParseError>(())
    /// ```
    pub fn reward(self, parsed: &ParsedResponse, well_formed: bool) -> f32 {
        match self {
            FormatScoring::Binary => {
                if well_formed {
                    1.0
                } else {
                    0.0
                }
            }
            FormatScoring::Partial => {
                let checks = [
                    parsed.thinking.is_some(),
                    parsed.thinking_closed,
                    parsed.answer_count == 1,
                    well_formed,
                ];
                checks.iter().filter(|&&c| c).count() as f32 / checks.len() as f32
            }
        }
    }
}

/// Length penalty on the generated text: 0 up to `budget` tokens, then linearly down to -1 at
/// `hard_cap` tokens, and -1 beyond.
///
/// ```text
/// penalty(n) = 0                                   if n <= budget
///            = -(n - budget) / (hard_cap - budget) if budget < n < hard_cap
///            = -1                                  if n >= hard_cap
/// ```
///
/// Tokens are counted by [`count_tokens`] (whitespace-separated, which in the workspace's token
/// convention equals the word-level tokenizer's count). Serde validates on the way in.
///
/// ```
/// use taosr1_rewards::LengthPenalty;
///
/// let p = LengthPenalty::new(100, 300)?;
/// assert_eq!(p.penalty(80), 0.0);
/// assert_eq!(p.penalty(200), -0.5);
/// assert_eq!(p.penalty(1000), -1.0);
/// # Ok::<(), taosr1_rewards::RewardError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "LengthPenaltyRaw", into = "LengthPenaltyRaw")]
pub struct LengthPenalty {
    budget: usize,
    hard_cap: usize,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LengthPenaltyRaw {
    budget: usize,
    hard_cap: usize,
}

impl TryFrom<LengthPenaltyRaw> for LengthPenalty {
    type Error = RewardError;
    fn try_from(raw: LengthPenaltyRaw) -> Result<Self, RewardError> {
        LengthPenalty::new(raw.budget, raw.hard_cap)
    }
}

impl From<LengthPenalty> for LengthPenaltyRaw {
    fn from(p: LengthPenalty) -> Self {
        LengthPenaltyRaw {
            budget: p.budget,
            hard_cap: p.hard_cap,
        }
    }
}

impl LengthPenalty {
    /// A penalty that starts after `budget` tokens and reaches -1 at `hard_cap`.
    ///
    /// Errors: [`RewardError::InvalidLengthPenalty`] unless `budget < hard_cap`.
    ///
    /// ```
    /// use taosr1_rewards::{LengthPenalty, RewardError};
    /// assert!(LengthPenalty::new(0, 1).is_ok());
    /// assert!(matches!(
    ///     LengthPenalty::new(10, 10),
    ///     Err(RewardError::InvalidLengthPenalty { budget: 10, hard_cap: 10 })
    /// ));
    /// ```
    pub fn new(budget: usize, hard_cap: usize) -> Result<Self, RewardError> {
        if budget >= hard_cap {
            return Err(RewardError::InvalidLengthPenalty { budget, hard_cap });
        }
        Ok(Self { budget, hard_cap })
    }

    /// Tokens allowed before the penalty starts.
    ///
    /// ```
    /// assert_eq!(taosr1_rewards::LengthPenalty::new(5, 9)?.budget(), 5);
    /// # Ok::<(), taosr1_rewards::RewardError>(())
    /// ```
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Token count at which the penalty reaches -1.
    ///
    /// ```
    /// assert_eq!(taosr1_rewards::LengthPenalty::new(5, 9)?.hard_cap(), 9);
    /// # Ok::<(), taosr1_rewards::RewardError>(())
    /// ```
    pub fn hard_cap(&self) -> usize {
        self.hard_cap
    }

    /// The penalty in `[-1, 0]` for a response of `num_tokens` tokens.
    ///
    /// ```
    /// let p = taosr1_rewards::LengthPenalty::new(10, 20)?;
    /// assert_eq!(p.penalty(10), 0.0);
    /// assert!((p.penalty(13) + 0.3).abs() < 1e-6);
    /// assert_eq!(p.penalty(20), -1.0);
    /// # Ok::<(), taosr1_rewards::RewardError>(())
    /// ```
    pub fn penalty(&self, num_tokens: usize) -> f32 {
        if num_tokens <= self.budget {
            0.0
        } else if num_tokens >= self.hard_cap {
            -1.0
        } else {
            let over = (num_tokens - self.budget) as f64;
            let span = (self.hard_cap - self.budget) as f64;
            (-(over / span)) as f32
        }
    }

    /// [`LengthPenalty::penalty`] of [`count_tokens`]`(text)`.
    ///
    /// ```
    /// let p = taosr1_rewards::LengthPenalty::new(2, 6)?;
    /// assert_eq!(p.penalty_for("<think> a b </think>"), -0.5);
    /// # Ok::<(), taosr1_rewards::RewardError>(())
    /// ```
    pub fn penalty_for(&self, text: &str) -> f32 {
        self.penalty(count_tokens(text))
    }
}

/// Number of whitespace-separated tokens in `text`.
///
/// In the workspace token convention (lowercase words and punctuation separated by single
/// spaces, tags such as `<think>` as whole tokens) this equals the word-level tokenizer's count.
///
/// ```
/// use taosr1_rewards::count_tokens;
/// assert_eq!(count_tokens("<answer> L4 </answer> <think> brand match . </think>"), 8);
/// assert_eq!(count_tokens("   "), 0);
/// ```
pub fn count_tokens(text: &str) -> usize {
    text.split_whitespace().count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use proptest::prelude::*;
    use taosr1_cot::{GradeScale, Template};

    fn scale(k: usize) -> GradeScale {
        GradeScale::new((0..k).map(|i| format!("g{i}"))).unwrap()
    }

    #[test]
    fn exact_by_hand() {
        let s = GradeScale::default();
        let g = |i| s.grade(i).unwrap();
        assert_eq!(Correctness::Exact.reward(g(2), g(2), 4).unwrap(), 1.0);
        assert_eq!(Correctness::Exact.reward(g(1), g(2), 4).unwrap(), 0.0);
        assert_eq!(Correctness::Exact.reward(g(0), g(3), 4).unwrap(), 0.0);
    }

    #[test]
    fn ordinal_by_hand() {
        let s = GradeScale::default();
        let g = |i| s.grade(i).unwrap();
        // K = 4, K - 1 = 3
        assert_abs_diff_eq!(Correctness::Ordinal.reward(g(3), g(3), 4).unwrap(), 1.0);
        assert_abs_diff_eq!(
            Correctness::Ordinal.reward(g(2), g(3), 4).unwrap(),
            2.0 / 3.0,
            epsilon = 1e-6
        );
        assert_abs_diff_eq!(
            Correctness::Ordinal.reward(g(1), g(3), 4).unwrap(),
            1.0 / 3.0,
            epsilon = 1e-6
        );
        assert_abs_diff_eq!(Correctness::Ordinal.reward(g(0), g(3), 4).unwrap(), 0.0);
        // K = 5 on a 5-grade scale: distance 1 -> 0.75
        let s5 = scale(5);
        assert_abs_diff_eq!(
            Correctness::Ordinal
                .reward(s5.grade(4).unwrap(), s5.grade(3).unwrap(), 5)
                .unwrap(),
            0.75
        );
        // K = 2: ordinal collapses to exact.
        let s2 = scale(2);
        assert_eq!(
            Correctness::Ordinal
                .reward(s2.worst(), s2.best(), 2)
                .unwrap(),
            0.0
        );
    }

    #[test]
    fn correctness_errors() {
        let s = GradeScale::default();
        assert!(matches!(
            Correctness::Ordinal.reward(s.best(), s.worst(), 1),
            Err(RewardError::TooFewGrades { num_grades: 1 })
        ));
        assert!(matches!(
            Correctness::Ordinal.reward(s.best(), s.worst(), 3),
            Err(RewardError::GradeOutOfRange {
                which: "predicted",
                index: 3,
                num_grades: 3
            })
        ));
        assert!(matches!(
            Correctness::Exact.reward(s.worst(), s.best(), 2),
            Err(RewardError::GradeOutOfRange {
                which: "gold",
                index: 3,
                num_grades: 2
            })
        ));
    }

    #[test]
    fn format_by_hand() {
        let t = Template::default();
        let strict = t
            .parse_strict("<answer> L1 </answer> <think> a . </think>")
            .unwrap();
        assert_eq!(FormatScoring::Binary.reward(&strict, true), 1.0);
        assert_eq!(FormatScoring::Partial.reward(&strict, true), 1.0);
        // Two answers: present, closed, not exactly one, not well-formed -> 2/4.
        let two = t
            .parse_lenient("<answer> L1 </answer> <think> a </think> <answer> L2 </answer>")
            .unwrap();
        assert_eq!(FormatScoring::Partial.reward(&two, false), 0.5);
        assert_eq!(FormatScoring::Binary.reward(&two, false), 0.0);
        // Unclosed thinking that still yields a grade: present only -> 1/4.
        let open = t.parse_lenient("<think> maybe L2").unwrap();
        assert_eq!(FormatScoring::Partial.reward(&open, false), 0.25);
        // Unclosed thinking followed by one answer: present + one answer -> 2/4.
        let open_ans = t
            .parse_lenient("<think> hmm <answer> L4 </answer>")
            .unwrap();
        assert_eq!(FormatScoring::Partial.reward(&open_ans, false), 0.5);
    }

    #[test]
    fn length_by_hand() {
        let p = LengthPenalty::new(10, 30).unwrap();
        assert_eq!(p.penalty(0), 0.0);
        assert_eq!(p.penalty(10), 0.0);
        assert_abs_diff_eq!(p.penalty(11), -0.05, epsilon = 1e-7);
        assert_abs_diff_eq!(p.penalty(25), -0.75, epsilon = 1e-7);
        assert_eq!(p.penalty(30), -1.0);
        assert_eq!(p.penalty(usize::MAX), -1.0);
        assert_eq!(p.penalty_for(&"x ".repeat(20)), -0.5);
        assert!(LengthPenalty::new(5, 4).is_err());
    }

    #[test]
    fn length_serde_validates() {
        let p = LengthPenalty::new(3, 9).unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"budget":3,"hard_cap":9}"#);
        assert_eq!(serde_json::from_str::<LengthPenalty>(&json).unwrap(), p);
        assert!(serde_json::from_str::<LengthPenalty>(r#"{"budget":9,"hard_cap":3}"#).is_err());
        let c: Correctness = serde_json::from_str(r#""Ordinal""#).unwrap();
        assert_eq!(c, Correctness::Ordinal);
    }

    proptest! {
        #[test]
        fn ordinal_properties(k in 2usize..9, a in 0usize..9, b in 0usize..9) {
            let a = a % k;
            let b = b % k;
            let s = scale(k);
            let (ga, gb) = (s.grade(a).unwrap(), s.grade(b).unwrap());
            let r = Correctness::Ordinal.reward(ga, gb, k).unwrap();
            prop_assert!((0.0..=1.0).contains(&r));
            // Symmetric in the arguments.
            prop_assert_eq!(r, Correctness::Ordinal.reward(gb, ga, k).unwrap());
            // 1 iff exact.
            prop_assert_eq!(r == 1.0, a == b);
            prop_assert_eq!(Correctness::Exact.reward(ga, gb, k).unwrap() == 1.0, a == b);
            // Depends only on the distance: the mirrored prediction on the other side of the
            // gold grade scores the same.
            let d = a.abs_diff(b);
            if b >= d && b + d < k {
                let lo = Correctness::Ordinal.reward(s.grade(b - d).unwrap(), gb, k).unwrap();
                let hi = Correctness::Ordinal.reward(s.grade(b + d).unwrap(), gb, k).unwrap();
                prop_assert_eq!(lo, hi);
            }
            // Non-increasing in the distance.
            if a + 1 < k && a >= b {
                let further = Correctness::Ordinal.reward(s.grade(a + 1).unwrap(), gb, k).unwrap();
                prop_assert!(further < r);
            }
        }

        #[test]
        fn length_penalty_in_range_and_monotone(budget in 0usize..100, span in 1usize..100, n in 0usize..300) {
            let p = LengthPenalty::new(budget, budget + span).unwrap();
            let v = p.penalty(n);
            prop_assert!((-1.0..=0.0).contains(&v));
            prop_assert!(p.penalty(n + 1) <= v);
        }
    }
}
