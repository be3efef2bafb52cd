//! [`LlmTeacher`]: a loaded checkpoint (any Hugging Face folder or GGUF file that
//! [`taosr1_model::load_pretrained`] reads) writes the five-step rationale for a labelled item,
//! through our own inference, the checkpoint's own tokenizer and chat template.
//!
//! The prompt shows the query, the product, up to `rules_shown` applicable
//! [atomic rules](taosr1_cot::rules) (BM25 over query + title, then kept only when a trigger
//! is in the query or title) and the gold grade, and asks for the five steps under their
//! headings. The assistant turn is started with `1. Query understanding:` so that even a small
//! model begins in the format. Decoding is greedy and batched ([`taosr1_model::generate`]).
//!
//! The answer is kept only when [`FiveSteps::parse`] finds all five headings in order, each
//! with content, and the last grade label named in the decision step is the gold grade
//! (otherwise [`RejectReason::MissingSteps`], [`RejectReason::EmptyStep`],
//! [`RejectReason::NoDecision`] or [`RejectReason::WrongDecision`]), and only when the query
//! step names a query word and the item step a title word ([`RejectReason::Ungrounded`]). The kept rationale is
//! the five steps rendered in the token convention ([`FiveSteps::render`]).
//!
//! ```
//! use taosr1::teacher::{LlmTeacher, LlmTeacherConfig};
//! use taosr1_cot::teacher::{RejectReason, Step};
//! use taosr1_cot::{GradeScale, Item, Product};
//!
//! let scale = GradeScale::default();
//! let gold = scale.parse("L3")?;
//! let item = Item { query: "cordless drill".into(),
//!     product: Product { title: "RYOBI 18-Volt Cordless Drill Kit".into(), ..Default::default() }, ..Default::default() };
//! let v = LlmTeacher::judge("1. Query understanding: a cordless drill. 2. Item understanding: a Ryobi drill kit.
//! 3. Category matching: same type. 4. Attribute matching: no brand asked. 5. Relevance decision: L3", &item, gold, &scale, vec![]);
//! assert!(v.rationale().unwrap().ends_with("relevance decision : l3 ."));
//! let v = LlmTeacher::judge("1. Query understanding: a drill. The answer is L3.", &item, gold, &scale, vec![]);
//! assert!(matches!(v.rejection(), Some(RejectReason::MissingSteps { .. })));
//! // Copying the instructions is not a rationale.
//! let copied = "1. Query understanding: what the query asks for. 2. Item understanding: what the product is.
//! 3. Category matching: does the type match? 4. Attribute matching: brand, size. 5. Relevance decision: L3";
//! assert!(matches!(LlmTeacher::judge(copied, &item, gold, &scale, vec![]).rejection(), Some(RejectReason::Ungrounded { .. })));
//! # Ok::<(), taosr1_cot::CotError>(())
//! ```

use std::path::Path;

use burn::tensor::Device;
use rand::SeedableRng;
use taosr1_cot::rules::RuleBook;
use taosr1_cot::teacher::{last_label, FiveSteps, Outcome, RejectReason, Step, Teacher, Verdict};
use taosr1_cot::{normalize_text, Grade, GradeScale, Item};
use taosr1_model::{
    generate, load_pretrained, ChatMessage, Pretrained, SamplingConfig, TaoTokenizer, Transformer,
};

use crate::Error;

/// Words that ground nothing: a step that shares only these with the query or title is
/// not about it (`what the query asks for` against the query `register for fuel`).
const GROUNDING_STOPWORDS: &[&str] = &[
    "the", "for", "and", "with", "what", "that", "this", "from", "are", "its", "not", "you",
    "query", "product", "item",
];

/// Settings of [`LlmTeacher`].
///
/// ```
/// let c = taosr1::teacher::LlmTeacherConfig::default();
/// assert_eq!((c.max_new_tokens, c.batch_size, c.rules_shown), (200, 8, 3));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LlmTeacherConfig {
    /// Most tokens generated per item.
    pub max_new_tokens: usize,
    /// Items decoded together.
    pub batch_size: usize,
    /// Applicable rules shown in the prompt, at most.
    pub rules_shown: usize,
    /// Text the assistant turn starts with (part of the parsed answer); empty for none.
    pub answer_prefix: String,
}

impl Default for LlmTeacherConfig {
    fn default() -> Self {
        LlmTeacherConfig {
            max_new_tokens: 200,
            batch_size: 8,
            rules_shown: 3,
            answer_prefix: "1. Query understanding:".into(),
        }
    }
}

/// A checkpoint as a [`Teacher`] (see the [module docs](self)).
///
/// ```
/// use std::path::Path;
/// use taosr1::teacher::{LlmTeacher, LlmTeacherConfig};
/// use taosr1_cot::{rules::RuleBook, GradeScale};
/// let err = LlmTeacher::load(Path::new("/no/such/model"), &Default::default(),
///     RuleBook::default_rules(), GradeScale::default(), LlmTeacherConfig::default()).unwrap_err();
/// assert!(err.to_string().contains("/no/such/model"));
/// ```
pub struct LlmTeacher {
    model: Transformer,
    tokenizer: TaoTokenizer,
    stop: Vec<u32>,
    book: RuleBook,
    scale: GradeScale,
    config: LlmTeacherConfig,
    context: usize,
    generated_tokens: usize,
    last_answers: Vec<String>,
}

impl std::fmt::Debug for LlmTeacher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmTeacher")
            .field("config", &self.config)
            .field("rules", &self.book.len())
            .finish_non_exhaustive()
    }
}

/// The grade scale described in words for the prompt: `L1 (irrelevant) … L4 (fully relevant)`.
fn scale_words(scale: &GradeScale) -> String {
    let n = scale.len();
    scale
        .grades()
        .map(|g| {
            let level = ((g.index() * 3) as f64 / (n - 1) as f64).round() as usize;
            let w = match level {
                0 => "irrelevant",
                1 => "partly relevant",
                2 => "mostly relevant",
                _ => "fully relevant",
            };
            format!("{} = {w}", scale.label(g))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl LlmTeacher {
    /// Load a Hugging Face folder (or `.gguf` file) with its own tokenizer and chat template.
    ///
    /// # Errors
    /// [`Error::Model`] from loading the weights or the tokenizer (naming the path), or when
    /// the tokenizer has no chat template.
    pub fn load(
        dir: &Path,
        device: &Device,
        book: RuleBook,
        scale: GradeScale,
        config: LlmTeacherConfig,
    ) -> Result<LlmTeacher, Error> {
        let loaded = load_pretrained(dir, device)?;
        let tokenizer = if dir.is_file() {
            TaoTokenizer::from_gguf(dir)?
        } else {
            TaoTokenizer::from_pretrained(dir)?
        };
        LlmTeacher::from_parts(loaded, tokenizer, book, scale, config)
    }

    /// A teacher from a loaded model and its tokenizer.
    ///
    /// # Errors
    /// [`Error::Input`] when the tokenizer has no chat template, its vocabulary is larger
    /// than the model's, or `batch_size` / `max_new_tokens` is 0.
    ///
    /// ```
    /// use std::path::Path;
    /// use taosr1::teacher::{LlmTeacher, LlmTeacherConfig};
    /// use taosr1_cot::{rules::RuleBook, GradeScale};
    /// use taosr1_model::{load_pretrained, TaoTokenizer};
    /// let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/taosr1-model/tests/fixtures");
    /// let model = load_pretrained(&fx.join("models/llama"), &Default::default())?;
    /// let tok = TaoTokenizer::from_pretrained(&fx.join("tokenizers/smollm2"))?;
    /// let cfg = LlmTeacherConfig { batch_size: 0, ..Default::default() };
    /// assert!(LlmTeacher::from_parts(model, tok, RuleBook::default_rules(), GradeScale::default(), cfg).is_err());
    /// # Ok::<(), taosr1::Error>(())
    /// ```
    pub fn from_parts(
        loaded: Pretrained,
        tokenizer: TaoTokenizer,
        book: RuleBook,
        scale: GradeScale,
        config: LlmTeacherConfig,
    ) -> Result<LlmTeacher, Error> {
        if config.batch_size == 0 || config.max_new_tokens == 0 {
            return Err(Error::Input(
                "LLM teacher: batch_size and max_new_tokens must be at least 1".into(),
            ));
        }
        if tokenizer.chat_template().is_none() {
            return Err(Error::Input(
                "LLM teacher: the tokenizer has no chat template".into(),
            ));
        }
        if tokenizer.vocab_size() > loaded.model.vocab_size() {
            return Err(Error::Input(format!(
                "LLM teacher: tokenizer vocabulary {} is larger than the model's {}",
                tokenizer.vocab_size(),
                loaded.model.vocab_size()
            )));
        }
        let mut stop: Vec<u32> = tokenizer.eos_ids().to_vec();
        stop.extend(&loaded.generation.eos_token_ids);
        stop.sort_unstable();
        stop.dedup();
        Ok(LlmTeacher {
            model: loaded.model,
            tokenizer,
            stop,
            book,
            scale,
            config,
            context: loaded.config.max_position_embeddings,
            generated_tokens: 0,
            last_answers: Vec::new(),
        })
    }

    /// The settings.
    ///
    /// ```
    /// # use std::path::Path;
    /// # use taosr1::teacher::{LlmTeacher, LlmTeacherConfig};
    /// # use taosr1_cot::{rules::RuleBook, GradeScale};
    /// # let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/taosr1-model/tests/fixtures");
    /// # let model = taosr1_model::load_pretrained(&fx.join("models/llama"), &Default::default())?;
    /// # let tok = taosr1_model::TaoTokenizer::from_pretrained(&fx.join("tokenizers/smollm2"))?;
    /// # let t = LlmTeacher::from_parts(model, tok, RuleBook::default_rules(), GradeScale::default(), LlmTeacherConfig::default())?;
    /// assert_eq!(t.config().batch_size, 8);
    /// # Ok::<(), taosr1::Error>(())
    /// ```
    pub fn config(&self) -> &LlmTeacherConfig {
        &self.config
    }

    /// Tokens generated so far (all batches).
    ///
    /// ```
    /// # use std::path::Path;
    /// # use taosr1::teacher::{LlmTeacher, LlmTeacherConfig};
    /// # use taosr1_cot::{rules::RuleBook, GradeScale};
    /// # let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/taosr1-model/tests/fixtures");
    /// # let model = taosr1_model::load_pretrained(&fx.join("models/llama"), &Default::default())?;
    /// # let tok = taosr1_model::TaoTokenizer::from_pretrained(&fx.join("tokenizers/smollm2"))?;
    /// # let t = LlmTeacher::from_parts(model, tok, RuleBook::default_rules(), GradeScale::default(), LlmTeacherConfig::default())?;
    /// assert_eq!(t.generated_tokens(), 0); // nothing generated yet
    /// # Ok::<(), taosr1::Error>(())
    /// ```
    pub fn generated_tokens(&self) -> usize {
        self.generated_tokens
    }

    /// The raw answers (prefix + generated text) of the last batch, in order.
    ///
    /// ```
    /// # use std::path::Path;
    /// # use taosr1::teacher::{LlmTeacher, LlmTeacherConfig};
    /// # use taosr1_cot::{rules::RuleBook, GradeScale};
    /// # let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/taosr1-model/tests/fixtures");
    /// # let model = taosr1_model::load_pretrained(&fx.join("models/llama"), &Default::default())?;
    /// # let tok = taosr1_model::TaoTokenizer::from_pretrained(&fx.join("tokenizers/smollm2"))?;
    /// # let t = LlmTeacher::from_parts(model, tok, RuleBook::default_rules(), GradeScale::default(), LlmTeacherConfig::default())?;
    /// assert!(t.last_answers().is_empty());
    /// # Ok::<(), taosr1::Error>(())
    /// ```
    pub fn last_answers(&self) -> &[String] {
        &self.last_answers
    }

    /// The rules shown for `item`: `(id, text)`, best BM25 score first, only rules with a
    /// trigger in the query or the title.
    ///
    /// ```
    /// # use std::path::Path;
    /// # use taosr1::teacher::{LlmTeacher, LlmTeacherConfig};
    /// # use taosr1_cot::{rules::RuleBook, GradeScale};
    /// # let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/taosr1-model/tests/fixtures");
    /// # let model = taosr1_model::load_pretrained(&fx.join("models/llama"), &Default::default())?;
    /// # let tok = taosr1_model::TaoTokenizer::from_pretrained(&fx.join("tokenizers/smollm2"))?;
    /// # let t = LlmTeacher::from_parts(model, tok, RuleBook::default_rules(), GradeScale::default(), LlmTeacherConfig::default())?;
    /// let item = taosr1_cot::Item { query: "ryobi drill".into(), product: taosr1_cot::Product { title: "DEWALT 20-Volt Drill".into(), ..Default::default() }, ..Default::default() };
    /// let rules = t.rules_for(&item);
    /// assert!(!rules.is_empty() && rules.len() <= 3);
    /// # Ok::<(), taosr1::Error>(())
    /// ```
    pub fn rules_for(&self, item: &Item) -> Vec<(String, String)> {
        let q = normalize_text(&item.query);
        let t = normalize_text(&item.product.title);
        let text = format!(
            "{} {} {} {}",
            item.query, item.product.title, item.product.category, item.product.brand
        );
        self.book
            .retrieve(&text, 12)
            .into_iter()
            .filter(|h| h.rule.triggered_by(&q) || h.rule.triggered_by(&t))
            .take(self.config.rules_shown)
            .map(|h| (h.rule.id.clone(), h.rule.text.clone()))
            .collect()
    }

    /// The chat messages for `item` with gold grade `gold` (the rules from
    /// [`rules_for`](Self::rules_for)).
    ///
    /// ```
    /// use taosr1::teacher::LlmTeacher;
    /// use taosr1_cot::{rules::RuleBook, GradeScale, Item, Product};
    /// let item = Item { query: "white vanity".into(), product: Product { title: "36 in. Vanity in White".into(), ..Default::default() }, ..Default::default() };
    /// let s = GradeScale::default();
    /// let rules = vec![("color-01".to_string(), "colours must agree".to_string())];
    /// let msgs = LlmTeacher::messages(&item, s.best(), &s, &rules);
    /// assert!(msgs[1].content.contains("Relevance decision"));
    /// assert!(msgs[1].content.contains("The correct grade is L4"));
    /// ```
    pub fn messages(
        item: &Item,
        gold: Grade,
        scale: &GradeScale,
        rules: &[(String, String)],
    ) -> Vec<ChatMessage> {
        let p = &item.product;
        let mut product = format!("Product title: {}", p.title.trim());
        if !p.category.trim().is_empty() {
            product += &format!("\nCategory: {}", p.category.trim());
        }
        if !p.brand.trim().is_empty() {
            product += &format!("\nBrand: {}", p.brand.trim());
        }
        for (k, v) in &p.attributes {
            product += &format!("\n{k}: {}", v.trim());
        }
        let rules_text = if rules.is_empty() {
            "(none)".to_string()
        } else {
            rules
                .iter()
                .map(|(id, text)| format!("- [{id}] {text}"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let label = scale.label(gold);
        let user = format!(
            "Search query: {query}\n{product}\n\nRules that may apply:\n{rules_text}\n\n\
             Grades: {grades}. The correct grade is {label}.\n\
             Explain why, in exactly five numbered steps with these headings:\n\
             1. Query understanding: what the query asks for.\n\
             2. Item understanding: what the product is.\n\
             3. Category matching: does the product type match the query?\n\
             4. Attribute matching: brand, size, colour, material.\n\
             5. Relevance decision: conclude with the grade {label}.",
            query = item.query.trim(),
            grades = scale_words(scale),
        );
        vec![
            ChatMessage::system(
                "You are a careful annotator of e-commerce search relevance. You explain \
                 relevance grades step by step, briefly.",
            ),
            ChatMessage::user(user),
        ]
    }

    /// Keep or reject a model's answer about `item` for gold grade `gold` (see the
    /// [module docs](self)). Besides the format and the decision, the query step must name a
    /// word of the query and the item step a word of the title (three or more letters or
    /// digits, as whole tokens): a model that copies the instructions is rejected as
    /// [`RejectReason::Ungrounded`].
    pub fn judge(
        answer: &str,
        item: &Item,
        gold: Grade,
        scale: &GradeScale,
        rule_ids: Vec<String>,
    ) -> Verdict {
        let words = |text: &str| -> std::collections::BTreeSet<String> {
            normalize_text(text)
                .split(' ')
                .filter(|w| {
                    w.chars().count() >= 3
                        && w.chars().all(char::is_alphanumeric)
                        && !GROUNDING_STOPWORDS.contains(w)
                })
                .map(str::to_string)
                .collect()
        };
        let grounded = |step_text: &str, source: &str| -> bool {
            !words(step_text).is_disjoint(&words(source))
        };
        let outcome = match FiveSteps::parse(answer) {
            Err(reason) => Outcome::Rejected(reason),
            Ok(steps) if !grounded(steps.get(Step::Query), &item.query) => {
                Outcome::Rejected(RejectReason::Ungrounded {
                    step: Step::Query.heading().into(),
                })
            }
            Ok(steps) if !grounded(steps.get(Step::Item), &item.product.title) => {
                Outcome::Rejected(RejectReason::Ungrounded {
                    step: Step::Item.heading().into(),
                })
            }
            Ok(steps) => match last_label(steps.get(Step::Decision), scale) {
                None => Outcome::Rejected(RejectReason::NoDecision),
                Some(g) if g != gold => Outcome::Rejected(RejectReason::WrongDecision {
                    stated: scale.label(g).to_string(),
                    gold: scale.label(gold).to_string(),
                }),
                Some(_) => Outcome::Kept {
                    rationale: steps.render(),
                },
            },
        };
        Verdict {
            outcome,
            checks: Vec::new(),
            rule_ids,
            evidence: None,
        }
    }

    fn prompt_ids(&self, item: &Item, gold: Grade) -> Result<(Vec<u32>, Vec<String>), Error> {
        let rules = self.rules_for(item);
        let msgs = LlmTeacher::messages(item, gold, &self.scale, &rules);
        let mut text = self
            .tokenizer
            .render_chat(&msgs, true, &serde_json::json!({}))?;
        text += &self.config.answer_prefix;
        let ids = self.tokenizer.encode(&text)?;
        Ok((ids, rules.into_iter().map(|(id, _)| id).collect()))
    }
}

impl Teacher for LlmTeacher {
    type Error = Error;

    /// One item: [`write_batch`](Teacher::write_batch) of one.
    fn write(&mut self, item: &Item, gold: Grade) -> Result<Verdict, Error> {
        let mut v = self.write_batch(&[(item.clone(), gold)])?;
        v.pop()
            .ok_or_else(|| Error::Input("LLM teacher: no verdict".into()))
    }

    /// Generate greedily, `batch_size` items at a time, and judge each answer.
    ///
    /// # Errors
    /// [`Error::Input`] for a gold grade not on the scale; [`Error::Model`] from the
    /// tokenizer or the model.
    fn write_batch(&mut self, batch: &[(Item, Grade)]) -> Result<Vec<Verdict>, Error> {
        if let Some((item, g)) = batch.iter().find(|(_, g)| !self.scale.contains(*g)) {
            return Err(Error::Input(format!(
                "LLM teacher: item `{}` has grade index {} outside the {}-grade scale",
                item.id,
                g.index(),
                self.scale.len()
            )));
        }
        let mut out = Vec::with_capacity(batch.len());
        self.last_answers.clear();
        let sampling = SamplingConfig::greedy(self.config.max_new_tokens);
        // Greedy decoding draws nothing from the generator; it is only the API's argument.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        for chunk in batch.chunks(self.config.batch_size) {
            // Prompts that leave no room for the answer are rejected without generating.
            let mut verdicts: Vec<Option<Verdict>> = Vec::with_capacity(chunk.len());
            let mut prompts = Vec::with_capacity(chunk.len());
            let mut shown = Vec::with_capacity(chunk.len());
            for (item, gold) in chunk {
                let (ids, rules) = self.prompt_ids(item, *gold)?;
                let tokens = ids.len() + self.config.max_new_tokens;
                if tokens > self.context {
                    verdicts.push(Some(Verdict {
                        outcome: Outcome::Rejected(RejectReason::PromptTooLong {
                            tokens,
                            context: self.context,
                        }),
                        checks: Vec::new(),
                        rule_ids: rules,
                        evidence: None,
                    }));
                } else {
                    verdicts.push(None);
                    prompts.push(ids);
                    shown.push((rules, item, *gold));
                }
            }
            let gens = if prompts.is_empty() {
                Vec::new()
            } else {
                generate(
                    &self.model,
                    &prompts,
                    self.tokenizer.pad_id(),
                    &self.stop,
                    &sampling,
                    &mut rng,
                )?
            };
            let mut judged = gens.iter().zip(shown);
            for slot in verdicts {
                match slot {
                    Some(v) => {
                        self.last_answers.push(String::new());
                        out.push(v);
                    }
                    None => {
                        let (generation, (rules, item, gold)) = judged.next().ok_or_else(|| {
                            Error::Input("LLM teacher: fewer generations than prompts".into())
                        })?;
                        self.generated_tokens += generation.tokens.len();
                        let answer = format!(
                            "{}{}",
                            self.config.answer_prefix,
                            self.tokenizer.decode(&generation.tokens)?
                        );
                        out.push(LlmTeacher::judge(&answer, item, gold, &self.scale, rules));
                        self.last_answers.push(answer);
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use taosr1_cot::Product;

    fn fixtures() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/taosr1-model/tests/fixtures")
    }

    /// A random model with the fixture tokenizer's vocabulary and room for the prompt.
    fn fixture_teacher(max_new_tokens: usize) -> LlmTeacher {
        let tok = TaoTokenizer::from_pretrained(&fixtures().join("tokenizers/smollm2")).unwrap();
        let mut config = taosr1_model::ModelConfig::tiny(tok.vocab_size());
        config.max_position_embeddings = 1024;
        let model = Pretrained {
            model: Transformer::new(&config, &Default::default()).unwrap(),
            config,
            generation: Default::default(),
        };
        let cfg = LlmTeacherConfig {
            max_new_tokens,
            batch_size: 2,
            ..Default::default()
        };
        LlmTeacher::from_parts(
            model,
            tok,
            RuleBook::default_rules(),
            GradeScale::default(),
            cfg,
        )
        .unwrap()
    }

    fn item(q: &str, t: &str) -> Item {
        Item {
            id: q.into(),
            query: q.into(),
            product: Product {
                title: t.into(),
                ..Product::default()
            },
        }
    }

    #[test]
    fn judge_keeps_only_five_steps_ending_in_the_gold_grade() {
        let s = GradeScale::default();
        let l2 = s.parse("L2").unwrap();
        let full = |decision: &str| {
            format!(
                "1. Query understanding: a ryobi drill.\n2. Item understanding: a dewalt drill.\n\
                 3. Category matching: both drills.\n4. Attribute matching: brand differs.\n\
                 5. Relevance decision: {decision}"
            )
        };
        let it = item("ryobi drill", "DEWALT 20-Volt Drill");
        let v = LlmTeacher::judge(
            &full("partly relevant, L2."),
            &it,
            l2,
            &s,
            vec!["brand-01".into()],
        );
        assert!(v.is_kept());
        assert_eq!(v.rule_ids, vec!["brand-01".to_string()]);
        let r = v.rationale().unwrap();
        assert!(r.starts_with("query understanding : a ryobi drill . item understanding"));
        assert!(r.ends_with("relevance decision : partly relevant , l2 ."));
        assert_eq!(
            LlmTeacher::judge(&full("L4 at first, but L3."), &it, l2, &s, vec![]).rejection(),
            Some(&RejectReason::WrongDecision {
                stated: "L3".into(),
                gold: "L2".into()
            })
        );
        assert_eq!(
            LlmTeacher::judge(&full("it is partly relevant."), &it, l2, &s, vec![]).rejection(),
            Some(&RejectReason::NoDecision)
        );
        assert!(matches!(
            LlmTeacher::judge("L2", &it, l2, &s, vec![]).rejection(),
            Some(RejectReason::MissingSteps { missing }) if missing.len() == 5
        ));
        // The same answer about another item names nothing of it.
        let other = item("garden hose", "Flexzilla 50 ft. Hose");
        assert_eq!(
            LlmTeacher::judge(&full("L2"), &other, l2, &s, vec![]).rejection(),
            Some(&RejectReason::Ungrounded {
                step: "query understanding".into()
            })
        );
        // Sharing only "for" with the query grounds nothing.
        let copied = "1. Query understanding: what the query asks for.\n2. Item understanding: what the product is.\n\
                      3. Category matching: same.\n4. Attribute matching: none.\n5. Relevance decision: L2";
        assert_eq!(
            LlmTeacher::judge(
                copied,
                &item("register for fuel", "Gas Stove"),
                l2,
                &s,
                vec![]
            )
            .rejection(),
            Some(&RejectReason::Ungrounded {
                step: "query understanding".into()
            })
        );
        let same_query = item("ryobi drill", "Flexzilla 50 ft. Hose");
        assert_eq!(
            LlmTeacher::judge(&full("L2"), &same_query, l2, &s, vec![]).rejection(),
            Some(&RejectReason::Ungrounded {
                step: "item understanding".into()
            })
        );
    }

    #[test]
    fn prompt_shows_item_rules_and_gold_grade() {
        let t = fixture_teacher(4);
        let it = item("1/2 in. copper pipe", "3/4 in. x 10 ft. Copper Pipe");
        let rules = t.rules_for(&it);
        assert!(!rules.is_empty() && rules.len() <= 3);
        let s = GradeScale::default();
        let msgs = LlmTeacher::messages(&it, s.parse("L2").unwrap(), &s, &rules);
        let user = &msgs[1].content;
        assert!(user.contains("Search query: 1/2 in. copper pipe"));
        assert!(user.contains("Product title: 3/4 in. x 10 ft. Copper Pipe"));
        assert!(user.contains(&format!("[{}]", rules[0].0)));
        assert!(user.contains("The correct grade is L2"));
        assert!(user.contains("L1 = irrelevant"));
    }

    #[test]
    fn batches_run_through_generate_deterministically() {
        let s = GradeScale::default();
        let batch: Vec<(Item, Grade)> = [
            ("white vanity", "36 in. Vanity in White"),
            ("ryobi drill", "DEWALT 20-Volt Drill"),
            ("angle bracket", "Simpson Strong-Tie 12-Gauge Angle"),
        ]
        .iter()
        .map(|(q, t)| (item(q, t), s.best()))
        .collect();
        let mut a = fixture_teacher(6);
        let va = a.write_batch(&batch).unwrap();
        assert_eq!(va.len(), 3);
        assert_eq!(a.last_answers().len(), 3);
        assert!(a.generated_tokens() > 0 && a.generated_tokens() <= 18);
        // Random weights: nothing follows the format, so every answer is rejected.
        assert!(va.iter().all(|v| !v.is_kept()));
        for ans in a.last_answers() {
            assert!(ans.starts_with("1. Query understanding:"));
        }
        let mut b = fixture_teacher(6);
        assert_eq!(b.write_batch(&batch).unwrap(), va);
        assert_eq!(b.write(&batch[1].0, s.best()).unwrap(), va[1]);
        // The fixture checkpoint's 256 positions cannot hold the prompt: a typed rejection
        // per item, nothing generated.
        let model = load_pretrained(&fixtures().join("models/llama"), &Default::default()).unwrap();
        let tok = TaoTokenizer::from_pretrained(&fixtures().join("tokenizers/smollm2")).unwrap();
        let cfg = LlmTeacherConfig {
            max_new_tokens: 4,
            ..Default::default()
        };
        let mut small =
            LlmTeacher::from_parts(model, tok, RuleBook::default_rules(), s.clone(), cfg).unwrap();
        let v = small.write_batch(&batch).unwrap();
        assert!(v.iter().all(|v| matches!(
            v.rejection(),
            Some(RejectReason::PromptTooLong { context: 256, tokens }) if *tokens > 256
        )));
        assert_eq!(small.generated_tokens(), 0);
        let other = GradeScale::new(["a", "b", "c", "d", "e"]).unwrap();
        assert!(matches!(
            b.write(&batch[0].0, other.best()),
            Err(Error::Input(_))
        ));
    }
}
