//! The real tier: a Hugging Face checkpoint with its own tokenizer and chat template, made
//! ready for TaoSR1's tags and grade labels, and saved back as a folder transformers and
//! [`load`] read.
//!
//! A checkpoint's vocabulary does not have `<think>`, `</think>`, `<answer>`, `</answer>` or
//! `L1`..`L4` as single tokens (SmolLM2 splits `<answer>` into `<`, `answer`, `>`, and `L3`
//! into `L`, `3`). TaoSR1's label-first scoring reads the grade distribution at one position,
//! so [`adapt`] adds each missing tag and label as a token and starts its embedding as the
//! mean of the pieces it used to be ([`Transformer::init_token_rows`]): the new `L3` starts
//! near `L` and `3`, which gives the untrained model a usable zero-shot reading.
use std::path::Path;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use taosr1_cot::rules::RuleBook;
use taosr1_cot::teacher::RuleTeacher;
use taosr1_cot::{
    GradeScale, ResponseOrder, Template, TextStyle, ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE,
    THINK_OPEN,
};
use taosr1_model::{ModelConfig, StorageDtype, TaoTokenizer, Transformer};

use crate::codec::Codec;
use crate::Error;

/// The file a real checkpoint keeps its template settings in.
pub const TEMPLATE_FILE: &str = "taosr1_template.json";

/// Files of the source folder a saved checkpoint copies as they are (when present).
const COPIED: [&str; 4] = [
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "generation_config.json",
];

/// A real model ready for TaoSR1: the model (vocabulary grown when tokens were added), its
/// config, the chat codec and the tokens that were added.
#[derive(Debug)]
pub struct Adapted {
    /// The model.
    pub model: Transformer,
    /// Its config (`vocab_size` updated).
    pub config: ModelConfig,
    /// A [`Codec::chat`] codec over the grown tokenizer.
    pub codec: Codec,
    /// Each added token with the ids it was split into before.
    pub added: Vec<(String, Vec<u32>)>,
}

/// The template's tags and grade labels: the strings that must be single tokens.
///
/// ```
/// let t = taosr1_cot::Template::default();
/// assert_eq!(taosr1::real::template_tokens(&t), ["<think>", "</think>", "<answer>", "</answer>", "L1", "L2", "L3", "L4"]);
/// ```
pub fn template_tokens(template: &Template) -> Vec<&str> {
    let mut out = vec![THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE];
    out.extend(template.scale().labels().iter().map(String::as_str));
    out
}

/// Make a loaded checkpoint ready for `template`: add every tag and label that is not one
/// token to `tokenizer`, (re)initialise their embedding rows from the pieces they replace
/// (the model grows when its vocabulary had no spare rows), and build a [`Codec::chat`].
///
/// # Errors
/// [`Error::Input`] when the tokenizer has more tokens than the model has rows, or has no chat
/// template; [`Error::Model`] when a token cannot be added.
///
/// ```
/// use taosr1_cot::{Template, TextStyle};
/// use taosr1_model::{ModelConfig, TaoTokenizer, Transformer};
/// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/taosr1-model/tests/fixtures/tokenizers/smollm2");
/// let tok = TaoTokenizer::from_pretrained(&dir).unwrap();
/// let cfg = ModelConfig::tiny(tok.vocab_size());
/// let model = Transformer::new(&cfg, &Default::default()).unwrap();
/// let template = Template::default().with_style(TextStyle::Verbatim);
/// let a = taosr1::real::adapt(model, cfg, tok, template).unwrap();
/// assert_eq!(a.added.len(), 8);
/// assert_eq!(a.model.vocab_size(), a.codec.tokenizer().vocab_size());
/// assert_eq!(a.config.vocab_size, a.model.vocab_size());
/// ```
pub fn adapt(
    model: Transformer,
    mut config: ModelConfig,
    mut tokenizer: TaoTokenizer,
    template: Template,
) -> Result<Adapted, Error> {
    let first = tokenizer.vocab_size();
    if first > model.vocab_size() {
        return Err(Error::Input(format!(
            "the tokenizer has {first} tokens but the model only {} embedding rows",
            model.vocab_size()
        )));
    }
    let added = tokenizer.add_tokens(&template_tokens(&template))?;
    let pieces: Vec<Vec<u32>> = added.iter().map(|(_, p)| p.clone()).collect();
    let model = model.init_token_rows(first, &pieces)?;
    config.vocab_size = model.vocab_size();
    let codec = Codec::chat(tokenizer, template)?;
    Ok(Adapted {
        model,
        config,
        codec,
        added,
    })
}

/// What [`TEMPLATE_FILE`] holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct TemplateFile {
    style: TextStyle,
    order: ResponseOrder,
    labels: Vec<String>,
}

/// Save a real model as a Hugging Face folder: `config.json`, `model.safetensors` (f32),
/// the grown `tokenizer.json`, the tokenizer and generation files of `source` copied as they
/// are (or, when `source` is a `.gguf` file, written from the tokenizer:
/// [`TaoTokenizer::config_files`](taosr1_model::TaoTokenizer::config_files)), and
/// [`TEMPLATE_FILE`]. The folder is replaced atomically (a failed save leaves the
/// old one); transformers' `AutoModelForCausalLM`/`AutoTokenizer` read it.
///
/// # Errors
/// [`Error::Io`] naming the path; [`Error::Model`] for a non-finite weight.
pub fn save(
    dir: &Path,
    model: &Transformer,
    config: &ModelConfig,
    codec: &Codec,
    source: &Path,
) -> Result<(), Error> {
    save_as(dir, model, config, codec, source, StorageDtype::F32)
}

/// [`save`] with the weights stored in `dtype`: [`StorageDtype::Bf16`] halves the folder
/// (SmolLM2-135M: 540 → 270 MB); [`load`] reads either (into f32).
///
/// # Errors
/// As [`save`].
///
/// ```
/// use taosr1_cot::{Template, TextStyle};
/// use taosr1_model::{ModelConfig, StorageDtype, TaoTokenizer, Transformer};
/// let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/taosr1-model/tests/fixtures/tokenizers/smollm2");
/// let tok = TaoTokenizer::from_pretrained(&src).unwrap();
/// let cfg = ModelConfig::tiny(tok.vocab_size());
/// let model = Transformer::new(&cfg, &Default::default()).unwrap();
/// let a = taosr1::real::adapt(model, cfg, tok, Template::default().with_style(TextStyle::Verbatim)).unwrap();
/// let dir = std::env::temp_dir().join(format!("taosr1-doc-save-as-{}", std::process::id()));
/// taosr1::real::save_as(&dir, &a.model, &a.config, &a.codec, &src, StorageDtype::Bf16).unwrap();
/// let (back, config, _codec) = taosr1::real::load(&dir, &Default::default()).unwrap();
/// assert_eq!(config, a.config);
/// assert_eq!(back.vocab_size(), a.model.vocab_size());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn save_as(
    dir: &Path,
    model: &Transformer,
    config: &ModelConfig,
    codec: &Codec,
    source: &Path,
    dtype: StorageDtype,
) -> Result<(), Error> {
    let weights = taosr1_model::to_safetensors_bytes_as(model, dtype)?;
    let config_text = to_json(config, dir)?;
    let template = codec.template();
    let template_text = to_json(
        &TemplateFile {
            style: template.style(),
            order: template.order(),
            labels: template.scale().labels().to_vec(),
        },
        dir,
    )?;
    let tokenizer_text = codec.tokenizer().to_json()?;
    // a GGUF file has no tokenizer files to copy: write them from the tokenizer it gave
    let generated = if source.is_file() {
        codec.tokenizer().config_files()?
    } else {
        Vec::new()
    };
    taosr1_model::replace_dir_atomic(dir, |staging| {
        for name in COPIED {
            let from = source.join(name);
            if from.is_file() {
                std::fs::copy(&from, staging.join(name))?;
            }
        }
        for (name, text) in &generated {
            std::fs::write(staging.join(name), text)?;
        }
        std::fs::write(staging.join("config.json"), &config_text)?;
        std::fs::write(staging.join("model.safetensors"), &weights)?;
        std::fs::write(staging.join("tokenizer.json"), &tokenizer_text)?;
        std::fs::write(staging.join(TEMPLATE_FILE), &template_text)
    })
    .map_err(|e| Error::io(dir, e))
}

/// Load a folder [`save`] wrote (or any Hugging Face folder with a `taosr1_template.json`):
/// the model, its config and the chat codec.
///
/// # Errors
/// [`Error::Io`]/[`Error::Input`] naming the file for a missing or malformed file,
/// [`Error::Model`] for weights or a tokenizer that do not load, or a tag that is not one
/// token.
pub fn load(dir: &Path, device: &Device) -> Result<(Transformer, ModelConfig, Codec), Error> {
    let path = dir.join(TEMPLATE_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let file: TemplateFile = serde_json::from_str(&text)
        .map_err(|e| Error::Input(format!("{}: {e}", path.display())))?;
    let scale = GradeScale::new(file.labels)
        .map_err(|e| Error::Input(format!("{}: labels: {e}", path.display())))?;
    let template = Template::new(scale)
        .with_order(file.order)
        .with_style(file.style);
    let pretrained = taosr1_model::load_pretrained(dir, device)?;
    let tokenizer = TaoTokenizer::from_pretrained(dir)?;
    let codec = Codec::chat(tokenizer, template)?;
    Ok((pretrained.model, pretrained.config, codec))
}

/// The file a checkpoint trained with the rule analyser's findings in its prompts keeps the
/// analyser's settings in ([`PromptEvidence`]).
pub const EVIDENCE_FILE: &str = "prompt_evidence.json";

/// How the prompts a checkpoint was trained on were annotated: the rule analyser
/// ([`RuleTeacher`] over the shipped default rule book) with this brand lexicon added the
/// [`EVIDENCE_ATTRIBUTE`](taosr1_cot::teacher::EVIDENCE_ATTRIBUTE) line to every item. A model
/// trained so must be served so: `serve` annotates its items the same way when the
/// checkpoint folder has this file.
///
/// ```
/// use taosr1::real::PromptEvidence;
/// let dir = std::env::temp_dir().join(format!("evidence-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// assert_eq!(PromptEvidence::load(&dir).unwrap(), None);
/// let e = PromptEvidence { brands: vec!["ryobi".into()] };
/// e.save(&dir).unwrap();
/// assert_eq!(PromptEvidence::load(&dir).unwrap(), Some(e.clone()));
/// let item = taosr1_cot::Item { query: "ryobi drill".into(), product: taosr1_cot::Product { title: "Ryobi 18V Drill".into(), ..Default::default() }, ..Default::default() };
/// let shown = e.teacher(Default::default()).annotate(&item);
/// assert!(shown.product.attributes[taosr1_cot::teacher::EVIDENCE_ATTRIBUTE].contains("brand"));
/// std::fs::remove_dir_all(&dir).ok();
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptEvidence {
    /// The brand lexicon ([`RuleTeacher::with_brands`]), normalised words.
    pub brands: Vec<String>,
}

impl PromptEvidence {
    /// Write `dir/`[`EVIDENCE_FILE`] atomically.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file.
    ///
    /// ```
    /// let e = taosr1::real::PromptEvidence { brands: vec![] };
    /// let err = e.save(std::path::Path::new("/no/such/folder")).unwrap_err();
    /// assert!(err.to_string().contains("/no/such/folder"));
    /// ```
    pub fn save(&self, dir: &Path) -> Result<(), Error> {
        let path = dir.join(EVIDENCE_FILE);
        let text = to_json(self, dir)?;
        taosr1_model::write_atomic(&path, text.as_bytes()).map_err(|e| Error::io(&path, e))
    }

    /// Read `dir/`[`EVIDENCE_FILE`]; `None` when the folder has none (its prompts had no
    /// findings).
    ///
    /// # Errors
    /// [`Error::Io`] for an unreadable file, [`Error::Input`] naming it when malformed.
    ///
    /// ```
    /// use taosr1::real::{PromptEvidence, EVIDENCE_FILE};
    /// let dir = std::env::temp_dir().join(format!("evidence-bad-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// std::fs::write(dir.join(EVIDENCE_FILE), r#"{"brand": []}"#).unwrap();
    /// let err = PromptEvidence::load(&dir).unwrap_err().to_string();
    /// assert!(err.contains(EVIDENCE_FILE) && err.contains("brand"));
    /// std::fs::remove_dir_all(&dir).ok();
    /// ```
    pub fn load(dir: &Path) -> Result<Option<Self>, Error> {
        let path = dir.join(EVIDENCE_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::Input(format!("{}: {e}", path.display())))
    }

    /// The analyser that annotates items the way the checkpoint's training prompts were.
    ///
    /// ```
    /// use taosr1::real::PromptEvidence;
    /// let t = PromptEvidence { brands: vec!["Ryobi".into()] }.teacher(Default::default());
    /// assert!(t.brands().contains("ryobi"));
    /// ```
    pub fn teacher(&self, scale: GradeScale) -> RuleTeacher {
        RuleTeacher::new(RuleBook::default_rules(), scale).with_brands(&self.brands)
    }
}

/// Pretty JSON of a serialisable value; errors name the checkpoint folder.
fn to_json<T: Serialize>(value: &T, dir: &Path) -> Result<String, Error> {
    serde_json::to_string_pretty(value).map_err(|e| Error::Input(format!("{}: {e}", dir.display())))
}
