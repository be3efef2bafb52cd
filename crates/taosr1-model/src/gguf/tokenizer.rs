//! A `tokenizers` byte-level BPE tokenizer from `tokenizer.ggml.*` metadata, built the way
//! transformers' GGUF loader builds it (`byte_level_tokenizer`, `add_gguf_special_tokens`,
//! `set_split_regex` in `integrations/gguf/gguf_tokenizer_mapping.py`).

use std::collections::HashSet;

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, PreTokenizerWrapper, SplitDelimiterBehavior, Tokenizer};

use super::arch::wrong_type;
use super::{GgufError, GgufFile, GgufSpecials, GgufValue};

/// `token_type` of a control token (`<|im_start|>`), added as a special token.
const CONTROL: i64 = 3;
/// `token_type` of a user-defined token (`<think>`), added as a plain added token.
const USER_DEFINED: i64 = 4;

const LLAMA3_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// The split regex for a `tokenizer.ggml.pre` value, `None` for GPT-2's own (`gpt2`,
/// `smollm`, ... anything transformers does not list).
fn split_regex(pre: &str) -> Option<&'static str> {
    match pre {
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral" | "midm-2.0"
        | "lfm2" | "jina-v5-nano" | "dbrx" | "smaug-bpe" => Some(LLAMA3_SPLIT),
        "qwen2" | "deepseek-r1-qwen" | "kormo" | "f2llmv2" | "megrez" => Some(QWEN2_SPLIT),
        _ => None,
    }
}

/// GPT-2's `bytes_to_unicode`: the printable character standing for each byte.
pub(crate) fn bytes_to_unicode() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 256u32;
    for b in 0..=255u8 {
        let printable = matches!(b, b'!'..=b'~' | 0xa1..=0xac | 0xae..=0xff);
        table[usize::from(b)] = if printable {
            char::from(b)
        } else {
            let c = char::from_u32(next).unwrap_or('\u{fffd}'); // 256..=323: always valid
            next += 1;
            c
        };
    }
    table
}

fn opt_id(file: &GgufFile, key: &str) -> Result<Option<u32>, GgufError> {
    let Some(v) = file.get(key) else {
        return Ok(None);
    };
    let id = v
        .as_u64()
        .and_then(|id| u32::try_from(id).ok())
        .ok_or_else(|| wrong_type(key, "a token id", v))?;
    Ok(Some(id))
}

fn opt_bool(file: &GgufFile, key: &str) -> Result<bool, GgufError> {
    match file.get(key) {
        None => Ok(false),
        Some(v) => v.as_bool().ok_or_else(|| wrong_type(key, "bool", v)),
    }
}

/// Special ids and flags from the metadata.
pub(super) fn specials(file: &GgufFile) -> Result<GgufSpecials, GgufError> {
    Ok(GgufSpecials {
        bos: opt_id(file, "tokenizer.ggml.bos_token_id")?,
        eos: opt_id(file, "tokenizer.ggml.eos_token_id")?,
        pad: opt_id(file, "tokenizer.ggml.padding_token_id")?,
        unk: opt_id(file, "tokenizer.ggml.unknown_token_id")?,
        add_bos: opt_bool(file, "tokenizer.ggml.add_bos_token")?,
        add_eos: opt_bool(file, "tokenizer.ggml.add_eos_token")?,
    })
}

fn string_array<'a>(file: &'a GgufFile, key: &str) -> Result<Option<Vec<&'a str>>, GgufError> {
    let Some(v) = file.get(key) else {
        return Ok(None);
    };
    let items = v
        .as_array()
        .ok_or_else(|| wrong_type(key, "an array of strings", v))?;
    items
        .iter()
        .map(|item| {
            item.as_str()
                .ok_or_else(|| wrong_type(key, "an array of strings", item))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn tok_err(reason: impl std::fmt::Display) -> GgufError {
    GgufError::Tokenizer {
        reason: reason.to_string(),
    }
}

/// The tokenizer the metadata describes (`tokenizer.ggml.model == "gpt2"` only).
pub(super) fn build(file: &GgufFile, sp: &GgufSpecials) -> Result<Tokenizer, GgufError> {
    let model = super::arch::str_key(file, "tokenizer.ggml.model")?;
    if model != "gpt2" {
        return Err(tok_err(format!(
            "tokenizer.ggml.model `{model}` is not supported (only byte-level BPE, `gpt2`)"
        )));
    }
    let tokens =
        string_array(file, "tokenizer.ggml.tokens")?.ok_or_else(|| GgufError::MissingKey {
            key: "tokenizer.ggml.tokens".into(),
        })?;
    let merges =
        string_array(file, "tokenizer.ggml.merges")?.ok_or_else(|| GgufError::MissingKey {
            key: "tokenizer.ggml.merges".into(),
        })?;
    let types: Vec<i64> = match file.get("tokenizer.ggml.token_type") {
        None => Vec::new(),
        Some(v) => {
            let key = "tokenizer.ggml.token_type";
            let items = v
                .as_array()
                .ok_or_else(|| wrong_type(key, "an integer array", v))?;
            items
                .iter()
                .map(|t: &GgufValue| {
                    t.as_i64()
                        .ok_or_else(|| wrong_type(key, "an integer array", t))
                })
                .collect::<Result<_, _>>()?
        }
    };
    if !types.is_empty() && types.len() != tokens.len() {
        return Err(tok_err(format!(
            "{} token types for {} tokens",
            types.len(),
            tokens.len()
        )));
    }
    let spelling = bytes_to_unicode();
    let alphabet: HashSet<char> = spelling.iter().copied().collect();
    let spelled = |t: &str| t.chars().all(|c| alphabet.contains(&c));
    // a token outside the byte alphabet is respelled byte by byte, as transformers does
    let vocab: Vocab = tokens
        .iter()
        .enumerate()
        .map(|(id, &t)| {
            let key = if spelled(t) {
                t.to_string()
            } else {
                t.bytes().map(|b| spelling[usize::from(b)]).collect()
            };
            (key, id as u32) // tokens.len() < file size / 8, far below u32::MAX
        })
        .collect();
    let merges = merges
        .iter()
        .enumerate()
        .map(|(i, m)| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| tok_err(format!("merge #{i} `{m}` has no space")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(tok_err)?;
    let mut tokenizer = Tokenizer::new(bpe);
    let pre: Option<PreTokenizerWrapper> = match file
        .get("tokenizer.ggml.pre")
        .and_then(|v| v.as_str())
        .and_then(split_regex)
    {
        None => Some(ByteLevel::new(false, true, true).into()),
        Some(re) => {
            let split = Split::new(
                SplitPattern::Regex(re.into()),
                SplitDelimiterBehavior::Isolated,
                false,
            )
            .map_err(tok_err)?;
            Some(
                Sequence::new(vec![
                    split.into(),
                    ByteLevel::new(false, true, false).into(),
                ])
                .into(),
            )
        }
    };
    tokenizer.with_pre_tokenizer(pre);
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));

    // control tokens whole, as special; user-defined ones whole, as plain added tokens
    let token_at = |id: Option<u32>| id.and_then(|id| tokens.get(id as usize).copied());
    let mut special: Vec<AddedToken> = Vec::new();
    let mut user: Vec<AddedToken> = Vec::new();
    for (&t, &ty) in tokens.iter().zip(types.iter()) {
        if ty == CONTROL && spelled(t) {
            special.push(AddedToken::from(t, true).normalized(false));
        } else if ty == USER_DEFINED {
            user.push(AddedToken::from(t, false).normalized(false));
        }
    }
    for t in [sp.bos, sp.eos, sp.unk, sp.pad]
        .into_iter()
        .filter_map(&token_at)
    {
        if spelled(t) && !special.iter().any(|a| a.content == t) {
            special.push(AddedToken::from(t, true).normalized(false));
        }
    }
    tokenizer.add_special_tokens(&special);
    tokenizer.add_tokens(&user);

    if sp.add_bos || sp.add_eos {
        let bos = token_at(sp.bos).filter(|_| sp.add_bos);
        let eos = token_at(sp.eos).filter(|_| sp.add_eos);
        let wrap = |seq: &str, type_id: u32| {
            let mut parts = Vec::new();
            parts.extend(bos.map(|t| format!("{t}:{type_id}")));
            parts.push(format!("${seq}:{type_id}"));
            parts.extend(eos.map(|t| format!("{t}:{type_id}")));
            parts.join(" ")
        };
        let mut specials_list = Vec::new();
        if let (Some(t), Some(id)) = (bos, sp.bos) {
            specials_list.push((t.to_string(), id));
        }
        if let (Some(t), Some(id)) = (eos, sp.eos)
            && !specials_list.iter().any(|(s, _)| s == t)
        {
            specials_list.push((t.to_string(), id));
        }
        let post = TemplateProcessing::builder()
            .try_single(wrap("A", 0))
            .map_err(tok_err)?
            .try_pair(format!("{} {}", wrap("A", 0), wrap("B", 1)))
            .map_err(tok_err)?
            .special_tokens(specials_list)
            .build()
            .map_err(tok_err)?;
        tokenizer.with_post_processor(Some(post));
    }
    Ok(tokenizer)
}

/// The [`crate::TaoTokenizer`] a GGUF file's metadata describes: the byte-level BPE, its
/// special ids (eos required; pad falls back to eos) and `tokenizer.chat_template`.
pub(crate) fn tao_tokenizer(
    file: &GgufFile,
    origin: &str,
) -> Result<crate::TaoTokenizer, crate::ModelError> {
    let wrap = |source| crate::ModelError::Gguf {
        path: origin.to_string(),
        source,
    };
    let sp = specials(file).map_err(wrap)?;
    let tokenizer = build(file, &sp).map_err(wrap)?;
    let eos = sp.eos.ok_or_else(|| {
        wrap(GgufError::MissingKey {
            key: "tokenizer.ggml.eos_token_id".into(),
        })
    })?;
    let mut templates = std::collections::BTreeMap::new();
    if let Some(v) = file.get("tokenizer.chat_template") {
        let source = v
            .as_str()
            .ok_or_else(|| wrap(wrong_type("tokenizer.chat_template", "a string", v)))?;
        let names = [
            ("bos_token", sp.bos),
            ("eos_token", Some(eos)),
            ("pad_token", sp.pad),
            ("unk_token", sp.unk),
        ];
        let strings: Vec<(String, String)> = names
            .iter()
            .filter_map(|(name, id)| {
                id.and_then(|i| tokenizer.id_to_token(i))
                    .map(|t| (name.to_string(), t))
            })
            .collect();
        let template =
            crate::ChatTemplate::new(source, format!("{origin}: tokenizer.chat_template"))?
                .with_special_tokens(strings);
        templates.insert(crate::tokenizer::DEFAULT_TEMPLATE.to_string(), template);
    }
    Ok(crate::TaoTokenizer::from_parts(
        tokenizer,
        crate::tokenizer::SpecialIds {
            pad: sp.pad.unwrap_or(eos),
            unk: sp.unk,
            bos: sp.bos,
            eos,
            eos_ids: vec![eos],
        },
        templates,
        origin.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_alphabet_is_gpt2s() {
        let t = bytes_to_unicode();
        assert_eq!(t[usize::from(b' ')], 'Ġ');
        assert_eq!(t[usize::from(b'\n')], 'Ċ');
        assert_eq!(t[usize::from(b'a')], 'a');
        assert_eq!(t[0], 'Ā');
        assert_eq!(t[0xad], '\u{143}'); // 'Ń', as transformers' bytes_to_unicode
        assert_eq!(t.iter().collect::<HashSet<_>>().len(), 256);
    }

    #[test]
    fn split_regex_follows_pre_type() {
        assert_eq!(split_regex("smollm"), None);
        assert_eq!(split_regex("gpt2"), None);
        assert_eq!(split_regex("qwen2"), Some(QWEN2_SPLIT));
        assert_eq!(split_regex("llama-bpe"), Some(LLAMA3_SPLIT));
    }
}
