//! Stage 2 (offline pass@N sampling + DPO) and stage 3 (difficulty-based dynamic sampling +
//! GRPO) of TaoSR1, composed from `taosr1-dpo`, `taosr1-grpo` and `taosr1-rewards` with our
//! [`Transformer`].
//!
//! Both stages sample complete responses (`<think> … </think> <answer> Lx </answer> <eos>`)
//! from the current model with temperature sampling, score them with a
//! [`CompositeReward`] against the gold grade, and train on the scored responses:
//!
//! * [`run_dpo`]: sample `N` responses for each training prompt **once** with the SFT model
//!   (offline), build (correct, incorrect) pairs with [`build_pairs`], and minimise the DPO
//!   loss of the policy against the frozen SFT model as reference;
//! * [`run_grpo`]: at every step fill a batch with [`DynamicSampler`] (groups whose rollouts are
//!   all correct or all wrong are dropped and replaced from further prompts), compute
//!   group-relative advantages and take one clipped-ratio step with a k3 KL penalty to the
//!   frozen starting model.

use burn::module::{AutodiffModule, Module};
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};
use taosr1_cot::{Example, Grade};
use taosr1_dpo::{
    build_pairs, dpo_loss, mean_pass_at_k, pass_at_n, sequence_logprob, DpoConfig, PairPolicy,
    PairStats, PreferencePair, ScoredGroup,
};
use taosr1_grpo::{
    grpo_step, DynamicSampler, DynamicSamplingConfig, DynamicSamplingStats, GrpoConfig, Policy,
    Rollout, TokenBatch,
};
use taosr1_model::{generate, SamplingConfig, Transformer};
use taosr1_rewards::{CompositeReward, Correctness, RewardTerm, Strictness};

use crate::codec::Codec;
use crate::sft::lr_at;
use crate::Error;

/// Our [`Transformer`] as a [`taosr1_grpo::Policy`] (a newtype, because both the trait and the
/// model live in other crates).
#[derive(Module, Debug)]
pub struct PolicyModel<B: Backend> {
    /// The language model.
    pub lm: Transformer<B>,
}

impl<B: Backend> Policy<B> for PolicyModel<B> {
    fn token_logprobs(&self, batch: &TokenBatch<B>) -> Tensor<B, 2> {
        self.lm.token_logprobs(batch.input_ids.clone())
    }
}

/// How responses are sampled for DPO and GRPO.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolloutConfig {
    /// Sampling temperature (`> 0`: the point is diversity).
    pub temperature: f32,
    /// Nucleus threshold.
    pub top_p: f32,
    /// Most new tokens per response (thinking + answer + `<eos>`).
    pub max_new_tokens: usize,
}

impl Default for RolloutConfig {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_p: 1.0,
            max_new_tokens: 64,
        }
    }
}

/// The reward both stages optimise: exact grade correctness (weight 1) plus a small format
/// term (weight 0.1), parsed leniently; unparseable output scores 0 (see
/// [`taosr1_rewards::UnparseableReward`]). A rollout counts as *correct* when its parsed grade
/// equals the gold grade.
pub fn default_reward() -> Result<CompositeReward, Error> {
    Ok(CompositeReward::builder()
        .term(1.0, RewardTerm::Correctness(Correctness::Exact))
        .term(0.1, RewardTerm::Format(Default::default()))
        .strictness(Strictness::Lenient)
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
pub fn sample_responses<B: Backend, R: Rng + ?Sized>(
    model: &Transformer<B>,
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
    let sampling = SamplingConfig::sampled(cfg.temperature, cfg.top_p, cfg.max_new_tokens);
    let gens = generate(
        model,
        &prompts,
        tok.pad_id(),
        &[tok.eos_id()],
        &sampling,
        rng,
    )?;
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

// ------------------------------------------------------------------------------------------
// Stage 2: pass@N + DPO
// ------------------------------------------------------------------------------------------

/// Settings of stage 2.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DpoRun {
    /// Training prompts sampled (the first `prompts` of the train split).
    pub prompts: usize,
    /// Samples per prompt (the N of pass@N).
    pub n: usize,
    /// How the samples are drawn.
    pub rollout: RolloutConfig,
    /// Loss settings (β, loss kind, label smoothing).
    pub dpo: DpoConfig,
    /// Pair construction.
    pub pairs: PairPolicy,
    /// Passes over the pairs.
    pub epochs: usize,
    /// Pairs per optimizer step.
    pub batch_size: usize,
    /// Peak learning rate (AdamW, warm-up then cosine).
    pub learning_rate: f64,
    /// Weight of an extra mean per-token NLL term on the chosen responses (`0` = plain DPO).
    /// DPO alone can lower the likelihood of chosen *and* rejected responses and with it the
    /// quality of greedy decoding; anchoring the chosen responses (as in RPO, Pang et al.
    /// 2024) keeps the policy close to what it already does well.
    pub nll_weight: f32,
}

impl Default for DpoRun {
    fn default() -> Self {
        Self {
            prompts: 800,
            n: 8,
            rollout: RolloutConfig::default(),
            dpo: DpoConfig::default().with_beta(0.1),
            pairs: PairPolicy::default().with_max_pairs_per_prompt(2),
            epochs: 2,
            batch_size: 16,
            learning_rate: 1e-4,
            nll_weight: 1.0,
        }
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
}

/// One scored pass@N group with its gold response attached (for all-wrong prompts).
fn scored_groups<B: Backend, R: Rng + ?Sized>(
    model: &Transformer<B>,
    codec: &Codec,
    examples: &[Example],
    run: &DpoRun,
    reward: &CompositeReward,
    rng: &mut R,
) -> Result<Vec<ScoredGroup>, Error> {
    let mut sampler = |e: &Example, n: usize| -> Result<Vec<String>, Error> {
        let prompt = codec.prompt_ids(&e.item())?;
        Ok(
            sample_responses(model, codec, &prompt, n, &run.rollout, rng)?
                .into_iter()
                .map(|s| s.text)
                .collect(),
        )
    };
    let scorer = |e: &Example, text: &str| score(reward, text, e.grade);
    let groups = pass_at_n(examples, run.n, &mut sampler, scorer)?;
    Ok(groups
        .into_iter()
        .zip(examples)
        .map(|(g, e)| g.with_gold(codec.template().response(&e.rationale, e.grade)))
        .collect())
}

/// Token ids of a DPO pair: `(prompt + chosen + <eos>, prompt + rejected + <eos>)` with the
/// prompt length.
fn pair_ids(codec: &Codec, prompt: &[u32], pair: &PreferencePair) -> Result<[Vec<u32>; 2], Error> {
    let eos = codec.tokenizer().eos_id();
    let seq = |text: &str| -> Result<Vec<u32>, Error> {
        let mut ids = prompt.to_vec();
        ids.extend(codec.text_ids(text)?);
        ids.push(eos);
        Ok(ids)
    };
    Ok([seq(&pair.chosen)?, seq(&pair.rejected)?])
}

/// Sequence log-probabilities `[2k]` of `k` chosen then `k` rejected sequences, and the number
/// of response tokens of each.
fn pair_logprobs<B: Backend>(
    model: &Transformer<B>,
    seqs: &[Vec<u32>],
    prompt_lens: &[usize],
    pad: u32,
    device: &B::Device,
) -> Result<(Tensor<B, 1>, Tensor<B, 1>), Error> {
    let batch = TokenBatch::<B>::from_sequences(seqs, prompt_lens, pad, device)?;
    let logp = model.token_logprobs(batch.input_ids);
    let counts = batch.mask.clone().sum_dim(1).squeeze_dim::<1>(1);
    Ok((sequence_logprob(logp, batch.mask)?, counts))
}

/// Stage 2: offline pass@N sampling with the starting (SFT) model, pair construction, and DPO
/// against that model frozen as the reference. `on_step(step, total, loss)` sees every step.
pub fn run_dpo<B: AutodiffBackend, R: Rng + ?Sized>(
    model: Transformer<B>,
    codec: &Codec,
    train: &[Example],
    run: &DpoRun,
    rng: &mut R,
    mut on_step: impl FnMut(usize, usize, f32),
) -> Result<(Transformer<B>, DpoReport), Error> {
    if run.batch_size == 0 || run.epochs == 0 {
        return Err(Error::Input(
            "DPO needs a positive batch size and epoch count".into(),
        ));
    }
    let examples = &train[..run.prompts.min(train.len())];
    if examples.is_empty() {
        return Err(Error::Input(
            "DPO needs at least one training prompt".into(),
        ));
    }
    let reward = default_reward()?;
    let reference = model.valid();
    let groups = scored_groups(&reference, codec, examples, run, &reward, rng)?;
    let (pairs, pair_stats) = build_pairs(&groups, &run.pairs);
    let mut report = DpoReport {
        pass_at_1: mean_pass_at_k(&groups, 1)?,
        pass_at_n: mean_pass_at_k(&groups, run.n)?,
        pair_stats,
        ..DpoReport::default()
    };
    if pairs.is_empty() {
        return Ok((model, report));
    }
    let prompts: Vec<Vec<u32>> = examples
        .iter()
        .map(|e| codec.prompt_ids(&e.item()))
        .collect::<Result<_, _>>()?;
    let pad = codec.tokenizer().pad_id();
    let device = model.embed_tokens.weight.device();
    let inner_device = reference.embed_tokens.weight.device();
    // Batches of pairs: sequences `[chosen..., rejected...]` and the reference log-probs,
    // computed once with the frozen reference model.
    let mut batches = Vec::new();
    for chunk in pairs.chunks(run.batch_size) {
        let mut chosen = Vec::with_capacity(chunk.len());
        let mut rejected = Vec::with_capacity(chunk.len());
        for p in chunk {
            let prompt = &prompts[p.prompt_index];
            let [c, r] = pair_ids(codec, prompt, p)?;
            chosen.push(c);
            rejected.push(r);
        }
        let seqs: Vec<Vec<u32>> = chosen.into_iter().chain(rejected).collect();
        let lens: Vec<usize> = chunk
            .iter()
            .chain(chunk)
            .map(|p| prompts[p.prompt_index].len())
            .collect();
        let (ref_lp, _) = pair_logprobs(&reference, &seqs, &lens, pad, &inner_device)?;
        let ref_lp: Vec<f32> = ref_lp
            .into_data()
            .to_vec()
            .map_err(|e| Error::Input(format!("{e:?}")))?;
        batches.push((seqs, lens, ref_lp));
    }
    let total = batches.len() * run.epochs;
    let mut optim = AdamWConfig::new()
        .with_weight_decay(0.0)
        .with_grad_clipping(Some(burn::grad_clipping::GradientClippingConfig::Norm(1.0)))
        .init::<B, Transformer<B>>();
    let mut model = model;
    let mut order: Vec<usize> = (0..batches.len()).collect();
    for _ in 0..run.epochs {
        order.shuffle(rng);
        for &b in &order {
            let step = report.losses.len();
            let (seqs, lens, ref_lp) = &batches[b];
            let k = seqs.len() / 2;
            let (lp, counts) = pair_logprobs(&model, seqs, lens, pad, &device)?;
            let refs = Tensor::<B, 1>::from_data(TensorData::new(ref_lp.clone(), [2 * k]), &device);
            let chosen = lp.clone().narrow(0, 0, k);
            let out = dpo_loss(
                chosen.clone(),
                lp.narrow(0, k, k),
                refs.clone().narrow(0, 0, k),
                refs.narrow(0, k, k),
                &run.dpo,
            )?;
            let mut loss = out.loss;
            if run.nll_weight > 0.0 {
                let nll = (chosen / counts.narrow(0, 0, k)).mean().neg();
                loss = loss + nll.mul_scalar(run.nll_weight);
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            let lr = lr_at(step, total, (total / 10).max(1), run.learning_rate);
            model = optim.step(lr, model, grads);
            report.losses.push(out.stats.loss);
            report.reward_accuracy.push(out.stats.reward_accuracy);
            on_step(step, total, out.stats.loss);
        }
    }
    Ok((model, report))
}

// ------------------------------------------------------------------------------------------
// Stage 3: dynamic sampling + GRPO
// ------------------------------------------------------------------------------------------

/// Settings of stage 3.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GrpoRun {
    /// Optimizer steps.
    pub steps: usize,
    /// Rollouts per prompt (the group size G).
    pub group_size: usize,
    /// Groups kept per step after dynamic sampling.
    pub groups_per_step: usize,
    /// Most prompts examined per step before training on a partial batch.
    pub max_prompts_per_step: usize,
    /// How rollouts are sampled.
    pub rollout: RolloutConfig,
    /// Loss settings (clip range, KL β, normalisation).
    pub grpo: GrpoConfig,
    /// Epsilon of the advantage normalisation.
    pub adv_eps: f32,
    /// Peak learning rate (AdamW, warm-up then cosine).
    pub learning_rate: f64,
}

impl Default for GrpoRun {
    fn default() -> Self {
        Self {
            steps: 40,
            group_size: 8,
            groups_per_step: 8,
            max_prompts_per_step: 64,
            rollout: RolloutConfig::default(),
            grpo: GrpoConfig::default(),
            adv_eps: 1e-4,
            learning_rate: 5e-4,
        }
    }
}

/// What happened at one GRPO step.
#[derive(Clone, Debug, PartialEq)]
pub struct GrpoStepLog {
    /// 0-based step.
    pub step: usize,
    /// Planned steps.
    pub total: usize,
    /// Loss, KL, clip fraction, ratio of the step.
    pub stats: taosr1_grpo::GrpoStats,
    /// Dynamic-sampling counts of the step.
    pub sampling: DynamicSamplingStats,
    /// Mean reward of the kept rollouts.
    pub mean_reward: f32,
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
/// starting model frozen as the KL reference.
pub fn run_grpo<B: AutodiffBackend, R: Rng + ?Sized>(
    model: Transformer<B>,
    codec: &Codec,
    train: &[Example],
    run: &GrpoRun,
    rng: &mut R,
    mut on_step: impl FnMut(&GrpoStepLog),
) -> Result<(Transformer<B>, GrpoReport), Error> {
    if train.is_empty() {
        return Err(Error::Input(
            "GRPO needs at least one training prompt".into(),
        ));
    }
    let reward = default_reward()?;
    let reference = model.valid();
    let pad = codec.tokenizer().pad_id();
    let device = model.embed_tokens.weight.device();
    let inner_device = reference.embed_tokens.weight.device();
    let mut sampler = DynamicSampler::new(
        DynamicSamplingConfig::new(run.group_size, run.groups_per_step)
            .with_max_prompts(Some(run.max_prompts_per_step)),
    )?;
    let mut optim = AdamWConfig::new()
        .with_weight_decay(0.0)
        .with_grad_clipping(Some(burn::grad_clipping::GradientClippingConfig::Norm(1.0)))
        .init::<B, PolicyModel<B>>();
    let mut policy = PolicyModel { lm: model };
    let mut prompts = train.iter().cycle();
    let mut report = GrpoReport::default();
    for step in 0..run.steps {
        let current = policy.lm.valid();
        let batch = sampler.fill(&mut prompts, |e: &&Example, n| -> Result<_, Error> {
            let prompt = codec.prompt_ids(&e.item())?;
            sample_responses(&current, codec, &prompt, n, &run.rollout, rng)?
                .into_iter()
                .map(|s| {
                    let (r, ok) = score(&reward, &s.text, e.grade)?;
                    let mut seq = prompt.clone();
                    seq.extend(&s.tokens);
                    Ok(Rollout::new((seq, prompt.len()), r, ok))
                })
                .collect()
        })?;
        if batch.groups.is_empty() {
            // every examined prompt was all-correct or all-wrong: nothing to learn from
            continue;
        }
        let (seqs, lens): (Vec<Vec<u32>>, Vec<usize>) =
            batch.rollouts().map(|(_, r)| r.response.clone()).unzip();
        let rewards: Vec<f32> = batch.rollouts().map(|(_, r)| r.reward).collect();
        let adv = batch.advantages(run.adv_eps)?;
        let tokens = TokenBatch::<B>::from_sequences(&seqs, &lens, pad, &device)?;
        let inner =
            TokenBatch::<B::InnerBackend>::from_sequences(&seqs, &lens, pad, &inner_device)?;
        let ref_logp = Tensor::<B, 2>::from_inner(reference.token_logprobs(inner.input_ids));
        let adv = Tensor::<B, 1>::from_data(TensorData::new(adv.clone(), [adv.len()]), &device);
        let lr = lr_at(step, run.steps, (run.steps / 10).max(1), run.learning_rate);
        let (next, stats) = grpo_step(
            policy, &mut optim, lr, &tokens, None, ref_logp, adv, &run.grpo,
        )?;
        policy = next;
        let log = GrpoStepLog {
            step,
            total: run.steps,
            stats,
            sampling: batch.stats,
            mean_reward: rewards.iter().sum::<f32>() / rewards.len() as f32,
        };
        on_step(&log);
        report.steps.push(log);
    }
    report.sampling = sampler.total_stats();
    Ok((policy.lm, report))
}
