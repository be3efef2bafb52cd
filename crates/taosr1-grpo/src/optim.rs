//! The one optimizer and learning-rate schedule every TaoSR1 training stage uses: AdamW with an
//! optional gradient-norm clip, linear warm-up, then cosine decay to a floor.
//!
//! It lives here, in the crate the other trainers build on, so that SFT, DPO and GRPO share one
//! implementation instead of three copies.

use burn::config::Config;
use burn::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, ModuleOptimizer};

use crate::GrpoError;

/// AdamW settings and the warm-up + cosine schedule.
///
/// Defaults: learning rate `1e-4`, weight decay `0`, gradient-norm clip `1.0`, warm-up of 10%
/// of the run, cosine decay to 10% of the peak, AdamW's `β = (0.9, 0.999)`, `ε = 1e-5`.
///
/// ```
/// use taosr1_grpo::burn::config::Config;
/// use taosr1_grpo::OptimizerConfig;
///
/// let cfg = OptimizerConfig::new().with_learning_rate(1e-3).with_warmup_steps(Some(10));
/// assert_eq!(cfg.lr_at(0, 100), 1e-4); // warm-up starts at peak / warmup
/// assert!((cfg.lr_at(10, 100) - 1e-3).abs() < 1e-12); // the peak
/// assert!((cfg.lr_at(100, 100) - 1e-4).abs() < 1e-12); // the floor
/// assert!(cfg.validate().is_ok());
/// let json = cfg.to_string(); // burn's Config: JSON save/load
/// assert_eq!(OptimizerConfig::load_binary(json.as_bytes()).unwrap(), cfg);
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct OptimizerConfig {
    /// Peak learning rate; finite and `> 0`.
    #[config(default = 1e-4)]
    pub learning_rate: f64,
    /// Decoupled weight decay of AdamW; finite and `>= 0`.
    #[config(default = 0.0)]
    pub weight_decay: f32,
    /// Clip the global gradient L2 norm to this value (`None`: no clipping); finite, `> 0`.
    #[config(default = "Some(1.0)")]
    pub grad_clip_norm: Option<f32>,
    /// Linear warm-up steps; `None` means 10% of the planned steps (at least 1).
    #[config(default = "None")]
    pub warmup_steps: Option<usize>,
    /// The learning rate decays (cosine) to `final_lr_fraction × learning_rate`; in `[0, 1]`.
    #[config(default = 0.1)]
    pub final_lr_fraction: f64,
    /// AdamW's β₁.
    #[config(default = 0.9)]
    pub beta_1: f32,
    /// AdamW's β₂.
    #[config(default = 0.999)]
    pub beta_2: f32,
    /// AdamW's ε (burn's default, `1e-5`; PyTorch uses `1e-8`).
    #[config(default = 1e-5)]
    pub epsilon: f32,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl OptimizerConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`GrpoError::InvalidConfig`] naming the first bad field (a learning rate `<= 0` or NaN,
    /// a negative weight decay, a non-positive clip, a floor outside `[0, 1]`, β outside
    /// `[0, 1)`).
    ///
    /// ```
    /// use taosr1_grpo::{GrpoError, OptimizerConfig};
    /// let err = OptimizerConfig::new().with_learning_rate(-1.0).validate().unwrap_err();
    /// assert!(matches!(err, GrpoError::InvalidConfig { field: "learning_rate", .. }));
    /// ```
    pub fn validate(&self) -> Result<(), GrpoError> {
        let bad = |field, value: f64, reason| {
            Err(GrpoError::InvalidConfig {
                field,
                value,
                reason,
            })
        };
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(
                "learning_rate",
                self.learning_rate,
                "must be finite and > 0",
            );
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad(
                "weight_decay",
                f64::from(self.weight_decay),
                "must be finite and >= 0",
            );
        }
        if let Some(c) = self.grad_clip_norm
            && !(c.is_finite() && c > 0.0)
        {
            return bad("grad_clip_norm", f64::from(c), "must be finite and > 0");
        }
        if !(0.0..=1.0).contains(&self.final_lr_fraction) {
            return bad(
                "final_lr_fraction",
                self.final_lr_fraction,
                "must be in [0, 1]",
            );
        }
        for (field, b) in [("beta_1", self.beta_1), ("beta_2", self.beta_2)] {
            if !(0.0..1.0).contains(&b) {
                return bad(field, f64::from(b), "must be in [0, 1)");
            }
        }
        if !(self.epsilon.is_finite() && self.epsilon > 0.0) {
            return bad("epsilon", f64::from(self.epsilon), "must be finite and > 0");
        }
        Ok(())
    }

    /// A fresh AdamW optimizer for any burn module (state is created lazily per parameter).
    ///
    /// # Errors
    /// What [`validate`](Self::validate) returns.
    ///
    /// ```
    /// let optim = taosr1_grpo::OptimizerConfig::new().init().unwrap();
    /// assert!(optim.has_gradient_clipping());
    /// ```
    pub fn init(&self) -> Result<ModuleOptimizer, GrpoError> {
        self.validate()?;
        Ok(AdamWConfig::new()
            .with_beta_1(self.beta_1)
            .with_beta_2(self.beta_2)
            .with_epsilon(self.epsilon)
            .with_weight_decay(self.weight_decay)
            .with_grad_clipping(self.grad_clip_norm.map(GradientClippingConfig::Norm))
            .init())
    }

    /// Warm-up steps for a run of `total` steps.
    ///
    /// ```
    /// use taosr1_grpo::OptimizerConfig;
    /// assert_eq!(OptimizerConfig::new().warmup(200), 20);
    /// assert_eq!(OptimizerConfig::new().warmup(3), 1);
    /// assert_eq!(OptimizerConfig::new().with_warmup_steps(Some(0)).warmup(3), 0);
    /// ```
    pub fn warmup(&self, total: usize) -> usize {
        self.warmup_steps.unwrap_or((total / 10).max(1))
    }

    /// Learning rate at 0-based `step` of a run of `total` steps: linear warm-up to the peak
    /// over [`warmup`](Self::warmup) steps, then cosine decay to the floor at `total`.
    ///
    /// ```
    /// use taosr1_grpo::OptimizerConfig;
    /// let cfg = OptimizerConfig::new().with_learning_rate(2.0).with_warmup_steps(Some(0));
    /// assert_eq!(cfg.lr_at(0, 10), 2.0);
    /// assert!((cfg.lr_at(5, 10) - 1.1).abs() < 1e-12); // half-way: (peak + floor) / 2
    /// ```
    pub fn lr_at(&self, step: usize, total: usize) -> f64 {
        let peak = self.learning_rate;
        let warmup = self.warmup(total);
        if step < warmup {
            return peak * (step + 1) as f64 / warmup as f64;
        }
        let span = total.saturating_sub(warmup).max(1) as f64;
        let progress = ((step - warmup) as f64 / span).min(1.0);
        let floor = self.final_lr_fraction;
        peak * (floor + (1.0 - floor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()))
    }
}
