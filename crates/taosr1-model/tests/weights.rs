use burn::tensor::{Int, Tensor};
use safetensors::tensor::{Dtype, TensorView};
use std::collections::BTreeMap;
use taosr1_model::*;

fn dev() -> burn::tensor::Device {
    Default::default()
}

fn tiny_qwen_like(tie: bool) -> ModelConfig {
    let mut cfg = ModelConfig::tiny(20);
    cfg.hidden_size = 8;
    cfg.intermediate_size = 12;
    cfg.num_attention_heads = 4;
    cfg.num_key_value_heads = 2;
    cfg.num_hidden_layers = 2;
    cfg.tie_word_embeddings = tie;
    cfg
}

/// A checkpoint written the way Hugging Face does: names, `[out, in]` layout, given dtype.
fn write_checkpoint(
    cfg: &ModelConfig,
    dtype: Dtype,
    extra: &[(&str, Vec<usize>)],
) -> (Vec<u8>, BTreeMap<String, Vec<f32>>) {
    let mut values = BTreeMap::new();
    let mut bytes: BTreeMap<String, (Vec<usize>, Vec<u8>)> = BTreeMap::new();
    let specs = checkpoint_tensor_specs(cfg);
    let all: Vec<(String, Vec<usize>)> = specs
        .into_iter()
        .chain(extra.iter().map(|(n, s)| (n.to_string(), s.clone())))
        .collect();
    for (k, (name, shape)) in all.iter().enumerate() {
        let n: usize = shape.iter().product();
        let vals: Vec<f32> = (0..n)
            .map(|i| ((i * 7 + k * 13) % 29) as f32 / 32.0 - 0.4)
            .collect();
        let raw: Vec<u8> = match dtype {
            Dtype::F32 => vals.iter().flat_map(|v| v.to_le_bytes()).collect(),
            Dtype::BF16 => vals
                .iter()
                .flat_map(|v| burn::tensor::bf16::from_f32(*v).to_bits().to_le_bytes())
                .collect(),
            _ => unreachable!(),
        };
        values.insert(name.clone(), vals);
        bytes.insert(name.clone(), (shape.clone(), raw));
    }
    let views: Vec<(String, TensorView)> = bytes
        .iter()
        .map(|(n, (s, b))| (n.clone(), TensorView::new(dtype, s.clone(), b).unwrap()))
        .collect();
    (safetensors::serialize(views, None).unwrap(), values)
}

#[test]
fn qwen2_names_and_shapes_map_onto_the_model() {
    for tie in [true, false] {
        let cfg = tiny_qwen_like(tie);
        let specs = checkpoint_tensor_specs(&cfg);
        // 1 embed + 2 layers * (2 norms + 3 (w+b) + o + 3 mlp) + final norm (+ lm_head)
        assert_eq!(specs.len(), 1 + 2 * (2 + 6 + 1 + 3) + 1 + usize::from(!tie));
        let (bytes, values) = write_checkpoint(&cfg, Dtype::F32, &[]);
        let m = from_safetensors_bytes(&bytes, &cfg, &dev()).unwrap();
        // q_proj is [out=8, in=8] in the file and [in, out] in burn: element (o, i) -> (i, o)
        let q = m.layers[1]
            .self_attn
            .q_proj
            .weight
            .val()
            .into_data()
            .try_to_vec_as::<f32>()
            .unwrap();
        let file_q = &values["model.layers.1.self_attn.q_proj.weight"];
        for o in 0..8 {
            for i in 0..8 {
                assert_eq!(q[i * 8 + o], file_q[o * 8 + i]);
            }
        }
        // k_proj: [kv*hd = 4, hidden 8] in the file
        assert_eq!(m.layers[0].self_attn.k_proj.weight.val().dims(), [8, 4]);
        let kb = m.layers[0]
            .self_attn
            .k_proj
            .bias
            .as_ref()
            .unwrap()
            .val()
            .into_data()
            .try_to_vec_as::<f32>()
            .unwrap();
        assert_eq!(&kb, &values["model.layers.0.self_attn.k_proj.bias"]);
        let down = m.layers[0].mlp.down_proj.weight.val();
        assert_eq!(down.dims(), [12, 8]);
        let norm = m
            .norm
            .gamma
            .val()
            .into_data()
            .try_to_vec_as::<f32>()
            .unwrap();
        assert_eq!(&norm, &values["model.norm.weight"]);
        assert_eq!(m.lm_head.is_some(), !tie);
        // and back out again: byte-identical tensors
        let again = to_safetensors_bytes(&m).unwrap();
        let st = safetensors::SafeTensors::deserialize(&again).unwrap();
        for (name, vals) in &values {
            let view = st.tensor(name).unwrap();
            let got: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            assert_eq!(&got, vals, "{name}");
        }
    }
}

#[test]
fn bf16_checkpoints_load_and_inv_freq_is_ignored() {
    let cfg = tiny_qwen_like(true);
    let (bytes, values) = write_checkpoint(
        &cfg,
        Dtype::BF16,
        &[("model.layers.0.self_attn.rotary_emb.inv_freq", vec![1])],
    );
    let m = from_safetensors_bytes(&bytes, &cfg, &dev()).unwrap();
    let emb = m
        .embed_tokens
        .weight
        .val()
        .into_data()
        .try_to_vec_as::<f32>()
        .unwrap();
    for (a, b) in emb.iter().zip(&values["model.embed_tokens.weight"]) {
        assert!(
            (a - b).abs() <= b.abs() / 128.0 + 1e-6,
            "bf16 rounding too large: {a} vs {b}"
        );
    }
}

#[test]
fn save_and_load_round_trip_gives_identical_logits() {
    let cfg = ModelConfig::tiny(25);
    let m = Transformer::new(&cfg, &dev()).unwrap();
    let dir = std::env::temp_dir().join(format!("taosr1-model-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    save_safetensors(&m, &path).unwrap();
    cfg.save_json(&dir.join("config.json")).unwrap();
    let cfg2 = ModelConfig::from_json_file(&dir.join("config.json")).unwrap();
    assert_eq!(cfg, cfg2);
    let m2 = load_safetensors(&path, &cfg2, &dev()).unwrap();
    let x = Tensor::<2, Int>::from_ints([[1, 2, 3, 4]], &dev());
    let a = m
        .forward(x.clone())
        .into_data()
        .try_to_vec_as::<f32>()
        .unwrap();
    let b = m2.forward(x).into_data().try_to_vec_as::<f32>().unwrap();
    assert_eq!(a, b);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_checkpoints_give_typed_errors() {
    let cfg = tiny_qwen_like(true);
    let (bytes, _) = write_checkpoint(&cfg, Dtype::F32, &[]);
    // corrupt: truncated file
    assert!(matches!(
        from_safetensors_bytes(&bytes[..bytes.len() / 2], &cfg, &dev()),
        Err(ModelError::Safetensors(_))
    ));
    assert!(matches!(
        from_safetensors_bytes(b"not a safetensors file", &cfg, &dev()),
        Err(ModelError::Safetensors(_))
    ));
    // config expects untied head: lm_head missing
    let untied = tiny_qwen_like(false);
    match from_safetensors_bytes(&bytes, &untied, &dev()) {
        Err(ModelError::MissingTensor(n)) => assert_eq!(n, "lm_head.weight"),
        other => panic!("expected MissingTensor, got {other:?}"),
    }
    // shape mismatch: config with a wider MLP
    let mut wide = cfg.clone();
    wide.intermediate_size = 16;
    match from_safetensors_bytes(&bytes, &wide, &dev()) {
        Err(ModelError::ShapeMismatch {
            name,
            expected,
            found,
        }) => {
            assert_eq!(name, "model.layers.0.mlp.gate_proj.weight");
            assert_eq!(expected, vec![16, 8]);
            assert_eq!(found, vec![12, 8]);
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
    // an unknown tensor is reported, not dropped
    let (extra, _) = write_checkpoint(
        &cfg,
        Dtype::F32,
        &[("model.layers.0.mlp.extra.weight", vec![2])],
    );
    match from_safetensors_bytes(&extra, &cfg, &dev()) {
        Err(ModelError::UnexpectedTensors(v)) => {
            assert_eq!(v, vec!["model.layers.0.mlp.extra.weight".to_string()])
        }
        other => panic!("expected UnexpectedTensors, got {other:?}"),
    }
    // missing file names its path
    let err = load_safetensors(
        std::path::Path::new("/nonexistent/x.safetensors"),
        &cfg,
        &dev(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/x.safetensors"));
}

#[test]
fn hf_config_json_deserialises() {
    // trimmed real Qwen2.5-0.5B-Instruct config.json (transformers 4.x: top-level rope_theta) (no attention_bias field: Qwen2 always has biases)
    let json = r#"{"architectures":["Qwen2ForCausalLM"],"hidden_size":896,"intermediate_size":4864,
      "max_position_embeddings":32768,"model_type":"qwen2","num_attention_heads":14,"num_hidden_layers":24,
      "num_key_value_heads":2,"rms_norm_eps":1e-06,"rope_theta":1000000.0,"tie_word_embeddings":true,
      "torch_dtype":"bfloat16","vocab_size":151936,"bos_token_id":151643,"eos_token_id":151645,
      "hidden_act":"silu","use_sliding_window":false,"sliding_window":32768,"max_window_layers":21}"#;
    let cfg: ModelConfig = serde_json::from_str(json).unwrap();
    assert_eq!(cfg, ModelConfig::qwen2_5_0_5b());
    let specs = checkpoint_tensor_specs(&cfg);
    assert_eq!(specs.len(), 1 + 24 * 12 + 1);
    assert!(specs.contains(&(
        "model.layers.0.self_attn.q_proj.bias".to_string(),
        vec![896]
    )));
}

#[test]
fn tokenizer_round_trips_and_saves() {
    let tok = TaoTokenizer::build_word_level(
        ["query : red shoes ; brand : nike", "<think> a . </think>"],
        &["<think>", "</think>", "L1"],
    )
    .unwrap();
    assert_eq!(tok.pad_id(), 0);
    assert_eq!(tok.token_to_id("<think>"), Some(4));
    assert_eq!(tok.token_to_id("L1"), Some(6));
    let text = "<think> red shoes . </think> L1";
    let ids = tok.encode(text).unwrap();
    assert_eq!(ids.len(), 6);
    assert_eq!(tok.decode(&ids).unwrap(), text);
    let mut with_pad = ids.clone();
    with_pad.push(tok.pad_id());
    with_pad.insert(0, tok.bos_id().unwrap());
    assert_eq!(tok.decode(&with_pad).unwrap(), text);
    let path = std::env::temp_dir().join(format!("taosr1-tok-{}.json", std::process::id()));
    tok.save(&path).unwrap();
    let back = TaoTokenizer::from_file(&path).unwrap();
    assert_eq!(back.encode(text).unwrap(), ids);
    assert_eq!(back.vocab_size(), tok.vocab_size());
    std::fs::remove_file(&path).ok();
    assert!(matches!(
        tok.require_token("zzz"),
        Err(ModelError::Tokenizer(_))
    ));
    assert!(TaoTokenizer::from_file(std::path::Path::new("/nonexistent.json")).is_err());
}
