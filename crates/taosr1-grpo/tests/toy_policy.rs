//! A learnable toy: GRPO with dynamic sampling must raise the reward of a unigram policy.
use burn::module::{Module, Param};
use burn::optim::AdamConfig;
use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Int, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use taosr1_grpo::{
    grpo_step, token_logprobs_from_logits, DynamicSampler, DynamicSamplingConfig, GrpoConfig,
    GrpoError, Policy, Rollout, TokenBatch,
};

const VOCAB: usize = 4;
const GOOD: u32 = 3;

/// A policy that ignores its context: one learnable logit per token.
#[derive(Module, Debug)]
struct Unigram {
    logits: Param<Tensor<1>>,
}

impl Policy for Unigram {
    fn token_logprobs(&self, batch: &TokenBatch) -> Tensor<2> {
        let [b, s] = batch.input_ids.dims();
        let lp = log_softmax(self.logits.val(), 0);
        let picked = lp
            .select(0, batch.input_ids.clone().reshape([b * s]))
            .reshape([b, s]);
        // column 0 has no prediction
        let keep = Tensor::<2>::ones([b, s], &batch.input_ids.device()).slice_assign(
            [0..b, 0..1],
            Tensor::zeros([b, 1], &batch.input_ids.device()),
        );
        picked * keep
    }
}

fn probs(p: &Unigram) -> Vec<f32> {
    softmax(p.logits.val(), 0)
        .into_data()
        .iter::<f32>()
        .collect()
}

#[test]
fn grpo_raises_the_reward_of_a_toy_policy() {
    let dev = burn::tensor::Device::default().autodiff();
    let mut rng = StdRng::seed_from_u64(7);
    let mut policy = Unigram {
        logits: Param::from_tensor(Tensor::zeros([VOCAB], &dev)),
    };
    let reference = policy.clone();
    let mut optim = AdamConfig::new().init();
    let cfg = GrpoConfig::default();
    let group_size = 8;
    let mut sampler =
        DynamicSampler::new(DynamicSamplingConfig::new(group_size, 2).with_max_prompts(Some(64)))
            .unwrap();

    let start = probs(&policy)[GOOD as usize];
    for _ in 0..25 {
        let p = probs(&policy);
        let batch = sampler
            .fill(std::iter::repeat(()), |_: &(), n| {
                Ok::<_, GrpoError>(
                    (0..n)
                        .map(|_| {
                            let u: f32 = rng.random();
                            let mut acc = 0.0;
                            let tok = p
                                .iter()
                                .position(|&q| {
                                    acc += q;
                                    u < acc
                                })
                                .unwrap_or(VOCAB - 1) as u32;
                            Rollout::new(tok, (tok == GOOD) as u8 as f32, tok == GOOD)
                        })
                        .collect(),
                )
            })
            .unwrap();
        if batch.groups.is_empty() {
            break; // policy solved everything
        }
        let adv = batch.advantages(1e-6).unwrap();
        let seqs: Vec<Vec<u32>> = batch.rollouts().map(|(_, r)| vec![0, r.response]).collect();
        let tb = TokenBatch::from_sequences(&seqs, &vec![1; seqs.len()], 0, &dev).unwrap();
        let ref_logp = Tensor::from_inner(reference.valid().token_logprobs(
            &TokenBatch::new(tb.input_ids.clone().inner(), tb.mask.clone().inner()).unwrap(),
        ));
        let adv = Tensor::<1>::from_data(TensorData::new(adv, [seqs.len()]), &dev);
        let (next, stats) =
            grpo_step(policy, &mut optim, 0.1, &tb, None, ref_logp, adv, &cfg).unwrap();
        assert!(stats.loss.is_finite());
        policy = next;
    }
    let end = probs(&policy)[GOOD as usize];
    assert!(start < 0.3 && end > 0.8, "p(good) went {start} -> {end}");
    eprintln!("p(good): {start} -> {end}");
    let st = sampler.total_stats();
    assert_eq!(st.kept + st.dropped(), st.prompts_seen);
}

#[test]
fn logits_helper_matches_manual_log_softmax() {
    let dev = burn::tensor::Device::default().autodiff();
    // logits for 2 positions over 3 tokens (the last position is never used)
    let logits =
        Tensor::<3>::from_floats([[[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [9.0, 9.0, 9.0]]], &dev);
    let ids = Tensor::<2, Int>::from_ints([[1, 2, 0]], &dev);
    let lp: Vec<f32> = token_logprobs_from_logits(logits.clone(), ids)
        .unwrap()
        .into_data()
        .try_to_vec_as()
        .unwrap();
    // log_softmax([1,2,3])[2] = 3 - ln(e + e^2 + e^3) = 3 - 3.4076059 = -0.4076059
    // log_softmax([0,0,0])[0] = -ln 3 = -1.0986123
    assert_eq!(lp[0], 0.0);
    assert!((lp[1] + 0.407_605_9).abs() < 1e-5);
    assert!((lp[2] + 1.098_612_3).abs() < 1e-5);

    let bad = Tensor::<2, Int>::from_ints([[1, 2, 3]], &dev);
    assert!(matches!(
        token_logprobs_from_logits(logits.clone(), bad),
        Err(GrpoError::TokenOutOfVocab {
            row: 0,
            col: 2,
            id: 3,
            vocab: 3
        })
    ));
    let short = Tensor::<2, Int>::from_ints([[1, 2]], &dev);
    assert!(matches!(
        token_logprobs_from_logits(logits, short),
        Err(GrpoError::ShapeMismatch { name: "logits", .. })
    ));
}

#[test]
fn step_rejects_a_policy_with_the_wrong_output_shape() {
    #[derive(Module, Debug)]
    struct Broken {
        w: Param<Tensor<1>>,
    }
    impl Policy for Broken {
        fn token_logprobs(&self, _batch: &TokenBatch) -> Tensor<2> {
            self.w.val().reshape([1, 1])
        }
    }
    let dev = burn::tensor::Device::default().autodiff();
    let policy = Broken {
        w: Param::from_tensor(Tensor::zeros([1], &dev)),
    };
    let mut optim = AdamConfig::new().init();
    let tb = TokenBatch::from_sequences(&[vec![0, 1]], &[1], 0, &dev).unwrap();
    let z = Tensor::<2>::zeros([1, 2], &dev);
    let err = grpo_step(
        policy,
        &mut optim,
        0.1,
        &tb,
        None,
        z,
        Tensor::zeros([1], &dev),
        &GrpoConfig::default(),
    )
    .unwrap_err();
    assert!(matches!(err, GrpoError::ShapeMismatch { .. }));
}
