//! Word-level tokenizer through the `tokenizers` crate, with the special tokens TaoSR1 needs.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use tokenizers::models::wordlevel::WordLevel;
use tokenizers::pre_tokenizers::whitespace::WhitespaceSplit;
use tokenizers::{AddedToken, Tokenizer};

use crate::ModelError;

/// Padding token.
pub const PAD: &str = "<pad>";
/// Unknown-word token.
pub const UNK: &str = "<unk>";
/// Beginning of sequence.
pub const BOS: &str = "<bos>";
/// End of sequence.
pub const EOS: &str = "<eos>";

/// A `tokenizers::Tokenizer` plus the ids of the special tokens.
///
/// ```
/// let tok = taosr1_model::TaoTokenizer::build_word_level(["red shoes ; blue shoes"], &["<think>"]).unwrap();
/// let ids = tok.encode("red shoes <think>").unwrap();
/// assert_eq!(ids.len(), 3);
/// assert_eq!(tok.decode(&ids).unwrap(), "red shoes <think>");
/// assert_eq!(tok.encode("green").unwrap(), vec![tok.unk_id()]);
/// ```
#[derive(Clone, Debug)]
pub struct TaoTokenizer {
    inner: Tokenizer,
    pad: u32,
    unk: u32,
    bos: u32,
    eos: u32,
}

fn tok_err(e: impl std::fmt::Display) -> ModelError {
    ModelError::Tokenizer(e.to_string())
}

impl TaoTokenizer {
    /// Wrap a loaded tokenizer; it must know `<pad> <unk> <bos> <eos>`.
    pub fn from_tokenizer(inner: Tokenizer) -> Result<Self, ModelError> {
        let id = |t: &str| {
            inner
                .token_to_id(t)
                .ok_or_else(|| ModelError::Tokenizer(format!("tokenizer lacks special token {t}")))
        };
        Ok(Self {
            pad: id(PAD)?,
            unk: id(UNK)?,
            bos: id(BOS)?,
            eos: id(EOS)?,
            inner,
        })
    }

    /// Load a `tokenizer.json`.
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        let inner = Tokenizer::from_file(path)
            .map_err(|e| ModelError::Tokenizer(format!("{}: {e}", path.display())))?;
        Self::from_tokenizer(inner)
    }

    /// Build a word-level tokenizer over whitespace-separated words of `texts`. Ids: the four
    /// special tokens, then `extra_tokens` in the given order, then the words by descending
    /// frequency (ties alphabetical) — deterministic for the same input.
    pub fn build_word_level<'a, I>(texts: I, extra_tokens: &[&str]) -> Result<Self, ModelError>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for text in texts {
            for w in text.split_whitespace() {
                *counts.entry(w).or_default() += 1;
            }
        }
        let mut vocab: HashMap<String, u32> = HashMap::new();
        let mut push = |w: &str| {
            let next = vocab.len() as u32;
            vocab.entry(w.to_string()).or_insert(next);
        };
        for w in [PAD, UNK, BOS, EOS].iter().chain(extra_tokens) {
            push(w);
        }
        let mut words: Vec<(&str, usize)> = counts.into_iter().collect();
        words.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        for (w, _) in words {
            push(w);
        }
        let model = WordLevel::builder()
            .vocab(vocab.into_iter().collect())
            .unk_token(UNK.to_string())
            .build()
            .map_err(tok_err)?;
        let mut inner = Tokenizer::new(model);
        inner.with_pre_tokenizer(Some(WhitespaceSplit));
        let specials: Vec<AddedToken> = [PAD, UNK, BOS, EOS]
            .iter()
            .map(|t| AddedToken::from(*t, true))
            .collect();
        inner.add_special_tokens(&specials);
        Self::from_tokenizer(inner)
    }

    /// Save as `tokenizer.json` (pretty-printed, stable), atomically
    /// ([`crate::write_atomic`]).
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let json = self.to_json()?;
        crate::write_atomic(path, json.as_bytes()).map_err(|e| ModelError::io(path, e))
    }

    /// The JSON form of the tokenizer.
    pub fn to_json(&self) -> Result<String, ModelError> {
        self.inner.to_string(true).map_err(tok_err)
    }

    /// Token ids of `text` (no special tokens added).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        Ok(self
            .inner
            .encode(text, false)
            .map_err(tok_err)?
            .get_ids()
            .to_vec())
    }

    /// Text of `ids`, words joined by single spaces; `<pad> <bos> <eos>` are dropped, the
    /// thinking/answer tags and grades are kept.
    pub fn decode(&self, ids: &[u32]) -> Result<String, ModelError> {
        let kept: Vec<u32> = ids
            .iter()
            .copied()
            .filter(|i| *i != self.pad && *i != self.bos && *i != self.eos)
            .collect();
        self.inner.decode(&kept, false).map_err(tok_err)
    }

    /// Id of a token, if it is in the vocabulary.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Id of a token that must be in the vocabulary as one token (grade labels, tags).
    pub fn require_token(&self, token: &str) -> Result<u32, ModelError> {
        self.token_to_id(token)
            .ok_or_else(|| ModelError::Tokenizer(format!("`{token}` is not a single token")))
    }

    /// Vocabulary size including special tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Padding id.
    pub fn pad_id(&self) -> u32 {
        self.pad
    }
    /// Unknown-word id.
    pub fn unk_id(&self) -> u32 {
        self.unk
    }
    /// Beginning-of-sequence id.
    pub fn bos_id(&self) -> u32 {
        self.bos
    }
    /// End-of-sequence id.
    pub fn eos_id(&self) -> u32 {
        self.eos
    }

    /// The wrapped `tokenizers::Tokenizer`.
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }
}
