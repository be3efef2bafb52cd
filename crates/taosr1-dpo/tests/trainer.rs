//! `DpoTrainer` trains a policy that is not this project's transformer, through the public API
//! only: offline pass@N sampling with our own sampler and reward, pairs, DPO — and the reward
//! rises.
//!
//! The policy is a contextual bandit written here: a prompt is one token `p` in `0..PROMPTS`,
//! the response is one answer token `PROMPTS + a` with `a` in `0..ANSWERS`, and
//! `log p(a | p)` is the log-softmax of row `p` of a learned table. Answer `p % ANSWERS` is
//! correct.

use burn::module::{Module, Param};
use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Device, Int, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use taosr1_dpo::{
    BoxError, Completion, DpoConfig, DpoError, DpoTrainer, DpoTrainerConfig, OptimizerConfig,
    PairPolicy, Policy, Reward, TokenBatch, TokenPair,
};

const PROMPTS: usize = 8;
const ANSWERS: usize = 4;

#[derive(Module, Debug)]
struct Bandit {
    table: Param<Tensor<2>>,
}

impl Bandit {
    fn probs(&self) -> Vec<f32> {
        softmax(self.table.val(), 1)
            .into_data()
            .iter::<f32>()
            .collect()
    }

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
        let prompt = batch.input_ids.clone().narrow(1, 0, 1).reshape([b]);
        let answer: Tensor<2, Int> = batch
            .input_ids
            .clone()
            .narrow(1, 1, 1)
            .sub_scalar(PROMPTS as i64)
            .clamp(0, ANSWERS as i64 - 1);
        let picked = log_softmax(self.table.val().select(0, prompt), 1).gather(1, answer);
        let mut cols = vec![Tensor::zeros([b, 1], &device), picked];
        if s > 2 {
            cols.push(Tensor::zeros([b, s - 2], &device));
        }
        Tensor::cat(cols, 1)
    }
}

fn bandit(device: &Device) -> Bandit {
    // a slightly informed start: the correct answer has logit 0.5, so sampled groups are mixed
    let mut init = vec![0.0f32; PROMPTS * ANSWERS];
    for q in 0..PROMPTS {
        init[q * ANSWERS + q % ANSWERS] = 0.5;
    }
    Bandit {
        table: Param::from_tensor(
            Tensor::<1>::from_floats(init.as_slice(), device).reshape([PROMPTS, ANSWERS]),
        ),
    }
}

#[test]
fn dpo_trainer_raises_the_reward_of_a_bandit_policy() {
    let device = Device::default().autodiff();
    let policy = bandit(&device);
    let start = policy.expected_reward();
    let config = DpoTrainerConfig::new()
        .with_loss(DpoConfig::new().with_beta(0.5))
        .with_optimizer(OptimizerConfig::new().with_learning_rate(0.05))
        .with_total_steps(40)
        .with_seed(5);
    let mut trainer = DpoTrainer::new(policy, config).unwrap();
    let mut rng = StdRng::seed_from_u64(9);
    let prompts: Vec<usize> = (0..PROMPTS).cycle().take(4 * PROMPTS).collect();
    let offline = trainer
        .sample_pairs(
            &prompts,
            4,
            |reference: &Bandit, q: &usize, n| {
                let probs = reference.probs();
                let row = &probs[q * ANSWERS..(q + 1) * ANSWERS];
                Ok::<_, BoxError>(
                    (0..n)
                        .map(|_| {
                            let u: f32 = rng.random();
                            let mut acc = 0.0;
                            let a = row
                                .iter()
                                .position(|p| {
                                    acc += p;
                                    u < acc
                                })
                                .unwrap_or(ANSWERS - 1);
                            Completion::new(vec![*q as u32], vec![(PROMPTS + a) as u32])
                        })
                        .collect(),
                )
            },
            |q: &usize, c: &Completion| {
                let ok = c.response_ids[0] as usize - PROMPTS == q % ANSWERS;
                Ok::<_, BoxError>(Reward::new(ok as u8 as f32, ok))
            },
            |q: &usize| Some(vec![(PROMPTS + q % ANSWERS) as u32]), // the "teacher"
            &PairPolicy::new().with_max_pairs_per_prompt(2),
        )
        .unwrap();
    assert_eq!(offline.stats.prompts, prompts.len());
    assert!(
        offline.pairs.len() >= prompts.len() / 2,
        "{:?}",
        offline.stats
    );
    assert!(offline.pass_at_1 > 0.2 && offline.pass_at_1 < 0.6);
    assert!(offline.pass_at_n > offline.pass_at_1);
    for p in &offline.pairs {
        let q = p.prompt_ids[0] as usize;
        assert_eq!(p.chosen_ids, vec![(PROMPTS + q % ANSWERS) as u32]);
        assert_ne!(p.rejected_ids, p.chosen_ids);
    }
    // the callback sees the policy as each step left it
    let mut seen = Vec::new();
    let metrics = trainer
        .fit(&offline.pairs, 8, 4, |_, policy| {
            seen.push(policy.expected_reward())
        })
        .unwrap();
    let end = trainer.policy().expected_reward();
    assert_eq!(seen.len(), metrics.len());
    assert!((seen[seen.len() - 1] - end).abs() < 1e-6);
    assert!(
        (seen[0] - start).abs() > 1e-6,
        "step 0 already moved the policy"
    );
    eprintln!(
        "expected reward {start} -> {end}; {} pairs",
        offline.pairs.len()
    );
    assert!(end > start + 0.25, "reward should rise: {start} -> {end}");
    // the reference stayed where it was
    assert!((trainer.reference().expected_reward() - start).abs() < 1e-6);
    // first step: policy == reference, so the loss is ln 2 and the drift 0
    assert!((metrics[0].loss - std::f32::consts::LN_2).abs() < 1e-5);
    assert!(metrics[0].kl.abs() < 1e-6);
    let last = metrics.last().unwrap();
    assert!(last.loss < metrics[0].loss);
    assert!(last.reward_accuracy > 0.9 && last.reward_margin > 0.0);
    assert!(last.kl > 0.0);
    assert_eq!(trainer.steps_done(), metrics.len());
}

#[test]
fn bad_inputs_are_typed_errors() {
    let device = Device::default().autodiff();
    let mut trainer = DpoTrainer::new(bandit(&device), DpoTrainerConfig::new()).unwrap();
    assert!(matches!(trainer.step(&[]), Err(DpoError::Empty { .. })));
    let empty_response = TokenPair::new(vec![0], vec![], vec![PROMPTS as u32]);
    assert!(matches!(
        trainer.step(&[empty_response]),
        Err(DpoError::Grpo(_))
    ));
    assert!(matches!(
        trainer.fit(&[], 0, 1, |_, _| {}),
        Err(DpoError::InvalidConfig {
            field: "batch_size",
            ..
        })
    ));
    let err = trainer
        .sample_pairs(
            &[0usize, 1],
            2,
            |_: &Bandit, q: &usize, n| {
                if *q == 1 {
                    Err::<Vec<Completion>, BoxError>("out of memory".into())
                } else {
                    Ok(vec![Completion::new(vec![0], vec![PROMPTS as u32]); n])
                }
            },
            |_: &usize, _: &Completion| Ok::<_, BoxError>(Reward::new(1.0, true)),
            |_: &usize| None,
            &PairPolicy::new(),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            DpoError::Sampler {
                prompt_index: 1,
                ..
            }
        ),
        "{err}"
    );
    // a policy that went NaN: fit names the step, and the policy is not updated
    let nan = Bandit {
        table: Param::from_tensor(Tensor::full([PROMPTS, ANSWERS], f32::NAN, &device)),
    };
    let mut trainer = DpoTrainer::new(nan, DpoTrainerConfig::new()).unwrap();
    let pair = TokenPair::new(vec![0], vec![PROMPTS as u32], vec![PROMPTS as u32 + 1]);
    let err = trainer.fit(&[pair], 1, 1, |_, _| {}).unwrap_err();
    assert!(
        matches!(&err, DpoError::Step { step: 0, source } if matches!(**source, DpoError::NonFinite { .. })),
        "{err}"
    );
    assert_eq!(trainer.steps_done(), 0);
    for cfg in [
        DpoTrainerConfig::new().with_optimizer(OptimizerConfig::new().with_learning_rate(0.0)),
        DpoTrainerConfig::new().with_loss(DpoConfig::new().with_beta(-1.0)),
        DpoTrainerConfig::new().with_total_steps(0),
    ] {
        assert!(DpoTrainer::new(bandit(&device), cfg).is_err());
    }
}
