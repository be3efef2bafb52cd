//! Tokenizers through the `tokenizers` crate: the project's word-level one, with the special
//! tokens TaoSR1 needs, and real Hugging Face tokenizer folders with their special ids and chat
//! templates.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use tokenizers::models::wordlevel::WordLevel;
use tokenizers::pre_tokenizers::whitespace::WhitespaceSplit;
use tokenizers::{AddedToken, Tokenizer};

use crate::chat::{ChatMessage, ChatTemplate};
use crate::ModelError;

/// Padding token.
///
/// ```
/// let tok = taosr1_model::TaoTokenizer::build_word_level(["a"], &[]).unwrap();
/// assert!(tok.token_to_id(taosr1_model::PAD).is_some());
/// ```
pub const PAD: &str = "<pad>";
/// Unknown-word token.
///
/// ```
/// let tok = taosr1_model::TaoTokenizer::build_word_level(["a"], &[]).unwrap();
/// assert!(tok.token_to_id(taosr1_model::UNK).is_some());
/// ```
pub const UNK: &str = "<unk>";
/// Beginning of sequence.
///
/// ```
/// let tok = taosr1_model::TaoTokenizer::build_word_level(["a"], &[]).unwrap();
/// assert!(tok.token_to_id(taosr1_model::BOS).is_some());
/// ```
pub const BOS: &str = "<bos>";
/// End of sequence.
///
/// ```
/// let tok = taosr1_model::TaoTokenizer::build_word_level(["a"], &[]).unwrap();
/// assert!(tok.token_to_id(taosr1_model::EOS).is_some());
/// ```
pub const EOS: &str = "<eos>";

/// A `tokenizers::Tokenizer` plus the ids of its special tokens and its chat templates.
///
/// Two kinds are built: the project's own word-level tokenizer
/// ([`TaoTokenizer::build_word_level`], [`TaoTokenizer::from_file`]), which has the literal
/// tokens `<pad> <unk> <bos> <eos>`, and a real Hugging Face tokenizer folder
/// ([`TaoTokenizer::from_pretrained`]: Qwen2.5, Qwen3, Llama 3, SmolLM2...), whose special
/// tokens are whatever its files name, some of them absent (Qwen2.5 has no bos and no unk).
///
/// ```
/// let tok = taosr1_model::TaoTokenizer::build_word_level(["red shoes ; blue shoes"], &["<think>"]).unwrap();
/// let ids = tok.encode("red shoes <think>").unwrap();
/// assert_eq!(ids.len(), 3);
/// assert_eq!(tok.decode(&ids).unwrap(), "red shoes <think>");
/// assert_eq!(tok.encode("green").unwrap(), vec![tok.unk_id().unwrap()]);
/// ```
#[derive(Clone, Debug)]
pub struct TaoTokenizer {
    inner: Tokenizer,
    pad: u32,
    unk: Option<u32>,
    bos: Option<u32>,
    eos: u32,
    eos_ids: Vec<u32>,
    templates: BTreeMap<String, ChatTemplate>,
    source_name: String,
}

fn tok_err(e: impl std::fmt::Display) -> ModelError {
    ModelError::Tokenizer(e.to_string())
}

impl TaoTokenizer {
    /// Wrap a loaded tokenizer; it must know `<pad> <unk> <bos> <eos>` (the project's
    /// word-level tokenizer). For a Hugging Face folder use [`TaoTokenizer::from_pretrained`].
    ///
    /// ```
    /// let built = taosr1_model::TaoTokenizer::build_word_level(["a b"], &[]).unwrap();
    /// let again = taosr1_model::TaoTokenizer::from_tokenizer(built.inner().clone()).unwrap();
    /// assert_eq!((again.pad_id(), again.unk_id(), again.bos_id(), again.eos_id()), (0, Some(1), Some(2), 3));
    /// ```
    pub fn from_tokenizer(inner: Tokenizer) -> Result<Self, ModelError> {
        let id = |t: &str| {
            inner
                .token_to_id(t)
                .ok_or_else(|| ModelError::Tokenizer(format!("tokenizer lacks special token {t}")))
        };
        let eos = id(EOS)?;
        Ok(Self {
            pad: id(PAD)?,
            unk: Some(id(UNK)?),
            bos: Some(id(BOS)?),
            eos,
            eos_ids: vec![eos],
            templates: BTreeMap::new(),
            source_name: "a word-level tokenizer".into(),
            inner,
        })
    }

    /// Load a `tokenizer.json` of the project's word-level kind (with `<pad> <unk> <bos>
    /// <eos>`). For a Hugging Face folder use [`TaoTokenizer::from_pretrained`].
    ///
    /// ```
    /// let tok = taosr1_model::TaoTokenizer::build_word_level(["a b"], &[]).unwrap();
    /// let path = std::env::temp_dir().join(format!("taosr1-doc-tok-{}.json", std::process::id()));
    /// tok.save(&path).unwrap();
    /// assert_eq!(taosr1_model::TaoTokenizer::from_file(&path).unwrap().vocab_size(), 6);
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        let inner = Tokenizer::from_file(path)
            .map_err(|e| ModelError::Tokenizer(format!("{}: {e}", path.display())))?;
        Self::from_tokenizer(inner)
    }

    /// Load a Hugging Face tokenizer folder, as transformers' `AutoTokenizer.from_pretrained`
    /// reads it (nothing is downloaded):
    ///
    /// * `tokenizer.json` (required): the tokenizer itself (byte-level BPE etc.);
    /// * `tokenizer_config.json`: `bos_token`, `eos_token`, `unk_token`, `pad_token` (and
    ///   `sep_token`, `cls_token`, `mask_token`, which only the chat template sees), each a
    ///   string, a `{"content": ...}` object or null; `added_tokens_decoder` (checked against
    ///   `tokenizer.json`); `chat_template`, a string or a list of `{"name", "template"}`;
    /// * `special_tokens_map.json` (legacy): its tokens override `tokenizer_config.json`'s,
    ///   unless that file has `added_tokens_decoder` (then transformers ignores it, and so do we);
    /// * `chat_template.jinja` (transformers 5 writes the template there; it wins over
    ///   `tokenizer_config.json`'s) and `additional_chat_templates/NAME.jinja`;
    /// * `generation_config.json`: `eos_token_id` (an id or a list), `pad_token_id`,
    ///   `bos_token_id`.
    ///
    /// The ids: [`bos_id`](Self::bos_id) and [`unk_id`](Self::unk_id) are the tokenizer's own,
    /// `None` when it has none; [`eos_id`](Self::eos_id) is its `eos_token`, else the first
    /// `eos_token_id` of `generation_config.json` (one of the two is required);
    /// [`eos_ids`](Self::eos_ids) adds the other ids of `generation_config.json`'s
    /// `eos_token_id`; [`pad_id`](Self::pad_id) is `pad_token`, else `pad_token_id`, else the
    /// eos id.
    ///
    /// Errors name the file and the field: [`ModelError::Io`] / [`ModelError::Json`] for an
    /// unreadable file, [`ModelError::TokenizerFile`] for a `tokenizer.json` the `tokenizers`
    /// crate rejects, [`ModelError::TokenizerField`] for a field of the wrong type or a token
    /// not in the vocabulary, [`ModelError::ChatTemplateSyntax`] for a template that does
    /// not compile.
    ///
    /// ```
    /// use taosr1_model::TaoTokenizer;
    /// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tokenizers/qwen2");
    /// let tok = TaoTokenizer::from_pretrained(&dir).unwrap();
    /// assert_eq!(tok.bos_id(), None); // Qwen2.5 has no bos and no unk
    /// assert_eq!(tok.unk_id(), None);
    /// assert_eq!(tok.eos_id(), tok.token_to_id("<|im_end|>").unwrap());
    /// assert_eq!(tok.pad_id(), tok.token_to_id("<|endoftext|>").unwrap());
    /// assert_eq!(tok.eos_ids(), &[tok.eos_id(), tok.pad_id()]);
    /// assert!(tok.chat_template().is_some());
    /// ```
    pub fn from_pretrained(dir: &Path) -> Result<Self, ModelError> {
        crate::tokenizer_folder::load(dir)
    }

    /// The tokenizer a GGUF file's metadata describes (byte-level BPE from
    /// `tokenizer.ggml.tokens`/`merges`, special ids, `tokenizer.chat_template`), without
    /// dequantising its tensors.
    ///
    /// ```
    /// let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gguf/tiny_llama.gguf");
    /// let tok = taosr1_model::TaoTokenizer::from_gguf(&path).unwrap();
    /// assert!(tok.vocab_size() > 0);
    /// ```
    pub fn from_gguf(path: &Path) -> Result<Self, ModelError> {
        let file = crate::GgufFile::open(path)?;
        crate::gguf::tao_tokenizer(&file, &path.display().to_string())
    }

    /// Assemble a tokenizer from its parts (the folder loader's last step).
    pub(crate) fn from_parts(
        inner: Tokenizer,
        ids: SpecialIds,
        templates: BTreeMap<String, ChatTemplate>,
        source_name: String,
    ) -> Self {
        Self {
            inner,
            pad: ids.pad,
            unk: ids.unk,
            bos: ids.bos,
            eos: ids.eos,
            eos_ids: ids.eos_ids,
            templates,
            source_name,
        }
    }

    /// Build a word-level tokenizer over whitespace-separated words of `texts`. Ids: the four
    /// special tokens, then `extra_tokens` in the given order, then the words by descending
    /// frequency (ties alphabetical) — deterministic for the same input.
    ///
    /// ```
    /// let tok = taosr1_model::TaoTokenizer::build_word_level(["b a b"], &["<x>"]).unwrap();
    /// assert_eq!(tok.token_to_id("<x>"), Some(4));
    /// assert_eq!(tok.token_to_id("b"), Some(5));
    /// ```
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
    /// ([`crate::write_atomic`]). Only the tokenizer itself: not the special-token settings
    /// or chat templates of a Hugging Face folder.
    ///
    /// ```
    /// let tok = taosr1_model::TaoTokenizer::build_word_level(["a"], &[]).unwrap();
    /// let path = std::env::temp_dir().join(format!("taosr1-doc-save-{}.json", std::process::id()));
    /// tok.save(&path).unwrap();
    /// assert!(std::fs::read_to_string(&path).unwrap().contains("\"<eos>\""));
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let json = self.to_json()?;
        crate::write_atomic(path, json.as_bytes()).map_err(|e| ModelError::io(path, e))
    }

    /// The JSON form of the tokenizer.
    ///
    /// ```
    /// let tok = taosr1_model::TaoTokenizer::build_word_level(["a"], &[]).unwrap();
    /// assert!(tok.to_json().unwrap().contains("WordLevel"));
    /// ```
    pub fn to_json(&self) -> Result<String, ModelError> {
        self.inner.to_string(true).map_err(tok_err)
    }

    /// The files besides `tokenizer.json` that make a Hugging Face tokenizer folder of this
    /// tokenizer: `tokenizer_config.json` (the bos/eos/unk/pad token strings and the chat
    /// templates) and `generation_config.json` (`eos_token_id`, every id of
    /// [`eos_ids`](Self::eos_ids); `pad_token_id`; `bos_token_id`). Written next to
    /// [`to_json`](Self::to_json), [`from_pretrained`](Self::from_pretrained) reads back the
    /// same special ids and templates; this is how a tokenizer read from a GGUF file
    /// becomes a folder.
    ///
    /// ```
    /// use taosr1_model::TaoTokenizer;
    /// let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gguf/tiny_llama.gguf");
    /// let tok = TaoTokenizer::from_gguf(&path).unwrap();
    /// let dir = std::env::temp_dir().join(format!("taosr1-doc-folder-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// std::fs::write(dir.join("tokenizer.json"), tok.to_json().unwrap()).unwrap();
    /// for (name, text) in tok.config_files().unwrap() {
    ///     std::fs::write(dir.join(name), text).unwrap();
    /// }
    /// let back = TaoTokenizer::from_pretrained(&dir).unwrap();
    /// assert_eq!((back.eos_ids(), back.pad_id(), back.bos_id()), (tok.eos_ids(), tok.pad_id(), tok.bos_id()));
    /// assert_eq!(back.chat_template().unwrap().source(), tok.chat_template().unwrap().source());
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`ModelError::Tokenizer`] when a special id has no token string.
    pub fn config_files(&self) -> Result<Vec<(&'static str, String)>, ModelError> {
        let token = |id: u32| {
            self.inner.id_to_token(id).ok_or_else(|| {
                ModelError::Tokenizer(format!("special id {id} has no token in the vocabulary"))
            })
        };
        let optional = |id: Option<u32>| -> Result<serde_json::Value, ModelError> {
            Ok(match id {
                Some(id) => serde_json::Value::String(token(id)?),
                None => serde_json::Value::Null,
            })
        };
        let mut config = serde_json::Map::new();
        config.insert("bos_token".into(), optional(self.bos)?);
        config.insert("eos_token".into(), optional(Some(self.eos))?);
        config.insert("unk_token".into(), optional(self.unk)?);
        config.insert("pad_token".into(), optional(Some(self.pad))?);
        config.insert(
            "tokenizer_class".into(),
            serde_json::Value::String("PreTrainedTokenizerFast".into()),
        );
        let templates: Vec<serde_json::Value> = self
            .templates
            .iter()
            .map(|(name, t)| serde_json::json!({"name": name, "template": t.source()}))
            .collect();
        match (self.templates.len(), self.chat_template()) {
            (0, _) => {}
            (1, Some(t)) => {
                config.insert("chat_template".into(), t.source().into());
            }
            _ => {
                config.insert("chat_template".into(), templates.into());
            }
        }
        let mut generation = serde_json::Map::new();
        generation.insert(
            "eos_token_id".into(),
            match self.eos_ids.as_slice() {
                [one] => (*one).into(),
                many => many.to_vec().into(),
            },
        );
        generation.insert("pad_token_id".into(), self.pad.into());
        if let Some(bos) = self.bos {
            generation.insert("bos_token_id".into(), bos.into());
        }
        let pretty = |m: serde_json::Map<String, serde_json::Value>| {
            serde_json::to_string_pretty(&serde_json::Value::Object(m))
                .map_err(|e| ModelError::Tokenizer(e.to_string()))
        };
        Ok(vec![
            ("tokenizer_config.json", pretty(config)?),
            ("generation_config.json", pretty(generation)?),
        ])
    }

    /// Token ids of `text`, no special tokens added (`add_special_tokens=False`); special
    /// tokens written in the text (`<|im_start|>`) are still recognised as such.
    ///
    /// ```
    /// let tok = taosr1_model::TaoTokenizer::build_word_level(["a b"], &[]).unwrap();
    /// assert_eq!(tok.encode("b a <eos>").unwrap().len(), 3);
    /// ```
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        Ok(self
            .inner
            .encode(text, false)
            .map_err(tok_err)?
            .get_ids()
            .to_vec())
    }

    /// Token ids of `text` with the tokenizer's post-processor applied
    /// (`add_special_tokens=True`: Llama 3 prepends `<|begin_of_text|>`, Qwen and SmolLM2
    /// add nothing, the word-level tokenizer nothing).
    ///
    /// ```
    /// use taosr1_model::TaoTokenizer;
    /// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tokenizers/llama3");
    /// let tok = TaoTokenizer::from_pretrained(&dir).unwrap();
    /// let plain = tok.encode("red shoes").unwrap();
    /// let with = tok.encode_with_special_tokens("red shoes").unwrap();
    /// assert_eq!(with[0], tok.bos_id().unwrap());
    /// assert_eq!(&with[1..], &plain[..]);
    /// ```
    pub fn encode_with_special_tokens(&self, text: &str) -> Result<Vec<u32>, ModelError> {
        Ok(self
            .inner
            .encode(text, true)
            .map_err(tok_err)?
            .get_ids()
            .to_vec())
    }

    /// Text of `ids`; padding, bos and every end-of-sequence id ([`eos_ids`](Self::eos_ids))
    /// are dropped, other special tokens (chat markers, thinking/answer tags, grades) kept.
    /// The word-level tokenizer joins words with single spaces.
    ///
    /// ```
    /// let tok = taosr1_model::TaoTokenizer::build_word_level(["a b"], &[]).unwrap();
    /// let mut ids = vec![tok.bos_id().unwrap()];
    /// ids.extend(tok.encode("a b").unwrap());
    /// ids.extend([tok.eos_id(), tok.pad_id()]);
    /// assert_eq!(tok.decode(&ids).unwrap(), "a b");
    /// ```
    pub fn decode(&self, ids: &[u32]) -> Result<String, ModelError> {
        let kept: Vec<u32> = ids
            .iter()
            .copied()
            .filter(|i| *i != self.pad && Some(*i) != self.bos && !self.eos_ids.contains(i))
            .collect();
        self.inner.decode(&kept, false).map_err(tok_err)
    }

    /// Id of a token, if it is in the vocabulary.
    ///
    /// ```
    /// let tok = taosr1_model::TaoTokenizer::build_word_level(["a"], &[]).unwrap();
    /// assert_eq!((tok.token_to_id("a"), tok.token_to_id("zz")), (Some(4), None));
    /// ```
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Id of a token that must be in the vocabulary as one token (grade labels, tags).
    ///
    /// ```
    /// let tok = taosr1_model::TaoTokenizer::build_word_level(["a"], &[]).unwrap();
    /// assert_eq!(tok.require_token("a").unwrap(), 4);
    /// assert!(tok.require_token("zz").is_err());
    /// ```
    pub fn require_token(&self, token: &str) -> Result<u32, ModelError> {
        self.token_to_id(token)
            .ok_or_else(|| ModelError::Tokenizer(format!("`{token}` is not a single token")))
    }

    /// The single id `text` encodes to, if it is one token in context (`encode(text)` gives
    /// exactly that id). A byte-level BPE vocabulary may list `L2` as an entry and still split
    /// the text `L2` into `L` and `2`; this asks what encoding does.
    ///
    /// ```
    /// let tok = taosr1_model::TaoTokenizer::build_word_level(["a b"], &[]).unwrap();
    /// assert_eq!(tok.single_token("a"), Some(4));
    /// assert_eq!(tok.single_token("a b"), None);
    /// // an unknown word encodes to the one id of `<unk>`: that is not the word as a token
    /// assert_eq!(tok.single_token("zz"), None);
    /// assert_eq!(tok.single_token("<unk>"), tok.unk_id());
    /// ```
    pub fn single_token(&self, text: &str) -> Option<u32> {
        match self.encode(text).ok()?.as_slice() {
            [id] if Some(*id) != self.unk
                || self.inner.id_to_token(*id).as_deref() == Some(text) =>
            {
                Some(*id)
            }
            _ => None,
        }
    }

    /// Make each of `tokens` one token: those that do not already encode to a single id
    /// ([`single_token`](Self::single_token)) become added tokens (not special: they are
    /// decoded like text, and recognised in text before any other splitting), with ids from
    /// [`vocab_size`](Self::vocab_size) up. Returns, for each token added, its text and the
    /// ids it encoded to before (to initialise its embedding from, see
    /// `Transformer::extend_vocab`).
    ///
    /// ```
    /// use taosr1_model::TaoTokenizer;
    /// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tokenizers/smollm2");
    /// let mut tok = TaoTokenizer::from_pretrained(&dir).unwrap();
    /// let before = tok.vocab_size();
    /// let added = tok.add_tokens(&["<answer>", "L3"]).unwrap();
    /// assert_eq!(added.len(), 2);
    /// assert_eq!(tok.vocab_size(), before + 2);
    /// assert_eq!(tok.encode("<answer>L3").unwrap(), vec![before as u32, before as u32 + 1]);
    /// assert_eq!(tok.decode(&tok.encode("x <answer>L3 y").unwrap()).unwrap(), "x <answer>L3 y");
    /// assert!(tok.add_tokens(&["<answer>"]).unwrap().is_empty()); // already one token
    /// ```
    pub fn add_tokens(&mut self, tokens: &[&str]) -> Result<Vec<(String, Vec<u32>)>, ModelError> {
        let mut added = Vec::new();
        for &t in tokens {
            if t.is_empty() || t.chars().any(char::is_whitespace) {
                return Err(ModelError::Tokenizer(format!(
                    "cannot add {t:?} as a token: it is empty or has whitespace"
                )));
            }
            if self.single_token(t).is_some() {
                continue;
            }
            let before = self.encode(t)?;
            let at = self.vocab_size() as u32;
            self.inner
                .add_tokens(&[AddedToken::from(t.to_string(), false)]);
            if self.single_token(t) != Some(at) {
                return Err(ModelError::Tokenizer(format!(
                    "added {t:?} but it does not encode to the new id {at}"
                )));
            }
            added.push((t.to_string(), before));
        }
        Ok(added)
    }

    /// Vocabulary size including special tokens.
    ///
    /// ```
    /// let tok = taosr1_model::TaoTokenizer::build_word_level(["a b"], &[]).unwrap();
    /// assert_eq!(tok.vocab_size(), 6);
    /// ```
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Padding id: the `pad_token`, else `generation_config.json`'s `pad_token_id`, else the
    /// eos id (Llama 3 has no pad token; pad positions are masked out anyway).
    ///
    /// ```
    /// let tok = taosr1_model::TaoTokenizer::build_word_level(["a"], &[]).unwrap();
    /// assert_eq!(tok.pad_id(), 0);
    /// ```
    pub fn pad_id(&self) -> u32 {
        self.pad
    }

    /// Unknown-token id, `None` when the tokenizer has none (byte-level BPE has no unknown
    /// text: every byte is a token).
    ///
    /// ```
    /// let tok = taosr1_model::TaoTokenizer::build_word_level(["a"], &[]).unwrap();
    /// assert_eq!(tok.unk_id(), Some(1));
    /// ```
    pub fn unk_id(&self) -> Option<u32> {
        self.unk
    }

    /// Beginning-of-sequence id, `None` when the tokenizer has none (Qwen).
    ///
    /// ```
    /// let tok = taosr1_model::TaoTokenizer::build_word_level(["a"], &[]).unwrap();
    /// assert_eq!(tok.bos_id(), Some(2));
    /// ```
    pub fn bos_id(&self) -> Option<u32> {
        self.bos
    }

    /// The tokenizer's end-of-sequence id (`eos_token`): what ends a training response.
    ///
    /// ```
    /// let tok = taosr1_model::TaoTokenizer::build_word_level(["a"], &[]).unwrap();
    /// assert_eq!(tok.eos_id(), 3);
    /// ```
    pub fn eos_id(&self) -> u32 {
        self.eos
    }

    /// Every id that ends generation: [`eos_id`](Self::eos_id) first, then the other ids of
    /// `generation_config.json`'s `eos_token_id` (Llama 3.2: `<|eot_id|>`,
    /// `<|end_of_text|>`, `<|eom_id|>`), without repeats.
    ///
    /// ```
    /// let tok = taosr1_model::TaoTokenizer::build_word_level(["a"], &[]).unwrap();
    /// assert_eq!(tok.eos_ids(), &[3]);
    /// ```
    pub fn eos_ids(&self) -> &[u32] {
        &self.eos_ids
    }

    /// The default chat template, if the tokenizer has one.
    ///
    /// ```
    /// let tok = taosr1_model::TaoTokenizer::build_word_level(["a"], &[]).unwrap();
    /// assert!(tok.chat_template().is_none());
    /// ```
    pub fn chat_template(&self) -> Option<&ChatTemplate> {
        self.templates.get(DEFAULT_TEMPLATE)
    }

    /// A chat template by name (`default`, or a name from a template list /
    /// `additional_chat_templates/`).
    ///
    /// ```
    /// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tokenizers/smollm2");
    /// let tok = taosr1_model::TaoTokenizer::from_pretrained(&dir).unwrap();
    /// assert!(tok.chat_template_named("default").is_some());
    /// assert!(tok.chat_template_named("tool_use").is_none());
    /// ```
    pub fn chat_template_named(&self, name: &str) -> Option<&ChatTemplate> {
        self.templates.get(name)
    }

    /// Names of the chat templates, sorted.
    ///
    /// ```
    /// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tokenizers/qwen3");
    /// let tok = taosr1_model::TaoTokenizer::from_pretrained(&dir).unwrap();
    /// assert_eq!(tok.chat_template_names(), vec!["default"]);
    /// ```
    pub fn chat_template_names(&self) -> Vec<&str> {
        self.templates.keys().map(String::as_str).collect()
    }

    /// Render a conversation with the default chat template (see [`ChatTemplate::render`]);
    /// [`ModelError::NoChatTemplate`] when there is none.
    ///
    /// ```
    /// use taosr1_model::{ChatMessage, TaoTokenizer};
    /// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tokenizers/qwen2");
    /// let tok = TaoTokenizer::from_pretrained(&dir).unwrap();
    /// let text = tok.render_chat(&[ChatMessage::user("hi")], true, &serde_json::Value::Null).unwrap();
    /// assert_eq!(
    ///     text,
    ///     "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n\
    ///      <|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    /// );
    /// ```
    pub fn render_chat(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
        extra: &serde_json::Value,
    ) -> Result<String, ModelError> {
        self.require_template()?
            .render(messages, add_generation_prompt, extra)
    }

    /// transformers' `apply_chat_template(messages, add_generation_prompt=...,
    /// tokenize=True, **extra)`: render with the default chat template, then encode with
    /// `add_special_tokens=False` (the template writes the special tokens itself).
    ///
    /// ```
    /// use taosr1_model::{ChatMessage, TaoTokenizer};
    /// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tokenizers/qwen3");
    /// let tok = TaoTokenizer::from_pretrained(&dir).unwrap();
    /// let msgs = [ChatMessage::user("red shoes?")];
    /// let ids = tok
    ///     .apply_chat_template(&msgs, true, &serde_json::json!({ "enable_thinking": false }))
    ///     .unwrap();
    /// assert_eq!(ids[0], tok.token_to_id("<|im_start|>").unwrap());
    /// assert!(ids.contains(&tok.token_to_id("</think>").unwrap()));
    /// // no template: a typed error
    /// let word = TaoTokenizer::build_word_level(["a"], &[]).unwrap();
    /// assert!(matches!(
    ///     word.apply_chat_template(&msgs, true, &serde_json::Value::Null),
    ///     Err(taosr1_model::ModelError::NoChatTemplate { .. })
    /// ));
    /// ```
    pub fn apply_chat_template(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
        extra: &serde_json::Value,
    ) -> Result<Vec<u32>, ModelError> {
        self.encode(&self.render_chat(messages, add_generation_prompt, extra)?)
    }

    /// [`apply_chat_template`](Self::apply_chat_template) for messages given as JSON objects
    /// (tool calls, `reasoning_content`; see [`ChatTemplate::render_values`]).
    ///
    /// ```
    /// use taosr1_model::TaoTokenizer;
    /// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tokenizers/smollm2");
    /// let tok = TaoTokenizer::from_pretrained(&dir).unwrap();
    /// let msgs = [serde_json::json!({"role": "user", "content": "hi"})];
    /// let ids = tok.apply_chat_template_values(&msgs, false, &serde_json::Value::Null).unwrap();
    /// assert_eq!(ids[0], tok.bos_id().unwrap()); // SmolLM2's bos is <|im_start|>
    /// ```
    pub fn apply_chat_template_values(
        &self,
        messages: &[serde_json::Value],
        add_generation_prompt: bool,
        extra: &serde_json::Value,
    ) -> Result<Vec<u32>, ModelError> {
        let text =
            self.require_template()?
                .render_values(messages, add_generation_prompt, extra)?;
        self.encode(&text)
    }

    fn require_template(&self) -> Result<&ChatTemplate, ModelError> {
        self.chat_template()
            .ok_or_else(|| ModelError::NoChatTemplate {
                source_name: self.source_name.clone(),
            })
    }

    /// The wrapped `tokenizers::Tokenizer`.
    ///
    /// ```
    /// let tok = taosr1_model::TaoTokenizer::build_word_level(["a"], &[]).unwrap();
    /// assert_eq!(tok.inner().get_vocab_size(true), 5);
    /// ```
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }
}

/// Name of the default chat template.
pub(crate) const DEFAULT_TEMPLATE: &str = "default";

/// The special ids a folder resolves to.
pub(crate) struct SpecialIds {
    pub(crate) pad: u32,
    pub(crate) unk: Option<u32>,
    pub(crate) bos: Option<u32>,
    pub(crate) eos: u32,
    pub(crate) eos_ids: Vec<u32>,
}
