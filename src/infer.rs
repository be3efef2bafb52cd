//! Inference in either response order.
//!
//! **Label-first** (post-CoT, the deployment default): the grade is the first token after
//! `prompt <answer>`, so an item is scored by one prefill and no sampling — the grade
//! distribution is the softmax over the grade tokens at that position
//! ([`taosr1_partition::grade_distribution`]). Items are batched by length, and items whose
//! prompts share a prefix (one query, many products) prefill that prefix once
//! ([`taosr1_model::SharedPrefix`]). The rationale is written only on request ([`explain`]),
//! after the label, so it can never change it.
//!
//! **Think-first** (kept for comparison): the model first writes its thinking (greedy or
//! sampled, at most `think_budget` tokens, stopping at `</think>`). The generated text is never
//! trusted: the answer slot is forced with [`taosr1_cot::Template::force_answer_slot`] (closing a
//! thinking part that ran past its budget), the model reads `prompt + thinking + <answer>` once
//! more, and the grade distribution is read there.
//!
//! The caller then takes the argmax or applies the cumulative-probability
//! [`taosr1_partition::Partitioner`] / [`taosr1_partition::CumPt`].
use burn::config::Config;
use rand::Rng;
use serde::{Deserialize, Serialize};
use taosr1_cot::{Grade, Item, ResponseOrder, SlotStatus, THINK_CLOSE, THINK_OPEN};
use taosr1_model::{generate, DecodeSession, SamplingConfig, SharedPrefix, Transformer};
use taosr1_partition::{grade_distribution, GradeDistribution};

use crate::codec::Codec;
use crate::Error;

/// Inference settings (a burn [`Config`]: `InferConfig::new()`, `with_*`, JSON save/load).
///
/// ```
/// let cfg = taosr1::infer::InferConfig::new().with_batch_size(16);
/// assert_eq!((cfg.think_budget, cfg.batch_size, cfg.temperature), (48, 16, 0.0));
/// assert!(cfg.prefix_reuse);
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct InferConfig {
    /// Most tokens the thinking part (think-first) or the rationale ([`explain`]) may take.
    #[config(default = 48)]
    pub think_budget: usize,
    /// Items decoded together.
    #[config(default = 64)]
    pub batch_size: usize,
    /// Temperature of the thinking part (`0` = greedy).
    #[config(default = 0.0)]
    pub temperature: f32,
    /// Top-p of the thinking part.
    #[config(default = 1.0)]
    pub top_p: f32,
    /// Label-first: prefill a prompt prefix shared by several items (one query, many
    /// products) once. It pays on the CPU (4.56× for 64 products in SmolLM2's shapes), but on
    /// an H100 at that size scoring is launch-bound and reuse measured 0.68× (RESULTS.md): turn
    /// it off there.
    #[config(default = true)]
    pub prefix_reuse: bool,
}

impl Default for InferConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// The outcome for one item.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// Thinking text (between the tags); empty for label-first scoring.
    pub thinking: String,
    /// What post-CoT processing had to do.
    pub slot: SlotStatus,
    /// Probabilities of the grades at the answer slot (renormalised over grade tokens).
    pub distribution: GradeDistribution,
    /// Tokens generated for this item (thinking + the grade; 0 for label-first scoring,
    /// which reads the grade without decoding).
    pub generated_tokens: usize,
    /// Share of the prompt's tokens the tokenizer does not know ([`Codec::unknown_share`]).
    pub unknown_share: f32,
}

fn thinking_of(slot_text: &str) -> String {
    let body = slot_text.strip_prefix(THINK_OPEN).unwrap_or(slot_text);
    let body = body.split(THINK_CLOSE).next().unwrap_or("");
    body.trim().to_string()
}

/// Positions kept free after the prompt for the forced answer slot (closing tags, `<answer>`,
/// the grade) and one thinking token.
pub const SLOT_RESERVE: usize = 8;

/// Predict grade distributions for `items` in the codec's response order: label-first items
/// are scored by [`score_label_first`] (one prefill, `rng` unused), think-first items by
/// [`predict_think_first`].
pub fn predict<R: Rng + ?Sized>(
    model: &Transformer,
    codec: &Codec,
    items: &[Item],
    cfg: &InferConfig,
    rng: &mut R,
) -> Result<Vec<Prediction>, Error> {
    match codec.template().order() {
        ResponseOrder::LabelFirst => score_label_first(model, codec, items, cfg),
        ResponseOrder::ThinkFirst => predict_think_first(model, codec, items, cfg, rng),
    }
}

/// Label-first scoring: one forward pass per item, no sampling. Each item's
/// `prompt <answer>` ([`Codec::label_slot_ids`]) is prefilled and the grade distribution read
/// at its last position. Items are sorted by length and batched `cfg.batch_size` at a time
/// (little padding); with `cfg.prefix_reuse`, items of the same query prefill their common
/// prompt prefix once ([`SharedPrefix`]). Predictions come back in input order.
///
/// # Errors
/// [`Error::Input`] naming the item when its `prompt <answer>` does not fit the model's
/// context (nothing is truncated), or for a zero batch size.
///
/// ```
/// use taosr1::infer::{score_label_first, InferConfig};
/// use taosr1_model::{ModelConfig, Transformer};
/// let codec = taosr1::assets::load_codec().unwrap();
/// let items: Vec<_> = taosr1::assets::load_split(taosr1::assets::Split::Test).unwrap()
///     .iter().take(6).map(|e| e.item()).collect();
/// let model = Transformer::new(&ModelConfig::tiny(codec.tokenizer().vocab_size()), &Default::default()).unwrap();
/// let shared = score_label_first(&model, &codec, &items, &InferConfig::new()).unwrap();
/// let alone = score_label_first(&model, &codec, &items, &InferConfig::new().with_prefix_reuse(false).with_batch_size(1)).unwrap();
/// for (a, b) in shared.iter().zip(&alone) {
///     for (p, q) in a.distribution.probs().iter().zip(b.distribution.probs()) {
///         assert!((p - q).abs() < 1e-4);
///     }
///     assert_eq!(a.generated_tokens, 0);
/// }
/// ```
pub fn score_label_first(
    model: &Transformer,
    codec: &Codec,
    items: &[Item],
    cfg: &InferConfig,
) -> Result<Vec<Prediction>, Error> {
    let (seqs, logits) = label_slot_logits(model, codec, items, cfg)?;
    seqs.iter()
        .zip(logits)
        .map(|(seq, row)| {
            Ok(Prediction {
                thinking: String::new(),
                slot: SlotStatus::LabelFirst,
                distribution: grade_distribution(&row, codec.grade_ids())?,
                generated_tokens: 0,
                unknown_share: codec.unknown_share(&seq[..seq.len() - 1]),
            })
        })
        .collect()
}

/// The full next-token logits (`[vocab]` each) at every item's label position: what
/// [`score_label_first`] reads the grade distribution from, with the same batching and
/// prefix reuse. Being `W · h` for the final hidden state `h`, they are also features that
/// a linear read-out of the label position can be fitted on ([`crate::probe`]).
///
/// # Errors
/// As [`score_label_first`].
///
/// ```
/// use taosr1::infer::{label_logits, score_label_first, InferConfig};
/// use taosr1_model::{ModelConfig, Transformer};
/// let codec = taosr1::assets::load_codec().unwrap();
/// let items: Vec<_> = taosr1::assets::load_split(taosr1::assets::Split::Test).unwrap()
///     .iter().take(3).map(|e| e.item()).collect();
/// let model = Transformer::new(&ModelConfig::tiny(codec.tokenizer().vocab_size()), &Default::default()).unwrap();
/// let rows = label_logits(&model, &codec, &items, &InferConfig::new()).unwrap();
/// let preds = score_label_first(&model, &codec, &items, &InferConfig::new()).unwrap();
/// assert_eq!((rows.len(), rows[0].len()), (3, model.vocab_size()));
/// let again = taosr1_partition::grade_distribution(&rows[0], codec.grade_ids()).unwrap();
/// assert_eq!(again.probs(), preds[0].distribution.probs());
/// ```
pub fn label_logits(
    model: &Transformer,
    codec: &Codec,
    items: &[Item],
    cfg: &InferConfig,
) -> Result<Vec<Vec<f32>>, Error> {
    Ok(label_slot_logits(model, codec, items, cfg)?.1)
}

/// Each item's `prompt <answer>` ids, and the logits at its last position.
type SlotLogits = (Vec<Vec<u32>>, Vec<Vec<f32>>);

fn label_slot_logits(
    model: &Transformer,
    codec: &Codec,
    items: &[Item],
    cfg: &InferConfig,
) -> Result<SlotLogits, Error> {
    if cfg.batch_size == 0 {
        return Err(Error::Input("batch_size must be positive".into()));
    }
    let context = model.max_positions();
    let seqs = items
        .iter()
        .map(|item| {
            let ids = codec.label_slot_ids(item)?;
            if ids.len() > context {
                return Err(Error::Input(format!(
                    "item {}: the prompt and the answer tag take {} tokens, but the model's \
                     context is {context} tokens",
                    item.id,
                    ids.len()
                )));
            }
            Ok(ids)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let pad = codec.tokenizer().pad_id();
    let mut logits: Vec<Option<Vec<f32>>> = vec![None; items.len()];
    let mut alone: Vec<usize> = Vec::new();
    for group in query_groups(items, cfg.prefix_reuse) {
        // the prefix every member shares, leaving each at least one token of its own
        let shortest = group.iter().map(|&i| seqs[i].len()).min().unwrap_or(0);
        let common = group[1..].iter().fold(shortest - 1, |n, &i| {
            n.min(common_prefix(&seqs[group[0]], &seqs[i]))
        });
        if group.len() < 2 || common < 2 {
            alone.extend(group);
            continue;
        }
        let shared = SharedPrefix::new(model, &seqs[group[0]][..common])?;
        let mut members = group;
        members.sort_by_key(|&i| seqs[i].len());
        for chunk in members.chunks(cfg.batch_size) {
            let suffixes: Vec<Vec<u32>> =
                chunk.iter().map(|&i| seqs[i][common..].to_vec()).collect();
            for (&i, row) in chunk.iter().zip(shared.last_logits(&suffixes, pad)?) {
                logits[i] = Some(row);
            }
        }
    }
    alone.sort_by_key(|&i| seqs[i].len());
    for chunk in alone.chunks(cfg.batch_size) {
        let batch: Vec<Vec<u32>> = chunk.iter().map(|&i| seqs[i].clone()).collect();
        let session = DecodeSession::start(model, &batch, pad)?;
        for (&i, row) in chunk.iter().zip(session.last_logits()) {
            logits[i] = Some(row.clone());
        }
    }
    let logits = logits
        .into_iter()
        .map(|row| row.ok_or_else(|| Error::Input("an item was not scored".into())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((seqs, logits))
}

/// Indices of `items` grouped by query (first appearance order); every item alone when
/// `reuse` is off.
fn query_groups(items: &[Item], reuse: bool) -> Vec<Vec<usize>> {
    if !reuse {
        return (0..items.len()).map(|i| vec![i]).collect();
    }
    crate::eval::group_by_query(items.iter().map(|item| item.query.as_str()))
}

fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// The rationale of a label-first model for each item, written *after* the given grade: the
/// model reads `prompt <answer> G </answer> <think>` and continues greedily until `</think>`
/// (at most `cfg.think_budget` tokens, capped to the context). The grade is an input, so the
/// rationale can never change the label. Batches of `cfg.batch_size`.
///
/// # Errors
/// [`Error::Input`] when `items` and `grades` differ in length, for a think-first codec (its
/// rationale is part of [`predict`]), or when an item leaves no room for a rationale.
///
/// ```
/// use taosr1::infer::{explain, InferConfig};
/// use taosr1_model::{ModelConfig, Transformer};
/// let codec = taosr1::assets::load_codec().unwrap();
/// let ex = &taosr1::assets::load_split(taosr1::assets::Split::Test).unwrap()[0];
/// let model = Transformer::new(&ModelConfig::tiny(codec.tokenizer().vocab_size()), &Default::default()).unwrap();
/// let why = explain(&model, &codec, &[ex.item()], &[ex.grade], &InferConfig::new().with_think_budget(4)).unwrap();
/// assert_eq!(why.len(), 1);
/// assert!(explain(&model, &codec, &[ex.item()], &[], &InferConfig::new()).is_err());
/// ```
pub fn explain(
    model: &Transformer,
    codec: &Codec,
    items: &[Item],
    grades: &[Grade],
    cfg: &InferConfig,
) -> Result<Vec<String>, Error> {
    if items.len() != grades.len() {
        return Err(Error::Input(format!(
            "{} items but {} grades to explain",
            items.len(),
            grades.len()
        )));
    }
    if codec.template().order() != ResponseOrder::LabelFirst {
        return Err(Error::Input(
            "explain writes the rationale after the label: it needs a label-first codec".into(),
        ));
    }
    if cfg.batch_size == 0 {
        return Err(Error::Input("batch_size must be positive".into()));
    }
    let tok = codec.tokenizer();
    let mut stops = vec![codec.think_close_id()];
    stops.extend_from_slice(tok.eos_ids());
    let context = model.max_positions();
    let mut out = Vec::with_capacity(items.len());
    // greedy decoding never draws from it
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
    let pairs: Vec<(&Item, &Grade)> = items.iter().zip(grades).collect();
    for chunk in pairs.chunks(cfg.batch_size) {
        let seqs = chunk
            .iter()
            .map(|(item, grade)| {
                let mut ids = codec.prompt_ids(item)?;
                ids.extend(codec.text_ids(&codec.template().label_head(**grade))?);
                if ids.len() >= context {
                    return Err(Error::Input(format!(
                        "item {}: {} tokens before the rationale leave no room in the model's \
                         context of {context}",
                        item.id,
                        ids.len()
                    )));
                }
                Ok(ids)
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let longest = seqs.iter().map(Vec::len).max().unwrap_or(0);
        let budget = cfg.think_budget.min(context - longest).max(1);
        let gens = generate(
            model,
            &seqs,
            tok.pad_id(),
            &stops,
            &SamplingConfig::greedy(budget),
            &mut rng,
        )?;
        for g in gens {
            let text = codec.decode(&g.tokens)?;
            out.push(
                text.split(THINK_CLOSE)
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string(),
            );
        }
    }
    Ok(out)
}

/// Think-first prediction, batch by batch: generate the thinking, force the answer slot,
/// prefill `prompt + thinking + <answer>` and read the grade distribution.
///
/// The thinking budget is capped so that prompt + thinking + answer slot fits the model's
/// context; an item whose prompt alone leaves less than [`SLOT_RESERVE`] positions is an
/// [`Error::Input`] naming it (nothing is truncated silently).
pub fn predict_think_first<R: Rng + ?Sized>(
    model: &Transformer,
    codec: &Codec,
    items: &[Item],
    cfg: &InferConfig,
    rng: &mut R,
) -> Result<Vec<Prediction>, Error> {
    if cfg.batch_size == 0 {
        return Err(Error::Input("batch_size must be positive".into()));
    }
    let tok = codec.tokenizer();
    let mut stops = vec![
        codec.think_close_id(),
        codec.answer_open_id(),
        codec.answer_close_id(),
    ];
    stops.extend_from_slice(tok.eos_ids());
    let mut out = Vec::with_capacity(items.len());
    let context = model.max_positions();
    for chunk in items.chunks(cfg.batch_size) {
        let prompts = chunk
            .iter()
            .map(|i| codec.prompt_ids(i))
            .collect::<Result<Vec<_>, _>>()?;
        // Length policy: a prompt must leave room for the forced answer slot; the thinking
        // budget shrinks to what the context has left (never past it).
        let longest = prompts.iter().map(Vec::len).max().unwrap_or(0);
        if let Some((item, p)) = chunk
            .iter()
            .zip(&prompts)
            .find(|(_, p)| p.len() + SLOT_RESERVE > context)
        {
            return Err(Error::Input(format!(
                "item {}: the prompt has {} tokens and the answer slot needs {SLOT_RESERVE} more, \
                 but the model's context is {context} tokens",
                item.id,
                p.len()
            )));
        }
        let budget = cfg
            .think_budget
            .min(context - longest - SLOT_RESERVE)
            .max(1);
        let sampling = SamplingConfig::sampled(cfg.temperature, cfg.top_p, budget);
        let gens = generate(model, &prompts, tok.pad_id(), &stops, &sampling, rng)?;
        let mut slots = Vec::with_capacity(chunk.len());
        let mut seqs = Vec::with_capacity(chunk.len());
        for (prompt, g) in prompts.iter().zip(&gens) {
            let slot = codec
                .template()
                .force_answer_slot(&codec.decode(&g.tokens)?);
            let mut seq = prompt.clone();
            seq.extend(codec.text_ids(&slot.text)?);
            seqs.push(seq);
            slots.push((slot, g.tokens.len(), codec.unknown_share(prompt)));
        }
        let session = DecodeSession::start(model, &seqs, tok.pad_id())?;
        for ((slot, n, unknown_share), logits) in slots.into_iter().zip(session.last_logits()) {
            out.push(Prediction {
                thinking: thinking_of(&slot.text),
                slot: slot.status,
                distribution: grade_distribution(logits, codec.grade_ids())?,
                generated_tokens: n + 1,
                unknown_share,
            });
        }
    }
    Ok(out)
}

/// One line of deployment output: the partition grade and score, the argmax grade for
/// reference, the grade probabilities, the rationale (empty for a label-first model unless
/// explained) and, when asked for, the CumPT tier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    /// The item's id.
    pub id: String,
    /// Grade label decided by the partitioner's rule (cumulative thresholds or cuts on the
    /// expected grade, [`taosr1_partition::Rule`]).
    pub grade: String,
    /// Continuous relevance score in `[0, 1]` (for ranking).
    pub score: f32,
    /// Grade label of the argmax of the distribution.
    pub argmax_grade: String,
    /// Probabilities of the grades, worst first.
    pub probs: Vec<f32>,
    /// The thinking text.
    pub rationale: String,
    /// What post-CoT processing did (`answer_present`, `thinking_closed`, …; `label_first`
    /// for one-prefill scoring).
    pub slot: SlotStatus,
    /// Online tier of the distribution under CumPT ([`Scored::with_tier`]), when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
}

impl Scored {
    /// Apply `partitioner` to a prediction of the item with id `id`.
    pub fn new(
        id: &str,
        prediction: &Prediction,
        partitioner: &taosr1_partition::Partitioner,
        codec: &Codec,
    ) -> Result<Self, Error> {
        let labels = codec.template().scale().labels();
        let part = partitioner.partition(&prediction.distribution)?;
        Ok(Self {
            id: id.to_string(),
            grade: labels[part.grade].clone(),
            score: part.score,
            argmax_grade: labels[prediction.distribution.argmax()].clone(),
            probs: prediction.distribution.probs().to_vec(),
            rationale: prediction.thinking.clone(),
            slot: prediction.slot,
            tier: None,
        })
    }

    /// The same record with the CumPT tier of `prediction`'s distribution.
    pub fn with_tier(
        mut self,
        prediction: &Prediction,
        cumpt: &taosr1_partition::CumPt,
    ) -> Result<Self, Error> {
        self.tier = Some(cumpt.tier_name(&prediction.distribution)?.to_string());
        Ok(self)
    }
}
