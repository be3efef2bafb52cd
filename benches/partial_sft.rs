//! What partial fine-tuning and the shared prompt prefix save per SFT step on the CPU, on a
//! randomly initialised transformer with SmolLM2-135M shapes (untied head, as `home_depot`
//! trains it) and a batch shaped like a Home Depot label-only SFT batch: 8 rows that share a
//! 76-token prefix (the chat template's system turn and the instruction), then 34 tokens of
//! their own (query, product, the assistant turn's opening), then 6 response tokens.
//!
//! Each function is one forward + backward of the masked response NLL, the gradients
//! collected as the optimizer sees them ([`GradientsParams`]):
//! * `partial_sft/full_plain`: every block trains, every row runs its whole sequence
//!   ([`Transformer::token_logprobs_from`]);
//! * `partial_sft/full_shared`: the prefix runs once ([`Transformer::token_logprobs_shared`]);
//! * `partial_sft/frozen20_plain` and `partial_sft/frozen20_shared`: the same with the
//!   embeddings and blocks 0..20 of 30 frozen ([`Transformer::freeze_layers`]).
//!
//! The second group, `dpo_pairs`, is the policy pass of a DPO step on the same model (every
//! block training): 16 rows (8 chosen, 8 rejected responses) of the same 76 + 34 tokens, then
//! 48 response tokens, through [`PolicyModel`] with and without `share_prompt_prefix`.
//!
//! Compare as ratios within one run: `cargo bench --bench partial_sft`.

use std::hint::black_box;
use std::time::Duration;

use burn::optim::GradientsParams;
use burn::tensor::{Device, Int, Tensor, TensorData};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use taosr1::backend::train_device;
use taosr1::stages::PolicyModel;
use taosr1_grpo::{Policy, TokenBatch};
use taosr1_model::{ModelConfig, Transformer};

const ROWS: usize = 8;
const PREFIX: usize = 76;
const OWN: usize = 34;
const RESPONSE: usize = 6;

/// A randomly initialised transformer of SmolLM2-135M's shapes with an untied head, and
/// `rows` rows of `t` token ids that share their first [`PREFIX`] tokens.
fn model_and_rows(rows: usize, t: usize) -> (Device, Transformer, Tensor<2, Int>) {
    let dev = train_device();
    let cfg = ModelConfig {
        tie_word_embeddings: false,
        ..ModelConfig::smollm2_135m()
    };
    dev.seed(0);
    let model = Transformer::new(&cfg, &dev).expect("135M config is valid");
    let vocab = cfg.vocab_size as i64;
    let ids: Vec<i64> = (0..rows)
        .flat_map(|r| {
            (0..t).map(move |i| {
                let salt = if i < PREFIX { 0 } else { r as i64 + 1 };
                (i as i64 * 7919 + salt * 104_729 + 13) % vocab
            })
        })
        .collect();
    let input = Tensor::<2, Int>::from_data(TensorData::new(ids, [rows, t]), &dev);
    (dev, model, input)
}

fn bench_partial_sft(c: &mut Criterion) {
    let (dev, full, input) = model_and_rows(ROWS, PREFIX + OWN + RESPONSE);
    let frozen = full.clone().freeze_layers(20).expect("30 blocks");
    let start = PREFIX + OWN;
    let mut group = c.benchmark_group("partial_sft");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(40));
    for (name, model, shared) in [
        ("full_plain", &full, false),
        ("full_shared", &full, true),
        ("frozen20_plain", &frozen, false),
        ("frozen20_shared", &frozen, true),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let lp = if shared {
                    model
                        .token_logprobs_shared(input.clone(), PREFIX, start)
                        .expect("the rows share the prefix")
                } else {
                    model.token_logprobs_from(input.clone(), start)
                };
                let loss = lp.sum().neg();
                let grads = GradientsParams::from_grads(loss.backward(), model);
                dev.sync().expect("sync");
                black_box(grads)
            })
        });
    }
    group.finish();
}

const PAIR_ROWS: usize = 16;
const PAIR_RESPONSE: usize = 48;

fn bench_dpo_pairs(c: &mut Criterion) {
    let start = PREFIX + OWN;
    let t = start + PAIR_RESPONSE;
    let (dev, lm, input) = model_and_rows(PAIR_ROWS, t);
    let mask: Vec<f32> = (0..PAIR_ROWS)
        .flat_map(|_| (0..t).map(|i| if i >= start { 1.0 } else { 0.0 }))
        .collect();
    let batch = TokenBatch::new(
        input,
        Tensor::<2>::from_data(TensorData::new(mask, [PAIR_ROWS, t]), &dev),
    )
    .expect("same shapes");
    let mut group = c.benchmark_group("dpo_pairs");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(60));
    for (name, shared) in [("plain", false), ("shared", true)] {
        let policy = PolicyModel::new(lm.clone()).with_share_prompt_prefix(shared);
        group.bench_function(name, |b| {
            b.iter(|| {
                let loss = policy.token_logprobs(&batch).sum().neg();
                let grads = GradientsParams::from_grads(loss.backward(), &policy);
                dev.sync().expect("sync");
                black_box(grads)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_partial_sft, bench_dpo_pairs);
criterion_main!(benches);
