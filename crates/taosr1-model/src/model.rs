//! The decoder-only transformer: RMSNorm, rotary positions (Hugging Face "rotate half" layout),
//! grouped-query attention, SwiGLU MLP, tied or untied LM head, KV-cache incremental decoding.

use burn::module::Module;
use burn::nn::{
    Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig, RmsNorm, RmsNormConfig,
};
use burn::tensor::activation::{log_softmax, silu};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use crate::{ModelConfig, ModelError};

/// Additive attention bias for masked positions. Finite (not `-inf`) so a fully masked row (a
/// padding query) yields a uniform distribution instead of NaN.
const MASKED: f32 = -1.0e9;

/// Self-attention with rotary positions and grouped-query key/value heads.
#[derive(Module, Debug)]
pub struct Attention {
    /// Query projection, `hidden -> heads * head_dim`.
    pub q_proj: Linear,
    /// Key projection, `hidden -> kv_heads * head_dim`.
    pub k_proj: Linear,
    /// Value projection, `hidden -> kv_heads * head_dim`.
    pub v_proj: Linear,
    /// Output projection, `heads * head_dim -> hidden`.
    pub o_proj: Linear,
    /// RMSNorm over each query head before the rotary positions (Qwen3 only).
    pub q_norm: Option<RmsNorm>,
    /// RMSNorm over each key head before the rotary positions (Qwen3 only).
    pub k_norm: Option<RmsNorm>,
    n_heads: usize,
    n_kv_heads: usize,
    head_dim: usize,
}

/// SwiGLU feed-forward block: `down(silu(gate(x)) * up(x))`.
#[derive(Module, Debug)]
pub struct Mlp {
    /// Gate projection.
    pub gate_proj: Linear,
    /// Up projection.
    pub up_proj: Linear,
    /// Down projection.
    pub down_proj: Linear,
}

/// One pre-norm decoder block.
#[derive(Module, Debug)]
pub struct DecoderLayer {
    /// Norm before attention.
    pub input_layernorm: RmsNorm,
    /// Attention.
    pub self_attn: Attention,
    /// Norm before the MLP.
    pub post_attention_layernorm: RmsNorm,
    /// Feed-forward block.
    pub mlp: Mlp,
}

/// The causal language model.
///
/// ```
/// use burn::tensor::{Int, Tensor};
/// use taosr1_model::{ModelConfig, Transformer};
///
/// let device = Default::default();
/// let model = Transformer::new(&ModelConfig::tiny(50), &device).unwrap();
/// let ids = Tensor::<2, Int>::from_ints([[1, 2, 3]], &device);
/// let logits = model.forward(ids);
/// assert_eq!(logits.dims(), [1, 3, 50]);
/// ```
#[derive(Module, Debug)]
pub struct Transformer {
    /// Token embeddings `[vocab, hidden]`.
    pub embed_tokens: Embedding,
    /// Decoder blocks.
    pub layers: Vec<DecoderLayer>,
    /// Final norm.
    pub norm: RmsNorm,
    /// Untied LM head (`None` when tied to the embeddings).
    pub lm_head: Option<Linear>,
    vocab_size: usize,
    /// Rotary inverse frequencies (`head_dim / 2`), scaling included.
    #[module(skip)]
    inv_freq: Vec<f32>,
    max_positions: usize,
}

/// Initialises every parameter it visits (burn initialises random weights lazily).
struct Initialise;

impl burn::module::ModuleVisitor for Initialise {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// The ids of `vocab` as a column index for `Tensor::select`.
fn vocab_cols(vocab: &[u32], device: &Device) -> Tensor<1, Int> {
    let ids: Vec<i64> = vocab.iter().map(|id| *id as i64).collect();
    Tensor::from_data(TensorData::new(ids, [vocab.len()]), device)
}

/// `[batch, t]` log-probabilities of `input_ids`' tokens `start..t` under `logits`
/// (`[batch, t - start, vocab]`, the positions `start - 1..t - 1` that predict them), with
/// zeros before `start`.
fn pick_logprobs(
    logits: Tensor<3>,
    input_ids: Tensor<2, Int>,
    start: usize,
    among: Option<&[u32]>,
) -> Tensor<2> {
    let [b, t] = input_ids.dims();
    let device = input_ids.device();
    let n = t - start;
    let targets = input_ids.slice([0..b, start..t]);
    let picked = match among {
        None => log_softmax(logits, 2)
            .gather(2, targets.reshape([b, n, 1]))
            .reshape([b, n]),
        Some(vocab) => {
            let k = vocab.len();
            let cols = vocab_cols(vocab, &device);
            // where each target sits among `vocab` (no column when it is not there)
            let hit = targets
                .reshape([b, n, 1])
                .expand([b, n, k])
                .equal(cols.clone().reshape([1, 1, k]).expand([b, n, k]))
                .float();
            // log-probabilities are <= 0: the minimum over the hit columns is the target's
            // (repeated ids have equal columns), and 0 where nothing is hit
            (log_softmax(logits.select(2, cols), 2) * hit)
                .min_dim(2)
                .reshape([b, n])
        }
    };
    Tensor::cat(vec![Tensor::zeros([b, start], &device), picked], 1)
}

/// Keys and values of every layer for the tokens decoded so far.
///
/// ```
/// let cache = taosr1_model::KvCache::new(2);
/// assert_eq!(cache.len(), 0);
/// ```
#[derive(Clone, Debug)]
pub struct KvCache {
    layers: Vec<Option<(Tensor<4>, Tensor<4>)>>,
    len: usize,
}

impl KvCache {
    /// An empty cache for a model with `n_layers` blocks.
    pub fn new(n_layers: usize) -> Self {
        Self {
            layers: vec![None; n_layers],
            len: 0,
        }
    }

    /// Number of positions cached.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is cached yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The cache of a single sequence repeated for a batch of `n` rows, to continue one shared
    /// prefix with `n` different suffixes (see [`crate::SharedPrefix`]).
    ///
    /// # Errors
    /// [`ModelError::Input`] when the cache holds more than one row or `n` is 0.
    ///
    /// ```
    /// let cache = taosr1_model::KvCache::new(2);
    /// assert_eq!(cache.repeat_batch(4).unwrap().len(), 0);
    /// assert!(cache.repeat_batch(0).is_err());
    /// ```
    pub fn repeat_batch(&self, n: usize) -> Result<KvCache, ModelError> {
        if n == 0 {
            return Err(ModelError::Input("cannot repeat a cache for 0 rows".into()));
        }
        let layers = self
            .layers
            .iter()
            .map(|slot| match slot {
                None => Ok(None),
                Some((k, v)) if k.dims()[0] == 1 => Ok(Some((
                    k.clone().repeat_dim(0, n),
                    v.clone().repeat_dim(0, n),
                ))),
                Some((k, _)) => Err(ModelError::Input(format!(
                    "only a one-row cache can be repeated, this one has {} rows",
                    k.dims()[0]
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(KvCache {
            layers,
            len: self.len,
        })
    }
}

/// Inputs of one incremental forward step.
#[derive(Clone, Debug)]
pub struct StepInput {
    /// New tokens `[batch, t]`.
    pub input_ids: Tensor<2, Int>,
    /// Rotary position of each new token `[batch, t]` (per row, so left padding is supported).
    pub positions: Tensor<2, Int>,
    /// Which keys may be attended `[batch, cached + t]` (`true` = real token). `None` = all.
    pub key_mask: Option<Tensor<2, Bool>>,
}

fn linear(d_in: usize, d_out: usize, bias: bool, device: &Device) -> Linear {
    LinearConfig::new(d_in, d_out).with_bias(bias).init(device)
}

fn rms(cfg: &ModelConfig, width: usize, device: &Device) -> RmsNorm {
    RmsNormConfig::new(width)
        .with_epsilon(cfg.rms_norm_eps)
        .init(device)
}

/// Cos/sin tables `[batch, 1, t, head_dim]` for the given positions, Hugging Face layout
/// (frequencies repeated over the two halves of the head).
fn rope_tables(positions: Tensor<2, Int>, inv_freq: &[f32]) -> (Tensor<4>, Tensor<4>) {
    let [b, t] = positions.dims();
    let half = inv_freq.len();
    let device = positions.device();
    let inv = Tensor::<1>::from_data(TensorData::new(inv_freq.to_vec(), [half]), &device)
        .reshape([1, 1, half])
        .expand([b, t, half]);
    let pos = positions.float().reshape([b, t, 1]).expand([b, t, half]);
    let freqs = pos * inv;
    let emb = Tensor::cat(vec![freqs.clone(), freqs], 2);
    (
        emb.clone().cos().unsqueeze_dim(1),
        emb.sin().unsqueeze_dim(1),
    )
}

fn apply_rope(x: Tensor<4>, cos: &Tensor<4>, sin: &Tensor<4>) -> Tensor<4> {
    let [b, h, t, d] = x.dims();
    let x1 = x.clone().slice([0..b, 0..h, 0..t, 0..d / 2]);
    let x2 = x.clone().slice([0..b, 0..h, 0..t, d / 2..d]);
    let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
    x * cos.clone().expand([b, h, t, d]) + rotated * sin.clone().expand([b, h, t, d])
}

/// A linear layer on `[b, t, in]` as one `[b * t, in] x [in, out]` matrix product. burn's
/// `Linear::forward` broadcasts the weight over the batch and runs one product per row, which
/// reads every weight `b` times: at batch 8 a decode step was 5x slower than at batch 1.
fn dense(layer: &Linear, x: Tensor<3>) -> Tensor<3> {
    let [b, t, d] = x.dims();
    let w = layer.weight.val();
    let out = w.dims()[1];
    let y = x.reshape([b * t, d]).matmul(w);
    let y = match &layer.bias {
        Some(bias) => y + bias.val().unsqueeze_dim(0),
        None => y,
    };
    y.reshape([b, t, out])
}

impl Attention {
    fn new(cfg: &ModelConfig, device: &Device) -> Self {
        let hd = cfg.head_dim();
        let h = cfg.hidden_size;
        Self {
            q_proj: linear(h, cfg.num_attention_heads * hd, cfg.attention_bias, device),
            k_proj: linear(h, cfg.num_key_value_heads * hd, cfg.attention_bias, device),
            v_proj: linear(h, cfg.num_key_value_heads * hd, cfg.attention_bias, device),
            o_proj: linear(cfg.num_attention_heads * hd, h, false, device),
            q_norm: cfg.architecture.has_qk_norm().then(|| rms(cfg, hd, device)),
            k_norm: cfg.architecture.has_qk_norm().then(|| rms(cfg, hd, device)),
            n_heads: cfg.num_attention_heads,
            n_kv_heads: cfg.num_key_value_heads,
            head_dim: hd,
        }
    }

    fn forward(
        &self,
        x: Tensor<3>,
        rope: &(Tensor<4>, Tensor<4>),
        bias: &Tensor<4>,
        cache: Option<&mut Option<(Tensor<4>, Tensor<4>)>>,
    ) -> Tensor<3> {
        let [b, t, _] = x.dims();
        let (nh, nkv, hd) = (self.n_heads, self.n_kv_heads, self.head_dim);
        let q = dense(&self.q_proj, x.clone()).reshape([b, t, nh, hd]);
        let q = match &self.q_norm {
            Some(norm) => norm.forward(q),
            None => q,
        }
        .swap_dims(1, 2);
        let k = dense(&self.k_proj, x.clone()).reshape([b, t, nkv, hd]);
        let k = match &self.k_norm {
            Some(norm) => norm.forward(k),
            None => k,
        }
        .swap_dims(1, 2);
        let v = dense(&self.v_proj, x)
            .reshape([b, t, nkv, hd])
            .swap_dims(1, 2);
        let q = apply_rope(q, &rope.0, &rope.1);
        let k = apply_rope(k, &rope.0, &rope.1);
        let (k, v) = match cache {
            Some(slot) => {
                let (k, v) = match slot.take() {
                    Some((pk, pv)) => (Tensor::cat(vec![pk, k], 2), Tensor::cat(vec![pv, v], 2)),
                    None => (k, v),
                };
                *slot = Some((k.clone(), v.clone()));
                (k, v)
            }
            None => (k, v),
        };
        let total = k.dims()[2];
        // Grouped-query attention without copying keys and values per query head: the `rep`
        // query heads that share a key/value head are stacked along the query axis, so the
        // product runs against the `nkv` cached heads as they are (query head `i` reads key
        // head `i / rep`, as transformers' repeat_kv). Only the small query and bias tensors
        // are rearranged.
        let rep = nh / nkv;
        let q = q.reshape([b, nkv, rep * t, hd]);
        let bias = if rep == 1 {
            bias.clone().expand([b, nkv, t, total])
        } else {
            bias.clone()
                .unsqueeze_dim::<5>(2)
                .expand([b, 1, rep, t, total])
                .reshape([b, 1, rep * t, total])
                .expand([b, nkv, rep * t, total])
        };
        // burn's fused scaled-dot-product attention (1/sqrt(head_dim) scale); the additive
        // bias carries the causal and padding masks. Autodiff differentiates its decomposed
        // form.
        let out = attention(q, k, v, None, Some(bias), AttentionModuleOptions::default())
            .reshape([b, nh, t, hd]);
        dense(&self.o_proj, out.swap_dims(1, 2).reshape([b, t, nh * hd]))
    }
}

impl Mlp {
    fn new(cfg: &ModelConfig, device: &Device) -> Self {
        Self {
            gate_proj: linear(cfg.hidden_size, cfg.intermediate_size, false, device),
            up_proj: linear(cfg.hidden_size, cfg.intermediate_size, false, device),
            down_proj: linear(cfg.intermediate_size, cfg.hidden_size, false, device),
        }
    }

    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let gate = silu(dense(&self.gate_proj, x.clone()));
        dense(&self.down_proj, gate * dense(&self.up_proj, x))
    }
}

impl Transformer {
    /// A randomly initialised model (burn's default initialisers, deterministic under
    /// `B::seed`).
    pub fn new(cfg: &ModelConfig, device: &Device) -> Result<Self, ModelError> {
        cfg.validate()?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|_| DecoderLayer {
                input_layernorm: rms(cfg, cfg.hidden_size, device),
                self_attn: Attention::new(cfg, device),
                post_attention_layernorm: rms(cfg, cfg.hidden_size, device),
                mlp: Mlp::new(cfg, device),
            })
            .collect();
        Ok(Self {
            embed_tokens: EmbeddingConfig::new(cfg.vocab_size, cfg.hidden_size)
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: cfg.initializer_range,
                })
                .init(device),
            layers,
            norm: rms(cfg, cfg.hidden_size, device),
            lm_head: (!cfg.tie_word_embeddings)
                .then(|| linear(cfg.hidden_size, cfg.vocab_size, false, device)),
            vocab_size: cfg.vocab_size,
            inv_freq: cfg.rope_inv_freq(),
            max_positions: cfg.max_position_embeddings,
        })
    }

    /// The context length (`max_position_embeddings`): incremental decoding refuses to go
    /// past it.
    ///
    /// ```
    /// let m = taosr1_model::Transformer::new(&taosr1_model::ModelConfig::tiny(20), &Default::default()).unwrap();
    /// assert_eq!(m.max_positions(), 160);
    /// ```
    pub fn max_positions(&self) -> usize {
        self.max_positions
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// The model with the vocabulary rows `first..first + pieces.len()` (re)initialised for
    /// new tokens, the vocabulary grown to hold them when they run past its end. Row
    /// `first + i` of the embedding (and of an untied LM head) becomes the mean of the rows of
    /// `pieces[i]`: the ids the new token's text was split into before it became one token, so
    /// `<answer>` starts as the average of `<`, `answer` and `>` and a grade label `L3` near
    /// `L` and `3`. An empty entry becomes the mean of the rows below `first` (transformers'
    /// `resize_token_embeddings(mean_resizing=True)` uses that mean for every new row). Rows
    /// at `first..` that already exist are the spare rows of a padded vocabulary (Qwen's
    /// embedding has 151 936 rows for 151 665 tokens); rows past the new ones are kept.
    ///
    /// # Errors
    /// [`ModelError::Config`] when `first` is past `vocab_size()`, or an id of `pieces` is
    /// not below `first` (a new token cannot start from another new one).
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use taosr1_model::{ModelConfig, Transformer};
    /// let device = Default::default();
    /// let model = Transformer::new(&ModelConfig::tiny(20), &device).unwrap();
    /// let bigger = model.clone().init_token_rows(20, &[vec![3, 5], vec![]]).unwrap();
    /// assert_eq!(bigger.vocab_size(), 22);
    /// let w = bigger.embed_tokens.weight.val();
    /// let mean = (w.clone().slice([3..4]) + w.clone().slice([5..6])) / 2.0;
    /// assert!((w.clone().slice([20..21]) - mean).abs().max().into_scalar::<f32>() < 1e-6);
    /// // the old tokens' logits are unchanged
    /// let ids = Tensor::<2, Int>::from_ints([[1, 2]], &device);
    /// let (a, b) = (model.forward(ids.clone()), bigger.forward(ids).slice([0..1, 0..2, 0..20]));
    /// assert!((a - b).abs().max().into_scalar::<f32>() < 1e-6);
    /// // spare rows of a padded vocabulary are reused: nothing grows
    /// assert_eq!(model.clone().init_token_rows(18, &[vec![1]]).unwrap().vocab_size(), 20);
    /// assert!(model.init_token_rows(18, &[vec![18]]).is_err());
    /// ```
    pub fn init_token_rows(
        mut self,
        first: usize,
        pieces: &[Vec<u32>],
    ) -> Result<Self, ModelError> {
        let old = self.vocab_size;
        if first > old {
            return Err(ModelError::Config(format!(
                "init_token_rows: the first new row {first} is past the vocabulary of {old}"
            )));
        }
        if let Some(bad) = pieces.iter().flatten().find(|&&id| id as usize >= first) {
            return Err(ModelError::Config(format!(
                "init_token_rows: a new token starts from id {bad}, which is not an old token \
                 (below {first})"
            )));
        }
        if pieces.is_empty() {
            return Ok(self);
        }
        let end = first + pieces.len();
        // `rows` is `[vocab, d]`; new row i is the mean of the listed rows
        let rebuild = |rows: Tensor<2>| -> Tensor<2> {
            let device = rows.device();
            let [_, d] = rows.dims();
            let known = rows.clone().slice([0..first, 0..d]);
            let mut parts: Vec<Tensor<2>> = vec![known.clone()];
            for ids in pieces {
                parts.push(if ids.is_empty() {
                    known.clone().mean_dim(0)
                } else {
                    let idx = Tensor::<1, Int>::from_data(
                        TensorData::new(
                            ids.iter().map(|&i| i64::from(i)).collect::<Vec<_>>(),
                            [ids.len()],
                        ),
                        &device,
                    );
                    known.clone().select(0, idx).mean_dim(0)
                });
            }
            if end < old {
                parts.push(rows.slice([end..old, 0..d]));
            }
            Tensor::cat(parts, 0)
        };
        let emb = self.embed_tokens.weight.val();
        self.embed_tokens.weight = burn::module::Param::from_tensor(rebuild(emb).detach());
        if let Some(head) = self.lm_head.as_mut() {
            // burn's Linear stores `[in, out]`: the vocabulary is the second dimension. The
            // grown `[vocab, in]` matrix is transposed on the host so the parameter stays
            // contiguous (a transposed view would be copied on every forward).
            let w = rebuild(head.weight.val().transpose()).detach();
            let [v, d] = w.dims();
            let device = w.device();
            let rows = w
                .into_data()
                .try_to_vec::<f32>()
                .map_err(|e| ModelError::Config(format!("init_token_rows: {e:?}")))?;
            let data = TensorData::new(crate::weights::transpose_host(&rows, v, d), [d, v]);
            head.weight = burn::module::Param::from_tensor(Tensor::from_data(data, &device));
        }
        self.vocab_size = old.max(end);
        Ok(self)
    }

    /// Number of decoder blocks.
    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// Partial fine-tuning: the token embeddings and the first `k` decoder blocks stop taking
    /// gradients (burn's [`Module::freeze`]). Their activations are then not tracked, so the
    /// backward pass stops at block `k` and costs only the blocks above it. `k = 0` changes
    /// nothing. With a tied head the embedding matrix is also the output matrix, so it stays
    /// fixed too; untie first ([`with_output_rows`](Self::with_output_rows)) to train it.
    ///
    /// ```
    /// use burn::module::{Module, ModuleVisitor, Param};
    /// use burn::tensor::Tensor;
    /// use taosr1_model::{ModelConfig, Transformer};
    /// struct Count(usize, usize);
    /// impl ModuleVisitor for Count {
    ///     fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
    ///         if p.is_require_grad() { self.0 += 1 } else { self.1 += 1 }
    ///     }
    /// }
    /// let device = burn::tensor::Device::default().autodiff();
    /// let model = Transformer::new(&ModelConfig::tiny(20), &device).unwrap();
    /// let n = model.num_layers();
    /// let frozen = model.clone().freeze_layers(n).unwrap();
    /// // a clone is frozen on its own: the original still trains
    /// assert!(model.layers[0].mlp.up_proj.weight.is_require_grad());
    /// let mut c = Count(0, 0);
    /// frozen.visit(&mut c);
    /// assert_eq!(c.0, 1); // only the final norm trains (the head is tied to the embeddings)
    /// assert!(frozen.freeze_layers(n + 1).is_err());
    /// ```
    ///
    /// # Errors
    /// [`ModelError::Input`] when `k` is more than the number of blocks.
    pub fn freeze_layers(self, k: usize) -> Result<Self, ModelError> {
        self.set_layers_frozen(k, true)
    }

    /// Undoes [`freeze_layers`](Self::freeze_layers) for the same `k`: the embeddings and the
    /// first `k` blocks take gradients again.
    ///
    /// ```
    /// use taosr1_model::{ModelConfig, Transformer};
    /// let device = burn::tensor::Device::default().autodiff();
    /// let model = Transformer::new(&ModelConfig::tiny(20), &device).unwrap();
    /// let back = model.freeze_layers(1).unwrap().unfreeze_layers(1).unwrap();
    /// assert!(back.layers[0].mlp.up_proj.weight.is_require_grad());
    /// ```
    ///
    /// # Errors
    /// [`ModelError::Input`] when `k` is more than the number of blocks.
    pub fn unfreeze_layers(self, k: usize) -> Result<Self, ModelError> {
        self.set_layers_frozen(k, false)
    }

    fn set_layers_frozen(mut self, k: usize, frozen: bool) -> Result<Self, ModelError> {
        let n = self.layers.len();
        if k > n {
            return Err(ModelError::Input(format!(
                "cannot freeze {k} layers: the model has {n}"
            )));
        }
        if k == 0 {
            return Ok(self);
        }
        // burn keeps a lazily initialised parameter's gradient setting in the state its clones
        // share: initialise first, so freezing this model leaves its clones alone
        self.embed_tokens.visit(&mut Initialise);
        for layer in &self.layers[..k] {
            layer.visit(&mut Initialise);
        }
        self.embed_tokens = if frozen {
            self.embed_tokens.freeze()
        } else {
            self.embed_tokens.unfreeze()
        };
        let layers = std::mem::take(&mut self.layers);
        self.layers = layers
            .into_iter()
            .enumerate()
            .map(|(i, l)| match (i < k, frozen) {
                (false, _) => l,
                (true, true) => l.freeze(),
                (true, false) => l.unfreeze(),
            })
            .collect();
        Ok(self)
    }

    /// The output-embedding rows of `ids` (`[hidden]` each): the vectors whose dot product
    /// with the final hidden state is each token's logit (the embedding rows when tied).
    ///
    /// ```
    /// use taosr1_model::{ModelConfig, Transformer};
    /// let model = Transformer::new(&ModelConfig::tiny(20), &Default::default()).unwrap();
    /// let rows = model.output_rows(&[3, 7]).unwrap();
    /// assert_eq!((rows.len(), rows[0].len()), (2, ModelConfig::tiny(20).hidden_size));
    /// assert!(model.output_rows(&[20]).is_err());
    /// ```
    ///
    /// # Errors
    /// [`ModelError::Input`] for an id outside the vocabulary.
    pub fn output_rows(&self, ids: &[u32]) -> Result<Vec<Vec<f32>>, ModelError> {
        let matrix = self.output_matrix_host()?;
        let d = matrix.len() / self.vocab_size;
        ids.iter()
            .map(|&id| {
                let i = self.check_id(id)?;
                Ok(matrix[i * d..(i + 1) * d].to_vec())
            })
            .collect()
    }

    /// The model with the output-embedding rows of `ids` replaced by `rows` (`[hidden]`
    /// each), every other weight unchanged. A tied model is untied first (it gets an LM head
    /// equal to its embeddings): the input embeddings of `ids` stay as they were, so the
    /// hidden states do not move and the new logits are exactly `rows · hidden`. Save it with
    /// `tie_word_embeddings = false` ([`is_tied`](Self::is_tied)).
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use taosr1_model::{ModelConfig, Transformer};
    /// let device = Default::default();
    /// let model = Transformer::new(&ModelConfig::tiny(20), &device).unwrap();
    /// assert!(model.is_tied());
    /// let row = vec![0.5f32; ModelConfig::tiny(20).hidden_size];
    /// let new = model.clone().with_output_rows(&[4], &[row]).unwrap();
    /// assert!(!new.is_tied());
    /// let ids = Tensor::<2, Int>::from_ints([[1, 4, 2]], &device);
    /// let (a, b) = (model.forward(ids.clone()), new.forward(ids));
    /// // other tokens' logits are unchanged, token 4's is new
    /// let others = |t: Tensor<3>| t.slice([0..1, 0..3, 0..4]);
    /// assert!((others(a.clone()) - others(b.clone())).abs().max().into_scalar::<f32>() < 1e-6);
    /// assert!((a.slice([0..1, 0..3, 4..5]) - b.slice([0..1, 0..3, 4..5])).abs().max().into_scalar::<f32>() > 1e-3);
    /// ```
    ///
    /// # Errors
    /// [`ModelError::Input`] for an id outside the vocabulary, a row of the wrong length, a
    /// non-finite value, or `ids` and `rows` of different lengths.
    pub fn with_output_rows(mut self, ids: &[u32], rows: &[Vec<f32>]) -> Result<Self, ModelError> {
        if ids.len() != rows.len() {
            return Err(ModelError::Input(format!(
                "with_output_rows: {} ids but {} rows",
                ids.len(),
                rows.len()
            )));
        }
        let mut matrix = self.output_matrix_host()?; // [vocab, d], row-major
        let (v, d) = (self.vocab_size, matrix.len() / self.vocab_size);
        for (&id, row) in ids.iter().zip(rows) {
            let i = self.check_id(id)?;
            if row.len() != d || row.iter().any(|x| !x.is_finite()) {
                return Err(ModelError::Input(format!(
                    "with_output_rows: the row of token {id} must be {d} finite values"
                )));
            }
            matrix[i * d..(i + 1) * d].copy_from_slice(row);
        }
        let device = self.embed_tokens.weight.device();
        // burn's Linear stores `[in, out]`
        let data = TensorData::new(crate::weights::transpose_host(&matrix, v, d), [d, v]);
        let mut head = linear(d, v, false, &device);
        head.weight = burn::module::Param::from_tensor(Tensor::from_data(data, &device));
        self.lm_head = Some(head);
        Ok(self)
    }

    /// Whether the LM head is the token embedding matrix (`tie_word_embeddings`).
    ///
    /// ```
    /// let m = taosr1_model::Transformer::new(&taosr1_model::ModelConfig::tiny(20), &Default::default()).unwrap();
    /// assert!(m.is_tied());
    /// ```
    pub fn is_tied(&self) -> bool {
        self.lm_head.is_none()
    }

    fn check_id(&self, id: u32) -> Result<usize, ModelError> {
        let i = id as usize;
        if i >= self.vocab_size {
            return Err(ModelError::Input(format!(
                "token {id} is outside the vocabulary of {}",
                self.vocab_size
            )));
        }
        Ok(i)
    }

    /// The output matrix `[vocab, hidden]` on the host, row-major.
    fn output_matrix_host(&self) -> Result<Vec<f32>, ModelError> {
        let w = match &self.lm_head {
            Some(head) => head.weight.val().transpose(),
            None => self.embed_tokens.weight.val(),
        };
        w.into_data()
            .try_to_vec_as::<f32>()
            .map_err(|e| ModelError::Input(format!("reading the output matrix: {e:?}")))
    }

    /// Logits `[batch, t, vocab]` of a full causal pass over `input_ids` `[batch, t]`.
    ///
    /// Right padding needs no mask: causal attention never lets a real token see the padding
    /// after it; the caller masks padded positions out of the loss.
    pub fn forward(&self, input_ids: Tensor<2, Int>) -> Tensor<3> {
        self.project(self.hidden_full(input_ids))
    }

    /// Logits `[batch, positions.len(), vocab]` of a full causal pass, computed only at
    /// `positions` (the LM head is the largest matrix of a small model: a loss on the last
    /// 32 tokens of 128 needs a quarter of its work). Positions past the end are clipped.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use taosr1_model::{ModelConfig, Transformer};
    /// let device = Default::default();
    /// let model = Transformer::new(&ModelConfig::tiny(50), &device).unwrap();
    /// let ids = Tensor::<2, Int>::from_ints([[1, 2, 3, 4]], &device);
    /// let all = model.forward(ids.clone()).slice([0..1, 2..4, 0..50]);
    /// let some = model.forward_positions(ids, 2..4);
    /// assert_eq!(some.dims(), [1, 2, 50]);
    /// assert!(all.sub(some).abs().max().into_scalar::<f32>() < 1e-5);
    /// ```
    pub fn forward_positions(
        &self,
        input_ids: Tensor<2, Int>,
        positions: std::ops::Range<usize>,
    ) -> Tensor<3> {
        let [b, t] = input_ids.dims();
        let hidden = self.hidden_full(input_ids);
        let end = positions.end.min(t);
        let start = positions.start.min(end);
        let d = hidden.dims()[2];
        self.project(hidden.slice([0..b, start..end, 0..d]))
    }

    fn hidden_full(&self, input_ids: Tensor<2, Int>) -> Tensor<3> {
        let [b, t] = input_ids.dims();
        let device = input_ids.device();
        let positions = Tensor::<1, Int>::arange(0..t as i64, &device)
            .reshape([1, t])
            .expand([b, t]);
        let mut cache = KvCache::new(0);
        self.forward_inner(input_ids, positions, None, &mut cache, false)
    }

    /// Incremental decoding: run the new tokens of `input` against `cache`, append their keys
    /// and values to it and return their logits `[batch, t, vocab]`.
    pub fn forward_step(
        &self,
        input: StepInput,
        cache: &mut KvCache,
    ) -> Result<Tensor<3>, ModelError> {
        Ok(self.project(self.step_hidden(input, cache)?))
    }

    /// As [`forward_step`](Self::forward_step), but the logits of the last new position
    /// only, `[batch, vocab]`: what a prefill before decoding or scoring needs.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use taosr1_model::{KvCache, ModelConfig, StepInput, Transformer};
    /// let device = Default::default();
    /// let model = Transformer::new(&ModelConfig::tiny(50), &device).unwrap();
    /// let ids = Tensor::<2, Int>::from_ints([[1, 2, 3]], &device);
    /// let input = StepInput { input_ids: ids.clone(), positions: Tensor::<2, Int>::from_ints([[0, 1, 2]], &device), key_mask: None };
    /// let last = model.forward_step_last(input, &mut KvCache::new(model.num_layers())).unwrap();
    /// let full = model.forward(ids).slice([0..1, 2..3, 0..50]).reshape([1, 50]);
    /// assert!(full.sub(last).abs().max().into_scalar::<f32>() < 1e-5);
    /// ```
    pub fn forward_step_last(
        &self,
        input: StepInput,
        cache: &mut KvCache,
    ) -> Result<Tensor<2>, ModelError> {
        let hidden = self.step_hidden(input, cache)?;
        let [b, t, d] = hidden.dims();
        let last = hidden.slice([0..b, t - 1..t, 0..d]);
        Ok(self.project(last).reshape([b, self.vocab_size]))
    }

    pub(crate) fn step_hidden(
        &self,
        input: StepInput,
        cache: &mut KvCache,
    ) -> Result<Tensor<3>, ModelError> {
        let [b, t] = input.input_ids.dims();
        if b == 0 || t == 0 {
            return Err(ModelError::Input("empty batch or no new tokens".into()));
        }
        if input.positions.dims() != [b, t] {
            return Err(ModelError::Input(format!(
                "positions have shape {:?}, expected {:?}",
                input.positions.dims(),
                [b, t]
            )));
        }
        if cache.len + t > self.max_positions {
            return Err(ModelError::ContextExceeded {
                needed: cache.len + t,
                max: self.max_positions,
            });
        }
        if cache.layers.len() != self.layers.len() {
            return Err(ModelError::Input(format!(
                "cache has {} layers, model has {}",
                cache.layers.len(),
                self.layers.len()
            )));
        }
        if let Some(mask) = &input.key_mask
            && mask.dims() != [b, cache.len + t]
        {
            return Err(ModelError::Input(format!(
                "key mask has shape {:?}, expected {:?}",
                mask.dims(),
                [b, cache.len + t]
            )));
        }
        Ok(self.forward_inner(
            input.input_ids,
            input.positions,
            input.key_mask,
            cache,
            true,
        ))
    }

    fn forward_inner(
        &self,
        input_ids: Tensor<2, Int>,
        positions: Tensor<2, Int>,
        key_mask: Option<Tensor<2, Bool>>,
        cache: &mut KvCache,
        use_cache: bool,
    ) -> Tensor<3> {
        let [b, t] = input_ids.dims();
        let device = input_ids.device();
        let past = if use_cache { cache.len } else { 0 };
        let total = past + t;
        // Causal part: query i (absolute past + i) may see key j <= past + i.
        let causal: Vec<f32> = (0..t)
            .flat_map(|i| (0..total).map(move |j| if j <= past + i { 0.0 } else { MASKED }))
            .collect();
        let mut bias = Tensor::<2>::from_data(TensorData::new(causal, [t, total]), &device)
            .reshape([1, 1, t, total])
            .expand([b, 1, t, total]);
        if let Some(mask) = key_mask {
            let key_bias = Tensor::<2>::zeros([b, total], &device)
                .mask_fill(mask.bool_not(), MASKED)
                .reshape([b, 1, 1, total])
                .expand([b, 1, t, total]);
            bias = bias + key_bias;
        }
        let rope = rope_tables(positions, &self.inv_freq);
        let mut x = self.embed_tokens.forward(input_ids);
        for (i, layer) in self.layers.iter().enumerate() {
            let slot = if use_cache {
                Some(&mut cache.layers[i])
            } else {
                None
            };
            let h = layer.self_attn.forward(
                layer.input_layernorm.forward(x.clone()),
                &rope,
                &bias,
                slot,
            );
            x = x + h;
            x = x.clone() + layer.mlp.forward(layer.post_attention_layernorm.forward(x));
        }
        if use_cache {
            cache.len = total;
        }
        self.norm.forward(x)
    }

    pub(crate) fn project(&self, x: Tensor<3>) -> Tensor<3> {
        match &self.lm_head {
            Some(head) => dense(head, x),
            None => {
                let [b, t, d] = x.dims();
                let w = self.embed_tokens.weight.val(); // [vocab, d]
                x.reshape([b * t, d])
                    .matmul(w.transpose())
                    .reshape([b, t, self.vocab_size])
            }
        }
    }

    /// Per-token log-probabilities `[batch, t]`: entry `i` is `log p(ids[i] | ids[..i])`;
    /// entry 0 has no context and is `0`. Multiply by a response mask and sum to get the
    /// sequence log-probability DPO and GRPO need.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use taosr1_model::{ModelConfig, Transformer};
    /// let device = Default::default();
    /// let model = Transformer::new(&ModelConfig::tiny(20), &device).unwrap();
    /// let lp = model.token_logprobs(Tensor::<2, Int>::from_ints([[1, 5, 7]], &device));
    /// let v = lp.into_data().try_to_vec_as::<f32>().unwrap();
    /// assert_eq!(v[0], 0.0);
    /// assert!(v[1] < 0.0 && v[2] < 0.0);
    /// ```
    pub fn token_logprobs(&self, input_ids: Tensor<2, Int>) -> Tensor<2> {
        self.token_logprobs_from(input_ids, 1)
    }

    /// As [`token_logprobs`](Self::token_logprobs), but computed only for the positions
    /// `start..t` (entries before `start` are `0`): a loss on the response tokens needs the
    /// LM head only from the first response token on, which saves most of the head's work
    /// when prompts are long.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use taosr1_model::{ModelConfig, Transformer};
    /// let device = Default::default();
    /// let model = Transformer::new(&ModelConfig::tiny(20), &device).unwrap();
    /// let ids = Tensor::<2, Int>::from_ints([[1, 5, 7, 9]], &device);
    /// let all = model.token_logprobs(ids.clone()).into_data().try_to_vec_as::<f32>().unwrap();
    /// let tail = model.token_logprobs_from(ids, 2).into_data().try_to_vec_as::<f32>().unwrap();
    /// assert_eq!(&tail[..2], &[0.0, 0.0]);
    /// assert!((all[3] - tail[3]).abs() < 1e-5 && (all[2] - tail[2]).abs() < 1e-5);
    /// ```
    pub fn token_logprobs_from(&self, input_ids: Tensor<2, Int>, start: usize) -> Tensor<2> {
        let [b, t] = input_ids.dims();
        let device = input_ids.device();
        let start = start.max(1);
        if start >= t {
            return Tensor::zeros([b, t], &device);
        }
        // position p predicts token p + 1
        let logits = self.forward_positions(input_ids.clone(), start - 1..t - 1);
        pick_logprobs(logits, input_ids, start, None)
    }

    /// As [`token_logprobs_from`](Self::token_logprobs_from) for a batch whose rows all start
    /// with the same `prefix` tokens (one instruction and chat template before every item):
    /// the prefix runs once, as a batch of one, and every row continues from its keys and
    /// values. The values equal `token_logprobs_from`'s, and so do the gradients (the prefix's
    /// one pass collects the gradient of every row), while the work on the prefix is divided
    /// by the batch size. `prefix` is clipped to `start - 1`, the first position whose logits
    /// are needed; a clipped prefix of 0 is a plain pass.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use taosr1_model::{ModelConfig, Transformer};
    /// let device = Default::default();
    /// let model = Transformer::new(&ModelConfig::tiny(20), &device).unwrap();
    /// let ids = Tensor::<2, Int>::from_ints([[1, 5, 7, 9, 3], [1, 5, 7, 2, 4]], &device);
    /// let plain = model.token_logprobs_from(ids.clone(), 3);
    /// let shared = model.token_logprobs_shared(ids.clone(), 3, 3).unwrap();
    /// assert!((plain - shared).abs().max().into_scalar::<f32>() < 1e-5);
    /// // rows that do not share the prefix are refused
    /// let apart = Tensor::<2, Int>::from_ints([[1, 5, 7, 9], [1, 6, 7, 9]], &device);
    /// assert!(model.token_logprobs_shared(apart, 2, 3).is_err());
    /// ```
    ///
    /// # Errors
    /// [`ModelError::Input`] when the rows differ within the (clipped) prefix.
    pub fn token_logprobs_shared(
        &self,
        input_ids: Tensor<2, Int>,
        prefix: usize,
        start: usize,
    ) -> Result<Tensor<2>, ModelError> {
        self.logprobs_among(input_ids, prefix, start, None)
    }

    /// As [`token_logprobs_shared`](Self::token_logprobs_shared) (`prefix` 0: every row runs
    /// whole), with each position's distribution renormalised over the tokens of `vocab`: the
    /// log-probability of a classifier over those tokens, such as the grade labels the
    /// deployed model reads. Positions whose token is not in `vocab` are `0`.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use taosr1_model::{ModelConfig, Transformer};
    /// let device = Default::default();
    /// let model = Transformer::new(&ModelConfig::tiny(20), &device).unwrap();
    /// let ids = Tensor::<2, Int>::from_ints([[1, 5, 7, 9]], &device);
    /// let within = model.token_logprobs_within(ids.clone(), 0, 3, &[9, 11]).unwrap();
    /// let v = within.into_data().try_to_vec_as::<f32>().unwrap();
    /// // the same as the full distribution's log-probabilities of 9 and 11, renormalised
    /// let p9 = model.forward(Tensor::<2, Int>::from_ints([[1, 5, 7, 9]], &device))
    ///     .slice([0..1, 2..3, 0..20]).reshape([20]).into_data().to_vec::<f32>().unwrap();
    /// let want = p9[9] - (p9[9].exp() + p9[11].exp()).ln();
    /// assert!((v[3] - want).abs() < 1e-5);
    /// // a token outside `vocab` scores 0, and an id outside the vocabulary is refused
    /// let other = model.token_logprobs_within(ids.clone(), 0, 3, &[2, 3]).unwrap();
    /// assert_eq!(other.into_data().to_vec::<f32>().unwrap()[3], 0.0);
    /// assert!(model.token_logprobs_within(ids, 0, 3, &[9, 20]).is_err());
    /// ```
    ///
    /// # Errors
    /// [`ModelError::Input`] when `vocab` is empty or names an id outside the vocabulary, or
    /// as `token_logprobs_shared`.
    pub fn token_logprobs_within(
        &self,
        input_ids: Tensor<2, Int>,
        prefix: usize,
        start: usize,
        vocab: &[u32],
    ) -> Result<Tensor<2>, ModelError> {
        self.check_vocab("token_logprobs_within", vocab)?;
        self.logprobs_among(input_ids, prefix, start, Some(vocab))
    }

    /// The whole distribution over the tokens of `vocab` that each position `start..t`
    /// predicts for the next token, as log-probabilities renormalised over `vocab`: a
    /// `[batch, t, vocab.len()]` tensor whose positions before `start` are `0`. Where
    /// [`token_logprobs_within`](Self::token_logprobs_within) picks the column of the token
    /// that follows, this keeps every column, so a loss can score a soft target over the
    /// grades (as [`token_logprobs_shared`](Self::token_logprobs_shared), `prefix` runs once).
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use taosr1_model::{ModelConfig, Transformer};
    /// let device = Default::default();
    /// let model = Transformer::new(&ModelConfig::tiny(20), &device).unwrap();
    /// let ids = Tensor::<2, Int>::from_ints([[1, 5, 7, 9]], &device);
    /// let all = model.next_logprobs_within(ids.clone(), 0, 3, &[9, 11]).unwrap();
    /// assert_eq!(all.dims(), [1, 4, 2]);
    /// let v = all.into_data().to_vec::<f32>().unwrap();
    /// // position 3's first column is the picked log-probability of token 9
    /// let picked = model.token_logprobs_within(ids.clone(), 0, 3, &[9, 11]).unwrap();
    /// let p = picked.into_data().to_vec::<f32>().unwrap();
    /// assert!((v[6] - p[3]).abs() < 1e-5);
    /// // each scored position is a distribution over the two tokens; earlier ones are 0
    /// assert!((v[6].exp() + v[7].exp() - 1.0).abs() < 1e-5);
    /// assert_eq!(&v[..6], &[0.0; 6]);
    /// assert!(model.next_logprobs_within(ids, 0, 3, &[]).is_err());
    /// ```
    ///
    /// # Errors
    /// As [`token_logprobs_within`](Self::token_logprobs_within).
    pub fn next_logprobs_within(
        &self,
        input_ids: Tensor<2, Int>,
        prefix: usize,
        start: usize,
        vocab: &[u32],
    ) -> Result<Tensor<3>, ModelError> {
        self.check_vocab("next_logprobs_within", vocab)?;
        let [b, t] = input_ids.dims();
        let k = vocab.len();
        let device = input_ids.device();
        let start = start.max(1);
        if start >= t {
            return Ok(Tensor::zeros([b, t, k], &device));
        }
        let logits = self.response_logits(input_ids, prefix, start)?;
        let within = log_softmax(logits.select(2, vocab_cols(vocab, &device)), 2);
        Ok(Tensor::cat(
            vec![Tensor::zeros([b, start, k], &device), within],
            1,
        ))
    }

    /// Refuses an empty `vocab` or one naming an id outside the model's vocabulary.
    fn check_vocab(&self, what: &str, vocab: &[u32]) -> Result<(), ModelError> {
        let size = self.vocab_size();
        if vocab.is_empty() || vocab.iter().any(|id| *id as usize >= size) {
            return Err(ModelError::Input(format!(
                "{what} needs ids of the model's {size} tokens, not {vocab:?}"
            )));
        }
        Ok(())
    }

    /// [`token_logprobs_shared`](Self::token_logprobs_shared), renormalised over `among` when
    /// given ([`token_logprobs_within`](Self::token_logprobs_within)).
    fn logprobs_among(
        &self,
        input_ids: Tensor<2, Int>,
        prefix: usize,
        start: usize,
        among: Option<&[u32]>,
    ) -> Result<Tensor<2>, ModelError> {
        let [b, t] = input_ids.dims();
        let start = start.max(1);
        if start >= t {
            return Ok(Tensor::zeros([b, t], &input_ids.device()));
        }
        let logits = self.response_logits(input_ids.clone(), prefix, start)?;
        Ok(pick_logprobs(logits, input_ids, start, among))
    }

    /// Logits of positions `start - 1 .. t - 1` (`1 <= start < t`), the rows' first `prefix`
    /// tokens run once when they share them (clipped to `start - 1`; 0: a plain pass).
    fn response_logits(
        &self,
        input_ids: Tensor<2, Int>,
        prefix: usize,
        start: usize,
    ) -> Result<Tensor<3>, ModelError> {
        let [b, t] = input_ids.dims();
        let p = prefix.min(start - 1).min(t);
        if p == 0 {
            return Ok(self.forward_positions(input_ids, start - 1..t - 1));
        }
        let device = input_ids.device();
        let head = input_ids.clone().slice([0..b, 0..p]);
        let first = head.clone().slice([0..1, 0..p]);
        let same: bool = head
            .equal(first.clone().expand([b, p]))
            .all()
            .into_scalar::<bool>();
        if !same {
            return Err(ModelError::Input(format!(
                "the rows do not share their first {p} tokens"
            )));
        }
        let range = |from: usize, to: usize, rows: usize| {
            Tensor::<1, Int>::arange(from as i64..to as i64, &device)
                .reshape([1, to - from])
                .expand([rows, to - from])
        };
        let mut cache = KvCache::new(self.layers.len());
        self.forward_inner(first, range(0, p, 1), None, &mut cache, true);
        let mut cache = cache.repeat_batch(b)?;
        let tail = input_ids.slice([0..b, p..t]);
        let hidden = self.forward_inner(tail, range(p, t, b), None, &mut cache, true);
        // hidden row i is position p + i; position q predicts token q + 1
        let d = hidden.dims()[2];
        Ok(self.project(hidden.slice([0..b, start - 1 - p..t - 1 - p, 0..d])))
    }
}
