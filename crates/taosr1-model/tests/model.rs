//! Model behaviour against hand-computed values: layers, decoding, log-probabilities, sampling.
// Index loops mirror the formulas being checked.
#![allow(clippy::needless_range_loop)]

use approx::assert_abs_diff_eq;
use burn::module::Param;
use burn::tensor::{Int, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use taosr1_model::*;

fn dev() -> burn::tensor::Device {
    Default::default()
}

fn model(cfg: &ModelConfig) -> Transformer {
    dev().seed(42);
    Transformer::new(cfg, &dev()).unwrap()
}

fn logits_vec(t: Tensor<3>) -> Vec<f32> {
    t.into_data().try_to_vec_as::<f32>().unwrap()
}

fn ids(rows: &[&[i64]]) -> Tensor<2, Int> {
    let t = rows[0].len();
    let flat: Vec<i64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), t]), &dev())
}

#[test]
fn causal_positions_ignore_future_tokens() {
    let cfg = ModelConfig::tiny(40);
    let m = model(&cfg);
    let a = logits_vec(m.forward(ids(&[&[1, 2, 3, 4, 5]])));
    let b = logits_vec(m.forward(ids(&[&[1, 2, 3, 9, 11]])));
    // first three positions identical, fourth differs
    for i in 0..3 * 40 {
        assert_abs_diff_eq!(a[i], b[i], epsilon = 1e-5);
    }
    assert!((3 * 40..4 * 40).any(|i| (a[i] - b[i]).abs() > 1e-4));
}

#[test]
fn kv_cache_decoding_matches_full_forward() {
    for tie in [true, false] {
        let mut cfg = ModelConfig::tiny(40);
        cfg.tie_word_embeddings = tie;
        let m = model(&cfg);
        let seq: Vec<u32> = vec![3, 7, 1, 20, 33, 5, 8];
        let full =
            logits_vec(m.forward(ids(&[&seq.iter().map(|v| *v as i64).collect::<Vec<_>>()])));
        let mut s = DecodeSession::start(&m, &[seq[..3].to_vec()], 0).unwrap();
        for (step, tok) in seq[3..].iter().enumerate() {
            let pos = 2 + step; // logits for position pos
            for v in 0..40 {
                assert_abs_diff_eq!(s.last_logits()[0][v], full[pos * 40 + v], epsilon = 1e-4);
            }
            s.feed(&[Some(*tok)]).unwrap();
        }
        for v in 0..40 {
            assert_abs_diff_eq!(s.last_logits()[0][v], full[6 * 40 + v], epsilon = 1e-4);
        }
    }
}

#[test]
fn left_padding_in_a_batch_does_not_change_a_row() {
    let m = model(&ModelConfig::tiny(40));
    let short = vec![4u32, 9];
    let long = vec![1u32, 2, 3, 4, 5, 6];
    let mut alone = DecodeSession::start(&m, std::slice::from_ref(&short), 0).unwrap();
    let mut batch = DecodeSession::start(&m, &[long, short], 0).unwrap();
    for tok in [11u32, 12, 13] {
        for v in 0..40 {
            assert_abs_diff_eq!(
                alone.last_logits()[0][v],
                batch.last_logits()[1][v],
                epsilon = 1e-4
            );
        }
        alone.feed(&[Some(tok)]).unwrap();
        batch.feed(&[Some(30), Some(tok)]).unwrap();
    }
    // a finished row (None) keeps the other row unaffected too
    let before = batch.last_logits()[1].clone();
    let mut alone2 = alone;
    alone2.feed(&[Some(17)]).unwrap();
    batch.feed(&[None, Some(17)]).unwrap();
    for v in 0..40 {
        assert_abs_diff_eq!(
            alone2.last_logits()[0][v],
            batch.last_logits()[1][v],
            epsilon = 1e-4
        );
    }
    assert!(before
        .iter()
        .zip(&batch.last_logits()[1])
        .any(|(a, b)| (a - b).abs() > 1e-5));
}

#[test]
fn step_input_errors_are_typed() {
    let m = model(&ModelConfig::tiny(40));
    assert!(matches!(
        DecodeSession::start(&m, &[], 0),
        Err(ModelError::Input(_))
    ));
    assert!(matches!(
        DecodeSession::start(&m, &[vec![]], 0),
        Err(ModelError::Input(_))
    ));
    assert!(matches!(
        DecodeSession::start(&m, &[vec![40]], 0),
        Err(ModelError::Input(_))
    ));
    let mut s = DecodeSession::start(&m, &[vec![1]], 0).unwrap();
    assert!(matches!(
        s.feed(&[Some(1), Some(2)]),
        Err(ModelError::Input(_))
    ));
    // the context (160 positions for tiny) is enforced, not silently extrapolated
    let long = vec![1u32; m.max_positions() + 1];
    assert!(matches!(
        DecodeSession::start(&m, &[long], 0),
        Err(ModelError::ContextExceeded {
            needed: 161,
            max: 160
        })
    ));
    let mut s = DecodeSession::start(&m, &[vec![1u32; m.max_positions()]], 0).unwrap();
    assert!(matches!(
        s.feed(&[Some(1)]),
        Err(ModelError::ContextExceeded { .. })
    ));
}

#[test]
fn absurd_configs_are_refused_before_allocation() {
    for edit in [
        (|c: &mut ModelConfig| c.num_hidden_layers = 1_000_000_000_000) as fn(&mut ModelConfig),
        |c| c.vocab_size = 1 << 50,
        |c| c.max_position_embeddings = 0,
        |c| c.max_position_embeddings = usize::MAX,
    ] {
        let mut cfg = ModelConfig::tiny(40);
        edit(&mut cfg);
        assert!(matches!(
            Transformer::new(&cfg, &dev()),
            Err(ModelError::Config(_))
        ));
    }
}

/// Independent host implementation of one decoder block stack (f64 loops), used to check the
/// tensor code: RMSNorm, HF rotary layout, GQA head sharing, SwiGLU, tied head.
fn reference_logits(m: &Transformer, cfg: &ModelConfig, toks: &[usize]) -> Vec<Vec<f64>> {
    let v = |t: Tensor<2>| -> (Vec<f64>, usize) {
        let [_, c] = t.dims();
        (
            t.into_data()
                .try_to_vec_as::<f32>()
                .unwrap()
                .into_iter()
                .map(f64::from)
                .collect(),
            c,
        )
    };
    let v1 = |t: Tensor<1>| -> Vec<f64> {
        t.into_data()
            .try_to_vec_as::<f32>()
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect()
    };
    // burn linear weights are [in, out]
    let lin = |x: &[f64], w: &(Vec<f64>, usize), b: Option<Vec<f64>>| -> Vec<f64> {
        let out = w.1;
        let mut y = b.unwrap_or(vec![0.0; out]);
        for (i, xi) in x.iter().enumerate() {
            for o in 0..out {
                y[o] += xi * w.0[i * out + o];
            }
        }
        y
    };
    let rms = |x: &[f64], g: &[f64]| -> Vec<f64> {
        let ms = x.iter().map(|a| a * a).sum::<f64>() / x.len() as f64;
        let r = (ms + cfg.rms_norm_eps).sqrt();
        x.iter().zip(g).map(|(a, g)| a / r * g).collect()
    };
    let (h, hd) = (cfg.hidden_size, cfg.head_dim());
    let (nh, nkv) = (cfg.num_attention_heads, cfg.num_key_value_heads);
    let emb = v(m.embed_tokens.weight.val());
    let rope = |x: &mut [f64], pos: usize| {
        let half = hd / 2;
        let orig = x.to_vec();
        for i in 0..hd {
            let f =
                (pos as f64) / (cfg.rope_theta as f64).powf(2.0 * (i % half) as f64 / hd as f64);
            let rot = if i < half {
                -orig[i + half]
            } else {
                orig[i - half]
            };
            x[i] = orig[i] * f.cos() + rot * f.sin();
        }
    };
    let mut xs: Vec<Vec<f64>> = toks
        .iter()
        .map(|t| emb.0[t * h..(t + 1) * h].to_vec())
        .collect();
    for layer in &m.layers {
        let a = &layer.self_attn;
        let bias = |l: &burn::nn::Linear| l.bias.as_ref().map(|b| v1(b.val()));
        let normed: Vec<Vec<f64>> = xs
            .iter()
            .map(|x| rms(x, &v1(layer.input_layernorm.gamma.val())))
            .collect();
        let (wq, wk, wv, wo) = (
            v(a.q_proj.weight.val()),
            v(a.k_proj.weight.val()),
            v(a.v_proj.weight.val()),
            v(a.o_proj.weight.val()),
        );
        let mut qs = vec![];
        let mut ks = vec![];
        let mut vs = vec![];
        for (p, x) in normed.iter().enumerate() {
            let mut q = lin(x, &wq, bias(&a.q_proj));
            let mut k = lin(x, &wk, bias(&a.k_proj));
            for hh in 0..nh {
                rope(&mut q[hh * hd..(hh + 1) * hd], p);
            }
            for hh in 0..nkv {
                rope(&mut k[hh * hd..(hh + 1) * hd], p);
            }
            qs.push(q);
            ks.push(k);
            vs.push(lin(x, &wv, bias(&a.v_proj)));
        }
        let mut new_xs = vec![];
        for i in 0..xs.len() {
            let mut attn_out = vec![0.0; nh * hd];
            for hh in 0..nh {
                let kvh = hh / (nh / nkv);
                let scores: Vec<f64> = (0..=i)
                    .map(|j| {
                        (0..hd)
                            .map(|d| qs[i][hh * hd + d] * ks[j][kvh * hd + d])
                            .sum::<f64>()
                            / (hd as f64).sqrt()
                    })
                    .collect();
                let mx = scores.iter().cloned().fold(f64::MIN, f64::max);
                let z: f64 = scores.iter().map(|s| (s - mx).exp()).sum();
                for (j, s) in scores.iter().enumerate() {
                    let p = (s - mx).exp() / z;
                    for d in 0..hd {
                        attn_out[hh * hd + d] += p * vs[j][kvh * hd + d];
                    }
                }
            }
            let o = lin(&attn_out, &wo, None);
            let x1: Vec<f64> = xs[i].iter().zip(&o).map(|(a, b)| a + b).collect();
            let n2 = rms(&x1, &v1(layer.post_attention_layernorm.gamma.val()));
            let g = lin(&n2, &v(layer.mlp.gate_proj.weight.val()), None);
            let u = lin(&n2, &v(layer.mlp.up_proj.weight.val()), None);
            let act: Vec<f64> = g
                .iter()
                .zip(&u)
                .map(|(g, u)| g / (1.0 + (-g).exp()) * u)
                .collect();
            let d = lin(&act, &v(layer.mlp.down_proj.weight.val()), None);
            new_xs.push(x1.iter().zip(&d).map(|(a, b)| a + b).collect());
        }
        xs = new_xs;
    }
    let g = v1(m.norm.gamma.val());
    xs.iter()
        .map(|x| {
            let n = rms(x, &g);
            (0..cfg.vocab_size)
                .map(|t| (0..h).map(|d| n[d] * emb.0[t * h + d]).sum())
                .collect()
        })
        .collect()
}

#[test]
fn tensor_code_matches_an_independent_reference() {
    let mut cfg = ModelConfig::tiny(24);
    cfg.hidden_size = 16;
    cfg.intermediate_size = 24;
    cfg.num_attention_heads = 4;
    cfg.num_key_value_heads = 2;
    cfg.rope_theta = 100.0; // make rotations visible at short positions
    let mut m = model(&cfg);
    // non-trivial norm gains so a transposed/skipped gamma would show
    for layer in m.layers.iter_mut() {
        let g: Vec<f32> = (0..16).map(|i| 0.5 + i as f32 * 0.07).collect();
        layer.input_layernorm.gamma =
            Param::from_tensor(Tensor::from_data(TensorData::new(g, [16]), &dev()));
    }
    let toks = [3usize, 17, 5, 9, 23, 1];
    let reference = reference_logits(&m, &cfg, &toks);
    let got = logits_vec(m.forward(ids(&[&toks.iter().map(|t| *t as i64).collect::<Vec<_>>()])));
    for (p, row) in reference.iter().enumerate() {
        for (v, r) in row.iter().enumerate() {
            assert_abs_diff_eq!(got[p * 24 + v] as f64, *r, epsilon = 1e-4);
        }
    }
}

#[test]
fn token_logprobs_match_log_softmax_of_forward() {
    let m = model(&ModelConfig::tiny(30));
    let seq = [2i64, 8, 13, 4];
    let lp = m
        .token_logprobs(ids(&[&seq]))
        .into_data()
        .try_to_vec_as::<f32>()
        .unwrap();
    let logits = logits_vec(m.forward(ids(&[&seq])));
    assert_eq!(lp[0], 0.0);
    for i in 1..4 {
        let row = &logits[(i - 1) * 30..i * 30];
        let mx = row.iter().cloned().fold(f32::MIN, f32::max);
        let lse = mx + row.iter().map(|v| (v - mx).exp()).sum::<f32>().ln();
        assert_abs_diff_eq!(lp[i], row[seq[i] as usize] - lse, epsilon = 1e-4);
    }
}

#[test]
fn gradient_of_token_logprob_matches_finite_differences() {
    // Parameters are created in the device's default float dtype (f32), so the check runs in
    // f32 with a step large enough to stay above rounding noise.
    let device = burn::tensor::Device::default().autodiff();
    device.seed(3);
    let mut cfg = ModelConfig::tiny(12);
    cfg.hidden_size = 8;
    cfg.intermediate_size = 12;
    cfg.num_attention_heads = 2;
    cfg.num_key_value_heads = 1;
    cfg.num_hidden_layers = 1;
    // unit-scale embeddings: attention gradients well above the finite-difference noise
    cfg.initializer_range = 1.0;
    let m = Transformer::new(&cfg, &device).unwrap();
    let seq = Tensor::<2, Int>::from_ints([[1, 4, 7, 2]], &device);
    let objective = |m: &Transformer| m.token_logprobs(seq.clone()).sum();
    let loss = objective(&m);
    let grads = loss.backward();
    let w = &m.layers[0].self_attn.q_proj.weight;
    let g = w
        .grad(&grads)
        .unwrap()
        .into_data()
        .try_to_vec_as::<f32>()
        .unwrap();
    let base = w.val().inner().into_data().try_to_vec_as::<f32>().unwrap();
    let shape = w.val().dims();
    for idx in [0usize, 5, 17, 40] {
        let eval = |delta: f32| {
            let mut vals = base.clone();
            vals[idx] += delta;
            let mut m2 = m.clone();
            m2.layers[0].self_attn.q_proj.weight =
                Param::from_tensor(Tensor::from_data(TensorData::new(vals, shape), &device));
            objective(&m2).into_scalar::<f32>()
        };
        let h = 1e-2f32;
        let fd = (eval(h) - eval(-h)) / (2.0 * h);
        assert_abs_diff_eq!(g[idx], fd, epsilon = 2e-3 + 1e-2 * fd.abs());
        assert!(
            g[idx].abs() > 1e-4,
            "gradient entry {idx} unexpectedly zero"
        );
    }
}

#[test]
fn sampling_is_seeded_and_respects_top_p() {
    let logits = [1.0f32, 2.0, 0.5, 1.5];
    let greedy = SamplingConfig::greedy(1);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    assert_eq!(sample_token(&logits, &greedy, &mut rng).unwrap(), 1);
    // top_p small enough keeps only the argmax
    let narrow = SamplingConfig::sampled(1.0, 0.01, 1);
    for _ in 0..50 {
        assert_eq!(sample_token(&logits, &narrow, &mut rng).unwrap(), 1);
    }
    // full sampling reproduces the softmax frequencies and is seed-deterministic
    let full = SamplingConfig::sampled(1.0, 1.0, 1);
    let draw = |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..20_000)
            .map(|_| sample_token(&logits, &full, &mut rng).unwrap())
            .collect::<Vec<_>>()
    };
    let a = draw(9);
    assert_eq!(a, draw(9));
    let z: f32 = logits.iter().map(|l| l.exp()).sum();
    for k in 0..4 {
        let freq = a.iter().filter(|t| **t == k as u32).count() as f32 / a.len() as f32;
        assert_abs_diff_eq!(freq, logits[k].exp() / z, epsilon = 0.015);
    }
    // top_p = 0.6 keeps {1 (p=.39), 3 (p=.24)} only
    let nucleus = SamplingConfig::sampled(1.0, 0.6, 1);
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for _ in 0..500 {
        let t = sample_token(&logits, &nucleus, &mut rng).unwrap();
        assert!(t == 1 || t == 3, "token {t} outside the nucleus");
    }
    assert!(sample_token(&logits, &SamplingConfig::sampled(-1.0, 1.0, 1), &mut rng).is_err());
    assert!(sample_token(&logits, &SamplingConfig::sampled(1.0, 0.0, 1), &mut rng).is_err());
}

#[test]
fn generate_stops_on_stop_token_and_is_deterministic() {
    let m = model(&ModelConfig::tiny(30));
    let cfg = SamplingConfig::sampled(1.0, 1.0, 12);
    let run = |seed| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        generate(&m, &[vec![1, 2], vec![3, 4, 5]], 0, &[7], &cfg, &mut rng).unwrap()
    };
    let a = run(5);
    assert_eq!(a, run(5));
    for g in &a {
        if g.stopped {
            assert_eq!(*g.tokens.last().unwrap(), 7);
            assert_eq!(g.tokens.iter().filter(|t| **t == 7).count(), 1);
        } else {
            assert_eq!(g.tokens.len(), 12);
        }
    }
    // greedy generation equals repeated argmax of full forwards
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let g = generate(
        &m,
        &[vec![1, 2, 3]],
        0,
        &[],
        &SamplingConfig::greedy(4),
        &mut rng,
    )
    .unwrap();
    let mut seq: Vec<i64> = vec![1, 2, 3];
    for expected in &g[0].tokens {
        let l = logits_vec(m.forward(ids(&[&seq])));
        let last = &l[(seq.len() - 1) * 30..];
        let am = (0..30).fold(0, |b, i| if last[i] > last[b] { i } else { b });
        assert_eq!(am as u32, *expected);
        seq.push(am as i64);
    }
}

#[test]
fn shared_prefix_matches_prefilling_every_sequence_alone() {
    // GQA (4 query heads over 2 key/value heads) as in the real checkpoints
    let cfg = ModelConfig::tiny(60);
    let m = model(&cfg);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    use rand::Rng;
    let prefix: Vec<u32> = (0..7).map(|_| rng.random_range(1..60)).collect();
    let suffixes: Vec<Vec<u32>> = [1usize, 4, 2, 9, 1, 6]
        .iter()
        .map(|&n| (0..n).map(|_| rng.random_range(1..60)).collect())
        .collect();
    let shared = SharedPrefix::new(&m, &prefix).unwrap();
    let got = shared.last_logits(&suffixes, 0).unwrap();
    assert_eq!(got.len(), suffixes.len());
    for (s, row) in suffixes.iter().zip(&got) {
        let full: Vec<u32> = prefix.iter().chain(s).copied().collect();
        let alone = DecodeSession::start(&m, &[full], 0).unwrap();
        let diff = row
            .iter()
            .zip(&alone.last_logits()[0])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            diff < 1e-4,
            "suffix of {} tokens: max |Δlogit| {diff}",
            s.len()
        );
    }
    // the same prefix serves a second batch unchanged
    let again = shared.last_logits(&suffixes[..2], 0).unwrap();
    assert_abs_diff_eq!(again[1].as_slice(), got[1].as_slice(), epsilon = 1e-5);
    // context and vocabulary are enforced
    let too_long = vec![vec![1u32; cfg.max_position_embeddings]];
    assert!(matches!(
        shared.last_logits(&too_long, 0),
        Err(ModelError::ContextExceeded { .. })
    ));
    assert!(matches!(
        shared.last_logits(&[vec![60]], 0),
        Err(ModelError::Input(_))
    ));
}

/// New vocabulary rows of an untied model: the embedding row and the head column of a new
/// token are the means of its pieces', so its logit is the mean of their logits, and the old
/// tokens' logits do not move.
#[test]
fn init_token_rows_on_an_untied_head_averages_the_pieces() {
    let mut cfg = ModelConfig::tiny(30);
    cfg.tie_word_embeddings = false;
    let m = model(&cfg);
    let grown = m
        .clone()
        .init_token_rows(30, &[vec![4, 9], vec![7]])
        .unwrap();
    assert_eq!(grown.vocab_size(), 32);
    let x = ids(&[&[1, 2, 3]]);
    let before = logits_vec(m.forward(x.clone()));
    let after = logits_vec(grown.forward(x));
    for t in 0..3 {
        let (b, a) = (&before[t * 30..(t + 1) * 30], &after[t * 32..(t + 1) * 32]);
        for v in 0..30 {
            assert_abs_diff_eq!(a[v], b[v], epsilon = 1e-5);
        }
        assert_abs_diff_eq!(a[30], (b[4] + b[9]) / 2.0, epsilon = 1e-5);
        assert_abs_diff_eq!(a[31], b[7], epsilon = 1e-5);
    }
}
