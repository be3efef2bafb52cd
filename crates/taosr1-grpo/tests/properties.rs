//! Property tests: advantage normalisation and the dynamic sampler's bookkeeping.

use proptest::prelude::*;
use taosr1_grpo::{
    group_advantages, DynamicSampler, DynamicSamplingConfig, Rollout, SolvedCriterion,
};

fn mean_std(v: &[f32]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let var = v.iter().map(|&x| (f64::from(x) - m).powi(2)).sum::<f64>() / n;
    (m, var.sqrt())
}

fn spread(v: &[f32]) -> f32 {
    let max = v.iter().copied().fold(f32::MIN, f32::max);
    let min = v.iter().copied().fold(f32::MAX, f32::min);
    max - min
}

proptest! {
    #[test]
    fn advantages_are_standardised(rewards in prop::collection::vec(-10.0f32..10.0, 1..16)) {
        let adv = group_advantages(&rewards, 0.0).unwrap();
        prop_assert_eq!(adv.len(), rewards.len());
        let (m, s) = mean_std(&adv);
        prop_assert!(m.abs() < 1e-5, "mean {}", m);
        if spread(&rewards) > 1e-3 {
            prop_assert!((s - 1.0).abs() < 1e-4, "std {}", s);
        } else if spread(&rewards) == 0.0 {
            prop_assert!(adv.iter().all(|&a| a == 0.0));
        }
    }

    #[test]
    fn constant_groups_give_zeros(v in -100.0f32..100.0, n in 1usize..10, eps in 0.0f32..1.0) {
        prop_assert_eq!(group_advantages(&vec![v; n], eps).unwrap(), vec![0.0; n]);
    }

    #[test]
    fn shift_and_scale_invariance(
        rewards in prop::collection::vec(-10.0f32..10.0, 2..12),
        shift in -50.0f32..50.0,
        scale in 0.1f32..10.0,
    ) {
        prop_assume!(spread(&rewards) > 0.1);
        let base = group_advantages(&rewards, 0.0).unwrap();
        let shifted: Vec<f32> = rewards.iter().map(|r| r + shift).collect();
        let scaled: Vec<f32> = rewards.iter().map(|r| r * scale).collect();
        for (a, b) in base.iter().zip(group_advantages(&shifted, 0.0).unwrap()) {
            prop_assert!((a - b).abs() < 2e-3, "{} vs {}", a, b);
        }
        for (a, b) in base.iter().zip(group_advantages(&scaled, 0.0).unwrap()) {
            prop_assert!((a - b).abs() < 1e-4, "{} vs {}", a, b);
        }
    }

    #[test]
    fn dynamic_sampler_bookkeeping(
        group_size in 2usize..6,
        target in 1usize..6,
        // each prompt: fraction of correct rollouts in 0..=group_size, as a seed
        seeds in prop::collection::vec(0usize..100, 0..30),
        max_prompts in prop::option::of(1usize..40),
    ) {
        let cfg = DynamicSamplingConfig::new(group_size, target).with_max_prompts(max_prompts);
        let mut sampler = DynamicSampler::new(cfg).unwrap();
        let n_correct = |seed: usize| seed % (group_size + 1);
        let mut calls = 0usize;
        let batch = sampler
            .fill(seeds.iter().copied(), |&seed: &usize, n| {
                calls += 1;
                let c = n_correct(seed);
                Ok::<_, String>((0..n).map(|i| Rollout::new(i, (i < c) as u8 as f32, i < c)).collect())
            })
            .unwrap();
        let st = batch.stats;
        prop_assert_eq!(st.kept + st.dropped(), st.prompts_seen);
        prop_assert_eq!(st.dropped_low_variance, 0);
        prop_assert_eq!(calls, st.prompts_seen);
        prop_assert_eq!(st.kept, batch.groups.len());
        prop_assert!(st.kept <= target);
        for g in &batch.groups {
            prop_assert_eq!(g.rollouts.len(), group_size);
            let c = g.rollouts.iter().filter(|r| r.correct).count();
            prop_assert!(c > 0 && c < group_size, "kept a solved/failed group");
            prop_assert_eq!(g.prompt, seeds[g.prompt_index]);
        }
        // Expected: walk the prompts in order, stop at the target or the prompt limit.
        let limit = max_prompts.unwrap_or(usize::MAX).min(seeds.len());
        let mut kept = 0;
        let mut seen = 0;
        for &s in seeds.iter().take(limit) {
            if kept == target { break; }
            seen += 1;
            let c = n_correct(s);
            if c > 0 && c < group_size { kept += 1; }
        }
        prop_assert_eq!(st.prompts_seen, seen);
        prop_assert_eq!(st.kept, kept);
        prop_assert_eq!(batch.reached_target, kept == target);
        prop_assert_eq!(sampler.total_stats(), st);
    }

    #[test]
    fn variance_criterion_never_keeps_flat_groups(
        rewards in prop::collection::vec(prop::collection::vec(0u8..3, 3), 1..20),
    ) {
        let cfg = DynamicSamplingConfig::new(3, 100)
            .with_criterion(SolvedCriterion::RewardVariance { min_std: 0.0 });
        let mut sampler = DynamicSampler::new(cfg).unwrap();
        let batch = sampler
            .fill(rewards.clone(), |g: &Vec<u8>, _| {
                Ok::<_, String>(g.iter().map(|&r| Rollout::new((), f32::from(r), r == 2)).collect())
            })
            .unwrap();
        let st = batch.stats;
        prop_assert_eq!(st.kept + st.dropped(), st.prompts_seen);
        prop_assert_eq!(st.prompts_seen, rewards.len());
        for g in &batch.groups {
            prop_assert!(g.advantages(0.0).unwrap().iter().any(|&a| a != 0.0));
        }
    }
}
