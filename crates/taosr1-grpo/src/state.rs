//! [`PolicyState`]: what every trainer owns — the policy, its frozen reference, the optimizer
//! and the schedule — and the one update step they share.

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};

use crate::{GrpoError, OptimizerConfig, Policy, TokenBatch};

/// The policy under training, its frozen reference, the AdamW optimizer (with gradient
/// clipping) and the warm-up + cosine schedule. [`GrpoTrainer`](crate::GrpoTrainer) and
/// `taosr1_dpo::DpoTrainer` dereference to it, so `trainer.policy()`,
/// `trainer.reference()` and `trainer.steps_done()` work on both; use it directly to write
/// a trainer for another objective.
///
/// ```
/// use burn::module::{Module, Param};
/// use burn::tensor::{Device, Tensor};
/// use taosr1_grpo::{OptimizerConfig, Policy, PolicyState, TokenBatch};
///
/// #[derive(Module, Debug)]
/// struct Bias { b: Param<Tensor<1>> }
/// impl Policy for Bias {
///     fn token_logprobs(&self, t: &TokenBatch) -> Tensor<2> {
///         let [n, s] = t.mask.dims();
///         self.b.val().reshape([1, 1]).expand([n, s]) * t.mask.clone()
///     }
/// }
/// let dev = Device::default().autodiff();
/// let policy = Bias { b: Param::from_tensor(Tensor::zeros([1], &dev)) };
/// let reference = policy.valid();
/// let opt = OptimizerConfig::new().with_learning_rate(0.1).with_warmup_steps(Some(0));
/// let mut state = PolicyState::new(policy, reference, &opt, 10).unwrap();
/// // minimise (b - 1)^2 for one step: b moves towards 1
/// let loss = (state.policy().b.val() - 1.0).powi_scalar(2).sum();
/// let lr = state.update(loss);
/// state.advance();
/// assert_eq!((lr, state.steps_done()), (0.1, 1));
/// let b: f32 = state.policy().b.val().into_scalar();
/// assert!(b > 0.0);
/// let r: f32 = state.reference().b.val().into_scalar();
/// assert_eq!(r, 0.0); // the reference is frozen
/// ```
pub struct PolicyState<M: Policy + Module> {
    policy: M,
    reference: M,
    optimizer: ModuleOptimizer,
    schedule: OptimizerConfig,
    total_steps: usize,
    device: Device,
    step: usize,
}

impl<M: Policy + Module> std::fmt::Debug for PolicyState<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyState")
            .field("schedule", &self.schedule)
            .field("total_steps", &self.total_steps)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl<M: Policy + Module> PolicyState<M> {
    /// Takes the policy (on an autodiff device) and a reference (used in inference mode,
    /// frozen), and builds the optimizer for a run of `total_steps` steps.
    ///
    /// # Errors
    /// The optimizer config's [`GrpoError::InvalidConfig`]; `total_steps == 0`;
    /// [`GrpoError::NoParameters`] for a policy without parameters (nothing to train, and no
    /// device to put batches on).
    ///
    /// ```
    /// use burn::module::Module;
    /// use burn::tensor::Tensor;
    /// use taosr1_grpo::*;
    /// #[derive(Module, Debug)]
    /// struct Empty { n: usize }
    /// impl Policy for Empty {
    ///     fn token_logprobs(&self, b: &TokenBatch) -> Tensor<2> { b.mask.clone() }
    /// }
    /// let err = PolicyState::new(Empty { n: 0 }, Empty { n: 0 }, &OptimizerConfig::new(), 1);
    /// assert!(matches!(err, Err(GrpoError::NoParameters)));
    /// ```
    pub fn new(
        policy: M,
        reference: M,
        optimizer: &OptimizerConfig,
        total_steps: usize,
    ) -> Result<Self, GrpoError> {
        if total_steps == 0 {
            return Err(GrpoError::InvalidConfig {
                field: "total_steps",
                value: 0.0,
                reason: "must be at least 1",
            });
        }
        let device = policy
            .devices()
            .into_iter()
            .next()
            .ok_or(GrpoError::NoParameters)?;
        Ok(Self {
            optimizer: optimizer.init()?,
            schedule: optimizer.clone(),
            reference: reference.valid(),
            policy,
            total_steps,
            device,
            step: 0,
        })
    }

    /// The policy being trained.
    ///
    /// ```
    /// # use taosr1_grpo::*;
    /// # fn f<M: Policy + burn::module::Module>(s: &PolicyState<M>) -> &M { s.policy() }
    /// ```
    pub fn policy(&self) -> &M {
        &self.policy
    }

    /// The frozen reference.
    ///
    /// ```
    /// # use taosr1_grpo::*;
    /// # fn f<M: Policy + burn::module::Module>(s: &PolicyState<M>) -> &M { s.reference() }
    /// ```
    pub fn reference(&self) -> &M {
        &self.reference
    }

    /// Ends training and hands the policy back.
    ///
    /// ```
    /// # use taosr1_grpo::*;
    /// # fn f<M: Policy + burn::module::Module>(s: PolicyState<M>) -> M { s.into_policy() }
    /// ```
    pub fn into_policy(self) -> M {
        self.policy
    }

    /// Steps taken so far.
    ///
    /// ```
    /// # use taosr1_grpo::*;
    /// # fn f<M: Policy + burn::module::Module>(s: &PolicyState<M>) -> usize { s.steps_done() }
    /// ```
    pub fn steps_done(&self) -> usize {
        self.step
    }

    /// The device the policy's parameters live on (where batches go).
    ///
    /// ```
    /// # use taosr1_grpo::*;
    /// # fn f<M: Policy + burn::module::Module>(s: &PolicyState<M>) -> bool { s.device().is_autodiff() }
    /// ```
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The policy's per-token log-probabilities of `batch` (with gradient), checked to have
    /// the batch's shape.
    ///
    /// # Errors
    /// [`GrpoError::ShapeMismatch`] when the policy returns another shape.
    ///
    /// ```
    /// # use taosr1_grpo::*;
    /// # fn f<M: Policy + burn::module::Module>(s: &PolicyState<M>, b: &TokenBatch) {
    /// let logp = s.policy_logprobs(b).unwrap();
    /// assert_eq!(logp.dims(), b.input_ids.dims());
    /// # }
    /// ```
    pub fn policy_logprobs(&self, batch: &TokenBatch) -> Result<Tensor<2>, GrpoError> {
        crate::policy::checked_token_logprobs(&self.policy, batch)
    }

    /// The learning rate of the current step.
    ///
    /// ```
    /// # use taosr1_grpo::*;
    /// # fn f<M: Policy + burn::module::Module>(s: &PolicyState<M>) -> f64 { s.learning_rate() }
    /// ```
    pub fn learning_rate(&self) -> f64 {
        self.schedule.lr_at(self.step, self.total_steps)
    }

    /// Backpropagates `loss` (a scalar computed from [`policy`](Self::policy)), clips the
    /// gradients and takes one AdamW step at the current step's learning rate, which it
    /// returns. Does not advance the step counter (a step may hold several updates).
    ///
    /// See [`PolicyState`] for an example.
    pub fn update(&mut self, loss: Tensor<1>) -> f64 {
        let lr = self.learning_rate();
        let grads = GradientsParams::from_grads(loss.backward(), &self.policy);
        self.policy = self.optimizer.step(lr, self.policy.clone(), grads);
        lr
    }

    /// Re-plans the schedule for a run of `total_steps` steps (e.g. once the number of
    /// batches is known); steps already taken keep counting.
    ///
    /// # Errors
    /// [`GrpoError::InvalidConfig`] for `0`.
    ///
    /// ```
    /// # use taosr1_grpo::*;
    /// # fn f<M: Policy + burn::module::Module>(s: &mut PolicyState<M>) {
    /// s.set_total_steps(200).unwrap();
    /// assert!(s.set_total_steps(0).is_err());
    /// # }
    /// ```
    pub fn set_total_steps(&mut self, total_steps: usize) -> Result<(), GrpoError> {
        if total_steps == 0 {
            return Err(GrpoError::InvalidConfig {
                field: "total_steps",
                value: 0.0,
                reason: "must be at least 1",
            });
        }
        self.total_steps = total_steps;
        Ok(())
    }

    /// Moves on to the next step of the schedule.
    ///
    /// See [`PolicyState`] for an example.
    pub fn advance(&mut self) {
        self.step += 1;
    }
}
