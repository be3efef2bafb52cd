//! Offline pass@N sampling: draw `N` responses per prompt from the SFT model, score them, and
//! estimate pass@k.

use serde::{Deserialize, Serialize};

use crate::{BoxError, DpoError};

/// Something that samples `n` responses for a prompt (usually the SFT model with
/// temperature sampling).
///
/// Closures `FnMut(&P, usize) -> Result<Vec<String>, E>` implement it, so a sampler can be a
/// struct holding a model or just a closure:
///
/// ```
/// use taosr1_dpo::ResponseSampler;
///
/// let mut echo = |p: &String, n: usize| Ok::<_, String>(vec![p.clone(); n]);
/// assert_eq!(echo.sample(&"hi".to_string(), 2).unwrap(), vec!["hi", "hi"]);
/// ```
pub trait ResponseSampler<P> {
    /// The sampler's error type; anything convertible to a boxed error (`String`, `&str`,
    /// every `std::error::Error + Send + Sync`).
    type Error: Into<BoxError>;

    /// Returns exactly `n` sampled responses for `prompt`.
    fn sample(&mut self, prompt: &P, n: usize) -> Result<Vec<String>, Self::Error>;
}

impl<P, F, E> ResponseSampler<P> for F
where
    F: FnMut(&P, usize) -> Result<Vec<String>, E>,
    E: Into<BoxError>,
{
    type Error = E;

    fn sample(&mut self, prompt: &P, n: usize) -> Result<Vec<String>, E> {
        self(prompt, n)
    }
}

/// One scored response.
///
/// ```
/// let s = taosr1_dpo::ScoredSample::new("<answer> L4 </answer>", 1.0, true);
/// assert!(s.correct);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScoredSample {
    /// The response text.
    pub text: String,
    /// Its reward.
    pub reward: f32,
    /// Whether it is correct (e.g. predicts the gold grade).
    pub correct: bool,
}

impl ScoredSample {
    /// Creates a scored sample.
    ///
    /// ```
    /// let s = taosr1_dpo::ScoredSample::new("x", 0.0, false);
    /// assert_eq!(s.text, "x");
    /// ```
    pub fn new(text: impl Into<String>, reward: f32, correct: bool) -> Self {
        Self {
            text: text.into(),
            reward,
            correct,
        }
    }
}

/// The scored samples of one prompt, plus an optional gold (reference) response.
///
/// ```
/// use taosr1_dpo::{ScoredGroup, ScoredSample};
///
/// let g = ScoredGroup::new(0, vec![ScoredSample::new("a", 1.0, true), ScoredSample::new("b", 0.0, false)])
///     .with_gold("gold answer");
/// assert_eq!(g.num_correct(), 1);
/// assert!(!g.all_correct() && !g.all_wrong());
/// assert_eq!(g.gold.as_deref(), Some("gold answer"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScoredGroup {
    /// Index of the prompt in the slice given to [`pass_at_n`].
    pub prompt_index: usize,
    /// The scored samples.
    pub samples: Vec<ScoredSample>,
    /// A known-good response (e.g. the SFT target), used as `chosen` for prompts the model
    /// never gets right (see [`AllWrongPolicy`](crate::AllWrongPolicy)).
    pub gold: Option<String>,
}

impl ScoredGroup {
    /// Creates a group without gold response.
    ///
    /// ```
    /// let g = taosr1_dpo::ScoredGroup::new(3, vec![]);
    /// assert_eq!(g.prompt_index, 3);
    /// assert!(g.gold.is_none());
    /// ```
    pub fn new(prompt_index: usize, samples: Vec<ScoredSample>) -> Self {
        Self {
            prompt_index,
            samples,
            gold: None,
        }
    }

    /// Attaches a gold response.
    ///
    /// ```
    /// let g = taosr1_dpo::ScoredGroup::new(0, vec![]).with_gold("ref");
    /// assert_eq!(g.gold.unwrap(), "ref");
    /// ```
    pub fn with_gold(mut self, gold: impl Into<String>) -> Self {
        self.gold = Some(gold.into());
        self
    }

    /// Number of correct samples.
    ///
    /// ```
    /// use taosr1_dpo::{ScoredGroup, ScoredSample};
    /// let g = ScoredGroup::new(0, vec![ScoredSample::new("a", 1.0, true)]);
    /// assert_eq!(g.num_correct(), 1);
    /// ```
    pub fn num_correct(&self) -> usize {
        self.samples.iter().filter(|s| s.correct).count()
    }

    /// `true` when there is at least one sample and all are correct.
    ///
    /// ```
    /// use taosr1_dpo::{ScoredGroup, ScoredSample};
    /// assert!(ScoredGroup::new(0, vec![ScoredSample::new("a", 1.0, true)]).all_correct());
    /// assert!(!ScoredGroup::new(0, vec![]).all_correct());
    /// ```
    pub fn all_correct(&self) -> bool {
        !self.samples.is_empty() && self.samples.iter().all(|s| s.correct)
    }

    /// `true` when there is at least one sample and none is correct.
    ///
    /// ```
    /// use taosr1_dpo::{ScoredGroup, ScoredSample};
    /// assert!(ScoredGroup::new(0, vec![ScoredSample::new("a", 0.0, false)]).all_wrong());
    /// assert!(!ScoredGroup::new(0, vec![]).all_wrong());
    /// ```
    pub fn all_wrong(&self) -> bool {
        !self.samples.is_empty() && self.samples.iter().all(|s| !s.correct)
    }
}

/// Offline pass@N: samples `n` responses for every prompt and scores each one.
///
/// `scorer(&prompt, &response)` returns `(reward, correct)`; it receives the prompt because
/// correctness usually depends on the prompt's gold label. Groups come back in prompt order
/// with `prompt_index` set and no gold response (attach one with
/// [`ScoredGroup::with_gold`]).
///
/// # Errors
/// * [`DpoError::InvalidConfig`] when `n == 0`;
/// * [`DpoError::Sampler`] / [`DpoError::Scorer`] wrapping the caller's errors;
/// * [`DpoError::SampleCount`] when the sampler does not return `n` responses;
/// * [`DpoError::NonFiniteReward`] for a NaN or infinite reward.
///
/// # Example
/// ```
/// use taosr1_dpo::{mean_pass_at_k, pass_at_n};
///
/// // prompts are gold answers; the "model" answers "a", "b", "c", "d" in turn
/// let prompts = ["a", "z"];
/// let answers = ["a", "b", "c", "d"];
/// let mut sampler = |_: &&str, n: usize| Ok::<_, String>(answers[..n].iter().map(|s| s.to_string()).collect());
/// let scorer = |gold: &&str, resp: &str| Ok::<_, String>((if resp == *gold { 1.0 } else { 0.0 }, resp == *gold));
/// let groups = pass_at_n(&prompts, 4, &mut sampler, scorer).unwrap();
/// assert_eq!(groups[0].num_correct(), 1);
/// assert!(groups[1].all_wrong());
/// // pass@1 = mean(1/4, 0) = 0.125
/// assert!((mean_pass_at_k(&groups, 1).unwrap() - 0.125).abs() < 1e-12);
/// ```
pub fn pass_at_n<P, S, F, E>(
    prompts: &[P],
    n: usize,
    sampler: &mut S,
    mut scorer: F,
) -> Result<Vec<ScoredGroup>, DpoError>
where
    S: ResponseSampler<P> + ?Sized,
    F: FnMut(&P, &str) -> Result<(f32, bool), E>,
    E: Into<BoxError>,
{
    if n == 0 {
        return Err(DpoError::InvalidConfig {
            field: "n",
            value: 0.0,
            reason: "must be at least 1",
        });
    }
    let mut groups = Vec::with_capacity(prompts.len());
    for (prompt_index, prompt) in prompts.iter().enumerate() {
        let responses = sampler.sample(prompt, n).map_err(|e| DpoError::Sampler {
            prompt_index,
            source: e.into(),
        })?;
        if responses.len() != n {
            return Err(DpoError::SampleCount {
                prompt_index,
                expected: n,
                actual: responses.len(),
            });
        }
        let mut samples = Vec::with_capacity(n);
        for (sample_index, text) in responses.into_iter().enumerate() {
            let (reward, correct) = scorer(prompt, &text).map_err(|e| DpoError::Scorer {
                prompt_index,
                sample_index,
                source: e.into(),
            })?;
            if !reward.is_finite() {
                return Err(DpoError::NonFiniteReward {
                    prompt_index,
                    sample_index,
                    value: reward,
                });
            }
            samples.push(ScoredSample {
                text,
                reward,
                correct,
            });
        }
        groups.push(ScoredGroup::new(prompt_index, samples));
    }
    Ok(groups)
}

/// Unbiased pass@k estimator for one prompt with `c` correct samples out of `n`:
/// `1 - C(n - c, k) / C(n, k)` (Chen et al., 2021), computed as a stable product
/// `1 - Π_{i = n-c+1}^{n} (1 - k / i)`.
///
/// # Errors
/// [`DpoError::InvalidCounts`] unless `1 <= k <= n` and `c <= n`.
///
/// ```
/// use taosr1_dpo::pass_at_k;
/// // n = 5, c = 2, k = 2: 1 - C(3,2)/C(5,2) = 1 - 3/10 = 0.7
/// assert!((pass_at_k(5, 2, 2).unwrap() - 0.7).abs() < 1e-12);
/// assert_eq!(pass_at_k(5, 0, 3).unwrap(), 0.0);
/// assert_eq!(pass_at_k(5, 3, 3).unwrap(), 1.0); // n - c < k: some correct sample is always drawn
/// ```
pub fn pass_at_k(n: usize, c: usize, k: usize) -> Result<f64, DpoError> {
    let bad = |reason| Err(DpoError::InvalidCounts { n, c, k, reason });
    if k == 0 {
        return bad("k must be at least 1");
    }
    if k > n {
        return bad("k must not exceed n");
    }
    if c > n {
        return bad("c must not exceed n");
    }
    if n - c < k {
        return Ok(1.0);
    }
    let mut prod = 1.0f64;
    for i in (n - c + 1)..=n {
        prod *= 1.0 - k as f64 / i as f64;
    }
    Ok(1.0 - prod)
}

/// Mean of [`pass_at_k`] over groups (each group's `n` is its number of samples).
///
/// # Errors
/// * [`DpoError::Empty`] when `groups` is empty;
/// * [`DpoError::InvalidCounts`] when a group has fewer than `k` samples or `k == 0`.
///
/// ```
/// use taosr1_dpo::{mean_pass_at_k, ScoredGroup, ScoredSample};
/// let g = |c: &[bool]| ScoredGroup::new(0, c.iter().map(|&x| ScoredSample::new("", 0.0, x)).collect());
/// let groups = [g(&[true, false]), g(&[false, false])];
/// assert_eq!(mean_pass_at_k(&groups, 2).unwrap(), 0.5);
/// ```
pub fn mean_pass_at_k(groups: &[ScoredGroup], k: usize) -> Result<f64, DpoError> {
    if groups.is_empty() {
        return Err(DpoError::Empty { name: "groups" });
    }
    let mut sum = 0.0;
    for g in groups {
        sum += pass_at_k(g.samples.len(), g.num_correct(), k)?;
    }
    Ok(sum / groups.len() as f64)
}
