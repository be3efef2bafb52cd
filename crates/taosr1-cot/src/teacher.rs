//! Teachers: write a five-step rationale for a labelled query–product pair whose data has
//! none, or reject the pair with a reason.
//!
//! A [`Teacher`] is given an [`Item`] and its gold [`Grade`] and returns a [`Verdict`]: a kept
//! rationale, which becomes [`Example::rationale`], or a [`RejectReason`]. The rationale has
//! five steps, in this order ([`Step`]):
//!
//! 1. query understanding, 2. item understanding, 3. category matching, 4. attribute matching,
//! 5. relevance decision (which states the gold grade),
//!
//! rendered as one text in the token convention: `query understanding : … . item
//! understanding : … . … relevance decision : … grade l3 .` ([`FiveSteps::render`]).
//!
//! Two teachers implement the trait: [`RuleTeacher`] here (checks plus retrieved
//! [atomic rules](crate::rules)) and the facade crate's `LlmTeacher` (a loaded checkpoint
//! prompted with the item, the rules and the gold grade).
//!
//! ```
//! use taosr1_cot::teacher::{RuleTeacher, Teacher, TeachReport};
//! use taosr1_cot::{GradeScale, Item, Product};
//!
//! let scale = GradeScale::default();
//! let mut teacher = RuleTeacher::new(Default::default(), scale.clone());
//! let item = Item {
//!     query: "white 36 in. vanity".into(),
//!     product: Product { title: "Glacier Bay 36 in. Vanity in White".into(), ..Product::default() },
//!     ..Item::default()
//! };
//! let verdict = teacher.write(&item, scale.best())?;
//! let rationale = verdict.rationale().unwrap();
//! assert!(rationale.starts_with("query understanding :"));
//! assert!(rationale.ends_with("so the grade is l4 ."));
//! let mut report = TeachReport::default();
//! report.add(&verdict);
//! assert_eq!((report.kept, report.rejected), (1, 0));
//! # Ok::<(), taosr1_cot::CotError>(())
//! ```

mod analyser;

use std::collections::BTreeMap;
use std::fmt;

pub use analyser::{
    brand_lexicon, Analysis, Check, CheckOutcome, Measure, RuleTeacher, RuleTeacherConfig,
    EVIDENCE_ATTRIBUTE,
};

use crate::rules::CheckKind;
use crate::template::normalize_text;
use crate::{Example, Grade, GradeScale, Item};

/// One of the five steps of a rationale.
///
/// ```
/// use taosr1_cot::teacher::Step;
/// assert_eq!(Step::ALL[4].heading(), "relevance decision");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// What the query asks for: product type, brand, sizes, colours, materials, exclusions.
    Query,
    /// What the item is: its type, brand and attributes from the title.
    Item,
    /// The product type of the query against the item's.
    Category,
    /// Brand, measurements, colour, material and exclusions, one by one.
    Attribute,
    /// The conclusion, stating the grade.
    Decision,
}

impl Step {
    /// The five steps in order.
    ///
    /// ```
    /// assert_eq!(taosr1_cot::teacher::Step::ALL[0].heading(), "query understanding");
    /// ```
    pub const ALL: [Step; 5] = [
        Step::Query,
        Step::Item,
        Step::Category,
        Step::Attribute,
        Step::Decision,
    ];

    /// The heading the rendered rationale uses (token convention).
    ///
    /// ```
    /// assert_eq!(taosr1_cot::teacher::Step::Category.heading(), "category matching");
    /// ```
    pub fn heading(self) -> &'static str {
        match self {
            Step::Query => "query understanding",
            Step::Item => "item understanding",
            Step::Category => "category matching",
            Step::Attribute => "attribute matching",
            Step::Decision => "relevance decision",
        }
    }
}

/// The five steps' contents, in [`Step::ALL`] order.
///
/// ```
/// use taosr1_cot::teacher::FiveSteps;
/// let steps = FiveSteps::new(["a", "b", "c", "d", "grade l2"].map(String::from));
/// assert_eq!(
///     steps.render(),
///     "query understanding : a . item understanding : b . category matching : c . attribute matching : d . relevance decision : grade l2 ."
/// );
/// assert_eq!(FiveSteps::parse(&steps.render()).unwrap(), steps);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FiveSteps {
    steps: [String; 5],
}

impl FiveSteps {
    /// Steps from their contents (each normalised with [`normalize_text`], a trailing `.`
    /// dropped).
    ///
    /// ```
    /// use taosr1_cot::teacher::{FiveSteps, Step};
    /// let s = FiveSteps::new(["A Drill.", "b", "c", "d", "L4"].map(String::from));
    /// assert_eq!(s.get(Step::Query), "a drill");
    /// ```
    pub fn new(steps: [String; 5]) -> FiveSteps {
        FiveSteps {
            steps: steps.map(|s| {
                let n = normalize_text(&s);
                n.trim_end_matches(" .")
                    .trim_end_matches('.')
                    .trim()
                    .to_string()
            }),
        }
    }

    /// The content of one step.
    ///
    /// ```
    /// use taosr1_cot::teacher::{FiveSteps, Step};
    /// let s = FiveSteps::new(["q", "i", "c", "a", "d"].map(String::from));
    /// assert_eq!(s.get(Step::Attribute), "a");
    /// ```
    pub fn get(&self, step: Step) -> &str {
        &self.steps[step as usize]
    }

    /// One text in the token convention: `heading : content .` for each step, joined by
    /// spaces.
    ///
    /// ```
    /// use taosr1_cot::teacher::FiveSteps;
    /// let s = FiveSteps::new(["a", "b", "c", "d", "e"].map(String::from));
    /// assert!(s.render().ends_with("relevance decision : e ."));
    /// ```
    pub fn render(&self) -> String {
        let parts: Vec<String> = Step::ALL
            .iter()
            .map(|s| format!("{} : {} .", s.heading(), self.get(*s)))
            .collect();
        normalize_text(&parts.join(" "))
    }

    /// Find the five steps in free text (e.g. a model's answer): the headings are looked for
    /// in order after [`normalize_text`] (so `1. Query understanding:` and `**Item
    /// understanding**` both count); a step's content is the text up to the next heading,
    /// with list numbers and markup left in.
    ///
    /// # Errors
    /// [`RejectReason::MissingSteps`] naming the headings not found in order, or
    /// [`RejectReason::EmptyStep`] for a step with no content.
    ///
    /// ```
    /// use taosr1_cot::teacher::{FiveSteps, RejectReason, Step};
    /// let text = "1. Query understanding: drill. 2. Item understanding: a drill.\n3. Category matching: same.\n4. Attribute matching: none.\n5. Relevance decision: L4";
    /// let steps = FiveSteps::parse(text).unwrap();
    /// assert_eq!(steps.get(Step::Decision), "l4");
    /// assert!(matches!(FiveSteps::parse("query understanding: x"), Err(RejectReason::MissingSteps { .. })));
    /// ```
    pub fn parse(text: &str) -> Result<FiveSteps, RejectReason> {
        let norm = normalize_text(text);
        let padded = format!(" {norm} ");
        let mut starts = Vec::with_capacity(5);
        let mut from = 0;
        let mut missing = Vec::new();
        for step in Step::ALL {
            let needle = format!(" {} ", step.heading());
            match padded[from..].find(&needle) {
                Some(at) => {
                    let begin = from + at;
                    let end = begin + needle.len();
                    starts.push((begin, end));
                    from = end;
                }
                None => missing.push(step.heading().to_string()),
            }
        }
        if !missing.is_empty() {
            return Err(RejectReason::MissingSteps { missing });
        }
        let mut contents: Vec<String> = Vec::with_capacity(5);
        for (i, &(_, end)) in starts.iter().enumerate() {
            let stop = starts.get(i + 1).map_or(padded.len(), |&(b, _)| b);
            let mut body = padded[end..stop].trim();
            // Drop the `:` after the heading and a trailing list number ("2 .") of the next.
            body = body
                .trim_start_matches([':', '*', '#', '-', ')', ' '])
                .trim();
            let body = strip_list_number(body);
            let body = body.trim_end_matches(['.', '*', '#', '-']).trim();
            if body.is_empty() {
                return Err(RejectReason::EmptyStep {
                    step: Step::ALL[i].heading().to_string(),
                });
            }
            contents.push(body.to_string());
        }
        let steps: [String; 5] = [
            contents[0].clone(),
            contents[1].clone(),
            contents[2].clone(),
            contents[3].clone(),
            contents[4].clone(),
        ];
        Ok(FiveSteps::new(steps))
    }
}

/// Drop a trailing ` 2 .` or `* *` style list marker left by the next step's numbering.
fn strip_list_number(body: &str) -> &str {
    let mut s = body.trim_end();
    loop {
        let before = s;
        s = s.trim_end_matches(['*', '#']).trim_end();
        if let Some(rest) = s.strip_suffix(" .").or_else(|| s.strip_suffix(" )")) {
            let rest = rest.trim_end();
            if let Some(pos) = rest.rfind(' ') {
                if rest[pos + 1..].chars().all(|c| c.is_ascii_digit()) {
                    s = rest[..pos].trim_end();
                }
            } else if rest.chars().all(|c| c.is_ascii_digit()) {
                s = "";
            }
        }
        if s == before {
            return s;
        }
    }
}

/// Why a teacher did not keep a rationale.
///
/// ```
/// use taosr1_cot::teacher::RejectReason;
/// let r = RejectReason::Inconsistent { evidence: "L4".into(), gold: "L1".into() };
/// assert_eq!(r.key(), "inconsistent: evidence L4, gold L1");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectReason {
    /// The teacher's own evidence grade is more than one grade away from the gold grade.
    Inconsistent {
        /// The label the evidence points to.
        evidence: String,
        /// The gold label.
        gold: String,
    },
    /// Nothing in the query could be checked against the item (no content word, size,
    /// colour, material or exclusion).
    NothingCheckable,
    /// Some of the five step headings are missing (or out of order).
    MissingSteps {
        /// The headings not found.
        missing: Vec<String>,
    },
    /// A step has no content.
    EmptyStep {
        /// Its heading.
        step: String,
    },
    /// A step names nothing of what it is about: the query step no query word, the item step
    /// no title word (e.g. a model that copied the instructions).
    Ungrounded {
        /// The step's heading.
        step: String,
    },
    /// The decision step names no grade label.
    NoDecision,
    /// The prompt and the tokens to generate do not fit the model's context.
    PromptTooLong {
        /// Prompt tokens plus the generation budget.
        tokens: usize,
        /// The model's context (`max_position_embeddings`).
        context: usize,
    },
    /// The decision step's grade is not the gold grade.
    WrongDecision {
        /// The label the decision states (the last one it names).
        stated: String,
        /// The gold label.
        gold: String,
    },
}

impl RejectReason {
    /// A short key for tallies: the variant with its labels, without free text.
    ///
    /// ```
    /// use taosr1_cot::teacher::RejectReason;
    /// assert_eq!(RejectReason::NothingCheckable.key(), "nothing checkable");
    /// assert_eq!(
    ///     RejectReason::MissingSteps { missing: vec!["item understanding".into()] }.key(),
    ///     "missing steps: item understanding"
    /// );
    /// ```
    pub fn key(&self) -> String {
        match self {
            RejectReason::Inconsistent { evidence, gold } => {
                format!("inconsistent: evidence {evidence}, gold {gold}")
            }
            RejectReason::NothingCheckable => "nothing checkable".into(),
            RejectReason::MissingSteps { missing } => {
                format!("missing steps: {}", missing.join(", "))
            }
            RejectReason::EmptyStep { step } => format!("empty step: {step}"),
            RejectReason::NoDecision => "no grade in the decision step".into(),
            RejectReason::Ungrounded { step } => format!("ungrounded step: {step}"),
            RejectReason::PromptTooLong { .. } => "prompt too long for the context".into(),
            RejectReason::WrongDecision { stated, gold } => {
                format!("wrong decision: stated {stated}, gold {gold}")
            }
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// Kept or rejected.
///
/// ```
/// use taosr1_cot::teacher::Outcome;
/// let o = Outcome::Kept { rationale: "x".into() };
/// assert!(matches!(o, Outcome::Kept { .. }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The rationale to keep (token convention, five steps).
    Kept {
        /// The rendered rationale.
        rationale: String,
    },
    /// Not kept.
    Rejected(RejectReason),
}

/// What a teacher said about one item.
///
/// ```
/// use taosr1_cot::teacher::{Outcome, RejectReason, Verdict};
/// let v = Verdict { outcome: Outcome::Rejected(RejectReason::NoDecision), checks: vec![], rule_ids: vec![], evidence: None };
/// assert!(!v.is_kept() && !v.covered());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Kept rationale or rejection.
    pub outcome: Outcome,
    /// The kinds of the checks that had a definite result (match, partial or mismatch), one
    /// entry per check.
    pub checks: Vec<CheckKind>,
    /// Ids of the atomic rules that applied and were cited or shown.
    pub rule_ids: Vec<String>,
    /// The grade the teacher's own evidence points to, when it has one.
    pub evidence: Option<Grade>,
}

impl Verdict {
    /// Whether the rationale was kept.
    ///
    /// ```
    /// use taosr1_cot::teacher::{Outcome, RejectReason, Verdict};
    /// let v = Verdict { outcome: Outcome::Rejected(RejectReason::NoDecision), checks: vec![], rule_ids: vec!["r1".into()], evidence: None };
    /// assert!(!v.is_kept());
    /// ```
    pub fn is_kept(&self) -> bool {
        matches!(self.outcome, Outcome::Kept { .. })
    }

    /// Whether at least one check or rule applied (the item is *covered*).
    ///
    /// ```
    /// use taosr1_cot::teacher::{Outcome, RejectReason, Verdict};
    /// let v = Verdict { outcome: Outcome::Rejected(RejectReason::NoDecision), checks: vec![], rule_ids: vec!["r1".into()], evidence: None };
    /// assert!(v.covered()); // a rule applied
    /// ```
    pub fn covered(&self) -> bool {
        !self.checks.is_empty() || !self.rule_ids.is_empty()
    }

    /// The kept rationale.
    ///
    /// ```
    /// use taosr1_cot::teacher::{Outcome, Verdict};
    /// let v = Verdict { outcome: Outcome::Kept { rationale: "r .".into() }, checks: vec![taosr1_cot::rules::CheckKind::Brand], rule_ids: vec![], evidence: None };
    /// assert_eq!(v.rationale(), Some("r ."));
    /// ```
    pub fn rationale(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Kept { rationale } => Some(rationale),
            Outcome::Rejected(_) => None,
        }
    }

    /// The rejection reason.
    ///
    /// ```
    /// use taosr1_cot::teacher::{Outcome, RejectReason, Verdict};
    /// let v = Verdict { outcome: Outcome::Rejected(RejectReason::NoDecision), checks: vec![], rule_ids: vec!["r1".into()], evidence: None };
    /// assert_eq!(v.rejection(), Some(&RejectReason::NoDecision));
    /// ```
    pub fn rejection(&self) -> Option<&RejectReason> {
        match &self.outcome {
            Outcome::Rejected(r) => Some(r),
            Outcome::Kept { .. } => None,
        }
    }

    /// The labelled example with the kept rationale, or `None` when rejected.
    ///
    /// ```
    /// use taosr1_cot::teacher::{Outcome, Verdict};
    /// use taosr1_cot::{GradeScale, Item};
    /// let v = Verdict { outcome: Outcome::Kept { rationale: "r .".into() }, checks: vec![taosr1_cot::rules::CheckKind::Brand], rule_ids: vec![], evidence: None };
    /// let ex = v.example(&Item::default(), GradeScale::default().best()).unwrap();
    /// assert_eq!(ex.rationale, "r .");
    /// ```
    pub fn example(&self, item: &Item, gold: Grade) -> Option<Example> {
        self.rationale().map(|r| Example {
            id: item.id.clone(),
            query: item.query.clone(),
            product: item.product.clone(),
            rationale: r.to_string(),
            grade: gold,
            score: None,
        })
    }
}

/// Writes rationales for labelled items.
///
/// ```
/// use taosr1_cot::teacher::{Outcome, Teacher, Verdict};
/// use taosr1_cot::{Grade, GradeScale, Item};
///
/// /// A teacher that keeps nothing.
/// struct Silent;
/// impl Teacher for Silent {
///     type Error = std::convert::Infallible;
///     fn write(&mut self, _: &Item, _: Grade) -> Result<Verdict, Self::Error> {
///         Ok(Verdict { outcome: Outcome::Rejected(taosr1_cot::teacher::RejectReason::NothingCheckable),
///                      checks: vec![], rule_ids: vec![], evidence: None })
///     }
/// }
/// let g = GradeScale::default().best();
/// let out = Silent.write_batch(&[(Item::default(), g), (Item::default(), g)]).unwrap();
/// assert_eq!(out.len(), 2);
/// ```
pub trait Teacher {
    /// What can go wrong (I/O, a model error); a rejected item is not an error.
    type Error: std::error::Error;

    /// Write the rationale for `item` whose gold grade is `gold`, or reject it.
    ///
    /// ```
    /// use taosr1_cot::teacher::{RuleTeacher, Teacher};
    /// use taosr1_cot::{GradeScale, Item, Product};
    /// let s = GradeScale::default();
    /// let item = Item { query: "drill".into(), product: Product { title: "Cordless Drill".into(), ..Default::default() }, ..Default::default() };
    /// assert!(RuleTeacher::new(Default::default(), s.clone()).write(&item, s.best())?.is_kept());
    /// # Ok::<(), taosr1_cot::CotError>(())
    /// ```
    fn write(&mut self, item: &Item, gold: Grade) -> Result<Verdict, Self::Error>;

    /// [`write`](Self::write) for many items, in order (a teacher may batch them).
    ///
    /// ```
    /// use taosr1_cot::teacher::{RuleTeacher, Teacher};
    /// use taosr1_cot::{GradeScale, Item};
    /// let s = GradeScale::default();
    /// let out = RuleTeacher::new(Default::default(), s.clone()).write_batch(&[(Item::default(), s.best())])?;
    /// assert_eq!(out.len(), 1);
    /// # Ok::<(), taosr1_cot::CotError>(())
    /// ```
    fn write_batch(&mut self, batch: &[(Item, Grade)]) -> Result<Vec<Verdict>, Self::Error> {
        batch.iter().map(|(i, g)| self.write(i, *g)).collect()
    }
}

/// Counts over many verdicts: kept, rejected (by [`RejectReason::key`]), covered.
///
/// ```
/// use taosr1_cot::teacher::{Outcome, RejectReason, TeachReport, Verdict};
/// let mut r = TeachReport::default();
/// for reason in [RejectReason::NoDecision, RejectReason::NoDecision, RejectReason::NothingCheckable] {
///     r.add(&Verdict { outcome: Outcome::Rejected(reason), checks: vec![taosr1_cot::rules::CheckKind::Brand], rule_ids: vec![], evidence: None });
/// }
/// assert_eq!(r.top_reasons(1), vec![("no grade in the decision step".to_string(), 2)]);
/// assert_eq!(r.coverage(), 1.0);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TeachReport {
    /// Items seen.
    pub items: usize,
    /// Rationales kept.
    pub kept: usize,
    /// Items rejected.
    pub rejected: usize,
    /// Items with at least one definite check or applicable rule.
    pub covered: usize,
    /// Items with at least one applicable rule.
    pub with_rules: usize,
    /// Rejections by [`RejectReason::key`].
    pub reasons: BTreeMap<String, usize>,
    /// Items with at least one definite check of each kind (by [`CheckKind::name`]).
    pub by_kind: BTreeMap<String, usize>,
    /// `(evidence index, gold index)` pairs counted, for items whose teacher had evidence.
    pub evidence_vs_gold: BTreeMap<(usize, usize), usize>,
}

impl TeachReport {
    /// Count one verdict.
    ///
    /// ```
    /// use taosr1_cot::teacher::{Outcome, TeachReport, Verdict};
    /// let mut r = TeachReport::default();
    /// r.add(&Verdict { outcome: Outcome::Kept { rationale: "x".into() }, checks: vec![], rule_ids: vec![], evidence: None });
    /// assert_eq!((r.items, r.kept, r.covered), (1, 1, 0));
    /// ```
    pub fn add(&mut self, v: &Verdict) {
        self.items += 1;
        if v.covered() {
            self.covered += 1;
        }
        if !v.rule_ids.is_empty() {
            self.with_rules += 1;
        }
        let kinds: std::collections::BTreeSet<&str> = v.checks.iter().map(|k| k.name()).collect();
        for k in kinds {
            *self.by_kind.entry(k.to_string()).or_default() += 1;
        }
        match &v.outcome {
            Outcome::Kept { .. } => self.kept += 1,
            Outcome::Rejected(r) => {
                self.rejected += 1;
                *self.reasons.entry(r.key()).or_default() += 1;
            }
        }
    }

    /// Count one verdict with its gold grade (also tallies evidence against gold).
    ///
    /// ```
    /// use taosr1_cot::teacher::{Outcome, TeachReport, Verdict};
    /// let s = taosr1_cot::GradeScale::default();
    /// let mut r = TeachReport::default();
    /// r.add_with_gold(&Verdict { outcome: Outcome::Kept { rationale: "x".into() }, checks: vec![taosr1_cot::rules::CheckKind::Brand], rule_ids: vec![], evidence: Some(s.best()) }, s.best());
    /// assert_eq!(r.evidence_vs_gold[&(3, 3)], 1);
    /// assert_eq!(r.evidence_agreement(), (1.0, 1.0));
    /// ```
    pub fn add_with_gold(&mut self, v: &Verdict, gold: Grade) {
        self.add(v);
        if let Some(e) = v.evidence {
            *self
                .evidence_vs_gold
                .entry((e.index(), gold.index()))
                .or_default() += 1;
        }
    }

    /// Share of items covered (0 when there are none).
    ///
    /// ```
    /// assert_eq!(taosr1_cot::teacher::TeachReport::default().coverage(), 0.0);
    /// ```
    pub fn coverage(&self) -> f64 {
        ratio(self.covered, self.items)
    }

    /// Share of items kept (0 when there are none).
    ///
    /// ```
    /// assert_eq!(taosr1_cot::teacher::TeachReport::default().kept_share(), 0.0);
    /// ```
    pub fn kept_share(&self) -> f64 {
        ratio(self.kept, self.items)
    }

    /// `(exact, within one grade)` agreement of evidence with gold over the items that had
    /// evidence (0 when none had).
    ///
    /// ```
    /// let mut r = taosr1_cot::teacher::TeachReport::default();
    /// r.evidence_vs_gold.insert((0, 2), 1);
    /// r.evidence_vs_gold.insert((1, 2), 1);
    /// assert_eq!(r.evidence_agreement(), (0.0, 0.5));
    /// ```
    pub fn evidence_agreement(&self) -> (f64, f64) {
        let total: usize = self.evidence_vs_gold.values().sum();
        let exact: usize = self
            .evidence_vs_gold
            .iter()
            .filter(|((e, g), _)| e == g)
            .map(|(_, n)| n)
            .sum();
        let near: usize = self
            .evidence_vs_gold
            .iter()
            .filter(|((e, g), _)| e.abs_diff(*g) <= 1)
            .map(|(_, n)| n)
            .sum();
        (ratio(exact, total), ratio(near, total))
    }

    /// The `n` most frequent rejection reasons, most frequent first (ties by key).
    ///
    /// ```
    /// let mut r = taosr1_cot::teacher::TeachReport::default();
    /// r.reasons.insert("b".into(), 1);
    /// r.reasons.insert("a".into(), 1);
    /// assert_eq!(r.top_reasons(1), vec![("a".to_string(), 1)]);
    /// ```
    pub fn top_reasons(&self, n: usize) -> Vec<(String, usize)> {
        let mut v: Vec<(String, usize)> =
            self.reasons.iter().map(|(k, c)| (k.clone(), *c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The label of `grade`'s position on a 4-level evidence ladder mapped onto `scale`: level
/// `k` in `0..=3` is grade index `round(k · (n − 1) / 3)` on an `n`-grade scale.
///
/// ```
/// use taosr1_cot::{teacher::level_grade, GradeScale};
/// let s = GradeScale::default();
/// assert_eq!(level_grade(2, &s).index(), 2);
/// let three = GradeScale::new(["bad", "ok", "good"]).unwrap();
/// assert_eq!(level_grade(2, &three).index(), 1); // round(2 * 2 / 3) = 1
/// assert_eq!(level_grade(9, &three), three.best());
/// ```
pub fn level_grade(level: usize, scale: &GradeScale) -> Grade {
    let n = scale.len();
    let level = level.min(3);
    let index = ((level * (n - 1)) as f64 / 3.0).round() as usize;
    scale
        .grade(index.min(n - 1))
        .unwrap_or_else(|_| scale.best())
}

/// The last grade label of `scale` named in `text` (compared case-insensitively as whole
/// tokens after [`normalize_text`]).
///
/// ```
/// use taosr1_cot::{teacher::last_label, GradeScale};
/// let s = GradeScale::default();
/// assert_eq!(last_label("between L2 and L3 ; so L3 .", &s), Some(s.parse("L3").unwrap()));
/// assert_eq!(last_label("no label here", &s), None);
/// ```
pub fn last_label(text: &str, scale: &GradeScale) -> Option<Grade> {
    let labels: Vec<String> = scale.labels().iter().map(|l| normalize_text(l)).collect();
    let norm = normalize_text(text);
    let tokens: Vec<&str> = norm.split(' ').collect();
    // A label may normalise to several tokens (`L-3` → `l - 3`): match token windows.
    let mut found = None;
    for start in 0..tokens.len() {
        for (i, l) in labels.iter().enumerate() {
            let lt: Vec<&str> = l.split(' ').collect();
            if tokens[start..].starts_with(&lt) {
                found = scale.grade(i).ok();
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_steps_round_trip_and_tolerate_markup() {
        let steps = FiveSteps::new(
            [
                "the query asks for a drill",
                "a cordless drill",
                "product type match : drill",
                "voltage match : 20 v",
                "fully relevant , grade l4",
            ]
            .map(String::from),
        );
        assert_eq!(FiveSteps::parse(&steps.render()).unwrap(), steps);
        let md = "**1. Query understanding:** drill\n**2. Item understanding:** a drill\n\n### 3. Category matching\nsame type.\n4) Attribute matching - none\n5. Relevance decision: L4.";
        let parsed = FiveSteps::parse(md).unwrap();
        assert_eq!(parsed.get(Step::Query), "drill");
        assert_eq!(parsed.get(Step::Item), "a drill");
        assert_eq!(parsed.get(Step::Decision), "l4");
        // Out of order: the later heading is not found after the earlier one.
        let swapped = "item understanding : a . query understanding : b . category matching : c . attribute matching : d . relevance decision : l1";
        assert_eq!(
            FiveSteps::parse(swapped),
            Err(RejectReason::MissingSteps {
                missing: vec!["item understanding".into()]
            })
        );
        let empty = "query understanding : . item understanding : b . category matching : c . attribute matching : d . relevance decision : l1";
        assert!(matches!(
            FiveSteps::parse(empty),
            Err(RejectReason::EmptyStep { step }) if step == "query understanding"
        ));
    }

    #[test]
    fn report_counts_and_orders_reasons() {
        let mut r = TeachReport::default();
        let v = |outcome, checks: usize, rules: &[&str]| Verdict {
            outcome,
            checks: vec![CheckKind::Brand; checks],
            rule_ids: rules.iter().map(|s| s.to_string()).collect(),
            evidence: None,
        };
        r.add(&v(
            Outcome::Kept {
                rationale: "a".into(),
            },
            2,
            &["x"],
        ));
        r.add(&v(
            Outcome::Rejected(RejectReason::NothingCheckable),
            0,
            &[],
        ));
        r.add(&v(Outcome::Rejected(RejectReason::NoDecision), 0, &["y"]));
        r.add(&v(Outcome::Rejected(RejectReason::NoDecision), 1, &[]));
        assert_eq!(
            (r.items, r.kept, r.rejected, r.covered, r.with_rules),
            (4, 1, 3, 3, 2)
        );
        assert_eq!(r.coverage(), 0.75);
        assert_eq!(
            r.top_reasons(5),
            vec![
                ("no grade in the decision step".to_string(), 2),
                ("nothing checkable".to_string(), 1)
            ]
        );
    }
}
