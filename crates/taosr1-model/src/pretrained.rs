//! Loading a Hugging Face model folder as it is: `config.json`, `generation_config.json` and
//! single or sharded safetensors.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use serde_json::Value;

use crate::config::id_list;
use crate::{from_safetensors_shards, ModelConfig, ModelError, Transformer};

/// What `generation_config.json` says about stopping and padding.
///
/// ```
/// let g = taosr1_model::GenerationConfig::from_json(
///     r#"{"bos_token_id": 151643, "eos_token_id": [151645, 151643], "pad_token_id": 151643}"#,
///     "generation_config.json").unwrap();
/// assert_eq!(g.eos_token_ids, vec![151645, 151643]);
/// assert_eq!(g.pad_token_id, Some(151643));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenerationConfig {
    /// Beginning-of-sequence id, if any.
    pub bos_token_id: Option<u32>,
    /// Every id that ends generation (an int or a list in the file).
    pub eos_token_ids: Vec<u32>,
    /// Padding id, if any.
    pub pad_token_id: Option<u32>,
}

impl GenerationConfig {
    /// Parse the text of a `generation_config.json`; `origin` names it in errors.
    ///
    /// ```
    /// assert!(taosr1_model::GenerationConfig::from_json(r#"{"eos_token_id": "x"}"#, "g.json").is_err());
    /// ```
    pub fn from_json(text: &str, origin: &str) -> Result<Self, ModelError> {
        let v: Value = serde_json::from_str(text).map_err(|e| ModelError::Json {
            path: origin.to_string(),
            source: e,
        })?;
        let o = v
            .as_object()
            .ok_or_else(|| ModelError::Config(format!("{origin}: expected a JSON object")))?;
        Ok(Self {
            bos_token_id: id_list(o, origin, "bos_token_id")?.first().copied(),
            eos_token_ids: id_list(o, origin, "eos_token_id")?,
            pad_token_id: id_list(o, origin, "pad_token_id")?.first().copied(),
        })
    }
}

/// A loaded Hugging Face folder: the model, its config and its generation config.
///
/// ```
/// let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models/qwen2");
/// let p = taosr1_model::load_pretrained(&path, &Default::default()).unwrap();
/// assert_eq!(p.model.vocab_size(), p.config.vocab_size);
/// assert_eq!(p.generation.eos_token_ids, vec![2, 3]);
/// ```
#[derive(Debug)]
pub struct Pretrained {
    /// The weights.
    pub model: Transformer,
    /// `config.json`.
    pub config: ModelConfig,
    /// `generation_config.json` when present, else the ids config.json carries.
    pub generation: GenerationConfig,
}

/// The safetensors files of a folder: `model.safetensors`, or every shard that
/// `model.safetensors.index.json` names (each once, in order).
///
/// ```
/// let dir = std::env::temp_dir().join("taosr1-doc-empty-dir");
/// std::fs::create_dir_all(&dir).unwrap();
/// assert!(taosr1_model::safetensors_files(&dir).is_err()); // neither file
/// ```
pub fn safetensors_files(dir: &Path) -> Result<Vec<PathBuf>, ModelError> {
    let single = dir.join("model.safetensors");
    let index = dir.join("model.safetensors.index.json");
    if index.is_file() {
        let text = std::fs::read_to_string(&index).map_err(|e| ModelError::io(&index, e))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| ModelError::Json {
            path: index.display().to_string(),
            source: e,
        })?;
        let map = v
            .get("weight_map")
            .and_then(Value::as_object)
            .ok_or_else(|| {
                ModelError::Config(format!(
                    "{}: field `weight_map`: missing or not an object",
                    index.display()
                ))
            })?;
        let mut files: Vec<PathBuf> = Vec::new();
        for (tensor, file) in map {
            let file = file.as_str().ok_or_else(|| {
                ModelError::Config(format!(
                    "{}: field `weight_map.{tensor}`: expected a file name",
                    index.display()
                ))
            })?;
            if file.contains('/') || file.contains("..") {
                return Err(ModelError::Config(format!(
                    "{}: field `weight_map.{tensor}`: `{file}` is not a file name in the folder",
                    index.display()
                )));
            }
            let path = dir.join(file);
            if !files.contains(&path) {
                files.push(path);
            }
        }
        files.sort();
        return Ok(files);
    }
    if single.is_file() {
        return Ok(vec![single]);
    }
    Err(ModelError::Io {
        path: dir.display().to_string(),
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "neither model.safetensors nor model.safetensors.index.json",
        ),
    })
}

/// Load a GGUF file ([`crate::read_gguf`]: dequantised to f32, Q/K rows un-permuted as
/// transformers does) as a model with its config and generation ids.
///
/// ```
/// let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gguf/tiny_llama.gguf");
/// let loaded = taosr1_model::load_gguf(&path, &Default::default()).unwrap();
/// assert_eq!(loaded.config.architecture, taosr1_model::Architecture::Llama);
/// ```
pub fn load_gguf(path: &Path, device: &Device) -> Result<Pretrained, ModelError> {
    let gguf = crate::read_gguf(path)?;
    let origin = path.display().to_string();
    let config = ModelConfig::from_hf_value(&gguf.config, &origin)?;
    let generation = GenerationConfig {
        bos_token_id: gguf.special.bos,
        eos_token_ids: gguf.special.eos.into_iter().collect(),
        pad_token_id: gguf.special.pad,
    };
    let tensors = gguf
        .tensors
        .into_iter()
        .map(|t| (t.name, t.shape, t.data))
        .collect();
    let model = crate::from_named_tensors(tensors, &config, device)?;
    Ok(Pretrained {
        model,
        config,
        generation,
    })
}

/// Load a Hugging Face model folder as it is (or a `.gguf` file, see [`load_gguf`]): `config.json` of either transformers
/// generation, `generation_config.json` if present, `model.safetensors` or the shards of
/// `model.safetensors.index.json`, in f32, f16 or bf16 (computed in f32).
///
/// ```
/// use taosr1_model::{load_pretrained, ModelConfig, Transformer, save_safetensors};
/// let dir = std::env::temp_dir().join("taosr1-doc-pretrained");
/// std::fs::create_dir_all(&dir).unwrap();
/// let cfg = ModelConfig::tiny(20);
/// cfg.save_json(&dir.join("config.json")).unwrap();
/// let model = Transformer::new(&cfg, &Default::default()).unwrap();
/// save_safetensors(&model, &dir.join("model.safetensors")).unwrap();
/// let loaded = load_pretrained(&dir, &Default::default()).unwrap();
/// assert_eq!(loaded.config, cfg);
/// ```
pub fn load_pretrained(dir: &Path, device: &Device) -> Result<Pretrained, ModelError> {
    if dir.is_file()
        && dir
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
    {
        return load_gguf(dir, device);
    }
    let config = ModelConfig::from_json_file(&dir.join("config.json"))?;
    let gen_path = dir.join("generation_config.json");
    let generation = if gen_path.is_file() {
        let text = std::fs::read_to_string(&gen_path).map_err(|e| ModelError::io(&gen_path, e))?;
        GenerationConfig::from_json(&text, &gen_path.display().to_string())?
    } else {
        GenerationConfig {
            bos_token_id: config.bos_token_id,
            eos_token_ids: config.eos_token_id.clone(),
            pad_token_id: None,
        }
    };
    let files = safetensors_files(dir)?;
    let mut bytes = Vec::with_capacity(files.len());
    for f in &files {
        bytes.push(std::fs::read(f).map_err(|e| ModelError::io(f, e))?);
    }
    let shards: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
    let model = from_safetensors_shards(&shards, &config, device).map_err(|e| match e {
        ModelError::Safetensors(msg) => {
            ModelError::Safetensors(format!("{}: {msg}", dir.display()))
        }
        other => other,
    })?;
    Ok(Pretrained {
        model,
        config,
        generation,
    })
}
