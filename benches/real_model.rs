//! SmolLM2-135M on the CPU, the cells of `scripts/bench_pytorch.py` (PyTorch eager, same
//! machine, same session; `scripts/bench_real_model.sh` runs both and prints the ratios):
//!
//! * `prefill_128`: one prefill of 128 prompt tokens with logits of the last position only;
//! * `decode_b1_64` / `decode_b8_64`: 64 greedy steps with the KV cache after a 128-token
//!   prefill, batch 1 and 8 (the prefill is outside the timed part);
//! * `train_step_4x128`: forward + backward + AdamW on batch 4 x 128 tokens, loss on the last
//!   32 tokens of each row.
//!
//! Random weights in SmolLM2's shapes (speed does not depend on their values), so the bench
//! runs without the checkpoint. `cargo bench --bench real_model`.

use std::hint::black_box;
use std::time::Duration;

use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode};
use taosr1::backend::{device, train_device};
use taosr1_model::{DecodeSession, ModelConfig, Transformer};

fn smollm2() -> ModelConfig {
    ModelConfig {
        max_position_embeddings: 2048,
        ..ModelConfig::smollm2_135m()
    }
}

fn prompt(len: usize, salt: u64) -> Vec<u32> {
    (0..len as u64)
        .map(|i| ((i * 7919 + salt * 104_729 + 13) % 49_149 + 3) as u32)
        .collect()
}

/// 64 greedy steps after `session`'s prefill.
fn decode(session: &mut DecodeSession<'_>, steps: usize) -> Vec<u32> {
    let mut last = Vec::new();
    for _ in 0..steps {
        let next: Vec<Option<u32>> = session
            .last_logits()
            .iter()
            .map(|row| {
                let (i, _) = row
                    .iter()
                    .enumerate()
                    .fold(
                        (0, f32::NEG_INFINITY),
                        |a, (i, &v)| if v > a.1 { (i, v) } else { a },
                    );
                Some(i as u32)
            })
            .collect();
        last = next.iter().map(|t| t.unwrap_or(0)).collect();
        session.feed(&next).expect("decode step");
    }
    last
}

fn bench_real_model(c: &mut Criterion) {
    let dev = device();
    let cfg = smollm2();
    dev.seed(0);
    let model = Transformer::new(&cfg, &dev).expect("SmolLM2 config is valid");
    let mut group = c.benchmark_group("smollm2_135m");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_secs(1));

    let p1 = vec![prompt(128, 0)];
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("prefill_128", |b| {
        b.iter(|| black_box(DecodeSession::start(&model, &p1, 0).expect("prefill")))
    });

    for batch in [1usize, 8] {
        let prompts: Vec<Vec<u32>> = (0..batch as u64).map(|s| prompt(128, s)).collect();
        group.measurement_time(Duration::from_secs(if batch == 1 { 30 } else { 40 }));
        group.bench_function(format!("decode_b{batch}_64"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let mut session = DecodeSession::start(&model, &prompts, 0).expect("prefill");
                    let t = std::time::Instant::now();
                    black_box(decode(&mut session, 64));
                    total += t.elapsed();
                }
                total
            })
        });
    }
    drop(model);

    // one training step: forward + backward + AdamW, loss on the last 32 tokens of each row
    let tdev = train_device();
    tdev.seed(0);
    let mut model = Some(Transformer::new(&cfg, &tdev).expect("SmolLM2 config is valid"));
    let mut optim = AdamWConfig::new().init();
    let rows: Vec<i64> = (0..4u64)
        .flat_map(|s| prompt(128, s + 10))
        .map(|t| t as i64)
        .collect();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(rows, [4, 128]), &tdev);
    group.measurement_time(Duration::from_secs(60));
    group.bench_function("train_step_4x128", |b| {
        b.iter(|| {
            let taken = model.take().expect("model");
            let logits = taken.forward_positions(ids.clone(), 95..127); // predicts 96..128
            let targets = ids.clone().slice([0..4, 96..128]).reshape([4, 32, 1]);
            let loss = log_softmax(logits, 2).gather(2, targets).mean().neg();
            let grads = GradientsParams::from_grads(loss.backward(), &taken);
            model = Some(optim.step(1e-5, taken, grads));
            tdev.sync().expect("sync");
        })
    });
    black_box(model);
    group.finish();
}

criterion_group!(benches, bench_real_model);
criterion_main!(benches);
