//! `GrpoTrainer` trains a policy that is not this project's transformer, through the public API
//! only, and its reward rises.
//!
//! The policy is a contextual bandit written here: a prompt is one token `p` in `0..PROMPTS`,
//! the response is one answer token `a` in `0..ANSWERS`, and `log p(a | p)` is the log-softmax
//! of row `p` of a learned table. The answer to prompt `p` is correct when it equals
//! `p % ANSWERS`. Rollouts are sampled from the current policy with a seeded RNG.

use burn::module::{Module, Param};
use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Device, Int, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use taosr1_grpo::{
    BoxError, Completion, DynamicSamplingConfig, GrpoConfig, GrpoError, GrpoTrainer,
    GrpoTrainerConfig, OptimizerConfig, Policy, Reward, TokenBatch,
};

const PROMPTS: usize = 6;
const ANSWERS: usize = 4;

#[derive(Module, Debug)]
struct Bandit {
    /// `[PROMPTS, ANSWERS]` logits; answer ids are offset by `PROMPTS` in the token space.
    table: Param<Tensor<2>>,
}

impl Bandit {
    fn probs(&self) -> Vec<f32> {
        softmax(self.table.val(), 1)
            .into_data()
            .iter::<f32>()
            .collect()
    }

    /// Mean probability of the correct answer over all prompts (the expected reward).
    fn expected_reward(&self) -> f32 {
        let p = self.probs();
        (0..PROMPTS)
            .map(|q| p[q * ANSWERS + q % ANSWERS])
            .sum::<f32>()
            / PROMPTS as f32
    }
}

impl Policy for Bandit {
    fn token_logprobs(&self, batch: &TokenBatch) -> Tensor<2> {
        let [b, s] = batch.input_ids.dims();
        let device = batch.input_ids.device();
        // sequences are [prompt, answer (+ padding)]: only column 1 carries a prediction
        let prompt = batch.input_ids.clone().narrow(1, 0, 1).reshape([b]);
        let answer: Tensor<2, Int> = batch
            .input_ids
            .clone()
            .narrow(1, 1, 1)
            .sub_scalar(PROMPTS as i64)
            .clamp(0, ANSWERS as i64 - 1);
        let rows = log_softmax(self.table.val().select(0, prompt), 1); // [b, ANSWERS]
        let picked = rows.gather(1, answer); // [b, 1]
        let mut cols = vec![Tensor::zeros([b, 1], &device), picked];
        if s > 2 {
            cols.push(Tensor::zeros([b, s - 2], &device));
        }
        Tensor::cat(cols, 1)
    }
}

fn sample(probs: &[f32], rng: &mut StdRng) -> usize {
    let u: f32 = rng.random();
    let mut acc = 0.0;
    for (i, p) in probs.iter().enumerate() {
        acc += p;
        if u < acc {
            return i;
        }
    }
    probs.len() - 1
}

#[test]
fn grpo_trainer_raises_the_reward_of_a_bandit_policy() {
    let device = Device::default().autodiff();
    device.seed(11);
    let policy = Bandit {
        table: Param::from_tensor(Tensor::zeros([PROMPTS, ANSWERS], &device)),
    };
    let start = policy.expected_reward();
    assert!((start - 0.25).abs() < 1e-6);
    let steps = 30;
    let config =
        GrpoTrainerConfig::new(DynamicSamplingConfig::new(4, 3).with_max_prompts(Some(30)))
            .with_loss(GrpoConfig::new().with_kl_beta(0.01))
            .with_optimizer(OptimizerConfig::new().with_learning_rate(0.1))
            .with_total_steps(steps)
            .with_updates_per_batch(2);
    let mut trainer = GrpoTrainer::new(policy, config).unwrap();
    let mut rng = StdRng::seed_from_u64(3);
    let mut prompts = (0..PROMPTS).cycle();
    let mut metrics = Vec::new();
    for _ in 0..steps {
        let m = trainer
            .step(
                &mut prompts,
                |p: &Bandit, q: &usize, n| {
                    let probs = p.probs();
                    let row = &probs[q * ANSWERS..(q + 1) * ANSWERS];
                    Ok::<_, BoxError>(
                        (0..n)
                            .map(|_| {
                                let a = sample(row, &mut rng);
                                Completion::new(vec![*q as u32], vec![(PROMPTS + a) as u32])
                            })
                            .collect(),
                    )
                },
                |q: &usize, c: &Completion| {
                    let ok = c.response_ids[0] as usize - PROMPTS == q % ANSWERS;
                    Ok::<_, BoxError>(Reward::new(if ok { 1.0 } else { 0.0 }, ok))
                },
            )
            .unwrap();
        metrics.push(m);
    }
    let end = trainer.policy().expected_reward();
    eprintln!(
        "expected reward {start} -> {end}, totals {:?}",
        trainer.sampling_totals()
    );
    assert!(
        end > 0.6,
        "expected reward should rise from {start} to > 0.6, got {end}"
    );
    // metrics are real numbers, and the run saw both kinds of dropped groups late in training
    let updated: Vec<_> = metrics.iter().filter(|m| m.updated).collect();
    assert!(updated.len() >= steps / 2);
    assert!(updated.iter().all(|m| m.loss.is_finite() && m.kl >= 0.0));
    assert!(updated.iter().all(|m| (0.0..=1.0).contains(&m.reward_mean)));
    assert!(updated.iter().all(|m| m.reward_std > 0.0)); // kept groups are mixed
    assert!(updated.iter().any(|m| m.kl > 0.0));
    let totals = trainer.sampling_totals();
    assert!(totals.kept > 0 && totals.dropped_all_correct > 0);
    // the learning rate followed warm-up then decay
    assert!(metrics[0].learning_rate < metrics[3].learning_rate);
    assert!(metrics[steps - 1].learning_rate < metrics[3].learning_rate);
    assert_eq!(trainer.steps_done(), steps);
}

#[test]
fn user_errors_name_the_prompt_and_keep_the_policy() {
    let device = Device::default().autodiff();
    let policy = Bandit {
        table: Param::from_tensor(Tensor::zeros([PROMPTS, ANSWERS], &device)),
    };
    let config = GrpoTrainerConfig::new(DynamicSamplingConfig::new(2, 1));
    let mut trainer = GrpoTrainer::new(policy, config).unwrap();
    let err = trainer
        .step(
            [0usize, 1],
            |_: &Bandit, q: &usize, n| {
                if *q == 1 {
                    Err::<Vec<Completion>, BoxError>("sampler crashed".into())
                } else {
                    Ok(vec![Completion::new(vec![0], vec![PROMPTS as u32]); n])
                }
            },
            |_: &usize, _: &Completion| Ok::<_, BoxError>(Reward::new(1.0, true)),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            GrpoError::Rollout {
                prompt_index: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!((trainer.policy().expected_reward() - 0.25).abs() < 1e-6);
    // NaN rewards are refused before any update
    let err = trainer
        .step(
            [0usize],
            |_: &Bandit, _: &usize, n| {
                Ok::<_, BoxError>(vec![Completion::new(vec![0], vec![6]); n])
            },
            |_: &usize, _: &Completion| Ok::<_, BoxError>(Reward::new(f32::NAN, true)),
        )
        .unwrap_err();
    assert!(
        matches!(err, GrpoError::NonFiniteRolloutReward { .. }),
        "{err}"
    );
    // a completion with an empty response cannot be trained on
    let mut flip = false;
    let err = trainer
        .step(
            [0usize],
            |_: &Bandit, _: &usize, n| Ok::<_, BoxError>(vec![Completion::new(vec![0], vec![]); n]),
            |_: &usize, _: &Completion| {
                flip = !flip;
                Ok::<_, BoxError>(Reward::new(flip as u8 as f32, flip))
            },
        )
        .unwrap_err();
    assert!(matches!(err, GrpoError::InvalidSequence { .. }), "{err}");
    assert!((trainer.policy().expected_reward() - 0.25).abs() < 1e-6);
}

#[test]
fn bad_configs_are_refused_before_training() {
    let device = Device::default().autodiff();
    let policy = Bandit {
        table: Param::from_tensor(Tensor::zeros([PROMPTS, ANSWERS], &device)),
    };
    for (cfg, field) in [
        (
            GrpoTrainerConfig::new(DynamicSamplingConfig::new(4, 1))
                .with_optimizer(OptimizerConfig::new().with_learning_rate(-1.0)),
            "learning_rate",
        ),
        (
            GrpoTrainerConfig::new(DynamicSamplingConfig::new(4, 1))
                .with_optimizer(OptimizerConfig::new().with_learning_rate(f64::NAN)),
            "learning_rate",
        ),
        (
            GrpoTrainerConfig::new(DynamicSamplingConfig::new(4, 1)).with_total_steps(0),
            "total_steps",
        ),
        (
            GrpoTrainerConfig::new(DynamicSamplingConfig::new(4, 0)),
            "target_groups",
        ),
    ] {
        match GrpoTrainer::new(policy.clone(), cfg) {
            Err(GrpoError::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
            other => panic!("expected InvalidConfig({field}), got {other:?}"),
        }
    }
}
