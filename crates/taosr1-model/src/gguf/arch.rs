//! From a parsed GGUF file to what a Hugging Face checkpoint folder holds: transformers
//! config, tensors under HF names and PyTorch shapes, tokenizer, special ids, chat template.

use std::path::Path;

use serde_json::{json, Value};

use super::{GgufError, GgufFile, GgufTensorInfo, GgufValue};
use crate::error::ModelError;

/// One tensor, dequantised, under its Hugging Face name.
///
/// ```
/// let model = taosr1_model::read_gguf("tests/fixtures/gguf/tiny_llama.gguf".as_ref()).unwrap();
/// let t = &model.tensors[0];
/// assert_eq!(t.name, "model.embed_tokens.weight");
/// assert_eq!(t.data.len(), t.shape.iter().product::<usize>());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// Hugging Face name (`model.layers.0.self_attn.q_proj.weight`).
    pub name: String,
    /// PyTorch shape, outermost first (`[out, in]` for a linear weight).
    pub shape: Vec<usize>,
    /// Values, row-major over `shape`.
    pub data: Vec<f32>,
}

/// Special-token ids and flags from `tokenizer.ggml.*`.
///
/// ```
/// let model = taosr1_model::read_gguf("tests/fixtures/gguf/tiny_llama.gguf".as_ref()).unwrap();
/// assert_eq!((model.special.bos, model.special.eos), (Some(1), Some(2)));
/// assert!(!model.special.add_bos);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GgufSpecials {
    /// `tokenizer.ggml.bos_token_id`.
    pub bos: Option<u32>,
    /// `tokenizer.ggml.eos_token_id`.
    pub eos: Option<u32>,
    /// `tokenizer.ggml.padding_token_id`.
    pub pad: Option<u32>,
    /// `tokenizer.ggml.unknown_token_id`.
    pub unk: Option<u32>,
    /// `tokenizer.ggml.add_bos_token` (false when absent).
    pub add_bos: bool,
    /// `tokenizer.ggml.add_eos_token` (false when absent).
    pub add_eos: bool,
}

/// A GGUF checkpoint converted to the Hugging Face layout.
///
/// ```
/// let model = taosr1_model::read_gguf("tests/fixtures/gguf/tiny_llama.gguf".as_ref()).unwrap();
/// assert_eq!(model.config["architectures"][0], "LlamaForCausalLM");
/// assert_eq!(model.config["tie_word_embeddings"], false); // the fixture has `output.weight`
/// assert!(model.tensor("lm_head.weight").is_some());
/// assert!(model.chat_template.unwrap().contains("<|im_start|>"));
/// ```
#[derive(Debug, Clone)]
pub struct GgufModel {
    /// `general.architecture` (`llama`, `qwen2`, `qwen3`).
    pub arch: String,
    /// The transformers `config.json` this checkpoint would ship with (transformers-5 format:
    /// `rope_parameters`, `head_dim`, token ids...).
    pub config: Value,
    /// Every tensor under its HF name, in file order; `lm_head.weight` only when the file has
    /// an `output.weight` (else `tie_word_embeddings` is true).
    pub tensors: Vec<NamedTensor>,
    /// Byte-level BPE tokenizer rebuilt from the vocabulary, merges and token types.
    pub tokenizer: tokenizers::Tokenizer,
    /// Special-token ids.
    pub special: GgufSpecials,
    /// `tokenizer.chat_template`.
    pub chat_template: Option<String>,
}

impl GgufModel {
    /// The tensor with this Hugging Face name.
    ///
    /// ```
    /// let model = taosr1_model::read_gguf("tests/fixtures/gguf/tiny_llama.gguf".as_ref()).unwrap();
    /// let norm = model.tensor("model.norm.weight").unwrap();
    /// assert_eq!(norm.shape.len(), 1);
    /// ```
    pub fn tensor(&self, name: &str) -> Option<&NamedTensor> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// Converts a parsed file: dequantises every tensor, renames and reshapes it to the Hugging
    /// Face layout (undoing llama.cpp's Q/K row permutation for `llama`), and builds the config
    /// and tokenizer from the metadata.
    ///
    /// ```
    /// use taosr1_model::{GgufFile, GgufModel};
    /// let file = GgufFile::open("tests/fixtures/gguf/tiny_llama.gguf".as_ref()).unwrap();
    /// let model = GgufModel::from_file(&file).unwrap();
    /// assert_eq!(model.config["model_type"], "llama");
    /// ```
    ///
    /// # Errors
    /// [`GgufError::UnsupportedArchitecture`], missing or ill-typed metadata keys, missing,
    /// unknown or mis-shaped tensors, unsupported dtypes (naming the tensor), tokenizer errors.
    pub fn from_file(file: &GgufFile) -> Result<Self, GgufError> {
        let arch = str_key(file, "general.architecture")?.to_string();
        let kind = ArchKind::from_name(&arch)?;
        let hp = HyperParams::read(file, &arch, kind)?;
        let specials = super::tokenizer::specials(file)?;
        let config = hp.config_json(&arch, kind, &specials);
        let mut seen = std::collections::HashSet::new();
        let mut tensors = Vec::with_capacity(file.tensors.len());
        for info in &file.tensors {
            let (hf, role) = hf_name(&info.name, &arch, hp.layers)?;
            let expected = hp.expected_shape(role);
            let found = info.torch_shape();
            if found != expected {
                return Err(GgufError::ShapeMismatch {
                    tensor: info.name.clone(),
                    expected,
                    found,
                });
            }
            let mut data = file.tensor_f32(&info.name)?;
            if kind == ArchKind::Llama {
                match role.proj {
                    Some(Proj::Q) => data = unpermute(info, data, hp.heads)?,
                    Some(Proj::K) => data = unpermute(info, data, hp.kv_heads)?,
                    _ => {}
                }
            }
            seen.insert(info.name.clone());
            tensors.push(NamedTensor {
                name: hf,
                shape: found,
                data,
            });
        }
        for name in hp.required_tensors(kind) {
            if !seen.contains(&name) {
                return Err(GgufError::MissingTensor { name });
            }
        }
        let tokenizer = super::tokenizer::build(file, &specials)?;
        let chat_template = match file.get("tokenizer.chat_template") {
            None => None,
            Some(v) => Some(
                v.as_str()
                    .ok_or_else(|| wrong_type("tokenizer.chat_template", "string", v))?
                    .to_string(),
            ),
        };
        Ok(Self {
            arch,
            config,
            tensors,
            tokenizer,
            special: specials,
            chat_template,
        })
    }
}

/// Reads a GGUF checkpoint and converts it to the Hugging Face layout ([`GgufModel`]).
///
/// ```
/// // a tiny llama test fixture (run from the crate directory); SmolLM2's Q4_1 file reads the same
/// let model = taosr1_model::read_gguf("tests/fixtures/gguf/tiny_llama.gguf".as_ref()).unwrap();
/// assert_eq!(model.config["hidden_size"], 32);
/// assert_eq!(model.config["rope_parameters"]["rope_type"], "default");
/// let q = model.tensor("model.layers.0.self_attn.q_proj.weight").unwrap();
/// assert_eq!(q.shape, vec![32, 32]); // [out, in], rows back in Hugging Face order
/// let ids = model.tokenizer.encode("<|im_start|>user", false).unwrap();
/// assert_eq!(ids.get_ids()[0], model.special.bos.unwrap());
/// ```
///
/// # Errors
/// [`ModelError::Io`] when the file cannot be read, [`ModelError::Gguf`] naming the file and the
/// [`GgufError`] otherwise.
pub fn read_gguf(path: &Path) -> Result<GgufModel, ModelError> {
    let file = GgufFile::open(path)?;
    GgufModel::from_file(&file).map_err(|source| ModelError::Gguf {
        path: path.display().to_string(),
        source,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArchKind {
    Llama,
    Qwen2,
    Qwen3,
}

impl ArchKind {
    fn from_name(arch: &str) -> Result<Self, GgufError> {
        match arch {
            "llama" => Ok(Self::Llama),
            "qwen2" => Ok(Self::Qwen2),
            "qwen3" => Ok(Self::Qwen3),
            other => Err(GgufError::UnsupportedArchitecture {
                arch: other.to_string(),
            }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proj {
    Q,
    K,
    V,
    O,
}

/// What a tensor is, for its expected shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Embedding,
    Norm,
    HeadNorm,
    Weight,
    Bias,
    Gate,
    Up,
    Down,
}

#[derive(Debug, Clone, Copy)]
struct Role {
    kind: Kind,
    proj: Option<Proj>,
}

const fn role(kind: Kind, proj: Option<Proj>) -> Role {
    Role { kind, proj }
}

/// GGUF tensor name to Hugging Face name.
fn hf_name(name: &str, arch: &str, layers: usize) -> Result<(String, Role), GgufError> {
    let unknown = || GgufError::UnexpectedTensor {
        name: name.to_string(),
        arch: arch.to_string(),
    };
    let global = match name {
        "token_embd.weight" => Some(("model.embed_tokens.weight", role(Kind::Embedding, None))),
        "output_norm.weight" => Some(("model.norm.weight", role(Kind::Norm, None))),
        "output.weight" => Some(("lm_head.weight", role(Kind::Embedding, None))),
        _ => None,
    };
    if let Some((hf, r)) = global {
        return Ok((hf.to_string(), r));
    }
    let rest = name.strip_prefix("blk.").ok_or_else(unknown)?;
    let (layer, leaf) = rest.split_once('.').ok_or_else(unknown)?;
    let layer: usize = layer.parse().map_err(|_| unknown())?;
    if layer >= layers || leaf.is_empty() {
        return Err(unknown());
    }
    let (hf, r) = match leaf {
        "attn_norm.weight" => ("input_layernorm.weight", role(Kind::Norm, None)),
        "ffn_norm.weight" => ("post_attention_layernorm.weight", role(Kind::Norm, None)),
        "attn_q.weight" => ("self_attn.q_proj.weight", role(Kind::Weight, Some(Proj::Q))),
        "attn_k.weight" => ("self_attn.k_proj.weight", role(Kind::Weight, Some(Proj::K))),
        "attn_v.weight" => ("self_attn.v_proj.weight", role(Kind::Weight, Some(Proj::V))),
        "attn_output.weight" => ("self_attn.o_proj.weight", role(Kind::Weight, Some(Proj::O))),
        "attn_q.bias" => ("self_attn.q_proj.bias", role(Kind::Bias, Some(Proj::Q))),
        "attn_k.bias" => ("self_attn.k_proj.bias", role(Kind::Bias, Some(Proj::K))),
        "attn_v.bias" => ("self_attn.v_proj.bias", role(Kind::Bias, Some(Proj::V))),
        "attn_q_norm.weight" => ("self_attn.q_norm.weight", role(Kind::HeadNorm, None)),
        "attn_k_norm.weight" => ("self_attn.k_norm.weight", role(Kind::HeadNorm, None)),
        "ffn_gate.weight" => ("mlp.gate_proj.weight", role(Kind::Gate, None)),
        "ffn_up.weight" => ("mlp.up_proj.weight", role(Kind::Up, None)),
        "ffn_down.weight" => ("mlp.down_proj.weight", role(Kind::Down, None)),
        _ => return Err(unknown()),
    };
    Ok((format!("model.layers.{layer}.{hf}"), r))
}

/// Undoes llama.cpp's `permute` of Q/K rows (as transformers' `_reverse_permute_weights`):
/// the GGUF rows of each head are ordered `(dim, 2)`, the HF rows `(2, dim)`.
fn unpermute(info: &GgufTensorInfo, data: Vec<f32>, n_head: usize) -> Result<Vec<f32>, GgufError> {
    let shape = info.torch_shape();
    let rows = shape[0];
    let cols: usize = shape[1..].iter().product();
    if n_head == 0 || !rows.is_multiple_of(2 * n_head) {
        return Err(GgufError::ShapeMismatch {
            tensor: info.name.clone(),
            expected: vec![rows.next_multiple_of(2 * n_head.max(1))],
            found: shape,
        });
    }
    let dim = rows / n_head / 2;
    let mut out = vec![0.0f32; data.len()];
    for h in 0..n_head {
        for j in 0..2 {
            for d in 0..dim {
                let dst = (h * 2 * dim + j * dim + d) * cols;
                let src = (h * 2 * dim + d * 2 + j) * cols;
                out[dst..dst + cols].copy_from_slice(&data[src..src + cols]);
            }
        }
    }
    Ok(out)
}

pub(super) fn wrong_type(key: &str, expected: &str, found: &GgufValue) -> GgufError {
    GgufError::BadValue {
        key: key.to_string(),
        reason: format!("expected {expected}, found {}", found.type_name()),
    }
}

pub(super) fn str_key<'a>(file: &'a GgufFile, key: &str) -> Result<&'a str, GgufError> {
    let v = file
        .get(key)
        .ok_or_else(|| GgufError::MissingKey { key: key.into() })?;
    v.as_str().ok_or_else(|| wrong_type(key, "string", v))
}

/// A positive integer that fits a `usize`; `None` when the key is absent.
pub(super) fn opt_count(file: &GgufFile, key: &str) -> Result<Option<usize>, GgufError> {
    let Some(v) = file.get(key) else {
        return Ok(None);
    };
    let n = v
        .as_u64()
        .ok_or_else(|| wrong_type(key, "a non-negative integer", v))?;
    // a count beyond 2^32 is no real model; refusing it keeps every product below in range
    if n == 0 || n > u64::from(u32::MAX) {
        return Err(GgufError::BadValue {
            key: key.into(),
            reason: format!("{n} is not a usable size"),
        });
    }
    Ok(Some(n as usize))
}

fn count(file: &GgufFile, key: &str) -> Result<usize, GgufError> {
    opt_count(file, key)?.ok_or_else(|| GgufError::MissingKey { key: key.into() })
}

fn opt_float(file: &GgufFile, key: &str) -> Result<Option<f64>, GgufError> {
    let Some(v) = file.get(key) else {
        return Ok(None);
    };
    let x = v.as_f64().ok_or_else(|| wrong_type(key, "a number", v))?;
    if !x.is_finite() || x <= 0.0 {
        return Err(GgufError::BadValue {
            key: key.into(),
            reason: format!("{x} is not a positive finite number"),
        });
    }
    Ok(Some(x))
}

/// The model hyper-parameters the metadata states.
#[derive(Debug, Clone)]
struct HyperParams {
    hidden: usize,
    layers: usize,
    ffn: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    vocab: usize,
    context: usize,
    rms_eps: f64,
    rope_theta: f64,
    rope_scaling: Option<Value>,
    tied: bool,
    attention_bias: bool,
}

impl HyperParams {
    fn read(file: &GgufFile, arch: &str, kind: ArchKind) -> Result<Self, GgufError> {
        let k = |name: &str| format!("{arch}.{name}");
        let hidden = count(file, &k("embedding_length"))?;
        let heads = count(file, &k("attention.head_count"))?;
        let kv_heads = opt_count(file, &k("attention.head_count_kv"))?.unwrap_or(heads);
        if !heads.is_multiple_of(kv_heads) {
            return Err(GgufError::BadValue {
                key: k("attention.head_count_kv"),
                reason: format!("{kv_heads} does not divide head_count {heads}"),
            });
        }
        let head_dim = match kind {
            ArchKind::Qwen3 => opt_count(file, &k("attention.key_length"))?,
            // transformers reads llama's head_dim from rope.dimension_count
            ArchKind::Llama => opt_count(file, &k("rope.dimension_count"))?,
            ArchKind::Qwen2 => None,
        };
        let head_dim = match head_dim {
            Some(d) => d,
            None if hidden.is_multiple_of(heads) => hidden / heads,
            None => {
                return Err(GgufError::BadValue {
                    key: k("attention.head_count"),
                    reason: format!("{heads} heads do not divide embedding_length {hidden}"),
                })
            }
        };
        let vocab = match file.get("tokenizer.ggml.tokens") {
            Some(GgufValue::Array(tokens)) if !tokens.is_empty() => tokens.len(),
            Some(v) => return Err(wrong_type("tokenizer.ggml.tokens", "a non-empty array", v)),
            None => count(file, &k("vocab_size"))?,
        };
        let rope_theta = opt_float(file, &k("rope.freq_base"))?.unwrap_or(10_000.0);
        let rope_scaling = match file.get(&k("rope.scaling.type")) {
            None => None,
            Some(v) => match v.as_str() {
                Some("none") => None,
                Some(t @ ("linear" | "yarn")) => {
                    let factor = opt_float(file, &k("rope.scaling.factor"))?.ok_or_else(|| {
                        GgufError::MissingKey {
                            key: k("rope.scaling.factor"),
                        }
                    })?;
                    let mut p = json!({ "rope_type": t, "factor": factor });
                    if let Some(orig) = opt_count(file, &k("rope.scaling.original_context_length"))?
                    {
                        p["original_max_position_embeddings"] = json!(orig);
                    }
                    Some(p)
                }
                _ => {
                    return Err(GgufError::BadValue {
                        key: k("rope.scaling.type"),
                        reason: format!("unsupported rope scaling {v:?}"),
                    })
                }
            },
        };
        let names = |leaf: &str| file.tensors.iter().any(|t| t.name.ends_with(leaf));
        Ok(Self {
            hidden,
            layers: count(file, &k("block_count"))?,
            ffn: count(file, &k("feed_forward_length"))?,
            heads,
            kv_heads,
            head_dim,
            vocab,
            context: count(file, &k("context_length"))?,
            rms_eps: opt_float(file, &k("attention.layer_norm_rms_epsilon"))?.ok_or_else(|| {
                GgufError::MissingKey {
                    key: k("attention.layer_norm_rms_epsilon"),
                }
            })?,
            rope_theta,
            rope_scaling,
            tied: file.tensor_info("output.weight").is_none(),
            attention_bias: kind == ArchKind::Qwen2 || names(".attn_q.bias"),
        })
    }

    /// PyTorch shape of a tensor of this role.
    fn expected_shape(&self, r: Role) -> Vec<usize> {
        let q = self.heads * self.head_dim;
        let kv = self.kv_heads * self.head_dim;
        let out = |p: Option<Proj>| match p {
            Some(Proj::Q) => q,
            Some(Proj::K | Proj::V) => kv,
            Some(Proj::O) | None => self.hidden,
        };
        match r.kind {
            Kind::Embedding => vec![self.vocab, self.hidden],
            Kind::Norm => vec![self.hidden],
            Kind::HeadNorm => vec![self.head_dim],
            Kind::Weight if r.proj == Some(Proj::O) => vec![self.hidden, q],
            Kind::Weight => vec![out(r.proj), self.hidden],
            Kind::Bias => vec![out(r.proj)],
            Kind::Gate | Kind::Up => vec![self.ffn, self.hidden],
            Kind::Down => vec![self.hidden, self.ffn],
        }
    }

    /// GGUF names of the tensors the architecture cannot do without.
    fn required_tensors(&self, kind: ArchKind) -> Vec<String> {
        let mut names = vec![
            "token_embd.weight".to_string(),
            "output_norm.weight".to_string(),
        ];
        for l in 0..self.layers {
            let mut leaves = vec![
                "attn_norm.weight",
                "ffn_norm.weight",
                "attn_q.weight",
                "attn_k.weight",
                "attn_v.weight",
                "attn_output.weight",
                "ffn_gate.weight",
                "ffn_up.weight",
                "ffn_down.weight",
            ];
            if self.attention_bias {
                leaves.extend(["attn_q.bias", "attn_k.bias", "attn_v.bias"]);
            }
            if kind == ArchKind::Qwen3 {
                leaves.extend(["attn_q_norm.weight", "attn_k_norm.weight"]);
            }
            names.extend(leaves.iter().map(|leaf| format!("blk.{l}.{leaf}")));
        }
        names
    }

    fn config_json(&self, arch: &str, kind: ArchKind, sp: &GgufSpecials) -> Value {
        let (architecture, model_type) = match kind {
            ArchKind::Llama => ("LlamaForCausalLM", "llama"),
            ArchKind::Qwen2 => ("Qwen2ForCausalLM", "qwen2"),
            ArchKind::Qwen3 => ("Qwen3ForCausalLM", "qwen3"),
        };
        debug_assert_eq!(arch, model_type);
        let mut rope = json!({ "rope_theta": self.rope_theta, "rope_type": "default" });
        if let Some(Value::Object(scaling)) = &self.rope_scaling {
            for (key, value) in scaling {
                rope[key] = value.clone();
            }
        }
        json!({
            "architectures": [architecture],
            "model_type": model_type,
            "hidden_size": self.hidden,
            "intermediate_size": self.ffn,
            "num_hidden_layers": self.layers,
            "num_attention_heads": self.heads,
            "num_key_value_heads": self.kv_heads,
            "head_dim": self.head_dim,
            "max_position_embeddings": self.context,
            "rms_norm_eps": self.rms_eps,
            "rope_parameters": rope,
            "vocab_size": self.vocab,
            "tie_word_embeddings": self.tied,
            "attention_bias": self.attention_bias,
            "mlp_bias": false,
            "hidden_act": "silu",
            "dtype": "float32",
            "bos_token_id": sp.bos,
            "eos_token_id": sp.eos,
            "pad_token_id": sp.pad,
            "unk_token_id": sp.unk,
        })
    }
}
