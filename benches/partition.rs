//! Throughput of the deployment step: post-CoT renormalisation + cumulative partitioning,
//! threshold fitting on a validation set, and fitting cuts on the expected grade against the
//! plain search that grades every row for every candidate triple (the baseline).
//!
//! Run with `cargo bench --bench partition`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use taosr1_partition::metrics::macro_f1;
use taosr1_partition::{
    fit_thresholds, grade_distribution, FitConfig, GradeDistribution, Metric, Partitioner,
    ScoreCuts,
};

const NUM_GRADES: usize = 4;
const VOCAB: usize = 64;
const GRADE_IDS: [u32; NUM_GRADES] = [40, 41, 42, 43];

/// Logits at the answer slot: every token random, the grade tokens peaked around a latent grade.
fn random_logits(rng: &mut ChaCha8Rng, n: usize) -> Vec<Vec<f32>> {
    (0..n)
        .map(|_| {
            let mut logits: Vec<f32> = (0..VOCAB).map(|_| rng.random_range(-4.0..4.0)).collect();
            let latent = rng.random_range(0..NUM_GRADES);
            for (g, &id) in GRADE_IDS.iter().enumerate() {
                let distance = g.abs_diff(latent) as f32;
                logits[id as usize] = 3.0 - 1.5 * distance + rng.random_range(-1.0..1.0);
            }
            logits
        })
        .collect()
}

fn bench_partition(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let batch = random_logits(&mut rng, 10_000);
    let partitioner = Partitioner::default_for(NUM_GRADES).expect("4 grades are valid");

    let mut group = c.benchmark_group("partition");
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("grade_distribution+partition/10k", |b| {
        b.iter(|| {
            let mut grade_sum = 0usize;
            let mut score_sum = 0.0f32;
            for logits in &batch {
                let dist = grade_distribution(black_box(logits), black_box(&GRADE_IDS))
                    .expect("valid logits");
                let p = partitioner.partition(&dist).expect("matching grade count");
                grade_sum += p.grade;
                score_sum += p.score;
            }
            black_box((grade_sum, score_sum))
        })
    });
    group.finish();
}

fn bench_fit(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let n = 2_000;
    let logits = random_logits(&mut rng, n);
    let dists: Vec<GradeDistribution> = logits
        .iter()
        .map(|l| grade_distribution(l, &GRADE_IDS).expect("valid logits"))
        .collect();
    // Gold labels: the argmax, shifted up one grade 30% of the time (an under-confident model).
    let labels: Vec<usize> = dists
        .iter()
        .map(|d| {
            let a = d.argmax();
            if a + 1 < NUM_GRADES && rng.random_bool(0.3) {
                a + 1
            } else {
                a
            }
        })
        .collect();

    let mut group = c.benchmark_group("fit_thresholds");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(20);
    for metric in [Metric::Accuracy, Metric::MacroF1] {
        group.bench_function(format!("{metric:?}/2k"), |b| {
            b.iter_batched(
                FitConfig::default,
                |config| {
                    fit_thresholds(black_box(&dists), black_box(&labels), metric, config)
                        .expect("valid fitting set")
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

/// The baseline: every non-decreasing triple of the same candidates (64 quantiles of the
/// distinct scores and one above them), each scored by grading every row and computing
/// macro-F1 from scratch; what `examples/home_depot.rs` did before `ScoreCuts::fit`.
fn grade_every_row(scores: &[f32], gold: &[usize]) -> [f32; 3] {
    let mut grid: Vec<f32> = scores.to_vec();
    grid.sort_by(f32::total_cmp);
    grid.dedup();
    if grid.len() > 64 {
        let n = grid.len();
        grid = (0..64).map(|i| grid[i * (n - 1) / 63]).collect();
        grid.dedup();
    }
    let top = grid.last().copied().unwrap_or(0.0);
    grid.push(top + 1.0);
    let mut best = ([0.0f32; 3], -1.0f64);
    for (i, &a) in grid.iter().enumerate() {
        for (j, &b) in grid.iter().enumerate().skip(i) {
            for &c in grid.iter().skip(j) {
                let cuts = [a, b, c];
                let pred: Vec<usize> = scores
                    .iter()
                    .map(|&x| cuts.iter().filter(|&&t| x >= t).count())
                    .collect();
                let f = macro_f1(&pred, gold, NUM_GRADES).expect("valid labels");
                if f > best.1 {
                    best = (cuts, f);
                }
            }
        }
    }
    best.0
}

fn bench_cuts(c: &mut Criterion) {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let n = 2_000;
    let dists: Vec<GradeDistribution> = random_logits(&mut rng, n)
        .iter()
        .map(|l| grade_distribution(l, &GRADE_IDS).expect("valid logits"))
        .collect();
    let labels: Vec<usize> = dists
        .iter()
        .map(|d| (d.argmax() + usize::from(rng.random_bool(0.3))).min(NUM_GRADES - 1))
        .collect();
    let scores: Vec<f32> = dists
        .iter()
        .map(GradeDistribution::expected_grade)
        .collect();
    // the two searches agree before either is timed
    let fit = ScoreCuts::fit(&scores, &labels, NUM_GRADES, Metric::MacroF1).expect("valid set");
    assert_eq!(fit.cuts.as_slice(), grade_every_row(&scores, &labels));

    let mut group = c.benchmark_group("fit_cuts");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(10);
    group.bench_function("ScoreCuts::fit_expected_grade/2k", |b| {
        b.iter(|| {
            ScoreCuts::fit_expected_grade(black_box(&dists), black_box(&labels), Metric::MacroF1)
                .expect("valid set")
        })
    });
    group.bench_function("grade_every_row/2k (baseline)", |b| {
        b.iter(|| grade_every_row(black_box(&scores), black_box(&labels)))
    });
    group.finish();
}

criterion_group!(benches, bench_partition, bench_fit, bench_cuts);
criterion_main!(benches);
