//! Safetensors weights with the Hugging Face Qwen2/Llama tensor naming.
//!
//! | our field | checkpoint name | checkpoint shape |
//! |---|---|---|
//! | `embed_tokens` | `model.embed_tokens.weight` | `[vocab, hidden]` |
//! | `layers[i].input_layernorm` | `model.layers.{i}.input_layernorm.weight` | `[hidden]` |
//! | `layers[i].self_attn.{q,k,v}_proj` | `model.layers.{i}.self_attn.{q,k,v}_proj.{weight,bias}` | `[out, hidden]`, `[out]` |
//! | `layers[i].self_attn.o_proj` | `model.layers.{i}.self_attn.o_proj.weight` | `[hidden, heads*head_dim]` |
//! | `layers[i].post_attention_layernorm` | `model.layers.{i}.post_attention_layernorm.weight` | `[hidden]` |
//! | `layers[i].mlp.{gate,up,down}_proj` | `model.layers.{i}.mlp.{gate,up,down}_proj.weight` | `[out, in]` |
//! | `norm` | `model.norm.weight` | `[hidden]` |
//! | `lm_head` (untied only) | `lm_head.weight` | `[vocab, hidden]` |
//!
//! Linear weights are stored `[out, in]` in checkpoints (PyTorch layout) and `[in, out]` in
//! burn, so they are transposed on the way in and out. F32, F16 and BF16 tensors load (converted
//! to f32); rotary `inv_freq` buffers that old Llama exports carry are ignored; every other
//! tensor the architecture does not use is an error, so no weight is silently dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::{bf16, f16, Device, Tensor, TensorData};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::{ModelConfig, ModelError, Transformer};

/// How a parameter is laid out relative to the checkpoint tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Same layout (embeddings, norms, biases).
    Same,
    /// burn `[in, out]` vs checkpoint `[out, in]`.
    Transposed,
}

/// Checkpoint name and shape of every tensor `cfg` requires, in a stable order.
///
/// ```
/// let specs = taosr1_model::checkpoint_tensor_specs(&taosr1_model::ModelConfig::qwen2_5_0_5b());
/// assert!(specs.iter().any(|(n, s)| n == "model.layers.23.self_attn.k_proj.weight" && s == &vec![128, 896]));
/// assert!(!specs.iter().any(|(n, _)| n == "lm_head.weight")); // tied
/// ```
pub fn checkpoint_tensor_specs(cfg: &ModelConfig) -> Vec<(String, Vec<usize>)> {
    specs(cfg).into_iter().map(|(n, s, _)| (n, s)).collect()
}

fn specs(cfg: &ModelConfig) -> Vec<(String, Vec<usize>, Layout)> {
    let (h, hd, i) = (cfg.hidden_size, cfg.head_dim(), cfg.intermediate_size);
    let (q, kv) = (cfg.num_attention_heads * hd, cfg.num_key_value_heads * hd);
    let mut out = vec![(
        "model.embed_tokens.weight".to_string(),
        vec![cfg.vocab_size, h],
        Layout::Same,
    )];
    for l in 0..cfg.num_hidden_layers {
        let p = format!("model.layers.{l}");
        out.push((format!("{p}.input_layernorm.weight"), vec![h], Layout::Same));
        for (name, rows) in [("q_proj", q), ("k_proj", kv), ("v_proj", kv)] {
            out.push((
                format!("{p}.self_attn.{name}.weight"),
                vec![rows, h],
                Layout::Transposed,
            ));
            if cfg.attention_bias {
                out.push((
                    format!("{p}.self_attn.{name}.bias"),
                    vec![rows],
                    Layout::Same,
                ));
            }
        }
        out.push((
            format!("{p}.self_attn.o_proj.weight"),
            vec![h, q],
            Layout::Transposed,
        ));
        if cfg.architecture.has_qk_norm() {
            for name in ["q_norm", "k_norm"] {
                out.push((
                    format!("{p}.self_attn.{name}.weight"),
                    vec![hd],
                    Layout::Same,
                ));
            }
        }
        out.push((
            format!("{p}.post_attention_layernorm.weight"),
            vec![h],
            Layout::Same,
        ));
        out.push((
            format!("{p}.mlp.gate_proj.weight"),
            vec![i, h],
            Layout::Transposed,
        ));
        out.push((
            format!("{p}.mlp.up_proj.weight"),
            vec![i, h],
            Layout::Transposed,
        ));
        out.push((
            format!("{p}.mlp.down_proj.weight"),
            vec![h, i],
            Layout::Transposed,
        ));
    }
    out.push(("model.norm.weight".to_string(), vec![h], Layout::Same));
    if !cfg.tie_word_embeddings {
        out.push((
            "lm_head.weight".to_string(),
            vec![cfg.vocab_size, h],
            Layout::Transposed,
        ));
    }
    out
}

fn to_f32(name: &str, view: &TensorView<'_>) -> Result<Vec<f32>, ModelError> {
    let bytes = view.data();
    let values: Vec<f32> = match view.dtype() {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|c| f16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32())
            .collect(),
        Dtype::BF16 => bytes
            .chunks_exact(2)
            .map(|c| bf16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32())
            .collect(),
        other => {
            return Err(ModelError::UnsupportedDtype {
                name: name.to_string(),
                dtype: format!("{other:?}"),
            })
        }
    };
    if values.iter().any(|v| !v.is_finite()) {
        return Err(ModelError::NonFinite(name.to_string()));
    }
    Ok(values)
}

/// All parameters of `model` as `(checkpoint name, burn tensor, layout)`.
fn params(model: &Transformer) -> Vec<(String, Tensor<2>, Layout)> {
    fn lin(out: &mut Vec<(String, Tensor<2>, Layout)>, name: &str, l: &Linear) {
        out.push((format!("{name}.weight"), l.weight.val(), Layout::Transposed));
        if let Some(b) = &l.bias {
            out.push((format!("{name}.bias"), b.val().unsqueeze(), Layout::Same));
        }
    }
    let mut out = vec![(
        "model.embed_tokens.weight".to_string(),
        model.embed_tokens.weight.val(),
        Layout::Same,
    )];
    for (l, layer) in model.layers.iter().enumerate() {
        let p = format!("model.layers.{l}");
        out.push((
            format!("{p}.input_layernorm.weight"),
            layer.input_layernorm.gamma.val().unsqueeze(),
            Layout::Same,
        ));
        let a = &layer.self_attn;
        for (name, lin_) in [
            ("q_proj", &a.q_proj),
            ("k_proj", &a.k_proj),
            ("v_proj", &a.v_proj),
        ] {
            lin(&mut out, &format!("{p}.self_attn.{name}"), lin_);
        }
        lin(&mut out, &format!("{p}.self_attn.o_proj"), &a.o_proj);
        for (name, norm) in [("q_norm", &a.q_norm), ("k_norm", &a.k_norm)] {
            if let Some(norm) = norm {
                out.push((
                    format!("{p}.self_attn.{name}.weight"),
                    norm.gamma.val().unsqueeze(),
                    Layout::Same,
                ));
            }
        }
        out.push((
            format!("{p}.post_attention_layernorm.weight"),
            layer.post_attention_layernorm.gamma.val().unsqueeze(),
            Layout::Same,
        ));
        lin(
            &mut out,
            &format!("{p}.mlp.gate_proj"),
            &layer.mlp.gate_proj,
        );
        lin(&mut out, &format!("{p}.mlp.up_proj"), &layer.mlp.up_proj);
        lin(
            &mut out,
            &format!("{p}.mlp.down_proj"),
            &layer.mlp.down_proj,
        );
    }
    out.push((
        "model.norm.weight".to_string(),
        model.norm.gamma.val().unsqueeze(),
        Layout::Same,
    ));
    if let Some(head) = &model.lm_head {
        lin(&mut out, "lm_head", head);
    }
    out
}

/// The number format tensors are written in.
///
/// Training and inference here compute in f32 either way; bf16 halves a checkpoint (SmolLM2-135M:
/// 540 MB → 270 MB) at a relative rounding error of at most 2⁻⁹ per weight, the format most
/// Hugging Face checkpoints ship in. It keeps f32's range, so no finite weight overflows.
///
/// ```
/// use taosr1_model::StorageDtype;
/// assert_eq!("bf16".parse::<StorageDtype>().unwrap(), StorageDtype::Bf16);
/// assert_eq!(StorageDtype::Bf16.bytes_per_value(), 2);
/// assert!("f8".parse::<StorageDtype>().is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageDtype {
    /// 32-bit float, lossless.
    #[default]
    F32,
    /// bfloat16, round to nearest even.
    Bf16,
}

impl StorageDtype {
    /// Bytes per stored value.
    ///
    /// ```
    /// assert_eq!(taosr1_model::StorageDtype::F32.bytes_per_value(), 4);
    /// ```
    pub fn bytes_per_value(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::Bf16 => 2,
        }
    }

    /// The name Hugging Face configs use (`torch_dtype` / `dtype`).
    ///
    /// ```
    /// assert_eq!(taosr1_model::StorageDtype::Bf16.hf_name(), "bfloat16");
    /// ```
    pub fn hf_name(self) -> &'static str {
        match self {
            Self::F32 => "float32",
            Self::Bf16 => "bfloat16",
        }
    }

    fn encode(self, values: &[f32]) -> Vec<u8> {
        match self {
            Self::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            Self::Bf16 => values
                .iter()
                .flat_map(|v| bf16::from_f32(*v).to_bits().to_le_bytes())
                .collect(),
        }
    }

    fn safetensors(self) -> Dtype {
        match self {
            Self::F32 => Dtype::F32,
            Self::Bf16 => Dtype::BF16,
        }
    }
}

impl std::str::FromStr for StorageDtype {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, ModelError> {
        match s.to_ascii_lowercase().as_str() {
            "f32" | "float32" => Ok(Self::F32),
            "bf16" | "bfloat16" => Ok(Self::Bf16),
            other => Err(ModelError::Input(format!(
                "unknown storage dtype {other:?} (expected f32 or bf16)"
            ))),
        }
    }
}

/// Serialise `model` to safetensors bytes (f32, checkpoint naming and layout).
///
/// # Errors
/// [`ModelError::NonFiniteWeight`] naming the first NaN/∞ parameter: a model that went
/// non-finite is never written.
pub fn to_safetensors_bytes(model: &Transformer) -> Result<Vec<u8>, ModelError> {
    to_safetensors_bytes_as(model, StorageDtype::F32)
}

/// Serialise `model` to safetensors bytes in `dtype` (checkpoint naming and layout).
///
/// ```
/// use taosr1_model::{from_safetensors_bytes, to_safetensors_bytes, to_safetensors_bytes_as};
/// use taosr1_model::{ModelConfig, StorageDtype, Transformer};
/// let cfg = ModelConfig::tiny(30);
/// let model = Transformer::new(&cfg, &Default::default()).unwrap();
/// let half = to_safetensors_bytes_as(&model, StorageDtype::Bf16).unwrap();
/// assert!(half.len() < to_safetensors_bytes(&model).unwrap().len() * 6 / 10);
/// from_safetensors_bytes(&half, &cfg, &Default::default()).unwrap();
/// ```
///
/// # Errors
/// As [`to_safetensors_bytes`].
pub fn to_safetensors_bytes_as(
    model: &Transformer,
    dtype: StorageDtype,
) -> Result<Vec<u8>, ModelError> {
    let mut buffers: BTreeMap<String, (Vec<usize>, Vec<u8>)> = BTreeMap::new();
    for (name, tensor, layout) in params(model) {
        let tensor = if layout == Layout::Transposed {
            tensor.transpose()
        } else {
            tensor
        };
        let [r, c] = tensor.dims();
        let shape = if name.ends_with("norm.weight") || name.ends_with(".bias") {
            vec![c]
        } else {
            vec![r, c]
        };
        let values = tensor
            .into_data()
            .try_to_vec_as::<f32>()
            .map_err(|e| ModelError::Safetensors(format!("{name}: {e:?}")))?;
        if let Some((index, value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(ModelError::NonFiniteWeight {
                name,
                index,
                value: *value,
            });
        }
        buffers.insert(name, (shape, dtype.encode(&values)));
    }
    let views = buffers
        .iter()
        .map(|(name, (shape, bytes))| {
            TensorView::new(dtype.safetensors(), shape.clone(), bytes)
                .map(|v| (name.clone(), v))
                .map_err(|e| ModelError::Safetensors(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    safetensors::serialize(views, None).map_err(|e| ModelError::Safetensors(e.to_string()))
}

/// Save `model` as a `.safetensors` file, atomically ([`crate::write_atomic`]): a crash or a
/// full disk leaves the previous file intact.
///
/// # Errors
/// As [`to_safetensors_bytes`] (nothing is written then), or the I/O error.
pub fn save_safetensors(model: &Transformer, path: &Path) -> Result<(), ModelError> {
    let bytes = to_safetensors_bytes(model)?;
    crate::write_atomic(path, &bytes).map_err(|e| ModelError::io(path, e))
}

/// Build a model from safetensors bytes. Every required tensor must be present with the shape
/// `cfg` implies; unknown tensors are an error (see the module docs).
pub fn from_safetensors_bytes(
    bytes: &[u8],
    cfg: &ModelConfig,
    device: &Device,
) -> Result<Transformer, ModelError> {
    from_safetensors_shards(&[bytes], cfg, device)
}

/// Where the loader reads named tensors from: safetensors views or f32 vectors already in
/// memory (a dequantised GGUF).
trait TensorSource {
    /// Shape of a tensor, `None` if absent.
    fn shape_of(&self, name: &str) -> Option<Vec<usize>>;
    /// Its values as f32.
    fn values(&mut self, name: &str) -> Result<Vec<f32>, ModelError>;
    /// Every name in the source.
    fn names(&self) -> Vec<String>;
}

struct Views<'a>(BTreeMap<String, TensorView<'a>>);

impl TensorSource for Views<'_> {
    fn shape_of(&self, name: &str) -> Option<Vec<usize>> {
        self.0.get(name).map(|v| v.shape().to_vec())
    }
    fn values(&mut self, name: &str) -> Result<Vec<f32>, ModelError> {
        let view = self
            .0
            .get(name)
            .ok_or_else(|| ModelError::MissingTensor(name.to_string()))?;
        to_f32(name, view)
    }
    fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }
}

struct Owned(BTreeMap<String, (Vec<usize>, Vec<f32>)>);

impl TensorSource for Owned {
    fn shape_of(&self, name: &str) -> Option<Vec<usize>> {
        self.0.get(name).map(|(s, _)| s.clone())
    }
    fn values(&mut self, name: &str) -> Result<Vec<f32>, ModelError> {
        let (_, data) = self
            .0
            .remove(name)
            .ok_or_else(|| ModelError::MissingTensor(name.to_string()))?;
        if data.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::NonFinite(name.to_string()));
        }
        Ok(data)
    }
    fn names(&self) -> Vec<String> {
        self.0.keys().cloned().collect()
    }
}

/// Build a model from several safetensors shards (as in `model-0000N-of-0000M.safetensors`).
/// A tensor present in two shards is an error.
pub fn from_safetensors_shards(
    shards: &[&[u8]],
    cfg: &ModelConfig,
    device: &Device,
) -> Result<Transformer, ModelError> {
    cfg.validate()?;
    let files = shards
        .iter()
        .map(|b| SafeTensors::deserialize(b).map_err(|e| ModelError::Safetensors(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let mut available: BTreeMap<String, TensorView<'_>> = BTreeMap::new();
    for f in files.iter() {
        for (name, view) in f.tensors() {
            if available.insert(name.clone(), view).is_some() {
                return Err(ModelError::Safetensors(format!(
                    "tensor `{name}` is stored in two shards"
                )));
            }
        }
    }
    from_source(Views(available), cfg, device)
}

/// Build a model from named f32 tensors in the checkpoint naming and PyTorch layout
/// (`[out, in]` for linear weights), e.g. the tensors of a dequantised GGUF file.
///
/// ```
/// use taosr1_model::{checkpoint_tensor_specs, from_named_tensors, ModelConfig};
/// let cfg = ModelConfig::tiny(16);
/// let tensors = checkpoint_tensor_specs(&cfg)
///     .into_iter()
///     .map(|(name, shape)| {
///         let n = shape.iter().product();
///         (name, shape, vec![0.01f32; n])
///     })
///     .collect();
/// let model = from_named_tensors(tensors, &cfg, &Default::default()).unwrap();
/// assert_eq!(model.vocab_size(), 16);
/// ```
pub fn from_named_tensors(
    tensors: Vec<(String, Vec<usize>, Vec<f32>)>,
    cfg: &ModelConfig,
    device: &Device,
) -> Result<Transformer, ModelError> {
    cfg.validate()?;
    let mut map = BTreeMap::new();
    for (name, shape, data) in tensors {
        if shape.iter().product::<usize>() != data.len() {
            return Err(ModelError::ShapeMismatch {
                expected: shape,
                found: vec![data.len()],
                name,
            });
        }
        map.insert(name, (shape, data));
    }
    from_source(Owned(map), cfg, device)
}

/// Transpose a row-major `[r, c]` matrix on the host, so the burn parameter is contiguous in
/// its own `[in, out]` layout (a lazily transposed view would be copied on every call).
pub(crate) fn transpose_host(data: &[f32], r: usize, c: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; data.len()];
    const BLOCK: usize = 32;
    for i0 in (0..r).step_by(BLOCK) {
        for j0 in (0..c).step_by(BLOCK) {
            for i in i0..(i0 + BLOCK).min(r) {
                for j in j0..(j0 + BLOCK).min(c) {
                    out[j * r + i] = data[i * c + j];
                }
            }
        }
    }
    out
}

fn from_source(
    mut src: impl TensorSource,
    cfg: &ModelConfig,
    device: &Device,
) -> Result<Transformer, ModelError> {
    let mut values: BTreeMap<String, Tensor<2>> = BTreeMap::new();
    let mut used = BTreeSet::new();
    for (name, shape, layout) in specs(cfg) {
        let found = src
            .shape_of(&name)
            .ok_or_else(|| ModelError::MissingTensor(name.clone()))?;
        if found != shape {
            return Err(ModelError::ShapeMismatch {
                name,
                expected: shape,
                found,
            });
        }
        let data = src.values(&name)?;
        let (r, c) = if shape.len() == 1 {
            (1, shape[0])
        } else {
            (shape[0], shape[1])
        };
        let t = if layout == Layout::Transposed {
            Tensor::<2>::from_data(TensorData::new(transpose_host(&data, r, c), [c, r]), device)
        } else {
            Tensor::<2>::from_data(TensorData::new(data, [r, c]), device)
        };
        used.insert(name.clone());
        values.insert(name, t);
    }
    // Ignored as transformers ignores them: rotary caches of old Llama exports, and the
    // `lm_head.weight` copy some tied checkpoints store (the head is the embedding).
    let ignorable = |n: &str| {
        n.ends_with("rotary_emb.inv_freq") || (cfg.tie_word_embeddings && n == "lm_head.weight")
    };
    let unexpected: Vec<String> = src
        .names()
        .into_iter()
        .filter(|n| !used.contains(n) && !ignorable(n))
        .collect();
    if !unexpected.is_empty() {
        return Err(ModelError::UnexpectedTensors(unexpected));
    }
    let mut take2 = |name: &str| {
        values
            .remove(name)
            .ok_or_else(|| ModelError::MissingTensor(name.to_string()))
    };
    let mut model = Transformer::new(cfg, device)?;
    model.embed_tokens.weight = Param::from_tensor(take2("model.embed_tokens.weight")?);
    for (l, layer) in model.layers.iter_mut().enumerate() {
        let p = format!("model.layers.{l}");
        let mut set_lin = |lin: &mut Linear, name: &str| -> Result<(), ModelError> {
            lin.weight = Param::from_tensor(take2(&format!("{name}.weight"))?);
            if lin.bias.is_some() {
                let b: Tensor<2> = take2(&format!("{name}.bias"))?;
                lin.bias = Some(Param::from_tensor(b.squeeze_dim(0)));
            }
            Ok(())
        };
        let a = &mut layer.self_attn;
        set_lin(&mut a.q_proj, &format!("{p}.self_attn.q_proj"))?;
        set_lin(&mut a.k_proj, &format!("{p}.self_attn.k_proj"))?;
        set_lin(&mut a.v_proj, &format!("{p}.self_attn.v_proj"))?;
        set_lin(&mut a.o_proj, &format!("{p}.self_attn.o_proj"))?;
        let m = &mut layer.mlp;
        set_lin(&mut m.gate_proj, &format!("{p}.mlp.gate_proj"))?;
        set_lin(&mut m.up_proj, &format!("{p}.mlp.up_proj"))?;
        set_lin(&mut m.down_proj, &format!("{p}.mlp.down_proj"))?;
        for (name, norm) in [("q_norm", &mut a.q_norm), ("k_norm", &mut a.k_norm)] {
            if let Some(norm) = norm.as_mut() {
                norm.gamma = Param::from_tensor(
                    take2(&format!("{p}.self_attn.{name}.weight"))?.squeeze_dim(0),
                );
            }
        }
        layer.input_layernorm.gamma =
            Param::from_tensor(take2(&format!("{p}.input_layernorm.weight"))?.squeeze_dim(0));
        layer.post_attention_layernorm.gamma = Param::from_tensor(
            take2(&format!("{p}.post_attention_layernorm.weight"))?.squeeze_dim(0),
        );
    }
    model.norm.gamma = Param::from_tensor(take2("model.norm.weight")?.squeeze_dim(0));
    if let Some(head) = model.lm_head.as_mut() {
        head.weight = Param::from_tensor(take2("lm_head.weight")?);
    }
    Ok(model)
}

/// Load a model from a `.safetensors` file.
pub fn load_safetensors(
    path: &Path,
    cfg: &ModelConfig,
    device: &Device,
) -> Result<Transformer, ModelError> {
    let bytes = std::fs::read(path).map_err(|e| ModelError::io(path, e))?;
    from_safetensors_bytes(&bytes, cfg, device).map_err(|e| match e {
        ModelError::Safetensors(msg) => {
            ModelError::Safetensors(format!("{}: {msg}", path.display()))
        }
        other => other,
    })
}
