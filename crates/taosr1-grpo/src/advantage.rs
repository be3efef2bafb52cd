//! Group-relative advantages: `(r - mean) / (std + eps)` within each group of rollouts.

use crate::GrpoError;

/// Checks that `eps` is a usable stabiliser (finite and non-negative).
fn check_eps(eps: f32) -> Result<(), GrpoError> {
    if eps.is_finite() && eps >= 0.0 {
        Ok(())
    } else {
        Err(GrpoError::InvalidConfig {
            field: "eps",
            value: f64::from(eps),
            reason: "must be finite and >= 0",
        })
    }
}

/// Mean and population standard deviation of a non-empty, finite slice, in `f64`.
///
/// Returns a standard deviation of exactly `0.0` when all values are equal (a plain
/// two-pass computation can leave a rounding residue such as `1e-17`).
pub(crate) fn mean_and_std(values: &[f32]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let first = values[0];
    if values.iter().all(|&v| v == first) {
        return (f64::from(first), 0.0);
    }
    let var = values
        .iter()
        .map(|&v| {
            let d = f64::from(v) - mean;
            d * d
        })
        .sum::<f64>()
        / n;
    (mean, var.sqrt())
}

/// Group-relative advantages of one group of rollouts for the same prompt.
///
/// `A_i = (r_i - mean(r)) / (std(r) + eps)` with the **population** standard deviation
/// (divide by `n`, as in GRPO). Arithmetic is done in `f64`.
///
/// **Zero-variance groups** (all rewards equal, e.g. every rollout correct) get all-zero
/// advantages, whatever `eps` is (even `0.0`): such a group carries no learning signal.
///
/// # Errors
/// * [`GrpoError::EmptyGroup`] if `rewards` is empty;
/// * [`GrpoError::NonFiniteReward`] if a reward is NaN or infinite;
/// * [`GrpoError::InvalidConfig`] if `eps` is negative or not finite.
///
/// # Example
/// ```
/// use taosr1_grpo::group_advantages;
///
/// // mean 0.5, population std 0.5 -> advantages +-1
/// let adv = group_advantages(&[1.0, 0.0, 1.0, 0.0], 0.0).unwrap();
/// assert_eq!(adv, vec![1.0, -1.0, 1.0, -1.0]);
///
/// // a solved group carries no signal
/// assert_eq!(group_advantages(&[1.0, 1.0, 1.0], 1e-6).unwrap(), vec![0.0; 3]);
/// ```
pub fn group_advantages(rewards: &[f32], eps: f32) -> Result<Vec<f32>, GrpoError> {
    check_eps(eps)?;
    if rewards.is_empty() {
        return Err(GrpoError::EmptyGroup);
    }
    if let Some((index, &value)) = rewards.iter().enumerate().find(|(_, r)| !r.is_finite()) {
        return Err(GrpoError::NonFiniteReward { index, value });
    }
    let (mean, std) = mean_and_std(rewards);
    if std == 0.0 {
        return Ok(vec![0.0; rewards.len()]);
    }
    let denom = std + f64::from(eps);
    Ok(rewards
        .iter()
        .map(|&r| ((f64::from(r) - mean) / denom) as f32)
        .collect())
}

/// [`group_advantages`] over a flat batch laid out as consecutive groups of `group_size`
/// rewards (the usual `[prompt0 rollouts.., prompt1 rollouts.., ..]` layout of a GRPO batch).
///
/// The result has the same layout as `rewards`, so it can be turned straight into the
/// `advantages` tensor of [`grpo_loss`](crate::grpo_loss).
///
/// # Errors
/// * [`GrpoError::EmptyGroup`] if `rewards` is empty;
/// * [`GrpoError::InvalidConfig`] if `group_size == 0` or `eps` is invalid;
/// * [`GrpoError::GroupSizeMismatch`] if `rewards.len()` is not a multiple of `group_size`;
/// * [`GrpoError::NonFiniteReward`] with the index into the flat slice.
///
/// # Example
/// ```
/// use taosr1_grpo::group_advantages_batched;
///
/// let adv = group_advantages_batched(&[1.0, 0.0, 5.0, 5.0], 2, 0.0).unwrap();
/// assert_eq!(adv, vec![1.0, -1.0, 0.0, 0.0]);
/// ```
pub fn group_advantages_batched(
    rewards: &[f32],
    group_size: usize,
    eps: f32,
) -> Result<Vec<f32>, GrpoError> {
    check_eps(eps)?;
    if group_size == 0 {
        return Err(GrpoError::InvalidConfig {
            field: "group_size",
            value: 0.0,
            reason: "must be at least 1",
        });
    }
    if rewards.is_empty() {
        return Err(GrpoError::EmptyGroup);
    }
    if !rewards.len().is_multiple_of(group_size) {
        return Err(GrpoError::GroupSizeMismatch {
            len: rewards.len(),
            group_size,
        });
    }
    let mut out = Vec::with_capacity(rewards.len());
    for (g, chunk) in rewards.chunks(group_size).enumerate() {
        let adv = group_advantages(chunk, eps).map_err(|e| match e {
            GrpoError::NonFiniteReward { index, value } => GrpoError::NonFiniteReward {
                index: g * group_size + index,
                value,
            },
            other => other,
        })?;
        out.extend(adv);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    #[test]
    fn hand_computed() {
        // rewards 0, 1, 2: mean 1, population var (1 + 0 + 1) / 3 = 2/3, std 0.8164966
        let adv = group_advantages(&[0.0, 1.0, 2.0], 0.0).unwrap();
        assert_abs_diff_eq!(adv[0], -1.224_744_9, epsilon = 1e-6);
        assert_abs_diff_eq!(adv[1], 0.0, epsilon = 1e-6);
        assert_abs_diff_eq!(adv[2], 1.224_744_9, epsilon = 1e-6);
        // eps enters the denominator: 1 / (0.8164966 + 0.1) = 1 / 0.9164966 = 1.0911115
        let adv = group_advantages(&[0.0, 1.0, 2.0], 0.1).unwrap();
        assert_abs_diff_eq!(adv[2], 1.091_111_5, epsilon = 1e-6);
    }

    #[test]
    fn zero_variance_is_zero_even_without_eps() {
        assert_eq!(
            group_advantages(&[0.1, 0.1, 0.1], 0.0).unwrap(),
            vec![0.0; 3]
        );
        assert_eq!(group_advantages(&[7.0], 0.0).unwrap(), vec![0.0]);
    }

    #[test]
    fn errors() {
        assert!(matches!(
            group_advantages(&[1.0, f32::NAN], 0.0),
            Err(GrpoError::NonFiniteReward { index: 1, .. })
        ));
        assert!(matches!(
            group_advantages(&[1.0], -1.0),
            Err(GrpoError::InvalidConfig { field: "eps", .. })
        ));
        assert!(matches!(
            group_advantages_batched(&[1.0, 2.0, 3.0], 2, 0.0),
            Err(GrpoError::GroupSizeMismatch {
                len: 3,
                group_size: 2
            })
        ));
        assert!(matches!(
            group_advantages_batched(&[1.0, 2.0, 3.0, f32::INFINITY], 2, 0.0),
            Err(GrpoError::NonFiniteReward { index: 3, .. })
        ));
        assert!(matches!(
            group_advantages_batched(&[], 2, 0.0),
            Err(GrpoError::EmptyGroup)
        ));
        assert!(matches!(
            group_advantages_batched(&[1.0], 0, 0.0),
            Err(GrpoError::InvalidConfig {
                field: "group_size",
                ..
            })
        ));
    }
}
