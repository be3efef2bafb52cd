//! The DPO / IPO objective on sequence log-probabilities.

use burn::config::Config;
use burn::tensor::activation::log_sigmoid;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::DpoError;

/// Which preference loss [`dpo_loss`] computes.
///
/// ```
/// use taosr1_dpo::DpoLossKind;
/// assert_eq!(DpoLossKind::default(), DpoLossKind::Sigmoid);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DpoLossKind {
    /// DPO (Rafailov et al., 2023), with optional label smoothing (conservative DPO):
    /// `-(1 - ls)·logσ(β·h) - ls·logσ(-β·h)`.
    #[default]
    Sigmoid,
    /// IPO (Azar et al., 2023): `(h - 1/(2β))²`. Ignores `label_smoothing`.
    Ipo,
}

/// Hyper-parameters of [`dpo_loss`], a burn [`Config`] (generated `new()`, `with_*`
/// builders, JSON save/load). Defaults: `beta = 0.1`, `label_smoothing = 0`,
/// [`DpoLossKind::Sigmoid`].
///
/// ```
/// use taosr1_dpo::{DpoConfig, DpoLossKind};
/// let cfg = DpoConfig::new().with_beta(0.5).with_label_smoothing(0.1).with_kind(DpoLossKind::Sigmoid);
/// assert!(cfg.validate().is_ok());
/// assert_eq!(cfg.beta, 0.5);
/// assert_eq!(DpoConfig::default(), DpoConfig::new());
/// ```
#[derive(Config, Debug, Copy, PartialEq)]
#[non_exhaustive]
pub struct DpoConfig {
    /// Inverse temperature β (> 0): strength of the implicit KL constraint to the reference.
    #[config(default = 0.1)]
    pub beta: f32,
    /// Probability that a preference label is flipped, in `[0, 0.5)` (sigmoid loss only).
    #[config(default = 0.0)]
    pub label_smoothing: f32,
    /// Loss variant.
    #[config(default = "DpoLossKind::Sigmoid")]
    pub kind: DpoLossKind,
}

impl Default for DpoConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl DpoConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`DpoError::InvalidConfig`] naming the first bad field.
    ///
    /// ```
    /// use taosr1_dpo::{DpoConfig, DpoError};
    /// let err = DpoConfig::default().with_beta(0.0).validate().unwrap_err();
    /// assert!(matches!(err, DpoError::InvalidConfig { field: "beta", .. }));
    /// ```
    pub fn validate(&self) -> Result<(), DpoError> {
        if !(self.beta.is_finite() && self.beta > 0.0) {
            return Err(DpoError::InvalidConfig {
                field: "beta",
                value: f64::from(self.beta),
                reason: "must be finite and > 0",
            });
        }
        if !(self.label_smoothing.is_finite() && (0.0..0.5).contains(&self.label_smoothing)) {
            return Err(DpoError::InvalidConfig {
                field: "label_smoothing",
                value: f64::from(self.label_smoothing),
                reason: "must be in [0, 0.5)",
            });
        }
        Ok(())
    }
}

/// Detached diagnostics of a DPO loss evaluation. Implicit rewards are
/// `β·(log π(y|x) - log π_ref(y|x))`.
///
/// ```
/// assert_eq!(taosr1_dpo::DpoStats::default().pairs, 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DpoStats {
    /// Value of the loss.
    pub loss: f32,
    /// Fraction of pairs whose chosen implicit reward is strictly above the rejected one.
    pub reward_accuracy: f32,
    /// Mean of `chosen_reward - rejected_reward` (= β·h).
    pub mean_margin: f32,
    /// Mean implicit reward of the chosen responses.
    pub chosen_reward: f32,
    /// Mean implicit reward of the rejected responses.
    pub rejected_reward: f32,
    /// Number of pairs.
    pub pairs: usize,
}

/// Output of [`dpo_loss`]: the differentiable scalar loss and detached diagnostics.
///
/// ```
/// use burn::tensor::Tensor;
/// use taosr1_dpo::{dpo_loss, DpoConfig, DpoLoss};
///
/// let dev = Default::default();
/// let z = Tensor::<1>::from_floats([-3.0], &dev);
/// let out: DpoLoss = dpo_loss(z.clone(), z.clone(), z.clone(), z, &DpoConfig::default()).unwrap();
/// // h = 0: loss = -log σ(0) = ln 2
/// assert!((out.stats.loss - std::f32::consts::LN_2).abs() < 1e-6);
/// assert_eq!(out.loss.dims(), [1]);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DpoLoss {
    /// Scalar loss, shape `[1]`.
    pub loss: Tensor<1>,
    /// Diagnostics.
    pub stats: DpoStats,
}

/// Sum of per-token log-probabilities over the response tokens: `Σ_t token_logp·mask`,
/// shape `[batch]`.
///
/// `mask` is `1.0` on response tokens and `0.0` elsewhere; entries where the mask is `0`
/// are ignored even if they hold NaN or `-inf` (no NaN leaks into values or gradients).
///
/// # Errors
/// [`DpoError::ShapeMismatch`] when the shapes differ.
///
/// ```
/// use burn::tensor::Tensor;
/// use taosr1_dpo::sequence_logprob;
///
/// let dev = Default::default();
/// let lp = Tensor::<2>::from_floats([[0.0, -1.0, -2.0], [f32::NAN, -0.5, -9.0]], &dev);
/// let mask = Tensor::<2>::from_floats([[0.0, 1.0, 1.0], [0.0, 1.0, 0.0]], &dev);
/// let seq: Vec<f32> = sequence_logprob(lp, mask).unwrap().into_data().try_to_vec_as().unwrap();
/// assert_eq!(seq, vec![-3.0, -0.5]);
/// ```
pub fn sequence_logprob(token_logp: Tensor<2>, mask: Tensor<2>) -> Result<Tensor<1>, DpoError> {
    if token_logp.dims() != mask.dims() {
        return Err(DpoError::ShapeMismatch {
            name: "mask",
            expected: token_logp.dims().to_vec(),
            actual: mask.dims().to_vec(),
        });
    }
    let outside = mask.clone().equal_elem(0.0);
    Ok((token_logp.mask_fill(outside, 0.0) * mask)
        .sum_dim(1)
        .squeeze_dim::<1>(1))
}

/// The DPO (or IPO) loss, averaged over a batch of preference pairs.
///
/// Inputs are sequence log-probabilities (sums over response tokens, see
/// [`sequence_logprob`]) of shape `[batch]`: the policy's on chosen / rejected responses
/// (these carry gradients) and the frozen reference model's (constants). With
/// `h = (π_c - ref_c) - (π_r - ref_r)`:
///
/// * [`DpoLossKind::Sigmoid`]: `-(1 - ls)·logσ(β·h) - ls·logσ(-β·h)`, using a numerically
///   stable log-sigmoid (finite value and gradient for any finite `h`);
/// * [`DpoLossKind::Ipo`]: `(h - 1/(2β))²`.
///
/// # Errors
/// * [`DpoError::InvalidConfig`] for a bad `config`;
/// * [`DpoError::ShapeMismatch`] when the four tensors differ in length;
/// * [`DpoError::Empty`] for an empty batch;
/// * [`DpoError::NonFinite`] when the loss is NaN or infinite (NaN / infinite inputs).
///
/// # Example
/// ```
/// use burn::tensor::Tensor;
/// use taosr1_dpo::{dpo_loss, DpoConfig};
///
/// let dev = Default::default();
/// let t = |v: f32| Tensor::<1>::from_floats([v], &dev);
/// // h = (-1 - -2) - (-3 - -2) = 2; beta = 0.5: loss = -log σ(1) = 0.3132617
/// let out = dpo_loss(t(-1.0), t(-3.0), t(-2.0), t(-2.0), &DpoConfig::default().with_beta(0.5)).unwrap();
/// assert!((out.stats.loss - 0.313_261_7).abs() < 1e-6);
/// assert_eq!(out.stats.reward_accuracy, 1.0);
/// assert!((out.stats.mean_margin - 1.0).abs() < 1e-6);
/// ```
pub fn dpo_loss(
    policy_chosen: Tensor<1>,
    policy_rejected: Tensor<1>,
    ref_chosen: Tensor<1>,
    ref_rejected: Tensor<1>,
    config: &DpoConfig,
) -> Result<DpoLoss, DpoError> {
    config.validate()?;
    let dims = policy_chosen.dims();
    for (name, t) in [
        ("policy_rejected", &policy_rejected),
        ("ref_chosen", &ref_chosen),
        ("ref_rejected", &ref_rejected),
    ] {
        if t.dims() != dims {
            return Err(DpoError::ShapeMismatch {
                name,
                expected: dims.to_vec(),
                actual: t.dims().to_vec(),
            });
        }
    }
    let n = dims[0];
    if n == 0 {
        return Err(DpoError::Empty {
            name: "policy_chosen",
        });
    }
    let beta = config.beta;
    let chosen_logratio = policy_chosen - ref_chosen;
    let rejected_logratio = policy_rejected - ref_rejected;
    let h = chosen_logratio.clone() - rejected_logratio.clone();

    let per_pair = match config.kind {
        DpoLossKind::Sigmoid => {
            let z = h.mul_scalar(beta);
            let ls = config.label_smoothing;
            let pos = log_sigmoid(z.clone()).mul_scalar(-(1.0 - ls));
            if ls > 0.0 {
                pos - log_sigmoid(z.neg()).mul_scalar(ls)
            } else {
                pos
            }
        }
        DpoLossKind::Ipo => (h - 1.0 / (2.0 * f64::from(beta))).powi_scalar(2),
    };
    let loss = per_pair.mean();

    let chosen_r = chosen_logratio.detach().mul_scalar(beta);
    let rejected_r = rejected_logratio.detach().mul_scalar(beta);
    let margin = chosen_r.clone() - rejected_r.clone();
    let correct = margin
        .zeros_like()
        .mask_fill(margin.clone().greater_elem(0.0), 1.0);
    let diag: Vec<f64> = Tensor::cat(
        vec![
            loss.clone().detach(),
            correct.mean(),
            margin.mean(),
            chosen_r.mean(),
            rejected_r.mean(),
        ],
        0,
    )
    .into_data()
    .iter::<f64>()
    .collect();
    if !diag[0].is_finite() {
        return Err(DpoError::NonFinite {
            what: "DPO loss",
            value: diag[0],
        });
    }
    Ok(DpoLoss {
        loss,
        stats: DpoStats {
            loss: diag[0] as f32,
            reward_accuracy: diag[1] as f32,
            mean_margin: diag[2] as f32,
            chosen_reward: diag[3] as f32,
            rejected_reward: diag[4] as f32,
            pairs: n,
        },
    })
}
