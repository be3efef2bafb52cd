#![deny(missing_docs)]
//! # taosr1-model
//!
//! The decoder-only transformer behind TaoSR1, written in [burn] and run on whatever
//! burn [`Device`](burn::tensor::Device) it is created on: RMSNorm, rotary positions, grouped-query attention,
//! SwiGLU MLP, tied or untied LM head. It decodes incrementally with a KV cache
//! ([`DecodeSession`], [`generate`]), samples greedily or with temperature/top-p from a seedable
//! RNG ([`sample_token`]), scores given responses token by token
//! ([`Transformer::token_logprobs`]) for DPO and GRPO, and loads/saves safetensors with the
//! Qwen2/Llama tensor names ([`load_safetensors`], [`save_safetensors`]) so a real Qwen2.5
//! checkpoint maps onto it. [`TaoTokenizer`] wraps a `tokenizers` `tokenizer.json`.
//! [`TaoTokenizer::from_pretrained`] loads a Hugging Face tokenizer folder (Qwen2.5, Qwen3,
//! Llama 3, SmolLM2...) with its special ids and chat templates; [`ChatTemplate`] renders those
//! templates with minijinja as transformers' `apply_chat_template` does, token for token.
//!
//! ```
//! use taosr1_model::{ModelConfig, Transformer, to_safetensors_bytes, from_safetensors_bytes};
//! let device = Default::default();
//! let cfg = ModelConfig::tiny(32);
//! let model = Transformer::new(&cfg, &device).unwrap();
//! let bytes = to_safetensors_bytes(&model).unwrap();
//! let again = from_safetensors_bytes(&bytes, &cfg, &device).unwrap();
//! assert_eq!(again.vocab_size(), 32);
//! ```

mod chat;
mod config;
mod error;
mod fsio;
mod generate;
mod gguf;
mod model;
mod pretrained;
mod tokenizer;
mod tokenizer_folder;
mod weights;

/// burn, re-exported: the public API takes burn tensors, modules and devices, so use this
/// one to be sure of a matching version.
pub use burn;
pub use chat::{ChatMessage, ChatTemplate};
pub use config::{Architecture, ModelConfig, RopeScaling};
pub use error::ModelError;
pub use fsio::{replace_dir_atomic, write_atomic};
pub use generate::{
    generate, sample_token, DecodeSession, Generation, SamplingConfig, SharedPrefix,
};
pub use gguf::{
    read_gguf, GgmlType, GgufError, GgufFile, GgufModel, GgufSpecials, GgufTensorInfo, GgufValue,
    NamedTensor, DEFAULT_ALIGNMENT, GGUF_MAGIC,
};
pub use model::{Attention, DecoderLayer, KvCache, Mlp, StepInput, Transformer};
pub use pretrained::{load_gguf, load_pretrained, safetensors_files, GenerationConfig, Pretrained};
pub use tokenizer::{TaoTokenizer, BOS, EOS, PAD, UNK};
pub use weights::{
    checkpoint_tensor_specs, from_named_tensors, from_safetensors_bytes, from_safetensors_shards,
    load_safetensors, save_safetensors, to_safetensors_bytes, to_safetensors_bytes_as,
    StorageDtype,
};
