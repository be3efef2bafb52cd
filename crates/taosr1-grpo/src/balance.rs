//! Class-balanced prompt order for difficulty-based dynamic sampling.

use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Reorders `prompts` so that their classes (e.g. gold relevance grades) take turns: each
/// class is shuffled (seeded), then one prompt of every class that has prompts left is taken
/// in class order, round after round. Any prefix of the result holds each class within one
/// prompt of every other class that still has prompts, so a trainer that consumes the stream
/// (e.g. [`crate::GrpoTrainer::step`] with dynamic sampling) sees the grades evenly instead of
/// in the data's proportions — TaoSR1's class-balanced sampling, which keeps a rare grade from
/// vanishing from the kept groups. Every prompt appears exactly once.
///
/// ```
/// let grades = [3, 3, 3, 3, 0, 1, 3, 2, 3, 3];
/// let order = taosr1_grpo::class_balanced(grades.to_vec(), |g| *g, 4, 7);
/// assert_eq!(order.len(), grades.len());
/// // the first four prompts are one of each class
/// let mut first: Vec<usize> = order[..4].to_vec();
/// first.sort();
/// assert_eq!(first, [0, 1, 2, 3]);
/// ```
///
/// A class index `>= num_classes` is kept, in a last class of its own at the end of each
/// round (nothing is dropped silently).
pub fn class_balanced<P>(
    prompts: Vec<P>,
    class_of: impl Fn(&P) -> usize,
    num_classes: usize,
    seed: u64,
) -> Vec<P> {
    let mut buckets: Vec<Vec<P>> = (0..=num_classes).map(|_| Vec::new()).collect();
    for p in prompts {
        let c = class_of(&p).min(num_classes);
        buckets[c].push(p);
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    for b in &mut buckets {
        b.shuffle(&mut rng);
        b.reverse(); // pop() from the back takes the shuffled order front to back
    }
    let total: usize = buckets.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(total);
    while out.len() < total {
        for b in &mut buckets {
            if let Some(p) = b.pop() {
                out.push(p);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn balanced_prefixes_and_a_permutation(classes in proptest::collection::vec(0usize..5, 0..200), seed in 0u64..1000) {
            let items: Vec<(usize, usize)> = classes.iter().copied().enumerate().collect();
            let order = class_balanced(items.clone(), |(_, c)| *c, 4, seed);
            // a permutation of the input
            let mut ids: Vec<usize> = order.iter().map(|(i, _)| *i).collect();
            ids.sort();
            prop_assert_eq!(ids, (0..items.len()).collect::<Vec<_>>());
            // in every prefix, two classes that both still have prompts differ by at most one
            let totals: Vec<usize> = (0..=4).map(|c| classes.iter().filter(|&&x| x.min(4) == c).count()).collect();
            let mut seen = vec![0usize; 5];
            for (_, c) in &order {
                seen[(*c).min(4)] += 1;
                for a in 0..5 {
                    for b in 0..5 {
                        if seen[a] < totals[a] && seen[b] < totals[b] {
                            prop_assert!(seen[a].abs_diff(seen[b]) <= 1, "{:?}", seen);
                        }
                    }
                }
            }
            // seeded
            prop_assert_eq!(class_balanced(items.clone(), |(_, c)| *c, 4, seed), order);
        }
    }
}
