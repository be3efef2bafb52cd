//! The GRPO objective: clipped importance-ratio surrogate with a k3 KL penalty to a frozen
//! reference policy.

use burn::config::Config;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::GrpoError;

/// How per-token losses are aggregated into the scalar loss.
///
/// ```
/// use taosr1_grpo::Normalization;
/// assert_eq!(Normalization::default(), Normalization::Token);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Normalization {
    /// Sum over every response token of the batch, divided by the number of response tokens
    /// (DAPO's token-level loss: long responses are not down-weighted).
    #[default]
    Token,
    /// Mean over the response tokens of each sequence, then mean over sequences (the
    /// original GRPO formulation).
    Sequence,
}

/// Hyper-parameters of [`grpo_loss`], a burn [`Config`] (generated `new()`, `with_*`
/// builders, JSON save/load).
///
/// Defaults: `clip_eps_low = clip_eps_high = 0.2`, `kl_beta = 0.04`,
/// [`Normalization::Token`].
///
/// ```
/// use taosr1_grpo::{GrpoConfig, Normalization};
///
/// let cfg = GrpoConfig::new()
///     .with_clip_eps_high(0.28) // DAPO's clip-higher
///     .with_kl_beta(0.0)
///     .with_normalization(Normalization::Sequence);
/// assert!(cfg.validate().is_ok());
/// assert_eq!(cfg.clip_eps_high, 0.28);
/// ```
#[derive(Config, Debug, Copy, PartialEq)]
#[non_exhaustive]
pub struct GrpoConfig {
    /// Lower clip range: the ratio is clipped below at `1 - clip_eps_low`; in `[0, 1)`.
    #[config(default = 0.2)]
    pub clip_eps_low: f32,
    /// Upper clip range: the ratio is clipped above at `1 + clip_eps_high`; `>= 0`.
    #[config(default = 0.2)]
    pub clip_eps_high: f32,
    /// Coefficient β of the KL penalty to the reference policy; `>= 0` (`0` disables it and
    /// `ref_logp` is then ignored by the loss).
    #[config(default = 0.04)]
    pub kl_beta: f32,
    /// Aggregation of per-token losses.
    #[config(default = "Normalization::Token")]
    pub normalization: Normalization,
}

impl Default for GrpoConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl GrpoConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`GrpoError::InvalidConfig`] naming the first bad field.
    ///
    /// ```
    /// use taosr1_grpo::{GrpoConfig, GrpoError};
    /// let err = GrpoConfig::new().with_clip_eps_low(1.0).validate().unwrap_err();
    /// assert!(matches!(err, GrpoError::InvalidConfig { field: "clip_eps_low", .. }));
    /// ```
    pub fn validate(&self) -> Result<(), GrpoError> {
        let bad = |field, value: f32, reason| {
            Err(GrpoError::InvalidConfig {
                field,
                value: f64::from(value),
                reason,
            })
        };
        if !(self.clip_eps_low.is_finite() && (0.0..1.0).contains(&self.clip_eps_low)) {
            return bad("clip_eps_low", self.clip_eps_low, "must be in [0, 1)");
        }
        if !(self.clip_eps_high.is_finite() && self.clip_eps_high >= 0.0) {
            return bad(
                "clip_eps_high",
                self.clip_eps_high,
                "must be finite and >= 0",
            );
        }
        if !(self.kl_beta.is_finite() && self.kl_beta >= 0.0) {
            return bad("kl_beta", self.kl_beta, "must be finite and >= 0");
        }
        Ok(())
    }
}

/// Detached scalar diagnostics of a GRPO loss evaluation (all means are over response
/// tokens).
///
/// ```
/// let s = taosr1_grpo::GrpoStats::default();
/// assert_eq!(s.response_tokens, 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GrpoStats {
    /// Value of the loss.
    pub loss: f32,
    /// Mean k3 KL estimate `exp(ref - logp) - (ref - logp) - 1` (reported even when
    /// `kl_beta == 0`).
    pub mean_kl: f32,
    /// Fraction of response tokens whose gradient is cut by clipping
    /// (`ratio < 1 - eps_low` with `A < 0`, or `ratio > 1 + eps_high` with `A > 0`).
    pub clip_fraction: f32,
    /// Mean importance ratio `exp(logp - old_logp)`.
    pub mean_ratio: f32,
    /// Number of response tokens (mask entries equal to 1).
    pub response_tokens: usize,
    /// Number of sequences in the batch.
    pub sequences: usize,
}

/// Output of [`grpo_loss`]: the differentiable scalar loss and detached diagnostics.
///
/// ```
/// use burn::tensor::Tensor;
/// use taosr1_grpo::{grpo_loss, GrpoConfig, GrpoLoss};
///
/// let dev = Default::default();
/// let lp = Tensor::<2>::from_floats([[0.0, -0.5]], &dev);
/// let mask = Tensor::<2>::from_floats([[0.0, 1.0]], &dev);
/// let adv = Tensor::<1>::from_floats([-2.0], &dev);
/// let out: GrpoLoss = grpo_loss(lp.clone(), lp.clone(), lp, adv, mask, &GrpoConfig::default()).unwrap();
/// assert_eq!(out.loss.dims(), [1]);
/// assert!((out.stats.loss - 2.0).abs() < 1e-6);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GrpoLoss {
    /// Scalar loss, shape `[1]`; call `.backward()` on it (autodiff backends).
    pub loss: Tensor<1>,
    /// Diagnostics (plain numbers, no graph attached).
    pub stats: GrpoStats,
}

/// Reads a tensor to the host as `f64` values, whatever its float precision.
pub(crate) fn host_values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().iter::<f64>().collect()
}

fn check_shape<const D: usize>(
    name: &'static str,
    expected: [usize; D],
    actual: [usize; D],
) -> Result<(), GrpoError> {
    if expected == actual {
        Ok(())
    } else {
        Err(GrpoError::ShapeMismatch {
            name,
            expected: expected.to_vec(),
            actual: actual.to_vec(),
        })
    }
}

/// Validates a 0/1 mask given as host values of shape `[batch, seq]` and returns the number
/// of response tokens per row.
pub(crate) fn mask_counts(
    values: &[f64],
    batch: usize,
    seq: usize,
) -> Result<Vec<usize>, GrpoError> {
    let mut counts = vec![0usize; batch];
    for (i, &v) in values.iter().enumerate() {
        if v == 1.0 {
            counts[i / seq] += 1;
        } else if v != 0.0 {
            return Err(GrpoError::InvalidMask {
                row: i / seq,
                col: i % seq,
                value: v as f32,
            });
        }
    }
    Ok(counts)
}

/// The GRPO loss on per-token log-probabilities.
///
/// All 2-D inputs have shape `[batch, seq]`; `advantages` has shape `[batch]` (one
/// group-relative advantage per sequence, see [`group_advantages_batched`](crate::group_advantages_batched)).
/// `mask` is `1.0` on response tokens and `0.0` elsewhere (prompt, padding, position 0).
/// Only `logp` needs to carry gradients; `old_logp` (the sampling policy) and `ref_logp`
/// (the frozen reference) are used as constants — pass detached tensors.
///
/// Per response token, with `r = exp(logp - old_logp)` and `d = ref_logp - logp`:
///
/// ```text
/// surrogate = min(r·A, clip(r, 1 - eps_low, 1 + eps_high)·A)
/// kl        = exp(d) - d - 1                       (k3 estimator, >= 0)
/// loss_tok  = -(surrogate - beta·kl)
/// ```
///
/// aggregated by [`Normalization`]. Entries outside the mask never influence the result,
/// even if they are NaN or infinite.
///
/// Validation reads `mask` and `advantages` back to the host, and the diagnostics cost one
/// more small read (4 scalars): one device synchronisation per call.
///
/// # Errors
/// * [`GrpoError::InvalidConfig`] for a bad `config`;
/// * [`GrpoError::ShapeMismatch`] when a shape differs from `logp`'s / `[batch]`;
/// * [`GrpoError::EmptyBatch`] when `batch` or `seq` is 0;
/// * [`GrpoError::InvalidMask`] for mask entries other than 0/1;
/// * [`GrpoError::EmptyMask`] when the batch (Token) or a sequence (Sequence) has no
///   response token;
/// * [`GrpoError::NonFiniteAdvantage`] for a NaN/infinite advantage;
/// * [`GrpoError::NonFinite`] when the loss comes out NaN/infinite (NaN or `-inf`
///   log-probabilities on response tokens).
///
/// # Example
/// ```
/// use burn::tensor::Tensor;
/// use taosr1_grpo::{grpo_loss, GrpoConfig};
///
/// let dev = Default::default();
/// let logp = Tensor::<2>::from_floats([[0.0, -1.0, -2.0]], &dev);
/// let mask = Tensor::<2>::from_floats([[0.0, 1.0, 1.0]], &dev);
/// let adv = Tensor::<1>::from_floats([1.0], &dev);
/// // on-policy, reference = policy: ratio 1, KL 0, loss = -A
/// let out = grpo_loss(logp.clone(), logp.clone(), logp, adv, mask, &GrpoConfig::default()).unwrap();
/// assert!((out.stats.loss + 1.0).abs() < 1e-6);
/// assert_eq!(out.stats.response_tokens, 2);
/// assert_eq!(out.stats.clip_fraction, 0.0);
/// ```
pub fn grpo_loss(
    logp: Tensor<2>,
    old_logp: Tensor<2>,
    ref_logp: Tensor<2>,
    advantages: Tensor<1>,
    mask: Tensor<2>,
    config: &GrpoConfig,
) -> Result<GrpoLoss, GrpoError> {
    config.validate()?;
    let dims = logp.dims();
    let [batch, seq] = dims;
    check_shape("old_logp", dims, old_logp.dims())?;
    check_shape("ref_logp", dims, ref_logp.dims())?;
    check_shape("mask", dims, mask.dims())?;
    check_shape("advantages", [batch], advantages.dims())?;
    if batch == 0 || seq == 0 {
        return Err(GrpoError::EmptyBatch {
            name: "logp",
            shape: dims.to_vec(),
        });
    }

    let counts = mask_counts(&host_values(mask.clone()), batch, seq)?;
    let total: usize = counts.iter().sum();
    match config.normalization {
        Normalization::Token if total == 0 => return Err(GrpoError::EmptyMask { sequence: None }),
        Normalization::Sequence => {
            if let Some(row) = counts.iter().position(|&c| c == 0) {
                return Err(GrpoError::EmptyMask {
                    sequence: Some(row),
                });
            }
        }
        _ => {}
    }
    if let Some((index, &value)) = host_values(advantages.clone())
        .iter()
        .enumerate()
        .find(|(_, a)| !a.is_finite())
    {
        return Err(GrpoError::NonFiniteAdvantage {
            index,
            value: value as f32,
        });
    }

    let outside = mask.clone().lower_elem(0.5);
    let lo = 1.0 - config.clip_eps_low;
    let hi = 1.0 + config.clip_eps_high;

    // Importance ratio; masked-out entries are forced to log-ratio 0 so that garbage there
    // (padding, NaN) can neither poison the value nor the gradient.
    let log_ratio = (logp.clone() - old_logp).mask_fill(outside.clone(), 0.0);
    let ratio = log_ratio.exp();
    let adv = advantages.unsqueeze_dim::<2>(1).expand([batch, seq]);
    let unclipped = ratio.clone() * adv.clone();
    let clipped = ratio.clone().clamp(lo, hi) * adv.clone();
    let surrogate = unclipped.min_pair(clipped);

    // k3 estimator of KL(pi || ref).
    let d = (ref_logp - logp).mask_fill(outside, 0.0);
    let kl = d.clone().exp() - d - 1.0;

    let objective = if config.kl_beta > 0.0 {
        surrogate - kl.clone().mul_scalar(config.kl_beta)
    } else {
        surrogate
    };
    let token_loss = objective.neg() * mask.clone();
    let loss = match config.normalization {
        Normalization::Token => token_loss.sum().div_scalar(total as f64),
        Normalization::Sequence => {
            let per_seq = token_loss.sum_dim(1).squeeze_dim::<1>(1)
                / mask.clone().sum_dim(1).squeeze_dim::<1>(1);
            per_seq.mean()
        }
    };

    // Diagnostics, reduced on the device and read back in one transfer.
    let ratio_d = ratio.detach();
    // Indicator of clipped tokens, built with `mask_fill` so it keeps the inputs' dtype.
    let clipped_low = ratio_d
        .clone()
        .lower_elem(lo)
        .bool_and(adv.clone().lower_elem(0.0));
    let clipped_high = ratio_d
        .clone()
        .greater_elem(hi)
        .bool_and(adv.greater_elem(0.0));
    let clipped_ind = mask
        .zeros_like()
        .mask_fill(clipped_low.bool_or(clipped_high), 1.0);
    let diag = Tensor::cat(
        vec![
            loss.clone().detach(),
            (ratio_d * mask.clone()).sum(),
            (kl.detach() * mask.clone()).sum(),
            (clipped_ind * mask).sum(),
        ],
        0,
    );
    let diag = host_values(diag);
    if !diag[0].is_finite() {
        return Err(GrpoError::NonFinite {
            what: "GRPO loss",
            value: diag[0],
        });
    }
    let n = total.max(1) as f64;
    Ok(GrpoLoss {
        loss,
        stats: GrpoStats {
            loss: diag[0] as f32,
            mean_ratio: (diag[1] / n) as f32,
            mean_kl: (diag[2] / n) as f32,
            clip_fraction: (diag[3] / n) as f32,
            response_tokens: total,
            sequences: batch,
        },
    })
}
