//! Batched incremental decoding with a KV cache, and token sampling (greedy, temperature,
//! nucleus/top-p) driven by a seedable RNG.
use burn::tensor::{Bool, Int, Tensor, TensorData};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::{KvCache, ModelError, StepInput, Transformer};

/// How the next token is chosen.
///
/// ```
/// let cfg = taosr1_model::SamplingConfig::greedy(16);
/// assert_eq!(cfg.temperature, 0.0);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamplingConfig {
    /// Softmax temperature; `0` means greedy (argmax).
    pub temperature: f32,
    /// Nucleus sampling: keep the smallest set of tokens whose probability reaches `top_p`.
    pub top_p: f32,
    /// Upper bound on generated tokens per row.
    pub max_new_tokens: usize,
}

impl SamplingConfig {
    /// Greedy decoding.
    pub fn greedy(max_new_tokens: usize) -> Self {
        Self {
            temperature: 0.0,
            top_p: 1.0,
            max_new_tokens,
        }
    }

    /// Stochastic decoding with the given temperature and top-p.
    pub fn sampled(temperature: f32, top_p: f32, max_new_tokens: usize) -> Self {
        Self {
            temperature,
            top_p,
            max_new_tokens,
        }
    }

    fn validate(&self) -> Result<(), ModelError> {
        if !self.temperature.is_finite() || self.temperature < 0.0 {
            return Err(ModelError::Input(format!(
                "temperature {} must be >= 0",
                self.temperature
            )));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(ModelError::Input(format!(
                "top_p {} must be in (0, 1]",
                self.top_p
            )));
        }
        Ok(())
    }
}

/// Choose a token from one row of logits.
///
/// ```
/// use rand::SeedableRng;
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let cfg = taosr1_model::SamplingConfig::greedy(1);
/// assert_eq!(taosr1_model::sample_token(&[0.1, 2.0, -1.0], &cfg, &mut rng).unwrap(), 1);
/// assert!(taosr1_model::sample_token(&[0.1, f32::NAN], &cfg, &mut rng).is_err());
/// ```
pub fn sample_token<R: Rng + ?Sized>(
    logits: &[f32],
    cfg: &SamplingConfig,
    rng: &mut R,
) -> Result<u32, ModelError> {
    cfg.validate()?;
    if logits.is_empty() {
        return Err(ModelError::Input("empty logits".into()));
    }
    if let Some(i) = logits.iter().position(|v| v.is_nan()) {
        return Err(ModelError::Input(format!("NaN logit at index {i}")));
    }
    let argmax = logits
        .iter()
        .enumerate()
        .fold(0, |best, (i, v)| if *v > logits[best] { i } else { best });
    if cfg.temperature == 0.0 {
        return Ok(argmax as u32);
    }
    let max = logits[argmax];
    let mut probs: Vec<(usize, f32)> = logits
        .iter()
        .enumerate()
        .map(|(i, v)| (i, ((v - max) / cfg.temperature).exp()))
        .collect();
    let total: f32 = probs.iter().map(|p| p.1).sum();
    probs.iter_mut().for_each(|p| p.1 /= total);
    probs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut kept = 0.0;
    let mut cut = probs.len();
    for (n, p) in probs.iter().enumerate() {
        kept += p.1;
        if kept >= cfg.top_p {
            cut = n + 1;
            break;
        }
    }
    let nucleus = &probs[..cut];
    let mass: f32 = nucleus.iter().map(|p| p.1).sum();
    let mut u = rng.random::<f32>() * mass;
    for (i, p) in nucleus {
        if u < *p {
            return Ok(*i as u32);
        }
        u -= p;
    }
    Ok(nucleus[nucleus.len() - 1].0 as u32)
}

/// A batch being decoded: left-padded prompts prefilled into a KV cache, then one token per
/// row per step. Each row keeps its own rotary positions, so padding never shifts them.
pub struct DecodeSession<'m> {
    model: &'m Transformer,
    cache: KvCache,
    key_mask: Vec<Vec<bool>>,
    next_pos: Vec<i64>,
    last_logits: Vec<Vec<f32>>,
    pad_id: u32,
}

fn host_logits(logits: Tensor<2>) -> Result<Vec<Vec<f32>>, ModelError> {
    let [_, v] = logits.dims();
    let flat = logits
        .into_data()
        .try_to_vec_as::<f32>()
        .map_err(|e| ModelError::Input(format!("reading logits: {e:?}")))?;
    Ok(flat.chunks(v).map(|c| c.to_vec()).collect())
}

impl<'m> DecodeSession<'m> {
    /// Prefill `prompts` (each non-empty, token ids < vocab) and compute the logits of the
    /// next token for every row.
    pub fn start(
        model: &'m Transformer,
        prompts: &[Vec<u32>],
        pad_id: u32,
    ) -> Result<Self, ModelError> {
        if prompts.is_empty() {
            return Err(ModelError::Input("no prompts".into()));
        }
        let vocab = model.vocab_size() as u32;
        for (i, p) in prompts.iter().enumerate() {
            if p.is_empty() {
                return Err(ModelError::Input(format!("prompt {i} is empty")));
            }
            if let Some(t) = p.iter().find(|t| **t >= vocab) {
                return Err(ModelError::Input(format!(
                    "prompt {i} has token {t} >= vocab {vocab}"
                )));
            }
        }
        let b = prompts.len();
        let len = prompts.iter().map(Vec::len).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(b * len);
        let mut pos = Vec::with_capacity(b * len);
        let mut key_mask = Vec::with_capacity(b);
        for p in prompts {
            let pad = len - p.len();
            ids.extend(std::iter::repeat_n(pad_id as i64, pad).chain(p.iter().map(|t| *t as i64)));
            pos.extend(std::iter::repeat_n(0, pad).chain(0..p.len() as i64));
            key_mask.push((0..len).map(|j| j >= pad).collect::<Vec<_>>());
        }
        let mut session = Self {
            model,
            cache: KvCache::new(model.num_layers()),
            key_mask,
            next_pos: prompts.iter().map(|p| p.len() as i64).collect(),
            last_logits: Vec::new(),
            pad_id,
        };
        let device = model.embed_tokens.weight.device();
        let input_ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [b, len]), &device);
        let positions = Tensor::<2, Int>::from_data(TensorData::new(pos, [b, len]), &device);
        session.run(input_ids, positions)?;
        Ok(session)
    }

    fn run(
        &mut self,
        input_ids: Tensor<2, Int>,
        positions: Tensor<2, Int>,
    ) -> Result<(), ModelError> {
        let b = self.key_mask.len();
        let total = self.key_mask[0].len();
        let flat: Vec<bool> = self.key_mask.iter().flatten().copied().collect();
        let device = input_ids.device();
        let key_mask = Tensor::<2, Bool>::from_data(TensorData::new(flat, [b, total]), &device);
        let logits = self.model.forward_step_last(
            StepInput {
                input_ids,
                positions,
                key_mask: Some(key_mask),
            },
            &mut self.cache,
        )?;
        self.last_logits = host_logits(logits)?;
        Ok(())
    }

    /// Logits of the next token, one row per sequence.
    pub fn last_logits(&self) -> &[Vec<f32>] {
        &self.last_logits
    }

    /// Append one token per row (`None` for a finished row: it gets padding that nobody
    /// attends to) and recompute the next-token logits.
    pub fn feed(&mut self, tokens: &[Option<u32>]) -> Result<(), ModelError> {
        let b = self.key_mask.len();
        if tokens.len() != b {
            return Err(ModelError::Input(format!(
                "fed {} tokens to a batch of {b}",
                tokens.len()
            )));
        }
        let vocab = self.model.vocab_size() as u32;
        let mut ids = Vec::with_capacity(b);
        let mut pos = Vec::with_capacity(b);
        for (row, tok) in tokens.iter().enumerate() {
            if let Some(t) = tok
                && *t >= vocab
            {
                return Err(ModelError::Input(format!("token {t} >= vocab {vocab}")));
            }
            ids.push(tok.unwrap_or(self.pad_id) as i64);
            pos.push(self.next_pos[row]);
            self.key_mask[row].push(tok.is_some());
            if tok.is_some() {
                self.next_pos[row] += 1;
            }
        }
        let device = self.model.embed_tokens.weight.device();
        let input_ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [b, 1]), &device);
        let positions = Tensor::<2, Int>::from_data(TensorData::new(pos, [b, 1]), &device);
        self.run(input_ids, positions)
    }
}

/// A prompt prefix prefilled once, continued by many suffixes: one query with many products
/// shares `<bos> query : … ; title :`, so its keys and values are computed once and every
/// product only runs its own tokens.
///
/// The suffixes of one [`last_logits`](Self::last_logits) call are right-padded into one batch
/// (a causal model never lets a real token see the padding after it) and the logits are read at
/// each suffix's last token. The result equals prefilling every `prefix + suffix` on its own.
///
/// ```
/// use taosr1_model::{DecodeSession, ModelConfig, SharedPrefix, Transformer};
/// let device = Default::default();
/// let model = Transformer::new(&ModelConfig::tiny(40), &device).unwrap();
/// let shared = SharedPrefix::new(&model, &[1, 5, 9]).unwrap();
/// let logits = shared.last_logits(&[vec![3], vec![7, 8, 2]], 0).unwrap();
/// let alone = DecodeSession::start(&model, &[vec![1, 5, 9, 7, 8, 2]], 0).unwrap();
/// let diff = logits[1].iter().zip(&alone.last_logits()[0]).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
/// assert!(diff < 1e-4, "{diff}");
/// ```
pub struct SharedPrefix<'m> {
    model: &'m Transformer,
    cache: KvCache,
}

impl<'m> SharedPrefix<'m> {
    /// Prefill `prefix` (non-empty, ids < vocab, shorter than the context).
    ///
    /// ```
    /// use taosr1_model::{ModelConfig, SharedPrefix, Transformer};
    /// let model = Transformer::new(&ModelConfig::tiny(40), &Default::default()).unwrap();
    /// assert_eq!(SharedPrefix::new(&model, &[1, 2]).unwrap().len(), 2);
    /// assert!(SharedPrefix::new(&model, &[]).is_err());
    /// assert!(SharedPrefix::new(&model, &[99]).is_err());
    /// ```
    pub fn new(model: &'m Transformer, prefix: &[u32]) -> Result<Self, ModelError> {
        if prefix.is_empty() {
            return Err(ModelError::Input("empty shared prefix".into()));
        }
        check_ids(model, prefix, "the shared prefix")?;
        let device = model.embed_tokens.weight.device();
        let p = prefix.len();
        let ids: Vec<i64> = prefix.iter().map(|t| *t as i64).collect();
        let input = StepInput {
            input_ids: Tensor::<2, Int>::from_data(TensorData::new(ids, [1, p]), &device),
            positions: Tensor::<2, Int>::from_data(
                TensorData::new((0..p as i64).collect::<Vec<_>>(), [1, p]),
                &device,
            ),
            key_mask: None,
        };
        let mut cache = KvCache::new(model.num_layers());
        model.step_hidden(input, &mut cache)?;
        Ok(Self { model, cache })
    }

    /// Tokens in the prefix.
    ///
    /// ```
    /// use taosr1_model::{ModelConfig, SharedPrefix, Transformer};
    /// let model = Transformer::new(&ModelConfig::tiny(40), &Default::default()).unwrap();
    /// assert_eq!(SharedPrefix::new(&model, &[1, 2, 3]).unwrap().len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Always `false`: a prefix has at least one token.
    ///
    /// ```
    /// use taosr1_model::{ModelConfig, SharedPrefix, Transformer};
    /// let model = Transformer::new(&ModelConfig::tiny(40), &Default::default()).unwrap();
    /// assert!(!SharedPrefix::new(&model, &[1]).unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }

    /// Next-token logits after `prefix + suffix`, one row per suffix (each non-empty).
    ///
    /// # Errors
    /// [`ModelError::Input`] for no suffix, an empty suffix or an id ≥ vocab;
    /// [`ModelError::ContextExceeded`] when prefix + the longest suffix exceeds the context.
    ///
    /// ```
    /// use taosr1_model::{ModelConfig, SharedPrefix, Transformer};
    /// let model = Transformer::new(&ModelConfig::tiny(40), &Default::default()).unwrap();
    /// let shared = SharedPrefix::new(&model, &[1, 2]).unwrap();
    /// assert_eq!(shared.last_logits(&[vec![3], vec![4, 5]], 0).unwrap()[1].len(), 40);
    /// assert!(shared.last_logits(&[vec![]], 0).is_err());
    /// ```
    pub fn last_logits(
        &self,
        suffixes: &[Vec<u32>],
        pad_id: u32,
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        if suffixes.is_empty() {
            return Err(ModelError::Input("no suffixes".into()));
        }
        for (i, s) in suffixes.iter().enumerate() {
            if s.is_empty() {
                return Err(ModelError::Input(format!("suffix {i} is empty")));
            }
            check_ids(self.model, s, &format!("suffix {i}"))?;
        }
        let m = suffixes.len();
        let width = suffixes.iter().map(Vec::len).max().unwrap_or(0);
        let p = self.cache.len() as i64;
        let mut ids = Vec::with_capacity(m * width);
        let mut pos = Vec::with_capacity(m * width);
        for s in suffixes {
            ids.extend(s.iter().map(|t| *t as i64));
            ids.extend(std::iter::repeat_n(pad_id as i64, width - s.len()));
            pos.extend(p..p + width as i64);
        }
        let device = self.model.embed_tokens.weight.device();
        let input = StepInput {
            input_ids: Tensor::<2, Int>::from_data(TensorData::new(ids, [m, width]), &device),
            positions: Tensor::<2, Int>::from_data(TensorData::new(pos, [m, width]), &device),
            key_mask: None,
        };
        let mut cache = self.cache.repeat_batch(m)?;
        let hidden = self.model.step_hidden(input, &mut cache)?; // [m, width, d]
        let d = hidden.dims()[2];
        let last: Vec<i64> = suffixes
            .iter()
            .enumerate()
            .map(|(row, s)| (row * width + s.len() - 1) as i64)
            .collect();
        let index = Tensor::<1, Int>::from_data(TensorData::new(last, [m]), &device);
        let rows = hidden
            .reshape([m * width, d])
            .select(0, index)
            .reshape([m, 1, d]);
        let logits = self
            .model
            .project(rows)
            .reshape([m, self.model.vocab_size()]);
        host_logits(logits)
    }
}

fn check_ids(model: &Transformer, ids: &[u32], what: &str) -> Result<(), ModelError> {
    let vocab = model.vocab_size() as u32;
    match ids.iter().find(|t| **t >= vocab) {
        Some(t) => Err(ModelError::Input(format!(
            "{what} has token {t} >= vocab {vocab}"
        ))),
        None => Ok(()),
    }
}

/// What one row produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generation {
    /// Generated tokens, including the stop token when one was produced.
    pub tokens: Vec<u32>,
    /// `true` when a stop token ended the row, `false` when `max_new_tokens` did.
    pub stopped: bool,
}

/// Generate continuations of `prompts` in one batch with the KV cache.
///
/// ```
/// use rand::SeedableRng;
/// use taosr1_model::{generate, ModelConfig, SamplingConfig, Transformer};
/// let device = Default::default();
/// let model = Transformer::new(&ModelConfig::tiny(30), &device).unwrap();
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
/// let out = generate(&model, &[vec![1, 2, 3], vec![4]], 0, &[], &SamplingConfig::greedy(5), &mut rng).unwrap();
/// assert_eq!(out[0].tokens.len(), 5);
/// assert!(!out[1].stopped);
/// ```
pub fn generate<R: Rng + ?Sized>(
    model: &Transformer,
    prompts: &[Vec<u32>],
    pad_id: u32,
    stop_ids: &[u32],
    cfg: &SamplingConfig,
    rng: &mut R,
) -> Result<Vec<Generation>, ModelError> {
    cfg.validate()?;
    let mut session = DecodeSession::start(model, prompts, pad_id)?;
    let mut out: Vec<Generation> = prompts
        .iter()
        .map(|_| Generation {
            tokens: Vec::new(),
            stopped: false,
        })
        .collect();
    for step in 0..cfg.max_new_tokens {
        let mut next = Vec::with_capacity(out.len());
        for (row, logits) in session.last_logits().iter().enumerate() {
            if out[row].stopped {
                next.push(None);
                continue;
            }
            let tok = sample_token(logits, cfg, rng)?;
            out[row].tokens.push(tok);
            if stop_ids.contains(&tok) {
                out[row].stopped = true;
            }
            next.push(Some(tok));
        }
        let all_done = out.iter().all(|g| g.stopped);
        if all_done || step + 1 == cfg.max_new_tokens {
            break;
        }
        session.feed(&next)?;
    }
    Ok(out)
}
