//! Hand-computed values, stability and gradient checks for `dpo_loss`.

use approx::assert_abs_diff_eq;
use burn::tensor::{DType, Device, Tensor, TensorData};
use taosr1_dpo::{dpo_loss, sequence_logprob, DpoConfig, DpoError, DpoLossKind};

/// The CPU device; with `ad`, autodiff enabled on it.
fn device(ad: bool) -> Device {
    let d = Device::flex();
    if ad {
        d.autodiff()
    } else {
        d
    }
}

fn t(v: &[f64]) -> Tensor<1> {
    t_on(false, v)
}

fn t_on(ad: bool, v: &[f64]) -> Tensor<1> {
    // Explicit dtype: burn keys the default float dtype by device, and NdArray<f32> and
    // NdArray<f64> share the CPU device within one test process.
    let dev = device(ad);
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), (&dev, DType::F64))
}

// Two pairs, beta = 0.5:
//   pair 0: pi_c = -1, pi_r = -3, ref_c = -2, ref_r = -2  -> h = (-1+2) - (-3+2) = 2,    z = beta*h = 1
//   pair 1: pi_c = -4, pi_r = -2, ref_c = -3, ref_r = -2.5 -> h = (-4+3) - (-2+2.5) = -1.5, z = -0.75
const PC: [f64; 2] = [-1.0, -4.0];
const PR: [f64; 2] = [-3.0, -2.0];
const RC: [f64; 2] = [-2.0, -3.0];
const RR: [f64; 2] = [-2.0, -2.5];
const BETA: f32 = 0.5;

fn run(pc: Tensor<1>, cfg: DpoConfig) -> Result<taosr1_dpo::DpoLoss, DpoError> {
    dpo_loss(pc, t(&PR), t(&RC), t(&RR), &cfg)
}

#[test]
fn sigmoid_hand_computed() {
    // -log σ(z) = ln(1 + e^-z):
    //   pair 0: ln(1 + e^-1)   = ln 1.3678794 = 0.3132617
    //   pair 1: ln(1 + e^0.75) = ln 3.1170000 = 1.1368710
    //   mean = 0.7250663
    let out = run(t(&PC), DpoConfig::default().with_beta(BETA)).unwrap();
    assert_abs_diff_eq!(out.stats.loss, 0.725_066_3, epsilon = 1e-6);
    assert_abs_diff_eq!(out.loss.into_scalar::<f64>(), 0.725_066_3, epsilon = 1e-6);
    // implicit rewards beta*(pi - ref): chosen 0.5, -0.5 (mean 0); rejected -0.5, 0.25
    // (mean -0.125); margins 1, -0.75 (mean 0.125); accuracy 1/2
    assert_abs_diff_eq!(out.stats.chosen_reward, 0.0, epsilon = 1e-6);
    assert_abs_diff_eq!(out.stats.rejected_reward, -0.125, epsilon = 1e-6);
    assert_abs_diff_eq!(out.stats.mean_margin, 0.125, epsilon = 1e-6);
    assert_abs_diff_eq!(out.stats.reward_accuracy, 0.5, epsilon = 1e-6);
    assert_eq!(out.stats.pairs, 2);
}

#[test]
fn label_smoothing_hand_computed() {
    // ls = 0.2: loss = 0.8 * (-log σ(z)) + 0.2 * (-log σ(-z)), and -log σ(-z) = z - log σ(z):
    //   pair 0: 0.8 * 0.3132617 + 0.2 * (1 + 0.3132617)     = 0.2506094 + 0.2626523 = 0.5132617
    //   pair 1: 0.8 * 1.1368710 + 0.2 * (-0.75 + 1.1368710) = 0.9094968 + 0.0773742 = 0.9868710
    //   mean = 0.7500663
    let cfg = DpoConfig::default()
        .with_beta(BETA)
        .with_label_smoothing(0.2);
    let out = run(t(&PC), cfg).unwrap();
    assert_abs_diff_eq!(out.stats.loss, 0.750_066_3, epsilon = 1e-6);
}

#[test]
fn ipo_hand_computed() {
    // 1 / (2 beta) = 1: pair 0 (2 - 1)^2 = 1, pair 1 (-1.5 - 1)^2 = 6.25, mean 3.625
    let cfg = DpoConfig::default()
        .with_beta(BETA)
        .with_kind(DpoLossKind::Ipo);
    let out = run(t(&PC), cfg).unwrap();
    assert_abs_diff_eq!(out.stats.loss, 3.625, epsilon = 1e-5);
}

#[test]
fn stable_for_large_margins() {
    // beta = 1, h = +-100: loss ln(1 + e^-100) ~ 0 and ln(1 + e^100) ~ 100, no NaN/inf
    let z = [0.0];
    for (h, want, want_grad) in [(100.0, 0.0, 0.0), (-100.0, 100.0, -1.0)] {
        let pc = t_on(true, &[h]).require_grad();
        let out = dpo_loss(
            pc.clone(),
            t(&z),
            t(&z),
            t(&z),
            &DpoConfig::default().with_beta(1.0),
        )
        .unwrap();
        assert_abs_diff_eq!(out.stats.loss, want, epsilon = 1e-4);
        let g: Vec<f32> = pc
            .grad(&out.loss.backward())
            .unwrap()
            .into_data()
            .try_to_vec_as()
            .unwrap();
        assert!(g[0].is_finite());
        assert_abs_diff_eq!(g[0], want_grad, epsilon = 1e-6);
        // label smoothing involves log σ(-z) as well
        let cfg = DpoConfig::default()
            .with_beta(1.0)
            .with_label_smoothing(0.1);
        let out = dpo_loss(t(&[h]), t(&z), t(&z), t(&z), &cfg).unwrap();
        assert!(out.stats.loss.is_finite());
    }
}

/// dL/dpi_c for the example: sigmoid L = mean(-(1-ls) log σ(z) - ls log σ(-z)), z = beta*h
/// => dL/dpi_c = beta * (-(1-ls) σ(-z) + ls σ(z)) / N; IPO => 2 (h - 1/(2 beta)) / N.
fn analytic(kind: DpoLossKind, ls: f64) -> [f64; 2] {
    let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
    let b = f64::from(BETA);
    let mut g = [0.0; 2];
    for i in 0..2 {
        let h = (PC[i] - RC[i]) - (PR[i] - RR[i]);
        g[i] = match kind {
            DpoLossKind::Ipo => 2.0 * (h - 1.0 / (2.0 * b)) / 2.0,
            _ => b * (-(1.0 - ls) * sig(-b * h) + ls * sig(b * h)) / 2.0,
        };
    }
    g
}

#[test]
fn gradient_matches_analytic_and_finite_differences() {
    for (kind, ls) in [
        (DpoLossKind::Sigmoid, 0.0),
        (DpoLossKind::Sigmoid, 0.2),
        (DpoLossKind::Ipo, 0.0),
    ] {
        let cfg = DpoConfig::default()
            .with_beta(BETA)
            .with_kind(kind)
            .with_label_smoothing(ls as f32);
        let pc = t_on(true, &PC).require_grad();
        let pr = t_on(true, &PR).require_grad();
        let out = dpo_loss(pc.clone(), pr.clone(), t(&RC), t(&RR), &cfg).unwrap();
        let grads = out.loss.backward();
        let gc: Vec<f64> = pc
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_to_vec_as()
            .unwrap();
        let gr: Vec<f64> = pr
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_to_vec_as()
            .unwrap();
        let an = analytic(kind, ls);
        let eps = 1e-6;
        for i in 0..2 {
            // scalars (beta, ls) travel as f32 inside burn: ~1e-8 relative error
            assert_abs_diff_eq!(gc[i], an[i], epsilon = 1e-7);
            assert_abs_diff_eq!(gr[i], -an[i], epsilon = 1e-7);
            let mut plus = PC;
            let mut minus = PC;
            plus[i] += eps;
            minus[i] -= eps;
            let f = |v: [f64; 2]| -> f64 { run(t(&v), cfg).unwrap().loss.into_scalar::<f64>() };
            let fd = (f(plus) - f(minus)) / (2.0 * eps);
            assert_abs_diff_eq!(gc[i], fd, epsilon = 1e-7);
        }
    }
}

#[test]
fn gradient_at_zero_margin_is_half_beta() {
    // At initialisation policy == reference, h = 0: dL/dpi_c = -beta * σ(0) / N = -beta / 2.
    let pc = t_on(true, &[-2.0]).require_grad();
    let out = dpo_loss(
        pc.clone(),
        t(&[-2.0]),
        t(&[-2.0]),
        t(&[-2.0]),
        &DpoConfig::default(),
    )
    .unwrap();
    let g: Vec<f64> = pc
        .grad(&out.loss.backward())
        .unwrap()
        .into_data()
        .try_to_vec_as()
        .unwrap();
    assert_abs_diff_eq!(g[0], -0.05, epsilon = 1e-8);
}

#[test]
fn sequence_logprob_sums_response_tokens_and_blocks_nan() {
    let dev = device(true);
    let t2 = |v: Vec<f32>| -> Tensor<2> {
        Tensor::from_data(TensorData::new(v, [2, 3]), (&dev, DType::F32))
    };
    let lp = t2(vec![f32::NAN, -1.0, -2.0, -0.5, -0.25, f32::NEG_INFINITY]).require_grad();
    let mask = t2(vec![0.0, 1.0, 1.0, 1.0, 1.0, 0.0]);
    let seq = sequence_logprob(lp.clone(), mask).unwrap();
    let v: Vec<f32> = seq.clone().into_data().try_to_vec_as().unwrap();
    assert_eq!(v, vec![-3.0, -0.75]);
    let g: Vec<f32> = lp
        .grad(&seq.sum().backward())
        .unwrap()
        .into_data()
        .try_to_vec_as()
        .unwrap();
    assert_eq!(g, vec![0.0, 1.0, 1.0, 1.0, 1.0, 0.0]);
    let bad = Tensor::<2>::zeros([2, 2], &dev);
    assert!(matches!(
        sequence_logprob(Tensor::<2>::zeros([2, 3], &dev), bad),
        Err(DpoError::ShapeMismatch { name: "mask", .. })
    ));
}

#[test]
fn input_errors() {
    let cfg = DpoConfig::default();
    assert!(matches!(
        dpo_loss(t(&PC), t(&[1.0]), t(&RC), t(&RR), &cfg),
        Err(DpoError::ShapeMismatch {
            name: "policy_rejected",
            ..
        })
    ));
    assert!(matches!(
        dpo_loss(t(&[]), t(&[]), t(&[]), t(&[]), &cfg),
        Err(DpoError::Empty { .. })
    ));
    assert!(matches!(
        dpo_loss(t(&[f64::NAN, 0.0]), t(&PR), t(&RC), t(&RR), &cfg),
        Err(DpoError::NonFinite { .. })
    ));
    assert!(matches!(
        dpo_loss(
            t(&PC),
            t(&PR),
            t(&RC),
            t(&RR),
            &cfg.with_label_smoothing(0.5)
        ),
        Err(DpoError::InvalidConfig {
            field: "label_smoothing",
            ..
        })
    ));
    assert!(matches!(
        dpo_loss(t(&PC), t(&PR), t(&RC), t(&RR), &cfg.with_beta(f32::NAN)),
        Err(DpoError::InvalidConfig { field: "beta", .. })
    ));
}
