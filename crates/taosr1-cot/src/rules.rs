//! Atomic relevance rules: small checkable statements ("a size with a unit in the query must
//! equal the item's size") that a [`Teacher`](crate::teacher::Teacher) cites in its rationales,
//! and their retrieval per item by BM25 (the [`bm25`] crate).
//!
//! A rules file is JSONL, one rule a line (blank lines and lines starting with `#` are
//! skipped):
//!
//! ```text
//! {"id":"measure-01","checks":"measurement","text":"a size with a unit in the query ...","triggers":["in","inch","ft"]}
//! ```
//!
//! * `id`: unique, non-empty, no whitespace;
//! * `checks`: what the rule checks, one of [`CheckKind`]'s snake-case names;
//! * `text`: the statement, non-empty;
//! * `triggers`: non-empty list of non-empty keywords or phrases; a rule can only apply to an
//!   item whose query or title contains one of them (compared after
//!   [`normalize_text`]).
//!
//! The crate ships 63 rules for home-improvement and general e-commerce search
//! (`assets/atomic_rules.jsonl`, compiled in: [`RuleBook::default_rules`]); load your own with
//! [`RuleBook::load`]. Every problem in a file is a [`CotError::Rule`] naming `file:line` and
//! the field.
//!
//! ```
//! use taosr1_cot::rules::{CheckKind, RuleBook};
//! let book = RuleBook::default_rules();
//! assert!(book.len() >= 40);
//! let hits = book.retrieve("3/4 in. copper pipe fitting", 3);
//! assert!(!hits.is_empty());
//! assert!(hits.iter().any(|h| h.rule.checks == CheckKind::Measurement || h.rule.checks == CheckKind::Material));
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use bm25::{Document, SearchEngine, SearchEngineBuilder};
use serde::{Deserialize, Serialize};

use crate::template::normalize_text;
use crate::CotError;

/// The shipped rules file, compiled into the crate.
///
/// ```
/// assert!(taosr1_cot::rules::DEFAULT_RULES.lines().count() >= 40);
/// ```
pub const DEFAULT_RULES: &str = include_str!("../assets/atomic_rules.jsonl");

/// The name [`RuleBook::default_rules`] gives the shipped file in errors.
///
/// ```
/// assert!(taosr1_cot::rules::DEFAULT_RULES_ORIGIN.contains("atomic_rules"));
/// ```
pub const DEFAULT_RULES_ORIGIN: &str = "<default atomic_rules.jsonl>";

/// What a rule checks.
///
/// ```
/// use taosr1_cot::rules::CheckKind;
/// assert_eq!(CheckKind::parse("measurement"), Some(CheckKind::Measurement));
/// assert_eq!(CheckKind::Measurement.name(), "measurement");
/// assert_eq!(CheckKind::parse("size"), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// The product type the query asks for against the item's type.
    ProductType,
    /// A brand or product line named in the query.
    Brand,
    /// Numbers with units: sizes, voltages, volumes, gauges, dimensions such as 2x4.
    Measurement,
    /// Pack counts and counts of parts (3-light, 10 pack).
    Quantity,
    /// Colours and finishes.
    Color,
    /// Materials.
    Material,
    /// Exclusions: `without`, `no`, `free`, `not included`.
    Negation,
    /// Power source and fuel.
    Power,
    /// Fit with another product (model numbers, threads, bulb bases).
    Compatibility,
    /// Mounting, room, shape, style.
    Style,
    /// Anything else.
    General,
}

impl CheckKind {
    /// Every kind, in declaration order.
    ///
    /// ```
    /// assert_eq!(taosr1_cot::rules::CheckKind::ALL.len(), 11);
    /// ```
    pub const ALL: [CheckKind; 11] = [
        CheckKind::ProductType,
        CheckKind::Brand,
        CheckKind::Measurement,
        CheckKind::Quantity,
        CheckKind::Color,
        CheckKind::Material,
        CheckKind::Negation,
        CheckKind::Power,
        CheckKind::Compatibility,
        CheckKind::Style,
        CheckKind::General,
    ];

    /// The snake-case name used in rules files.
    ///
    /// ```
    /// assert_eq!(taosr1_cot::rules::CheckKind::ProductType.name(), "product_type");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            CheckKind::ProductType => "product_type",
            CheckKind::Brand => "brand",
            CheckKind::Measurement => "measurement",
            CheckKind::Quantity => "quantity",
            CheckKind::Color => "color",
            CheckKind::Material => "material",
            CheckKind::Negation => "negation",
            CheckKind::Power => "power",
            CheckKind::Compatibility => "compatibility",
            CheckKind::Style => "style",
            CheckKind::General => "general",
        }
    }

    /// The kind with snake-case `name`, if any.
    ///
    /// ```
    /// assert!(taosr1_cot::rules::CheckKind::parse("color").is_some());
    /// ```
    pub fn parse(name: &str) -> Option<CheckKind> {
        CheckKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// One atomic rule.
///
/// ```
/// let book = taosr1_cot::rules::RuleBook::default_rules();
/// let rule = book.get("measure-01").unwrap();
/// assert!(rule.triggers.iter().any(|t| t == "ft"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtomicRule {
    /// Unique id, e.g. `measure-01`.
    pub id: String,
    /// What the rule checks.
    pub checks: CheckKind,
    /// The statement, in plain words.
    pub text: String,
    /// Keywords or phrases, in the token convention; a rule only applies to an item whose
    /// query or title contains one.
    pub triggers: Vec<String>,
}

impl AtomicRule {
    /// Whether one of the triggers occurs, as whole tokens, in `normalized` (text already in
    /// the token convention).
    ///
    /// ```
    /// use taosr1_cot::{normalize_text, rules::RuleBook};
    /// let book = RuleBook::default_rules();
    /// let rule = book.get("negation-01").unwrap();
    /// assert!(rule.triggered_by(&normalize_text("Faucet without handles")));
    /// assert!(!rule.triggered_by(&normalize_text("Nothing here")));
    /// ```
    pub fn triggered_by(&self, normalized: &str) -> bool {
        let padded = format!(" {normalized} ");
        self.triggers
            .iter()
            .any(|t| padded.contains(&format!(" {t} ")))
    }
}

/// A rule retrieved for an item, with its BM25 score.
///
/// ```
/// let book = taosr1_cot::rules::RuleBook::default_rules();
/// let hit = &book.retrieve("cordless drill battery", 1)[0];
/// assert!(hit.score > 0.0);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RuleHit<'a> {
    /// The rule.
    pub rule: &'a AtomicRule,
    /// Its BM25 score against the item (rounded to 1e-4 so that ties are stable).
    pub score: f32,
}

/// The tokenizer BM25 uses: [`normalize_text`] tokens that contain a letter or a digit,
/// with a trailing plural `s` dropped from words of four or more letters.
#[derive(Clone, Copy, Debug, Default)]
struct RuleTokenizer;

impl bm25::Tokenizer for RuleTokenizer {
    fn tokenize(&self, input_text: &str) -> Vec<String> {
        normalize_text(input_text)
            .split(' ')
            .filter(|t| t.chars().any(char::is_alphanumeric))
            .map(|t| {
                if t.len() >= 4 && t.ends_with('s') && !t.ends_with("ss") {
                    t[..t.len() - 1].to_string()
                } else {
                    t.to_string()
                }
            })
            .collect()
    }
}

/// A set of atomic rules with a BM25 index over their text and triggers.
///
/// ```
/// use taosr1_cot::rules::RuleBook;
/// let text = r#"{"id":"r1","checks":"color","text":"colours must agree","triggers":["white","black"]}"#;
/// let book = RuleBook::from_jsonl_str(text, "mine.jsonl")?;
/// assert_eq!(book.len(), 1);
/// assert_eq!(book.retrieve("white door", 5)[0].rule.id, "r1");
/// # Ok::<(), taosr1_cot::CotError>(())
/// ```
pub struct RuleBook {
    rules: Vec<AtomicRule>,
    engine: SearchEngine<usize, u32, RuleTokenizer>,
}

impl std::fmt::Debug for RuleBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleBook")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl Clone for RuleBook {
    fn clone(&self) -> Self {
        RuleBook::new(self.rules.clone())
    }
}

impl Default for RuleBook {
    /// [`RuleBook::default_rules`].
    fn default() -> Self {
        RuleBook::default_rules()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Option<serde_json::Value>,
    checks: Option<serde_json::Value>,
    text: Option<serde_json::Value>,
    triggers: Option<serde_json::Value>,
}

impl RuleBook {
    fn new(rules: Vec<AtomicRule>) -> RuleBook {
        let documents: Vec<Document<usize>> = rules
            .iter()
            .enumerate()
            .map(|(i, r)| Document::new(i, format!("{} {}", r.text, r.triggers.join(" "))))
            .collect();
        let engine =
            SearchEngineBuilder::<usize, u32, RuleTokenizer>::with_tokenizer_and_documents(
                RuleTokenizer,
                documents,
            )
            .build();
        RuleBook { rules, engine }
    }

    /// The shipped rules ([`DEFAULT_RULES`]).
    ///
    /// ```
    /// let book = taosr1_cot::rules::RuleBook::default_rules();
    /// assert!(book.rules().iter().any(|r| r.id == "brand-01"));
    /// ```
    pub fn default_rules() -> RuleBook {
        // The shipped file is checked by a unit test; an error here is a build defect, so
        // fall back to an empty book rather than panic.
        RuleBook::from_jsonl_str(DEFAULT_RULES, DEFAULT_RULES_ORIGIN)
            .unwrap_or_else(|_| RuleBook::new(Vec::new()))
    }

    /// Parse rules from JSONL text; `origin` names the file in errors.
    ///
    /// # Errors
    /// [`CotError::Rule`] naming `origin:line` and the field: invalid JSON or an unknown field
    /// (`line`), a missing or empty `id` or an id with whitespace or seen before, an unknown
    /// `checks`, an empty `text`, a missing or empty `triggers` list or an empty trigger. A
    /// file with no rule at all is an error on line 1 (`line`).
    ///
    /// ```
    /// use taosr1_cot::{rules::RuleBook, CotError};
    /// let text = "{\"id\":\"a\",\"checks\":\"color\",\"text\":\"t\",\"triggers\":[\"red\"]}\n{\"id\":\"b\",\"checks\":\"size\",\"text\":\"t\",\"triggers\":[\"x\"]}\n";
    /// let err = RuleBook::from_jsonl_str(text, "my_rules.jsonl").unwrap_err();
    /// assert!(matches!(&err, CotError::Rule { line: 2, field, .. } if field == "checks"));
    /// assert!(err.to_string().starts_with("my_rules.jsonl:2: field `checks`"));
    /// ```
    pub fn from_jsonl_str(text: &str, origin: &str) -> Result<RuleBook, CotError> {
        let err = |line: usize, field: &str, reason: String| CotError::Rule {
            path: PathBuf::from(origin),
            line,
            field: field.to_string(),
            reason,
        };
        let mut rules = Vec::new();
        let mut ids = BTreeSet::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let raw = raw.trim().trim_start_matches('\u{feff}');
            if raw.is_empty() || raw.starts_with('#') {
                continue;
            }
            let rec: RawRule = serde_json::from_str(raw)
                .map_err(|e| err(line, "line", format!("not a rule object: {e}")))?;
            let string = |v: Option<serde_json::Value>, field: &str| -> Result<String, CotError> {
                match v {
                    None => Err(err(line, field, "missing".into())),
                    Some(serde_json::Value::String(s)) if !s.trim().is_empty() => {
                        Ok(s.trim().to_string())
                    }
                    Some(serde_json::Value::String(_)) => Err(err(line, field, "empty".into())),
                    Some(other) => Err(err(line, field, format!("expected a string, got {other}"))),
                }
            };
            let id = string(rec.id, "id")?;
            if id.chars().any(char::is_whitespace) {
                return Err(err(line, "id", format!("`{id}` contains whitespace")));
            }
            if !ids.insert(id.clone()) {
                return Err(err(
                    line,
                    "id",
                    format!("`{id}` is used by an earlier rule"),
                ));
            }
            let checks_name = string(rec.checks, "checks")?;
            let checks = CheckKind::parse(&checks_name).ok_or_else(|| {
                let names: Vec<&str> = CheckKind::ALL.iter().map(|k| k.name()).collect();
                err(
                    line,
                    "checks",
                    format!("`{checks_name}` is not one of {names:?}"),
                )
            })?;
            let text = string(rec.text, "text")?;
            let triggers = match rec.triggers {
                None => return Err(err(line, "triggers", "missing".into())),
                Some(serde_json::Value::Array(items)) => {
                    if items.is_empty() {
                        return Err(err(line, "triggers", "empty list".into()));
                    }
                    let mut out = Vec::with_capacity(items.len());
                    for (k, v) in items.into_iter().enumerate() {
                        match v {
                            serde_json::Value::String(s) if !normalize_text(&s).is_empty() => {
                                out.push(normalize_text(&s))
                            }
                            other => {
                                return Err(err(
                                    line,
                                    "triggers",
                                    format!("entry {k} must be a non-empty string, got {other}"),
                                ))
                            }
                        }
                    }
                    out
                }
                Some(other) => {
                    return Err(err(
                        line,
                        "triggers",
                        format!("expected a list of strings, got {other}"),
                    ))
                }
            };
            rules.push(AtomicRule {
                id,
                checks,
                text,
                triggers,
            });
        }
        if rules.is_empty() {
            return Err(err(1, "line", "the file holds no rule".into()));
        }
        Ok(RuleBook::new(rules))
    }

    /// Read a rules file ([`from_jsonl_str`](Self::from_jsonl_str)); errors name the path.
    ///
    /// ```
    /// use taosr1_cot::{rules::RuleBook, CotError};
    /// let dir = std::env::temp_dir().join(format!("taosr1-rules-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let path = dir.join("rules.jsonl");
    /// std::fs::write(&path, "{\"id\":\"a\",\"checks\":\"color\",\"text\":\"\",\"triggers\":[\"red\"]}\n").unwrap();
    /// let err = RuleBook::load(&path).unwrap_err();
    /// assert!(err.to_string().ends_with("rules.jsonl:1: field `text`: empty"), "{err}");
    /// assert!(matches!(RuleBook::load(&dir.join("none.jsonl")), Err(CotError::File { .. })));
    /// ```
    pub fn load(path: &Path) -> Result<RuleBook, CotError> {
        let text = std::fs::read_to_string(path).map_err(|e| CotError::File {
            path: path.to_path_buf(),
            source: Box::new(CotError::Io { source: e }),
        })?;
        RuleBook::from_jsonl_str(&text, &path.display().to_string())
    }

    /// The rules, in file order.
    ///
    /// ```
    /// assert_eq!(taosr1_cot::rules::RuleBook::default_rules().rules()[0].id, "type-01");
    /// ```
    pub fn rules(&self) -> &[AtomicRule] {
        &self.rules
    }

    /// Number of rules.
    ///
    /// ```
    /// assert!(taosr1_cot::rules::RuleBook::default_rules().len() > 0);
    /// ```
    #[allow(clippy::len_without_is_empty)] // a loaded book is never empty
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// The rule with `id`.
    ///
    /// ```
    /// assert!(taosr1_cot::rules::RuleBook::default_rules().get("no-such-rule").is_none());
    /// ```
    pub fn get(&self, id: &str) -> Option<&AtomicRule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The `limit` rules that BM25 ranks highest for `query` (only rules sharing a token with
    /// it), best first; ties broken by file order, so the result is deterministic.
    ///
    /// ```
    /// let book = taosr1_cot::rules::RuleBook::default_rules();
    /// let hits = book.retrieve("white vanity cabinet", 3);
    /// assert!(hits.len() <= 3);
    /// assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    /// assert!(book.retrieve("", 3).is_empty());
    /// ```
    pub fn retrieve(&self, query: &str, limit: usize) -> Vec<RuleHit<'_>> {
        let mut hits: Vec<(usize, f32)> = self
            .engine
            .search(query, None)
            .into_iter()
            .filter(|r| r.score > 0.0 && r.score.is_finite())
            .map(|r| (r.document.id, (r.score * 1e4).round() / 1e4))
            .collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        hits.into_iter()
            .take(limit)
            .filter_map(|(i, score)| self.rules.get(i).map(|rule| RuleHit { rule, score }))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_rules_parse_and_cover_every_checked_kind() {
        let book = RuleBook::from_jsonl_str(DEFAULT_RULES, DEFAULT_RULES_ORIGIN).unwrap();
        assert!((40..=80).contains(&book.len()), "{}", book.len());
        for kind in [
            CheckKind::ProductType,
            CheckKind::Brand,
            CheckKind::Measurement,
            CheckKind::Color,
            CheckKind::Material,
            CheckKind::Negation,
        ] {
            assert!(
                book.rules().iter().any(|r| r.checks == kind),
                "no {kind:?} rule"
            );
        }
        assert_eq!(RuleBook::default_rules().len(), book.len());
    }

    #[test]
    fn bad_rules_files_name_line_and_field() {
        let good = r#"{"id":"a","checks":"color","text":"t","triggers":["red"]}"#;
        let cases = [
            ("{oops", 2, "line"),
            (
                r#"{"id":"a","checks":"color","text":"t","triggers":["red"]}"#,
                2,
                "id",
            ),
            (
                r#"{"id":"b c","checks":"color","text":"t","triggers":["red"]}"#,
                2,
                "id",
            ),
            (
                r#"{"checks":"color","text":"t","triggers":["red"]}"#,
                2,
                "id",
            ),
            (
                r#"{"id":"b","checks":"colour","text":"t","triggers":["red"]}"#,
                2,
                "checks",
            ),
            (
                r#"{"id":"b","checks":"color","text":"  ","triggers":["red"]}"#,
                2,
                "text",
            ),
            (
                r#"{"id":"b","checks":"color","text":"t","triggers":[]}"#,
                2,
                "triggers",
            ),
            (
                r#"{"id":"b","checks":"color","text":"t","triggers":[""]}"#,
                2,
                "triggers",
            ),
            (
                r#"{"id":"b","checks":"color","text":"t","triggers":"red"}"#,
                2,
                "triggers",
            ),
            (
                r#"{"id":"b","checks":"color","text":"t","triggers":["red"],"x":1}"#,
                2,
                "line",
            ),
        ];
        for (bad, want_line, want_field) in cases {
            let text = format!("{good}\n{bad}\n");
            match RuleBook::from_jsonl_str(&text, "r.jsonl") {
                Err(CotError::Rule {
                    path, line, field, ..
                }) => {
                    assert_eq!(path, PathBuf::from("r.jsonl"), "{bad}");
                    assert_eq!((line, field.as_str()), (want_line, want_field), "{bad}");
                }
                other => panic!("{bad}: expected a Rule error, got {other:?}"),
            }
        }
        // Comments and blank lines are skipped but counted.
        let text = format!("# my rules\n\n{good}\n{{\"id\":\"z\"}}\n");
        let err = RuleBook::from_jsonl_str(&text, "r.jsonl").unwrap_err();
        assert!(
            err.to_string().starts_with("r.jsonl:4: field `checks`"),
            "{err}"
        );
        assert!(matches!(
            RuleBook::from_jsonl_str("\n# nothing\n", "e.jsonl"),
            Err(CotError::Rule { line: 1, .. })
        ));
    }

    #[test]
    fn retrieval_ranks_the_rule_that_shares_rare_words_first() {
        let text = concat!(
            r#"{"id":"c","checks":"color","text":"colours must agree","triggers":["white","black"]}"#,
            "\n",
            r#"{"id":"m","checks":"material","text":"materials must agree","triggers":["copper","steel"]}"#,
            "\n",
            r#"{"id":"v","checks":"measurement","text":"voltages must agree","triggers":["volt","volts"]}"#,
        );
        let book = RuleBook::from_jsonl_str(text, "r").unwrap();
        let ids = |q: &str| -> Vec<String> {
            book.retrieve(q, 5)
                .into_iter()
                .map(|h| h.rule.id.clone())
                .collect()
        };
        assert_eq!(ids("Copper Pipe"), ["m"]);
        assert_eq!(ids("20 Volts drill"), ["v"]);
        assert!(ids("garden gnome").is_empty());
        assert_eq!(ids("black copper")[..].len(), 2);
        // Stable across calls and clones.
        assert_eq!(ids("black copper"), ids("black copper"));
        let clone = book.clone();
        assert_eq!(
            clone.retrieve("black copper", 5)[0].rule.id,
            book.retrieve("black copper", 5)[0].rule.id
        );
    }
}
