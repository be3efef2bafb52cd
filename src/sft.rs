//! Stage 1: supervised fine-tuning on (prompt, CoT response) with the next-token loss masked to
//! the response tokens.

use burn::module::AutodiffModule;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use taosr1_model::Transformer;

use crate::codec::{Batch, Codec, Encoded};
use crate::Error;

/// Mean negative log-likelihood of the response tokens of `batch` (prompt and padding masked).
pub fn masked_nll<B: Backend>(model: &Transformer<B>, batch: &Batch<B>) -> Tensor<B, 1> {
    let logp = model.token_logprobs(batch.input_ids.clone());
    let mask = batch.response_mask.clone();
    (logp * mask.clone()).sum().neg() / mask.sum()
}

/// Scalar value of a one-element tensor.
pub fn scalar<B: Backend>(t: Tensor<B, 1>) -> f32 {
    t.into_scalar().elem::<f32>()
}

/// Learning rate at `step` of `total`: linear warm-up over `warmup` steps to `peak`, then cosine
/// decay to 10% of `peak`. Shared by every training stage.
///
/// ```
/// use taosr1::sft::lr_at;
/// assert_eq!(lr_at(0, 100, 10, 1e-3), 1e-4);
/// assert!((lr_at(10, 100, 10, 1e-3) - 1e-3).abs() < 1e-12);
/// assert!((lr_at(100, 100, 10, 1e-3) - 1e-4).abs() < 1e-12);
/// ```
pub fn lr_at(step: usize, total: usize, warmup: usize, peak: f64) -> f64 {
    if step < warmup {
        return peak * (step + 1) as f64 / warmup as f64;
    }
    let span = total.saturating_sub(warmup).max(1) as f64;
    let progress = ((step - warmup) as f64 / span).min(1.0);
    peak * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()))
}

/// SFT hyper-parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SftConfig {
    /// Passes over the training data.
    pub epochs: usize,
    /// Stop after this many optimizer steps (for quick runs), if set.
    pub max_steps: Option<usize>,
    /// Sequences per step.
    pub batch_size: usize,
    /// Peak learning rate (AdamW).
    pub learning_rate: f64,
    /// Warm-up steps.
    pub warmup_steps: usize,
    /// Gradient-norm clip.
    pub grad_clip: f32,
    /// Shuffling seed.
    pub seed: u64,
}

impl Default for SftConfig {
    fn default() -> Self {
        Self {
            epochs: 6,
            max_steps: None,
            batch_size: 16,
            learning_rate: 5e-3,
            warmup_steps: 20,
            grad_clip: 1.0,
            seed: 7,
        }
    }
}

/// What happened at one optimizer step.
#[derive(Clone, Debug, PartialEq)]
pub struct StepLog {
    /// 0-based step.
    pub step: usize,
    /// Total planned steps.
    pub total: usize,
    /// Masked NLL of the step's batch (before the update).
    pub loss: f32,
    /// Learning rate used.
    pub lr: f64,
}

/// Loss curve of a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SftReport {
    /// Loss at every step.
    pub losses: Vec<f32>,
}

impl SftReport {
    /// Mean loss over the first `n` steps.
    pub fn head_mean(&self, n: usize) -> f32 {
        mean(&self.losses[..n.min(self.losses.len())])
    }
    /// Mean loss over the last `n` steps.
    pub fn tail_mean(&self, n: usize) -> f32 {
        mean(&self.losses[self.losses.len().saturating_sub(n)..])
    }
}

fn mean(v: &[f32]) -> f32 {
    if v.is_empty() {
        f32::NAN
    } else {
        v.iter().sum::<f32>() / v.len() as f32
    }
}

/// Fine-tune `model` on `data`; `on_step` sees every step (for progress bars and logs).
pub fn train<B: AutodiffBackend>(
    mut model: Transformer<B>,
    codec: &Codec,
    data: &[Encoded],
    cfg: &SftConfig,
    mut on_step: impl FnMut(&StepLog),
) -> Result<(Transformer<B>, SftReport), Error>
where
    Transformer<B>: AutodiffModule<B>,
{
    if data.is_empty() || cfg.batch_size == 0 {
        return Err(Error::Input(
            "SFT needs data and a positive batch size".into(),
        ));
    }
    let per_epoch = data.len().div_ceil(cfg.batch_size);
    let total = (per_epoch * cfg.epochs).min(cfg.max_steps.unwrap_or(usize::MAX));
    let mut optim = AdamWConfig::new()
        .with_weight_decay(0.01)
        .with_grad_clipping(Some(burn::grad_clipping::GradientClippingConfig::Norm(
            cfg.grad_clip,
        )))
        .init::<B, Transformer<B>>();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let device = model.embed_tokens.weight.device();
    let mut order: Vec<usize> = (0..data.len()).collect();
    let mut report = SftReport::default();
    'outer: for _epoch in 0..cfg.epochs {
        order.shuffle(&mut rng);
        for chunk in order.chunks(cfg.batch_size) {
            let step = report.losses.len();
            if step >= total {
                break 'outer;
            }
            let pairs: Vec<(&[u32], &[u32])> = chunk
                .iter()
                .map(|i| (data[*i].prompt.as_slice(), data[*i].response.as_slice()))
                .collect();
            let batch = codec.collate::<B>(&pairs, &device)?;
            let loss = masked_nll(&model, &batch);
            let value = scalar(loss.clone());
            if !value.is_finite() {
                return Err(Error::Input(format!(
                    "SFT loss became {value} at step {step}"
                )));
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let lr = lr_at(step, total, cfg.warmup_steps, cfg.learning_rate);
            model = optim.step(lr, model, grads);
            report.losses.push(value);
            on_step(&StepLog {
                step,
                total,
                loss: value,
                lr,
            });
        }
    }
    Ok((model, report))
}
