//! The policy abstraction and the generic GRPO training step.

use burn::module::Module;
use burn::optim::{GradientsParams, LearningRate, ModuleOptimizer};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::loss::{host_values, mask_counts};
use crate::{grpo_loss, GrpoConfig, GrpoError, GrpoStats};

/// A right-padded batch of token sequences (prompt followed by response) with the response
/// mask.
///
/// * `input_ids`: `[batch, seq]` token ids;
/// * `mask`: `[batch, seq]`, `1.0` on response tokens and `0.0` on prompt tokens, padding
///   and position 0.
///
/// ```
/// use taosr1_grpo::TokenBatch;
///
/// // prompt [1, 7], response [4, 2]; prompt [1], response [5]
/// let batch = TokenBatch::from_sequences(
///     &[vec![1, 7, 4, 2], vec![1, 5]],
///     &[2, 1],
///     0,
///     &Default::default(),
/// )
/// .unwrap();
/// assert_eq!(batch.input_ids.dims(), [2, 4]);
/// let mask: Vec<f32> = batch.mask.into_data().try_to_vec_as().unwrap();
/// assert_eq!(mask, vec![0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TokenBatch {
    /// Token ids, `[batch, seq]`.
    pub input_ids: Tensor<2, Int>,
    /// Response mask, `[batch, seq]`.
    pub mask: Tensor<2>,
}

impl TokenBatch {
    /// Wraps existing tensors after checking that their shapes agree.
    ///
    /// # Errors
    /// [`GrpoError::ShapeMismatch`] when `mask` and `input_ids` differ in shape.
    ///
    /// ```
    /// use burn::tensor::{Int, Tensor};
    /// use taosr1_grpo::TokenBatch;
    ///
    /// let dev = Default::default();
    /// let ids = Tensor::<2, Int>::from_ints([[1, 2, 3]], &dev);
    /// let mask = Tensor::<2>::from_floats([[0.0, 1.0, 1.0]], &dev);
    /// assert!(TokenBatch::new(ids.clone(), mask).is_ok());
    /// let bad = Tensor::<2>::from_floats([[0.0, 1.0]], &dev);
    /// assert!(TokenBatch::new(ids, bad).is_err());
    /// ```
    pub fn new(input_ids: Tensor<2, Int>, mask: Tensor<2>) -> Result<Self, GrpoError> {
        if input_ids.dims() != mask.dims() {
            return Err(GrpoError::ShapeMismatch {
                name: "mask",
                expected: input_ids.dims().to_vec(),
                actual: mask.dims().to_vec(),
            });
        }
        Ok(Self { input_ids, mask })
    }

    /// Builds a right-padded batch from token sequences: `sequences[i]` is prompt followed
    /// by response, and its first `prompt_lens[i]` tokens are the prompt. Shorter sequences
    /// are padded with `pad_id` (masked out).
    ///
    /// # Errors
    /// * [`GrpoError::EmptyBatch`] when `sequences` is empty;
    /// * [`GrpoError::ShapeMismatch`] when `prompt_lens.len() != sequences.len()`;
    /// * [`GrpoError::InvalidSequence`] when a prompt is empty (position 0 has no
    ///   log-probability) or a sequence has no response token.
    ///
    /// ```
    /// use taosr1_grpo::{GrpoError, TokenBatch};
    /// let err = TokenBatch::from_sequences(&[vec![1, 2]], &[2], 0, &Default::default())
    ///     .unwrap_err();
    /// assert!(matches!(err, GrpoError::InvalidSequence { index: 0, .. }));
    /// ```
    pub fn from_sequences(
        sequences: &[Vec<u32>],
        prompt_lens: &[usize],
        pad_id: u32,
        device: &Device,
    ) -> Result<Self, GrpoError> {
        if sequences.is_empty() {
            return Err(GrpoError::EmptyBatch {
                name: "sequences",
                shape: vec![0],
            });
        }
        if prompt_lens.len() != sequences.len() {
            return Err(GrpoError::ShapeMismatch {
                name: "prompt_lens",
                expected: vec![sequences.len()],
                actual: vec![prompt_lens.len()],
            });
        }
        // an empty prompt or response is refused by `from_pairs`; a prompt longer than its
        // sequence cannot even be split
        if let Some((index, (s, &p))) = sequences
            .iter()
            .zip(prompt_lens)
            .enumerate()
            .find(|&(_, (s, &p))| p > s.len())
        {
            return Err(GrpoError::InvalidSequence {
                index,
                reason: format!(
                    "prompt length {p} leaves no response token in a sequence of {}",
                    s.len()
                ),
            });
        }
        let pairs: Vec<(&[u32], &[u32])> = sequences
            .iter()
            .zip(prompt_lens)
            .map(|(s, &p)| (&s[..p], &s[p..]))
            .collect();
        Self::from_pairs(&pairs, pad_id, device)
    }

    /// Builds a right-padded batch from `(prompt, response)` token slices: each row is the
    /// prompt followed by the response, the mask marks the response tokens, and shorter rows
    /// are padded with `pad_id` (masked out).
    ///
    /// # Errors
    /// * [`GrpoError::EmptyBatch`] when `pairs` is empty;
    /// * [`GrpoError::InvalidSequence`] when a prompt or a response is empty.
    ///
    /// ```
    /// use taosr1_grpo::TokenBatch;
    /// let b = TokenBatch::from_pairs(&[(&[1, 7][..], &[4, 2][..]), (&[1][..], &[5][..])], 0, &Default::default())
    ///     .unwrap();
    /// let mask: Vec<f32> = b.mask.into_data().try_to_vec_as().unwrap();
    /// assert_eq!(mask, vec![0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
    /// ```
    pub fn from_pairs(
        pairs: &[(&[u32], &[u32])],
        pad_id: u32,
        device: &Device,
    ) -> Result<Self, GrpoError> {
        if pairs.is_empty() {
            return Err(GrpoError::EmptyBatch {
                name: "pairs",
                shape: vec![0],
            });
        }
        for (index, (p, r)) in pairs.iter().enumerate() {
            if p.is_empty() {
                return Err(GrpoError::InvalidSequence {
                    index,
                    reason: "prompt length is 0; the first token has no log-probability".into(),
                });
            }
            if r.is_empty() {
                return Err(GrpoError::InvalidSequence {
                    index,
                    reason: format!(
                        "prompt length {} leaves no response token in a sequence of {}",
                        p.len(),
                        p.len()
                    ),
                });
            }
        }
        let batch = pairs.len();
        let seq = pairs
            .iter()
            .map(|(p, r)| p.len() + r.len())
            .max()
            .unwrap_or(0);
        let mut ids = Vec::with_capacity(batch * seq);
        let mut mask = Vec::with_capacity(batch * seq);
        for (p, r) in pairs {
            let pad = seq - p.len() - r.len();
            ids.extend(p.iter().chain(r.iter()).map(|&t| i64::from(t)));
            ids.extend(std::iter::repeat_n(i64::from(pad_id), pad));
            mask.extend(std::iter::repeat_n(0.0f32, p.len()));
            mask.extend(std::iter::repeat_n(1.0f32, r.len()));
            mask.extend(std::iter::repeat_n(0.0f32, pad));
        }
        Ok(Self {
            input_ids: Tensor::from_data(TensorData::new(ids, [batch, seq]), device),
            mask: Tensor::from_data(TensorData::new(mask, [batch, seq]), device),
        })
    }
}

/// A language-model policy, seen only through per-token log-probabilities.
///
/// Implement it for your model: row `b`, column `t` of the output is
/// `log p(input_ids[b, t] | input_ids[b, ..t])` for `t >= 1`; column 0 has no prediction and
/// must be `0.0` (it is always masked out). The output shape must equal
/// `batch.input_ids.dims()`. [`token_logprobs_from_logits`] does the shift-and-gather from
/// next-token logits.
///
/// ```
/// use burn::tensor::{Tensor};
/// use taosr1_grpo::{Policy, TokenBatch};
///
/// /// Uniform over a vocabulary of 4 tokens.
/// struct Uniform;
/// impl Policy for Uniform {
///     fn token_logprobs(&self, batch: &TokenBatch) -> Tensor<2> {
///         let [b, s] = batch.input_ids.dims();
///         let dev = batch.input_ids.device();
///         let lp = Tensor::full([b, s], -(4.0f32.ln()), &dev);
///         // column 0 carries no prediction
///         lp.slice_assign([0..b, 0..1], Tensor::zeros([b, 1], &dev))
///     }
/// }
/// let batch = TokenBatch::from_sequences(&[vec![0, 1, 2]], &[1], 0, &Default::default()).unwrap();
/// let lp: Vec<f32> = Uniform.token_logprobs(&batch).into_data().try_to_vec_as().unwrap();
/// assert_eq!(lp[0], 0.0);
/// ```
pub trait Policy {
    /// Per-token log-probabilities, `[batch, seq]`, column 0 = 0.
    fn token_logprobs(&self, batch: &TokenBatch) -> Tensor<2>;
}

/// `policy.token_logprobs(batch)`, refusing an output whose shape is not the batch's.
pub(crate) fn checked_token_logprobs<M: Policy>(
    policy: &M,
    batch: &TokenBatch,
) -> Result<Tensor<2>, GrpoError> {
    let logp = policy.token_logprobs(batch);
    let dims = batch.input_ids.dims();
    if logp.dims() != dims {
        return Err(GrpoError::ShapeMismatch {
            name: "policy output (token_logprobs)",
            expected: dims.to_vec(),
            actual: logp.dims().to_vec(),
        });
    }
    Ok(logp)
}

/// Turns next-token logits into the per-token log-probabilities [`Policy`] returns.
///
/// `logits[b, t]` (shape `[batch, seq, vocab]`) scores the token at position `t + 1`, as a
/// causal LM produces. The result `[batch, seq]` has
/// `out[b, t] = log_softmax(logits[b, t - 1])[input_ids[b, t]]` and `out[b, 0] = 0`.
///
/// # Errors
/// * [`GrpoError::ShapeMismatch`] when `logits` is not `[batch, seq, _]` for `input_ids`'s
///   `[batch, seq]`;
/// * [`GrpoError::EmptyBatch`] for a zero-sized batch, sequence or vocabulary;
/// * [`GrpoError::TokenOutOfVocab`] for an id outside `0..vocab` (position 0 is not
///   checked: it is never looked up).
///
/// ```
/// use burn::tensor::{Int, Tensor};
/// use taosr1_grpo::token_logprobs_from_logits;
///
/// let dev = Default::default();
/// // uniform logits over 2 tokens
/// let logits = Tensor::<3>::zeros([1, 3, 2], &dev);
/// let ids = Tensor::<2, Int>::from_ints([[0, 1, 0]], &dev);
/// let lp: Vec<f32> = token_logprobs_from_logits(logits, ids).unwrap().into_data().try_to_vec_as().unwrap();
/// assert_eq!(lp[0], 0.0);
/// assert!((lp[1] - 0.5f32.ln()).abs() < 1e-6);
/// ```
pub fn token_logprobs_from_logits(
    logits: Tensor<3>,
    input_ids: Tensor<2, Int>,
) -> Result<Tensor<2>, GrpoError> {
    let [batch, seq] = input_ids.dims();
    let [lb, ls, vocab] = logits.dims();
    if lb != batch || ls != seq {
        return Err(GrpoError::ShapeMismatch {
            name: "logits",
            expected: vec![batch, seq, vocab],
            actual: vec![lb, ls, vocab],
        });
    }
    if batch == 0 || seq == 0 || vocab == 0 {
        return Err(GrpoError::EmptyBatch {
            name: "logits",
            shape: vec![lb, ls, vocab],
        });
    }
    let device = logits.device();
    let dtype = logits.dtype();
    if seq == 1 {
        return Ok(Tensor::zeros([batch, 1], (&device, dtype)));
    }
    let targets = input_ids.narrow(1, 1, seq - 1);
    let ids: Vec<i64> = targets.to_data().iter::<i64>().collect();
    if let Some((i, &id)) = ids
        .iter()
        .enumerate()
        .find(|&(_, &id)| id < 0 || id as u64 >= vocab as u64)
    {
        return Err(GrpoError::TokenOutOfVocab {
            row: i / (seq - 1),
            col: i % (seq - 1) + 1,
            id,
            vocab,
        });
    }
    let lp = log_softmax(logits.narrow(1, 0, seq - 1), 2);
    let picked = lp
        .gather(2, targets.unsqueeze_dim::<3>(2))
        .squeeze_dim::<2>(2);
    Ok(Tensor::cat(
        vec![Tensor::zeros([batch, 1], (&device, dtype)), picked],
        1,
    ))
}

/// One GRPO optimisation step: forward the policy, compute [`grpo_loss`], backpropagate
/// and let `optimizer` update the parameters.
///
/// * `old_logp`: log-probabilities of the policy that sampled the rollouts, `[batch, seq]`;
///   `None` means "the current policy" (a single on-policy update: ratio ≡ 1, gradient is
///   the plain policy gradient).
/// * `ref_logp`: log-probabilities of the frozen reference policy (computed without
///   gradient, e.g. from a `valid()` copy and brought back with `Tensor::from_inner`).
/// * `advantages`: `[batch]`, one per sequence.
///
/// Both constant inputs are detached here, so passing tracked tensors is harmless.
///
/// Returns the updated policy and the loss diagnostics. The optimizer step is skipped
/// (nothing is updated) whenever an error is returned.
///
/// **Ownership on error**: the policy is moved in, as `ModuleOptimizer::step` requires, and is
/// dropped when the step fails. Burn modules are cheap to clone (parameters are
/// reference-counted), so pass `policy.clone()` if you want to keep going after an error.
///
/// # Errors
/// * [`GrpoError::ShapeMismatch`] when the policy output or another input does not match
///   `batch.input_ids`;
/// * everything [`grpo_loss`] returns (bad mask, NaN advantage, non-finite loss, ...).
///
/// # Example
/// ```
/// use burn::module::{Module, Param};
/// use burn::optim::AdamConfig;
/// use burn::tensor::{Tensor};
/// use taosr1_grpo::{grpo_step, GrpoConfig, Policy, TokenBatch};
///
/// /// A unigram model over a 3-token vocabulary.
/// #[derive(Module, Debug)]
/// struct Unigram {
///     logits: Param<Tensor<1>>,
/// }
/// impl Policy for Unigram {
///     fn token_logprobs(&self, batch: &TokenBatch) -> Tensor<2> {
///         let [b, s] = batch.input_ids.dims();
///         let lp = burn::tensor::activation::log_softmax(self.logits.val(), 0);
///         let flat = batch.input_ids.clone().reshape([b * s]);
///         let out = lp.select(0, flat).reshape([b, s]);
///         out * Tensor::ones([b, s], &batch.input_ids.device()).slice_assign(
///             [0..b, 0..1],
///             Tensor::zeros([b, 1], &batch.input_ids.device()),
///         )
///     }
/// }
///
/// let dev = burn::tensor::Device::default().autodiff();
/// let policy = Unigram { logits: Param::from_tensor(Tensor::zeros([3], &dev)) };
/// let mut opt = AdamConfig::new().init();
/// // two rollouts of one prompt: token 2 (reward 1) and token 1 (reward 0)
/// let batch = TokenBatch::from_sequences(&[vec![0, 2], vec![0, 1]], &[1, 1], 0, &dev).unwrap();
/// let adv = Tensor::<1>::from_floats([1.0, -1.0], &dev);
/// let ref_logp = policy.token_logprobs(&batch).detach();
/// let (policy, stats) =
///     grpo_step(policy, &mut opt, 0.1, &batch, None, ref_logp, adv, &GrpoConfig::default()).unwrap();
/// assert_eq!(stats.response_tokens, 2);
/// let logits: Vec<f32> = policy.logits.val().into_data().try_to_vec_as().unwrap();
/// assert!(logits[2] > logits[1]);
/// ```
#[allow(clippy::too_many_arguments)]
pub fn grpo_step<M>(
    policy: M,
    optimizer: &mut ModuleOptimizer,
    lr: LearningRate,
    batch: &TokenBatch,
    old_logp: Option<Tensor<2>>,
    ref_logp: Tensor<2>,
    advantages: Tensor<1>,
    config: &GrpoConfig,
) -> Result<(M, GrpoStats), GrpoError>
where
    M: Policy + Module,
{
    let dims = batch.input_ids.dims();
    if batch.mask.dims() != dims {
        return Err(GrpoError::ShapeMismatch {
            name: "batch.mask",
            expected: dims.to_vec(),
            actual: batch.mask.dims().to_vec(),
        });
    }
    // Validate cheap inputs before paying for the forward pass.
    config.validate()?;
    if dims[0] == 0 || dims[1] == 0 {
        return Err(GrpoError::EmptyBatch {
            name: "batch.input_ids",
            shape: dims.to_vec(),
        });
    }
    mask_counts(&host_values(batch.mask.clone()), dims[0], dims[1])?;

    let logp = checked_token_logprobs(&policy, batch)?;
    let old_logp = match old_logp {
        Some(t) => t.detach(),
        None => logp.clone().detach(),
    };
    let out = grpo_loss(
        logp,
        old_logp,
        ref_logp.detach(),
        advantages.detach(),
        batch.mask.clone(),
        config,
    )?;
    let grads = out.loss.backward();
    let grads = GradientsParams::from_grads(grads, &policy);
    let policy = optimizer.step(lr, policy, grads);
    Ok((policy, out.stats))
}
