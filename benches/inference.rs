//! End-to-end inference throughput on the default backend (CPU ndarray; CUDA with
//! `--features cuda`), with the tiny model shape the examples train (random weights: speed
//! does not depend on them).
//!
//! * `decode/*`: greedy generation of 32 new tokens after real prompts from the shipped test
//!   split, batch 1 vs batch 16, with the KV cache; and the same batch-16 job re-running the
//!   full causal pass for every new token (no cache) to show what the cache buys. Throughput
//!   is in generated tokens.
//! * `score/*`: items/s of the deployment path on 64 products of one query (the test split's
//!   first 64 products, all given the first item's query): think-first
//!   ([`taosr1::infer::predict_think_first`]: thinking, answer-slot forcing, second prefill)
//!   vs label-first ([`taosr1::infer::score_label_first`]: one prefill, no decoding), the
//!   latter without and with the query's shared prompt prefix prefilled once.
//!
//! Run with `cargo bench --bench inference`. Compare runs as ratios (batch-16 vs batch-1
//! tokens/s, cache vs no cache), not as absolute numbers.

use std::hint::black_box;

use burn::tensor::{Int, Tensor, TensorData};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use taosr1::assets::{load_codec, load_split, Split};
use taosr1::backend::device;
use taosr1::infer::{predict_think_first, score_label_first, InferConfig};
use taosr1_cot::ResponseOrder;
use taosr1_model::{generate, ModelConfig, SamplingConfig, Transformer};

const NEW_TOKENS: usize = 32;

/// Greedy decoding without a KV cache: one full causal pass per new token (equal-length
/// prompts, so no padding is involved).
fn generate_no_cache(model: &Transformer, prompts: &[Vec<u32>], new: usize) -> Vec<Vec<u32>> {
    let mut seqs: Vec<Vec<u32>> = prompts.to_vec();
    for _ in 0..new {
        let (b, t) = (seqs.len(), seqs[0].len());
        let ids: Vec<i64> = seqs.iter().flatten().map(|&x| x as i64).collect();
        let input = Tensor::<2, Int>::from_data(TensorData::new(ids, [b, t]), &device());
        let logits = model.forward(input).narrow(1, t - 1, 1).argmax(2);
        let next: Vec<i64> = logits.into_data().iter::<i64>().collect();
        for (s, n) in seqs.iter_mut().zip(next) {
            s.push(n as u32);
        }
    }
    seqs
}

fn bench_inference(c: &mut Criterion) {
    let codec = load_codec().expect("shipped tokenizer");
    let test = load_split(Split::Test).expect("shipped test split");
    let cfg = ModelConfig::tiny(codec.tokenizer().vocab_size());
    let model = Transformer::new(&cfg, &device()).expect("tiny config is valid");
    let pad = codec.tokenizer().pad_id();
    let prompts: Vec<Vec<u32>> = test
        .iter()
        .map(|e| codec.prompt_ids(&e.item()).expect("closed vocabulary"))
        .collect();
    // equal-length prompts for the no-cache baseline
    let len = prompts[0].len();
    let same_len: Vec<Vec<u32>> = prompts
        .iter()
        .filter(|p| p.len() == len)
        .take(16)
        .cloned()
        .collect();
    assert_eq!(
        same_len.len(),
        16,
        "16 prompts of equal length in the test split"
    );
    let greedy = SamplingConfig::greedy(NEW_TOKENS);

    let mut group = c.benchmark_group("decode");
    group.sample_size(10);
    for batch in [1usize, 16] {
        group.throughput(Throughput::Elements((batch * NEW_TOKENS) as u64));
        group.bench_function(format!("kv_cache/batch{batch}"), |b| {
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            b.iter(|| {
                black_box(
                    generate(&model, &same_len[..batch], pad, &[], &greedy, &mut rng)
                        .expect("generation"),
                )
            })
        });
    }
    group.throughput(Throughput::Elements((16 * NEW_TOKENS) as u64));
    group.bench_function("no_cache/batch16", |b| {
        b.iter(|| black_box(generate_no_cache(&model, &same_len, NEW_TOKENS)))
    });
    group.finish();

    // 64 products for one query: the serving case CumPT tiers are computed for
    let query = test[0].query.clone();
    let items: Vec<_> = test
        .iter()
        .take(64)
        .map(|e| {
            let mut item = e.item();
            item.query = query.clone();
            item
        })
        .collect();
    let think_first = codec.clone().with_order(ResponseOrder::ThinkFirst);
    let infer = InferConfig::default();
    let no_reuse = InferConfig::default().with_prefix_reuse(false);
    let mut group = c.benchmark_group("score");
    group.sample_size(10);
    group.throughput(Throughput::Elements(items.len() as u64));
    // a random model never closes its thinking: every item generates the full budget
    group.bench_function("think_first/64_products", |b| {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        b.iter(|| {
            black_box(
                predict_think_first(&model, &think_first, &items, &infer, &mut rng)
                    .expect("predict"),
            )
        })
    });
    group.bench_function("label_first/64_products", |b| {
        b.iter(|| black_box(score_label_first(&model, &codec, &items, &no_reuse).expect("score")))
    });
    group.bench_function("label_first_prefix_reuse/64_products", |b| {
        b.iter(|| black_box(score_label_first(&model, &codec, &items, &infer).expect("score")))
    });
    group.finish();
}

criterion_group!(benches, bench_inference);
criterion_main!(benches);
