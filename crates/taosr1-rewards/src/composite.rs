//! Weighted combinations of reward terms.

use serde::{Deserialize, Serialize};
use taosr1_cot::{Grade, ParsedResponse, Template};

use crate::{count_tokens, Correctness, FormatScoring, LengthPenalty, RewardError};

/// One reward term of a [`CompositeReward`].
///
/// | term | range | needs a parse |
/// |------|-------|---------------|
/// | [`RewardTerm::Correctness`] | `[0, 1]` | yes |
/// | [`RewardTerm::Format`] | `[0, 1]` | yes |
/// | [`RewardTerm::Length`] | `[-1, 0]` | no (counts tokens of the raw text) |
///
/// ```
/// use taosr1_rewards::{Correctness, FormatScoring, LengthPenalty, RewardTerm};
///
/// let terms = [
///     RewardTerm::Correctness(Correctness::Ordinal),
///     RewardTerm::Format(FormatScoring::Binary),
///     RewardTerm::Length(LengthPenalty::new(256, 512)?),
/// ];
/// assert_eq!(terms[1].name(), "format");
/// # Ok::<(), taosr1_rewards::RewardError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RewardTerm {
    /// Grade correctness against the gold grade, see [`Correctness`].
    Correctness(Correctness),
    /// Format validity, see [`FormatScoring`].
    Format(FormatScoring),
    /// Length penalty, see [`LengthPenalty`].
    Length(LengthPenalty),
}

impl RewardTerm {
    /// A short stable name for logging: `"correctness"`, `"format"` or `"length"`.
    ///
    /// ```
    /// use taosr1_rewards::{Correctness, RewardTerm};
    /// assert_eq!(RewardTerm::Correctness(Correctness::Exact).name(), "correctness");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            RewardTerm::Correctness(_) => "correctness",
            RewardTerm::Format(_) => "format",
            RewardTerm::Length(_) => "length",
        }
    }
}

/// What to do with generated text that the strict parser rejects.
///
/// ```
/// use taosr1_rewards::Strictness;
/// assert_eq!(Strictness::default(), Strictness::Lenient);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Strictness {
    /// Only strictly well-formed output is scored; anything else is
    /// [`RewardError::Unparseable`].
    Strict,
    /// Malformed output is repaired with [`Template::parse_lenient`]; when even that finds no
    /// grade, the correctness and format terms take the [`UnparseableReward`] values instead
    /// of failing. The default, since an RL batch should not abort on one bad sample.
    #[default]
    Lenient,
}

/// Term values used under [`Strictness::Lenient`] when no grade can be recovered at all.
/// Both default to 0 (the length penalty is still computed from the raw text).
///
/// ```
/// use taosr1_rewards::UnparseableReward;
/// let u = UnparseableReward::new(-1.0, 0.0)?;
/// assert_eq!((u.correctness, u.format), (-1.0, 0.0));
/// assert_eq!(UnparseableReward::default(), UnparseableReward::new(0.0, 0.0)?);
/// # Ok::<(), taosr1_rewards::RewardError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UnparseableReward {
    /// Value of every [`RewardTerm::Correctness`] term.
    pub correctness: f32,
    /// Value of every [`RewardTerm::Format`] term.
    pub format: f32,
}

impl UnparseableReward {
    /// Validated values (both must be finite).
    ///
    /// Errors: [`RewardError::InvalidUnparseableReward`].
    ///
    /// ```
    /// use taosr1_rewards::UnparseableReward;
    /// assert!(UnparseableReward::new(f32::NAN, 0.0).is_err());
    /// ```
    pub fn new(correctness: f32, format: f32) -> Result<Self, RewardError> {
        let u = Self {
            correctness,
            format,
        };
        u.validate()?;
        Ok(u)
    }

    fn validate(&self) -> Result<(), RewardError> {
        for (which, value) in [("correctness", self.correctness), ("format", self.format)] {
            if !value.is_finite() {
                return Err(RewardError::InvalidUnparseableReward { which, value });
            }
        }
        Ok(())
    }
}

/// How the generated text was read.
///
/// ```
/// use taosr1_cot::GradeScale;
/// use taosr1_rewards::{CompositeReward, ParseStatus};
///
/// let reward = CompositeReward::correctness(taosr1_rewards::Correctness::Exact);
/// let gold = GradeScale::default().parse("L2").unwrap();
/// let b = reward.score("<answer> L2 <think> a . </think>", gold)?;
/// assert_eq!(b.parse, ParseStatus::Repaired);
/// # Ok::<(), taosr1_rewards::RewardError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseStatus {
    /// Accepted by the strict parser: well-formed.
    Strict,
    /// Rejected by the strict parser but repaired by the lenient one.
    Repaired,
    /// No grade could be recovered (only under [`Strictness::Lenient`]).
    Unparseable,
}

/// The value of one term in a [`RewardBreakdown`].
///
/// ```
/// use taosr1_cot::GradeScale;
/// use taosr1_rewards::{CompositeReward, Correctness};
///
/// let b = CompositeReward::correctness(Correctness::Exact)
///     .score("<answer> L4 </answer> <think> a . </think>", GradeScale::default().best())?;
/// assert_eq!((b.terms[0].weight, b.terms[0].value), (1.0, 1.0));
/// # Ok::<(), taosr1_rewards::RewardError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct TermValue {
    /// The term.
    pub term: RewardTerm,
    /// Its weight in the composite.
    pub weight: f32,
    /// Its unweighted value.
    pub value: f32,
}

/// Every term's value and the weighted total, for one generated response.
///
/// ```
/// use taosr1_cot::GradeScale;
/// use taosr1_rewards::{CompositeReward, Correctness};
///
/// let b = CompositeReward::correctness(Correctness::Ordinal)
///     .score("<answer> L2 </answer> <think> a . </think>", GradeScale::default().best())?;
/// assert_eq!(b.predicted, Some(GradeScale::default().parse("L2").unwrap()));
/// assert!((b.total - 1.0 / 3.0).abs() < 1e-6);
/// # Ok::<(), taosr1_rewards::RewardError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RewardBreakdown {
    /// One entry per term, in the order they were added.
    pub terms: Vec<TermValue>,
    /// `Σ weight · value` over the terms.
    pub total: f32,
    /// The grade read from the text, if any.
    pub predicted: Option<Grade>,
    /// How the text was read.
    pub parse: ParseStatus,
}

/// A weighted sum of [`RewardTerm`]s, evaluated on generated text against a gold grade.
///
/// Build one with [`CompositeReward::builder`]. `total = Σ weight_i · term_i`. Weights may be
/// any finite number.
///
/// ```
/// use taosr1_cot::GradeScale;
/// use taosr1_rewards::{CompositeReward, Correctness, FormatScoring, LengthPenalty, RewardTerm};
///
/// let reward = CompositeReward::builder()
///     .term(1.0, RewardTerm::Correctness(Correctness::Ordinal))
///     .term(0.5, RewardTerm::Format(FormatScoring::Binary))
///     .term(0.1, RewardTerm::Length(LengthPenalty::new(4, 12)?))
///     .build()?;
/// let gold = GradeScale::default().parse("L3")?;
/// // 8 tokens: ordinal 1 - 1/3, format 1, length -(8 - 4) / 8 = -0.5
/// let b = reward.score("<answer> L4 </answer> <think> brand match . </think>", gold)?;
/// assert!((b.total - (2.0 / 3.0 + 0.5 - 0.05)).abs() < 1e-6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CompositeReward {
    terms: Vec<(f32, RewardTerm)>,
    strictness: Strictness,
    unparseable: UnparseableReward,
    template: Template,
}

/// Builder for [`CompositeReward`]; see [`CompositeReward::builder`].
///
/// ```
/// use taosr1_rewards::{CompositeReward, Correctness, RewardTerm, Strictness};
/// let r = CompositeReward::builder()
///     .term(1.0, RewardTerm::Correctness(Correctness::Exact))
///     .strictness(Strictness::Strict)
///     .build()?;
/// assert_eq!(r.strictness(), Strictness::Strict);
/// # Ok::<(), taosr1_rewards::RewardError>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct CompositeRewardBuilder {
    terms: Vec<(f32, RewardTerm)>,
    strictness: Strictness,
    unparseable: UnparseableReward,
    template: Template,
}

impl CompositeRewardBuilder {
    /// Adds `term` with `weight`.
    ///
    /// ```
    /// use taosr1_rewards::{CompositeReward, FormatScoring, RewardTerm};
    /// let r = CompositeReward::builder().term(0.5, RewardTerm::Format(FormatScoring::Partial)).build()?;
    /// assert_eq!(r.terms().len(), 1);
    /// # Ok::<(), taosr1_rewards::RewardError>(())
    /// ```
    pub fn term(mut self, weight: f32, term: RewardTerm) -> Self {
        self.terms.push((weight, term));
        self
    }

    /// Sets the [`Strictness`] (default [`Strictness::Lenient`]).
    ///
    /// ```
    /// use taosr1_rewards::{CompositeReward, Correctness, RewardTerm, Strictness};
    /// let b = CompositeReward::builder().strictness(Strictness::Strict);
    /// # let _ = b;
    /// ```
    pub fn strictness(mut self, strictness: Strictness) -> Self {
        self.strictness = strictness;
        self
    }

    /// Sets the values used for unparseable output under [`Strictness::Lenient`]
    /// (default 0 and 0).
    ///
    /// ```
    /// use taosr1_rewards::{CompositeReward, Correctness, RewardTerm, UnparseableReward};
    /// let r = CompositeReward::builder()
    ///     .term(1.0, RewardTerm::Correctness(Correctness::Exact))
    ///     .unparseable_reward(UnparseableReward::new(-1.0, 0.0)?)
    ///     .build()?;
    /// let gold = taosr1_cot::GradeScale::default().best();
    /// assert_eq!(r.score("no grade here", gold)?.total, -1.0);
    /// # Ok::<(), taosr1_rewards::RewardError>(())
    /// ```
    pub fn unparseable_reward(mut self, unparseable: UnparseableReward) -> Self {
        self.unparseable = unparseable;
        self
    }

    /// Sets the template whose grade scale and parsers are used (default
    /// [`Template::default`], grades `L1..L4`).
    ///
    /// ```
    /// use taosr1_cot::{GradeScale, Template};
    /// use taosr1_rewards::{CompositeReward, Correctness, RewardTerm};
    /// let t = Template::new(GradeScale::new(["bad", "good"]).unwrap());
    /// let r = CompositeReward::builder()
    ///     .template(t.clone())
    ///     .term(1.0, RewardTerm::Correctness(Correctness::Exact))
    ///     .build()?;
    /// let good = t.scale().best();
    /// assert!(r.is_correct("<answer> good </answer> <think> </think>", good));
    /// # Ok::<(), taosr1_rewards::RewardError>(())
    /// ```
    pub fn template(mut self, template: Template) -> Self {
        self.template = template;
        self
    }

    /// Validates and builds.
    ///
    /// Errors: [`RewardError::NoTerms`], [`RewardError::InvalidWeight`] for a NaN or infinite
    /// weight, and [`RewardError::InvalidUnparseableReward`].
    ///
    /// ```
    /// use taosr1_rewards::{CompositeReward, RewardError};
    /// assert!(matches!(CompositeReward::builder().build(), Err(RewardError::NoTerms)));
    /// ```
    pub fn build(self) -> Result<CompositeReward, RewardError> {
        if self.terms.is_empty() {
            return Err(RewardError::NoTerms);
        }
        if let Some((index, &(weight, _))) = self
            .terms
            .iter()
            .enumerate()
            .find(|(_, (w, _))| !w.is_finite())
        {
            return Err(RewardError::InvalidWeight { index, weight });
        }
        self.unparseable.validate()?;
        Ok(CompositeReward {
            terms: self.terms,
            strictness: self.strictness,
            unparseable: self.unparseable,
            template: self.template,
        })
    }
}

impl CompositeReward {
    /// Starts a builder: no terms, [`Strictness::Lenient`], [`UnparseableReward::default`],
    /// [`Template::default`].
    ///
    /// ```
    /// use taosr1_rewards::{CompositeReward, Correctness, RewardTerm};
    /// let r = CompositeReward::builder().term(1.0, RewardTerm::Correctness(Correctness::Exact)).build()?;
    /// assert_eq!(r.terms()[0].0, 1.0);
    /// # Ok::<(), taosr1_rewards::RewardError>(())
    /// ```
    pub fn builder() -> CompositeRewardBuilder {
        CompositeRewardBuilder::default()
    }

    /// A reward with the single term `1.0 × correctness`, lenient, default template.
    ///
    /// ```
    /// use taosr1_rewards::{CompositeReward, Correctness};
    /// assert_eq!(CompositeReward::correctness(Correctness::Exact).terms().len(), 1);
    /// ```
    pub fn correctness(mode: Correctness) -> Self {
        CompositeReward {
            terms: vec![(1.0, RewardTerm::Correctness(mode))],
            strictness: Strictness::Lenient,
            unparseable: UnparseableReward::default(),
            template: Template::default(),
        }
    }

    /// The weighted terms, in order.
    ///
    /// ```
    /// use taosr1_rewards::{CompositeReward, Correctness, RewardTerm};
    /// let r = CompositeReward::correctness(Correctness::Ordinal);
    /// assert_eq!(r.terms(), &[(1.0, RewardTerm::Correctness(Correctness::Ordinal))]);
    /// ```
    pub fn terms(&self) -> &[(f32, RewardTerm)] {
        &self.terms
    }

    /// The strictness in use.
    ///
    /// ```
    /// use taosr1_rewards::{CompositeReward, Correctness, Strictness};
    /// assert_eq!(CompositeReward::correctness(Correctness::Exact).strictness(), Strictness::Lenient);
    /// ```
    pub fn strictness(&self) -> Strictness {
        self.strictness
    }

    /// The values used for unparseable output under [`Strictness::Lenient`].
    ///
    /// ```
    /// use taosr1_rewards::{CompositeReward, Correctness, UnparseableReward};
    /// let r = CompositeReward::correctness(Correctness::Exact);
    /// assert_eq!(r.unparseable_reward(), UnparseableReward::default());
    /// ```
    pub fn unparseable_reward(&self) -> UnparseableReward {
        self.unparseable
    }

    /// The template used for parsing.
    ///
    /// ```
    /// use taosr1_rewards::{CompositeReward, Correctness};
    /// assert_eq!(CompositeReward::correctness(Correctness::Exact).template().scale().len(), 4);
    /// ```
    pub fn template(&self) -> &Template {
        &self.template
    }

    /// Scores `generated` against the `gold` grade.
    ///
    /// The text is first given to [`Template::parse_strict`]. If that fails, under
    /// [`Strictness::Strict`] the result is [`RewardError::Unparseable`]; under
    /// [`Strictness::Lenient`] it is repaired with [`Template::parse_lenient`], and if no grade
    /// can be recovered the correctness and format terms take the [`UnparseableReward`]
    /// values. Length terms always count the raw text.
    ///
    /// Errors: [`RewardError::Unparseable`] (strict mode only) and
    /// [`RewardError::GradeOutOfRange`] when `gold` is not on the template's scale.
    ///
    /// ```
    /// use taosr1_cot::GradeScale;
    /// use taosr1_rewards::{CompositeReward, Correctness, FormatScoring, ParseStatus, RewardTerm};
    ///
    /// let r = CompositeReward::builder()
    ///     .term(1.0, RewardTerm::Correctness(Correctness::Exact))
    ///     .term(0.5, RewardTerm::Format(FormatScoring::Binary))
    ///     .build()?;
    /// let gold = GradeScale::default().parse("L1").unwrap();
    /// // Repaired: the grade is right but the format is not.
    /// let b = r.score("<answer> L1 </answer> <think> no match . </think> extra", gold)?;
    /// assert_eq!((b.parse, b.total), (ParseStatus::Repaired, 1.0));
    /// // Unparseable: both terms get the default 0.
    /// let b = r.score("i do not know", gold)?;
    /// assert_eq!((b.parse, b.total, b.predicted), (ParseStatus::Unparseable, 0.0, None));
    /// # Ok::<(), taosr1_rewards::RewardError>(())
    /// ```
    pub fn score(&self, generated: &str, gold: Grade) -> Result<RewardBreakdown, RewardError> {
        let num_grades = self.template.scale().len();
        if gold.index() >= num_grades {
            return Err(RewardError::GradeOutOfRange {
                which: "gold",
                index: gold.index(),
                num_grades,
            });
        }
        let (parsed, parse) = self.read(generated)?;

        let mut terms = Vec::with_capacity(self.terms.len());
        let mut total = 0.0f32;
        for &(weight, term) in &self.terms {
            let value = match (term, &parsed) {
                (RewardTerm::Correctness(mode), Some(p)) => {
                    mode.reward(p.grade, gold, num_grades)?
                }
                (RewardTerm::Correctness(_), None) => self.unparseable.correctness,
                (RewardTerm::Format(scoring), Some(p)) => {
                    scoring.reward(p, parse == ParseStatus::Strict)
                }
                (RewardTerm::Format(_), None) => self.unparseable.format,
                (RewardTerm::Length(penalty), _) => penalty.penalty(count_tokens(generated)),
            };
            total += weight * value;
            terms.push(TermValue {
                term,
                weight,
                value,
            });
        }
        Ok(RewardBreakdown {
            terms,
            total,
            predicted: parsed.map(|p| p.grade),
            parse,
        })
    }

    /// Whether `generated` answers `gold`, read with this reward's template and strictness:
    /// under [`Strictness::Strict`] the text must be well-formed; under
    /// [`Strictness::Lenient`] a repaired grade counts. Never fails: unparseable text or a
    /// `gold` off the scale is simply not correct.
    ///
    /// ```
    /// use taosr1_cot::GradeScale;
    /// use taosr1_rewards::{CompositeReward, Correctness};
    /// let r = CompositeReward::correctness(Correctness::Exact);
    /// let l4 = GradeScale::default().best();
    /// assert!(r.is_correct("<answer> L4 <think> a . </think>", l4));
    /// assert!(!r.is_correct("<answer> L3 </answer> <think> a . </think>", l4));
    /// ```
    pub fn is_correct(&self, generated: &str, gold: Grade) -> bool {
        matches!(self.read(generated), Ok((Some(p), _)) if p.grade == gold)
    }

    fn read(&self, generated: &str) -> Result<(Option<ParsedResponse>, ParseStatus), RewardError> {
        match self.template.parse_strict(generated) {
            Ok(p) => Ok((Some(p), ParseStatus::Strict)),
            Err(reason) => match self.strictness {
                Strictness::Strict => Err(RewardError::Unparseable { reason }),
                Strictness::Lenient => Ok(match self.template.parse_lenient(generated) {
                    Ok(p) => (Some(p), ParseStatus::Repaired),
                    Err(_) => (None, ParseStatus::Unparseable),
                }),
            },
        }
    }
}

/// Whether `generated` is a well-formed response (strict parse, default `L1..L4` template)
/// whose grade is `gold`. The convenience check for pass@N sampling and difficulty-based
/// dynamic sampling: a sample only counts when it would also be usable as a clean training
/// target. For another scale or lenient reading, use [`CompositeReward::is_correct`].
///
/// ```
/// use taosr1_cot::GradeScale;
/// let l2 = GradeScale::default().parse("L2").unwrap();
/// assert!(taosr1_rewards::is_correct("<answer> L2 </answer> <think> brand mismatch . </think>", l2));
/// assert!(!taosr1_rewards::is_correct("<answer> L2 <think> brand mismatch . </think>", l2));
/// ```
pub fn is_correct(generated: &str, gold: Grade) -> bool {
    matches!(Template::default().parse_strict(generated), Ok(p) if p.grade == gold)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use proptest::prelude::*;
    use taosr1_cot::GradeScale;

    const GOOD_L3: &str = "<answer> L3 </answer> <think> category match . brand match . </think>";

    fn g(label: &str) -> Grade {
        GradeScale::default().parse(label).unwrap()
    }

    fn full(strictness: Strictness) -> CompositeReward {
        CompositeReward::builder()
            .term(1.0, RewardTerm::Correctness(Correctness::Ordinal))
            .term(0.5, RewardTerm::Format(FormatScoring::Partial))
            .term(0.2, RewardTerm::Length(LengthPenalty::new(6, 16).unwrap()))
            .term(2.0, RewardTerm::Correctness(Correctness::Exact))
            .strictness(strictness)
            .build()
            .unwrap()
    }

    #[test]
    fn composite_well_formed_by_hand() {
        // GOOD_L3 has 11 tokens; gold L4.
        // ordinal: 1 - 1/3 = 2/3; format: 1; length: -(11 - 6)/10 = -0.5; exact: 0
        // total = 2/3 + 0.5 - 0.1 + 0 = 1.0666667
        let b = full(Strictness::Strict).score(GOOD_L3, g("L4")).unwrap();
        assert_eq!(b.parse, ParseStatus::Strict);
        assert_eq!(b.predicted, Some(g("L3")));
        let values: Vec<f32> = b.terms.iter().map(|t| t.value).collect();
        assert_abs_diff_eq!(values[0], 2.0 / 3.0, epsilon = 1e-6);
        assert_eq!(values[1], 1.0);
        assert_abs_diff_eq!(values[2], -0.5, epsilon = 1e-6);
        assert_eq!(values[3], 0.0);
        assert_abs_diff_eq!(b.total, 2.0 / 3.0 + 0.5 - 0.1, epsilon = 1e-6);
        assert_eq!(b.terms[2].term.name(), "length");
        assert_eq!(b.terms[3].weight, 2.0);

        // Same text, gold L3: ordinal 1, format 1, length -0.5, exact 1 -> 1 + 0.5 - 0.1 + 2 = 3.4
        let b = full(Strictness::Lenient).score(GOOD_L3, g("L3")).unwrap();
        assert_abs_diff_eq!(b.total, 3.4, epsilon = 1e-6);
    }

    #[test]
    fn composite_repaired_by_hand() {
        // Unclosed answer: 6 tokens, strict parse fails, lenient reads L2. Gold L1.
        let text = "<answer> L2 <think> no match </think>";
        assert!(matches!(
            full(Strictness::Strict).score(text, g("L1")),
            Err(RewardError::Unparseable {
                reason: taosr1_cot::ParseError::UnclosedAnswer
            })
        ));
        let b = full(Strictness::Lenient).score(text, g("L1")).unwrap();
        assert_eq!(b.parse, ParseStatus::Repaired);
        // ordinal 2/3; partial format 3/4; length 0 (6 tokens <= 6); exact 0
        assert_abs_diff_eq!(b.terms[0].value, 2.0 / 3.0, epsilon = 1e-6);
        assert_eq!(b.terms[1].value, 0.75);
        assert_eq!(b.terms[2].value, 0.0);
        assert_abs_diff_eq!(b.total, 2.0 / 3.0 + 0.375, epsilon = 1e-6);
    }

    #[test]
    fn composite_unparseable_by_hand() {
        // 20 tokens of babble: correctness and format take the unparseable values,
        // length is still counted: -(20 - 6)/10 -> capped at -1.
        let text = "words ".repeat(20);
        let r = CompositeReward::builder()
            .term(1.0, RewardTerm::Correctness(Correctness::Ordinal))
            .term(0.5, RewardTerm::Format(FormatScoring::Partial))
            .term(0.2, RewardTerm::Length(LengthPenalty::new(6, 16).unwrap()))
            .unparseable_reward(UnparseableReward::new(-0.5, -1.0).unwrap())
            .build()
            .unwrap();
        let b = r.score(&text, g("L2")).unwrap();
        assert_eq!((b.parse, b.predicted), (ParseStatus::Unparseable, None));
        assert_eq!(b.terms[0].value, -0.5);
        assert_eq!(b.terms[1].value, -1.0);
        assert_eq!(b.terms[2].value, -1.0);
        assert_abs_diff_eq!(b.total, -0.5 - 0.5 - 0.2, epsilon = 1e-6);
        // Default unparseable reward is 0 for both.
        let b = full(Strictness::Lenient).score("", g("L2")).unwrap();
        assert_eq!(b.total, 0.0);
        assert!(matches!(
            full(Strictness::Strict).score("", g("L2")),
            Err(RewardError::Unparseable {
                reason: taosr1_cot::ParseError::Empty
            })
        ));
    }

    #[test]
    fn gold_off_scale_is_an_error() {
        let big = GradeScale::new(["a", "b", "c", "d", "e"]).unwrap();
        let r = full(Strictness::Lenient);
        assert!(matches!(
            r.score(GOOD_L3, big.best()),
            Err(RewardError::GradeOutOfRange {
                which: "gold",
                index: 4,
                num_grades: 4
            })
        ));
        assert!(!r.is_correct(GOOD_L3, big.best()));
    }

    #[test]
    fn builder_validates() {
        assert!(matches!(
            CompositeReward::builder().build(),
            Err(RewardError::NoTerms)
        ));
        assert!(matches!(
            CompositeReward::builder()
                .term(1.0, RewardTerm::Format(FormatScoring::Binary))
                .term(f32::NAN, RewardTerm::Format(FormatScoring::Binary))
                .build(),
            Err(RewardError::InvalidWeight { index: 1, .. })
        ));
        let bad = UnparseableReward {
            format: f32::INFINITY,
            ..UnparseableReward::default()
        };
        assert!(matches!(
            CompositeReward::builder()
                .term(1.0, RewardTerm::Format(FormatScoring::Binary))
                .unparseable_reward(bad)
                .build(),
            Err(RewardError::InvalidUnparseableReward {
                which: "format",
                ..
            })
        ));
    }

    #[test]
    fn is_correct_variants() {
        let lenient = CompositeReward::correctness(Correctness::Exact);
        let strict = CompositeReward::builder()
            .term(1.0, RewardTerm::Correctness(Correctness::Exact))
            .strictness(Strictness::Strict)
            .build()
            .unwrap();
        let repaired = "<answer> L3 <think> a </think>";
        assert!(lenient.is_correct(repaired, g("L3")));
        assert!(!strict.is_correct(repaired, g("L3")));
        assert!(!is_correct(repaired, g("L3")));
        assert!(is_correct(GOOD_L3, g("L3")));
        assert!(strict.is_correct(GOOD_L3, g("L3")));
        assert!(!is_correct(GOOD_L3, g("L4")));
        assert!(!lenient.is_correct("nothing", g("L1")));
    }

    #[test]
    fn serde_of_terms() {
        let term = RewardTerm::Length(LengthPenalty::new(1, 2).unwrap());
        let json = serde_json::to_string(&term).unwrap();
        assert_eq!(json, r#"{"Length":{"budget":1,"hard_cap":2}}"#);
        assert_eq!(serde_json::from_str::<RewardTerm>(&json).unwrap(), term);
    }

    fn any_term() -> impl Strategy<Value = RewardTerm> {
        prop_oneof![
            Just(RewardTerm::Correctness(Correctness::Exact)),
            Just(RewardTerm::Correctness(Correctness::Ordinal)),
            Just(RewardTerm::Format(FormatScoring::Binary)),
            Just(RewardTerm::Format(FormatScoring::Partial)),
            (0usize..20, 1usize..20)
                .prop_map(|(b, s)| RewardTerm::Length(LengthPenalty::new(b, b + s).unwrap())),
        ]
    }

    fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![
            (0usize..4, "[a-z .]{0,30}").prop_map(|(gi, r)| {
                let t = Template::default();
                t.response(&r, t.scale().grade(gi).unwrap())
            }),
            "(<think>|</think>|<answer>|</answer>|L[0-5]|x|\\.| ){0,14}",
        ]
    }

    proptest! {
        #[test]
        fn total_is_weighted_sum(
            terms in prop::collection::vec((-3.0f32..3.0, any_term()), 1..6),
            text in any_text(),
            gold in 0usize..4,
            lenient in any::<bool>(),
        ) {
            let mut b = CompositeReward::builder().strictness(if lenient {
                Strictness::Lenient
            } else {
                Strictness::Strict
            });
            for &(w, t) in &terms {
                b = b.term(w, t);
            }
            let reward = b.build().unwrap();
            let gold = GradeScale::default().grade(gold).unwrap();
            match reward.score(&text, gold) {
                Ok(breakdown) => {
                    prop_assert_eq!(breakdown.terms.len(), terms.len());
                    let mut sum = 0.0f32;
                    for (tv, &(w, t)) in breakdown.terms.iter().zip(&terms) {
                        prop_assert_eq!(tv.weight, w);
                        prop_assert_eq!(tv.term, t);
                        let range = match t {
                            RewardTerm::Length(_) => -1.0..=0.0,
                            _ => 0.0..=1.0,
                        };
                        prop_assert!(range.contains(&tv.value), "{:?}", tv);
                        sum += w * tv.value;
                    }
                    prop_assert!((breakdown.total - sum).abs() <= 1e-5);
                    prop_assert_eq!(
                        breakdown.predicted == Some(gold),
                        reward.is_correct(&text, gold)
                    );
                }
                Err(RewardError::Unparseable { .. }) => {
                    prop_assert!(!lenient);
                    prop_assert!(!reward.is_correct(&text, gold));
                }
                Err(e) => prop_assert!(false, "unexpected error {e}"),
            }
        }
    }
}
