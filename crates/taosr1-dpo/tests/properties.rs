//! Property tests: preference pairs and pass@k.

use proptest::prelude::*;
use taosr1_dpo::{
    build_pairs, mean_pass_at_k, pass_at_k, pass_at_n, AllWrongPolicy, DpoError, PairPolicy,
    PairSelection, ScoredGroup, ScoredSample,
};

fn arb_group(index: usize) -> impl Strategy<Value = ScoredGroup> {
    (
        prop::collection::vec((0u8..6, -2.0f32..2.0, any::<bool>()), 0..7),
        prop::option::of(0u8..8),
    )
        .prop_map(move |(samples, gold)| {
            // a small text alphabet so duplicates happen; gold may collide with samples
            let g = ScoredGroup::new(
                index,
                samples
                    .into_iter()
                    .map(|(t, r, c)| ScoredSample::new(format!("r{t}"), r, c))
                    .collect(),
            );
            match gold {
                Some(t) => g.with_gold(format!("r{t}")),
                None => g,
            }
        })
}

fn arb_groups() -> impl Strategy<Value = Vec<ScoredGroup>> {
    (0usize..8).prop_flat_map(|n| (0..n).map(arb_group).collect::<Vec<_>>())
}

fn arb_policy() -> impl Strategy<Value = PairPolicy> {
    (0usize..5, any::<bool>(), any::<bool>()).prop_map(|(m, margin, skip)| {
        PairPolicy::default()
            .with_max_pairs_per_prompt(m)
            .with_selection(if margin {
                PairSelection::MaxMargin
            } else {
                PairSelection::HardestNegative
            })
            .with_all_wrong(if skip {
                AllWrongPolicy::Skip
            } else {
                AllWrongPolicy::GoldAsChosen
            })
    })
}

/// C(n, k) as f64.
fn binom(n: usize, k: usize) -> f64 {
    if k > n {
        return 0.0;
    }
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

proptest! {
    #[test]
    fn pairs_are_sound(groups in arb_groups(), policy in arb_policy()) {
        let (pairs, st) = build_pairs(&groups, &policy);
        prop_assert_eq!(
            st.mixed + st.all_correct_skipped + st.all_wrong_gold + st.all_wrong_skipped + st.empty_skipped,
            st.prompts
        );
        prop_assert_eq!(st.prompts, groups.len());
        prop_assert_eq!(st.pairs, pairs.len());
        for p in &pairs {
            let g = &groups[p.prompt_index];
            prop_assert_ne!(&p.chosen, &p.rejected);
            // chosen: a correct sample of this prompt, or this prompt's gold for all-wrong groups
            if p.chosen_is_gold() {
                prop_assert_eq!(Some(&p.chosen), g.gold.as_ref());
                prop_assert!(g.all_wrong());
                prop_assert_eq!(policy.all_wrong, AllWrongPolicy::GoldAsChosen);
            } else {
                prop_assert!(g.samples.iter().any(|s| s.correct && s.text == p.chosen
                    && Some(s.reward) == p.chosen_reward));
            }
            // rejected: an incorrect sample of the same prompt
            prop_assert!(g.samples.iter().any(|s| !s.correct && s.text == p.rejected
                && s.reward == p.rejected_reward));
        }
        for g in &groups {
            let mine: Vec<_> = pairs.iter().filter(|p| p.prompt_index == g.prompt_index).collect();
            prop_assert!(mine.len() <= policy.max_pairs_per_prompt);
            if g.all_correct() || g.samples.is_empty() {
                prop_assert!(mine.is_empty());
            }
            // no duplicate text pairs per prompt
            for (i, a) in mine.iter().enumerate() {
                for b in &mine[i + 1..] {
                    prop_assert!(a.chosen != b.chosen || a.rejected != b.rejected);
                }
            }
            // a mixed group with distinct texts yields min(m, max(nc, nw)) pairs
            let nc = g.num_correct();
            let nw = g.samples.len() - nc;
            let mut texts: Vec<_> = g.samples.iter().map(|s| &s.text).collect();
            texts.sort();
            texts.dedup();
            if nc > 0 && nw > 0 && texts.len() == g.samples.len() {
                prop_assert_eq!(mine.len(), policy.max_pairs_per_prompt.min(nc.max(nw)));
            }
        }
    }

    #[test]
    fn hardest_negative_is_first(groups in arb_groups()) {
        let (pairs, _) = build_pairs(&groups, &PairPolicy::default());
        for p in pairs.iter().filter(|p| !p.chosen_is_gold()) {
            let g = &groups[p.prompt_index];
            // with repeated texts the top candidate may be skipped as a duplicate
            let mut texts: Vec<_> = g.samples.iter().map(|s| &s.text).collect();
            texts.sort();
            texts.dedup();
            if texts.len() < g.samples.len() {
                continue;
            }
            let best_wrong = g.samples.iter().filter(|s| !s.correct).map(|s| s.reward).fold(f32::MIN, f32::max);
            let best_right = g.samples.iter().filter(|s| s.correct).map(|s| s.reward).fold(f32::MIN, f32::max);
            prop_assert_eq!(p.rejected_reward, best_wrong);
            prop_assert_eq!(p.chosen_reward, Some(best_right));
        }
    }

    #[test]
    fn pass_at_k_matches_binomials(n in 1usize..25, c_frac in 0.0f64..=1.0, k_frac in 0.0f64..1.0) {
        let c = ((n as f64) * c_frac).round() as usize;
        let k = 1 + ((n as f64) * k_frac) as usize;
        let k = k.min(n);
        let want = 1.0 - binom(n - c, k) / binom(n, k);
        let got = pass_at_k(n, c, k).unwrap();
        prop_assert!((got - want).abs() < 1e-9, "n={} c={} k={}: {} vs {}", n, c, k, got, want);
        prop_assert!((0.0..=1.0).contains(&got));
        if k < n {
            prop_assert!(pass_at_k(n, c, k + 1).unwrap() >= got - 1e-12);
        }
    }
}

#[test]
fn pass_at_k_hand_values() {
    // pass@1 = c / n
    assert!((pass_at_k(10, 3, 1).unwrap() - 0.3).abs() < 1e-12);
    // n = 4, c = 1, k = 2: 1 - C(3,2)/C(4,2) = 1 - 3/6 = 0.5
    assert!((pass_at_k(4, 1, 2).unwrap() - 0.5).abs() < 1e-12);
    assert!(matches!(
        pass_at_k(4, 1, 0),
        Err(DpoError::InvalidCounts { .. })
    ));
    assert!(matches!(
        pass_at_k(4, 1, 5),
        Err(DpoError::InvalidCounts { .. })
    ));
    assert!(matches!(
        mean_pass_at_k(&[], 1),
        Err(DpoError::Empty { .. })
    ));
}

#[test]
fn pass_at_n_reports_caller_errors() {
    let prompts = [1u32, 2, 3];
    let score = |_: &u32, r: &str| Ok::<_, String>((r.len() as f32, r.len() > 1));
    let mut short = |_: &u32, n: usize| Ok::<_, String>(vec!["x".to_string(); n - 1]);
    assert!(matches!(
        pass_at_n(&prompts, 2, &mut short, score),
        Err(DpoError::SampleCount {
            prompt_index: 0,
            expected: 2,
            actual: 1
        })
    ));
    let mut fails = |p: &u32, n: usize| {
        if *p == 2 {
            Err("oom".to_string())
        } else {
            Ok(vec!["xy".to_string(); n])
        }
    };
    let err = pass_at_n(&prompts, 2, &mut fails, score).unwrap_err();
    assert_eq!(err.to_string(), "sampling prompt 1 failed: oom");
    let mut ok = |_: &u32, n: usize| Ok::<_, String>(vec!["xy".to_string(); n]);
    let nan = |_: &u32, _: &str| Ok::<_, String>((f32::NAN, true));
    assert!(matches!(
        pass_at_n(&prompts, 2, &mut ok, nan),
        Err(DpoError::NonFiniteReward {
            prompt_index: 0,
            sample_index: 0,
            ..
        })
    ));
    let bad = |p: &u32, _: &str| {
        if *p == 3 {
            Err("no label")
        } else {
            Ok((1.0, true))
        }
    };
    assert!(matches!(
        pass_at_n(&prompts, 2, &mut ok, bad),
        Err(DpoError::Scorer {
            prompt_index: 2,
            sample_index: 0,
            ..
        })
    ));
    assert!(matches!(
        pass_at_n(&prompts, 0, &mut ok, score),
        Err(DpoError::InvalidConfig { field: "n", .. })
    ));
    let groups = pass_at_n(&prompts, 3, &mut ok, score).unwrap();
    assert_eq!(groups.len(), 3);
    assert!(groups
        .iter()
        .all(|g| g.all_correct() && g.samples.len() == 3));
}
