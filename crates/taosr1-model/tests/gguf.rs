//! GGUF reader against references computed by gguf-py and transformers
//! (`scripts/fixtures/make_gguf.py` writes the fixtures under `tests/fixtures/gguf/`), and
//! against the real SmolLM2-135M-Instruct Q4_1 file when it is present.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use approx::assert_relative_eq;
use safetensors::SafeTensors;
use serde_json::Value;
use taosr1_model::{read_gguf, GgmlType, GgufError, GgufFile, GgufModel, GgufValue, ModelError};

mod common;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gguf")
}

fn reference_json() -> Value {
    let text = std::fs::read_to_string(fixtures().join("reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// `reference.safetensors` as name -> (shape, values).
fn reference_tensors() -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(fixtures().join("reference.safetensors")).unwrap();
    safetensors_f32(&bytes)
}

fn safetensors_f32(bytes: &[u8]) -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    let st = SafeTensors::deserialize(bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(name, view)| {
            assert_eq!(view.dtype(), safetensors::Dtype::F32, "{name}");
            let data = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (name, (view.shape().to_vec(), data))
        })
        .collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max)
}

/// Every tensor of `model` equals the reference `prefix/<name>` and no tensor is missing or extra.
fn assert_tensors_match(model: &GgufModel, prefix: &str, expected_names: &[Value]) {
    let reference = reference_tensors();
    let names: BTreeSet<&str> = model.tensors.iter().map(|t| t.name.as_str()).collect();
    let expected: BTreeSet<&str> = expected_names.iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(names, expected);
    for t in &model.tensors {
        let (shape, data) = &reference[&format!("{prefix}/{}", t.name)];
        assert_eq!(&t.shape, shape, "{}", t.name);
        let diff = max_abs_diff(&t.data, data);
        assert!(diff <= 1e-6, "{prefix} {}: max |diff| {diff}", t.name);
    }
}

/// Every non-null key of the transformers config equals ours.
fn assert_config_matches(ours: &Value, theirs: &Value) {
    for (key, want) in theirs.as_object().unwrap() {
        if want.is_null() {
            continue;
        }
        let got = &ours[key];
        match (got.as_f64(), want.as_f64()) {
            (Some(g), Some(w)) if want.is_f64() => assert_eq!(g, w, "{key}"),
            _ => assert_eq!(got, want, "{key}"),
        }
    }
}

fn assert_ids_match(model: &GgufModel, expected: &Value) {
    let expected = expected.as_object().unwrap();
    assert!(expected.len() >= 6);
    for (text, ids) in expected {
        let want: Vec<u32> = ids
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let enc = model.tokenizer.encode(text.as_str(), false).unwrap();
        assert_eq!(enc.get_ids(), want.as_slice(), "{text:?}");
        // and back: byte-level BPE is lossless
        let back = model.tokenizer.decode(enc.get_ids(), false).unwrap();
        assert_eq!(&back, text);
    }
}

#[test]
fn tiny_llama_matches_transformers() {
    let model = read_gguf(&fixtures().join("tiny_llama.gguf")).unwrap();
    let reference = reference_json();
    let r = &reference["llama"];
    assert_eq!(model.arch, "llama");
    assert_tensors_match(&model, "llama", r["tensors"].as_array().unwrap());
    assert!(model.tensor("lm_head.weight").is_some());
    // the un-permuted Q differs from the stored rows (the permutation is not the identity here)
    let file = GgufFile::open(&fixtures().join("tiny_llama.gguf")).unwrap();
    let stored = file.tensor_f32("blk.1.attn_q.weight").unwrap();
    let q = &model
        .tensor("model.layers.1.self_attn.q_proj.weight")
        .unwrap()
        .data;
    assert!(max_abs_diff(&stored, q) > 1e-3);
    assert_eq!(
        file.tensor_info("blk.1.attn_q.weight").unwrap().dims,
        vec![32, 32]
    );
    assert_eq!(
        file.tensor_info("blk.0.attn_k.weight").unwrap().dims,
        vec![32, 16]
    );
    assert_eq!(
        file.tensor_info("blk.0.ffn_down.weight").unwrap().dtype,
        GgmlType::Q4_K
    );
    assert_eq!(
        file.tensor_info("blk.1.ffn_down.weight").unwrap().dtype,
        GgmlType::Q6_K
    );

    assert_config_matches(&model.config, &r["config"]);
    let c = &model.config;
    assert_eq!(c["architectures"], serde_json::json!(["LlamaForCausalLM"]));
    assert_eq!(c["model_type"], "llama");
    assert_eq!(c["hidden_size"], 32);
    assert_eq!(c["num_key_value_heads"], 2);
    assert_eq!(c["head_dim"], 8);
    assert_eq!(c["vocab_size"], 300);
    assert_eq!(c["tie_word_embeddings"], false);
    assert_eq!(c["attention_bias"], false);
    assert_eq!(c["rms_norm_eps"].as_f64(), Some(f64::from(1e-5f32)));
    assert_eq!(c["rope_parameters"]["rope_theta"].as_f64(), Some(10_000.0));
    assert_eq!(c["rope_parameters"]["rope_type"], "default");

    assert_ids_match(&model, &r["token_ids"]);
    assert_eq!(model.special.bos, Some(1));
    assert_eq!(model.special.eos, Some(2));
    assert_eq!(model.special.pad, Some(2));
    assert_eq!(model.special.unk, Some(0));
    assert!(!model.special.add_bos);
    assert_eq!(model.tokenizer.token_to_id("<|im_end|>"), Some(2));
    assert_eq!(
        model.chat_template.as_deref(),
        reference["chat_template"].as_str()
    );
}

#[test]
fn tiny_qwen2_tied_with_biases_matches_transformers() {
    let model = read_gguf(&fixtures().join("tiny_qwen2.gguf")).unwrap();
    let r = &reference_json()["qwen2"];
    assert_tensors_match(&model, "qwen2", r["tensors"].as_array().unwrap());
    assert!(model.tensor("lm_head.weight").is_none());
    assert_eq!(
        model
            .tensor("model.layers.0.self_attn.k_proj.bias")
            .unwrap()
            .shape,
        vec![16]
    );
    assert_config_matches(&model.config, &r["config"]);
    assert_eq!(
        model.config["architectures"],
        serde_json::json!(["Qwen2ForCausalLM"])
    );
    assert_eq!(model.config["tie_word_embeddings"], true);
    assert_eq!(model.config["attention_bias"], true);
    assert_relative_eq!(
        model.config["rms_norm_eps"].as_f64().unwrap(),
        1e-6,
        max_relative = 1e-7
    );
    // `tokenizer.ggml.pre = qwen2`: digits split one by one
    assert_ids_match(&model, &r["token_ids"]);
}

#[test]
fn every_dtype_dequantises_like_gguf_py() {
    let file = GgufFile::open(&fixtures().join("dtypes.gguf")).unwrap();
    assert_eq!(file.alignment, 64);
    assert_eq!(file.data_offset % 64, 0);
    let reference = reference_tensors();
    let mut checked = 0;
    for (name, (shape, data)) in reference.iter().filter(|(k, _)| k.starts_with("dtypes/")) {
        let name = name.strip_prefix("dtypes/").unwrap();
        let info = file.tensor_info(name).unwrap();
        assert_eq!(&info.torch_shape(), shape);
        assert_eq!(info.dtype.name(), name.strip_prefix("t_").unwrap());
        let got = file.tensor_f32(name).unwrap();
        let diff = max_abs_diff(&got, data);
        assert!(diff <= 1e-6, "{name}: max |diff| {diff}");
        // not all zero: the comparison means something
        assert!(data.iter().map(|x| x.abs()).sum::<f32>() > 1.0, "{name}");
        checked += 1;
    }
    assert_eq!(checked, 14);
    for name in ["t_Q3_K", "t_I32"] {
        let err = file.tensor_f32(name).unwrap_err();
        assert!(
            matches!(err, GgufError::UnsupportedDtype { ref tensor, .. } if tensor == name),
            "{err:?}"
        );
    }
}

#[test]
fn every_metadata_type_reads_back() {
    let file = GgufFile::open(&fixtures().join("dtypes.gguf")).unwrap();
    let want = &reference_json()["dtypes"]["metadata"];
    assert_eq!(file.get("test.u8"), Some(&GgufValue::U8(200)));
    assert_eq!(file.get("test.i8"), Some(&GgufValue::I8(-100)));
    assert_eq!(file.get("test.u16"), Some(&GgufValue::U16(60000)));
    assert_eq!(file.get("test.i16"), Some(&GgufValue::I16(-30000)));
    assert_eq!(file.get("test.u32"), Some(&GgufValue::U32(4_000_000_000)));
    assert_eq!(file.get("test.i32"), Some(&GgufValue::I32(-2_000_000_000)));
    assert_eq!(file.get("test.f32"), Some(&GgufValue::F32(0.1)));
    assert_eq!(file.get("test.bool"), Some(&GgufValue::Bool(true)));
    assert_eq!(
        file.get("test.u64").and_then(|v| v.as_u64()),
        want["test.u64"].as_u64()
    );
    assert_eq!(
        file.get("test.i64").and_then(|v| v.as_i64()),
        want["test.i64"].as_i64()
    );
    assert_eq!(
        file.get("test.f64").and_then(|v| v.as_f64()),
        want["test.f64"].as_f64()
    );
    assert_eq!(
        file.get("test.f32").and_then(|v| v.as_f64()),
        want["test.f32"].as_f64()
    );
    assert_eq!(
        file.get("test.string").and_then(|v| v.as_str()),
        want["test.string"].as_str()
    );
    let ints: Vec<i64> = file
        .get("test.array_i32")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(ints, vec![1, -2, 3]);
    let strs: Vec<&str> = file
        .get("test.array_str")
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(strs, vec!["a", "", "\u{df}"]);
    let nested = file.get("test.array_nested").unwrap().as_array().unwrap();
    assert_eq!(nested.len(), 2);
    assert_eq!(nested[0].as_array().unwrap().len(), 2);
    assert_eq!(nested[1].as_array().unwrap()[0].as_i64(), Some(3));
    // not a model: read_gguf says which architecture and which file
    let err = read_gguf(&fixtures().join("dtypes.gguf")).unwrap_err();
    match err {
        ModelError::Gguf { path, source } => {
            assert!(path.ends_with("dtypes.gguf"));
            assert_eq!(
                source,
                GgufError::UnsupportedArchitecture {
                    arch: "none".into()
                }
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn smollm2_q4_1_matches_transformers() {
    let Some(path) = common::smollm2_gguf() else {
        return;
    };
    let text = std::fs::read_to_string(fixtures().join("smollm2_expected.json")).unwrap();
    let expected: Value = serde_json::from_str(&text).unwrap();
    let model = read_gguf(&path).unwrap();

    let c = &model.config;
    assert_config_matches(c, &expected["config"]);
    assert_eq!(c["hidden_size"], 576);
    assert_eq!(c["num_hidden_layers"], 30);
    assert_eq!(c["num_attention_heads"], 9);
    assert_eq!(c["num_key_value_heads"], 3);
    assert_eq!(c["vocab_size"], 49152);
    assert_eq!(c["tie_word_embeddings"], true);
    assert_eq!(c["rope_parameters"]["rope_theta"].as_f64(), Some(100_000.0));
    assert_eq!(model.special.bos, Some(1));
    assert_eq!(model.special.eos, Some(2));
    assert!(model
        .chat_template
        .as_deref()
        .unwrap()
        .contains("<|im_start|>"));
    assert_ids_match(&model, &expected["token_ids"]);

    // per-tensor summaries of transformers' dequantised, un-permuted weights
    let summaries = expected["tensors"].as_object().unwrap();
    assert_eq!(model.tensors.len(), summaries.len());
    for t in &model.tensors {
        let s = &summaries[&t.name];
        let shape: Vec<usize> = s["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(t.shape, shape, "{}", t.name);
        for pair in s["samples"].as_array().unwrap() {
            let i = pair[0].as_u64().unwrap() as usize;
            let want = pair[1].as_f64().unwrap() as f32;
            assert!(
                (t.data[i] - want).abs() <= 1e-6,
                "{}[{i}]: {} vs {want}",
                t.name,
                t.data[i]
            );
        }
        let sum: f64 = t.data.iter().map(|&x| f64::from(x)).sum();
        let abs_sum: f64 = t.data.iter().map(|&x| f64::from(x).abs()).sum();
        assert_relative_eq!(
            sum,
            s["sum"].as_f64().unwrap(),
            epsilon = 1e-6,
            max_relative = 1e-6
        );
        assert_relative_eq!(abs_sum, s["abs_sum"].as_f64().unwrap(), max_relative = 1e-9);
    }

    // the transformers-converted float32 folder of the same weights, when present
    let Some(hf) = common::smollm2_dir() else {
        eprintln!("compared against the committed summaries only");
        return;
    };
    let bytes = std::fs::read(hf.join("model.safetensors")).unwrap();
    let reference = safetensors_f32(&bytes);
    let ours: BTreeSet<&str> = model.tensors.iter().map(|t| t.name.as_str()).collect();
    let theirs: BTreeSet<&str> = reference.keys().map(String::as_str).collect();
    assert_eq!(ours, theirs);
    for t in &model.tensors {
        let (shape, data) = &reference[&t.name];
        assert_eq!(&t.shape, shape, "{}", t.name);
        let diff = max_abs_diff(&t.data, data);
        assert!(diff <= 1e-6, "{}: max |diff| {diff}", t.name);
    }
    let tok = tokenizers::Tokenizer::from_file(hf.join("tokenizer.json")).unwrap();
    for text in expected["token_ids"].as_object().unwrap().keys() {
        let want = tok.encode(text.as_str(), false).unwrap();
        let got = model.tokenizer.encode(text.as_str(), false).unwrap();
        assert_eq!(got.get_ids(), want.get_ids(), "{text:?}");
    }
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(hf.join("config.json")).unwrap()).unwrap();
    for key in [
        "architectures",
        "model_type",
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "head_dim",
        "max_position_embeddings",
        "rms_norm_eps",
        "rope_parameters",
        "vocab_size",
        "tie_word_embeddings",
        "attention_bias",
        "mlp_bias",
        "hidden_act",
        "bos_token_id",
        "eos_token_id",
        "pad_token_id",
        "unk_token_id",
    ] {
        assert_eq!(c[key], cfg[key], "{key}");
    }
}
