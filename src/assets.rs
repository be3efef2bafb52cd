//! The files the repository ships (tokenizer, data) and checkpoints on disk.

use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use taosr1_cot::{load_examples, Example, GradeScale, Template};
use taosr1_model::{load_safetensors, save_safetensors, ModelConfig, TaoTokenizer, Transformer};

use crate::codec::Codec;
use crate::Error;

/// Root of the repository (where `assets/` and `data/` live).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped word-level tokenizer.
pub fn tokenizer_path() -> PathBuf {
    repo_root().join("assets").join("tokenizer.json")
}

/// A split of the shipped synthetic data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// Training split.
    Train,
    /// Validation split (threshold fitting, model selection).
    Validation,
    /// Test split (reported numbers).
    Test,
}

impl Split {
    /// File of this split.
    pub fn path(self) -> PathBuf {
        let name = match self {
            Split::Train => "train.jsonl",
            Split::Validation => "validation.jsonl",
            Split::Test => "test.jsonl",
        };
        repo_root().join("data").join(name)
    }
}

/// Load a shipped split with the default four-grade scale.
pub fn load_split(split: Split) -> Result<Vec<Example>, Error> {
    Ok(load_examples(split.path(), &GradeScale::default())?)
}

/// The shipped tokenizer with the default template.
pub fn load_codec() -> Result<Codec, Error> {
    let tok = TaoTokenizer::from_file(&tokenizer_path())?;
    Codec::new(tok, Template::default())
}

/// Write `config.json` and `model.safetensors` into `dir`.
pub fn save_checkpoint<B: Backend>(
    model: &Transformer<B>,
    cfg: &ModelConfig,
    dir: &Path,
) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    cfg.save_json(&dir.join("config.json"))?;
    save_safetensors(model, &dir.join("model.safetensors"))?;
    Ok(())
}

/// Read a checkpoint written by [`save_checkpoint`] (or a Hugging Face directory with a single
/// `model.safetensors`).
pub fn load_checkpoint<B: Backend>(
    dir: &Path,
    device: &B::Device,
) -> Result<(Transformer<B>, ModelConfig), Error> {
    let cfg = ModelConfig::from_json_file(&dir.join("config.json"))?;
    let model = load_safetensors(&dir.join("model.safetensors"), &cfg, device)?;
    Ok((model, cfg))
}

/// Build the tokenizer the repository ships: word-level over every prompt and response of the
/// three shipped splits (the synthetic vocabulary is closed, so no split sees unknown words),
/// with the tags and grade labels as fixed ids. `examples/build_tokenizer.rs` writes it to
/// [`tokenizer_path`]; a test checks the shipped file equals a fresh build.
pub fn build_shipped_tokenizer() -> Result<TaoTokenizer, Error> {
    let mut all = load_split(Split::Train)?;
    all.extend(load_split(Split::Validation)?);
    all.extend(load_split(Split::Test)?);
    Codec::build_tokenizer(&all, &Template::default())
}
