//! Stage 1: supervised fine-tuning on (prompt, CoT response) with the next-token loss masked to
//! the response tokens.

use burn::config::Config;
use burn::optim::GradientsParams;
use burn::tensor::{Int, Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use taosr1_grpo::OptimizerConfig;
use taosr1_model::Transformer;

use crate::codec::{Batch, Codec, Encoded};
use crate::Error;

/// Per-token log-probabilities of `input_ids` where they can matter for `mask` (`[batch,
/// seq]`, non-zero on scored tokens): the LM head runs only from the first column any row
/// scores ([`Transformer::token_logprobs_from`]); earlier entries are `0`.
///
/// ```
/// use burn::tensor::{Int, Tensor};
/// use taosr1_model::{ModelConfig, Transformer};
/// let device = Default::default();
/// let model = Transformer::new(&ModelConfig::tiny(20), &device).unwrap();
/// let ids = Tensor::<2, Int>::from_ints([[1, 5, 7, 9], [1, 2, 3, 4]], &device);
/// let mask = Tensor::<2>::from_floats([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 1.0]], &device);
/// let lp = taosr1::sft::masked_token_logprobs(&model, ids.clone(), &mask);
/// let all = model.token_logprobs(ids);
/// let d = (lp - all).mul(mask).abs().max().into_scalar::<f32>();
/// assert!(d < 1e-5);
/// ```
pub fn masked_token_logprobs(
    model: &Transformer,
    input_ids: Tensor<2, Int>,
    mask: &Tensor<2>,
) -> Tensor<2> {
    model.token_logprobs_from(input_ids, first_scored(mask))
}

/// The first column any row of `mask` scores (1 when none does).
pub(crate) fn first_scored(mask: &Tensor<2>) -> usize {
    mask.clone()
        .abs()
        .sum_dim(0)
        .into_data()
        .iter::<f32>()
        .position(|v| v > 0.0)
        .unwrap_or(1)
}

/// Mean negative log-likelihood of the response tokens of `batch` (prompt and padding masked).
pub fn masked_nll(model: &Transformer, batch: &Batch) -> Tensor<1> {
    let logp = masked_token_logprobs(model, batch.input_ids.clone(), &batch.response_mask);
    mean_nll(logp, &batch.response_mask)
}

fn mean_nll(logp: Tensor<2>, mask: &Tensor<2>) -> Tensor<1> {
    (logp * mask.clone()).sum().neg() / mask.clone().sum()
}

/// Which response tokens the SFT loss scores.
///
/// ```
/// use taosr1::sft::{LossTokens, SftConfig};
/// assert_eq!(SftConfig::new().loss_tokens, LossTokens::Response);
/// let cfg = SftConfig::new().with_loss_tokens(LossTokens::GradeAmongGrades);
/// // saved and loaded with the rest of the config
/// let json = serde_json::to_string(&cfg).unwrap();
/// let back: SftConfig = serde_json::from_str(&json).unwrap();
/// assert_eq!(back.loss_tokens, LossTokens::GradeAmongGrades);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LossTokens {
    /// Every response token (the tags, the grade, the rationale and `<eos>`): plain SFT.
    #[default]
    Response,
    /// Only the grade label's token: the cross-entropy of the grade at the position the
    /// deployed model reads ([`crate::infer::score_label_first`]), as a classifier is
    /// trained. The tags and the rationale around it are not learned, so use it for
    /// label-only data (or a model whose format is already learned); every response must
    /// contain a grade token.
    Grade,
    /// As [`Grade`](Self::Grade), with the grade's probability renormalised over the grade
    /// tokens ([`Transformer::token_logprobs_within`]): exactly the cross-entropy of the
    /// distribution the deployed model reads, with no loss spent on moving probability
    /// between the grades and the rest of the vocabulary. A model fitted only among the
    /// grades (such as a label probe) starts at its own cross-entropy instead of at the
    /// full vocabulary's.
    GradeAmongGrades,
    /// As [`GradeAmongGrades`](Self::GradeAmongGrades), scored against a distribution over
    /// the grades instead of the gold one-hot: at the response's first grade token the loss
    /// is `-Σ_k target_k · log p(grade k | grades)`, with each example's
    /// [`Encoded::target`] (the gold one-hot where it has none). Soft labels carry what a
    /// grade alone drops: the fine rating a grade was cut from ([`rating_targets`]) or a
    /// teacher's grade probabilities. With one-hot targets it equals `GradeAmongGrades`.
    GradeDistribution,
}

/// Soft targets from a rating finer than the grades (such as Home Depot's mean of three
/// raters, [`taosr1_cot::Example::score`]), for [`LossTokens::GradeDistribution`].
///
/// Each grade's centre is the mean rating of its rated rows in `rows` (pass the training
/// rows). A rating is placed on the grade axis by linear interpolation between neighbouring
/// centres (clamped to the outermost ones; a grade without rated rows has no centre and is
/// passed over) and two-hot encoded, so the target's expected grade
/// is that position; the result is `(1 - alpha) · one_hot(gold) + alpha · two_hot`, so with
/// `alpha < 0.5` the gold grade keeps the largest mass. Rows without a rating get `None`.
///
/// ```
/// use taosr1::sft::rating_targets;
/// use taosr1_cot::GradeScale;
/// let g = |i| GradeScale::default().grade(i).unwrap();
/// // centres 1.0, 2.0, 2.5, 3.0 (the means of each grade's ratings)
/// let rows = [(Some(1.0), g(0)), (Some(2.0), g(1)), (Some(2.33), g(2)), (Some(2.67), g(2)),
///     (Some(3.0), g(3)), (None, g(1))];
/// let t = rating_targets(&rows, 4, 0.4).unwrap();
/// // 2.33 sits a third of the way from L2's centre to L3's: two-hot (1/3, 2/3)
/// let t2 = t[2].as_ref().unwrap();
/// let want = [0.0, 0.4 * 0.34, 0.6 + 0.4 * 0.66, 0.0];
/// assert!(t2.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-2));
/// // the best grade's centre is the top of the axis: its target stays one-hot
/// let t4 = t[4].as_ref().unwrap();
/// assert!((t4[3] - 1.0).abs() < 1e-6 && t4[..3].iter().all(|p| *p == 0.0));
/// assert!(t[5].is_none());
/// // a grade without rated rows is passed over: L2 has none, L1's centre is 1 and L3's 3
/// let sparse = [(Some(1.0), g(0)), (Some(2.5), g(2)), (Some(3.5), g(2))];
/// let t = rating_targets(&sparse, 4, 1.0).unwrap();
/// assert_eq!(t[1].as_deref(), Some(&[0.0, 0.5, 0.5, 0.0][..]));
/// // alpha outside [0, 1], or ratings that do not rise with the grade, are refused
/// assert!(rating_targets(&rows, 4, 1.5).is_err());
/// assert!(rating_targets(&[(Some(2.0), g(0)), (Some(1.0), g(1))], 2, 0.5).is_err());
/// ```
///
/// # Errors
/// [`Error::Input`] for `alpha` outside `[0, 1]`, a non-finite rating, a grade index of at
/// least `grades`, or centres that do not strictly increase with the grade.
pub fn rating_targets(
    rows: &[(Option<f64>, taosr1_cot::Grade)],
    grades: usize,
    alpha: f32,
) -> Result<Vec<Option<Vec<f32>>>, Error> {
    if !(0.0..=1.0).contains(&alpha) {
        return Err(Error::Input(format!(
            "rating_targets: alpha {alpha} is outside [0, 1]"
        )));
    }
    let mut sum = vec![0.0f64; grades];
    let mut count = vec![0usize; grades];
    for (i, (score, grade)) in rows.iter().enumerate() {
        if grade.index() >= grades {
            return Err(Error::Input(format!(
                "rating_targets: row {i} has grade index {} of {grades} grades",
                grade.index()
            )));
        }
        if let Some(s) = score {
            if !s.is_finite() {
                return Err(Error::Input(format!(
                    "rating_targets: row {i} has the rating {s}"
                )));
            }
            sum[grade.index()] += s;
            count[grade.index()] += 1;
        }
    }
    // (grade index, centre) of the grades with rated rows, worst first
    let centre: Vec<(f64, f64)> = (0..grades)
        .filter(|k| count[*k] > 0)
        .map(|k| (k as f64, sum[k] / count[k] as f64))
        .collect();
    if centre.is_empty() {
        return Ok(vec![None; rows.len()]);
    }
    if centre.windows(2).any(|w| w[0].1 >= w[1].1) {
        return Err(Error::Input(format!(
            "rating_targets: the mean ratings per grade (index, mean) {centre:?} do not rise \
             with the grade"
        )));
    }
    let position = |s: f64| -> f64 {
        match centre.iter().position(|(_, c)| s < *c) {
            None => centre[centre.len() - 1].0,
            Some(0) => centre[0].0,
            Some(i) => {
                let ((ka, ca), (kb, cb)) = (centre[i - 1], centre[i]);
                ka + (s - ca) / (cb - ca) * (kb - ka)
            }
        }
    };
    Ok(rows
        .iter()
        .map(|(score, grade)| {
            score.map(|s| {
                let y = position(s);
                let lo = y.floor() as usize;
                let frac = (y - lo as f64) as f32;
                let mut t = vec![0.0f32; grades];
                t[grade.index()] += 1.0 - alpha;
                t[lo] += alpha * (1.0 - frac);
                if frac > 0.0 {
                    t[lo + 1] += alpha * frac;
                }
                t
            })
        })
        .collect())
}

/// Checks that `target` is a distribution over `grades` grades.
fn check_target(i: usize, target: &[f32], grades: usize) -> Result<(), Error> {
    let total: f32 = target.iter().sum();
    if target.len() != grades
        || target.iter().any(|t| !t.is_finite() || *t < 0.0)
        || (total - 1.0).abs() > 1e-3
    {
        return Err(Error::Input(format!(
            "training example {i} has the target {target:?}, not a distribution over {grades} grades"
        )));
    }
    Ok(())
}

/// Host-side per-grade weights `[rows, len, grades]` of [`LossTokens::GradeDistribution`]:
/// at each grade token of a response (the positions [`loss_masks`] scores) the row's weight
/// times its target at the first one, and times the token's one-hot at any later one (or
/// everywhere, for a row without a target).
fn distribution_weights(
    pairs: &[(&[u32], &[u32])],
    targets: &[Option<&[f32]>],
    row_weights: &[f32],
    grade_ids: &[u32],
    len: usize,
) -> Vec<f32> {
    let k = grade_ids.len();
    let mut w = vec![0.0; pairs.len() * len * k];
    for (row, ((p, r), target)) in pairs.iter().zip(targets).enumerate() {
        let mut first = true;
        for (j, id) in r.iter().enumerate() {
            let Some(g) = grade_ids.iter().position(|x| x == id) else {
                continue;
            };
            let at = (row * len + p.len() + j) * k;
            match target.filter(|_| first) {
                Some(t) => {
                    for (c, v) in t.iter().enumerate() {
                        w[at + c] = v * row_weights[row];
                    }
                }
                None => w[at + g] = row_weights[row],
            }
            first = false;
        }
    }
    w
}

/// Per-example loss weights that give every grade present in `grades` the same total weight,
/// with mean 1 over the examples (`n / (k · count(grade))` for `k` grades present): the
/// empirical risk of a class-balanced sample, so a skewed grade distribution does not teach
/// the majority grade alone.
///
/// ```
/// use taosr1::sft::class_balanced_weights;
/// use taosr1_cot::GradeScale;
/// let scale = GradeScale::default();
/// let g = |s: &str| scale.parse(s).unwrap();
/// let w = class_balanced_weights(&[g("L1"), g("L3"), g("L3"), g("L3")]);
/// // 4 examples, 2 grades present: L1 gets 4 / (2 · 1), each L3 gets 4 / (2 · 3)
/// assert_eq!(w, vec![2.0, 2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0]);
/// assert!(class_balanced_weights(&[]).is_empty());
/// ```
pub fn class_balanced_weights(grades: &[taosr1_cot::Grade]) -> Vec<f32> {
    let slots = grades.iter().map(|g| g.index() + 1).max().unwrap_or(0);
    let mut count = vec![0usize; slots];
    for g in grades {
        count[g.index()] += 1;
    }
    let present = count.iter().filter(|c| **c > 0).count();
    grades
        .iter()
        .map(|g| grades.len() as f32 / (present * count[g.index()]) as f32)
        .collect()
}

/// Host-side loss masks of a right-padded batch of `(prompt, response)` pairs (the layout of
/// [`crate::codec::collate`]): `scored` is 1 on every token the loss scores, `weights` is
/// `scored` times the row's weight. The loss is `-Σ logp · weights / Σ scored`.
fn loss_masks(
    pairs: &[(&[u32], &[u32])],
    row_weights: &[f32],
    grade_ids: Option<&[u32]>,
) -> (Vec<f32>, Vec<f32>, usize) {
    let len = pairs
        .iter()
        .map(|(p, r)| p.len() + r.len())
        .max()
        .unwrap_or(0);
    let mut scored = vec![0.0; pairs.len() * len];
    let mut weights = vec![0.0; pairs.len() * len];
    for (row, ((p, r), w)) in pairs.iter().zip(row_weights).enumerate() {
        for (j, id) in r.iter().enumerate() {
            if grade_ids.is_none_or(|g| g.contains(id)) {
                let at = row * len + p.len() + j;
                scored[at] = 1.0;
                weights[at] = *w;
            }
        }
    }
    (scored, weights, len)
}

/// Length of the longest prefix every sequence shares.
pub(crate) fn common_prefix(seqs: &[&[u32]]) -> usize {
    let Some((first, rest)) = seqs.split_first() else {
        return 0;
    };
    rest.iter().fold(first.len(), |n, s| {
        first[..n]
            .iter()
            .zip(s.iter())
            .take_while(|(a, b)| a == b)
            .count()
    })
}

/// Scalar value of a one-element tensor.
pub fn scalar(t: Tensor<1>) -> f32 {
    t.into_scalar::<f32>()
}

/// SFT hyper-parameters (a burn [`Config`]: `SftConfig::new()`, `with_*`, JSON save/load).
///
/// ```
/// use taosr1::sft::SftConfig;
/// let cfg = SftConfig::new().with_epochs(2).with_batch_size(8);
/// assert_eq!(cfg.optimizer.learning_rate, 5e-3);
/// assert!(cfg.validate().is_ok());
/// assert!(cfg.with_epochs(0).validate().is_err());
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct SftConfig {
    /// Passes over the training data (`>= 1`).
    #[config(default = 6)]
    pub epochs: usize,
    /// Stop after this many optimizer steps (for quick runs), if set (`>= 1`).
    #[config(default = "None")]
    pub max_steps: Option<usize>,
    /// Stop after the first step that ends this many seconds after training began, if set
    /// (`>= 0`; for a time-boxed lease of a GPU). The learning-rate schedule still runs to
    /// the planned total, so a stop here leaves the rate where it was: set
    /// [`max_steps`](Self::max_steps) to what fits and use this as the guard.
    #[config(default = "None")]
    pub time_limit_secs: Option<f64>,
    /// Sequences per step (`>= 1`).
    #[config(default = 16)]
    pub batch_size: usize,
    /// AdamW, gradient clip, warm-up + cosine schedule: the helper every stage shares.
    #[config(
        default = "OptimizerConfig::new().with_learning_rate(5e-3).with_weight_decay(0.01).with_warmup_steps(Some(20))"
    )]
    pub optimizer: OptimizerConfig,
    /// Shuffling seed.
    #[config(default = 7)]
    pub seed: u64,
    /// Partial fine-tuning: keep the token embeddings and the first this many decoder blocks
    /// fixed ([`Transformer::freeze_layers`]), so each step's backward pass covers only the
    /// blocks above them (`<=` the model's blocks; `0` trains everything). In the returned
    /// model the embeddings and those blocks take gradients again
    /// ([`Transformer::unfreeze_layers`]).
    #[config(default = 0)]
    pub frozen_layers: usize,
    /// Run the tokens every prompt of a batch starts with (the chat template's system turn
    /// and the instruction) once per step instead of once per row. The loss and gradients
    /// are the same; on a CPU the step is cheaper by about the prefix's share of the tokens.
    #[config(default = false)]
    pub share_prompt_prefix: bool,
    /// Which response tokens the loss scores: all of them, or only the grade label's.
    #[config(default = "LossTokens::Response")]
    pub loss_tokens: LossTokens,
    /// Weight each example by [`class_balanced_weights`] of the training data's grades, so
    /// every grade carries the same share of the loss.
    #[config(default = false)]
    pub class_balanced: bool,
}

impl Default for SftConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl SftConfig {
    /// Checks the run before anything is trained or written.
    ///
    /// # Errors
    /// [`Error::Input`] naming the bad setting.
    ///
    /// ```
    /// use taosr1::sft::SftConfig;
    /// assert!(SftConfig::new().with_max_steps(Some(0)).validate().is_err());
    /// assert!(SftConfig::new().with_time_limit_secs(Some(f64::NAN)).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        if self.epochs == 0 {
            return Err(Error::Input("SFT epochs must be at least 1".into()));
        }
        if self.batch_size == 0 {
            return Err(Error::Input("SFT batch size must be at least 1".into()));
        }
        if self.max_steps == Some(0) {
            return Err(Error::Input("SFT max_steps must be at least 1".into()));
        }
        if let Some(t) = self.time_limit_secs
            && !(t >= 0.0 && t.is_finite())
        {
            return Err(Error::Input(format!(
                "SFT time_limit_secs must be a finite number of seconds >= 0, not {t}"
            )));
        }
        self.optimizer
            .validate()
            .map_err(|e| Error::Input(format!("SFT optimizer: {e}")))
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
    /// Whether [`SftConfig::time_limit_secs`] ended the run before its planned steps.
    pub stopped_by_time: bool,
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

/// Fine-tune `model` on `data`; `on_step` sees every step's log and the model as that step
/// left it (for progress bars, logs and periodic validation).
///
/// # Errors
/// [`Error::Input`] for empty data or a bad config (before any step), or when the loss
/// becomes non-finite (naming the step).
pub fn train(
    model: Transformer,
    codec: &Codec,
    data: &[Encoded],
    cfg: &SftConfig,
    mut on_step: impl FnMut(&StepLog, &Transformer),
) -> Result<(Transformer, SftReport), Error> {
    cfg.validate()?;
    if data.is_empty() {
        return Err(Error::Input(
            "SFT needs at least one training example".into(),
        ));
    }
    // rotary positions past the context are never seen at inference: refuse, do not train on
    let context = model.max_positions();
    if let Some((i, e)) = data
        .iter()
        .enumerate()
        .find(|(_, e)| e.prompt.len() + e.response.len() > context)
    {
        return Err(Error::Input(format!(
            "training example {i} has {} tokens, more than the model's context of {context}",
            e.prompt.len() + e.response.len()
        )));
    }
    let grade_ids = match cfg.loss_tokens {
        LossTokens::Response => None,
        LossTokens::Grade | LossTokens::GradeAmongGrades | LossTokens::GradeDistribution => {
            Some(codec.grade_ids())
        }
    };
    if cfg.loss_tokens == LossTokens::GradeDistribution {
        for (i, e) in data.iter().enumerate() {
            if let Some(t) = &e.target {
                check_target(i, t, codec.grade_ids().len())?;
            }
        }
    }
    if let Some(g) = grade_ids
        && let Some(i) = data
            .iter()
            .position(|e| !e.response.iter().any(|t| g.contains(t)))
    {
        return Err(Error::Input(format!(
            "training example {i} has no grade token in its response, so a grade-only \
                 SFT loss has nothing to score"
        )));
    }
    let row_weights = if cfg.class_balanced {
        class_balanced_weights(&data.iter().map(|e| e.grade).collect::<Vec<_>>())
    } else {
        vec![1.0; data.len()]
    };
    let frozen = cfg.frozen_layers;
    let mut model = model
        .freeze_layers(frozen)
        .map_err(|e| Error::Input(format!("SFT frozen_layers: {e}")))?;
    let per_epoch = data.len().div_ceil(cfg.batch_size);
    let total = (per_epoch * cfg.epochs).min(cfg.max_steps.unwrap_or(usize::MAX));
    let mut optim = cfg
        .optimizer
        .init()
        .map_err(|e| Error::Input(format!("SFT optimizer: {e}")))?;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let device = model.embed_tokens.weight.device();
    let mut order: Vec<usize> = (0..data.len()).collect();
    let mut report = SftReport::default();
    let started = std::time::Instant::now();
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
            let batch = codec.collate(&pairs, &device)?;
            let w: Vec<f32> = chunk.iter().map(|i| row_weights[*i]).collect();
            let (scored, weights, len) = loss_masks(&pairs, &w, grade_ids);
            let mask = |v: Vec<f32>| {
                Tensor::<2>::from_data(TensorData::new(v, [pairs.len(), len]), &device)
            };
            let (scored, weights) = (mask(scored), mask(weights));
            let from = first_scored(&scored);
            let prefix = if cfg.share_prompt_prefix {
                let prompts: Vec<&[u32]> = pairs.iter().map(|(p, _)| *p).collect();
                common_prefix(&prompts)
            } else {
                0
            };
            let vocab = codec.grade_ids();
            let weighted = match cfg.loss_tokens {
                LossTokens::GradeDistribution => {
                    let targets: Vec<Option<&[f32]>> =
                        chunk.iter().map(|i| data[*i].target.as_deref()).collect();
                    let w3 = distribution_weights(&pairs, &targets, &w, vocab, len);
                    let w3 = Tensor::<3>::from_data(
                        TensorData::new(w3, [pairs.len(), len, vocab.len()]),
                        &device,
                    );
                    (model.next_logprobs_within(batch.input_ids, prefix, from, vocab)? * w3).sum()
                }
                LossTokens::GradeAmongGrades => {
                    (model.token_logprobs_within(batch.input_ids, prefix, from, vocab)? * weights)
                        .sum()
                }
                LossTokens::Response | LossTokens::Grade => {
                    (model.token_logprobs_shared(batch.input_ids, prefix, from)? * weights).sum()
                }
            };
            let loss = weighted.neg() / scored.sum();
            let value = scalar(loss.clone());
            if !value.is_finite() {
                return Err(Error::Input(format!(
                    "SFT loss became {value} at step {step}"
                )));
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let lr = cfg.optimizer.lr_at(step, total);
            model = optim.step(lr, model, grads);
            report.losses.push(value);
            on_step(
                &StepLog {
                    step,
                    total,
                    loss: value,
                    lr,
                },
                &model,
            );
            if report.losses.len() < total
                && cfg
                    .time_limit_secs
                    .is_some_and(|t| started.elapsed().as_secs_f64() >= t)
            {
                report.stopped_by_time = true;
                break 'outer;
            }
        }
    }
    let model = model
        .unfreeze_layers(frozen)
        .map_err(|e| Error::Input(format!("SFT frozen_layers: {e}")))?;
    Ok((model, report))
}
