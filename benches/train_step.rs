//! CPU training-step speed on burn 0.22 + flex (the "after" side of the burn 0.21 -> 0.22
//! upgrade comparison). Its burn 0.21 + ndarray twin is `scripts/train_step_burn021.rs`, which
//! `scripts/bench_burn_upgrade.sh` copies into a worktree of the last burn-0.21 commit and runs
//! back to back with this one: same group, function names and inputs. Compare as ratios.
//!
//! * `train_step/sft_step_tiny`: one SFT optimizer step ([`taosr1::sft::train`] with
//!   `max_steps = 1`: collate, `masked_nll`, backward, clipped AdamW update) of the tiny model
//!   the pipeline trains, on a fixed batch of the first 16 examples of the shipped train split.
//! * `train_step/fwd_bwd_135m_128tok`: forward + backward (no optimizer step) of a randomly
//!   initialised transformer with SmolLM2-135M shapes on one sequence of 128 fixed token ids;
//!   loss = -mean(token_logprobs).
//! * `train_step/matmul_f32_1024`: one 1024x1024x1024 f32 matmul (GFLOP/s = 2 n^3 / time).

use std::hint::black_box;
use std::time::Duration;

use burn::tensor::{Distribution, Int, Tensor, TensorData};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode};
use taosr1::assets::{load_codec, load_split, Split};
use taosr1::backend::{device, train_device};
use taosr1::sft::{train, SftConfig};
use taosr1_model::{ModelConfig, Transformer};

/// SmolLM2-135M shapes (Llama architecture: no attention bias, tied embeddings).
fn smollm2_135m() -> ModelConfig {
    ModelConfig {
        max_position_embeddings: 2048,
        ..ModelConfig::smollm2_135m()
    }
}

fn bench_train_step(c: &mut Criterion) {
    let dev = device();
    let train_dev = train_device();
    let mut group = c.benchmark_group("train_step");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));

    // (a) one SFT step of the tiny pipeline model on a fixed batch of 16 train examples
    let codec = load_codec().expect("shipped tokenizer");
    let mut train_set = load_split(Split::Train).expect("shipped train split");
    train_set.truncate(16);
    let data = codec.encode_all(&train_set).expect("closed vocabulary");
    let sft = SftConfig {
        epochs: 1,
        max_steps: Some(1),
        batch_size: 16,
        ..SftConfig::default()
    };
    train_dev.seed(42);
    let tiny = Transformer::new(
        &ModelConfig::tiny(codec.tokenizer().vocab_size()),
        &train_dev,
    )
    .expect("tiny config is valid");
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("sft_step_tiny", |b| {
        b.iter_batched(
            || tiny.clone(),
            |model| {
                let (model, report) =
                    train(model, &codec, &data, &sft, |_, _| {}).expect("SFT step");
                assert_eq!(report.losses.len(), 1);
                black_box(model)
            },
            BatchSize::PerIteration,
        )
    });

    // (b) forward + backward of a SmolLM2-135M-shaped model on 1 x 128 tokens
    let cfg = smollm2_135m();
    train_dev.seed(0);
    let big = Transformer::new(&cfg, &train_dev).expect("135M config is valid");
    let ids: Vec<i64> = (0..128i64)
        .map(|i| (i * 7919 + 13) % cfg.vocab_size as i64)
        .collect();
    let input = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, 128]), &train_dev);
    // seconds per iteration: equal-sized samples (10 samples of >= 1 iteration each)
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(50));
    group.bench_function("fwd_bwd_135m_128tok", |b| {
        b.iter(|| {
            let loss = big.token_logprobs(input.clone()).mean().neg();
            let grads = loss.backward();
            train_dev.sync().expect("sync");
            black_box(grads)
        })
    });
    drop(big);

    // (c) 1024^3 f32 matmul on the inference device
    let n = 1024;
    let a = Tensor::<2>::random([n, n], Distribution::Default, &dev);
    let m = Tensor::<2>::random([n, n], Distribution::Default, &dev);
    group.sampling_mode(SamplingMode::Auto);
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("matmul_f32_1024", |b| {
        b.iter(|| {
            let out = a.clone().matmul(m.clone());
            dev.sync().expect("sync");
            black_box(out)
        })
    });
    group.finish();
}

criterion_group!(benches, bench_train_step);
criterion_main!(benches);
