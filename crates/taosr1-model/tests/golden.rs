//! Golden tests against Hugging Face transformers: tiny random qwen2, qwen3 and llama
//! checkpoints written by `scripts/fixtures/make_models.py` (transformers 5.24, float32,
//! fixed seeds), with the logits, per-token log-probabilities and 16 greedy ids transformers
//! computed. CI needs no Python: the folders and references are committed.

use std::path::{Path, PathBuf};

use burn::tensor::{Int, Tensor, TensorData};
use rand::SeedableRng;
use serde::Deserialize;
use taosr1_model::{
    generate, load_pretrained, Architecture, ModelError, RopeScaling, SamplingConfig,
};

#[derive(Deserialize)]
struct Reference {
    ids: Vec<u32>,
    logits: Vec<Vec<f32>>,
    logprobs: Vec<f32>,
    greedy: Vec<u32>,
}

fn fixture(family: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models")
        .join(family)
}

fn reference(family: &str) -> Reference {
    let text = std::fs::read_to_string(fixture(family).join("reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn dev() -> burn::tensor::Device {
    Default::default()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Tolerance on logits and log-probabilities: 1e-4 (f32 on the CPU). `TAOSR1_GOLDEN_ATOL`
/// overrides it for backends whose f32 matmul rounds more (CUDA tensor cores use TF32).
fn tolerance() -> f32 {
    std::env::var("TAOSR1_GOLDEN_ATOL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1e-4)
}

/// `[1, t]` token ids of a reference.
fn ids_tensor(ids: &[u32]) -> Tensor<2, Int> {
    let t = ids.len();
    Tensor::<2, Int>::from_data(
        TensorData::new(ids.iter().map(|&i| i as i64).collect::<Vec<_>>(), [1, t]),
        &dev(),
    )
}

/// Max |Δ| between `model`'s logits on the reference ids and transformers' logits.
fn logit_diff(model: &taosr1_model::Transformer, r: &Reference) -> f32 {
    let logits = model
        .forward(ids_tensor(&r.ids))
        .into_data()
        .try_to_vec_as::<f32>()
        .unwrap();
    let expected: Vec<f32> = r.logits.iter().flatten().copied().collect();
    max_abs_diff(&logits, &expected)
}

fn check_family(family: &str) {
    let r = reference(family);
    let loaded = load_pretrained(&fixture(family), &dev()).unwrap();
    let model = &loaded.model;
    let ids = ids_tensor(&r.ids);
    // every logit of every position
    let d_logit = logit_diff(model, &r);
    // per-token log-probabilities (entry 0 of ours has no context)
    let lp = model
        .token_logprobs(ids)
        .into_data()
        .try_to_vec_as::<f32>()
        .unwrap();
    let d_lp = max_abs_diff(&lp[1..], &r.logprobs);
    // 16 greedy ids through the KV-cache path
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let out = generate(
        model,
        std::slice::from_ref(&r.ids),
        0,
        &[],
        &SamplingConfig::greedy(16),
        &mut rng,
    )
    .unwrap();
    // the same prompt left-padded in a batch with a longer one gives the same greedy ids
    let mut longer = r.ids.clone();
    longer.extend([5, 6, 7]);
    let padded = generate(
        model,
        &[longer, r.ids.clone()],
        0,
        &[],
        &SamplingConfig::greedy(16),
        &mut rng,
    )
    .unwrap();
    eprintln!(
        "{family}: max |Δlogit| = {d_logit:e}, max |Δlogprob| = {d_lp:e}, greedy equal: {}, left-padded greedy equal: {}",
        out[0].tokens == r.greedy,
        padded[1].tokens == r.greedy
    );
    let tol = tolerance();
    assert!(d_logit <= tol, "{family}: max |Δlogit| = {d_logit}");
    assert!(d_lp <= tol, "{family}: max |Δlogprob| = {d_lp}");
    assert_eq!(out[0].tokens, r.greedy, "{family}: greedy ids differ");
    assert_eq!(
        padded[1].tokens, r.greedy,
        "{family}: greedy ids differ when left-padded"
    );
}

#[test]
fn qwen2_matches_transformers() {
    check_family("qwen2");
}

#[test]
fn qwen3_matches_transformers() {
    check_family("qwen3");
}

#[test]
fn llama_matches_transformers() {
    check_family("llama");
}

#[test]
fn configs_read_as_transformers_reads_them() {
    let q2 = load_pretrained(&fixture("qwen2"), &dev()).unwrap();
    assert_eq!(q2.config.architecture, Architecture::Qwen2);
    assert!(q2.config.attention_bias && q2.config.tie_word_embeddings);
    assert_eq!(q2.config.rope_theta, 1e6);
    assert_eq!(q2.generation.eos_token_ids, vec![2, 3]);
    assert_eq!(q2.generation.pad_token_id, Some(0));
    let q3 = load_pretrained(&fixture("qwen3"), &dev()).unwrap();
    assert_eq!(q3.config.architecture, Architecture::Qwen3);
    assert_eq!(q3.config.head_dim(), 32);
    assert!(!q3.config.attention_bias && !q3.config.tie_word_embeddings);
    assert!(q3.model.layers[0].self_attn.q_norm.is_some());
    let ll = load_pretrained(&fixture("llama"), &dev()).unwrap();
    assert_eq!(ll.config.architecture, Architecture::Llama);
    assert_eq!(ll.config.rope_theta, 5e5); // top-level in this 4.x-style config
    assert_eq!(
        ll.config.rope_scaling,
        RopeScaling::Llama3 {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 64
        }
    );
}

/// Copy a fixture folder to a temp dir and let `edit` change its config.json.
fn edited(family: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "taosr1-golden-{family}-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(fixture(family)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let path = dir.join("config.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
    dir
}

#[test]
fn unsupported_settings_are_typed_errors_never_defaults() {
    type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "qwen2",
            Box::new(|v| v["model_type"] = "mistral".into()),
            "model_type",
        ),
        (
            "qwen2",
            Box::new(|v| v["architectures"] = serde_json::json!(["GPT2LMHeadModel"])),
            "architectures",
        ),
        (
            "qwen2",
            Box::new(|v| v["use_sliding_window"] = true.into()),
            "use_sliding_window",
        ),
        (
            "llama",
            Box::new(|v| v["hidden_act"] = "gelu".into()),
            "hidden_act",
        ),
        (
            "llama",
            Box::new(|v| v["mlp_bias"] = true.into()),
            "mlp_bias",
        ),
        (
            "llama",
            Box::new(|v| v["rope_scaling"]["rope_type"] = "yarn".into()),
            "rope_scaling.rope_type",
        ),
        (
            "qwen3",
            Box::new(|v| v["rope_parameters"]["rope_type"] = "dynamic".into()),
            "rope_parameters.rope_type",
        ),
    ];
    for (family, edit, field) in cases {
        let dir = edited(family, edit);
        match load_pretrained(&dir, &dev()) {
            Err(ModelError::Unsupported { field: f, file, .. }) => {
                assert_eq!(f, field);
                assert!(file.ends_with("config.json"), "{file}");
            }
            other => panic!("{family}/{field}: expected Unsupported, got {other:?}"),
        }
        std::fs::remove_dir_all(dir).ok();
    }
}

#[test]
fn a_wrong_rope_theta_would_be_seen() {
    // The bug this guards against: a transformers-5 config whose rope_parameters were
    // ignored loaded with base 10000 and wrong logits. Moving the base must move the logits.
    let dir = edited("qwen2", |v| {
        v["rope_parameters"]["rope_theta"] = 10_000.0.into()
    });
    let r = reference("qwen2");
    let loaded = load_pretrained(&dir, &dev()).unwrap();
    assert!(logit_diff(&loaded.model, &r) > 1e-2);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn broken_shard_index_is_a_typed_error() {
    let dir = edited("llama", |_| {});
    std::fs::remove_file(dir.join("model-00002-of-00003.safetensors")).unwrap();
    let err = load_pretrained(&dir, &dev()).unwrap_err();
    assert!(
        matches!(&err, ModelError::Io { path, .. } if path.ends_with("model-00002-of-00003.safetensors")),
        "{err}"
    );
    std::fs::remove_dir_all(dir).ok();
}
