//! End-to-end checks of the facade on the shipped data: the code the examples run.

use approx::assert_relative_eq;
use burn::module::Module;
use rand::SeedableRng;
use taosr1::assets::{build_shipped_tokenizer, load_codec, load_split, tokenizer_path, Split};
use taosr1::codec::collate;
use taosr1::infer::{predict, InferConfig, Scored};
use taosr1::pipeline::{run_sft, SftRun};
use taosr1::sft::masked_nll;
use taosr1::stages::{run_dpo, run_grpo, DpoRun, GrpoRun};
use taosr1_model::{ModelConfig, Transformer};
use taosr1_partition::Partitioner;

fn dev() -> burn::tensor::Device {
    Default::default()
}

#[test]
fn shipped_tokenizer_equals_a_fresh_build() {
    let shipped = std::fs::read_to_string(tokenizer_path()).unwrap();
    let rebuilt = build_shipped_tokenizer().unwrap().to_json().unwrap();
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
    assert_eq!(
        parse(&shipped),
        parse(&rebuilt),
        "run `cargo run --example build_tokenizer`"
    );
}

#[test]
fn every_shipped_example_round_trips_through_the_codec() {
    let codec = load_codec().unwrap();
    let unk = codec
        .tokenizer()
        .unk_id()
        .expect("the word-level tokenizer has <unk>");
    for split in [Split::Train, Split::Validation, Split::Test] {
        for e in load_split(split).unwrap() {
            let enc = codec.encode(&e).unwrap();
            assert!(
                !enc.prompt.contains(&unk) && !enc.response.contains(&unk),
                "{}",
                e.id
            );
            let text = codec.decode(&enc.response).unwrap();
            let parsed = codec.template().parse_strict(&text).unwrap();
            assert_eq!(parsed.grade, e.grade);
        }
    }
}

#[test]
fn collate_masks_exactly_the_response_tokens() {
    let batch = collate(
        &[(&[1, 2, 3][..], &[4, 5][..]), (&[6][..], &[7][..])],
        0,
        &dev(),
    )
    .unwrap();
    let ids: Vec<i64> = batch.input_ids.into_data().iter::<i64>().collect();
    assert_eq!(ids, vec![1, 2, 3, 4, 5, 6, 7, 0, 0, 0]);
    let mask: Vec<f32> = batch.response_mask.into_data().try_to_vec_as().unwrap();
    assert_eq!(mask, vec![0., 0., 0., 1., 1., 0., 1., 0., 0., 0.]);
    assert!(collate(&[], 0, &dev()).is_err());
    assert!(collate(&[(&[1][..], &[][..])], 0, &dev()).is_err());
}

#[test]
fn masked_nll_equals_mean_response_token_logprob() {
    let model = Transformer::new(&ModelConfig::tiny(12), &dev()).unwrap();
    let pairs = [
        (&[1u32, 2, 3][..], &[4u32, 5][..]),
        (&[6u32][..], &[7u32, 8, 9][..]),
    ];
    let batch = collate(&pairs, 0, &dev()).unwrap();
    let loss: f32 = masked_nll(&model, &batch).into_scalar();
    let logp: Vec<f32> = model
        .token_logprobs(batch.input_ids.clone())
        .into_data()
        .try_to_vec_as()
        .unwrap();
    // response tokens: row 0 columns 3, 4; row 1 columns 1, 2, 3 (row length 5)
    let picked = [logp[3], logp[4], logp[5 + 1], logp[5 + 2], logp[5 + 3]];
    assert_relative_eq!(loss, -picked.iter().sum::<f32>() / 5.0, max_relative = 1e-5);
}

/// Stage 1 on a short schedule must lower the loss and beat the majority-class baseline in
/// the default label-first order (scored by one prefill); then stages 2 and 3 run on the
/// result. Label-first is harder for the tiny model than think-first: cut to 450 or 600 steps
/// it stayed within 0.05 of the majority class, so it runs the full default schedule (900
/// steps, as the pipeline does).
#[test]
fn sft_learns_then_dpo_and_grpo_run() {
    let mut run = SftRun::default();
    run.sft.max_steps = None;
    run.out_dir = None;
    run.eval_limit = 100;
    let out = run_sft(&run, &dev().autodiff(), |_, _| {}).unwrap();
    let (head, tail) = (out.report.head_mean(20), out.report.tail_mean(20));
    assert!(tail < 0.25 * head, "loss {head} -> {tail}");
    assert_eq!(out.eval.n, 100);
    assert!(
        out.eval.argmax.accuracy > out.majority_baseline + 0.05,
        "accuracy {} vs majority {}",
        out.eval.argmax.accuracy,
        out.majority_baseline
    );

    let codec = load_codec().unwrap();
    let train = load_split(Split::Train).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let dpo = DpoRun {
        prompts: 24,
        n: 4,
        epochs: 1,
        batch_size: 8,
        ..DpoRun::default()
    };
    let (model, report) = run_dpo(out.model, &codec, &train, &dpo, &mut rng, |_, _| {}).unwrap();
    let s = report.pair_stats;
    assert_eq!(s.prompts, 24);
    assert_eq!(
        s.mixed + s.all_correct_skipped + s.all_wrong_gold + s.all_wrong_skipped + s.empty_skipped,
        24
    );
    assert!(s.pairs > 0 && report.losses.len() == s.pairs.div_ceil(8));
    // the first step compares the policy with itself: loss ln 2
    assert_relative_eq!(report.losses[0], std::f32::consts::LN_2, epsilon = 1e-4);
    assert!((0.0..=1.0).contains(&report.pass_at_1) && report.pass_at_n >= report.pass_at_1);

    // class-balanced prompts: the grades take turns
    let mut grpo = GrpoRun::new().with_steps(2).with_class_balanced(true);
    grpo.trainer.sampling.group_size = 4;
    grpo.trainer.sampling.target_groups = 2;
    let (model, report) = run_grpo(model, &codec, &train, &grpo, &mut rng, |_, _| {}).unwrap();
    assert!(!report.steps.is_empty());
    for step in &report.steps {
        let m = &step.metrics;
        assert!(m.loss.is_finite() && m.kl >= 0.0);
        if m.updated {
            assert!(m.response_tokens >= 4 * m.sampling.kept);
            assert!(m.reward_std > 0.0, "kept groups are mixed");
        }
    }
    let dropped = report.sampling.dropped_all_correct + report.sampling.dropped_all_wrong;
    assert_eq!(
        report.sampling.prompts_seen,
        report.sampling.kept + dropped + report.sampling.dropped_low_variance
    );

    // deployment output of the trained model
    let test = load_split(Split::Test).unwrap();
    let items: Vec<_> = test.iter().take(4).map(|e| e.item()).collect();
    let preds = predict(
        &model.valid(),
        &codec,
        &items,
        &InferConfig::default(),
        &mut rng,
    )
    .unwrap();
    let partitioner = Partitioner::default_for(4).unwrap();
    for (item, p) in items.iter().zip(&preds) {
        let s = Scored::new(&item.id, p, &partitioner, &codec).unwrap();
        assert_relative_eq!(s.probs.iter().sum::<f32>(), 1.0, epsilon = 1e-4);
        assert!((0.0..=1.0).contains(&s.score));
        assert!(codec.template().scale().labels().contains(&s.grade));
        let json = serde_json::to_value(&s).unwrap();
        assert!(json["slot"].is_string() && json["id"] == item.id.as_str());
    }
}

/// `calibrate --val 1` used to write thresholds fitted on one example; now a validation set
/// that lacks a grade is refused, naming the file and the grade, before anything is predicted.
#[test]
fn calibration_refuses_a_validation_set_without_every_grade() {
    let codec = load_codec().unwrap();
    let model =
        Transformer::new(&ModelConfig::tiny(codec.tokenizer().vocab_size()), &dev()).unwrap();
    let data = taosr1::assets::DataPaths::default();
    let infer = InferConfig::default();
    let err = taosr1::pipeline::compare_partition(&model, &codec, &data, 1, 4, &infer).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("validation.jsonl") && msg.contains("no example of grade"),
        "{msg}"
    );
}

/// Sequences longer than the model's context are refused before training, naming the example.
#[test]
fn sft_refuses_examples_longer_than_the_context() {
    let codec = load_codec().unwrap();
    let data = codec
        .encode_all(&load_split(Split::Train).unwrap()[..2])
        .unwrap();
    let mut cfg = ModelConfig::tiny(codec.tokenizer().vocab_size());
    cfg.max_position_embeddings = 8;
    let model = Transformer::new(&cfg, &dev().autodiff()).unwrap();
    let err = taosr1::sft::train(
        model,
        &codec,
        &data,
        &taosr1::sft::SftConfig::new(),
        |_, _| {},
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("training example 0") && err.to_string().contains("context of 8"),
        "{err}"
    );
}

/// The logits of one encoded row (prompt + response) run alone, flattened `[t, vocab]`.
fn row_logits(model: &Transformer, e: &taosr1::codec::Encoded) -> Vec<f32> {
    let t = collate(&[(&e.prompt[..], &e.response[..])], 0, &dev())
        .unwrap()
        .input_ids;
    model
        .valid()
        .forward(t)
        .into_data()
        .try_to_vec_as()
        .unwrap()
}

/// The first step's loss (taken before the update) against log-probabilities read off the
/// model: the grade-token loss scores only the grade label's token, class balance weights the
/// rows by `n / (k · count)`, and both divide by the number of scored tokens.
#[test]
fn sft_grade_token_loss_and_class_balance_match_hand_computed_losses() {
    use taosr1::sft::{class_balanced_weights, train, LossTokens, SftConfig};
    let codec = load_codec().unwrap();
    let rows = load_split(Split::Train).unwrap();
    // three rows of one grade and one of another
    let first = rows[0].grade;
    let mut pick: Vec<_> = rows.iter().filter(|e| e.grade == first).take(3).collect();
    pick.push(rows.iter().find(|e| e.grade != first).unwrap());
    let data: Vec<_> = pick.iter().map(|e| codec.encode(e).unwrap()).collect();
    let model = Transformer::new(
        &ModelConfig::tiny(codec.tokenizer().vocab_size()),
        &dev().autodiff(),
    )
    .unwrap();
    // per row and response token: (log-probability, whether it is the grade's, its
    // log-probability renormalised over the grade tokens), read off the model's logits
    let grade_ids = codec.grade_ids();
    let per_row: Vec<Vec<(f32, bool, f32)>> = data
        .iter()
        .map(|e| {
            let v = codec.tokenizer().vocab_size();
            let logits = row_logits(&model, e);
            e.response
                .iter()
                .enumerate()
                .map(|(j, id)| {
                    // position p predicts token p + 1
                    let row = &logits[(e.prompt.len() + j - 1) * v..][..v];
                    let lse = |ids: &mut dyn Iterator<Item = usize>| {
                        ids.map(|i| row[i].exp()).sum::<f32>().ln()
                    };
                    let lp = row[*id as usize] - lse(&mut (0..v));
                    let among = row[*id as usize] - lse(&mut grade_ids.iter().map(|g| *g as usize));
                    (lp, grade_ids.contains(id), among)
                })
                .collect()
        })
        .collect();
    let grades: Vec<_> = data.iter().map(|e| e.grade).collect();
    let w = class_balanced_weights(&grades);
    assert_eq!(w, vec![4.0 / 6.0, 4.0 / 6.0, 4.0 / 6.0, 2.0]);
    let expected = |tokens: LossTokens, balanced: bool| {
        let (mut num, mut den) = (0.0f32, 0.0f32);
        for (row, toks) in per_row.iter().enumerate() {
            for (lp, is_grade, among) in toks {
                let lp = match tokens {
                    LossTokens::Response => *lp,
                    LossTokens::Grade if *is_grade => *lp,
                    LossTokens::GradeAmongGrades if *is_grade => *among,
                    _ => continue,
                };
                num -= lp * if balanced { w[row] } else { 1.0 };
                den += 1.0;
            }
        }
        num / den
    };
    // the renormalised loss is the smaller: the grades' share of the vocabulary is left out
    assert!(
        expected(LossTokens::GradeAmongGrades, false) < expected(LossTokens::Grade, false) - 0.1
    );
    for tokens in [
        LossTokens::Response,
        LossTokens::Grade,
        LossTokens::GradeAmongGrades,
    ] {
        for (balanced, share) in [(false, false), (true, false), (false, true), (true, true)] {
            let cfg = SftConfig::new()
                .with_batch_size(4)
                .with_max_steps(Some(1))
                .with_loss_tokens(tokens)
                .with_class_balanced(balanced)
                .with_share_prompt_prefix(share);
            let (_, report) = train(model.clone(), &codec, &data, &cfg, |_, _| {}).unwrap();
            let want = expected(tokens, balanced);
            assert_relative_eq!(report.losses[0], want, max_relative = 1e-4);
        }
    }
    // every grade-only row needs a grade token to score
    let mut bad = data.clone();
    bad[2].response.retain(|t| !codec.grade_ids().contains(t));
    let cfg = SftConfig::new().with_loss_tokens(LossTokens::Grade);
    let err = train(model, &codec, &bad, &cfg, |_, _| {}).unwrap_err();
    assert!(
        err.to_string().contains("training example 2") && err.to_string().contains("grade"),
        "{err}"
    );
}

/// `GradeDistribution`'s first step against a hand-computed soft cross-entropy: at the first
/// grade token of each response, `-Σ_k target_k · log p(k | grades)` read off the model's
/// logits, the gold one-hot where a row has no target, divided by the scored tokens; then the
/// loss falls to near the targets' entropy on a task it can fit, and a bad target is refused.
#[test]
fn sft_grade_distribution_matches_a_hand_computed_soft_cross_entropy_and_fits() {
    use taosr1::sft::{train, LossTokens, SftConfig};
    let codec = load_codec().unwrap();
    let rows = load_split(Split::Train).unwrap();
    let mut data: Vec<_> = rows[..4].iter().map(|e| codec.encode(e).unwrap()).collect();
    let targets = [
        Some(vec![0.1, 0.2, 0.3, 0.4]),
        None,
        Some(vec![0.0, 0.0, 0.75, 0.25]),
        Some(vec![0.25, 0.25, 0.25, 0.25]),
    ];
    for (e, t) in data.iter_mut().zip(&targets) {
        e.target = t.clone();
    }
    let model = Transformer::new(
        &ModelConfig::tiny(codec.tokenizer().vocab_size()),
        &dev().autodiff(),
    )
    .unwrap();
    let grade_ids = codec.grade_ids();
    let v = codec.tokenizer().vocab_size();
    let (mut num, mut den) = (0.0f32, 0.0f32);
    for (e, target) in data.iter().zip(&targets) {
        let logits = row_logits(&model, e);
        let mut first = true;
        for (j, id) in e.response.iter().enumerate() {
            let Some(g) = grade_ids.iter().position(|x| x == id) else {
                continue;
            };
            let row = &logits[(e.prompt.len() + j - 1) * v..][..v];
            let lse = grade_ids
                .iter()
                .map(|i| row[*i as usize].exp())
                .sum::<f32>()
                .ln();
            let among: Vec<f32> = grade_ids.iter().map(|i| row[*i as usize] - lse).collect();
            num -= match target.as_ref().filter(|_| first) {
                Some(t) => t.iter().zip(&among).map(|(a, b)| a * b).sum::<f32>(),
                None => among[g],
            };
            den += 1.0;
            first = false;
        }
    }
    assert_eq!(den, 4.0, "one grade token per response");
    let cfg = SftConfig::new()
        .with_batch_size(4)
        .with_loss_tokens(LossTokens::GradeDistribution);
    let (_, report) = train(
        model.clone(),
        &codec,
        &data,
        &cfg.clone().with_max_steps(Some(1)),
        |_, _| {},
    )
    .unwrap();
    assert_relative_eq!(report.losses[0], num / den, max_relative = 1e-4);
    // with no targets it is the loss among the grades, step for step
    let mut plain = data.clone();
    plain.iter_mut().for_each(|e| e.target = None);
    let steps = |loss: LossTokens| {
        let c = cfg.clone().with_loss_tokens(loss).with_max_steps(Some(3));
        train(model.clone(), &codec, &plain, &c, |_, _| {})
            .unwrap()
            .1
            .losses
    };
    let (a, b) = (
        steps(LossTokens::GradeDistribution),
        steps(LossTokens::GradeAmongGrades),
    );
    for (x, y) in a.iter().zip(&b) {
        assert_relative_eq!(*x, *y, max_relative = 1e-4);
    }
    // fitting: the soft cross-entropy falls toward its floor, the targets' mean entropy
    let entropy = |t: &[f32]| {
        -t.iter()
            .filter(|p| **p > 0.0)
            .map(|p| p * p.ln())
            .sum::<f32>()
    };
    let floor = targets
        .iter()
        .zip(&data)
        .map(|(t, _)| t.as_deref().map_or(0.0, entropy))
        .sum::<f32>()
        / 4.0;
    let fit = cfg.clone().with_epochs(60).with_max_steps(Some(60));
    let (_, report) = train(model.clone(), &codec, &data, &fit, |_, _| {}).unwrap();
    let (first, last) = (report.head_mean(3), report.tail_mean(3));
    assert!(
        last - floor < 0.3 * (first - floor),
        "loss {first} -> {last}, floor {floor}"
    );
    // a target that is no distribution over the grades is refused, naming the example
    let mut bad = data.clone();
    bad[1].target = Some(vec![0.5, 0.6, 0.0, 0.0]);
    let err = train(model, &codec, &bad, &cfg, |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("training example 1"), "{err}");
}

/// DPO with the prompt prefix run once per batch takes the same steps as DPO without it:
/// the same sampled pairs (same seed), the same losses, so the same gradients.
#[test]
fn dpo_with_a_shared_prompt_prefix_takes_the_same_steps() {
    let codec = load_codec().unwrap();
    let train = load_split(Split::Train).unwrap();
    let model = Transformer::new(
        &ModelConfig::tiny(codec.tokenizer().vocab_size()),
        &dev().autodiff(),
    )
    .unwrap();
    let losses = |share: bool| {
        let run = DpoRun::new()
            .with_prompts(8)
            .with_n(2)
            .with_epochs(2)
            .with_batch_size(4)
            .with_share_prompt_prefix(share);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let (_, report) =
            run_dpo(model.clone(), &codec, &train, &run, &mut rng, |_, _| {}).unwrap();
        report.losses
    };
    let (plain, shared) = (losses(false), losses(true));
    assert!(plain.len() >= 4, "{plain:?}");
    assert_eq!(plain.len(), shared.len());
    for (a, b) in plain.iter().zip(&shared) {
        assert_relative_eq!(a, b, max_relative = 1e-3, epsilon = 1e-5);
    }
}

proptest::proptest! {
    /// Class-balanced weights have mean 1 and give every grade present the same total.
    #[test]
    fn class_balanced_weights_are_balanced(idx in proptest::collection::vec(0usize..4, 1..60)) {
        let scale = taosr1_cot::GradeScale::default();
        let grades: Vec<_> = idx.iter().map(|i| scale.grade(*i).unwrap()).collect();
        let w = taosr1::sft::class_balanced_weights(&grades);
        let n = w.len() as f32;
        proptest::prop_assert!((w.iter().sum::<f32>() / n - 1.0).abs() < 1e-4);
        let mut totals = [0.0f32; 4];
        for (g, wi) in idx.iter().zip(&w) {
            totals[*g] += wi;
        }
        let present: Vec<f32> = totals.iter().copied().filter(|t| *t > 0.0).collect();
        for t in &present {
            proptest::prop_assert!((t - n / present.len() as f32).abs() < 1e-3 * n);
        }
    }

    /// Rating targets are distributions; their expected grade rises with the rating; with
    /// `alpha < 0.5` the gold grade keeps the largest mass.
    #[test]
    fn rating_targets_are_ordered_distributions(
        // each grade's ratings lie in [k, k + 1), so the centres rise with the grade
        offsets in proptest::collection::vec((0usize..4, 0.0f64..1.0), 4..40),
        alpha in 0.0f32..=1.0,
    ) {
        let scale = taosr1_cot::GradeScale::default();
        let mut rows: Vec<(Option<f64>, taosr1_cot::Grade)> = (0..4)
            .map(|k| (Some(k as f64 + 0.5), scale.grade(k).unwrap()))
            .collect();
        rows.extend(offsets.iter().map(|(k, o)| (Some(*k as f64 + o), scale.grade(*k).unwrap())));
        let t = taosr1::sft::rating_targets(&rows, 4, alpha).unwrap();
        let mean = |t: &[f32]| t.iter().enumerate().map(|(k, p)| k as f32 * p).sum::<f32>();
        for ((score, grade), target) in rows.iter().zip(&t) {
            let target = target.as_ref().unwrap();
            proptest::prop_assert!(target.iter().all(|p| *p >= 0.0));
            proptest::prop_assert!((target.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            if alpha < 0.5 {
                let top = target.iter().cloned().fold(f32::MIN, f32::max);
                proptest::prop_assert_eq!(target[grade.index()], top);
            }
            // within a grade, a higher rating never lowers the expected grade
            for ((s2, g2), t2) in rows.iter().zip(&t) {
                if g2 == grade && s2 > score {
                    proptest::prop_assert!(mean(t2.as_ref().unwrap()) >= mean(target) - 1e-5);
                }
            }
        }
    }
}

/// Label-first scoring: sharing a query's prompt prefix, batching by length and batch size
/// change nothing in the distributions; the rationale written on request never changes them.
#[test]
fn label_first_scoring_is_one_prefill_and_prefix_reuse_changes_nothing() {
    use taosr1::infer::{explain, score_label_first};
    let codec = load_codec().unwrap();
    dev().seed(5);
    let model =
        Transformer::new(&ModelConfig::tiny(codec.tokenizer().vocab_size()), &dev()).unwrap();
    let test = load_split(Split::Test).unwrap();
    // 9 products for one query, 3 for another, 5 items alone, interleaved
    let mut items = Vec::new();
    for (i, e) in test.iter().take(17).enumerate() {
        let mut item = e.item();
        if i % 2 == 0 {
            item.query = test[0].query.clone();
        } else if i % 3 == 0 {
            item.query = test[1].query.clone();
        }
        items.push(item);
    }
    let base = InferConfig::default()
        .with_prefix_reuse(false)
        .with_batch_size(1);
    let reference = score_label_first(&model, &codec, &items, &base).unwrap();
    for cfg in [
        InferConfig::default().with_batch_size(4),
        InferConfig::default().with_batch_size(64),
        InferConfig::default()
            .with_prefix_reuse(false)
            .with_batch_size(5),
    ] {
        let got = score_label_first(&model, &codec, &items, &cfg).unwrap();
        for (a, b) in got.iter().zip(&reference) {
            for (p, q) in a.distribution.probs().iter().zip(b.distribution.probs()) {
                assert!((p - q).abs() < 1e-4, "{cfg:?}: {p} vs {q}");
            }
            assert_eq!(
                (a.generated_tokens, a.slot),
                (0, taosr1_cot::SlotStatus::LabelFirst)
            );
        }
    }
    // predict dispatches on the codec's order, and ignores its rng for label-first
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let via_predict = predict(&model, &codec, &items, &InferConfig::default(), &mut rng).unwrap();
    assert_eq!(via_predict.len(), items.len());
    // --explain: the rationale comes after the label, which is an input
    let grades: Vec<_> = reference
        .iter()
        .map(|p| {
            codec
                .template()
                .scale()
                .grade(p.distribution.argmax())
                .unwrap()
        })
        .collect();
    let why = explain(
        &model,
        &codec,
        &items[..3],
        &grades[..3],
        &InferConfig::default().with_think_budget(6),
    )
    .unwrap();
    assert_eq!(why.len(), 3);
    let again = score_label_first(&model, &codec, &items[..3], &base).unwrap();
    assert_eq!(again, reference[..3].to_vec());
    let think_first = codec
        .clone()
        .with_order(taosr1_cot::ResponseOrder::ThinkFirst);
    assert!(explain(&model, &think_first, &items[..1], &grades[..1], &base).is_err());
    // an item over the context is refused, naming it
    let mut long = items[0].clone();
    long.id = "too-long".into();
    long.product.title = "red ".repeat(400);
    let err = score_label_first(&model, &codec, &[long], &base).unwrap_err();
    assert!(err.to_string().contains("too-long"), "{err}");
}

/// Think-first SFT learns too, and post-CoT turns that model into a label-first one that
/// still beats the majority class when scored by one prefill.
#[test]
fn think_first_sft_then_post_cot_gives_a_working_label_first_model() {
    use taosr1::pipeline::evaluate_on_test;
    use taosr1::stages::{run_post_cot, PostCotRun};
    use taosr1_cot::ResponseOrder;
    let mut run = SftRun::default();
    run.sft.max_steps = Some(450);
    run.out_dir = None;
    run.eval_limit = 100;
    run.order = ResponseOrder::ThinkFirst;
    let out = run_sft(&run, &dev().autodiff(), |_, _| {}).unwrap();
    assert!(
        out.eval.argmax.accuracy > out.majority_baseline + 0.05,
        "think-first accuracy {} vs majority {}",
        out.eval.argmax.accuracy,
        out.majority_baseline
    );
    let codec = load_codec().unwrap();
    let train = load_split(Split::Train).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
    let post = PostCotRun::new().with_prompts(800).with_n(2);
    // the stage refuses a label-first starting codec
    assert!(run_post_cot(
        out.model.clone(),
        &codec,
        &train,
        &post,
        &mut rng,
        |_, _| {}
    )
    .is_err());
    let think_first = codec.clone().with_order(ResponseOrder::ThinkFirst);
    let (model, report) =
        run_post_cot(out.model, &think_first, &train, &post, &mut rng, |_, _| {}).unwrap();
    assert_eq!(report.prompts, 800);
    assert_eq!(report.own_samples + report.gold_fallback, 800);
    assert!(
        report.own_samples > 0,
        "a trained model gets some samples right"
    );
    let label_first = evaluate_on_test(&model.valid(), &codec, &Split::Test.path(), 100).unwrap();
    assert!(
        label_first.argmax.accuracy > out.majority_baseline + 0.05,
        "post-CoT label-first accuracy {} vs majority {}",
        label_first.argmax.accuracy,
        out.majority_baseline
    );
    assert_eq!(label_first.truncated_thinking, 0);
}
