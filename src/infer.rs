//! Thinking-first inference with post-CoT processing.
//!
//! For every item the model first writes its thinking (greedy or sampled, at most
//! `think_budget` tokens, stopping at `</think>`). The generated text is never trusted: the
//! answer slot is forced with [`taosr1_cot::Template::force_answer_slot`] (closing a thinking
//! part that ran past its budget), the model reads `prompt + thinking + <answer>` once more, and
//! the grade distribution is the softmax over the grade tokens only
//! ([`taosr1_partition::grade_distribution`]). The caller then takes the argmax or applies
//! the cumulative-probability [`taosr1_partition::Partitioner`].
use burn::config::Config;
use rand::Rng;
use serde::{Deserialize, Serialize};
use taosr1_cot::{Item, SlotStatus, THINK_CLOSE, THINK_OPEN};
use taosr1_model::{generate, DecodeSession, SamplingConfig, Transformer};
use taosr1_partition::{grade_distribution, GradeDistribution};

use crate::codec::Codec;
use crate::Error;

/// Inference settings (a burn [`Config`]: `InferConfig::new()`, `with_*`, JSON save/load).
///
/// ```
/// let cfg = taosr1::infer::InferConfig::new().with_batch_size(16);
/// assert_eq!((cfg.think_budget, cfg.batch_size, cfg.temperature), (48, 16, 0.0));
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct InferConfig {
    /// Most tokens the thinking part may take before the answer slot is forced.
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
}

impl Default for InferConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// The outcome for one item.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// Thinking text (between the tags).
    pub thinking: String,
    /// What post-CoT processing had to do.
    pub slot: SlotStatus,
    /// Probabilities of the grades at the answer slot (renormalised over grade tokens).
    pub distribution: GradeDistribution,
    /// Tokens generated for this item (thinking + the grade).
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

/// Predict grade distributions for `items`, batch by batch.
///
/// The thinking budget is capped so that prompt + thinking + answer slot fits the model's
/// context; an item whose prompt alone leaves less than [`SLOT_RESERVE`] positions is an
/// [`Error::Input`] naming it (nothing is truncated silently).
pub fn predict<R: Rng + ?Sized>(
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
/// reference, the grade probabilities and the (post-processed) rationale.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    /// The item's id.
    pub id: String,
    /// Grade label decided by the cumulative-probability partition.
    pub grade: String,
    /// Continuous relevance score in `[0, 1]` (for ranking).
    pub score: f32,
    /// Grade label of the argmax of the distribution.
    pub argmax_grade: String,
    /// Probabilities of the grades, worst first.
    pub probs: Vec<f32>,
    /// The thinking text.
    pub rationale: String,
    /// What post-CoT processing did (`answer_present`, `thinking_closed`, …).
    pub slot: SlotStatus,
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
        })
    }
}
