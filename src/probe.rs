//! Fit the grade tokens' output rows on a frozen model: a linear probe of the label position.
//!
//! Label-first scoring reads `softmax(r_g · h)` over the grade tokens `g`, where `h` is the
//! final hidden state at the label position and `r_g` the grade token's output-embedding row.
//! Those rows are all a frozen model needs to become a relevance classifier, and they are
//! the cheapest part to fit: no backward pass through the body, only one prefill per
//! training row. This is the "linear probe" of LP-FT (Kumar et al., 2022: fit the head on
//! frozen features before fine-tuning); in TaoSR1 terms it is the best the deployed
//! read-out can do on the base model.
//!
//! The features are the logits of a fixed set of `basis` tokens at the label position
//! ([`crate::infer::label_logits`]). They are `W_basis · h`, a linear map of `h`, so a
//! softmax regression `w_g · logits_basis` on them is a linear read-out of `h`, and it is
//! written into the model exactly: `r_g = Σ_k w_gk W_{basis_k}`
//! ([`taosr1_model::Transformer::with_output_rows`]). The deployed model is an ordinary
//! checkpoint, scored by the same one prefill per item.
//!
//! **Only the label position is fitted.** At every other position the new grade rows meet
//! hidden states they were not fitted on, and their logits are not controlled: a probed
//! model scores label-first exactly, but what it writes after the label is not preserved.
//! Fine-tuning from it (LP-FT) fails for that reason: SFT on labels started from the probe
//! at a loss of 150 (7.0 from the base), and validation accuracy fell to 0.09 by step 9
//! (docs/RESULTS.md). The fitted rows had norms of 170–340 against 2.9 for a typical token:
//! the penalty acts on whitened features, so directions where the label position's `h`
//! barely varies get large weights. The other route fits `h` itself: [`hidden_states`]
//! recovers it from the basis logits, and [`fit`] with [`ProbeConfig::whiten`] off puts the
//! penalty on the rows' size (SmolLM2: norms 0.2–0.5, and SFT from it starts at 11.8). It
//! is a weaker read-out on its own (docs/RESULTS.md).
//!
//! ```
//! use taosr1::probe::{fit, ProbeConfig};
//! // two classes, separable on the first feature
//! let x = vec![vec![1.0, 0.2], vec![0.9, -0.1], vec![-1.0, 0.1], vec![-0.8, 0.0]];
//! let y = vec![1, 1, 0, 0];
//! let p = fit(&x, &y, 2, &ProbeConfig::new()).unwrap();
//! assert_eq!(p.predict(&x), y);
//! ```

use burn::config::Config;
use taosr1_model::Transformer;

use crate::Error;

/// How [`fit`] trains the softmax regression.
#[derive(Config, Debug, PartialEq)]
pub struct ProbeConfig {
    /// L2 penalty on the weights, `>= 0`: on the whitened features' weights when
    /// [`whiten`](Self::whiten) is on, on the raw weights otherwise.
    #[config(default = 1e-3)]
    pub l2: f64,
    /// Weight each row by `n / (classes · n_class)`, so every grade counts the same.
    #[config(default = false)]
    pub balanced: bool,
    /// Whiten the features before fitting (see [`fit`]); `false` fits them as they are, with
    /// the penalty on the raw weights: what [`hidden_states`] features need, so that the
    /// penalty is on the size of the output rows themselves.
    #[config(default = true)]
    pub whiten: bool,
    /// Full-batch gradient-descent iterations.
    #[config(default = 300)]
    pub iterations: usize,
    /// Step size as a fraction of the safe step `1 / (c + l2)`, in `(0, 1]`; `c` bounds the
    /// cross-entropy's curvature: 1/2 on whitened features, half the top eigenvalue of the
    /// raw features' second moment otherwise.
    #[config(default = 1.0)]
    pub learning_rate: f64,
}

impl ProbeConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::Input`] naming the bad setting.
    ///
    /// ```
    /// assert!(taosr1::probe::ProbeConfig::new().with_l2(-1.0).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        if !(self.l2 >= 0.0 && self.l2.is_finite()) {
            return Err(Error::Input(format!(
                "probe: l2 must be >= 0, not {}",
                self.l2
            )));
        }
        if self.iterations == 0 {
            return Err(Error::Input("probe: iterations must be at least 1".into()));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 1.0) {
            return Err(Error::Input(format!(
                "probe: learning_rate must be in (0, 1], not {}",
                self.learning_rate
            )));
        }
        Ok(())
    }
}

/// A fitted softmax regression without intercept: class `c`'s logit is `weights[c] · x`.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    /// One row per class, one weight per feature (in the original feature space).
    pub weights: Vec<Vec<f32>>,
    /// The weighted mean cross-entropy on the training rows at the end (penalty excluded).
    pub train_loss: f64,
}

impl Probe {
    /// Class logits of one feature row.
    ///
    /// ```
    /// let p = taosr1::probe::Probe { weights: vec![vec![1.0, 0.0], vec![0.0, 2.0]], train_loss: 0.0 };
    /// assert_eq!(p.logits(&[3.0, 1.0]), vec![3.0, 2.0]);
    /// ```
    pub fn logits(&self, x: &[f32]) -> Vec<f32> {
        self.weights
            .iter()
            .map(|w| w.iter().zip(x).map(|(a, b)| a * b).sum())
            .collect()
    }

    /// The argmax class of every row.
    ///
    /// ```
    /// let p = taosr1::probe::Probe { weights: vec![vec![1.0], vec![-1.0]], train_loss: 0.0 };
    /// assert_eq!(p.predict(&[vec![2.0], vec![-2.0]]), vec![0, 1]);
    /// ```
    pub fn predict(&self, rows: &[Vec<f32>]) -> Vec<usize> {
        rows.iter()
            .map(|x| {
                let z = self.logits(x);
                (0..z.len()).fold(0, |b, c| if z[c] > z[b] { c } else { b })
            })
            .collect()
    }
}

/// Fit a softmax regression without intercept on `features` (rows of equal length) for
/// `gold` classes `0..classes`: weighted mean cross-entropy plus `l2/2 · |W|²`, minimised by
/// full-batch Nesterov gradient descent from zero. The objective is convex.
///
/// With [`ProbeConfig::whiten`] off, the features are used as they are, the penalty is on the
/// raw weights, and the step is set by the top eigenvalue of their second moment (so weak
/// directions move slowly, as in early-stopped ridge). Otherwise (the default) the features
/// are whitened first: scaled to unit root-mean-square per column, then
/// multiplied by `L⁻¹` where `L Lᵀ` is their (uncentred, row-weighted) second moment plus
/// `1e-4 · I`. Label
/// logits of different tokens are strongly correlated (they are all `W_v · h` for the same
/// `h`), and without this a first-order method barely moves along the weak directions. The
/// L2 penalty is on the weights of the whitened features; [`Probe::weights`] are mapped back
/// to the original features (`Lᵀ w` solved for, then the scale folded in), so
/// `Probe::logits` takes the raw rows. Not centring keeps the mean direction in the model:
/// it is the only intercept a read-out of `h` without a bias can have.
///
/// # Errors
/// [`Error::Input`] for no rows, rows of different lengths, a non-finite feature, a gold
/// class `>= classes`, fewer than 2 classes, or a bad config.
pub fn fit(
    features: &[Vec<f32>],
    gold: &[usize],
    classes: usize,
    cfg: &ProbeConfig,
) -> Result<Probe, Error> {
    cfg.validate()?;
    let (n, k) = shape(features)?;
    if gold.len() != n {
        return Err(Error::Input(format!(
            "probe: {n} rows but {} labels",
            gold.len()
        )));
    }
    if classes < 2 {
        return Err(Error::Input("probe: at least 2 classes".into()));
    }
    if let Some((i, g)) = gold.iter().enumerate().find(|(_, g)| **g >= classes) {
        return Err(Error::Input(format!(
            "probe: row {i} has class {g} of {classes}"
        )));
    }
    let mut counts = vec![0usize; classes];
    for &g in gold {
        counts[g] += 1;
    }
    let row_weight: Vec<f64> = gold
        .iter()
        .map(|&g| {
            if cfg.balanced {
                n as f64 / (classes as f64 * counts[g] as f64)
            } else {
                1.0
            }
        })
        .collect();
    let total: f64 = row_weight.iter().sum();
    // unit root-mean-square columns when whitening; the raw features otherwise
    let scale: Vec<f64> = (0..k)
        .map(|j| {
            if !cfg.whiten {
                return 1.0;
            }
            let ms = features
                .iter()
                .map(|r| f64::from(r[j]).powi(2))
                .sum::<f64>()
                / n as f64;
            if ms > 0.0 {
                1.0 / ms.sqrt()
            } else {
                0.0
            }
        })
        .collect();
    let scaled: Vec<Vec<f64>> = features
        .iter()
        .map(|r| {
            r.iter()
                .zip(&scale)
                .map(|(v, s)| f64::from(*v) * s)
                .collect()
        })
        .collect();
    // the row-weighted second moment E[x xᵀ] (lower triangle)
    let mut moment = vec![0.0f64; k * k];
    for (r, rw) in scaled.iter().zip(&row_weight) {
        for a in 0..k {
            let ra = r[a] * rw;
            for b in 0..=a {
                moment[a * k + b] += ra * r[b];
            }
        }
    }
    for a in 0..k {
        for b in 0..=a {
            moment[a * k + b] /= total;
        }
    }
    // whitening: L Lᵀ = E[x xᵀ] + 1e-4 I, z = L⁻¹ x; the cross-entropy's curvature is then
    // at most 1/2 per direction. Raw features: at most 1/2 of E[x xᵀ]'s top eigenvalue.
    let (x, chol, curvature) = if cfg.whiten {
        for a in 0..k {
            moment[a * k + a] += 1e-4;
        }
        let chol = cholesky(&moment, k)?;
        let x: Vec<Vec<f64>> = scaled.iter().map(|r| forward_solve(&chol, k, r)).collect();
        (x, Some(chol), 0.5)
    } else {
        (scaled, None, 0.5 * 1.05 * top_eigenvalue(&moment, k))
    };
    // steps of `learning_rate / (curvature + l2)` are safe for learning_rate <= 1
    let step = cfg.learning_rate / (curvature + cfg.l2);
    let mut w = vec![vec![0.0f64; k]; classes];
    let mut prev = w.clone();
    for t in 1..=cfg.iterations {
        // Nesterov: the gradient at the look-ahead point
        let momentum = (t as f64 - 1.0) / (t as f64 + 2.0);
        let ahead: Vec<Vec<f64>> = w
            .iter()
            .zip(&prev)
            .map(|(a, p)| {
                a.iter()
                    .zip(p)
                    .map(|(x, y)| x + momentum * (x - y))
                    .collect()
            })
            .collect();
        let (_, grad) = objective(&x, gold, &row_weight, total, &ahead, cfg.l2);
        prev = std::mem::replace(
            &mut w,
            ahead
                .iter()
                .zip(&grad)
                .map(|(a, g)| a.iter().zip(g).map(|(x, d)| x - step * d).collect())
                .collect(),
        );
    }
    let (ce, _) = objective(&x, gold, &row_weight, total, &w, 0.0);
    Ok(Probe {
        weights: w
            .iter()
            .map(|wz| {
                let wx = match &chol {
                    Some(chol) => backward_solve(chol, k, wz),
                    None => wz.clone(),
                };
                wx.iter().zip(&scale).map(|(a, s)| (a * s) as f32).collect()
            })
            .collect(),
        train_loss: ce,
    })
}

/// The largest eigenvalue of the symmetric positive semi-definite `k × k` matrix whose lower
/// triangle `a` holds, by power iteration (from the all-ones vector, 100 rounds).
fn top_eigenvalue(a: &[f64], k: usize) -> f64 {
    let at = |i: usize, j: usize| if j <= i { a[i * k + j] } else { a[j * k + i] };
    let mut v = vec![1.0 / (k as f64).sqrt(); k];
    let mut value = 0.0;
    for _ in 0..100 {
        let next: Vec<f64> = (0..k)
            .map(|i| (0..k).map(|j| at(i, j) * v[j]).sum())
            .collect();
        let norm = next.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 {
            return 0.0;
        }
        value = norm;
        v = next.into_iter().map(|x| x / norm).collect();
    }
    value
}

/// The final hidden states `h` behind label-position logits of `basis` tokens: the least
/// squares solution of `rows · h = logits` (`rows`: the basis tokens' output rows,
/// [`Transformer::output_rows`], at least as many as the hidden size). Exact up to float
/// rounding when the rows span the hidden space, which is what makes a probe fitted on them
/// a probe of `h` itself: its weights are output rows (`ProbeConfig::whiten = false` puts
/// the penalty on their size).
///
/// # Errors
/// [`Error::Input`] when the rows do not span the hidden space (fewer rows than the hidden
/// size, or dependent ones), or a logits row's length is not the number of basis rows.
///
/// ```
/// use taosr1::probe::hidden_states;
/// // two basis rows in a 2-d hidden space; h = (1, -2) gives logits (1·1 + 0, 1 - 2) = (1, -1)
/// let rows = vec![vec![1.0, 0.0], vec![1.0, 1.0], vec![0.0, 2.0]];
/// let h = hidden_states(&rows, &[vec![1.0, -1.0, -4.0]]).unwrap();
/// assert!((h[0][0] - 1.0).abs() < 1e-5 && (h[0][1] + 2.0).abs() < 1e-5);
/// ```
pub fn hidden_states(rows: &[Vec<f32>], logits: &[Vec<f32>]) -> Result<Vec<Vec<f32>>, Error> {
    let k = rows.len();
    let d = rows.first().map_or(0, Vec::len);
    if k < d || d == 0 {
        return Err(Error::Input(format!(
            "probe: {k} basis rows cannot span a hidden space of {d}"
        )));
    }
    // A = Rᵀ R (lower triangle), then h = A⁻¹ Rᵀ x by its Cholesky factor
    let mut a = vec![0.0f64; d * d];
    for r in rows {
        for i in 0..d {
            let ri = f64::from(r[i]);
            for j in 0..=i {
                a[i * d + j] += ri * f64::from(r[j]);
            }
        }
    }
    let chol = cholesky(&a, d)
        .map_err(|_| Error::Input("probe: the basis rows do not span the hidden space".into()))?;
    logits
        .iter()
        .enumerate()
        .map(|(n, x)| {
            if x.len() != k {
                return Err(Error::Input(format!(
                    "probe: logits row {n} has {} values for {k} basis rows",
                    x.len()
                )));
            }
            let mut b = vec![0.0f64; d];
            for (r, &xv) in rows.iter().zip(x) {
                for (bj, rj) in b.iter_mut().zip(r) {
                    *bj += f64::from(*rj) * f64::from(xv);
                }
            }
            let y = forward_solve(&chol, d, &b);
            Ok(backward_solve(&chol, d, &y)
                .into_iter()
                .map(|v| v as f32)
                .collect())
        })
        .collect()
}

/// The lower Cholesky factor of the symmetric positive-definite `k × k` matrix whose lower
/// triangle `a` holds (row-major).
fn cholesky(a: &[f64], k: usize) -> Result<Vec<f64>, Error> {
    let mut l = vec![0.0f64; k * k];
    for i in 0..k {
        for j in 0..=i {
            let mut sum = a[i * k + j];
            for p in 0..j {
                sum -= l[i * k + p] * l[j * k + p];
            }
            if i == j {
                if sum <= 0.0 || !sum.is_finite() {
                    return Err(Error::Input(
                        "probe: the features' second moment is not positive definite".into(),
                    ));
                }
                l[i * k + i] = sum.sqrt();
            } else {
                l[i * k + j] = sum / l[j * k + j];
            }
        }
    }
    Ok(l)
}

/// `L⁻¹ b` for the lower-triangular `L`.
fn forward_solve(l: &[f64], k: usize, b: &[f64]) -> Vec<f64> {
    let mut x = vec![0.0f64; k];
    for i in 0..k {
        let mut sum = b[i];
        for p in 0..i {
            sum -= l[i * k + p] * x[p];
        }
        x[i] = sum / l[i * k + i];
    }
    x
}

/// `L⁻ᵀ b` for the lower-triangular `L`.
fn backward_solve(l: &[f64], k: usize, b: &[f64]) -> Vec<f64> {
    let mut x = vec![0.0f64; k];
    for i in (0..k).rev() {
        let mut sum = b[i];
        for p in i + 1..k {
            sum -= l[p * k + i] * x[p];
        }
        x[i] = sum / l[i * k + i];
    }
    x
}

/// The objective [`fit`] minimises and its gradient, at weights `w` of the scaled features
/// `x`: `Σ_i row_weight_i · CE_i / total + l2/2 · |w|²`.
///
/// ```
/// // one row, two classes, zero weights: the loss is ln 2
/// let (l, g) = taosr1::probe::objective(&[vec![1.0]], &[0], &[1.0], 1.0, &[vec![0.0], vec![0.0]], 0.0);
/// assert!((l - 2f64.ln()).abs() < 1e-12);
/// assert!((g[0][0] + 0.5).abs() < 1e-12 && (g[1][0] - 0.5).abs() < 1e-12);
/// ```
pub fn objective(
    x: &[Vec<f64>],
    gold: &[usize],
    row_weight: &[f64],
    total: f64,
    w: &[Vec<f64>],
    l2: f64,
) -> (f64, Vec<Vec<f64>>) {
    let classes = w.len();
    let k = w.first().map_or(0, Vec::len);
    let mut grad = vec![vec![0.0f64; k]; classes];
    let mut loss = 0.0;
    for ((row, &g), &rw) in x.iter().zip(gold).zip(row_weight) {
        let z: Vec<f64> = w
            .iter()
            .map(|wc| wc.iter().zip(row).map(|(a, b)| a * b).sum())
            .collect();
        let top = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = z.iter().map(|v| (v - top).exp()).sum();
        let log_norm = top + sum.ln();
        loss += rw * (log_norm - z[g]);
        for c in 0..classes {
            let p = (z[c] - log_norm).exp();
            let d = rw * (p - if c == g { 1.0 } else { 0.0 }) / total;
            for (gj, xj) in grad[c].iter_mut().zip(row) {
                *gj += d * xj;
            }
        }
    }
    loss /= total;
    for c in 0..classes {
        for j in 0..k {
            loss += 0.5 * l2 * w[c][j] * w[c][j];
            grad[c][j] += l2 * w[c][j];
        }
    }
    (loss, grad)
}

fn shape(features: &[Vec<f32>]) -> Result<(usize, usize), Error> {
    let k = features
        .first()
        .map(Vec::len)
        .ok_or_else(|| Error::Input("probe: no training rows".into()))?;
    for (i, r) in features.iter().enumerate() {
        if r.len() != k {
            return Err(Error::Input(format!(
                "probe: row {i} has {} features, row 0 has {k}",
                r.len()
            )));
        }
        if r.iter().any(|v| !v.is_finite()) {
            return Err(Error::Input(format!(
                "probe: row {i} has a non-finite feature"
            )));
        }
    }
    Ok((features.len(), k))
}

/// `n` token ids spread evenly over `0..vocab`, skipping `skip` (the grade and tag tokens
/// whose rows the probe replaces): the basis whose logits are the probe's features.
///
/// ```
/// let b = taosr1::probe::basis(100, 4, &[25]);
/// assert_eq!(b, vec![0, 26, 50, 75]);
/// assert_eq!(taosr1::probe::basis(3, 10, &[]), vec![0, 1, 2]);
/// ```
pub fn basis(vocab: usize, n: usize, skip: &[u32]) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::with_capacity(n.min(vocab));
    for i in 0..n.min(vocab) {
        let mut id = (i * vocab / n.min(vocab)) as u32;
        while (skip.contains(&id) || out.contains(&id)) && (id as usize) + 1 < vocab {
            id += 1;
        }
        if !skip.contains(&id) && !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// The probe's features of one label-position logits row: its `basis` entries.
///
/// ```
/// assert_eq!(taosr1::probe::features(&[0.5, 1.5, 2.5], &[2, 0]), vec![2.5, 0.5]);
/// ```
pub fn features(logits: &[f32], basis: &[u32]) -> Vec<f32> {
    basis.iter().map(|&i| logits[i as usize]).collect()
}

/// Write a probe fitted on `basis` logits into `model` as the output rows of `grade_ids`
/// (`r_g = Σ_k w_gk W_{basis_k}`): afterwards the model's grade logits at the label position
/// are exactly the probe's logits (up to float rounding). A tied model is untied
/// ([`Transformer::with_output_rows`]).
///
/// # Errors
/// [`Error::Input`] when the probe has a class count other than `grade_ids.len()` or a
/// feature count other than `basis.len()`; [`Error::Model`] for an id outside the vocabulary.
///
/// ```
/// use taosr1::probe::{apply, Probe};
/// use taosr1_model::{ModelConfig, Transformer};
/// let model = Transformer::new(&ModelConfig::tiny(20), &Default::default()).unwrap();
/// let p = Probe { weights: vec![vec![1.0, 0.0], vec![0.0, 1.0]], train_loss: 0.0 };
/// let new = apply(model.clone(), &[10, 11], &[3, 4], &p).unwrap();
/// // grade token 10's row is now token 3's row
/// assert_eq!(new.output_rows(&[10]).unwrap(), model.output_rows(&[3]).unwrap());
/// ```
pub fn apply(
    model: Transformer,
    grade_ids: &[u32],
    basis: &[u32],
    probe: &Probe,
) -> Result<Transformer, Error> {
    if probe.weights.len() != grade_ids.len()
        || probe.weights.iter().any(|w| w.len() != basis.len())
    {
        return Err(Error::Input(format!(
            "probe: {} classes x {} features do not match {} grade tokens x {} basis tokens",
            probe.weights.len(),
            probe.weights.first().map_or(0, Vec::len),
            grade_ids.len(),
            basis.len()
        )));
    }
    let rows_b = model.output_rows(basis)?;
    let d = rows_b.first().map_or(0, Vec::len);
    let rows: Vec<Vec<f32>> = probe
        .weights
        .iter()
        .map(|w| {
            let mut r = vec![0.0f64; d];
            for (wk, row) in w.iter().zip(&rows_b) {
                for (rj, bj) in r.iter_mut().zip(row) {
                    *rj += f64::from(*wk) * f64::from(*bj);
                }
            }
            r.into_iter().map(|v| v as f32).collect()
        })
        .collect();
    Ok(model.with_output_rows(grade_ids, &rows)?)
}
