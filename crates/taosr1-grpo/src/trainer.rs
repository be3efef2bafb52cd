//! [`GrpoTrainer`]: the whole GRPO loop of TaoSR1's stage 3 for any [`Policy`], in the manner
//! of TRL's `GRPOTrainer`: you bring the policy, a rollout function and a reward function; the
//! trainer owns the frozen reference, the dynamic sampler, the optimizer, gradient clipping,
//! the learning-rate schedule and the per-step metrics.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::{
    grpo_loss, BoxError, DynamicSampler, DynamicSamplingConfig, DynamicSamplingStats, GrpoConfig,
    GrpoError, OptimizerConfig, Policy, PolicyState, Rollout, TokenBatch,
};

/// Everything [`GrpoTrainer`] needs besides the policy.
///
/// Required: the [`DynamicSamplingConfig`] (group size `G` and groups per step). Defaults: the
/// default [`GrpoConfig`] loss, the default [`OptimizerConfig`] (AdamW, clip 1.0, warm-up +
/// cosine), 100 planned steps (the schedule's length), one update per sampled batch,
/// advantage epsilon `1e-4`, pad id 0.
///
/// ```
/// use taosr1_grpo::burn::config::Config;
/// use taosr1_grpo::{DynamicSamplingConfig, GrpoTrainerConfig};
///
/// let cfg = GrpoTrainerConfig::new(DynamicSamplingConfig::new(8, 4)).with_total_steps(40);
/// assert!(cfg.validate().is_ok());
/// let back = GrpoTrainerConfig::load_binary(cfg.to_string().as_bytes()).unwrap();
/// assert_eq!(back, cfg);
/// assert!(cfg.clone().with_total_steps(0).validate().is_err());
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct GrpoTrainerConfig {
    /// Group size and groups per step of difficulty-based dynamic sampling.
    pub sampling: DynamicSamplingConfig,
    /// Clip range, KL β, loss normalisation.
    #[config(default = "GrpoConfig::new()")]
    pub loss: GrpoConfig,
    /// AdamW and the learning-rate schedule.
    #[config(default = "OptimizerConfig::new()")]
    pub optimizer: OptimizerConfig,
    /// Planned optimizer steps (the schedule decays over them); `>= 1`.
    #[config(default = 100)]
    pub total_steps: usize,
    /// Optimizer updates per sampled batch (μ of the GRPO paper). With `1` the update is
    /// on-policy and the importance ratio is exactly 1; with more, later updates are clipped
    /// against the log-probabilities of the policy that sampled.
    #[config(default = 1)]
    pub updates_per_batch: usize,
    /// Epsilon of the advantage normalisation `(r - mean) / (std + eps)`.
    #[config(default = 1e-4)]
    pub adv_eps: f32,
    /// Token id used to right-pad sequences (always masked out).
    #[config(default = 0)]
    pub pad_id: u32,
}

impl GrpoTrainerConfig {
    /// Checks every part.
    ///
    /// # Errors
    /// [`GrpoError::InvalidConfig`] naming the first bad field.
    ///
    /// ```
    /// use taosr1_grpo::{DynamicSamplingConfig, GrpoTrainerConfig};
    /// let bad = GrpoTrainerConfig::new(DynamicSamplingConfig::new(1, 4));
    /// assert!(bad.validate().is_err()); // a group of 1 is always all-correct or all-wrong
    /// ```
    pub fn validate(&self) -> Result<(), GrpoError> {
        self.sampling.validate()?;
        self.loss.validate()?;
        self.optimizer.validate()?;
        if self.total_steps == 0 {
            return Err(GrpoError::InvalidConfig {
                field: "total_steps",
                value: 0.0,
                reason: "must be at least 1",
            });
        }
        if self.updates_per_batch == 0 {
            return Err(GrpoError::InvalidConfig {
                field: "updates_per_batch",
                value: 0.0,
                reason: "must be at least 1",
            });
        }
        if !(self.adv_eps.is_finite() && self.adv_eps >= 0.0) {
            return Err(GrpoError::InvalidConfig {
                field: "adv_eps",
                value: f64::from(self.adv_eps),
                reason: "must be finite and >= 0",
            });
        }
        Ok(())
    }
}

/// One sampled response, as your rollout function returns it: the prompt's token ids, the
/// response's token ids (everything the policy generated, end-of-sequence token included when
/// it stopped), and optionally its text for the reward function.
///
/// ```
/// let c = taosr1_grpo::Completion::new(vec![1, 7], vec![4, 2]).with_text("L3");
/// assert_eq!(c.len(), 4);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Completion {
    /// Prompt token ids (at least one).
    pub prompt_ids: Vec<u32>,
    /// Response token ids (at least one).
    pub response_ids: Vec<u32>,
    /// Decoded response, if the rollout function provides it.
    pub text: String,
}

impl Completion {
    /// A completion without text.
    ///
    /// ```
    /// let c = taosr1_grpo::Completion::new(vec![1], vec![5]);
    /// assert!(c.text.is_empty());
    /// ```
    pub fn new(prompt_ids: Vec<u32>, response_ids: Vec<u32>) -> Self {
        Self {
            prompt_ids,
            response_ids,
            text: String::new(),
        }
    }

    /// Attaches the decoded response.
    ///
    /// ```
    /// let c = taosr1_grpo::Completion::new(vec![1], vec![5]).with_text("yes");
    /// assert_eq!(c.text, "yes");
    /// ```
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = text.into();
        self
    }

    /// Prompt plus response length.
    ///
    /// ```
    /// assert_eq!(taosr1_grpo::Completion::new(vec![1, 2], vec![3]).len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.prompt_ids.len() + self.response_ids.len()
    }

    /// True when both parts are empty.
    ///
    /// ```
    /// assert!(taosr1_grpo::Completion::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What your reward function says about one completion: a scalar reward and whether the
/// completion counts as *correct* (dynamic sampling keeps a prompt only when
/// `0 < #correct < G`).
///
/// ```
/// let r = taosr1_grpo::Reward::new(1.1, true);
/// assert!(r.correct && r.value > 1.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Reward {
    /// The scalar reward (finite).
    pub value: f32,
    /// Whether the completion solves the prompt.
    pub correct: bool,
}

impl Reward {
    /// A reward.
    ///
    /// ```
    /// assert_eq!(taosr1_grpo::Reward::new(0.0, false).value, 0.0);
    /// ```
    pub fn new(value: f32, correct: bool) -> Self {
        Self { value, correct }
    }
}

/// What one [`GrpoTrainer::step`] did. Every number is a plain host value.
///
/// ```
/// let m = taosr1_grpo::GrpoMetrics::default();
/// assert!(!m.updated);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GrpoMetrics {
    /// 0-based index of this step.
    pub step: usize,
    /// False when no group survived dynamic sampling (nothing was learned this step).
    pub updated: bool,
    /// Loss of the last update of the step.
    pub loss: f32,
    /// Mean reward of the kept rollouts.
    pub reward_mean: f32,
    /// Standard deviation of the rewards of the kept rollouts.
    pub reward_std: f32,
    /// Fraction of the kept rollouts that were correct.
    pub correct_fraction: f32,
    /// Mean k3 KL estimate to the reference policy over the response tokens.
    pub kl: f32,
    /// Fraction of response tokens whose gradient was clipped.
    pub clip_fraction: f32,
    /// Mean importance ratio.
    pub mean_ratio: f32,
    /// Learning rate used.
    pub learning_rate: f64,
    /// Response tokens trained on.
    pub response_tokens: usize,
    /// Dynamic-sampling counts: prompts examined, kept, dropped all-correct / all-wrong.
    pub sampling: DynamicSamplingStats,
}

/// GRPO with difficulty-based dynamic sampling for any policy.
///
/// * The **reference** is a frozen snapshot of the policy taken at construction (or one you
///   pass to [`with_reference`](Self::with_reference)); the KL penalty pulls towards it.
/// * Each [`step`](Self::step) pulls prompts from your iterator, asks your **rollout**
///   function for `G` completions of a prompt (it receives an inference snapshot of the
///   current policy), scores each with your **reward** function, keeps only groups with
///   `0 < #correct < G`, computes group-relative advantages, and takes
///   `updates_per_batch` clipped-ratio AdamW steps with gradient clipping and the
///   warm-up + cosine schedule.
///
/// Errors of your functions (any `E: Into<BoxError>`) come back as
/// [`GrpoError::Rollout`] naming the prompt. A step whose loss is not finite returns
/// [`GrpoError::NonFinite`] and leaves the policy as it was.
///
/// See `tests/trainer.rs` for a policy that is not a transformer trained end to end; the
/// shortest use:
///
/// ```
/// use burn::module::{Module, Param};
/// use burn::tensor::{Device, Tensor};
/// use taosr1_grpo::*;
///
/// /// One categorical distribution over 3 "answers" (token ids 0..3), prompt-independent.
/// #[derive(Module, Debug)]
/// struct Guess { logits: Param<Tensor<1>> }
/// impl Policy for Guess {
///     fn token_logprobs(&self, batch: &TokenBatch) -> Tensor<2> {
///         let [b, s] = batch.input_ids.dims();
///         let lp = burn::tensor::activation::log_softmax(self.logits.val(), 0);
///         let picked = lp.select(0, batch.input_ids.clone().reshape([b * s])).reshape([b, s]);
///         picked * batch.mask.clone() // column 0 and padding are masked anyway
///     }
/// }
///
/// let device = Device::default().autodiff();
/// let policy = Guess { logits: Param::from_tensor(Tensor::zeros([3], &device)) };
/// let config = GrpoTrainerConfig::new(DynamicSamplingConfig::new(3, 1))
///     .with_optimizer(OptimizerConfig::new().with_learning_rate(0.1).with_warmup_steps(Some(0)));
/// let mut trainer = GrpoTrainer::new(policy, config).unwrap();
/// // every rollout group answers 0, 1, 2 once; answer 2 is right
/// let rollout = |_: &Guess, _: &(), n: usize| {
///     Ok::<_, BoxError>((0..n as u32).map(|a| Completion::new(vec![0], vec![a % 3])).collect())
/// };
/// let reward = |_: &(), c: &Completion| {
///     let ok = c.response_ids[0] == 2;
///     Ok::<_, BoxError>(Reward::new(ok as u8 as f32, ok))
/// };
/// let m = trainer.step(std::iter::repeat(()), rollout, reward).unwrap();
/// assert!(m.updated && m.sampling.kept == 1);
/// let p: Vec<f32> = trainer.policy().logits.val().into_data().try_to_vec_as().unwrap();
/// assert!(p[2] > p[0] && p[2] > p[1]);
/// ```
pub struct GrpoTrainer<M: Policy + Module> {
    state: PolicyState<M>,
    sampler: DynamicSampler,
    config: GrpoTrainerConfig,
}

impl<M: Policy + Module> std::fmt::Debug for GrpoTrainer<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpoTrainer")
            .field("config", &self.config)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// The policy, reference and step counter: `trainer.policy()`, `trainer.reference()`,
/// `trainer.steps_done()`.
impl<M: Policy + Module> std::ops::Deref for GrpoTrainer<M> {
    type Target = PolicyState<M>;

    fn deref(&self) -> &PolicyState<M> {
        &self.state
    }
}

impl<M: Policy + Module> GrpoTrainer<M> {
    /// A trainer whose reference is a frozen snapshot of `policy` as it is now. Create the
    /// policy on an autodiff device (`device.autodiff()`).
    ///
    /// # Errors
    /// [`GrpoError::InvalidConfig`] for a bad config; [`GrpoError::NoParameters`] for a
    /// policy without parameters (nothing to train, and no device to put batches on).
    ///
    /// ```
    /// use burn::module::{Module, Param};
    /// use burn::tensor::{Device, Tensor};
    /// use taosr1_grpo::*;
    /// #[derive(Module, Debug)]
    /// struct Empty { n: usize }
    /// impl Policy for Empty {
    ///     fn token_logprobs(&self, b: &TokenBatch) -> Tensor<2> { b.mask.clone() }
    /// }
    /// let cfg = GrpoTrainerConfig::new(DynamicSamplingConfig::new(2, 1));
    /// assert!(matches!(GrpoTrainer::new(Empty { n: 0 }, cfg), Err(GrpoError::NoParameters)));
    /// ```
    pub fn new(policy: M, config: GrpoTrainerConfig) -> Result<Self, GrpoError> {
        let reference = policy.valid();
        Self::with_reference(policy, reference, config)
    }

    /// A trainer with an explicit frozen reference (e.g. the SFT checkpoint while the policy
    /// starts from a DPO checkpoint). The reference is used in inference mode.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    ///
    /// ```
    /// use burn::module::{Module, Param};
    /// use burn::tensor::{Device, Tensor};
    /// use taosr1_grpo::*;
    /// #[derive(Module, Debug)]
    /// struct Bias { b: Param<Tensor<1>> }
    /// impl Policy for Bias {
    ///     fn token_logprobs(&self, t: &TokenBatch) -> Tensor<2> {
    ///         let [b, s] = t.mask.dims();
    ///         self.b.val().reshape([1, 1]).expand([b, s]) * t.mask.clone()
    ///     }
    /// }
    /// let dev = Device::default().autodiff();
    /// let p = Bias { b: Param::from_tensor(Tensor::zeros([1], &dev)) };
    /// let r = Bias { b: Param::from_tensor(Tensor::ones([1], &dev)) };
    /// let t = GrpoTrainer::with_reference(p, r, GrpoTrainerConfig::new(DynamicSamplingConfig::new(2, 1)));
    /// assert_eq!(t.unwrap().steps_done(), 0);
    /// ```
    pub fn with_reference(
        policy: M,
        reference: M,
        config: GrpoTrainerConfig,
    ) -> Result<Self, GrpoError> {
        config.validate()?;
        Ok(Self {
            state: PolicyState::new(policy, reference, &config.optimizer, config.total_steps)?,
            sampler: DynamicSampler::new(config.sampling.clone())?,
            config,
        })
    }

    /// Ends training and hands the policy back.
    ///
    /// ```
    /// # use taosr1_grpo::*;
    /// # fn f<M: Policy + burn::module::Module>(t: GrpoTrainer<M>) -> M { t.into_policy() }
    /// ```
    pub fn into_policy(self) -> M {
        self.state.into_policy()
    }

    /// The configuration.
    ///
    /// ```
    /// # use taosr1_grpo::*;
    /// # fn f<M: Policy + burn::module::Module>(t: &GrpoTrainer<M>) -> usize { t.config().total_steps }
    /// ```
    pub fn config(&self) -> &GrpoTrainerConfig {
        &self.config
    }

    /// Dynamic-sampling counts over every step so far.
    ///
    /// ```
    /// # use taosr1_grpo::*;
    /// # fn f<M: Policy + burn::module::Module>(t: &GrpoTrainer<M>) -> usize { t.sampling_totals().kept }
    /// ```
    pub fn sampling_totals(&self) -> DynamicSamplingStats {
        self.sampler.total_stats()
    }

    /// One GRPO step: sample, filter, score, update. `prompts` is consumed only as far as
    /// dynamic sampling needs (pass `&mut iter` to keep the rest); `rollout(policy, prompt,
    /// g)` must return exactly `g` completions of `prompt` sampled from `policy` (an inference
    /// snapshot of the current policy); `reward(prompt, completion)` scores one.
    ///
    /// # Errors
    /// * [`GrpoError::Rollout`] when your rollout or reward function fails (the prompt is
    ///   named), [`GrpoError::RolloutCount`] for a wrong number of completions,
    ///   [`GrpoError::NonFiniteRolloutReward`] for a NaN/∞ reward;
    /// * [`GrpoError::InvalidSequence`] for a completion with an empty prompt or response;
    /// * [`GrpoError::ShapeMismatch`] when the policy's output has the wrong shape;
    /// * [`GrpoError::NonFinite`] when the loss is NaN/∞; the policy is then unchanged.
    ///
    /// See [`GrpoTrainer`] for an example.
    pub fn step<P, I, R, W, E>(
        &mut self,
        prompts: I,
        mut rollout: R,
        mut reward: W,
    ) -> Result<GrpoMetrics, GrpoError>
    where
        I: IntoIterator<Item = P>,
        R: FnMut(&M, &P, usize) -> Result<Vec<Completion>, E>,
        W: FnMut(&P, &Completion) -> Result<Reward, E>,
        E: Into<BoxError>,
    {
        let step = self.state.steps_done();
        let current = self.state.policy().valid();
        let batch = self
            .sampler
            .fill(prompts, |p: &P, n| -> Result<_, BoxError> {
                let completions = rollout(&current, p, n).map_err(Into::into)?;
                completions
                    .into_iter()
                    .map(|c| {
                        let r = reward(p, &c).map_err(Into::into)?;
                        Ok(Rollout::new(c, r.value, r.correct))
                    })
                    .collect()
            })?;
        drop(current);
        let learning_rate = self.state.learning_rate();
        self.state.advance();
        let mut metrics = GrpoMetrics {
            step,
            learning_rate,
            sampling: batch.stats,
            ..GrpoMetrics::default()
        };
        if batch.groups.is_empty() {
            return Ok(metrics);
        }
        let rewards: Vec<f32> = batch.rollouts().map(|(_, r)| r.reward).collect();
        let n = rewards.len() as f32;
        metrics.reward_mean = rewards.iter().sum::<f32>() / n;
        metrics.reward_std = (rewards
            .iter()
            .map(|r| (r - metrics.reward_mean).powi(2))
            .sum::<f32>()
            / n)
            .sqrt();
        metrics.correct_fraction = batch.rollouts().filter(|(_, r)| r.correct).count() as f32 / n;
        let advantages = batch.advantages(self.config.adv_eps)?;
        let pairs: Vec<(&[u32], &[u32])> = batch
            .rollouts()
            .map(|(_, r)| (&r.response.prompt_ids[..], &r.response.response_ids[..]))
            .collect();
        let device = self.state.device().clone();
        let tokens = TokenBatch::from_pairs(&pairs, self.config.pad_id, &device)?;
        let ref_logp = self.state.reference().token_logprobs(&tokens).detach();
        let old_logp = (self.config.updates_per_batch > 1)
            .then(|| self.state.policy().valid().token_logprobs(&tokens).detach());
        let adv = Tensor::<1>::from_data(
            TensorData::new(advantages.clone(), [advantages.len()]),
            &device,
        );
        for _ in 0..self.config.updates_per_batch {
            let logp = self.state.policy_logprobs(&tokens)?;
            let old = old_logp.clone().unwrap_or_else(|| logp.clone().detach());
            let out = grpo_loss(
                logp,
                old,
                ref_logp.clone(),
                adv.clone(),
                tokens.mask.clone(),
                &self.config.loss,
            )?;
            self.state.update(out.loss);
            metrics.loss = out.stats.loss;
            metrics.kl = out.stats.mean_kl;
            metrics.clip_fraction = out.stats.clip_fraction;
            metrics.mean_ratio = out.stats.mean_ratio;
            metrics.response_tokens = out.stats.response_tokens;
        }
        metrics.updated = true;
        Ok(metrics)
    }
}
