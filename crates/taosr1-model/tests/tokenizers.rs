//! Real Hugging Face tokenizer folders: special ids, chat templates and ids, compared with what
//! transformers 5 gives for the same folders (`tests/fixtures/tokenizers/*/reference.json`,
//! written by `scripts/fixtures/make_tokenizers.py`).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use taosr1_model::{ChatMessage, ModelError, TaoTokenizer};

mod common;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tokenizers")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn opt_id(v: &Value) -> Option<u32> {
    v.as_u64().map(|x| x as u32)
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// Every conversation and string of `reference` against `tok`; returns how many were checked.
fn check_against_reference(tok: &TaoTokenizer, reference: &Value, what: &str) -> usize {
    let special = &reference["special"];
    assert_eq!(tok.bos_id(), opt_id(&special["bos"]), "{what}: bos");
    assert_eq!(tok.unk_id(), opt_id(&special["unk"]), "{what}: unk");
    assert_eq!(Some(tok.eos_id()), opt_id(&special["eos"]), "{what}: eos");
    assert_eq!(Some(tok.pad_id()), opt_id(&special["pad"]), "{what}: pad");
    assert_eq!(tok.eos_ids(), ids(&special["eos_ids"]), "{what}: eos_ids");
    assert_eq!(
        tok.vocab_size() as u64,
        reference["vocab_size"].as_u64().unwrap(),
        "{what}: vocab"
    );
    let mut checked = 0;
    for chat in reference["chats"].as_array().unwrap() {
        let name = chat["name"].as_str().unwrap();
        let messages = chat["messages"].as_array().unwrap();
        let add_generation = chat["add_generation_prompt"].as_bool().unwrap();
        let kwargs = &chat["kwargs"];
        let want_text = chat["text"].as_str().unwrap();
        let template = tok.chat_template().unwrap();
        let text = template
            .render_values(messages, add_generation, kwargs)
            .unwrap();
        assert_eq!(text, want_text, "{what}/{name}: rendered text");
        // the same through the role/content API
        let typed: Vec<ChatMessage> = messages
            .iter()
            .map(|m| serde_json::from_value(m.clone()).unwrap())
            .collect();
        assert_eq!(
            tok.render_chat(&typed, add_generation, kwargs).unwrap(),
            want_text,
            "{what}/{name}: render_chat"
        );
        let got = tok
            .apply_chat_template(&typed, add_generation, kwargs)
            .unwrap();
        assert_eq!(got, ids(&chat["ids"]), "{what}/{name}: ids");
        assert_eq!(
            tok.apply_chat_template_values(messages, add_generation, kwargs)
                .unwrap(),
            got,
            "{what}/{name}: ids from JSON messages"
        );
        checked += 1;
    }
    for case in reference["encode"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        assert_eq!(
            tok.encode(text).unwrap(),
            ids(&case["ids"]),
            "{what}: encode {text:?}"
        );
        assert_eq!(
            tok.encode_with_special_tokens(text).unwrap(),
            ids(&case["ids_with_special_tokens"]),
            "{what}: encode with special tokens {text:?}"
        );
        checked += 1;
    }
    checked
}

fn family(name: &str) -> (TaoTokenizer, Value) {
    let dir = fixtures().join(name);
    (
        TaoTokenizer::from_pretrained(&dir).unwrap(),
        read_json(&dir.join("reference.json")),
    )
}

#[test]
fn qwen2_matches_transformers() {
    let (tok, reference) = family("qwen2");
    assert_eq!(check_against_reference(&tok, &reference, "qwen2"), 6 + 7);
    // Qwen2.5: no bos, no unk; eos <|im_end|>; pad <|endoftext|>; generation also ends on it
    let id = |t: &str| tok.token_to_id(t).unwrap();
    assert_eq!((tok.bos_id(), tok.unk_id()), (None, None));
    assert_eq!(tok.eos_id(), id("<|im_end|>"));
    assert_eq!(tok.pad_id(), id("<|endoftext|>"));
    assert_eq!(tok.eos_ids(), &[id("<|im_end|>"), id("<|endoftext|>")]);
    // the default system prompt when the conversation has none
    let text = tok
        .render_chat(&[ChatMessage::user("hi")], false, &Value::Null)
        .unwrap();
    assert!(text.starts_with(
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
    ));
    assert_eq!(tok.vocab_size(), 512);
}

#[test]
fn qwen3_matches_transformers_with_and_without_thinking() {
    let (tok, reference) = family("qwen3");
    assert_eq!(check_against_reference(&tok, &reference, "qwen3"), 8 + 7);
    let msgs = [ChatMessage::user("red shoes?")];
    let off = tok
        .render_chat(&msgs, true, &json!({ "enable_thinking": false }))
        .unwrap();
    assert!(
        off.ends_with("<|im_start|>assistant\n<think>\n\n</think>\n\n"),
        "{off:?}"
    );
    let on = tok.render_chat(&msgs, true, &Value::Null).unwrap();
    assert!(on.ends_with("<|im_start|>assistant\n"), "{on:?}");
    // <think> and </think> are single (added, not special) tokens
    let ids = tok
        .apply_chat_template(&msgs, true, &json!({ "enable_thinking": false }))
        .unwrap();
    let think = tok.token_to_id("<think>").unwrap();
    let end = tok.token_to_id("</think>").unwrap();
    assert_eq!(ids.iter().filter(|&&i| i == think).count(), 1);
    assert_eq!(ids.iter().filter(|&&i| i == end).count(), 1);
    // reasoning of earlier turns is dropped, the last turn's is kept
    let history = [
        json!({"role": "user", "content": "q1"}),
        json!({"role": "assistant", "content": "a1", "reasoning_content": "r1"}),
        json!({"role": "user", "content": "q2"}),
        json!({"role": "assistant", "content": "<think>\nr2\n</think>\n\na2"}),
    ];
    let text = tok
        .chat_template()
        .unwrap()
        .render_values(&history, false, &Value::Null)
        .unwrap();
    assert_eq!(
        text,
        "<|im_start|>user\nq1<|im_end|>\n<|im_start|>assistant\na1<|im_end|>\n\
         <|im_start|>user\nq2<|im_end|>\n<|im_start|>assistant\n<think>\nr2\n</think>\n\na2<|im_end|>\n"
    );
}

#[test]
fn llama3_matches_transformers() {
    let (tok, reference) = family("llama3");
    assert_eq!(check_against_reference(&tok, &reference, "llama3"), 7 + 7);
    let id = |t: &str| tok.token_to_id(t).unwrap();
    assert_eq!(tok.bos_id(), Some(id("<|begin_of_text|>")));
    assert_eq!(tok.unk_id(), None);
    assert_eq!(tok.eos_id(), id("<|eot_id|>"));
    // no pad token, no pad_token_id: padding falls back to eos
    assert_eq!(tok.pad_id(), id("<|eot_id|>"));
    // generation ends on any of generation_config's three, the tokenizer's own first
    assert_eq!(
        tok.eos_ids(),
        &[id("<|eot_id|>"), id("<|end_of_text|>"), id("<|eom_id|>")]
    );
    // without date_string the template asks strftime_now for today's date
    let text = tok
        .render_chat(&[ChatMessage::user("hi")], true, &Value::Null)
        .unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("Today Date: "))
        .unwrap();
    let date = line.trim_start_matches("Today Date: ");
    let parts: Vec<&str> = date.split(' ').collect();
    assert_eq!(parts.len(), 3, "{date}");
    assert_eq!(parts[0].len(), 2);
    assert!(parts[2].parse::<u32>().unwrap() >= 2025);
    // raise_exception from the template: a typed error naming the template file
    let tools = json!({"tools": [{"name": "f"}]});
    let err = tok.render_chat(&[ChatMessage::system("s")], false, &tools);
    match err {
        Err(ModelError::ChatTemplateRender { path, message }) => {
            assert!(path.ends_with("chat_template.jinja"), "{path}");
            assert!(message.contains("no first user message"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn smollm2_matches_transformers() {
    let (tok, reference) = family("smollm2");
    assert_eq!(check_against_reference(&tok, &reference, "smollm2"), 6 + 7);
    // <|endoftext|>=0 (unk), <|im_start|>=1 (bos), <|im_end|>=2 (eos, pad)
    assert_eq!(tok.unk_id(), Some(0));
    assert_eq!(tok.bos_id(), Some(1));
    assert_eq!((tok.eos_id(), tok.pad_id()), (2, 2));
    assert_eq!(tok.eos_ids(), &[2]);
    // byte-level BPE never produces the unk id, whatever the text
    let ids = tok.encode("Gartenschlauch Ärger 🦀 ±∞").unwrap();
    assert!(!ids.contains(&0));
    assert_eq!(tok.decode(&ids).unwrap(), "Gartenschlauch Ärger 🦀 ±∞");
}

/// The real SmolLM2-135M-Instruct tokenizer (3.5 MB, not committed; see `tests/common`).
/// Skipped when absent.
#[test]
fn real_smollm2_matches_transformers() {
    let Some(dir) = common::smollm2_dir() else {
        return;
    };
    let tok = TaoTokenizer::from_pretrained(&dir).unwrap();
    let reference = read_json(&fixtures().join("smollm2-real-reference.json"));
    assert_eq!(
        check_against_reference(&tok, &reference, "real smollm2"),
        6 + 7
    );
    assert_eq!(tok.vocab_size(), 49152);
}

// ---- bad folders: typed errors naming the file and the field ----------------------------

struct TempDir(PathBuf);

impl TempDir {
    /// A fresh folder holding a copy of the qwen2 fixture's `tokenizer.json`.
    fn with_qwen2_tokenizer(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("taosr1-tok-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(
            fixtures().join("qwen2/tokenizer.json"),
            dir.join("tokenizer.json"),
        )
        .unwrap();
        Self(dir)
    }

    fn write(&self, name: &str, text: &str) -> &Self {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    fn load(&self) -> Result<TaoTokenizer, ModelError> {
        TaoTokenizer::from_pretrained(&self.0)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn assert_field_error(result: Result<TaoTokenizer, ModelError>, file: &str, field: &str) {
    match result {
        Err(ModelError::TokenizerField {
            path,
            field: f,
            reason,
        }) => {
            assert!(path.ends_with(file), "{path} should be {file}");
            assert_eq!(f, field, "{reason}");
        }
        other => panic!("expected a field error for {file} `{field}`, got {other:?}"),
    }
}

#[test]
fn missing_or_corrupt_tokenizer_json_is_a_typed_error() {
    let dir = TempDir::with_qwen2_tokenizer("missing");
    std::fs::remove_file(dir.0.join("tokenizer.json")).unwrap();
    match dir.load() {
        Err(ModelError::Io { path, .. }) => assert!(path.ends_with("tokenizer.json"), "{path}"),
        other => panic!("{other:?}"),
    }
    dir.write("tokenizer.json", r#"{"model": {"type": "NoSuchModel"}}"#);
    match dir.load() {
        Err(ModelError::TokenizerFile { path, .. }) => {
            assert!(path.ends_with("tokenizer.json"), "{path}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_tokenizer_config_fields_are_typed_errors() {
    let dir = TempDir::with_qwen2_tokenizer("config");
    dir.write("tokenizer_config.json", "{ not json");
    match dir.load() {
        Err(ModelError::Json { path, .. }) => {
            assert!(path.ends_with("tokenizer_config.json"), "{path}")
        }
        other => panic!("{other:?}"),
    }
    dir.write("tokenizer_config.json", "[1, 2]");
    assert_field_error(dir.load(), "tokenizer_config.json", "(top level)");
    dir.write("tokenizer_config.json", r#"{"eos_token": 7}"#);
    assert_field_error(dir.load(), "tokenizer_config.json", "eos_token");
    dir.write("tokenizer_config.json", r#"{"eos_token": {"content": 7}}"#);
    assert_field_error(dir.load(), "tokenizer_config.json", "eos_token.content");
    dir.write(
        "tokenizer_config.json",
        r#"{"eos_token": "<|im_end|>", "unk_token": "<unk>"}"#,
    );
    assert_field_error(dir.load(), "tokenizer_config.json", "unk_token");
    dir.write(
        "tokenizer_config.json",
        r#"{"eos_token": "<|im_end|>", "chat_template": 3}"#,
    );
    assert_field_error(dir.load(), "tokenizer_config.json", "chat_template");
    dir.write(
        "tokenizer_config.json",
        r#"{"eos_token": "<|im_end|>", "chat_template": [{"name": "default"}]}"#,
    );
    assert_field_error(
        dir.load(),
        "tokenizer_config.json",
        "chat_template[0].template",
    );
    // no eos anywhere
    dir.write("tokenizer_config.json", r#"{"bos_token": null}"#);
    assert_field_error(dir.load(), "tokenizer_config.json", "eos_token");
}

#[test]
fn added_tokens_decoder_must_agree_with_tokenizer_json() {
    let dir = TempDir::with_qwen2_tokenizer("decoder");
    let tok = TaoTokenizer::from_pretrained(&fixtures().join("qwen2")).unwrap();
    let end = tok.token_to_id("<|im_end|>").unwrap();
    dir.write(
        "tokenizer_config.json",
        &format!(
            r#"{{"eos_token": "<|im_end|>", "added_tokens_decoder": {{"{}": {{"content": "<|im_end|>", "special": true}}}}}}"#,
            end + 1
        ),
    );
    assert_field_error(
        dir.load(),
        "tokenizer_config.json",
        &format!("added_tokens_decoder.{}", end + 1),
    );
    dir.write(
        "tokenizer_config.json",
        r#"{"eos_token": "<|im_end|>", "added_tokens_decoder": {"x": {"content": "<|im_end|>"}}}"#,
    );
    assert_field_error(
        dir.load(),
        "tokenizer_config.json",
        "added_tokens_decoder.x",
    );
}

#[test]
fn bad_generation_config_fields_are_typed_errors() {
    let dir = TempDir::with_qwen2_tokenizer("gen");
    dir.write("tokenizer_config.json", r#"{"eos_token": "<|im_end|>"}"#);
    dir.write("generation_config.json", r#"{"eos_token_id": [1, "two"]}"#);
    assert_field_error(dir.load(), "generation_config.json", "eos_token_id[1]");
    dir.write("generation_config.json", r#"{"eos_token_id": 100000}"#);
    assert_field_error(dir.load(), "generation_config.json", "eos_token_id");
    dir.write("generation_config.json", r#"{"pad_token_id": -1}"#);
    assert_field_error(dir.load(), "generation_config.json", "pad_token_id");
    // eos and pad taken from generation_config alone
    dir.write("tokenizer_config.json", "{}");
    dir.write(
        "generation_config.json",
        r#"{"eos_token_id": [7, 9, 7], "pad_token_id": 3}"#,
    );
    let tok = dir.load().unwrap();
    assert_eq!(
        (tok.eos_id(), tok.eos_ids(), tok.pad_id()),
        (7, &[7, 9][..], 3)
    );
    // an int, not a list
    dir.write("generation_config.json", r#"{"eos_token_id": 11}"#);
    let tok = dir.load().unwrap();
    assert_eq!(
        (tok.eos_id(), tok.eos_ids(), tok.pad_id()),
        (11, &[11][..], 11)
    );
}

#[test]
fn chat_template_errors_are_typed_and_name_the_file() {
    let dir = TempDir::with_qwen2_tokenizer("template");
    dir.write("tokenizer_config.json", r#"{"eos_token": "<|im_end|>"}"#);
    // no template at all: loads, but applying one is a typed error
    let tok = dir.load().unwrap();
    assert!(tok.chat_template().is_none());
    match tok.apply_chat_template(&[ChatMessage::user("hi")], true, &Value::Null) {
        Err(ModelError::NoChatTemplate { source_name }) => {
            assert!(source_name.contains("taosr1-tok-template"), "{source_name}")
        }
        other => panic!("{other:?}"),
    }
    // a syntax error in chat_template.jinja
    dir.write(
        "chat_template.jinja",
        "{% for m in messages %}\n{{ m.content }\n{% endfor %}",
    );
    match dir.load() {
        Err(ModelError::ChatTemplateSyntax {
            path,
            line,
            message,
        }) => {
            assert!(path.ends_with("chat_template.jinja"), "{path}");
            assert_eq!(line, 2, "{message}");
        }
        other => panic!("{other:?}"),
    }
    // ... and in tokenizer_config.json's field
    std::fs::remove_file(dir.0.join("chat_template.jinja")).unwrap();
    dir.write(
        "tokenizer_config.json",
        r#"{"eos_token": "<|im_end|>", "chat_template": "{% if %}"}"#,
    );
    match dir.load() {
        Err(ModelError::ChatTemplateSyntax { path, .. }) => {
            assert!(
                path.contains("tokenizer_config.json (chat_template)"),
                "{path}"
            )
        }
        other => panic!("{other:?}"),
    }
    // bad call arguments
    let tok = TaoTokenizer::from_pretrained(&fixtures().join("qwen2")).unwrap();
    let msgs = [ChatMessage::user("hi")];
    assert!(matches!(
        tok.apply_chat_template(&[], true, &Value::Null),
        Err(ModelError::Input(_))
    ));
    assert!(matches!(
        tok.apply_chat_template(&msgs, true, &json!([1])),
        Err(ModelError::Input(_))
    ));
    assert!(matches!(
        tok.apply_chat_template(&msgs, true, &json!({"messages": []})),
        Err(ModelError::Input(_))
    ));
}

/// An older folder: special tokens as `{"content": ...}` objects, `added_tokens_decoder`,
/// templates as a named list in `tokenizer_config.json`, no `chat_template.jinja`.
#[test]
fn legacy_folder_with_template_list_and_token_objects() {
    let dir = TempDir::with_qwen2_tokenizer("legacy");
    let qwen = TaoTokenizer::from_pretrained(&fixtures().join("qwen2")).unwrap();
    let end = qwen.token_to_id("<|im_end|>").unwrap();
    let config = json!({
        "eos_token": {"content": "<|im_end|>", "lstrip": false, "normalized": false,
                      "rstrip": false, "single_word": false, "special": true},
        "pad_token": {"content": "<|endoftext|>", "special": true},
        "bos_token": null,
        "added_tokens_decoder": {
            end.to_string(): {"content": "<|im_end|>", "special": true}
        },
        "chat_template": [
            {"name": "default", "template": "{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}"},
            {"name": "tool_use", "template": "{{ tools | length }} tools"}
        ]
    });
    dir.write("tokenizer_config.json", &config.to_string());
    // ignored: tokenizer_config.json has added_tokens_decoder (as in transformers)
    dir.write(
        "special_tokens_map.json",
        r#"{"eos_token": "<|endoftext|>"}"#,
    );
    let tok = dir.load().unwrap();
    assert_eq!(tok.eos_id(), end);
    assert_eq!(tok.pad_id(), qwen.token_to_id("<|endoftext|>").unwrap());
    assert_eq!(tok.chat_template_names(), vec!["default", "tool_use"]);
    let text = tok
        .render_chat(&[ChatMessage::user("hi")], false, &Value::Null)
        .unwrap();
    assert_eq!(text, "[user]hi<|im_end|>");
    let tools = tok
        .chat_template_named("tool_use")
        .unwrap()
        .render(&[ChatMessage::user("hi")], false, &json!({"tools": [1, 2]}))
        .unwrap();
    assert_eq!(tools, "2 tools");

    // without added_tokens_decoder, special_tokens_map.json overrides (transformers' legacy path)
    dir.write(
        "tokenizer_config.json",
        r#"{"eos_token": "<|im_end|>", "chat_template": "{{ eos_token }}"}"#,
    );
    dir.write(
        "special_tokens_map.json",
        r#"{"eos_token": {"content": "<|endoftext|>"}, "unk_token": "<|endoftext|>"}"#,
    );
    let tok = dir.load().unwrap();
    let eot = qwen.token_to_id("<|endoftext|>").unwrap();
    assert_eq!((tok.eos_id(), tok.unk_id()), (eot, Some(eot)));
    assert_eq!(
        tok.render_chat(&[ChatMessage::user("x")], false, &Value::Null)
            .unwrap(),
        "<|endoftext|>"
    );
    dir.write("special_tokens_map.json", r#"{"unk_token": "<nope>"}"#);
    assert_field_error(dir.load(), "special_tokens_map.json", "unk_token");

    // chat_template.jinja and additional_chat_templates/ win over the config's field
    dir.write("special_tokens_map.json", "{}");
    dir.write("chat_template.jinja", "file:{{ messages[0].content }}");
    dir.write("additional_chat_templates/rag.jinja", "rag");
    let tok = dir.load().unwrap();
    assert_eq!(tok.chat_template_names(), vec!["default", "rag"]);
    assert_eq!(
        tok.render_chat(&[ChatMessage::user("x")], false, &Value::Null)
            .unwrap(),
        "file:x"
    );
}

/// The project's word-level tokenizer keeps its four literal specials.
#[test]
fn word_level_tokenizer_keeps_its_specials() {
    let tok = TaoTokenizer::build_word_level(["a b c"], &[]).unwrap();
    assert_eq!(
        (tok.pad_id(), tok.unk_id(), tok.bos_id(), tok.eos_id()),
        (0, Some(1), Some(2), 3)
    );
    assert_eq!(tok.eos_ids(), &[3]);
    assert!(tok.chat_template().is_none());
    assert_eq!(
        tok.encode("a zzz").unwrap(),
        vec![tok.token_to_id("a").unwrap(), 1]
    );
    assert_eq!(
        tok.encode_with_special_tokens("a").unwrap(),
        tok.encode("a").unwrap()
    );
}
