//! Label-first scoring of 64 products for one query in SmolLM2-135M's shapes (random weights:
//! speed does not depend on them): every `prompt <answer>` prefilled on its own (batches of
//! 16, 128 tokens each) vs the query's 96-token shared prefix (chat template, system prompt,
//! query) prefilled once and each product's 32 tokens run against it
//! ([`taosr1_model::SharedPrefix`]). Throughput is in items.
//!
//! `cargo bench --bench score` (on the GPU: `--features cuda`). Compare the two cells as a
//! ratio measured in the same run.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use taosr1::backend::device;
use taosr1_model::{DecodeSession, ModelConfig, SharedPrefix, Transformer};

const PRODUCTS: usize = 64;
const PREFIX: usize = 96;
const SUFFIX: usize = 32;
const BATCH: usize = 16;

fn tokens(len: usize, salt: u64) -> Vec<u32> {
    (0..len as u64)
        .map(|i| ((i * 7919 + salt * 104_729 + 13) % 49_149 + 3) as u32)
        .collect()
}

fn bench_score(c: &mut Criterion) {
    let dev = device();
    dev.seed(0);
    let model = Transformer::new(&ModelConfig::smollm2_135m(), &dev).expect("SmolLM2 config");
    let prefix = tokens(PREFIX, 0);
    let suffixes: Vec<Vec<u32>> = (1..=PRODUCTS as u64).map(|s| tokens(SUFFIX, s)).collect();
    let full: Vec<Vec<u32>> = suffixes
        .iter()
        .map(|s| prefix.iter().chain(s).copied().collect())
        .collect();
    let mut group = c.benchmark_group("smollm2_135m_score");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(PRODUCTS as u64));
    group.bench_function("label_first/64_products", |b| {
        b.iter(|| {
            for chunk in full.chunks(BATCH) {
                black_box(DecodeSession::start(&model, chunk, 0).expect("prefill"));
            }
        })
    });
    group.bench_function("label_first_prefix_reuse/64_products", |b| {
        b.iter(|| {
            let shared = SharedPrefix::new(&model, &prefix).expect("prefix");
            for chunk in suffixes.chunks(BATCH) {
                black_box(shared.last_logits(chunk, 0).expect("suffixes"));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_score);
criterion_main!(benches);
