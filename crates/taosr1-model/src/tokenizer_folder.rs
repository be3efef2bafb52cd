//! Reading a Hugging Face tokenizer folder: `tokenizer.json`, `tokenizer_config.json`,
//! `special_tokens_map.json`, `chat_template.jinja`, `additional_chat_templates/`,
//! `generation_config.json` (see [`crate::TaoTokenizer::from_pretrained`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use tokenizers::Tokenizer;

use crate::chat::ChatTemplate;
use crate::tokenizer::{SpecialIds, DEFAULT_TEMPLATE};
use crate::{ModelError, TaoTokenizer};

/// transformers' `SPECIAL_TOKENS_ATTRIBUTES`: the named special tokens, in its order.
const ATTRS: [&str; 7] = [
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
];

fn field_err(path: &Path, field: impl Into<String>, reason: impl Into<String>) -> ModelError {
    ModelError::TokenizerField {
        path: path.display().to_string(),
        field: field.into(),
        reason: reason.into(),
    }
}

/// A JSON file that must hold an object; `None` when the file does not exist.
fn read_object(path: &Path) -> Result<Option<Map<String, Value>>, ModelError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ModelError::io(path, e)),
    };
    let value: Value = serde_json::from_str(&text).map_err(|source| ModelError::Json {
        path: path.display().to_string(),
        source,
    })?;
    match value {
        Value::Object(map) => Ok(Some(map)),
        other => Err(field_err(
            path,
            "(top level)",
            format!("expected a JSON object, found {}", kind(&other)),
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A special token as `tokenizer_config.json` / `special_tokens_map.json` write it: a string,
/// an `AddedToken` object `{"content": ...}`, or null.
fn token_value(path: &Path, field: &str, v: &Value) -> Result<Option<String>, ModelError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Object(o) => match o.get("content") {
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(field_err(
                path,
                format!("{field}.content"),
                format!("expected a string, found {}", kind(other)),
            )),
            None => Err(field_err(path, field, "the token object has no `content`")),
        },
        other => Err(field_err(
            path,
            field,
            format!(
                "expected a string, a {{\"content\": ...}} object or null, found {}",
                kind(other)
            ),
        )),
    }
}

/// `added_tokens_decoder` must agree with `tokenizer.json` (same token at the same id).
fn check_added_tokens(path: &Path, v: &Value, inner: &Tokenizer) -> Result<(), ModelError> {
    let Value::Object(entries) = v else {
        return Err(field_err(
            path,
            "added_tokens_decoder",
            format!("expected an object of id -> token, found {}", kind(v)),
        ));
    };
    for (key, entry) in entries {
        let field = format!("added_tokens_decoder.{key}");
        let id: u32 = key
            .parse()
            .map_err(|_| field_err(path, &field, "the key is not a token id"))?;
        let content = token_value(path, &field, entry)?
            .ok_or_else(|| field_err(path, &field, "the token is null"))?;
        match inner.token_to_id(&content) {
            Some(found) if found == id => {}
            Some(found) => {
                return Err(field_err(
                    path,
                    &field,
                    format!("`{content}` has id {found} in tokenizer.json, not {id}"),
                ))
            }
            None => {
                return Err(field_err(
                    path,
                    &field,
                    format!("`{content}` is not in tokenizer.json"),
                ))
            }
        }
    }
    Ok(())
}

fn compile(source: String, origin: String) -> Result<ChatTemplate, ModelError> {
    ChatTemplate::new(source, origin)
}

/// Templates in `tokenizer_config.json`'s `chat_template`: a string, or (older folders) a
/// list of `{"name": ..., "template": ...}`.
fn config_templates(path: &Path, v: &Value) -> Result<Vec<(String, ChatTemplate)>, ModelError> {
    let origin = |name: &str| format!("{} (chat_template {name})", path.display());
    match v {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(vec![(
            DEFAULT_TEMPLATE.to_string(),
            compile(s.clone(), format!("{} (chat_template)", path.display()))?,
        )]),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let field = format!("chat_template[{i}]");
                let get = |key: &str| match item.get(key) {
                    Some(Value::String(s)) => Ok(s.clone()),
                    _ => Err(field_err(
                        path,
                        format!("{field}.{key}"),
                        "expected a string".to_string(),
                    )),
                };
                let name = get("name")?;
                let template = get("template")?;
                let compiled = compile(template, origin(&name))?;
                out.push((name, compiled));
            }
            Ok(out)
        }
        other => Err(field_err(
            path,
            "chat_template",
            format!(
                "expected a string or a list of {{\"name\", \"template\"}}, found {}",
                kind(other)
            ),
        )),
    }
}

/// `chat_template.jinja` and `additional_chat_templates/*.jinja`; empty when there are none.
fn file_templates(dir: &Path) -> Result<Vec<(String, ChatTemplate)>, ModelError> {
    let mut out = Vec::new();
    let main = dir.join("chat_template.jinja");
    if main.is_file() {
        let text = std::fs::read_to_string(&main).map_err(|e| ModelError::io(&main, e))?;
        out.push((
            DEFAULT_TEMPLATE.to_string(),
            compile(text, main.display().to_string())?,
        ));
    }
    let extra = dir.join("additional_chat_templates");
    if extra.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&extra)
            .map_err(|e| ModelError::io(&extra, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jinja"))
            .collect();
        files.sort();
        for file in files {
            let name = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = std::fs::read_to_string(&file).map_err(|e| ModelError::io(&file, e))?;
            out.push((name, compile(text, file.display().to_string())?));
        }
    }
    Ok(out)
}

/// A token id of `generation_config.json`: a non-negative integer inside the vocabulary.
fn gen_id(path: &Path, field: &str, v: &Value, vocab: usize) -> Result<u32, ModelError> {
    let id = v
        .as_u64()
        .ok_or_else(|| field_err(path, field, format!("expected a token id, found {v}")))?;
    if id as usize >= vocab {
        return Err(field_err(
            path,
            field,
            format!("id {id} is outside tokenizer.json's vocabulary of {vocab}"),
        ));
    }
    Ok(id as u32)
}

/// `eos_token_id` (an id, a list of ids, or null) and `pad_token_id` of
/// `generation_config.json`.
fn generation_ids(
    path: &Path,
    cfg: &Map<String, Value>,
    vocab: usize,
) -> Result<(Vec<u32>, Option<u32>), ModelError> {
    let eos = match cfg.get("eos_token_id") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| gen_id(path, &format!("eos_token_id[{i}]"), v, vocab))
            .collect::<Result<_, _>>()?,
        Some(v) => vec![gen_id(path, "eos_token_id", v, vocab)?],
    };
    let pad = match cfg.get("pad_token_id") {
        None | Some(Value::Null) => None,
        Some(v) => Some(gen_id(path, "pad_token_id", v, vocab)?),
    };
    Ok((eos, pad))
}

/// Load the folder (see [`TaoTokenizer::from_pretrained`]).
pub(crate) fn load(dir: &Path) -> Result<TaoTokenizer, ModelError> {
    let tok_path = dir.join("tokenizer.json");
    let bytes = std::fs::read(&tok_path).map_err(|e| ModelError::io(&tok_path, e))?;
    let inner = Tokenizer::from_bytes(&bytes).map_err(|e| ModelError::TokenizerFile {
        path: tok_path.display().to_string(),
        reason: e.to_string(),
    })?;
    let vocab = inner.get_vocab_size(true);

    // named special tokens, each with the file that set it
    let cfg_path = dir.join("tokenizer_config.json");
    let cfg = read_object(&cfg_path)?.unwrap_or_default();
    let mut named: BTreeMap<&str, (Option<String>, PathBuf)> = BTreeMap::new();
    for attr in ATTRS {
        if let Some(v) = cfg.get(attr) {
            named.insert(attr, (token_value(&cfg_path, attr, v)?, cfg_path.clone()));
        }
    }
    if let Some(decoder) = cfg.get("added_tokens_decoder") {
        check_added_tokens(&cfg_path, decoder, &inner)?;
    } else {
        // legacy: transformers reads special_tokens_map.json only without added_tokens_decoder
        let map_path = dir.join("special_tokens_map.json");
        if let Some(map) = read_object(&map_path)? {
            for attr in ATTRS {
                if let Some(v) = map.get(attr) {
                    named.insert(attr, (token_value(&map_path, attr, v)?, map_path.clone()));
                }
            }
        }
    }
    let mut strings: BTreeMap<String, String> = BTreeMap::new();
    let mut ids: BTreeMap<&str, u32> = BTreeMap::new();
    for (attr, (token, file)) in &named {
        let Some(token) = token else { continue };
        let id = inner.token_to_id(token).ok_or_else(|| {
            field_err(
                file,
                *attr,
                format!("`{token}` is not in tokenizer.json's vocabulary"),
            )
        })?;
        ids.insert(attr, id);
        strings.insert((*attr).to_string(), token.clone());
    }

    // generation settings
    let gen_path = dir.join("generation_config.json");
    let (gen_eos, gen_pad) = match read_object(&gen_path)? {
        Some(config) => generation_ids(&gen_path, &config, vocab)?,
        None => (Vec::new(), None),
    };
    let eos = match ids.get("eos_token") {
        Some(id) => *id,
        None => *gen_eos.first().ok_or_else(|| {
            field_err(
                &cfg_path,
                "eos_token",
                "no end-of-sequence token: none set here, and no eos_token_id in \
                 generation_config.json",
            )
        })?,
    };
    let mut eos_ids = vec![eos];
    for id in gen_eos {
        if !eos_ids.contains(&id) {
            eos_ids.push(id);
        }
    }
    let special = SpecialIds {
        pad: ids.get("pad_token").copied().or(gen_pad).unwrap_or(eos),
        unk: ids.get("unk_token").copied(),
        bos: ids.get("bos_token").copied(),
        eos,
        eos_ids,
    };

    // chat templates: files win over tokenizer_config.json's field, as in transformers
    let mut found = file_templates(dir)?;
    if found.is_empty()
        && let Some(v) = cfg.get("chat_template")
    {
        found = config_templates(&cfg_path, v)?;
    }
    let templates = found
        .into_iter()
        .map(|(name, t)| (name, t.with_special_tokens(strings.clone())))
        .collect();
    Ok(TaoTokenizer::from_parts(
        inner,
        special,
        templates,
        dir.display().to_string(),
    ))
}
