//! [`DpoTrainer`]: TaoSR1's stage 2 for any [`Policy`], in the manner of TRL's `DPOTrainer`:
//! offline pass@N sampling with your sampling and reward functions, pair construction, and DPO
//! against a frozen reference, with the optimizer, gradient clipping, schedule and per-step
//! metrics owned by the trainer.

use std::cell::RefCell;

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use taosr1_grpo::{Completion, OptimizerConfig, Policy, PolicyState, Reward, TokenBatch};

use crate::{
    build_pairs, dpo_loss, mean_pass_at_k, pass_at_n, sequence_logprob, BoxError, DpoConfig,
    DpoError, PairPolicy, PairStats,
};

/// Everything [`DpoTrainer`] needs besides the policy. Defaults: the default [`DpoConfig`]
/// (sigmoid loss, β = 0.1), the default [`OptimizerConfig`], 100 planned steps, no NLL term,
/// pad id 0, shuffling seed 0.
///
/// ```
/// use taosr1_dpo::burn::config::Config;
/// use taosr1_dpo::{DpoConfig, DpoTrainerConfig};
///
/// let cfg = DpoTrainerConfig::new().with_loss(DpoConfig::new().with_beta(0.2)).with_nll_weight(1.0);
/// assert!(cfg.validate().is_ok());
/// assert_eq!(DpoTrainerConfig::load_binary(cfg.to_string().as_bytes()).unwrap(), cfg);
/// assert!(cfg.with_nll_weight(-1.0).validate().is_err());
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct DpoTrainerConfig {
    /// β, loss kind, label smoothing.
    #[config(default = "DpoConfig::new()")]
    pub loss: DpoConfig,
    /// AdamW and the learning-rate schedule.
    #[config(default = "OptimizerConfig::new()")]
    pub optimizer: OptimizerConfig,
    /// Planned optimizer steps (the schedule decays over them); `>= 1`.
    #[config(default = 100)]
    pub total_steps: usize,
    /// Weight of an extra mean per-token NLL term on the chosen responses (RPO, Pang et al.
    /// 2024); `0` is plain DPO. DPO alone can lower the likelihood of chosen *and* rejected
    /// responses; the term anchors the chosen ones. Finite and `>= 0`.
    #[config(default = 0.0)]
    pub nll_weight: f32,
    /// Token id used to right-pad sequences (always masked out).
    #[config(default = 0)]
    pub pad_id: u32,
    /// Seed of the pair shuffling in [`DpoTrainer::fit`].
    #[config(default = 0)]
    pub seed: u64,
}

impl DpoTrainerConfig {
    /// Checks every part.
    ///
    /// # Errors
    /// [`DpoError::InvalidConfig`] naming the first bad field, or the optimizer's error.
    ///
    /// ```
    /// let bad = taosr1_dpo::DpoTrainerConfig::new().with_total_steps(0);
    /// assert!(bad.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), DpoError> {
        self.loss.validate()?;
        self.optimizer.validate()?;
        if self.total_steps == 0 {
            return Err(DpoError::InvalidConfig {
                field: "total_steps",
                value: 0.0,
                reason: "must be at least 1",
            });
        }
        if !(self.nll_weight.is_finite() && self.nll_weight >= 0.0) {
            return Err(DpoError::InvalidConfig {
                field: "nll_weight",
                value: f64::from(self.nll_weight),
                reason: "must be finite and >= 0",
            });
        }
        Ok(())
    }
}

/// One preference pair in token ids: a prompt, the preferred response and the rejected one.
///
/// ```
/// let p = taosr1_dpo::TokenPair::new(vec![1, 2], vec![7], vec![8]);
/// assert_eq!(p.chosen_ids, vec![7]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TokenPair {
    /// Prompt token ids (at least one).
    pub prompt_ids: Vec<u32>,
    /// Preferred response (at least one token).
    pub chosen_ids: Vec<u32>,
    /// Rejected response (at least one token).
    pub rejected_ids: Vec<u32>,
}

impl TokenPair {
    /// A pair.
    ///
    /// ```
    /// let p = taosr1_dpo::TokenPair::new(vec![1], vec![2], vec![3]);
    /// assert_eq!(p.rejected_ids, vec![3]);
    /// ```
    pub fn new(prompt_ids: Vec<u32>, chosen_ids: Vec<u32>, rejected_ids: Vec<u32>) -> Self {
        Self {
            prompt_ids,
            chosen_ids,
            rejected_ids,
        }
    }
}

/// What offline pass@N sampling produced: the pairs and how they came about.
///
/// ```
/// let o = taosr1_dpo::OfflinePairs::default();
/// assert!(o.pairs.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OfflinePairs {
    /// The preference pairs.
    pub pairs: Vec<TokenPair>,
    /// How the groups were turned into pairs (mixed, all-correct, all-wrong with gold, ...).
    pub stats: PairStats,
    /// Mean pass@1 of the samples (the sampled accuracy of the policy).
    pub pass_at_1: f64,
    /// Mean pass@N.
    pub pass_at_n: f64,
    /// Mean reward of all samples.
    pub reward_mean: f32,
}

/// What one [`DpoTrainer::step`] did; plain host values.
///
/// ```
/// assert_eq!(taosr1_dpo::DpoMetrics::default().pairs, 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DpoMetrics {
    /// 0-based index of this step.
    pub step: usize,
    /// DPO loss (without the NLL term).
    pub loss: f32,
    /// Mean per-token NLL of the chosen responses.
    pub chosen_nll: f32,
    /// Fraction of pairs whose implicit reward ranks chosen above rejected.
    pub reward_accuracy: f32,
    /// Mean implicit reward `β (log π − log π_ref)` of the chosen responses.
    pub chosen_reward: f32,
    /// Mean implicit reward of the rejected responses.
    pub rejected_reward: f32,
    /// Mean margin chosen − rejected.
    pub reward_margin: f32,
    /// Mean k3 estimate of KL(π ‖ π_ref) over the chosen and rejected response tokens
    /// (`exp(d) − d − 1`, `d = log π_ref − log π`; always `>= 0`).
    pub kl: f32,
    /// Learning rate used.
    pub learning_rate: f64,
    /// Pairs in the step.
    pub pairs: usize,
}

/// DPO for any policy against a frozen reference.
///
/// ```
/// use burn::module::{Module, Param};
/// use burn::tensor::{Device, Tensor};
/// use taosr1_dpo::{DpoTrainer, DpoTrainerConfig, TokenPair};
/// use taosr1_grpo::{OptimizerConfig, Policy, TokenBatch};
///
/// /// A unigram model over 4 tokens.
/// #[derive(Module, Debug)]
/// struct Unigram { logits: Param<Tensor<1>> }
/// impl Policy for Unigram {
///     fn token_logprobs(&self, b: &TokenBatch) -> Tensor<2> {
///         let [n, s] = b.input_ids.dims();
///         let lp = burn::tensor::activation::log_softmax(self.logits.val(), 0);
///         lp.select(0, b.input_ids.clone().reshape([n * s])).reshape([n, s]) * b.mask.clone()
///     }
/// }
///
/// let device = Device::default().autodiff();
/// let policy = Unigram { logits: Param::from_tensor(Tensor::zeros([4], &device)) };
/// let cfg = DpoTrainerConfig::new()
///     .with_optimizer(OptimizerConfig::new().with_learning_rate(0.05).with_warmup_steps(Some(0)));
/// let mut trainer = DpoTrainer::new(policy, cfg).unwrap();
/// let pairs = vec![TokenPair::new(vec![0], vec![3], vec![1]); 4];
/// let m = trainer.step(&pairs).unwrap();
/// assert!((m.loss - std::f32::consts::LN_2).abs() < 1e-5); // policy == reference at step 0
/// let p: Vec<f32> = trainer.policy().logits.val().into_data().to_vec().unwrap();
/// assert!(p[3] > p[1]);
/// ```
pub struct DpoTrainer<M: Policy + Module> {
    state: PolicyState<M>,
    config: DpoTrainerConfig,
}

impl<M: Policy + Module> std::fmt::Debug for DpoTrainer<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpoTrainer")
            .field("config", &self.config)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// The policy, reference and step counter: `trainer.policy()`, `trainer.reference()`,
/// `trainer.steps_done()`.
impl<M: Policy + Module> std::ops::Deref for DpoTrainer<M> {
    type Target = PolicyState<M>;

    fn deref(&self) -> &PolicyState<M> {
        &self.state
    }
}

impl<M: Policy + Module> DpoTrainer<M> {
    /// A trainer whose reference is a frozen snapshot of `policy` as it is now (the SFT
    /// model, in TaoSR1). Create the policy on an autodiff device.
    ///
    /// # Errors
    /// [`DpoError::InvalidConfig`] (or the optimizer's error) for a bad config;
    /// [`DpoError::Grpo`] wrapping `NoParameters` for a policy without parameters.
    ///
    /// ```
    /// use burn::module::Module;
    /// use burn::tensor::Tensor;
    /// use taosr1_dpo::{DpoTrainer, DpoTrainerConfig};
    /// use taosr1_grpo::{Policy, TokenBatch};
    /// #[derive(Module, Debug)]
    /// struct Empty { n: usize }
    /// impl Policy for Empty {
    ///     fn token_logprobs(&self, b: &TokenBatch) -> Tensor<2> { b.mask.clone() }
    /// }
    /// assert!(DpoTrainer::new(Empty { n: 0 }, DpoTrainerConfig::new()).is_err());
    /// ```
    pub fn new(policy: M, config: DpoTrainerConfig) -> Result<Self, DpoError> {
        let reference = policy.valid();
        Self::with_reference(policy, reference, config)
    }

    /// A trainer with an explicit frozen reference.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    ///
    /// ```
    /// # use taosr1_dpo::*;
    /// # fn f<M: taosr1_grpo::Policy + burn::module::Module>(p: M, r: M) -> Result<DpoTrainer<M>, DpoError> {
    /// DpoTrainer::with_reference(p, r, DpoTrainerConfig::new())
    /// # }
    /// ```
    pub fn with_reference(
        policy: M,
        reference: M,
        config: DpoTrainerConfig,
    ) -> Result<Self, DpoError> {
        config.validate()?;
        Ok(Self {
            state: PolicyState::new(policy, reference, &config.optimizer, config.total_steps)?,
            config,
        })
    }

    /// Re-plans the learning-rate schedule for `total_steps` steps, e.g. after
    /// [`sample_pairs`](Self::sample_pairs) when the number of batches is known.
    ///
    /// # Errors
    /// [`DpoError::Grpo`] wrapping `InvalidConfig` for `0`.
    ///
    /// ```
    /// # use taosr1_dpo::*;
    /// # fn f<M: taosr1_grpo::Policy + burn::module::Module>(t: &mut DpoTrainer<M>) {
    /// t.set_total_steps(120).unwrap();
    /// # }
    /// ```
    pub fn set_total_steps(&mut self, total_steps: usize) -> Result<(), DpoError> {
        self.state.set_total_steps(total_steps)?;
        self.config.total_steps = total_steps;
        Ok(())
    }

    /// Ends training and hands the policy back.
    ///
    /// ```
    /// # use taosr1_dpo::*;
    /// # fn f<M: taosr1_grpo::Policy + burn::module::Module>(t: DpoTrainer<M>) -> M { t.into_policy() }
    /// ```
    pub fn into_policy(self) -> M {
        self.state.into_policy()
    }

    /// Offline pass@N: asks `sampler(reference, prompt, n)` for `n` completions of every
    /// prompt from the **reference** (the frozen starting model), scores each with
    /// `reward(prompt, completion)`, and turns the groups into pairs with `pairs` (correct
    /// chosen over incorrect rejected; for an all-wrong prompt, `gold(prompt)` — the teacher's
    /// or the gold response — is chosen when it returns `Some`).
    ///
    /// # Errors
    /// [`DpoError::Sampler`] / [`DpoError::Scorer`] naming the prompt (and sample) when your
    /// functions fail; [`DpoError::SampleCount`] for a wrong count;
    /// [`DpoError::NonFiniteReward`]; [`DpoError::InvalidConfig`] for `n == 0`.
    ///
    /// See `tests/trainer.rs` for a complete run.
    #[allow(clippy::too_many_arguments)]
    pub fn sample_pairs<P, S, W, G, E>(
        &self,
        prompts: &[P],
        n: usize,
        mut sampler: S,
        mut reward: W,
        mut gold: G,
        pairs: &PairPolicy,
    ) -> Result<OfflinePairs, DpoError>
    where
        S: FnMut(&M, &P, usize) -> Result<Vec<Completion>, E>,
        W: FnMut(&P, &Completion) -> Result<Reward, E>,
        G: FnMut(&P) -> Option<Vec<u32>>,
        E: Into<BoxError>,
    {
        // pass_at_n and build_pairs work on text; a response is keyed by its token ids.
        let key = |ids: &[u32]| ids.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        // pass_at_n scores the samples of a group right after drawing them, in order: the
        // scorer finds the completion behind each key in the latest group.
        let latest: RefCell<Vec<Completion>> = RefCell::new(Vec::new());
        let mut prompt_ids: Vec<Vec<u32>> = Vec::with_capacity(prompts.len());
        let reference = self.state.reference();
        let mut text_sampler = |p: &P, k: usize| -> Result<Vec<String>, BoxError> {
            let completions = sampler(reference, p, k).map_err(Into::into)?;
            let keys = completions.iter().map(|c| key(&c.response_ids)).collect();
            *latest.borrow_mut() = completions;
            Ok(keys)
        };
        let mut counter = 0usize;
        let scorer = |p: &P, text: &str| -> Result<(f32, bool), BoxError> {
            let group = latest.borrow();
            let i = counter % n.max(1);
            counter += 1;
            let c = group.get(i).ok_or("scorer index out of range")?;
            if key(&c.response_ids) != text {
                return Err("sample order changed between sampling and scoring".into());
            }
            if i == 0 {
                prompt_ids.push(c.prompt_ids.clone());
            }
            let r = reward(p, c).map_err(Into::into)?;
            Ok((r.value, r.correct))
        };
        let groups = pass_at_n(prompts, n, &mut text_sampler, scorer)?;
        let reward_mean = {
            let all: Vec<f32> = groups
                .iter()
                .flat_map(|g| g.samples.iter().map(|s| s.reward))
                .collect();
            all.iter().sum::<f32>() / all.len().max(1) as f32
        };
        let groups: Vec<_> = groups
            .into_iter()
            .zip(prompts)
            .map(|(g, p)| match gold(p) {
                Some(ids) => g.with_gold(key(&ids)),
                None => g,
            })
            .collect();
        let (text_pairs, stats) = build_pairs(&groups, pairs);
        let parse = |s: &str| -> Vec<u32> {
            s.split(',')
                .filter(|t| !t.is_empty())
                .filter_map(|t| t.parse().ok())
                .collect()
        };
        let token_pairs = text_pairs
            .iter()
            .map(|p| {
                TokenPair::new(
                    prompt_ids[p.prompt_index].clone(),
                    parse(&p.chosen),
                    parse(&p.rejected),
                )
            })
            .collect();
        Ok(OfflinePairs {
            pairs: token_pairs,
            stats,
            pass_at_1: mean_pass_at_k(&groups, 1)?,
            pass_at_n: mean_pass_at_k(&groups, n)?,
            reward_mean,
        })
    }

    /// One DPO step on `pairs`: sequence log-probabilities of chosen and rejected under the
    /// policy and the reference, the DPO loss (plus the optional NLL term), backward, gradient
    /// clipping and an AdamW step at the scheduled learning rate.
    ///
    /// # Errors
    /// [`DpoError::Empty`] for no pairs; [`DpoError::Grpo`] for a pair with an empty prompt or
    /// response or a policy output of the wrong shape;
    /// [`DpoError::NonFinite`] when the loss is NaN/∞ — the policy is then unchanged.
    ///
    /// See [`DpoTrainer`] for an example.
    pub fn step(&mut self, pairs: &[TokenPair]) -> Result<DpoMetrics, DpoError> {
        if pairs.is_empty() {
            return Err(DpoError::Empty { name: "pairs" });
        }
        let k = pairs.len();
        // rows: the k chosen sequences, then the k rejected ones
        let rows: Vec<(&[u32], &[u32])> = pairs
            .iter()
            .map(|p| (&p.prompt_ids[..], &p.chosen_ids[..]))
            .chain(
                pairs
                    .iter()
                    .map(|p| (&p.prompt_ids[..], &p.rejected_ids[..])),
            )
            .collect();
        let batch = TokenBatch::from_pairs(&rows, self.config.pad_id, self.state.device())?;
        let ref_tok = self.state.reference().token_logprobs(&batch).detach();
        let ref_seq = sequence_logprob(ref_tok.clone(), batch.mask.clone())?;
        let tok = self.state.policy_logprobs(&batch)?;
        let seq = sequence_logprob(tok.clone(), batch.mask.clone())?;
        let counts = batch.mask.clone().sum_dim(1).squeeze_dim::<1>(1);
        let chosen = seq.clone().narrow(0, 0, k);
        let out = dpo_loss(
            chosen.clone(),
            seq.clone().narrow(0, k, k),
            ref_seq.clone().narrow(0, 0, k),
            ref_seq.clone().narrow(0, k, k),
            &self.config.loss,
        )?;
        let chosen_nll = (chosen / counts.clone().narrow(0, 0, k)).mean().neg();
        // k3 estimate of KL(π || π_ref) per response token: exp(d) - d - 1 with d = ref - π
        let outside = batch.mask.clone().equal_elem(0.0);
        let d = (ref_tok - tok.detach()).mask_fill(outside, 0.0);
        let k3 = (d.clone().exp() - d - 1.0) * batch.mask.clone();
        let drift = k3.sum() / counts.clone().sum();
        let host: Vec<f64> = Tensor::cat(vec![chosen_nll.clone().detach(), drift], 0)
            .into_data()
            .iter::<f64>()
            .collect();
        let mut loss = out.loss;
        if self.config.nll_weight > 0.0 {
            loss = loss + chosen_nll.mul_scalar(self.config.nll_weight);
        }
        let step = self.state.steps_done();
        let learning_rate = self.state.update(loss);
        self.state.advance();
        Ok(DpoMetrics {
            step,
            loss: out.stats.loss,
            chosen_nll: host[0] as f32,
            reward_accuracy: out.stats.reward_accuracy,
            chosen_reward: out.stats.chosen_reward,
            rejected_reward: out.stats.rejected_reward,
            reward_margin: out.stats.mean_margin,
            kl: host[1] as f32,
            learning_rate,
            pairs: k,
        })
    }

    /// `epochs` passes over `pairs` in shuffled batches of `batch_size` (seeded by the
    /// config), calling `on_step` after every step with its metrics and the policy as the
    /// step left it (for periodic validation).
    ///
    /// # Errors
    /// [`DpoError::InvalidConfig`] for `batch_size == 0` or `epochs == 0`;
    /// [`DpoError::Step`] naming the step and wrapping what [`step`](Self::step) returned.
    ///
    /// ```
    /// # use taosr1_dpo::*;
    /// # fn f<M: taosr1_grpo::Policy + burn::module::Module>(t: &mut DpoTrainer<M>, pairs: &[TokenPair]) {
    /// let metrics = t.fit(pairs, 16, 2, |m, _policy| println!("step {} loss {}", m.step, m.loss)).unwrap();
    /// # }
    /// ```
    pub fn fit(
        &mut self,
        pairs: &[TokenPair],
        batch_size: usize,
        epochs: usize,
        mut on_step: impl FnMut(&DpoMetrics, &M),
    ) -> Result<Vec<DpoMetrics>, DpoError> {
        for (field, v) in [("batch_size", batch_size), ("epochs", epochs)] {
            if v == 0 {
                return Err(DpoError::InvalidConfig {
                    field,
                    value: 0.0,
                    reason: "must be at least 1",
                });
            }
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(self.config.seed);
        let mut order: Vec<usize> = (0..pairs.len()).collect();
        let mut all = Vec::new();
        for _ in 0..epochs {
            order.shuffle(&mut rng);
            for chunk in order.chunks(batch_size) {
                let batch: Vec<TokenPair> = chunk.iter().map(|&i| pairs[i].clone()).collect();
                let step = self.state.steps_done();
                let m = self.step(&batch).map_err(|e| DpoError::Step {
                    step,
                    source: Box::new(e),
                })?;
                on_step(&m, self.state.policy());
                all.push(m);
            }
        }
        Ok(all)
    }
}
