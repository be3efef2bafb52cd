//! Stage 2 (offline pass@N sampling + DPO) and stage 3 (difficulty-based dynamic sampling +
//! GRPO) of TaoSR1: wiring of our [`Transformer`], codec and reward into the library trainers
//! [`DpoTrainer`] (taosr1-dpo) and [`GrpoTrainer`] (taosr1-grpo).
//!
//! Both stages sample complete responses in the codec's order
//! (`<answer> Lx </answer> <think> … </think> <eos>` or `<think> … </think> <answer> Lx </answer> <eos>`)
//! from the model with temperature sampling and score them with a [`CompositeReward`] against
//! the gold grade:
//!
//! * [`run_dpo`]: sample `N` responses for each training prompt **once** with the SFT model
//!   (offline), build (correct, incorrect) pairs — the gold response is chosen for all-wrong
//!   prompts — and minimise the DPO loss against the frozen SFT model;
//! * [`run_grpo`]: at every step the trainer fills a batch with dynamic sampling (groups whose
//!   rollouts are all correct or all wrong are dropped and replaced from further prompts),
//!   computes group-relative advantages and takes a clipped-ratio step with a k3 KL penalty to
//!   the frozen starting model.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;
use rand::Rng;
use taosr1_cot::{Example, Grade};
use taosr1_dpo::{DpoMetrics, DpoTrainer, DpoTrainerConfig, PairPolicy, PairStats};
use taosr1_grpo::{
    Completion, DynamicSamplingConfig, DynamicSamplingStats, GrpoMetrics, GrpoTrainer,
    GrpoTrainerConfig, Policy, Reward, TokenBatch,
};
use taosr1_model::{generate, SamplingConfig, Transformer};
use taosr1_rewards::{CompositeReward, Correctness, RewardTerm, Strictness};

use crate::codec::Codec;
use crate::Error;

/// Our [`Transformer`] as a [`taosr1_grpo::Policy`] (a newtype, because both the trait and the
/// model live in other crates).
///
/// ```
/// use burn::tensor::{Int, Tensor};
/// use taosr1::stages::PolicyModel;
/// use taosr1_grpo::{Policy, TokenBatch};
/// use taosr1_model::{ModelConfig, Transformer};
/// let device = Default::default();
/// let lm = Transformer::new(&ModelConfig::tiny(20), &device).unwrap();
/// // two rows that start with the same three tokens; the responses are the last two
/// let ids = Tensor::<2, Int>::from_ints([[1, 5, 7, 9, 3], [1, 5, 7, 2, 4]], &device);
/// let mask = Tensor::<2>::from_floats([[0.0, 0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 1.0, 1.0]], &device);
/// let batch = TokenBatch::new(ids, mask).unwrap();
/// let plain = PolicyModel::new(lm.clone()).token_logprobs(&batch);
/// let shared = PolicyModel::new(lm).with_share_prompt_prefix(true).token_logprobs(&batch);
/// assert!((plain - shared).abs().max().into_scalar::<f32>() < 1e-5);
/// ```
#[derive(Module, Debug)]
pub struct PolicyModel {
    /// The language model.
    pub lm: Transformer,
    /// Run the tokens every row of a batch starts with (the chat template's system turn and
    /// the instruction) once per batch instead of once per row
    /// ([`Transformer::token_logprobs_shared`]): the same log-probabilities and gradients,
    /// found by one host read of the token ids per call. It pays on a CPU.
    pub share_prompt_prefix: bool,
}

impl PolicyModel {
    /// `lm` as a policy, every row run whole.
    pub fn new(lm: Transformer) -> Self {
        Self {
            lm,
            share_prompt_prefix: false,
        }
    }

    /// The same policy with [`share_prompt_prefix`](Self::share_prompt_prefix) set to `on`.
    pub fn with_share_prompt_prefix(self, on: bool) -> Self {
        Self {
            share_prompt_prefix: on,
            ..self
        }
    }
}

impl Policy for PolicyModel {
    fn token_logprobs(&self, batch: &TokenBatch) -> Tensor<2> {
        let ids = batch.input_ids.clone();
        let from = crate::sft::first_scored(&batch.mask);
        let [rows, len] = ids.dims();
        if self.share_prompt_prefix && rows > 1 {
            let host: Vec<u32> = ids.to_data().iter::<i64>().map(|v| v as u32).collect();
            let seqs: Vec<&[u32]> = host.chunks(len.max(1)).collect();
            let prefix = crate::sft::common_prefix(&seqs);
            // the prefix is the rows' common one, so the check inside cannot fail
            if let Ok(logp) = self.lm.token_logprobs_shared(ids.clone(), prefix, from) {
                return logp;
            }
        }
        self.lm.token_logprobs_from(ids, from)
    }
}

/// How responses are sampled for DPO and GRPO (a burn [`Config`]).
///
/// ```
/// let r = taosr1::stages::RolloutConfig::new().with_temperature(0.7);
/// assert_eq!((r.temperature, r.max_new_tokens), (0.7, 64));
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct RolloutConfig {
    /// Sampling temperature (`> 0`: the point is diversity).
    #[config(default = 1.0)]
    pub temperature: f32,
    /// Nucleus threshold.
    #[config(default = 1.0)]
    pub top_p: f32,
    /// Most new tokens per response (thinking + answer + `<eos>`).
    #[config(default = 64)]
    pub max_new_tokens: usize,
}

impl Default for RolloutConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// The reward both stages optimise for responses in `template`'s order: exact grade
/// correctness (weight 1) plus a small format term (weight 0.1), parsed leniently; unparseable
/// output scores 0 (see [`taosr1_rewards::UnparseableReward`]). A rollout counts as *correct*
/// when its parsed grade equals the gold grade.
///
/// ```
/// use taosr1_cot::Template;
/// let r = taosr1::stages::default_reward(&Template::think_first()).unwrap();
/// let l2 = r.template().scale().parse("L2").unwrap();
/// assert!(r.is_correct("<think> a . </think> <answer> L2 </answer>", l2));
/// let r = taosr1::stages::default_reward(&Template::default()).unwrap();
/// assert!(r.is_correct("<answer> L2 </answer> <think> a . </think>", l2));
/// ```
pub fn default_reward(template: &taosr1_cot::Template) -> Result<CompositeReward, Error> {
    Ok(CompositeReward::builder()
        .term(1.0, RewardTerm::Correctness(Correctness::Exact))
        .term(0.1, RewardTerm::Format(Default::default()))
        .strictness(Strictness::Lenient)
        .template(template.clone())
        .build()?)
}

/// One sampled response: its tokens (up to and including `<eos>` when it stopped) and text.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Generated token ids.
    pub tokens: Vec<u32>,
    /// Decoded text (special tokens skipped).
    pub text: String,
}

/// Sample `n` responses to `prompt` (token ids including `<bos>`) in one batch.
pub fn sample_responses<R: Rng + ?Sized>(
    model: &Transformer,
    codec: &Codec,
    prompt: &[u32],
    n: usize,
    cfg: &RolloutConfig,
    rng: &mut R,
) -> Result<Vec<Sample>, Error> {
    if n == 0 {
        return Err(Error::Input("cannot sample 0 responses".into()));
    }
    let tok = codec.tokenizer();
    let prompts = vec![prompt.to_vec(); n];
    // the response may not run past the model's context
    let room = model.max_positions().saturating_sub(prompt.len());
    if room == 0 {
        return Err(Error::Input(format!(
            "the prompt has {} tokens, the model's context is {}: no room for a response",
            prompt.len(),
            model.max_positions()
        )));
    }
    let sampling =
        SamplingConfig::sampled(cfg.temperature, cfg.top_p, cfg.max_new_tokens.min(room));
    let gens = generate(model, &prompts, tok.pad_id(), tok.eos_ids(), &sampling, rng)?;
    gens.into_iter()
        .map(|g| {
            let text = codec.decode(&g.tokens)?;
            Ok(Sample {
                tokens: g.tokens,
                text,
            })
        })
        .collect()
}

/// `(reward, correct)` of a response to an example with gold grade `gold`.
pub fn score(reward: &CompositeReward, text: &str, gold: Grade) -> Result<(f32, bool), Error> {
    let r = reward.score(text, gold)?;
    Ok((r.total, reward.is_correct(text, gold)))
}

/// The rollout function both trainers get: `n` sampled responses to `example`'s prompt, as
/// token ids with their text.
fn rollouts<R: Rng + ?Sized>(
    model: &Transformer,
    codec: &Codec,
    example: &Example,
    n: usize,
    cfg: &RolloutConfig,
    rng: &mut R,
) -> Result<Vec<Completion>, Error> {
    let prompt = codec.prompt_ids(&example.item())?;
    Ok(sample_responses(model, codec, &prompt, n, cfg, rng)?
        .into_iter()
        .map(|s| Completion::new(prompt.clone(), s.tokens).with_text(s.text))
        .collect())
}

/// The reward function both trainers get: our composite reward against the gold grade.
fn reward_fn<'a>(
    reward: &'a CompositeReward,
) -> impl FnMut(&&Example, &Completion) -> Result<Reward, Error> + 'a {
    move |e: &&Example, c: &Completion| {
        let (value, correct) = score(reward, &c.text, e.grade)?;
        Ok(Reward::new(value, correct))
    }
}

// ------------------------------------------------------------------------------------------
// Stage 2: pass@N + DPO
// ------------------------------------------------------------------------------------------

/// Settings of stage 2 (a burn [`Config`]).
///
/// ```
/// let run = taosr1::stages::DpoRun::new().with_n(4);
/// assert_eq!(run.trainer.loss.beta, 0.1);
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct DpoRun {
    /// Training prompts sampled (the first `prompts` of the train split).
    #[config(default = 800)]
    pub prompts: usize,
    /// Samples per prompt (the N of pass@N).
    #[config(default = 8)]
    pub n: usize,
    /// How the samples are drawn.
    #[config(default = "RolloutConfig::new()")]
    pub rollout: RolloutConfig,
    /// Pair construction.
    #[config(default = "PairPolicy::new().with_max_pairs_per_prompt(2)")]
    pub pairs: PairPolicy,
    /// Passes over the pairs.
    #[config(default = 2)]
    pub epochs: usize,
    /// Pairs per optimizer step.
    #[config(default = 16)]
    pub batch_size: usize,
    /// Loss (β 0.1, sigmoid), optimizer (AdamW 1e-4, clip 1, warm-up 10% + cosine) and the
    /// RPO-style NLL anchor on the chosen responses (weight 1: DPO alone can lower the
    /// likelihood of chosen *and* rejected responses and with it greedy quality).
    #[config(default = "DpoTrainerConfig::new().with_nll_weight(1.0)")]
    pub trainer: DpoTrainerConfig,
    /// Run the prompt prefix every pair shares once per batch ([`PolicyModel`]): the same
    /// loss and gradients, cheaper on a CPU.
    #[config(default = false)]
    pub share_prompt_prefix: bool,
}

impl Default for DpoRun {
    fn default() -> Self {
        Self::new()
    }
}

/// What stage 2 did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DpoReport {
    /// Mean pass@1 of the offline samples (the SFT model's sampled accuracy).
    pub pass_at_1: f64,
    /// Mean pass@N.
    pub pass_at_n: f64,
    /// How the groups were turned into pairs.
    pub pair_stats: PairStats,
    /// DPO loss at every step.
    pub losses: Vec<f32>,
    /// Fraction of pairs in each step whose implicit reward ranks chosen above rejected.
    pub reward_accuracy: Vec<f32>,
    /// Every step's metrics.
    pub metrics: Vec<DpoMetrics>,
}

/// What happened at one DPO step.
#[derive(Clone, Debug, PartialEq)]
pub struct DpoStepLog {
    /// Planned steps (known once the pairs are built).
    pub total: usize,
    /// The trainer's metrics of the step (step, loss, reward accuracy and margin, KL, learning
    /// rate, pairs).
    pub metrics: DpoMetrics,
}

/// Stage 2: offline pass@N sampling with the starting (SFT) model, pair construction, and DPO
/// against that model frozen as the reference. `on_step` sees every step's log and the model
/// as that step left it (for progress bars, logs and periodic validation).
pub fn run_dpo<R: Rng + ?Sized>(
    model: Transformer,
    codec: &Codec,
    train: &[Example],
    run: &DpoRun,
    rng: &mut R,
    mut on_step: impl FnMut(&DpoStepLog, &Transformer),
) -> Result<(Transformer, DpoReport), Error> {
    if run.batch_size == 0 || run.epochs == 0 || run.n == 0 {
        return Err(Error::Input(
            "DPO needs a positive batch size, epoch count and sample count".into(),
        ));
    }
    let examples: Vec<&Example> = train.iter().take(run.prompts).collect();
    if examples.is_empty() {
        return Err(Error::Input(
            "DPO needs at least one training prompt".into(),
        ));
    }
    let reward = default_reward(codec.template())?;
    let planned = |pairs: usize| pairs.div_ceil(run.batch_size).max(1) * run.epochs;
    let config = run
        .trainer
        .clone()
        .with_pad_id(codec.tokenizer().pad_id())
        .with_seed(rng.random::<u64>());
    let mut trainer = DpoTrainer::new(
        PolicyModel::new(model).with_share_prompt_prefix(run.share_prompt_prefix),
        config,
    )?;
    let eos = codec.tokenizer().eos_id();
    let offline = trainer.sample_pairs(
        &examples,
        run.n,
        |reference: &PolicyModel, e: &&Example, n| {
            rollouts(&reference.lm, codec, e, n, &run.rollout, rng)
        },
        reward_fn(&reward),
        |e: &&Example| {
            let text = codec.template().response(&e.rationale, e.grade);
            let mut ids = codec.text_ids(&text).ok()?;
            ids.push(eos);
            Some(ids)
        },
        &run.pairs,
    )?;
    let mut report = DpoReport {
        pass_at_1: offline.pass_at_1,
        pass_at_n: offline.pass_at_n,
        pair_stats: offline.stats,
        ..DpoReport::default()
    };
    if offline.pairs.is_empty() {
        // nothing to train on: say so instead of handing back (and letting a caller save) an
        // unchanged model as if it had been trained
        let s = &report.pair_stats;
        return Err(Error::Input(format!(
            "DPO built no preference pairs from {} prompts ({} all-correct, {} all-wrong \
             without a gold response); nothing was trained",
            s.prompts, s.all_correct_skipped, s.all_wrong_skipped
        )));
    }
    // the schedule spans the whole run, known once the pairs are
    let total = planned(offline.pairs.len());
    trainer.set_total_steps(total)?;
    let metrics = trainer
        .fit(&offline.pairs, run.batch_size, run.epochs, |m, policy| {
            on_step(&DpoStepLog { total, metrics: *m }, &policy.lm)
        })
        .map_err(|e| Error::Input(format!("DPO ({total} planned steps): {e}")))?;
    report.losses = metrics.iter().map(|m| m.loss).collect();
    report.reward_accuracy = metrics.iter().map(|m| m.reward_accuracy).collect();
    report.metrics = metrics;
    Ok((trainer.into_policy().lm, report))
}

// ------------------------------------------------------------------------------------------
// Stage 3: dynamic sampling + GRPO
// ------------------------------------------------------------------------------------------

/// Settings of stage 3 (a burn [`Config`]).
///
/// ```
/// let run = taosr1::stages::GrpoRun::new().with_steps(10);
/// assert_eq!(run.trainer.sampling.group_size, 8);
/// assert!(!run.class_balanced && run.with_class_balanced(true).class_balanced);
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct GrpoRun {
    /// Optimizer steps.
    #[config(default = 40)]
    pub steps: usize,
    /// How rollouts are sampled.
    #[config(default = "RolloutConfig::new()")]
    pub rollout: RolloutConfig,
    /// Feed the prompts class-balanced: the gold grades take turns
    /// ([`taosr1_grpo::class_balanced`]) instead of arriving in the data's proportions. Off by
    /// default so the recorded tiny-model runs stay reproducible; real data with a rare grade
    /// (Home Depot's L1 is 7 %) wants it on.
    #[config(default = false)]
    pub class_balanced: bool,
    /// Group size 8, 8 kept groups per step, at most 64 prompts examined per step, the
    /// default clipped loss with KL β 0.04, AdamW at 5e-4 with clip 1 and warm-up + cosine.
    #[config(default = "default_grpo_trainer()")]
    pub trainer: GrpoTrainerConfig,
    /// Run the prompt prefix every rollout shares once per batch ([`PolicyModel`]): the same
    /// loss and gradients, cheaper on a CPU.
    #[config(default = false)]
    pub share_prompt_prefix: bool,
}

fn default_grpo_trainer() -> GrpoTrainerConfig {
    GrpoTrainerConfig::new(DynamicSamplingConfig::new(8, 8).with_max_prompts(Some(64)))
        .with_optimizer(taosr1_grpo::OptimizerConfig::new().with_learning_rate(5e-4))
}

impl Default for GrpoRun {
    fn default() -> Self {
        Self::new()
    }
}

/// What happened at one GRPO step.
#[derive(Clone, Debug, PartialEq)]
pub struct GrpoStepLog {
    /// Planned steps.
    pub total: usize,
    /// The trainer's metrics of the step (loss, reward mean/std, KL, clip fraction,
    /// kept/dropped groups, learning rate).
    pub metrics: GrpoMetrics,
}

/// What stage 3 did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GrpoReport {
    /// Every step.
    pub steps: Vec<GrpoStepLog>,
    /// Dynamic-sampling counts over the run.
    pub sampling: DynamicSamplingStats,
}

/// Stage 3: GRPO with difficulty-based dynamic sampling over `train` (cycled), with the
/// starting model frozen as the KL reference. `on_step` sees every step's log and the policy
/// as that step left it.
pub fn run_grpo<R: Rng + ?Sized>(
    model: Transformer,
    codec: &Codec,
    train: &[Example],
    run: &GrpoRun,
    rng: &mut R,
    mut on_step: impl FnMut(&GrpoStepLog, &Transformer),
) -> Result<(Transformer, GrpoReport), Error> {
    if train.is_empty() {
        return Err(Error::Input(
            "GRPO needs at least one training prompt".into(),
        ));
    }
    let reward = default_reward(codec.template())?;
    let config = run
        .trainer
        .clone()
        .with_total_steps(run.steps.max(1))
        .with_pad_id(codec.tokenizer().pad_id());
    let mut trainer = GrpoTrainer::new(
        PolicyModel::new(model).with_share_prompt_prefix(run.share_prompt_prefix),
        config,
    )?;
    let order: Vec<&Example> = if run.class_balanced {
        let grades = codec.template().scale().len();
        taosr1_grpo::class_balanced(train.iter().collect(), |e| e.grade.index(), grades, 17)
    } else {
        train.iter().collect()
    };
    let mut prompts = order.into_iter().cycle();
    let mut report = GrpoReport::default();
    let mut score_fn = reward_fn(&reward);
    for step in 0..run.steps {
        let metrics = trainer
            .step(
                &mut prompts,
                |policy: &PolicyModel, e: &&Example, n| {
                    rollouts(&policy.lm, codec, e, n, &run.rollout, rng)
                },
                &mut score_fn,
            )
            .map_err(|e| Error::Input(format!("GRPO step {step} of {}: {e}", run.steps)))?;
        let log = GrpoStepLog {
            total: run.steps,
            metrics,
        };
        on_step(&log, &trainer.policy().lm);
        report.steps.push(log);
    }
    report.sampling = trainer.sampling_totals();
    if !report.steps.iter().any(|l| l.metrics.updated) {
        let s = report.sampling;
        return Err(Error::Input(format!(
            "GRPO made no update in {} steps: every one of the {} prompts examined was \
             all-correct ({}) or all-wrong ({}); nothing was trained",
            run.steps, s.prompts_seen, s.dropped_all_correct, s.dropped_all_wrong
        )));
    }
    Ok((trainer.into_policy().lm, report))
}

// ------------------------------------------------------------------------------------------
// Post-CoT: a think-first model becomes a label-first one
// ------------------------------------------------------------------------------------------

/// Settings of the post-CoT stage (a burn [`Config`]).
///
/// ```
/// let run = taosr1::stages::PostCotRun::new().with_n(2);
/// assert_eq!((run.prompts, run.n, run.sft.epochs), (800, 2, 8));
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct PostCotRun {
    /// Training prompts used (the first `prompts` of the train split).
    #[config(default = 800)]
    pub prompts: usize,
    /// Samples per prompt from the think-first model.
    #[config(default = 4)]
    pub n: usize,
    /// How the samples are drawn.
    #[config(default = "RolloutConfig::new()")]
    pub rollout: RolloutConfig,
    /// The fine-tuning on the rewritten responses: 8 epochs at 5e-3, SFT's own rate. Deciding
    /// before reasoning is a new computation for the model, not a small change: on the tiny
    /// model, 2 epochs at 1e-3 left it at chance (0.28 accuracy), 4 at 3e-3 at 0.50, 8 at 5e-3
    /// at 0.62 (docs/RESULTS.md).
    #[config(
        default = "crate::sft::SftConfig::new().with_epochs(8).with_optimizer(taosr1_grpo::OptimizerConfig::new().with_learning_rate(5e-3).with_weight_decay(0.01).with_warmup_steps(Some(20)))"
    )]
    pub sft: crate::sft::SftConfig,
}

impl Default for PostCotRun {
    fn default() -> Self {
        Self::new()
    }
}

/// What the post-CoT stage did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PostCotReport {
    /// Prompts used.
    pub prompts: usize,
    /// Prompts with at least one well-formed correct sample: their target is the model's own
    /// reasoning, moved after the label.
    pub own_samples: usize,
    /// Prompts without one: their target is the gold rationale (the teacher fallback, as in
    /// pass@N).
    pub gold_fallback: usize,
    /// Fine-tuning loss at every step.
    pub losses: Vec<f32>,
}

/// Post-CoT: turn a think-first model into a label-first one by self-distillation. For each of
/// the first `run.prompts` training examples, `run.n` responses are sampled from the
/// think-first model (`codec`'s order must be think-first); the first one that is well-formed
/// (strict parse) and correct is rewritten label-first —
/// `<answer> G </answer> <think> its own reasoning </think>` — and prompts without a correct
/// sample take the gold rationale. The model is then fine-tuned on these label-first targets
/// with the SFT loss (response tokens only).
///
/// Why this choice: the reasoning the model learnt is kept (it is its own text, only moved),
/// the label it is trained to put first is always the gold one, and nothing but the trained
/// model and the training data is needed — no teacher call, no preference data.
///
/// # Errors
/// [`Error::Input`] when `codec` is not think-first, or `run` has no prompts or samples.
pub fn run_post_cot<R: Rng + ?Sized>(
    model: Transformer,
    codec: &Codec,
    train: &[Example],
    run: &PostCotRun,
    rng: &mut R,
    on_step: impl FnMut(&crate::sft::StepLog, &Transformer),
) -> Result<(Transformer, PostCotReport), Error> {
    if codec.template().order() != taosr1_cot::ResponseOrder::ThinkFirst {
        return Err(Error::Input(
            "post-CoT starts from a think-first model and codec".into(),
        ));
    }
    if run.n == 0 || run.prompts == 0 {
        return Err(Error::Input(
            "post-CoT needs at least one prompt and one sample per prompt".into(),
        ));
    }
    let label_first = codec
        .clone()
        .with_order(taosr1_cot::ResponseOrder::LabelFirst);
    let sampler = model.valid();
    let mut report = PostCotReport::default();
    let mut data = Vec::new();
    for e in train.iter().take(run.prompts) {
        let prompt = codec.prompt_ids(&e.item())?;
        let samples = sample_responses(&sampler, codec, &prompt, run.n, &run.rollout, rng)?;
        let own = samples.iter().find_map(|s| {
            codec
                .template()
                .parse_strict(&s.text)
                .ok()
                .filter(|p| p.grade == e.grade)
                .and_then(|p| p.thinking)
        });
        let rationale = match own {
            Some(thinking) => {
                report.own_samples += 1;
                thinking
            }
            None => {
                report.gold_fallback += 1;
                e.rationale.clone()
            }
        };
        data.push(crate::codec::Encoded {
            prompt,
            response: label_first.response_ids(&rationale, e.grade)?,
            grade: e.grade,
            target: None,
        });
        report.prompts += 1;
    }
    drop(sampler);
    let (model, sft) = crate::sft::train(model, &label_first, &data, &run.sft, on_step)?;
    report.losses = sft.losses;
    Ok((model, report))
}
