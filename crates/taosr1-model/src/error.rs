//! Errors of the model crate.

use std::path::Path;

/// Everything that can go wrong when building, loading, saving or running the model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// Inconsistent hyper-parameters.
    #[error("invalid model config: {0}")]
    Config(String),
    /// A checkpoint uses an architecture or a setting that is not implemented.
    #[error("{file}: field `{field}`: unsupported: {reason}")]
    Unsupported {
        /// The file (config.json, a GGUF file...).
        file: String,
        /// The field.
        field: String,
        /// What is not supported.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A JSON file did not parse.
    #[error("invalid JSON in {path}: {source}")]
    Json {
        /// The file.
        path: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// The safetensors container is corrupt or unreadable.
    #[error("corrupt safetensors data: {0}")]
    Safetensors(String),
    /// A sequence would run past the model's context (`max_position_embeddings`).
    #[error(
        "{needed} positions needed, but the model's context is {max} (max_position_embeddings)"
    )]
    ContextExceeded {
        /// Positions the call needs.
        needed: usize,
        /// The context length.
        max: usize,
    },
    /// A parameter is NaN or infinite: the model is not saved.
    #[error(
        "parameter `{name}` has a non-finite value {value} at flat index {index}; refusing to save"
    )]
    NonFiniteWeight {
        /// Tensor name (checkpoint naming).
        name: String,
        /// Flat index of the first bad value.
        index: usize,
        /// The value.
        value: f32,
    },
    /// A tensor the config requires is absent from the checkpoint.
    #[error("checkpoint is missing tensor `{0}`")]
    MissingTensor(String),
    /// A tensor in the checkpoint has the wrong shape for the config.
    #[error("tensor `{name}` has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        /// Tensor name.
        name: String,
        /// Shape the config implies.
        expected: Vec<usize>,
        /// Shape in the file.
        found: Vec<usize>,
    },
    /// A tensor is stored in a dtype we cannot convert to f32.
    #[error("tensor `{name}` has unsupported dtype {dtype}")]
    UnsupportedDtype {
        /// Tensor name.
        name: String,
        /// The dtype in the file.
        dtype: String,
    },
    /// The checkpoint holds tensors this architecture does not use.
    #[error("checkpoint has unexpected tensors: {0:?}")]
    UnexpectedTensors(Vec<String>),
    /// A tensor contains NaN or infinite values.
    #[error("tensor `{0}` contains non-finite values")]
    NonFinite(String),
    /// Tokenizer failure.
    #[error("tokenizer error: {0}")]
    Tokenizer(String),
    /// Invalid input to a model routine (empty batch, bad lengths, token out of vocabulary...).
    #[error("invalid input: {0}")]
    Input(String),
    /// A GGUF file is malformed or cannot be converted (see [`crate::GgufError`]).
    #[error("GGUF file {path}: {source}")]
    Gguf {
        /// The file.
        path: String,
        /// What is wrong with it.
        source: crate::gguf::GgufError,
    },
    /// A tokenizer file (`tokenizer.json`) that the `tokenizers` crate cannot load.
    #[error("cannot load tokenizer {path}: {reason}")]
    TokenizerFile {
        /// The file.
        path: String,
        /// What the `tokenizers` crate said.
        reason: String,
    },
    /// A field of a tokenizer folder's file (`tokenizer_config.json`,
    /// `special_tokens_map.json`, `generation_config.json`) is of the wrong type, names a
    /// token that `tokenizer.json` does not have, or is missing where it is needed.
    #[error("{path}: field `{field}`: {reason}")]
    TokenizerField {
        /// The file.
        path: String,
        /// The field (a JSON key; `a.b` for a nested one).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The tokenizer has no chat template (no `chat_template.jinja`, no `chat_template` in
    /// `tokenizer_config.json`).
    #[error("no chat template for the tokenizer from {source_name}")]
    NoChatTemplate {
        /// Where the tokenizer came from (its folder, or how it was built).
        source_name: String,
    },
    /// A chat template does not compile.
    #[error("chat template {path} does not compile (line {line}): {message}")]
    ChatTemplateSyntax {
        /// The template's file (and field, for one inside `tokenizer_config.json`).
        path: String,
        /// Line of the error in the template (1-based; 0 when unknown).
        line: usize,
        /// What minijinja said.
        message: String,
    },
    /// A chat template failed while rendering (its own `raise_exception`, an operation on an
    /// undefined value, a missing filter...).
    #[error("chat template {path} failed to render: {message}")]
    ChatTemplateRender {
        /// The template's file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

impl ModelError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
