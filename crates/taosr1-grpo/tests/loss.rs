//! Hand-computed values and gradient checks for `grpo_loss`.

use approx::assert_abs_diff_eq;
use burn::tensor::{DType, Device, Tensor, TensorData};
use taosr1_grpo::{grpo_loss, GrpoConfig, GrpoError, Normalization};

/// The CPU device; with `ad`, autodiff enabled on it.
fn device(ad: bool) -> Device {
    let d = Device::flex();
    if ad {
        d.autodiff()
    } else {
        d
    }
}

fn t2(v: [[f64; 3]; 2]) -> Tensor<2> {
    t2_on(false, v)
}

fn t2_on(ad: bool, v: [[f64; 3]; 2]) -> Tensor<2> {
    let flat: Vec<f64> = v.iter().flatten().copied().collect();
    // Explicit dtype: burn keys its default float dtype by device, and NdArray<f32> and
    // NdArray<f64> share the CPU device within one test process.
    let dev = device(ad);
    Tensor::from_data(TensorData::new(flat, [2, 3]), (&dev, DType::F64))
}

fn t1(v: &[f64]) -> Tensor<1> {
    t1_on(false, v)
}

fn t1_on(ad: bool, v: &[f64]) -> Tensor<1> {
    let dev = device(ad);
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), (&dev, DType::F64))
}

// The 2x3 example. Row 0 uses every token (A = 1), row 1 masks column 0 (A = -0.5), where
// old/ref hold NaN garbage that must not leak into anything.
const LOGP: [[f64; 3]; 2] = [[-0.3, -1.0, -2.0], [-7.0, -0.5, -3.0]];
const OLD: [[f64; 3]; 2] = [[-0.3, -1.5, -1.9], [f64::NAN, -0.2, -3.0]];
const REF: [[f64; 3]; 2] = [[-0.3, -1.2, -2.3], [f64::NAN, -0.1, -2.5]];
const MASK: [[f64; 3]; 2] = [[1.0, 1.0, 1.0], [0.0, 1.0, 1.0]];
const ADV: [f64; 2] = [1.0, -0.5];
const BETA: f32 = 0.1;

// Hand arithmetic (eps_low = eps_high = 0.2, beta = 0.1):
//
// token  logp-old  r=exp(.)    A     r*A        clip(r)*A  min (surrogate)   d=ref-logp  k3=e^d-d-1
// (0,0)   0.0      1.0         1     1.0        1.0        1.0               0.0         0.0
// (0,1)   0.5      1.6487213   1     1.6487213  1.2        1.2   (clipped)  -0.2         0.8187308+0.2-1 = 0.0187308
// (0,2)  -0.1      0.9048374   1     0.9048374  0.9048374  0.9048374        -0.3         0.7408182+0.3-1 = 0.0408182
// (1,1)  -0.3      0.7408182  -0.5  -0.3704091 -0.4       -0.4   (clipped)   0.4         1.4918247-0.4-1 = 0.0918247
// (1,2)   0.0      1.0        -0.5  -0.5       -0.5       -0.5               0.5         1.6487213-0.5-1 = 0.1487213
//
// objective = surrogate - 0.1 * k3:
//   1.0, 1.19812692, 0.90075558, -0.40918247, -0.51487213      (sum 2.1748279)
// Token:    loss = -2.1748279 / 5 = -0.43496558
// Sequence: row 0 mean 3.0988825 / 3 = 1.03296083, row 1 mean -0.9240546 / 2 = -0.4620273,
//           loss = -(1.03296083 - 0.4620273) / 2 = -0.28546677
// mean k3 = 0.300095 / 5 = 0.060019; clip fraction = 2 / 5; mean ratio = 5.2943769 / 5 = 1.05887538
fn run(logp: Tensor<2>, norm: Normalization) -> Result<taosr1_grpo::GrpoLoss, GrpoError> {
    let cfg = GrpoConfig::default()
        .with_kl_beta(BETA)
        .with_normalization(norm);
    grpo_loss(logp, t2(OLD), t2(REF), t1(&ADV), t2(MASK), &cfg)
}

#[test]
fn hand_computed_token_normalisation() {
    let out = run(t2(LOGP), Normalization::Token).unwrap();
    let loss: f32 = out.loss.into_scalar::<f32>();
    assert_abs_diff_eq!(loss, -0.434_965_58, epsilon = 1e-5);
    assert_abs_diff_eq!(out.stats.loss, -0.434_965_58, epsilon = 1e-5);
    assert_abs_diff_eq!(out.stats.mean_kl, 0.060_019, epsilon = 1e-5);
    assert_abs_diff_eq!(out.stats.clip_fraction, 0.4, epsilon = 1e-6);
    assert_abs_diff_eq!(out.stats.mean_ratio, 1.058_875_4, epsilon = 1e-5);
    assert_eq!(out.stats.response_tokens, 5);
    assert_eq!(out.stats.sequences, 2);
}

#[test]
fn hand_computed_sequence_normalisation() {
    let out = run(t2(LOGP), Normalization::Sequence).unwrap();
    assert_abs_diff_eq!(out.stats.loss, -0.285_466_77, epsilon = 1e-5);
    assert_abs_diff_eq!(out.loss.into_scalar::<f64>(), -0.285_466_77, epsilon = 1e-5);
}

#[test]
fn asymmetric_clip() {
    // With eps_high = 0.7 token (0,1) (r = 1.6487) is no longer clipped:
    // objective sum = 2.1748279 - 1.2 + 1.6487213 = 2.6235492, loss = -0.52470984.
    let cfg = GrpoConfig::default()
        .with_kl_beta(BETA)
        .with_clip_eps_low(0.2)
        .with_clip_eps_high(0.7);
    let out = grpo_loss(t2(LOGP), t2(OLD), t2(REF), t1(&ADV), t2(MASK), &cfg).unwrap();
    assert_abs_diff_eq!(out.stats.loss, -0.524_709_8, epsilon = 1e-5);
    assert_abs_diff_eq!(out.stats.clip_fraction, 0.2, epsilon = 1e-6);
}

/// Analytic d loss / d logp (Token normalisation) for the example: for unclipped tokens
/// d(r·A)/dlogp = r·A, clipped tokens give 0; d k3/dlogp = 1 - e^d; loss = -(obj)/N.
fn analytic_token_grad() -> [[f64; 3]; 2] {
    let mut g = [[0.0; 3]; 2];
    for b in 0..2 {
        for t in 0..3 {
            if MASK[b][t] == 0.0 {
                continue;
            }
            let r = (LOGP[b][t] - OLD[b][t]).exp();
            let a = ADV[b];
            let clipped = (r > 1.2 && a > 0.0) || (r < 0.8 && a < 0.0);
            let dsurr = if clipped { 0.0 } else { r * a };
            let dkl = 1.0 - (REF[b][t] - LOGP[b][t]).exp();
            g[b][t] = -(dsurr - f64::from(BETA) * dkl) / 5.0;
        }
    }
    g
}

fn loss_at(logp: [[f64; 3]; 2], norm: Normalization) -> f64 {
    let out = run(t2(logp), norm).unwrap();
    out.loss.into_scalar::<f64>()
}

#[test]
fn gradient_matches_analytic_and_finite_differences() {
    for norm in [Normalization::Token, Normalization::Sequence] {
        let logp = t2_on(true, LOGP).require_grad();
        let out = run(logp.clone(), norm).unwrap();
        let grads = out.loss.backward();
        let g: Vec<f64> = logp
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_to_vec_as()
            .unwrap();

        let h = 1e-6;
        for b in 0..2 {
            for t in 0..3 {
                let mut plus = LOGP;
                let mut minus = LOGP;
                plus[b][t] += h;
                minus[b][t] -= h;
                let fd = if MASK[b][t] == 0.0 {
                    0.0
                } else {
                    (loss_at(plus, norm) - loss_at(minus, norm)) / (2.0 * h)
                };
                assert_abs_diff_eq!(g[b * 3 + t], fd, epsilon = 1e-7);
            }
        }
        if norm == Normalization::Token {
            let an = analytic_token_grad();
            for b in 0..2 {
                for t in 0..3 {
                    // burn carries scalar operands (beta, 1/N) as f32, hence ~1e-9 error.
                    assert_abs_diff_eq!(g[b * 3 + t], an[b][t], epsilon = 1e-8);
                }
            }
            // Clipped tokens only feel the KL term: -(0 - 0.1*(1 - e^-0.2))/5 = +0.0036254
            assert_abs_diff_eq!(g[1], 0.003_625_384_9, epsilon = 1e-8);
        }
    }
}

#[test]
fn garbage_outside_the_mask_is_ignored() {
    let mut logp = LOGP;
    logp[1][0] = f64::NEG_INFINITY;
    let l = t2_on(true, logp).require_grad();
    let out = run(l.clone(), Normalization::Token).unwrap();
    assert_abs_diff_eq!(out.stats.loss, -0.434_965_58, epsilon = 1e-6);
    let grads = out.loss.backward();
    let g: Vec<f64> = l.grad(&grads).unwrap().into_data().try_to_vec_as().unwrap();
    assert!(g.iter().all(|v| v.is_finite()));
    assert_eq!(g[3], 0.0);
}

#[test]
fn on_policy_equals_minus_mean_advantage_without_kl() {
    // ratio 1 and ref = logp: the loss is -sum(A * mask) / N = -(3*1 + 2*(-0.5)) / 5 = -0.4
    let cfg = GrpoConfig::default();
    let out = grpo_loss(t2(LOGP), t2(LOGP), t2(LOGP), t1(&ADV), t2(MASK), &cfg).unwrap();
    assert_abs_diff_eq!(out.stats.loss, -0.4, epsilon = 1e-6);
    assert_abs_diff_eq!(out.stats.mean_kl, 0.0, epsilon = 1e-7);
    assert_abs_diff_eq!(out.stats.mean_ratio, 1.0, epsilon = 1e-7);
}

#[test]
fn input_errors() {
    let cfg = GrpoConfig::default();
    let dev = device(false);
    let bad = Tensor::<2>::zeros([2, 4], &dev);
    assert!(matches!(
        grpo_loss(t2(LOGP), bad, t2(REF), t1(&ADV), t2(MASK), &cfg),
        Err(GrpoError::ShapeMismatch {
            name: "old_logp",
            ..
        })
    ));
    assert!(matches!(
        grpo_loss(t2(LOGP), t2(OLD), t2(REF), t1(&[1.0]), t2(MASK), &cfg),
        Err(GrpoError::ShapeMismatch {
            name: "advantages",
            ..
        })
    ));
    assert!(matches!(
        grpo_loss(
            t2(LOGP),
            t2(OLD),
            t2(REF),
            t1(&[1.0, f64::NAN]),
            t2(MASK),
            &cfg
        ),
        Err(GrpoError::NonFiniteAdvantage { index: 1, .. })
    ));
    let half = [[1.0, 0.5, 0.0], [0.0, 1.0, 1.0]];
    assert!(matches!(
        grpo_loss(t2(LOGP), t2(OLD), t2(REF), t1(&ADV), t2(half), &cfg),
        Err(GrpoError::InvalidMask { row: 0, col: 1, .. })
    ));
    let one_empty = [[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]];
    // Token mode accepts a sequence without response tokens, Sequence mode does not.
    assert!(grpo_loss(t2(LOGP), t2(OLD), t2(REF), t1(&ADV), t2(one_empty), &cfg).is_ok());
    let seq = cfg.with_normalization(Normalization::Sequence);
    assert!(matches!(
        grpo_loss(t2(LOGP), t2(OLD), t2(REF), t1(&ADV), t2(one_empty), &seq),
        Err(GrpoError::EmptyMask { sequence: Some(1) })
    ));
    assert!(matches!(
        grpo_loss(
            t2(LOGP),
            t2(OLD),
            t2(REF),
            t1(&ADV),
            t2([[0.0; 3]; 2]),
            &cfg
        ),
        Err(GrpoError::EmptyMask { sequence: None })
    ));
    let mut nan = LOGP;
    nan[0][1] = f64::NAN;
    assert!(matches!(
        grpo_loss(t2(nan), t2(OLD), t2(REF), t1(&ADV), t2(MASK), &cfg),
        Err(GrpoError::NonFinite { .. })
    ));
    assert!(matches!(
        grpo_loss(
            t2(LOGP),
            t2(OLD),
            t2(REF),
            t1(&ADV),
            t2(MASK),
            &cfg.with_kl_beta(-1.0)
        ),
        Err(GrpoError::InvalidConfig {
            field: "kl_beta",
            ..
        })
    ));
    let empty = Tensor::<2>::zeros([0, 3], &dev);
    assert!(matches!(
        grpo_loss(
            empty.clone(),
            empty.clone(),
            empty.clone(),
            Tensor::zeros([0], &dev),
            empty,
            &cfg
        ),
        Err(GrpoError::EmptyBatch { .. })
    ));
}
