//! Model hyper-parameters, read from and written as a Hugging Face `config.json`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::ModelError;

/// The model families whose checkpoints load as they are.
///
/// | family | `model_type` | `architectures[0]` | q/k/v bias | q/k RMSNorm |
/// |---|---|---|---|---|
/// | [`Qwen2`](Self::Qwen2) (Qwen2, Qwen2.5) | `qwen2` | `Qwen2ForCausalLM` | always | no |
/// | [`Qwen3`](Self::Qwen3) | `qwen3` | `Qwen3ForCausalLM` | `attention_bias` (default no) | yes |
/// | [`Llama`](Self::Llama) (Llama 2/3, SmolLM2) | `llama` | `LlamaForCausalLM` | `attention_bias` (default no) | no |
///
/// ```
/// use taosr1_model::Architecture;
/// assert_eq!(Architecture::from_model_type("qwen3"), Some(Architecture::Qwen3));
/// assert_eq!(Architecture::Llama.class_name(), "LlamaForCausalLM");
/// assert_eq!(Architecture::from_model_type("mistral"), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Architecture {
    /// Qwen2 / Qwen2.5: q/k/v biases, no q/k norm.
    Qwen2,
    /// Qwen3: RMSNorm over each query and key head before the rotary positions; explicit
    /// `head_dim`.
    Qwen3,
    /// Llama 2/3 and Llama-shaped models such as SmolLM2.
    Llama,
}

impl Architecture {
    /// The `model_type` string of `config.json`.
    ///
    /// ```
    /// assert_eq!(taosr1_model::Architecture::Qwen2.model_type(), "qwen2");
    /// ```
    pub fn model_type(self) -> &'static str {
        match self {
            Self::Qwen2 => "qwen2",
            Self::Qwen3 => "qwen3",
            Self::Llama => "llama",
        }
    }

    /// The transformers class name listed in `architectures`.
    ///
    /// ```
    /// assert_eq!(taosr1_model::Architecture::Qwen3.class_name(), "Qwen3ForCausalLM");
    /// ```
    pub fn class_name(self) -> &'static str {
        match self {
            Self::Qwen2 => "Qwen2ForCausalLM",
            Self::Qwen3 => "Qwen3ForCausalLM",
            Self::Llama => "LlamaForCausalLM",
        }
    }

    /// The family of a `model_type` string, if supported.
    ///
    /// ```
    /// assert!(taosr1_model::Architecture::from_model_type("llama").is_some());
    /// ```
    pub fn from_model_type(model_type: &str) -> Option<Self> {
        [Self::Qwen2, Self::Qwen3, Self::Llama]
            .into_iter()
            .find(|a| a.model_type() == model_type)
    }

    /// The family of a transformers class name, if supported.
    ///
    /// ```
    /// use taosr1_model::Architecture;
    /// assert_eq!(Architecture::from_class_name("Qwen2ForCausalLM"), Some(Architecture::Qwen2));
    /// ```
    pub fn from_class_name(class: &str) -> Option<Self> {
        [Self::Qwen2, Self::Qwen3, Self::Llama]
            .into_iter()
            .find(|a| a.class_name() == class)
    }

    /// Whether each query and key head goes through its own RMSNorm (Qwen3).
    ///
    /// ```
    /// assert!(taosr1_model::Architecture::Qwen3.has_qk_norm());
    /// ```
    pub fn has_qk_norm(self) -> bool {
        self == Self::Qwen3
    }
}

/// How the rotary frequencies are derived from the base (`rope_type`).
///
/// ```
/// use taosr1_model::RopeScaling;
/// let f = RopeScaling::Default.inv_freq(10_000.0, 4);
/// assert_eq!(f, vec![1.0, 0.01]);
/// let l = RopeScaling::Linear { factor: 2.0 }.inv_freq(10_000.0, 4);
/// assert_eq!(l, vec![0.5, 0.005]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RopeScaling {
    /// `rope_type: "default"`: `inv_freq[i] = base^(-2i/d)`.
    Default,
    /// `rope_type: "linear"`: every frequency divided by `factor`.
    Linear {
        /// Position interpolation factor.
        factor: f32,
    },
    /// `rope_type: "llama3"` (Llama 3.1+): low frequencies divided by `factor`, high ones
    /// kept, a smooth ramp between.
    Llama3 {
        /// Scale of the low frequencies.
        factor: f32,
        /// Wavelengths longer than `original / low_freq_factor` are scaled fully.
        low_freq_factor: f32,
        /// Wavelengths shorter than `original / high_freq_factor` are kept.
        high_freq_factor: f32,
        /// Context length of the original pre-training.
        original_max_position_embeddings: usize,
    },
}

impl RopeScaling {
    /// The `head_dim / 2` inverse frequencies, computed in f32 as transformers does.
    ///
    /// ```
    /// use taosr1_model::RopeScaling;
    /// let s = RopeScaling::Llama3 { factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0,
    ///     original_max_position_embeddings: 8192 };
    /// let f = s.inv_freq(500_000.0, 64);
    /// assert_eq!(f[0], 1.0); // highest frequency kept
    /// assert!((f[31] - RopeScaling::Default.inv_freq(500_000.0, 64)[31] / 8.0).abs() < 1e-12);
    /// ```
    pub fn inv_freq(&self, base: f32, head_dim: usize) -> Vec<f32> {
        let half = head_dim / 2;
        let plain: Vec<f32> = (0..half)
            .map(|i| 1.0 / base.powf((2 * i) as f32 / head_dim as f32))
            .collect();
        match *self {
            Self::Default => plain,
            Self::Linear { factor } => plain.into_iter().map(|f| f / factor).collect(),
            Self::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max_position_embeddings,
            } => {
                let old = original_max_position_embeddings as f32;
                let low_wavelen = old / low_freq_factor;
                let high_wavelen = old / high_freq_factor;
                plain
                    .into_iter()
                    .map(|f| {
                        let wavelen = 2.0 * std::f32::consts::PI / f;
                        let scaled = if wavelen > low_wavelen { f / factor } else { f };
                        let medium = (high_wavelen..=low_wavelen).contains(&wavelen);
                        if medium {
                            let smooth = (old / wavelen - low_freq_factor)
                                / (high_freq_factor - low_freq_factor);
                            (1.0 - smooth) * scaled / factor + smooth * scaled
                        } else {
                            scaled
                        }
                    })
                    .collect()
            }
        }
    }
}

fn default_init_range() -> f64 {
    0.02
}

/// Hyper-parameters of the decoder-only transformer.
///
/// Reads the `config.json` of a Qwen2/Qwen2.5, Qwen3 or Llama-family (Llama 2/3, SmolLM2)
/// checkpoint written by either transformers generation: 4.x puts `rope_theta` and
/// `rope_scaling` at the top level, 5.x nests them in `rope_parameters`. Every setting that
/// changes the computation and is not implemented (sliding-window attention, an MLP bias, an
/// activation other than SiLU, a RoPE type other than default/linear/llama3, an unknown
/// architecture) is a typed [`ModelError::Unsupported`], never silently defaulted. It is
/// written back in the transformers-5 format.
///
/// ```
/// use taosr1_model::{Architecture, ModelConfig};
/// let cfg = ModelConfig::from_hf_json(r#"{
///     "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": 100,
///     "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
///     "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32,
///     "max_position_embeddings": 256, "rms_norm_eps": 1e-6,
///     "rope_parameters": {"rope_theta": 1000000.0, "rope_type": "default"},
///     "tie_word_embeddings": true }"#, "config.json").unwrap();
/// assert_eq!(cfg.architecture, Architecture::Qwen3);
/// assert_eq!(cfg.head_dim(), 32);
/// assert_eq!(cfg.rope_theta, 1e6);
/// assert!(!cfg.attention_bias);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
    /// Model family.
    pub architecture: Architecture,
    /// Vocabulary size (rows of the embedding matrix).
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the SwiGLU hidden layer.
    pub intermediate_size: usize,
    /// Number of decoder blocks.
    pub num_hidden_layers: usize,
    /// Number of query heads.
    pub num_attention_heads: usize,
    /// Number of key/value heads (grouped-query attention); must divide `num_attention_heads`.
    pub num_key_value_heads: usize,
    /// Width of one attention head when it is not `hidden_size / num_attention_heads`
    /// (Qwen3 sets it explicitly); see [`head_dim()`](Self::head_dim).
    pub head_dim: Option<usize>,
    /// Longest sequence the model is meant for (prompt + response).
    pub max_position_embeddings: usize,
    /// Epsilon of every RMSNorm.
    pub rms_norm_eps: f64,
    /// Base of the rotary position frequencies.
    pub rope_theta: f32,
    /// How the rotary frequencies are scaled.
    pub rope_scaling: RopeScaling,
    /// Share the embedding matrix with the LM head.
    pub tie_word_embeddings: bool,
    /// Biases on the q/k/v projections (Qwen2: always; Qwen3 and Llama: `attention_bias`).
    pub attention_bias: bool,
    /// Standard deviation of the normal initialisation of the token embedding (and so of a
    /// tied LM head). Hugging Face's `initializer_range`; 0.02 when absent. A unit-variance
    /// embedding tied to the head would start training with logits of standard deviation
    /// `sqrt(hidden_size)` and a needlessly large loss.
    pub initializer_range: f64,
    /// `bos_token_id` of config.json, if any.
    pub bos_token_id: Option<u32>,
    /// `eos_token_id` of config.json (an id or a list), empty if absent.
    pub eos_token_id: Vec<u32>,
}

type Obj = Map<String, Value>;

fn bad(origin: &str, field: &str, why: impl std::fmt::Display) -> ModelError {
    ModelError::Config(format!("{origin}: field `{field}`: {why}"))
}

fn unsupported(origin: &str, field: &str, why: impl std::fmt::Display) -> ModelError {
    ModelError::Unsupported {
        file: origin.to_string(),
        field: field.to_string(),
        reason: why.to_string(),
    }
}

fn get_usize(o: &Obj, origin: &str, field: &str) -> Result<Option<usize>, ModelError> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                bad(
                    origin,
                    field,
                    format!("expected a non-negative integer, found {v}"),
                )
            }),
    }
}

fn req_usize(o: &Obj, origin: &str, field: &str) -> Result<usize, ModelError> {
    get_usize(o, origin, field)?.ok_or_else(|| bad(origin, field, "missing"))
}

fn get_f64(o: &Obj, origin: &str, field: &str) -> Result<Option<f64>, ModelError> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .map(Some)
            .ok_or_else(|| bad(origin, field, format!("expected a number, found {v}"))),
    }
}

fn get_bool(o: &Obj, origin: &str, field: &str) -> Result<Option<bool>, ModelError> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_bool()
            .map(Some)
            .ok_or_else(|| bad(origin, field, format!("expected true or false, found {v}"))),
    }
}

fn get_str<'a>(o: &'a Obj, origin: &str, field: &str) -> Result<Option<&'a str>, ModelError> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_str()
            .map(Some)
            .ok_or_else(|| bad(origin, field, format!("expected a string, found {v}"))),
    }
}

/// An id or a list of ids (`eos_token_id` may be either).
pub(crate) fn id_list(o: &Obj, origin: &str, field: &str) -> Result<Vec<u32>, ModelError> {
    let one = |v: &Value| {
        v.as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| bad(origin, field, format!("expected a token id, found {v}")))
    };
    match o.get(field) {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(items)) => items.iter().map(one).collect(),
        Some(v) => Ok(vec![one(v)?]),
    }
}

fn rope_from(
    params: &Obj,
    origin: &str,
    field: &str,
) -> Result<(Option<f64>, RopeScaling), ModelError> {
    let label = |name: &str| format!("{field}.{name}");
    let num = |name: &str| -> Result<Option<f64>, ModelError> {
        get_f64(params, origin, name).map_err(|_| bad(origin, &label(name), "expected a number"))
    };
    let theta = num("rope_theta")?;
    let kind = match (params.get("rope_type"), params.get("type")) {
        (Some(Value::String(s)), _) | (None, Some(Value::String(s))) => s.as_str(),
        (None, None) => "default",
        (Some(v), _) | (_, Some(v)) => {
            return Err(bad(
                origin,
                &label("rope_type"),
                format!("expected a string, found {v}"),
            ))
        }
    };
    let positive = |name: &str| -> Result<f32, ModelError> {
        let v = num(name)?.ok_or_else(|| {
            bad(
                origin,
                &label(name),
                format!("missing (required by rope_type `{kind}`)"),
            )
        })?;
        if !v.is_finite() || v <= 0.0 {
            return Err(bad(
                origin,
                &label(name),
                format!("must be positive, found {v}"),
            ));
        }
        Ok(v as f32)
    };
    let scaling = match kind {
        "default" => RopeScaling::Default,
        "linear" => RopeScaling::Linear {
            factor: positive("factor")?,
        },
        "llama3" => {
            let (low, high) = (positive("low_freq_factor")?, positive("high_freq_factor")?);
            if high <= low {
                return Err(bad(
                    origin,
                    &label("high_freq_factor"),
                    "must exceed low_freq_factor",
                ));
            }
            RopeScaling::Llama3 {
                factor: positive("factor")?,
                low_freq_factor: low,
                high_freq_factor: high,
                original_max_position_embeddings: positive("original_max_position_embeddings")?
                    as usize,
            }
        }
        other => {
            return Err(unsupported(
                origin,
                &label("rope_type"),
                format!("RoPE type `{other}` is not implemented (default, linear and llama3 are)"),
            ))
        }
    };
    if let Some(af) = num("attention_factor")?
        && af != 1.0
    {
        return Err(unsupported(
            origin,
            &label("attention_factor"),
            format!("{af} (only 1.0)"),
        ));
    }
    Ok((theta, scaling))
}

impl ModelConfig {
    /// A model small enough to train in seconds on a CPU: Qwen2 family, 2 layers, width 64,
    /// 4 query heads sharing 2 key/value heads, tied embeddings.
    ///
    /// ```
    /// let cfg = taosr1_model::ModelConfig::tiny(300);
    /// assert_eq!(cfg.num_key_value_heads, 2);
    /// ```
    pub fn tiny(vocab_size: usize) -> Self {
        Self {
            architecture: Architecture::Qwen2,
            vocab_size,
            hidden_size: 64,
            intermediate_size: 128,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            num_key_value_heads: 2,
            head_dim: None,
            max_position_embeddings: 160,
            rms_norm_eps: 1e-6,
            rope_theta: 10_000.0,
            rope_scaling: RopeScaling::Default,
            tie_word_embeddings: true,
            attention_bias: true,
            initializer_range: 0.02,
            bos_token_id: None,
            eos_token_id: vec![],
        }
    }

    /// The published shape of Qwen2.5-0.5B (for documentation and name-mapping tests; nothing
    /// is downloaded).
    ///
    /// ```
    /// let cfg = taosr1_model::ModelConfig::qwen2_5_0_5b();
    /// assert_eq!(cfg.head_dim(), 64);
    /// ```
    pub fn qwen2_5_0_5b() -> Self {
        Self {
            vocab_size: 151_936,
            hidden_size: 896,
            intermediate_size: 4864,
            num_hidden_layers: 24,
            num_attention_heads: 14,
            num_key_value_heads: 2,
            max_position_embeddings: 32_768,
            rope_theta: 1_000_000.0,
            bos_token_id: Some(151_643),
            eos_token_id: vec![151_645],
            ..Self::tiny(0)
        }
    }

    /// The published shape of SmolLM2-135M(-Instruct): Llama family, no attention bias, tied
    /// embeddings, RoPE base 100000.
    ///
    /// ```
    /// let cfg = taosr1_model::ModelConfig::smollm2_135m();
    /// assert_eq!(cfg.head_dim(), 64);
    /// assert_eq!(cfg.parameter_count(), 134_515_008);
    /// ```
    pub fn smollm2_135m() -> Self {
        Self {
            architecture: Architecture::Llama,
            vocab_size: 49_152,
            hidden_size: 576,
            intermediate_size: 1536,
            num_hidden_layers: 30,
            num_attention_heads: 9,
            num_key_value_heads: 3,
            max_position_embeddings: 8192,
            rms_norm_eps: 1e-5,
            rope_theta: 100_000.0,
            attention_bias: false,
            bos_token_id: Some(1),
            eos_token_id: vec![2],
            ..Self::tiny(0)
        }
    }

    /// Width of one attention head: the explicit `head_dim`, else `hidden / heads`.
    ///
    /// ```
    /// let mut cfg = taosr1_model::ModelConfig::tiny(10);
    /// assert_eq!(cfg.head_dim(), 16);
    /// cfg.head_dim = Some(32);
    /// assert_eq!(cfg.head_dim(), 32);
    /// ```
    pub fn head_dim(&self) -> usize {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads.max(1))
    }

    /// The rotary inverse frequencies of this config ([`RopeScaling::inv_freq`]).
    ///
    /// ```
    /// let cfg = taosr1_model::ModelConfig::tiny(10);
    /// assert_eq!(cfg.rope_inv_freq().len(), cfg.head_dim() / 2);
    /// ```
    pub fn rope_inv_freq(&self) -> Vec<f32> {
        self.rope_scaling.inv_freq(self.rope_theta, self.head_dim())
    }

    /// Largest context [`validate`](Self::validate) accepts (2^24 positions).
    pub const MAX_POSITIONS: usize = 1 << 24;
    /// Largest parameter count [`validate`](Self::validate) accepts (10^11, 400 GB in f32).
    pub const MAX_PARAMETERS: u128 = 100_000_000_000;

    /// Number of parameters this config describes (saturating, computed without
    /// allocating).
    ///
    /// ```
    /// use burn::module::Module;
    /// let mut cfg = taosr1_model::ModelConfig::tiny(50);
    /// let model = taosr1_model::Transformer::new(&cfg, &Default::default()).unwrap();
    /// assert_eq!(cfg.parameter_count(), model.num_params() as u128);
    /// cfg.tie_word_embeddings = false;
    /// cfg.attention_bias = false;
    /// cfg.architecture = taosr1_model::Architecture::Qwen3;
    /// cfg.head_dim = Some(32);
    /// let model = taosr1_model::Transformer::new(&cfg, &Default::default()).unwrap();
    /// assert_eq!(cfg.parameter_count(), model.num_params() as u128);
    /// ```
    pub fn parameter_count(&self) -> u128 {
        let (v, h, i) = (
            self.vocab_size as u128,
            self.hidden_size as u128,
            self.intermediate_size as u128,
        );
        let hd = self.head_dim() as u128;
        let (nh, nkv) = (
            self.num_attention_heads as u128,
            self.num_key_value_heads as u128,
        );
        let bias = if self.attention_bias {
            nh * hd + 2 * nkv * hd
        } else {
            0
        };
        let qk_norm = if self.architecture.has_qk_norm() {
            2 * hd
        } else {
            0
        };
        let attn = h * nh * hd * 2 + h * nkv * hd * 2 + bias + qk_norm;
        let layer = 2 * h + attn + 3 * h * i;
        let head = if self.tie_word_embeddings { 0 } else { v * h };
        v.saturating_mul(h)
            .saturating_add(layer.saturating_mul(self.num_hidden_layers as u128))
            .saturating_add(h)
            .saturating_add(head)
    }

    /// Check that the shapes are consistent and the sizes sane (see
    /// [`MAX_PARAMETERS`](Self::MAX_PARAMETERS)).
    ///
    /// ```
    /// let mut cfg = taosr1_model::ModelConfig::tiny(10);
    /// cfg.num_hidden_layers = 1_000_000_000_000;
    /// assert!(cfg.validate().is_err()); // refused, nothing allocated
    /// ```
    ///
    /// ```
    /// let mut cfg = taosr1_model::ModelConfig::tiny(10);
    /// cfg.num_key_value_heads = 3;
    /// assert!(cfg.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |why: String| Err(ModelError::Config(why));
        if self.vocab_size == 0 || self.hidden_size == 0 || self.intermediate_size == 0 {
            return bad("vocab_size, hidden_size and intermediate_size must be positive".into());
        }
        if self.num_attention_heads == 0 || self.num_key_value_heads == 0 {
            return bad("head counts must be positive".into());
        }
        match self.head_dim {
            Some(0) => return bad("head_dim must be positive".into()),
            Some(hd) if hd > self.hidden_size.saturating_mul(16) => {
                return bad(format!(
                    "head_dim {hd} is absurd for hidden_size {}",
                    self.hidden_size
                ))
            }
            Some(_) => {}
            None => {
                if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
                    return bad(format!(
                        "hidden_size {} is not divisible by num_attention_heads {} (and no head_dim is given)",
                        self.hidden_size, self.num_attention_heads
                    ));
                }
            }
        }
        if !self
            .num_attention_heads
            .is_multiple_of(self.num_key_value_heads)
        {
            return bad(format!(
                "num_attention_heads {} is not a multiple of num_key_value_heads {}",
                self.num_attention_heads, self.num_key_value_heads
            ));
        }
        if !self.head_dim().is_multiple_of(2) {
            return bad(format!(
                "head_dim {} must be even for rotary positions",
                self.head_dim()
            ));
        }
        if self.rms_norm_eps.is_nan()
            || self.rms_norm_eps <= 0.0
            || self.rope_theta.is_nan()
            || self.rope_theta <= 0.0
        {
            return bad("rms_norm_eps and rope_theta must be positive".into());
        }
        if !self.initializer_range.is_finite() || self.initializer_range <= 0.0 {
            return bad("initializer_range must be positive and finite".into());
        }
        // Sanity limits, checked before anything is allocated: a config with 10^12 layers or
        // a vocabulary of 10^15 is a typed error, not an allocation failure that aborts.
        if self.max_position_embeddings == 0 || self.max_position_embeddings > Self::MAX_POSITIONS {
            return bad(format!(
                "max_position_embeddings {} must be in 1..={}",
                self.max_position_embeddings,
                Self::MAX_POSITIONS
            ));
        }
        let params = self.parameter_count();
        if params > Self::MAX_PARAMETERS {
            return bad(format!(
                "{params} parameters (vocab {}, hidden {}, {} layers, intermediate {}) exceed the \
                 sanity limit of {}",
                self.vocab_size,
                self.hidden_size,
                self.num_hidden_layers,
                self.intermediate_size,
                Self::MAX_PARAMETERS
            ));
        }
        Ok(())
    }

    /// Parse a Hugging Face `config.json` text; `origin` (a file name) is used in errors.
    ///
    /// A config written by this crate before model families existed (no `model_type`, no
    /// `architectures`) reads as Qwen2 with its explicit fields, as it always did.
    ///
    /// ```
    /// use taosr1_model::{ModelConfig, ModelError};
    /// let err = ModelConfig::from_hf_json(r#"{"model_type": "gpt2"}"#, "c.json").unwrap_err();
    /// assert!(matches!(err, ModelError::Unsupported { .. }));
    /// ```
    pub fn from_hf_json(text: &str, origin: &str) -> Result<Self, ModelError> {
        let value: Value = serde_json::from_str(text).map_err(|e| ModelError::Json {
            path: origin.to_string(),
            source: e,
        })?;
        Self::from_hf_value(&value, origin)
    }

    /// As [`from_hf_json`](Self::from_hf_json), from a parsed JSON value.
    ///
    /// ```
    /// let v = serde_json::to_value(taosr1_model::ModelConfig::smollm2_135m()).unwrap();
    /// let back = taosr1_model::ModelConfig::from_hf_value(&v, "mem").unwrap();
    /// assert_eq!(back, taosr1_model::ModelConfig::smollm2_135m());
    /// ```
    pub fn from_hf_value(value: &Value, origin: &str) -> Result<Self, ModelError> {
        let o = value
            .as_object()
            .ok_or_else(|| ModelError::Config(format!("{origin}: expected a JSON object")))?;
        // The family: model_type and architectures[0] must agree when both are present.
        let by_type = match get_str(o, origin, "model_type")? {
            Some(t) => Some(Architecture::from_model_type(t).ok_or_else(|| {
                unsupported(
                    origin,
                    "model_type",
                    format!("`{t}` (supported: qwen2, qwen3, llama)"),
                )
            })?),
            None => None,
        };
        let by_class = match o.get("architectures") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => match a.first() {
                None => None,
                Some(Value::String(c)) => Some(Architecture::from_class_name(c).ok_or_else(|| {
                    unsupported(
                        origin,
                        "architectures",
                        format!("`{c}` (supported: Qwen2ForCausalLM, Qwen3ForCausalLM, LlamaForCausalLM)"),
                    )
                })?),
                Some(v) => return Err(bad(origin, "architectures", format!("expected class names, found {v}"))),
            },
            Some(v) => return Err(bad(origin, "architectures", format!("expected a list, found {v}"))),
        };
        let (architecture, legacy) = match (by_type, by_class) {
            (Some(a), Some(b)) if a != b => {
                return Err(bad(
                    origin,
                    "architectures",
                    format!(
                        "`{}` disagrees with model_type `{}`",
                        b.class_name(),
                        a.model_type()
                    ),
                ))
            }
            (Some(a), _) | (None, Some(a)) => (a, false),
            (None, None) => (Architecture::Qwen2, true),
        };
        if let Some(act) = get_str(o, origin, "hidden_act")?
            && act != "silu"
        {
            return Err(unsupported(
                origin,
                "hidden_act",
                format!("`{act}` (only silu)"),
            ));
        }
        if get_bool(o, origin, "mlp_bias")? == Some(true) {
            return Err(unsupported(
                origin,
                "mlp_bias",
                "MLP biases are not implemented",
            ));
        }
        if get_bool(o, origin, "use_sliding_window")? == Some(true) {
            return Err(unsupported(
                origin,
                "use_sliding_window",
                "sliding-window attention is not implemented",
            ));
        }
        if let Some(Value::Array(types)) = o.get("layer_types")
            && let Some(t) = types.iter().find(|t| t.as_str() != Some("full_attention"))
        {
            return Err(unsupported(
                origin,
                "layer_types",
                format!("layer type {t} (only full_attention)"),
            ));
        }
        if let Some(tp) = get_usize(o, origin, "pretraining_tp")?
            && tp > 1
        {
            return Err(unsupported(
                origin,
                "pretraining_tp",
                format!("{tp} (only 1)"),
            ));
        }
        // RoPE: transformers 5 nests it in rope_parameters; 4.x has top-level rope_theta and
        // an optional rope_scaling object.
        let top_theta = get_f64(o, origin, "rope_theta")?;
        let (theta, scaling) = match o.get("rope_parameters") {
            Some(Value::Object(p)) => {
                if matches!(p.values().next(), Some(Value::Object(_))) {
                    return Err(unsupported(
                        origin,
                        "rope_parameters",
                        "per-layer-type RoPE parameters",
                    ));
                }
                let (theta, scaling) = rope_from(p, origin, "rope_parameters")?;
                (theta.or(top_theta), scaling)
            }
            Some(Value::Null) | None => match o.get("rope_scaling") {
                Some(Value::Object(p)) => {
                    let (theta, scaling) = rope_from(p, origin, "rope_scaling")?;
                    (top_theta.or(theta), scaling)
                }
                Some(Value::Null) | None => (top_theta, RopeScaling::Default),
                Some(v) => {
                    return Err(bad(
                        origin,
                        "rope_scaling",
                        format!("expected an object, found {v}"),
                    ))
                }
            },
            Some(v) => {
                return Err(bad(
                    origin,
                    "rope_parameters",
                    format!("expected an object, found {v}"),
                ))
            }
        };
        // transformers' own defaults per family when a field is absent.
        let theta = theta.unwrap_or(10_000.0);
        // Qwen2 always carries q/k/v biases (its config has no such field); Qwen3 and Llama
        // default to none.
        let attention_bias =
            get_bool(o, origin, "attention_bias")?.unwrap_or(architecture == Architecture::Qwen2);
        let num_attention_heads = req_usize(o, origin, "num_attention_heads")?;
        let cfg = Self {
            architecture,
            vocab_size: req_usize(o, origin, "vocab_size")?,
            hidden_size: req_usize(o, origin, "hidden_size")?,
            intermediate_size: req_usize(o, origin, "intermediate_size")?,
            num_hidden_layers: req_usize(o, origin, "num_hidden_layers")?,
            num_attention_heads,
            num_key_value_heads: get_usize(o, origin, "num_key_value_heads")?
                .unwrap_or(num_attention_heads),
            head_dim: get_usize(o, origin, "head_dim")?,
            max_position_embeddings: req_usize(o, origin, "max_position_embeddings")?,
            rms_norm_eps: get_f64(o, origin, "rms_norm_eps")?.unwrap_or(1e-6),
            rope_theta: theta as f32,
            rope_scaling: scaling,
            tie_word_embeddings: get_bool(o, origin, "tie_word_embeddings")?.unwrap_or(legacy),
            attention_bias,
            initializer_range: get_f64(o, origin, "initializer_range")?
                .unwrap_or(default_init_range()),
            bos_token_id: id_list(o, origin, "bos_token_id")?.first().copied(),
            eos_token_id: id_list(o, origin, "eos_token_id")?,
        };
        // An explicit head_dim equal to hidden/heads is the same model: keep it implicit.
        let cfg = match cfg.head_dim {
            Some(hd)
                if cfg.num_attention_heads > 0
                    && cfg.hidden_size.is_multiple_of(cfg.num_attention_heads)
                    && hd == cfg.hidden_size / cfg.num_attention_heads =>
            {
                Self {
                    head_dim: None,
                    ..cfg
                }
            }
            _ => cfg,
        };
        cfg.validate().map_err(|e| match e {
            ModelError::Config(why) => ModelError::Config(format!("{origin}: {why}")),
            other => other,
        })?;
        Ok(cfg)
    }

    /// This config as a transformers-5 `config.json` value.
    ///
    /// ```
    /// let v = taosr1_model::ModelConfig::tiny(10).to_hf_value();
    /// assert_eq!(v["model_type"], "qwen2");
    /// assert_eq!(v["rope_parameters"]["rope_type"], "default");
    /// ```
    pub fn to_hf_value(&self) -> Value {
        let mut rope = json!({ "rope_theta": self.rope_theta as f64 });
        match self.rope_scaling {
            RopeScaling::Default => rope["rope_type"] = json!("default"),
            RopeScaling::Linear { factor } => {
                rope["rope_type"] = json!("linear");
                rope["factor"] = json!(factor as f64);
            }
            RopeScaling::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max_position_embeddings,
            } => {
                rope["rope_type"] = json!("llama3");
                rope["factor"] = json!(factor as f64);
                rope["low_freq_factor"] = json!(low_freq_factor as f64);
                rope["high_freq_factor"] = json!(high_freq_factor as f64);
                rope["original_max_position_embeddings"] = json!(original_max_position_embeddings);
            }
        }
        let mut v = json!({
            "architectures": [self.architecture.class_name()],
            "model_type": self.architecture.model_type(),
            "vocab_size": self.vocab_size,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim(),
            "max_position_embeddings": self.max_position_embeddings,
            "rms_norm_eps": self.rms_norm_eps,
            "rope_parameters": rope,
            "tie_word_embeddings": self.tie_word_embeddings,
            "attention_bias": self.attention_bias,
            "hidden_act": "silu",
            "initializer_range": self.initializer_range,
        });
        if let Some(b) = self.bos_token_id {
            v["bos_token_id"] = json!(b);
        }
        match self.eos_token_id.as_slice() {
            [] => {}
            [one] => v["eos_token_id"] = json!(one),
            many => v["eos_token_id"] = json!(many),
        }
        v
    }

    /// Read a Hugging Face style `config.json` ([`from_hf_json`](Self::from_hf_json)).
    pub fn from_json_file(path: &std::path::Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        Self::from_hf_json(&text, &path.display().to_string())
    }

    /// Write this config as a transformers-5 `config.json`, atomically
    /// ([`crate::write_atomic`]).
    pub fn save_json(&self, path: &std::path::Path) -> Result<(), ModelError> {
        let text =
            serde_json::to_string_pretty(&self.to_hf_value()).map_err(|e| ModelError::Json {
                path: path.display().to_string(),
                source: e,
            })?;
        crate::write_atomic(path, text.as_bytes()).map_err(|e| ModelError::io(path, e))
    }
}

impl Serialize for ModelConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_hf_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for ModelConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Self::from_hf_value(&v, "config").map_err(serde::de::Error::custom)
    }
}
