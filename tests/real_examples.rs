//! `examples/logits` and `examples/generate` as a user runs them, on the committed tiny
//! transformers checkpoints: the JSON `logits` prints equals transformers' reference, and
//! `generate` prints what the library's greedy decoding through the chat template gives.

use std::path::{Path, PathBuf};
use std::process::Command;

use rand::SeedableRng;
use taosr1_model::{generate, load_pretrained, ChatMessage, SamplingConfig, TaoTokenizer};

mod common;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/taosr1-model/tests/fixtures")
}

#[derive(serde::Deserialize)]
struct Reference {
    ids: Vec<u32>,
    logits: Vec<Vec<f32>>,
    logprobs: Vec<f32>,
    greedy: Vec<u32>,
}

#[test]
fn logits_prints_one_json_object_equal_to_transformers() {
    let Some(bin) = common::example_bin("logits") else {
        eprintln!("skipped: the logits example is not built (run through `cargo test`)");
        return;
    };
    for family in ["qwen3", "llama"] {
        let dir = fixtures().join("models").join(family);
        let r: Reference =
            serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
                .unwrap();
        let ids: Vec<String> = r.ids.iter().map(u32::to_string).collect();
        let ids = ids.join(",");
        let stdout = common::run_ok(
            &bin,
            &[
                "--model",
                dir.to_str().unwrap(),
                "--ids",
                &ids,
                "--greedy",
                "16",
            ],
        );
        assert_eq!(
            stdout.trim().lines().count(),
            1,
            "exactly one line on stdout"
        );
        let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        let logits: Vec<Vec<f32>> = serde_json::from_value(v["logits"].clone()).unwrap();
        assert_eq!(logits.len(), r.ids.len());
        let d = logits
            .iter()
            .flatten()
            .zip(r.logits.iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(d <= 1e-4, "{family}: max |Δlogit| {d}");
        let lp: Vec<f32> = serde_json::from_value(v["logprobs"].clone()).unwrap();
        assert_eq!(lp.len(), r.ids.len() - 1);
        for (a, b) in lp.iter().zip(&r.logprobs) {
            assert!((a - b).abs() <= 1e-4, "{family}: logprob {a} vs {b}");
        }
        let greedy: Vec<u32> = serde_json::from_value(v["greedy"].clone()).unwrap();
        assert_eq!(greedy, r.greedy, "{family}");
    }
    // a token outside the vocabulary is an error naming the flag, nothing on stdout
    let dir = fixtures().join("models/qwen2");
    let out = Command::new(&bin)
        .args(["--model", dir.to_str().unwrap(), "--ids", "1,512"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--ids: token 512"));
}

#[test]
fn generate_prints_the_greedy_reply_through_the_chat_template() {
    let Some(bin) = common::example_bin("generate") else {
        eprintln!("skipped: the generate example is not built (run through `cargo test`)");
        return;
    };
    // a tiny qwen3 checkpoint next to the tiny qwen3 tokenizer folder (both vocab 512)
    let dir = common::scratch_dir("generate");
    for src in [
        fixtures().join("models/qwen3"),
        fixtures().join("tokenizers/qwen3"),
    ] {
        for entry in std::fs::read_dir(src).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name() != "reference.json" {
                std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
            }
        }
    }
    let prompt = "red running shoes";
    let printed = common::run_ok(
        &bin,
        &[
            "--model",
            dir.to_str().unwrap(),
            "--prompt",
            prompt,
            "--max-new-tokens",
            "6",
        ],
    );
    // the same through the library
    let device = Default::default();
    let loaded = load_pretrained(&dir, &device).unwrap();
    let tok = TaoTokenizer::from_pretrained(&dir).unwrap();
    let ids = tok
        .apply_chat_template(&[ChatMessage::user(prompt)], true, &serde_json::json!({}))
        .unwrap();
    let mut stop = tok.eos_ids().to_vec();
    stop.extend(&loaded.generation.eos_token_ids);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let generated = generate(
        &loaded.model,
        &[ids],
        tok.pad_id(),
        &stop,
        &SamplingConfig::greedy(6),
        &mut rng,
    )
    .unwrap();
    assert!(!generated[0].tokens.is_empty());
    assert_eq!(
        printed.trim_end_matches('\n'),
        tok.decode(&generated[0].tokens).unwrap()
    );
    std::fs::remove_dir_all(&dir).ok();
}
