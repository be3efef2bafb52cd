//! The real tier's plumbing on a small byte-level BPE tokenizer with a chat template (the
//! SmolLM2-style fixture of taosr1-model) and a tiny random model: tags and labels become
//! tokens initialised from their pieces, prompts go through the chat template, SFT learns a
//! learnable task through that codec, label-first scoring reads the new label tokens, and a
//! saved checkpoint loads back identical.

use std::path::PathBuf;

use burn::module::Module;
use burn::tensor::{Int, Tensor, TensorData};
use taosr1::infer::{score_label_first, InferConfig};
use taosr1::real;
use taosr1::sft::{train, SftConfig};
use taosr1_cot::{Example, Item, Product, Template, TextStyle};
use taosr1_grpo::OptimizerConfig;
use taosr1_model::{ModelConfig, StorageDtype, TaoTokenizer, Transformer};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("crates/taosr1-model/tests/fixtures/tokenizers/smollm2")
}

fn template() -> Template {
    Template::default().with_style(TextStyle::Verbatim)
}

/// Held while a test seeds the backend's random generator and draws a model from it: the
/// generator is shared by the tests of this file, which run in parallel, so without the lock
/// another test's draw can land between the seed and this one's (the SFT test then started
/// from other weights and learned 8 of its 12 rows in one CI run).
static SEEDED_INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn adapted(seed: u64) -> real::Adapted {
    let tok = TaoTokenizer::from_pretrained(&fixture()).unwrap();
    let mut cfg = ModelConfig::tiny(tok.vocab_size());
    cfg.max_position_embeddings = 512; // the chat template and instruction take ~180 tokens
    let device = taosr1::backend::train_device();
    let model = {
        let _seeded = SEEDED_INIT.lock().unwrap_or_else(|e| e.into_inner());
        device.seed(seed);
        Transformer::new(&cfg, &device).unwrap()
    };
    real::adapt(model, cfg, tok, template()).unwrap()
}

fn example(query: &str, title: &str, grade: usize) -> Example {
    Example {
        id: format!("{query}/{title}"),
        query: query.into(),
        product: Product {
            title: title.into(),
            ..Product::default()
        },
        rationale: "Query and product checked.".into(),
        grade: taosr1_cot::GradeScale::default().grade(grade).unwrap(),
        score: None,
    }
}

/// The mean loss of the last five steps is under half that of the first five.
fn assert_loss_halves(report: &taosr1::sft::SftReport) {
    assert!(
        report.tail_mean(5) < 0.5 * report.head_mean(5),
        "loss {} -> {}",
        report.head_mean(5),
        report.tail_mean(5)
    );
}

/// Twelve rows whose grade is a function of the query word: learnable from the prompt alone.
fn word_task() -> Vec<Example> {
    let words = ["hammer", "ladder", "faucet", "shovel"];
    let mut data = Vec::new();
    for (g, w) in words.iter().enumerate() {
        for t in ["Steel", "Blue", "Large"] {
            let mut e = example(w, &format!("{t} {w}"), g);
            e.rationale = format!("The query asks for a {w}.");
            data.push(e);
        }
    }
    data
}

fn ids(v: &[u32]) -> Tensor<2, Int> {
    let data: Vec<i64> = v.iter().map(|&i| i64::from(i)).collect();
    Tensor::from_data(TensorData::new(data, [1, v.len()]), &Default::default())
}

#[test]
fn tags_and_labels_become_tokens_initialised_from_their_pieces() {
    let a = adapted(1);
    let tok = a.codec.tokenizer();
    let old = tok.vocab_size() - a.added.len();
    // SmolLM2's vocabulary has none of them as one token
    let names: Vec<&str> = a.added.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(names, real::template_tokens(&template()));
    assert_eq!(a.model.vocab_size(), old + 8);
    for (i, (text, pieces)) in a.added.iter().enumerate() {
        assert!(pieces.len() > 1, "{text} was one token already");
        assert_eq!(tok.single_token(text), Some((old + i) as u32));
    }
    // the response is `<answer>G</answer><think>…</think><|im_end|>`: the grade is the token
    // right after `<answer>`
    let e = example("cordless drill", "DeWalt 20V cordless drill", 3);
    let enc = a.codec.encode(&e).unwrap();
    assert_eq!(enc.response[0], a.codec.answer_open_id());
    assert_eq!(enc.response[1], a.codec.grade_ids()[3]);
    assert_eq!(enc.response[2], a.codec.answer_close_id());
    assert_eq!(*enc.response.last().unwrap(), tok.eos_id());
    assert_eq!(
        a.codec.decode(&enc.response).unwrap(),
        "<answer>L4</answer><think>Query and product checked.</think>"
    );
    // the prompt is the chat template's user turn up to the assistant's
    let text = tok
        .render_chat(
            &[taosr1_model::ChatMessage::user(
                template().prompt(&e.item()),
            )],
            true,
            &serde_json::json!({}),
        )
        .unwrap();
    assert!(text.ends_with("Product: DeWalt 20V cordless drill<|im_end|>\n<|im_start|>assistant\n"));
    assert_eq!(enc.prompt, tok.encode(&text).unwrap());
    // with tied embeddings a new token's logit is the mean of its pieces' logits at every
    // position (its row is the mean of theirs): the untrained model's reading of `L3` is the
    // average of its reading of `L` and `3`
    let model = a.model.valid();
    let slot = a.codec.label_slot_ids(&e.item()).unwrap();
    let logits = model.forward(ids(&slot));
    let [_, t, v] = logits.dims();
    let last: Vec<f32> = logits
        .slice([0..1, t - 1..t, 0..v])
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    for (i, (text, pieces)) in a.added.iter().enumerate() {
        let mean = pieces.iter().map(|&p| last[p as usize]).sum::<f32>() / pieces.len() as f32;
        let got = last[old + i];
        assert!(
            (got - mean).abs() < 1e-4,
            "{text}: logit {got} vs mean of pieces {mean}"
        );
    }
}

#[test]
fn a_saved_real_checkpoint_loads_back_identical() {
    let a = adapted(2);
    let dir = std::env::temp_dir().join(format!("taosr1-real-{}", std::process::id()));
    real::save(&dir, &a.model.valid(), &a.config, &a.codec, &fixture()).unwrap();
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "chat_template.jinja",
        real::TEMPLATE_FILE,
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let (model, config, codec) = real::load(&dir, &Default::default()).unwrap();
    assert_eq!(config.vocab_size, a.config.vocab_size);
    assert_eq!(codec.grade_ids(), a.codec.grade_ids());
    assert_eq!(codec.template(), a.codec.template());
    let e = example("drill", "Cordless drill", 1);
    let slot = codec.label_slot_ids(&e.item()).unwrap();
    assert_eq!(slot, a.codec.label_slot_ids(&e.item()).unwrap());
    let x = model.forward(ids(&slot));
    let y = a.model.valid().forward(ids(&slot));
    let diff: f32 = (x - y).abs().max().into_scalar();
    assert!(diff < 1e-6, "logits moved by {diff}");
    // stored in bf16: half the weight bytes, every weight the f32 one rounded to bf16
    let half = dir.with_extension("bf16");
    real::save_as(
        &half,
        &a.model.valid(),
        &a.config,
        &a.codec,
        &fixture(),
        StorageDtype::Bf16,
    )
    .unwrap();
    let size = |d: &std::path::Path| {
        std::fs::metadata(d.join("model.safetensors"))
            .unwrap()
            .len()
    };
    let (f32_bytes, bf16_bytes) = (size(&dir), size(&half));
    assert!(
        bf16_bytes * 2 < f32_bytes + 4096 && bf16_bytes * 2 > f32_bytes - 4096,
        "{bf16_bytes} vs {f32_bytes}"
    );
    let (rounded, _, _) = real::load(&half, &Default::default()).unwrap();
    let values = |m: &Transformer| -> Vec<f32> {
        m.embed_tokens
            .weight
            .val()
            .into_data()
            .try_to_vec_as::<f32>()
            .unwrap()
    };
    let (exact, got) = (values(&model), values(&rounded));
    assert_eq!(exact.len(), got.len());
    for (x, y) in exact.iter().zip(&got) {
        assert_eq!(burn::tensor::bf16::from_f32(*x).to_f32(), *y);
    }
    let z = rounded.forward(ids(&slot));
    let diff: f32 = (z - model.forward(ids(&slot))).abs().max().into_scalar();
    assert!(diff > 0.0 && diff < 5e-2, "bf16 logits moved by {diff}");
    std::fs::remove_dir_all(&half).unwrap();
    // a missing template file is a typed error naming it
    std::fs::remove_file(dir.join(real::TEMPLATE_FILE)).unwrap();
    let err = real::load(&dir, &Default::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains(real::TEMPLATE_FILE), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_checkpoint_adapted_from_a_gguf_file_saves_as_a_folder_that_loads_back_identical() {
    // a GGUF source has no tokenizer files to copy: save writes them from its tokenizer
    let gguf = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("crates/taosr1-model/tests/fixtures/gguf/tiny_llama.gguf");
    let p = taosr1_model::load_pretrained(&gguf, &Default::default()).unwrap();
    let tok = TaoTokenizer::from_gguf(&gguf).unwrap();
    let a = real::adapt(p.model, p.config, tok, template()).unwrap();
    let dir = std::env::temp_dir().join(format!("taosr1-real-gguf-{}", std::process::id()));
    real::save(&dir, &a.model, &a.config, &a.codec, &gguf).unwrap();
    for f in ["tokenizer_config.json", "generation_config.json"] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let (model, _, codec) = real::load(&dir, &Default::default()).unwrap();
    let (before, after) = (a.codec.tokenizer(), codec.tokenizer());
    assert_eq!(after.eos_ids(), before.eos_ids());
    assert_eq!(
        (after.pad_id(), after.bos_id()),
        (before.pad_id(), before.bos_id())
    );
    assert_eq!(codec.grade_ids(), a.codec.grade_ids());
    let e = example("cordless drill", "Cordless Drill 18V", 3);
    let slot = codec.label_slot_ids(&e.item()).unwrap();
    assert_eq!(slot, a.codec.label_slot_ids(&e.item()).unwrap());
    let diff: f32 = (model.forward(ids(&slot)) - a.model.forward(ids(&slot)))
        .abs()
        .max()
        .into_scalar();
    assert!(diff < 1e-6, "logits moved by {diff}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_time_limit_stops_sft_after_the_step_that_reaches_it() {
    let data: Vec<Example> = ["hammer", "ladder", "faucet", "shovel"]
        .iter()
        .enumerate()
        .map(|(g, w)| example(w, &format!("Steel {w}"), g))
        .collect();
    let a = adapted(4);
    let encoded = a.codec.encode_all(&data).unwrap();
    let cfg = SftConfig::new().with_epochs(3).with_batch_size(2);
    // no limit: every planned step (3 epochs x 2 batches)
    let (_, all) = train(a.model.clone(), &a.codec, &encoded, &cfg, |_, _| {}).unwrap();
    assert_eq!((all.losses.len(), all.stopped_by_time), (6, false));
    // a limit already reached when the first step ends: that step, and no other
    let mut seen = Vec::new();
    let cfg = cfg.with_time_limit_secs(Some(0.0));
    let (_, cut) = train(a.model.clone(), &a.codec, &encoded, &cfg, |s, _| {
        seen.push((s.step, s.total))
    })
    .unwrap();
    assert_eq!((cut.losses.len(), cut.stopped_by_time), (1, true));
    assert_eq!(seen, vec![(0, 6)]);
    assert_eq!(cut.losses[0], all.losses[0]);
    // the limit reached at the last planned step stops nothing: the run was complete
    let one = SftConfig::new()
        .with_epochs(1)
        .with_batch_size(4)
        .with_time_limit_secs(Some(0.0));
    let (_, whole) = train(a.model, &a.codec, &encoded, &one, |_, _| {}).unwrap();
    assert_eq!((whole.losses.len(), whole.stopped_by_time), (1, false));
}

/// Each prediction's grade distribution is the softmax of the probe's logits on its row.
fn assert_probe_softmax(
    preds: &[taosr1::infer::Prediction],
    probe: &taosr1::probe::Probe,
    rows: &[Vec<f32>],
    tol: f32,
) {
    for (p, x) in preds.iter().zip(rows) {
        let z = probe.logits(x);
        let top = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let e: Vec<f32> = z.iter().map(|v| (v - top).exp()).collect();
        let s: f32 = e.iter().sum();
        for (got, want) in p.distribution.probs().iter().zip(e.iter().map(|v| v / s)) {
            assert!((got - want).abs() < tol, "{got} vs {want}");
        }
    }
}

#[test]
fn a_probe_of_the_label_position_is_written_into_the_model_exactly_and_learns_the_task() {
    use taosr1::infer::label_logits;
    use taosr1::probe::{apply, basis, features, fit, objective, ProbeConfig};
    // the body stays frozen
    let data = word_task();
    let a = adapted(5);
    let model = a.model.valid();
    assert!(model.is_tied());
    let items: Vec<Item> = data.iter().map(Example::item).collect();
    let cfg = InferConfig::new();
    let rows = label_logits(&model, &a.codec, &items, &cfg).unwrap();
    let grade_ids = a.codec.grade_ids().to_vec();
    let skip: Vec<u32> = a
        .added
        .iter()
        .map(|(t, _)| a.codec.tokenizer().token_to_id(t).unwrap())
        .collect();
    let b = basis(model.vocab_size(), 48, &skip);
    assert_eq!(b.len(), 48);
    let x: Vec<Vec<f32>> = rows.iter().map(|r| features(r, &b)).collect();
    let gold: Vec<usize> = data.iter().map(|e| e.grade.index()).collect();
    let probe = fit(
        &x,
        &gold,
        4,
        &ProbeConfig::new().with_l2(1e-4).with_iterations(600),
    )
    .unwrap();
    // learnable from the frozen features: every training row right, loss far below ln 4
    assert_eq!(probe.predict(&x), gold);
    assert!(probe.train_loss < 0.3 * 4f64.ln(), "{}", probe.train_loss);
    // converged: ten times the iterations lowers the loss by under 1 %, for every setting
    // (a strong penalty keeps the loss up, but never above the ln 4 of zero weights)
    for (l2, balanced) in [(1e-1, false), (1e-2, true)] {
        let cfg = ProbeConfig::new().with_l2(l2).with_balanced(balanced);
        let short = fit(&x, &gold, 4, &cfg).unwrap().train_loss;
        let long = fit(&x, &gold, 4, &cfg.clone().with_iterations(3000))
            .unwrap()
            .train_loss;
        assert!(
            short < 4f64.ln() && (short - long).abs() < 0.01 * long.max(0.05),
            "{short} vs {long}"
        );
    }
    // written into the model, the grade distribution is the probe's softmax, exactly
    let new = apply(model.clone(), &grade_ids, &b, &probe).unwrap();
    assert!(!new.is_tied());
    let preds = score_label_first(&new, &a.codec, &items, &cfg).unwrap();
    assert_probe_softmax(&preds, &probe, &x, 1e-4);
    // the body did not move: every other token's logits are the old ones
    let after = label_logits(&new, &a.codec, &items, &cfg).unwrap();
    for (r0, r1) in rows.iter().zip(&after) {
        for (i, (u, v)) in r0.iter().zip(r1).enumerate() {
            if !grade_ids.contains(&(i as u32)) {
                assert!((u - v).abs() < 1e-4, "token {i}: {u} vs {v}");
            }
        }
    }
    // the hidden states behind the logits: a probe of h whose weights are output rows, with
    // its penalty on their size, is written into the model exactly as well
    let wide = basis(model.vocab_size(), 96, &skip); // the tiny model's hidden size is 64
    let rows_b = model.output_rows(&wide).unwrap();
    let h = taosr1::probe::hidden_states(
        &rows_b,
        &rows.iter().map(|r| features(r, &wide)).collect::<Vec<_>>(),
    )
    .unwrap();
    assert_eq!(h[0].len(), 64);
    // h reproduces every logit of the basis (and of any other token)
    let check = model.output_rows(&[7, 300]).unwrap();
    for (hi, r) in h.iter().zip(&rows) {
        for (id, row) in [7usize, 300].iter().zip(&check) {
            let z: f32 = row.iter().zip(hi).map(|(a, b)| a * b).sum();
            assert!(
                (z - r[*id]).abs() < 1e-3 * (1.0 + r[*id].abs()),
                "{z} vs {}",
                r[*id]
            );
        }
    }
    let cfg_h = ProbeConfig::new()
        .with_l2(1e-3)
        .with_whiten(false)
        .with_iterations(2000);
    let probe_h = fit(&h, &gold, 4, &cfg_h).unwrap();
    assert!(probe_h.train_loss < 4f64.ln(), "{}", probe_h.train_loss);
    let new_h = model
        .clone()
        .with_output_rows(&grade_ids, &probe_h.weights)
        .unwrap();
    let preds = score_label_first(&new_h, &a.codec, &items, &cfg).unwrap();
    assert_probe_softmax(&preds, &probe_h, &h, 1e-3);
    // the objective's gradient against central finite differences, at a non-zero point
    let xs: Vec<Vec<f64>> = x
        .iter()
        .map(|r| r.iter().map(|v| f64::from(*v) / 10.0).collect())
        .collect();
    let rw: Vec<f64> = gold.iter().map(|&g| 1.0 + g as f64).collect();
    let total: f64 = rw.iter().sum();
    let w: Vec<Vec<f64>> = (0..4)
        .map(|c| {
            (0..b.len())
                .map(|j| ((c * 7 + j * 3) % 11) as f64 / 50.0 - 0.1)
                .collect()
        })
        .collect();
    let (_, grad) = objective(&xs, &gold, &rw, total, &w, 0.3);
    for (c, j) in [(0, 0), (1, 5), (3, 47), (2, 20)] {
        let h = 1e-5;
        let mut up = w.clone();
        up[c][j] += h;
        let mut down = w.clone();
        down[c][j] -= h;
        let fd = (objective(&xs, &gold, &rw, total, &up, 0.3).0
            - objective(&xs, &gold, &rw, total, &down, 0.3).0)
            / (2.0 * h);
        approx::assert_relative_eq!(grad[c][j], fd, epsilon = 1e-7, max_relative = 1e-5);
    }
}

#[test]
fn sft_through_the_chat_codec_learns_and_label_first_scoring_reads_it() {
    let data = word_task();
    let a = adapted(3);
    let encoded = a.codec.encode_all(&data).unwrap();
    let before = score_label_first(
        &a.model.valid(),
        &a.codec,
        &data.iter().map(Example::item).collect::<Vec<_>>(),
        &InferConfig::new(),
    )
    .unwrap();
    let cfg = SftConfig::new()
        .with_epochs(120)
        .with_batch_size(12)
        .with_optimizer(
            OptimizerConfig::new()
                .with_learning_rate(3e-3)
                .with_warmup_steps(Some(5)),
        );
    let items: Vec<Item> = data.iter().map(Example::item).collect();
    // the callback sees the model as each step left it: at the last step, the returned one
    let mut at_last = None;
    let (model, report) = train(a.model, &a.codec, &encoded, &cfg, |s, m| {
        if s.step + 1 == s.total {
            at_last = Some(score_label_first(
                &m.valid(),
                &a.codec,
                &items,
                &InferConfig::new(),
            ));
        }
    })
    .unwrap();
    assert_loss_halves(&report);
    let preds = score_label_first(&model.valid(), &a.codec, &items, &InferConfig::new()).unwrap();
    for (p, q) in preds.iter().zip(at_last.unwrap().unwrap()) {
        for (x, y) in p.distribution.probs().iter().zip(q.distribution.probs()) {
            assert!((x - y).abs() < 1e-6, "{x} vs {y}");
        }
    }
    let right = preds
        .iter()
        .zip(&data)
        .filter(|(p, e)| p.distribution.argmax() == e.grade.index())
        .count();
    let right_before = before
        .iter()
        .zip(&data)
        .filter(|(p, e)| p.distribution.argmax() == e.grade.index())
        .count();
    assert!(
        right >= 11,
        "{right} of 12 right after SFT ({right_before} before)"
    );
}

/// Partial fine-tuning: the frozen embeddings and bottom block get no gradient and do not
/// move, the block above gets exactly the gradient it gets in full fine-tuning (freezing
/// only cuts the backward pass short), and the returned model trains everywhere again.
#[test]
fn frozen_layers_keep_their_weights_and_leave_the_top_gradient_unchanged() {
    use burn::optim::GradientsParams;
    let data = word_task();
    let a = adapted(6);
    let (n, k) = (a.model.num_layers(), 1);
    assert!(n > k, "the tiny model needs a block above the frozen one");
    let encoded = a.codec.encode_all(&data).unwrap();
    let pairs: Vec<(&[u32], &[u32])> = encoded
        .iter()
        .map(|e| (e.prompt.as_slice(), e.response.as_slice()))
        .collect();
    let device = a.model.embed_tokens.weight.device();
    let batch = a.codec.collate(&pairs, &device).unwrap();
    let grads = |m: &Transformer| {
        let g = GradientsParams::from_grads(taosr1::sft::masked_nll(m, &batch).backward(), m);
        let top = g.get::<2>(m.layers[k].mlp.up_proj.weight.id);
        let bottom = g.get::<2>(m.layers[0].mlp.up_proj.weight.id);
        let embed = g.get::<2>(m.embed_tokens.weight.id);
        (top, bottom.is_some(), embed.is_some())
    };
    let (full_top, full_bottom, full_embed) = grads(&a.model);
    let frozen = a.model.clone().freeze_layers(k).unwrap();
    let (top, bottom, embed) = grads(&frozen);
    assert!(full_bottom && full_embed);
    assert!(!bottom && !embed, "frozen parameters got a gradient");
    let (full_top, top) = (full_top.unwrap(), top.unwrap());
    let scale: f32 = full_top.clone().abs().max().into_scalar();
    let diff: f32 = (full_top - top).abs().max().into_scalar();
    assert!(
        scale > 0.0 && diff <= 1e-5 * scale,
        "top gradient moved by {diff} of {scale}"
    );

    let cfg = SftConfig::new()
        .with_epochs(120)
        .with_batch_size(12)
        .with_frozen_layers(k)
        .with_optimizer(
            OptimizerConfig::new()
                .with_learning_rate(3e-3)
                .with_warmup_steps(Some(5)),
        );
    // untied, so the output matrix trains while the input embeddings stay fixed
    let untied = a.model.clone().with_output_rows(&[], &[]).unwrap();
    let (model, report) = train(untied, &a.codec, &encoded, &cfg, |_, m| {
        assert!(!m.layers[0].mlp.up_proj.weight.is_require_grad());
    })
    .unwrap();
    assert_loss_halves(&report);
    let host = |t: Tensor<2>| t.into_data().try_to_vec_as::<f32>().unwrap();
    let w = |m: &Transformer, i: usize| host(m.layers[i].mlp.up_proj.weight.val());
    assert_eq!(w(&model, 0), w(&a.model, 0));
    assert_eq!(
        host(model.embed_tokens.weight.val()),
        host(a.model.embed_tokens.weight.val())
    );
    assert_ne!(w(&model, k), w(&a.model, k));
    assert!(model.layers[0].mlp.up_proj.weight.is_require_grad());
    assert!(model.embed_tokens.weight.is_require_grad());
    // more frozen blocks than the model has: refused before any step
    let too_many = SftConfig::new().with_frozen_layers(n + 1);
    let err = train(a.model, &a.codec, &encoded, &too_many, |_, _| {
        panic!("a step ran")
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("frozen_layers") && err.contains(&format!("{n}")),
        "{err}"
    );
}

/// The shared-prefix pass is the plain pass with the common prompt run once: same token
/// log-probabilities, same gradient on every weight, and SFT takes the same steps with it.
#[test]
fn sharing_the_prompt_prefix_changes_neither_loss_nor_gradient() {
    use burn::optim::GradientsParams;
    let data = word_task();
    let a = adapted(8);
    let encoded = a.codec.encode_all(&data[..5]).unwrap();
    let pairs: Vec<(&[u32], &[u32])> = encoded
        .iter()
        .map(|e| (e.prompt.as_slice(), e.response.as_slice()))
        .collect();
    let shared = {
        let first = &encoded[0].prompt;
        encoded
            .iter()
            .map(|e| {
                first
                    .iter()
                    .zip(&e.prompt)
                    .take_while(|(x, y)| x == y)
                    .count()
            })
            .min()
            .unwrap()
    };
    assert!(
        shared > 20,
        "the chat template and instruction are a long shared prefix"
    );
    let start = encoded.iter().map(|e| e.prompt.len()).min().unwrap();
    let device = a.model.embed_tokens.weight.device();
    let batch = a.codec.collate(&pairs, &device).unwrap();
    let weight = |lp: Tensor<2>| (lp * batch.response_mask.clone()).sum();
    let plain = a.model.token_logprobs_from(batch.input_ids.clone(), start);
    let fast = a
        .model
        .token_logprobs_shared(batch.input_ids.clone(), shared, start)
        .unwrap();
    let diff: f32 = (plain.clone() - fast.clone()).abs().max().into_scalar();
    assert!(diff < 1e-4, "log-probabilities moved by {diff}");
    let (g1, g2) = (
        GradientsParams::from_grads(weight(plain).backward(), &a.model),
        GradientsParams::from_grads(weight(fast).backward(), &a.model),
    );
    for (name, id) in [
        ("embeddings", a.model.embed_tokens.weight.id),
        (
            "block 0 q_proj",
            a.model.layers[0].self_attn.q_proj.weight.id,
        ),
        (
            "last block down_proj",
            a.model.layers.last().unwrap().mlp.down_proj.weight.id,
        ),
    ] {
        let (x, y) = (g1.get::<2>(id).unwrap(), g2.get::<2>(id).unwrap());
        let scale: f32 = x.clone().abs().max().into_scalar();
        let d: f32 = (x - y).abs().max().into_scalar();
        assert!(
            scale > 0.0 && d <= 1e-4 * scale,
            "{name}: gradient moved by {d} of {scale}"
        );
    }
    // a prefix longer than the rows share is refused, not silently wrong
    assert!(a
        .model
        .token_logprobs_shared(batch.input_ids.clone(), start, start + 1)
        .is_err());
    let cfg = SftConfig::new()
        .with_epochs(4)
        .with_batch_size(3)
        .with_optimizer(
            OptimizerConfig::new()
                .with_learning_rate(3e-3)
                .with_warmup_steps(Some(2)),
        );
    let run = |c: &SftConfig| {
        train(a.model.clone(), &a.codec, &encoded, c, |_, _| {})
            .unwrap()
            .1
    };
    let (base, fast) = (run(&cfg), run(&cfg.clone().with_share_prompt_prefix(true)));
    assert_eq!(base.losses.len(), 8);
    for (x, y) in base.losses.iter().zip(&fast.losses) {
        approx::assert_relative_eq!(x, y, max_relative = 1e-3);
    }
}
