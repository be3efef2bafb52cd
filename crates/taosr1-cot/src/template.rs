//! Prompt/response templates, the token convention, and parsing of generated text.

use crate::data::Item;
use crate::error::ParseError;
use crate::grade::{Grade, GradeScale};
use crate::tags::{ANSWER_CLOSE, ANSWER_OPEN, TAGS, THINK_CLOSE, THINK_OPEN};

/// Rewrites text into the token convention shared by every crate.
///
/// The text is lowercased; then every maximal run of alphanumeric characters is one token, every
/// other non-whitespace character is a token of its own, and tokens are joined by single spaces
/// (no leading or trailing space). The function is idempotent. Template tags such as `<think>`
/// are split into `< think >`, so normalised text can never contain a tag.
///
/// ```rust
/// use taosr1_cot::normalize_text;
///
/// assert_eq!(normalize_text("  Nike Air-Max,  RED!! "), "nike air - max , red ! !");
/// assert_eq!(normalize_text("size:42"), "size : 42");
/// assert_eq!(normalize_text("<think>"), "< think >");
/// let once = normalize_text("Ünïcode  ÉTÉ…");
/// assert_eq!(normalize_text(&once), once);
/// ```
pub fn normalize_text(text: &str) -> String {
    let lower = text.to_lowercase();
    let mut out = String::with_capacity(lower.len() + 8);
    let mut in_word = false;
    for c in lower.chars() {
        if c.is_whitespace() {
            in_word = false;
        } else if c.is_alphanumeric() {
            if !in_word && !out.is_empty() {
                out.push(' ');
            }
            out.push(c);
            in_word = true;
        } else {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push(c);
            in_word = false;
        }
    }
    out
}

/// Renders prompts and responses and parses generated responses, for one [`GradeScale`].
///
/// Formats (see `docs/CONTRACTS.md`):
///
/// ```text
/// query : red nike running shoes ; title : nike air running shoes red ; category : running shoes ; brand : nike ; color : red ; size : 42 ; relevance :
/// <think> category match . brand match . color match . </think> <answer> L4 </answer>
/// ```
///
/// ```rust
/// use taosr1_cot::{Item, Product, Template};
///
/// let t = Template::think_first();
/// let item = Item {
///     id: String::new(),
///     query: "Red Nike running shoes".into(),
///     product: Product {
///         title: "Nike Air running shoes, red".into(),
///         category: "running shoes".into(),
///         brand: "Nike".into(),
///         attributes: [("size", "42"), ("color", "red")]
///             .into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
///     },
/// };
/// assert_eq!(
///     t.prompt(&item),
///     "query : red nike running shoes ; title : nike air running shoes , red ; category : running shoes ; brand : nike ; color : red ; size : 42 ; relevance :"
/// );
/// let g = t.scale().parse("L4")?;
/// let r = t.response("category match . brand match . color match .", g);
/// assert_eq!(r, "<think> category match . brand match . color match . </think> <answer> L4 </answer>");
/// assert_eq!(t.parse_strict(&r).unwrap().grade, g);
/// # Ok::<(), taosr1_cot::CotError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Template {
    scale: GradeScale,
    order: ResponseOrder,
    style: TextStyle,
}

/// How a [`Template`] writes text: for the embedded tier's word-level tokenizer, or verbatim
/// for a real checkpoint's own tokenizer.
///
/// * [`TextStyle::Words`] (the default): every field and rationale is lower-cased and split
///   into words and punctuation ([`normalize_text`]), and tags stand between spaces
///   (`<answer> L3 </answer>`), because the word-level tokenizer splits on whitespace.
/// * [`TextStyle::Verbatim`]: a real tokenizer (byte-level BPE) reads the text as written. The
///   prompt is an instruction in plain English with the fields in their own casing, and the
///   tags touch what they enclose (`<answer>L3</answer><think>…</think>`). With the tags and
///   labels as single tokens, the grade is then the token right after `<answer>`.
///
/// ```rust
/// use taosr1_cot::{Template, TextStyle};
/// let t = Template::default().with_style(TextStyle::Verbatim);
/// let l4 = t.scale().parse("L4").unwrap();
/// assert_eq!(t.response("Brand matches.", l4), "<answer>L4</answer><think>Brand matches.</think>");
/// assert_eq!(t.parse_strict("<answer>L4</answer><think>Brand matches.</think>").unwrap().grade, l4);
/// assert_eq!("verbatim".parse::<TextStyle>().unwrap(), TextStyle::Verbatim);
/// ```
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum TextStyle {
    /// Lower-cased words and punctuation separated by spaces (the word-level tokenizer).
    #[default]
    Words,
    /// Text as written, an English instruction, tags without surrounding spaces.
    Verbatim,
}

impl TextStyle {
    /// The style's name: `words` or `verbatim`.
    ///
    /// ```rust
    /// assert_eq!(taosr1_cot::TextStyle::Words.name(), "words");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            TextStyle::Words => "words",
            TextStyle::Verbatim => "verbatim",
        }
    }

    /// What stands between two tags or a tag and its content.
    fn gap(self) -> &'static str {
        match self {
            TextStyle::Words => " ",
            TextStyle::Verbatim => "",
        }
    }
}

impl std::str::FromStr for TextStyle {
    type Err = crate::CotError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "words" => Ok(TextStyle::Words),
            "verbatim" => Ok(TextStyle::Verbatim),
            other => Err(crate::CotError::UnknownStyle {
                name: other.to_string(),
            }),
        }
    }
}

/// Where a response puts its label: before the reasoning (*post-CoT*, TaoSR1's deployed
/// order and the default) or after it.
///
/// With [`LabelFirst`](ResponseOrder::LabelFirst) the grade is the first token after
/// `<answer>`, right after the prompt: serving reads the grade probabilities after one prefill
/// and never decodes; the rationale is written after the label (only when asked for), so it can
/// never change it. [`ThinkFirst`](ResponseOrder::ThinkFirst) reasons first and answers last
/// (the paper's "CoT" variant, kept for comparison: its reasoning errors carry into the label).
///
/// ```rust
/// use taosr1_cot::{ResponseOrder, Template};
///
/// assert_eq!(ResponseOrder::default(), ResponseOrder::LabelFirst);
/// let t = Template::default();
/// let l3 = t.scale().parse("L3")?;
/// assert_eq!(t.response("brand match .", l3), "<answer> L3 </answer> <think> brand match . </think>");
/// let t = t.with_order(ResponseOrder::ThinkFirst);
/// assert_eq!(t.response("brand match .", l3), "<think> brand match . </think> <answer> L3 </answer>");
/// assert_eq!("think-first".parse::<ResponseOrder>()?, ResponseOrder::ThinkFirst);
/// # Ok::<(), taosr1_cot::CotError>(())
/// ```
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum ResponseOrder {
    /// `<answer> L3 </answer> <think> … </think>`: post-CoT, the deployment default.
    #[default]
    LabelFirst,
    /// `<think> … </think> <answer> L3 </answer>`: reasoning first.
    ThinkFirst,
}

impl ResponseOrder {
    /// The name used on command lines and in JSON (`label-first`, `think-first`).
    ///
    /// ```rust
    /// assert_eq!(taosr1_cot::ResponseOrder::ThinkFirst.name(), "think-first");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            ResponseOrder::LabelFirst => "label-first",
            ResponseOrder::ThinkFirst => "think-first",
        }
    }
}

impl std::fmt::Display for ResponseOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ResponseOrder {
    type Err = crate::CotError;

    /// Parses `label-first` or `think-first`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "label-first" => Ok(ResponseOrder::LabelFirst),
            "think-first" => Ok(ResponseOrder::ThinkFirst),
            other => Err(crate::CotError::UnknownOrder {
                name: other.to_string(),
            }),
        }
    }
}

/// A response parsed from generated text.
///
/// ```rust
/// use taosr1_cot::Template;
///
/// let t = Template::think_first();
/// let p = t.parse_strict("<think> brand mismatch . </think> <answer> L2 </answer>").unwrap();
/// assert_eq!(p.thinking.as_deref(), Some("brand mismatch ."));
/// assert_eq!(t.scale().label(p.grade), "L2");
/// assert_eq!((p.answer_count, p.thinking_closed), (1, true));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedResponse {
    /// The thinking text (trimmed), or `None` if the text has no thinking block at all.
    pub thinking: Option<String>,
    /// The grade given in (or recovered from) the answer.
    pub grade: Grade,
    /// Number of `<answer>` tags in the answer region (after `</think>`, or in the whole text when
    /// the thinking block is not closed).
    pub answer_count: usize,
    /// Whether `</think>` was found.
    pub thinking_closed: bool,
}

/// What [`Template::force_answer_slot`] had to do to the generated text.
///
/// ```rust
/// use taosr1_cot::{SlotStatus, Template};
///
/// let slot = Template::think_first().force_answer_slot("<think> color match .");
/// assert_eq!(slot.status, SlotStatus::ThinkingTruncated);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotStatus {
    /// An `<answer>` tag already followed `</think>`; the text was cut right after it.
    AnswerPresent,
    /// The thinking was closed but no answer was opened; ` <answer>` was appended.
    ThinkingClosed,
    /// The thinking never closed (e.g. it ran past its token budget); ` </think> <answer>` was
    /// appended.
    ThinkingTruncated,
    /// The text did not start with `<think>`; it was replaced by `<think> </think> <answer>`.
    NoThinking,
    /// The template is label-first: the slot is `<answer>` right after the prompt and nothing
    /// was generated before it.
    LabelFirst,
}

/// Generated text completed or truncated so that it ends with `<answer>`.
///
/// ```rust
/// use taosr1_cot::{SlotStatus, Template};
///
/// let slot = Template::think_first().force_answer_slot("<think> ok . </think>");
/// assert_eq!(slot.text, "<think> ok . </think> <answer>");
/// assert_eq!(slot.status, SlotStatus::ThinkingClosed);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerSlot {
    /// The text, ending with `<answer>`: the model's next token is the grade.
    pub text: String,
    /// What was done to the generated text.
    pub status: SlotStatus,
}

fn find_from(haystack: &str, needle: &str, from: usize) -> Option<usize> {
    haystack.get(from..)?.find(needle).map(|i| i + from)
}

/// `thinking` when it holds no template tag, else [`ParseError::MisplacedTag`].
fn untagged(thinking: &str) -> Result<&str, ParseError> {
    match TAGS.iter().find(|t| thinking.contains(**t)) {
        Some(tag) => Err(ParseError::MisplacedTag {
            tag: (*tag).to_string(),
        }),
        None => Ok(thinking),
    }
}

/// `Ok` when `text` is blank, else [`ParseError::TrailingText`].
fn nothing_left(text: &str) -> Result<(), ParseError> {
    let text = text.trim();
    if text.is_empty() {
        Ok(())
    } else {
        Err(ParseError::TrailingText {
            text: text.to_string(),
        })
    }
}

/// `text` with every template tag replaced by a space.
fn without_tags(text: &str) -> String {
    TAGS.iter()
        .fold(text.to_string(), |t, tag| t.replace(tag, " "))
}

fn match_positions<'a>(haystack: &'a str, needle: &'a str) -> impl Iterator<Item = usize> + 'a {
    haystack.match_indices(needle).map(|(i, _)| i)
}

impl Template {
    /// A template for `scale`.
    ///
    /// ```rust
    /// use taosr1_cot::{GradeScale, Template};
    ///
    /// let t = Template::new(GradeScale::new(["bad", "good"])?);
    /// assert_eq!(t.scale().len(), 2);
    /// # Ok::<(), taosr1_cot::CotError>(())
    /// ```
    pub fn new(scale: GradeScale) -> Template {
        Template {
            scale,
            order: ResponseOrder::default(),
            style: TextStyle::default(),
        }
    }

    /// The same template writing text in `style`.
    ///
    /// ```rust
    /// use taosr1_cot::{Template, TextStyle};
    /// let t = Template::default().with_style(TextStyle::Verbatim);
    /// assert_eq!(t.style(), TextStyle::Verbatim);
    /// ```
    pub fn with_style(mut self, style: TextStyle) -> Template {
        self.style = style;
        self
    }

    /// How this template writes text.
    ///
    /// ```rust
    /// assert_eq!(taosr1_cot::Template::default().style(), taosr1_cot::TextStyle::Words);
    /// ```
    pub fn style(&self) -> TextStyle {
        self.style
    }

    /// `parts` joined by the style's gap (a space for [`TextStyle::Words`], nothing for
    /// [`TextStyle::Verbatim`]); empty parts are left out.
    fn join(&self, parts: &[&str]) -> String {
        parts
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(self.style.gap())
    }

    /// The text a label-first response starts with, up to and including the opening thinking
    /// tag: `<answer> L3 </answer> <think>` (or `<answer>L3</answer><think>` verbatim). A
    /// rationale generated after it explains `grade` and cannot change it.
    ///
    /// ```rust
    /// use taosr1_cot::Template;
    /// let t = Template::default();
    /// assert_eq!(t.label_head(t.scale().parse("L3").unwrap()), "<answer> L3 </answer> <think>");
    /// ```
    pub fn label_head(&self, grade: Grade) -> String {
        let label = self.scale.label(grade);
        self.join(&[ANSWER_OPEN, label, ANSWER_CLOSE, THINK_OPEN])
    }

    /// The default scale with the reasoning first (`<think> … </think> <answer> L </answer>`).
    ///
    /// ```rust
    /// use taosr1_cot::{ResponseOrder, Template};
    /// assert_eq!(Template::think_first().order(), ResponseOrder::ThinkFirst);
    /// ```
    pub fn think_first() -> Template {
        Template::default().with_order(ResponseOrder::ThinkFirst)
    }

    /// The same template with responses in `order`.
    ///
    /// ```rust
    /// use taosr1_cot::{ResponseOrder, Template};
    /// let t = Template::think_first().with_order(ResponseOrder::LabelFirst);
    /// assert_eq!(t, Template::default());
    /// ```
    pub fn with_order(mut self, order: ResponseOrder) -> Template {
        self.order = order;
        self
    }

    /// Where responses put the label.
    ///
    /// ```rust
    /// use taosr1_cot::{ResponseOrder, Template};
    /// assert_eq!(Template::default().order(), ResponseOrder::LabelFirst);
    /// ```
    pub fn order(&self) -> ResponseOrder {
        self.order
    }

    /// The grade scale used for answers.
    ///
    /// ```rust
    /// assert_eq!(taosr1_cot::Template::think_first().scale().len(), 4);
    /// ```
    pub fn scale(&self) -> &GradeScale {
        &self.scale
    }

    /// Renders the prompt for an item, in the token convention (see [`normalize_text`]).
    ///
    /// Fields appear as `query`, `title`, `category`, `brand`, then the attributes in sorted key
    /// order, each as `key : value ;`, and the prompt ends with `relevance :`.
    ///
    /// ```rust
    /// use taosr1_cot::{Item, Product, Template};
    ///
    /// let item = Item { query: "USB-C Cable".into(), ..Item::default() };
    /// assert_eq!(
    ///     Template::think_first().prompt(&item),
    ///     "query : usb - c cable ; title : ; category : ; brand : ; relevance :"
    /// );
    /// ```
    ///
    /// With [`TextStyle::Verbatim`] the prompt is an English instruction naming the grades and
    /// the response format, then one `Key: value` line per non-empty field, as written:
    ///
    /// ```rust
    /// use taosr1_cot::{Item, Template, TextStyle};
    /// let item = Item { query: "USB-C  Cable".into(), ..Item::default() };
    /// let p = Template::default().with_style(TextStyle::Verbatim).prompt(&item);
    /// assert!(p.starts_with("Grade how relevant the product is to the search query, from L1"));
    /// assert!(p.contains("<answer>L4</answer>"));
    /// assert!(p.ends_with("\nQuery: USB-C Cable"));
    /// ```
    pub fn prompt(&self, item: &Item) -> String {
        match self.style {
            TextStyle::Words => self.word_prompt(item),
            TextStyle::Verbatim => self.verbatim_prompt(item),
        }
    }

    /// The instruction and fields of a [`TextStyle::Verbatim`] prompt, each field on its own
    /// line in its own casing (empty ones left out).
    fn verbatim_prompt(&self, item: &Item) -> String {
        let labels = self.scale.labels();
        let (worst, best) = (&labels[0], &labels[labels.len() - 1]);
        let order = match self.order {
            ResponseOrder::LabelFirst => format!(
                "Reply with the grade first, as {ANSWER_OPEN}{best}{ANSWER_CLOSE}, then your \
                 reasons in {THINK_OPEN}{THINK_CLOSE}."
            ),
            ResponseOrder::ThinkFirst => format!(
                "Reason first in {THINK_OPEN}{THINK_CLOSE}, then reply with the grade, as \
                 {ANSWER_OPEN}{best}{ANSWER_CLOSE}."
            ),
        };
        let mut out = format!(
            "Grade how relevant the product is to the search query, from {worst} (irrelevant) \
             to {best} (exactly what was searched for). Grades: {}. {order}\n",
            labels.join(", ")
        );
        let p = &item.product;
        let mut line = |key: &str, value: &str| {
            let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
            if !value.is_empty() {
                out.push_str(&format!("\n{key}: {value}"));
            }
        };
        line("Query", &item.query);
        line("Product", &p.title);
        line("Category", &p.category);
        line("Brand", &p.brand);
        for (k, v) in &p.attributes {
            line(k, v);
        }
        out
    }

    fn word_prompt(&self, item: &Item) -> String {
        let p = &item.product;
        let mut parts: Vec<String> = Vec::with_capacity(8 + 4 * p.attributes.len());
        let mut field = |key: &str, value: &str| {
            for piece in [
                normalize_text(key),
                ":".to_string(),
                normalize_text(value),
                ";".to_string(),
            ] {
                if !piece.is_empty() {
                    parts.push(piece);
                }
            }
        };
        field("query", &item.query);
        field("title", &p.title);
        field("category", &p.category);
        field("brand", &p.brand);
        for (k, v) in &p.attributes {
            field(k, v);
        }
        parts.push("relevance :".to_string());
        parts.join(" ")
    }

    /// Renders a response in the template's [`ResponseOrder`]: label-first
    /// `<answer> {label} </answer> <think> {rationale} </think>` or think-first
    /// `<think> {rationale} </think> <answer> {label} </answer>`.
    ///
    /// The rationale is normalised into the token convention (so it cannot contain tags). A grade
    /// that is not on this template's scale renders as `<unk>` (see [`GradeScale::label`]).
    ///
    /// ```rust
    /// use taosr1_cot::Template;
    ///
    /// let t = Template::think_first();
    /// assert_eq!(
    ///     t.response("Brand mismatch: Nike vs Adidas.", t.scale().parse("L2")?),
    ///     "<think> brand mismatch : nike vs adidas . </think> <answer> L2 </answer>"
    /// );
    /// assert_eq!(t.response("", t.scale().worst()), "<think> </think> <answer> L1 </answer>");
    /// # Ok::<(), taosr1_cot::CotError>(())
    /// ```
    pub fn response(&self, rationale: &str, grade: Grade) -> String {
        let r = match self.style {
            TextStyle::Words => normalize_text(rationale),
            TextStyle::Verbatim => without_tags(rationale)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        };
        let label = self.scale.label(grade);
        let think = self.join(&[THINK_OPEN, &r, THINK_CLOSE]);
        let answer = self.join(&[ANSWER_OPEN, label, ANSWER_CLOSE]);
        match self.order {
            ResponseOrder::LabelFirst => self.join(&[&answer, &think]),
            ResponseOrder::ThinkFirst => self.join(&[&think, &answer]),
        }
    }

    /// Parses a response that must be exactly
    /// `<think> … </think> <answer> LABEL </answer>`.
    ///
    /// Whitespace around and between the parts is tolerated (none is required). The thinking is
    /// returned trimmed.
    ///
    /// # Errors
    /// The [`ParseError`] variant names the first problem found, checked in this order:
    /// [`Empty`](ParseError::Empty), [`MissingThinking`](ParseError::MissingThinking),
    /// [`UnclosedThinking`](ParseError::UnclosedThinking), [`MisplacedTag`](ParseError::MisplacedTag)
    /// (a tag inside the thinking), [`MissingAnswer`](ParseError::MissingAnswer),
    /// [`MultipleAnswers`](ParseError::MultipleAnswers), [`TrailingText`](ParseError::TrailingText)
    /// (text before `<answer>`), [`UnclosedAnswer`](ParseError::UnclosedAnswer),
    /// [`UnknownGrade`](ParseError::UnknownGrade), [`TrailingText`](ParseError::TrailingText)
    /// (text after `</answer>`).
    ///
    /// ```rust
    /// use taosr1_cot::{ParseError, Template};
    ///
    /// let t = Template::think_first();
    /// assert!(t.parse_strict("<think>a .</think><answer>L3</answer>").is_ok());
    /// assert_eq!(t.parse_strict("<think> a . <answer> L3 </answer>"), Err(ParseError::UnclosedThinking));
    /// assert_eq!(
    ///     t.parse_strict("<think> a . </think> <answer> L3 </answer> <answer> L4 </answer>"),
    ///     Err(ParseError::MultipleAnswers { count: 2 })
    /// );
    /// assert_eq!(
    ///     t.parse_strict("<think> a . </think> <answer> L3 </answer> done"),
    ///     Err(ParseError::TrailingText { text: "done".into() })
    /// );
    /// ```
    pub fn parse_strict(&self, text: &str) -> Result<ParsedResponse, ParseError> {
        let s = text.trim();
        if s.is_empty() {
            return Err(ParseError::Empty);
        }
        match self.order {
            ResponseOrder::ThinkFirst => self.strict_think_first(s),
            ResponseOrder::LabelFirst => self.strict_label_first(s),
        }
    }

    /// The grade of the first token of `after` (the text after an `<answer>` tag), when that
    /// token is a label.
    fn label_after_tag(&self, after: &str) -> Option<Grade> {
        let after = after.trim_start();
        let end = after
            .find(|c: char| c.is_whitespace() || c == '<')
            .unwrap_or(after.len());
        self.scale.parse(&after[..end]).ok()
    }

    /// The label of an answer block's body, or [`ParseError::UnknownGrade`].
    fn label_of(&self, label: &str) -> Result<Grade, ParseError> {
        let label = label.trim();
        self.scale
            .parse(label)
            .map_err(|_| ParseError::UnknownGrade {
                label: label.to_string(),
            })
    }

    /// Strict label-first: `<answer> L </answer> <think> … </think>` and nothing else.
    fn strict_label_first(&self, s: &str) -> Result<ParsedResponse, ParseError> {
        let body = s
            .strip_prefix(ANSWER_OPEN)
            .ok_or(ParseError::MissingAnswer)?;
        let count = match_positions(s, ANSWER_OPEN).count();
        if count > 1 {
            return Err(ParseError::MultipleAnswers { count });
        }
        let end = body.find(ANSWER_CLOSE).ok_or(ParseError::UnclosedAnswer)?;
        let grade = self.label_of(&body[..end])?;
        let after = body[end + ANSWER_CLOSE.len()..].trim_start();
        let rest = after
            .strip_prefix(THINK_OPEN)
            .ok_or_else(|| match after.find(THINK_OPEN) {
                Some(i) => ParseError::TrailingText {
                    text: after[..i].trim().to_string(),
                },
                None => ParseError::MissingThinking,
            })?;
        let close = rest.find(THINK_CLOSE).ok_or(ParseError::UnclosedThinking)?;
        let thinking = untagged(&rest[..close])?;
        nothing_left(&rest[close + THINK_CLOSE.len()..])?;
        Ok(ParsedResponse {
            thinking: Some(thinking.trim().to_string()),
            grade,
            answer_count: 1,
            thinking_closed: true,
        })
    }

    /// Strict think-first: `<think> … </think> <answer> L </answer>` and nothing else.
    fn strict_think_first(&self, s: &str) -> Result<ParsedResponse, ParseError> {
        let rest = s
            .strip_prefix(THINK_OPEN)
            .ok_or(ParseError::MissingThinking)?;
        let close = rest.find(THINK_CLOSE).ok_or(ParseError::UnclosedThinking)?;
        let thinking = untagged(&rest[..close])?;
        let after = &rest[close + THINK_CLOSE.len()..];
        let open = after.find(ANSWER_OPEN).ok_or(ParseError::MissingAnswer)?;
        let count = match_positions(after, ANSWER_OPEN).count();
        if count > 1 {
            return Err(ParseError::MultipleAnswers { count });
        }
        nothing_left(&after[..open])?;
        let body = &after[open + ANSWER_OPEN.len()..];
        let end = body.find(ANSWER_CLOSE).ok_or(ParseError::UnclosedAnswer)?;
        let grade = self.label_of(&body[..end])?;
        nothing_left(&body[end + ANSWER_CLOSE.len()..])?;
        Ok(ParsedResponse {
            thinking: Some(thinking.trim().to_string()),
            grade,
            answer_count: 1,
            thinking_closed: true,
        })
    }

    /// Parses generated text, repairing common defects; agrees with
    /// [`parse_strict`](Self::parse_strict) whenever that succeeds.
    ///
    /// The *answer region* is the text after the first `</think>` (that follows `<think>`), or
    /// the whole text if the thinking is never closed. The grade is, in order of preference:
    /// 1. the label of the **last** well-formed `<answer> LABEL </answer>` in the answer region;
    /// 2. else, trying `<answer>` tags from the last one back, the first token after the tag
    ///    if it is a label (e.g. `<answer> L3` cut off before `</answer>`);
    /// 3. else the last whitespace-separated token of the answer region that is a label.
    ///
    /// `thinking` is the text between `<think>` and `</think>` (or up to the first `<answer>` /
    /// the end if unclosed; or everything before `</think>` if `<think>` is missing), and `None`
    /// if neither tag is present.
    ///
    /// # Errors
    /// [`ParseError::Empty`] for blank text; otherwise only when no label can be found at all:
    /// [`ParseError::UnknownGrade`] with the text of the first answer block if there is one, else
    /// [`ParseError::MissingAnswer`].
    ///
    /// ```rust
    /// use taosr1_cot::{ParseError, Template};
    ///
    /// let t = Template::think_first();
    /// let s = t.scale();
    /// let p = t.parse_lenient("<think> a . </think> <answer> L3 </answer> <answer> L2 </answer>").unwrap();
    /// assert_eq!((s.label(p.grade), p.answer_count), ("L2", 2));
    /// let p = t.parse_lenient("<think> a . </think> <answer> L3").unwrap();
    /// assert_eq!(s.label(p.grade), "L3");
    /// let p = t.parse_lenient("<think> long thoughts L1 and then").unwrap();
    /// assert_eq!((s.label(p.grade), p.thinking_closed), ("L1", false));
    /// assert_eq!(t.parse_lenient("no grade here"), Err(ParseError::MissingAnswer));
    /// ```
    pub fn parse_lenient(&self, text: &str) -> Result<ParsedResponse, ParseError> {
        let s = text.trim();
        if s.is_empty() {
            return Err(ParseError::Empty);
        }
        if self.order == ResponseOrder::LabelFirst
            && let Some(p) = self.lenient_label_first(s)
        {
            return Ok(p);
        }
        self.lenient_think_first(s)
    }

    /// Label-first reading: the label comes from the text before the first `<think>` (the
    /// first well-formed answer block, else the first label token after `<answer>`, else the
    /// first label token there). `None` when that region holds no label.
    fn lenient_label_first(&self, s: &str) -> Option<ParsedResponse> {
        let think = s.find(THINK_OPEN);
        let region = &s[..think.unwrap_or(s.len())];
        let grade = match_positions(region, ANSWER_OPEN)
            .find_map(|o| {
                let body = &region[o + ANSWER_OPEN.len()..];
                let end = body.find(ANSWER_CLOSE)?;
                self.scale.parse(body[..end].trim()).ok()
            })
            .or_else(|| {
                let o = region.find(ANSWER_OPEN)?;
                self.label_after_tag(&region[o + ANSWER_OPEN.len()..])
            })
            .or_else(|| {
                without_tags(region)
                    .split_whitespace()
                    .find_map(|tok| self.scale.parse(tok).ok())
            })?;
        let (thinking, closed) = match think {
            Some(o) => {
                let start = o + THINK_OPEN.len();
                match find_from(s, THINK_CLOSE, start) {
                    Some(c) => (Some(s[start..c].trim().to_string()), true),
                    None => (Some(s[start..].trim().to_string()), false),
                }
            }
            None => (None, false),
        };
        Some(ParsedResponse {
            thinking,
            grade,
            answer_count: match_positions(s, ANSWER_OPEN).count(),
            thinking_closed: closed,
        })
    }

    /// Think-first reading (also the fallback of a label-first template whose text has no
    /// label before its thinking).
    fn lenient_think_first(&self, s: &str) -> Result<ParsedResponse, ParseError> {
        let open = s.find(THINK_OPEN);
        let close = match open {
            Some(o) => find_from(s, THINK_CLOSE, o + THINK_OPEN.len()),
            None => s.find(THINK_CLOSE),
        };
        let thinking = match (open, close) {
            (Some(o), Some(c)) => Some(&s[o + THINK_OPEN.len()..c]),
            (Some(o), None) => {
                let start = o + THINK_OPEN.len();
                let end = find_from(s, ANSWER_OPEN, start).unwrap_or(s.len());
                Some(&s[start..end])
            }
            (None, Some(c)) => Some(&s[..c]),
            (None, None) => None,
        }
        .map(|t| t.trim().to_string());
        let region = match close {
            Some(c) => &s[c + THINK_CLOSE.len()..],
            None => s,
        };
        let opens: Vec<usize> = match_positions(region, ANSWER_OPEN).collect();
        let answer_count = opens.len();
        let done = |grade: Grade| ParsedResponse {
            thinking: thinking.clone(),
            grade,
            answer_count,
            thinking_closed: close.is_some(),
        };

        // 1. Last well-formed answer block.
        for (i, &o) in opens.iter().enumerate().rev() {
            let start = o + ANSWER_OPEN.len();
            let limit = opens.get(i + 1).copied().unwrap_or(region.len());
            if let Some(end) = region[start..limit].find(ANSWER_CLOSE)
                && let Ok(g) = self.scale.parse(&region[start..start + end])
            {
                return Ok(done(g));
            }
        }
        // 2. First token after the last answer tag that is a label.
        for &o in opens.iter().rev() {
            if let Some(g) = self.label_after_tag(&region[o + ANSWER_OPEN.len()..]) {
                return Ok(done(g));
            }
        }
        // 3. Last label token anywhere in the answer region.
        if let Some(g) = without_tags(region)
            .split_whitespace()
            .rev()
            .find_map(|tok| self.scale.parse(tok).ok())
        {
            return Ok(done(g));
        }
        match opens.first() {
            Some(&o) => {
                let body = &region[o + ANSWER_OPEN.len()..];
                let end = body.find(ANSWER_CLOSE).unwrap_or(body.len());
                Err(ParseError::UnknownGrade {
                    label: body[..end].trim().to_string(),
                })
            }
            None => Err(ParseError::MissingAnswer),
        }
    }

    /// Post-CoT answer-slot forcing: truncates or completes generated text so that it ends with
    /// `<answer>`, so that the model's very next token is the grade (whose distribution can then
    /// be read off directly).
    ///
    /// Leading whitespace is dropped, then:
    /// * the text does not start with `<think>` → `<think> </think> <answer>`
    ///   ([`SlotStatus::NoThinking`]);
    /// * an `<answer>` follows the first `</think>` → cut right after the first such `<answer>`
    ///   ([`SlotStatus::AnswerPresent`]);
    /// * `</think>` is present but no `<answer>` after it → cut right after `</think>` and append
    ///   ` <answer>` ([`SlotStatus::ThinkingClosed`]);
    /// * no `</think>` (the thinking ran past its token budget) → the thinking is cut at the first
    ///   stray tag (a second `<think>`, `<answer>` or `</answer>`) if any, trailing whitespace is
    ///   dropped and ` </think> <answer>` is appended ([`SlotStatus::ThinkingTruncated`]).
    ///
    /// ```rust
    /// use taosr1_cot::{SlotStatus, Template};
    ///
    /// let t = Template::think_first();
    /// let slot = t.force_answer_slot("<think> ok . </think> <answer> L3 </answer>");
    /// assert_eq!((slot.text.as_str(), slot.status), ("<think> ok . </think> <answer>", SlotStatus::AnswerPresent));
    /// let slot = t.force_answer_slot("<think> category match . brand");
    /// assert_eq!(slot.text, "<think> category match . brand </think> <answer>");
    /// let slot = t.force_answer_slot("L4");
    /// assert_eq!((slot.text.as_str(), slot.status), ("<think> </think> <answer>", SlotStatus::NoThinking));
    /// ```
    pub fn force_answer_slot(&self, generated: &str) -> AnswerSlot {
        if self.order == ResponseOrder::LabelFirst {
            return AnswerSlot {
                text: ANSWER_OPEN.to_string(),
                status: SlotStatus::LabelFirst,
            };
        }
        let s = generated.trim_start();
        let Some(body) = s.strip_prefix(THINK_OPEN) else {
            return AnswerSlot {
                text: self.join(&[THINK_OPEN, THINK_CLOSE, ANSWER_OPEN]),
                status: SlotStatus::NoThinking,
            };
        };
        let offset = THINK_OPEN.len();
        if let Some(c) = body.find(THINK_CLOSE) {
            let close_end = offset + c + THINK_CLOSE.len();
            if let Some(a) = find_from(s, ANSWER_OPEN, close_end) {
                return AnswerSlot {
                    text: s[..a + ANSWER_OPEN.len()].to_string(),
                    status: SlotStatus::AnswerPresent,
                };
            }
            return AnswerSlot {
                text: self.join(&[&s[..close_end], ANSWER_OPEN]),
                status: SlotStatus::ThinkingClosed,
            };
        }
        let cut = [THINK_OPEN, ANSWER_OPEN, ANSWER_CLOSE]
            .iter()
            .filter_map(|tag| body.find(tag))
            .min()
            .unwrap_or(body.len());
        let thinking = s[..offset + cut].trim_end();
        AnswerSlot {
            text: self.join(&[thinking, THINK_CLOSE, ANSWER_OPEN]),
            status: SlotStatus::ThinkingTruncated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Product;
    use proptest::prelude::*;

    fn t() -> Template {
        Template::think_first()
    }

    fn lf() -> Template {
        Template::default()
    }

    fn g(label: &str) -> Grade {
        GradeScale::default().parse(label).unwrap()
    }

    #[test]
    fn normalize_examples() {
        assert_eq!(normalize_text(""), "");
        assert_eq!(normalize_text("   \n\t "), "");
        assert_eq!(normalize_text("Hello"), "hello");
        assert_eq!(normalize_text("a  b\n\tc"), "a b c");
        assert_eq!(normalize_text("42cm,10%"), "42cm , 10 %");
        assert_eq!(normalize_text("..."), ". . .");
        assert_eq!(normalize_text("snake_case"), "snake _ case");
        assert_eq!(normalize_text("</answer>"), "< / answer >");
        assert_eq!(normalize_text("Straße ÄÖÜ"), "straße äöü");
    }

    #[test]
    fn normalize_is_idempotent_on_every_char() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            for s in [c.to_string(), format!("A{c}"), format!("{c}Σ.")] {
                let once = normalize_text(&s);
                assert_eq!(normalize_text(&once), once, "{s:?}");
            }
        }
    }

    #[test]
    fn prompt_matches_contract() {
        let item = Item {
            id: "1".into(),
            query: "red nike running shoes".into(),
            product: Product {
                title: "nike air running shoes red".into(),
                category: "running shoes".into(),
                brand: "nike".into(),
                attributes: [("size", "42"), ("color", "red")]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
        };
        assert_eq!(
            t().prompt(&item),
            "query : red nike running shoes ; title : nike air running shoes red ; category : running shoes ; brand : nike ; color : red ; size : 42 ; relevance :"
        );
    }

    #[test]
    fn response_matches_contract() {
        assert_eq!(
            t().response("category match . brand match . color match .", g("L4")),
            "<think> category match . brand match . color match . </think> <answer> L4 </answer>"
        );
        // Tags in a rationale are neutralised.
        assert_eq!(
            t().response("x </think> <answer> L1", g("L3")),
            "<think> x < / think > < answer > l1 </think> <answer> L3 </answer>"
        );
    }

    #[test]
    fn strict_errors_name_the_problem() {
        let t = t();
        let p = |s: &str| t.parse_strict(s);
        assert_eq!(p(""), Err(ParseError::Empty));
        assert_eq!(p("L4"), Err(ParseError::MissingThinking));
        assert_eq!(
            p("x <think> a </think> <answer> L4 </answer>"),
            Err(ParseError::MissingThinking)
        );
        assert_eq!(p("<think> a"), Err(ParseError::UnclosedThinking));
        assert_eq!(
            p("<think> a <think> b </think> <answer> L4 </answer>"),
            Err(ParseError::MisplacedTag {
                tag: "<think>".into()
            })
        );
        assert_eq!(
            p("<think> a <answer> L1 </answer> </think> <answer> L4 </answer>"),
            Err(ParseError::MisplacedTag {
                tag: "<answer>".into()
            })
        );
        assert_eq!(p("<think> a </think>"), Err(ParseError::MissingAnswer));
        assert_eq!(p("<think> a </think> L4"), Err(ParseError::MissingAnswer));
        assert_eq!(
            p("<think> a </think> <answer> L4"),
            Err(ParseError::UnclosedAnswer)
        );
        assert_eq!(
            p("<think> a </think> <answer> L4 </answer><answer> L3 </answer><answer>"),
            Err(ParseError::MultipleAnswers { count: 3 })
        );
        assert_eq!(
            p("<think> a </think> <answer> good </answer>"),
            Err(ParseError::UnknownGrade {
                label: "good".into()
            })
        );
        assert_eq!(
            p("<think> a </think> <answer> L3 L4 </answer>"),
            Err(ParseError::UnknownGrade {
                label: "L3 L4".into()
            })
        );
        assert_eq!(
            p("<think> a </think> <answer> </answer>"),
            Err(ParseError::UnknownGrade {
                label: String::new()
            })
        );
        assert_eq!(
            p("<think> a </think> so <answer> L4 </answer>"),
            Err(ParseError::TrailingText { text: "so".into() })
        );
        assert_eq!(
            p("<think> a </think> <answer> L4 </answer> </think>"),
            Err(ParseError::TrailingText {
                text: "</think>".into()
            })
        );
    }

    #[test]
    fn strict_accepts_whitespace_variants() {
        let t = t();
        for s in [
            "<think>a .</think><answer>L2</answer>",
            "  \n<think>\n a . \n</think>\n\n<answer>\tL2\t</answer>\n",
        ] {
            let r = t.parse_strict(s).unwrap();
            assert_eq!(r.thinking.as_deref(), Some("a ."));
            assert_eq!(r.grade, g("L2"));
            assert_eq!(t.parse_lenient(s).unwrap(), r);
        }
    }

    #[test]
    fn lenient_repairs() {
        let t = t();
        let p = |s: &str| t.parse_lenient(s).unwrap();
        // Last well-formed answer wins, even over a later malformed one.
        let r = p(
            "<think> a </think> <answer> L1 </answer> <answer> L3 </answer> <answer> bad </answer>",
        );
        assert_eq!((r.grade, r.answer_count), (g("L3"), 3));
        // Unclosed answer followed by a label.
        let r = p("<think> a </think> <answer>L2");
        assert_eq!(
            (r.grade, r.answer_count, r.thinking_closed),
            (g("L2"), 1, true)
        );
        // Answer with extra words.
        assert_eq!(
            p("<think> a </think> <answer> L4 because </answer>").grade,
            g("L4")
        );
        // Label after </think>, no answer tag; labels inside thinking are ignored.
        let r = p("<think> maybe L1 </think> I say L3 . ok");
        assert_eq!((r.grade, r.answer_count), (g("L3"), 0));
        assert_eq!(r.thinking.as_deref(), Some("maybe L1"));
        // No think close: anywhere.
        let r = p("<think> maybe L1 or L2");
        assert_eq!((r.grade, r.thinking_closed), (g("L2"), false));
        assert_eq!(r.thinking.as_deref(), Some("maybe L1 or L2"));
        // Unclosed thinking followed by an answer.
        let r = p("<think> hmm <answer> L4 </answer>");
        assert_eq!(r.grade, g("L4"));
        assert_eq!(r.thinking.as_deref(), Some("hmm"));
        // Missing <think> but closed.
        let r = p("hmm </think> <answer> L1 </answer>");
        assert_eq!((r.grade, r.thinking.as_deref()), (g("L1"), Some("hmm")));
        // No tags at all.
        let r = p("L3");
        assert_eq!((r.grade, r.thinking, r.answer_count), (g("L3"), None, 0));
        // Labels glued to tags.
        assert_eq!(p("<think>x</think>L2</answer>").grade, g("L2"));
    }

    #[test]
    fn lenient_errors() {
        let t = t();
        assert_eq!(t.parse_lenient(" \n"), Err(ParseError::Empty));
        assert_eq!(
            t.parse_lenient("<think> a </think> nothing"),
            Err(ParseError::MissingAnswer)
        );
        assert_eq!(
            t.parse_lenient("<think> L4 </think> <answer> great </answer>"),
            Err(ParseError::UnknownGrade {
                label: "great".into()
            })
        );
        assert_eq!(
            t.parse_lenient("<think> a </think> <answer> l4"),
            Err(ParseError::UnknownGrade { label: "l4".into() })
        );
    }

    #[test]
    fn label_first_contract_and_errors() {
        let t = lf();
        assert_eq!(
            t.response("category match .", g("L4")),
            "<answer> L4 </answer> <think> category match . </think>"
        );
        assert_eq!(
            t.response("", g("L1")),
            "<answer> L1 </answer> <think> </think>"
        );
        let p = |s: &str| t.parse_strict(s);
        assert_eq!(
            p("<think> a </think> <answer> L4 </answer>"),
            Err(ParseError::MissingAnswer)
        );
        assert_eq!(p("<answer> L4"), Err(ParseError::UnclosedAnswer));
        assert_eq!(
            p("<answer> L7 </answer> <think> a </think>"),
            Err(ParseError::UnknownGrade { label: "L7".into() })
        );
        assert_eq!(p("<answer> L4 </answer>"), Err(ParseError::MissingThinking));
        assert_eq!(
            p("<answer> L4 </answer> so <think> a </think>"),
            Err(ParseError::TrailingText { text: "so".into() })
        );
        assert_eq!(
            p("<answer> L4 </answer> <think> a"),
            Err(ParseError::UnclosedThinking)
        );
        assert_eq!(
            p("<answer> L4 </answer> <think> a <answer> L1 </answer> </think>"),
            Err(ParseError::MultipleAnswers { count: 2 })
        );
        assert_eq!(
            p("<answer> L4 </answer> <think> a </think> x"),
            Err(ParseError::TrailingText { text: "x".into() })
        );
        let ok = p("<answer>L2</answer><think>a .</think>").unwrap();
        assert_eq!((ok.grade, ok.thinking.as_deref()), (g("L2"), Some("a .")));
    }

    #[test]
    fn label_first_lenient_repairs() {
        let t = lf();
        let p = |s: &str| t.parse_lenient(s).unwrap();
        // the rationale ran out of budget: label and thinking are still read
        let r = p("<answer> L3 </answer> <think> brand match . color");
        assert_eq!(
            (r.grade, r.thinking.as_deref(), r.thinking_closed),
            (g("L3"), Some("brand match . color"), false)
        );
        // a label that was never closed
        assert_eq!(p("<answer> L2 <think> x </think>").grade, g("L2"));
        // a later answer inside the reasoning does not override the first label
        assert_eq!(
            p("<answer> L4 </answer> <think> maybe <answer> L1 </answer>").grade,
            g("L4")
        );
        // text in the other order is still read (fallback to the think-first reading)
        let r = p("<think> a . </think> <answer> L1 </answer>");
        assert_eq!((r.grade, r.thinking.as_deref()), (g("L1"), Some("a .")));
        assert_eq!(
            t.parse_lenient("<think> no label"),
            Err(ParseError::MissingAnswer)
        );
        // the slot of a label-first template is the answer tag right after the prompt
        let slot = t.force_answer_slot("<think> anything");
        assert_eq!(
            (slot.text.as_str(), slot.status),
            ("<answer>", SlotStatus::LabelFirst)
        );
    }

    #[test]
    fn verbatim_style_keeps_text_and_puts_tags_against_their_content() {
        let v = Template::default().with_style(TextStyle::Verbatim);
        let g = v.scale().parse("L2").unwrap();
        // casing and punctuation stay; tags inside a rationale and runs of spaces go
        let r = v.response("  Brand: DeWalt <answer> matches,\n size 3/8\" too. ", g);
        assert_eq!(
            r,
            "<answer>L2</answer><think>Brand: DeWalt matches, size 3/8\" too.</think>"
        );
        let parsed = v.parse_strict(&r).unwrap();
        assert_eq!(parsed.grade, g);
        assert_eq!(
            parsed.thinking.as_deref(),
            Some("Brand: DeWalt matches, size 3/8\" too.")
        );
        assert!(r.starts_with(&v.label_head(g)[..v.label_head(g).len() - THINK_OPEN.len()]));
        assert_eq!(v.label_head(g), "<answer>L2</answer><think>");
        assert_eq!(v.response("", g), "<answer>L2</answer><think></think>");
        // think-first, and the answer slot of each kind of generation
        let tf = v.clone().with_order(ResponseOrder::ThinkFirst);
        let r = tf.response("Size differs.", g);
        assert_eq!(r, "<think>Size differs.</think><answer>L2</answer>");
        assert_eq!(tf.parse_strict(&r).unwrap().grade, g);
        assert_eq!(
            tf.force_answer_slot("no tags").text,
            "<think></think><answer>"
        );
        assert_eq!(
            tf.force_answer_slot("<think>Size differs.</think> and")
                .text,
            "<think>Size differs.</think><answer>"
        );
        assert_eq!(
            tf.force_answer_slot("<think>Size dif").text,
            "<think>Size dif</think><answer>"
        );
        // the words style is unchanged by the style machinery
        assert_eq!(t().label_head(g), "<answer> L2 </answer> <think>");
    }

    #[test]
    fn force_answer_slot_cases() {
        let t = t();
        let f = |s: &str| t.force_answer_slot(s);
        assert_eq!(
            f("<think> a . </think> <answer> L2 </answer> junk"),
            AnswerSlot {
                text: "<think> a . </think> <answer>".into(),
                status: SlotStatus::AnswerPresent
            }
        );
        // The <answer> inside the thinking is not the slot.
        assert_eq!(
            f("<think> a <answer> . </think> b <answer> L2").text,
            "<think> a <answer> . </think> b <answer>"
        );
        assert_eq!(
            f("  <think> a . </think> trailing"),
            AnswerSlot {
                text: "<think> a . </think> <answer>".into(),
                status: SlotStatus::ThinkingClosed
            }
        );
        assert_eq!(
            f("<think> a . b  \n"),
            AnswerSlot {
                text: "<think> a . b </think> <answer>".into(),
                status: SlotStatus::ThinkingTruncated
            }
        );
        assert_eq!(f("<think>").text, "<think> </think> <answer>");
        assert_eq!(
            f("<think> a <answer> L3 </answer>"),
            AnswerSlot {
                text: "<think> a </think> <answer>".into(),
                status: SlotStatus::ThinkingTruncated
            }
        );
        assert_eq!(
            f(""),
            AnswerSlot {
                text: "<think> </think> <answer>".into(),
                status: SlotStatus::NoThinking
            }
        );
        assert_eq!(f("the answer is <think>").status, SlotStatus::NoThinking);
    }

    /// Rationales in the token convention: lowercase words and punctuation.
    fn rationale() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof!["[a-z0-9]{1,8}", "[.,:;!?<>/()-]", "[a-zäöüßé]{1,5}",],
            0..20,
        )
        .prop_map(|toks| normalize_text(&toks.join(" ")))
    }

    proptest! {
        #[test]
        fn normalize_is_idempotent(s in any::<String>()) {
            let once = normalize_text(&s);
            prop_assert_eq!(normalize_text(&once), once.clone());
            prop_assert!(!once.starts_with(' ') && !once.ends_with(' ') && !once.contains("  "));
            for tag in TAGS {
                prop_assert!(!once.contains(tag));
            }
        }

        #[test]
        fn prompt_is_in_token_convention(q in any::<String>(), title in ".*", k in "[a-zA-Z ]{0,6}", v in ".*") {
            let item = Item {
                id: String::new(),
                query: q,
                product: Product {
                    title,
                    category: "Running Shoes".into(),
                    brand: "NIKE".into(),
                    attributes: [(k, v)].into_iter().collect(),
                },
            };
            let p = Template::think_first().prompt(&item);
            prop_assert_eq!(normalize_text(&p), p.clone());
            prop_assert!(p.starts_with("query :"));
            prop_assert!(p.ends_with("; relevance :"));
        }

        #[test]
        fn strict_round_trip(r in rationale(), gi in 0usize..4) {
            let t = Template::think_first();
            let grade = t.scale().grade(gi).unwrap();
            let text = t.response(&r, grade);
            let parsed = t.parse_strict(&text).unwrap();
            prop_assert_eq!(parsed.thinking.as_deref(), Some(r.as_str()));
            prop_assert_eq!(parsed.grade, grade);
            prop_assert_eq!(parsed.answer_count, 1);
            prop_assert!(parsed.thinking_closed);
            prop_assert_eq!(t.parse_lenient(&text).unwrap(), parsed);
        }

        #[test]
        fn lenient_agrees_with_strict(s in "(<think>|</think>|<answer>|</answer>|L[0-5]|x|\\.| |\n){0,12}") {
            let t = Template::think_first();
            if let Ok(strict) = t.parse_strict(&s) {
                prop_assert_eq!(t.parse_lenient(&s).unwrap(), strict);
            }
            // Never panics on arbitrary tag soup.
            let _ = t.force_answer_slot(&s);
        }

        #[test]
        fn label_first_round_trip(r in rationale(), gi in 0usize..4) {
            let t = lf();
            let grade = t.scale().grade(gi).unwrap();
            let text = t.response(&r, grade);
            let head = format!("{ANSWER_OPEN} {} {ANSWER_CLOSE}", t.scale().label(grade));
            prop_assert!(text.starts_with(&head));
            let parsed = t.parse_strict(&text).unwrap();
            prop_assert_eq!(parsed.thinking.as_deref(), Some(r.as_str()));
            prop_assert_eq!(parsed.grade, grade);
            prop_assert_eq!(t.parse_lenient(&text).unwrap(), parsed);
            // the same rationale and grade in the other order parse to the same result
            let other = Template::think_first();
            prop_assert_eq!(other.parse_strict(&other.response(&r, grade)).unwrap(), t.parse_strict(&text).unwrap());
            // and a label-first text is never well-formed for the think-first template
            prop_assert!(other.parse_strict(&text).is_err());
        }

        #[test]
        fn label_first_lenient_agrees_with_strict(s in "(<think>|</think>|<answer>|</answer>|L[0-5]|x|\\.| |\n){0,12}") {
            let t = lf();
            if let Ok(strict) = t.parse_strict(&s) {
                prop_assert_eq!(t.parse_lenient(&s).unwrap(), strict);
            }
            let _ = t.parse_lenient(&s);
        }

        /// Whatever follows the label (a rationale cut anywhere, garbage), the label read is the
        /// one written first: the reasoning can never change it.
        #[test]
        fn label_first_label_survives_any_continuation(gi in 0usize..4, tail in any::<String>()) {
            let t = lf();
            let grade = t.scale().grade(gi).unwrap();
            let text = format!("{ANSWER_OPEN} {} {ANSWER_CLOSE} {THINK_OPEN} {tail}", t.scale().label(grade));
            prop_assert_eq!(t.parse_lenient(&text).unwrap().grade, grade);
        }

        #[test]
        fn lenient_never_panics(s in any::<String>()) {
            let t = Template::think_first();
            let _ = t.parse_lenient(&s);
            let _ = t.parse_strict(&s);
            let slot = t.force_answer_slot(&s);
            prop_assert!(slot.text.ends_with(ANSWER_OPEN));
        }

        #[test]
        fn forced_slot_completes_any_prefix(r in rationale(), gi in 0usize..4, gj in 0usize..4, cut in 0usize..40) {
            let t = Template::think_first();
            let full = t.response(&r, t.scale().grade(gi).unwrap());
            let tokens: Vec<&str> = full.split(' ').collect();
            let prefix = tokens[..cut.min(tokens.len())].join(" ");
            let slot = t.force_answer_slot(&prefix);
            prop_assert!(slot.text.ends_with(ANSWER_OPEN));
            let forced = t.scale().grade(gj).unwrap();
            let completed = format!("{} {} {}", slot.text, t.scale().label(forced), ANSWER_CLOSE);
            let parsed = t.parse_strict(&completed).unwrap();
            prop_assert_eq!(parsed.grade, forced);
            let thinking = parsed.thinking.unwrap();
            prop_assert!(r.starts_with(&thinking));
            let expected = if cut == 0 {
                SlotStatus::NoThinking
            } else if prefix.contains(ANSWER_OPEN) {
                SlotStatus::AnswerPresent
            } else if prefix.contains(THINK_CLOSE) {
                SlotStatus::ThinkingClosed
            } else {
                SlotStatus::ThinkingTruncated
            };
            prop_assert_eq!(slot.status, expected);
            if cut >= tokens.len() - 3 {
                prop_assert_eq!(thinking, r);
            }
        }
    }
}
