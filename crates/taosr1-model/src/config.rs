//! Model hyper-parameters.

use serde::{Deserialize, Serialize};

use crate::ModelError;

fn default_true() -> bool {
    true
}

fn default_rope_theta() -> f32 {
    10_000.0
}

fn default_eps() -> f64 {
    1e-6
}

fn default_init_range() -> f64 {
    0.02
}

/// Hyper-parameters of the decoder-only transformer.
///
/// Field names follow the Hugging Face `config.json` of Qwen2/Llama checkpoints, so a real
/// `config.json` deserialises directly (unknown fields are ignored). `attention_bias` defaults to
/// `true` because Qwen2 configs omit it and always carry q/k/v biases; Llama configs set it to
/// `false` explicitly.
///
/// ```
/// use taosr1_model::ModelConfig;
/// let cfg = ModelConfig::tiny(100);
/// assert_eq!(cfg.head_dim(), cfg.hidden_size / cfg.num_attention_heads);
/// cfg.validate().unwrap();
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
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
    /// Longest sequence the model is meant for (prompt + response).
    pub max_position_embeddings: usize,
    /// Epsilon of every RMSNorm.
    #[serde(default = "default_eps")]
    pub rms_norm_eps: f64,
    /// Base of the rotary position frequencies.
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f32,
    /// Share the embedding matrix with the LM head.
    #[serde(default = "default_true")]
    pub tie_word_embeddings: bool,
    /// Biases on the q/k/v projections (Qwen2: yes, Llama: no).
    #[serde(default = "default_true")]
    pub attention_bias: bool,
    /// Standard deviation of the normal initialisation of the token embedding (and so of a
    /// tied LM head). Hugging Face's `initializer_range`; 0.02 when absent. A unit-variance
    /// embedding tied to the head would start training with logits of standard deviation
    /// `sqrt(hidden_size)` and a needlessly large loss.
    #[serde(default = "default_init_range")]
    pub initializer_range: f64,
}

impl ModelConfig {
    /// A model small enough to train in seconds on a CPU: 2 layers, width 64, 4 query heads
    /// sharing 2 key/value heads, tied embeddings.
    ///
    /// ```
    /// let cfg = taosr1_model::ModelConfig::tiny(300);
    /// assert_eq!(cfg.num_key_value_heads, 2);
    /// ```
    pub fn tiny(vocab_size: usize) -> Self {
        Self {
            vocab_size,
            hidden_size: 64,
            intermediate_size: 128,
            num_hidden_layers: 2,
            num_attention_heads: 4,
            num_key_value_heads: 2,
            max_position_embeddings: 160,
            rms_norm_eps: 1e-6,
            rope_theta: 10_000.0,
            tie_word_embeddings: true,
            attention_bias: true,
            initializer_range: 0.02,
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
            rms_norm_eps: 1e-6,
            rope_theta: 1_000_000.0,
            tie_word_embeddings: true,
            attention_bias: true,
            initializer_range: 0.02,
        }
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads.max(1)
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
        let attn = h * nh * hd * 2 + h * nkv * hd * 2 + bias;
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
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return bad(format!(
                "hidden_size {} is not divisible by num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
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

    /// Read a Hugging Face style `config.json`.
    pub fn from_json_file(path: &std::path::Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        let cfg: Self = serde_json::from_str(&text).map_err(|e| ModelError::Json {
            path: path.display().to_string(),
            source: e,
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Write this config as JSON, atomically ([`crate::write_atomic`]).
    pub fn save_json(&self, path: &std::path::Path) -> Result<(), ModelError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| ModelError::Json {
            path: path.display().to_string(),
            source: e,
        })?;
        crate::write_atomic(path, text.as_bytes()).map_err(|e| ModelError::io(path, e))
    }
}
