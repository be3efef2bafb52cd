//! Deterministic synthetic relevance data for tests, examples and CPU-sized training runs.
//!
//! A small catalogue of eight product categories in four "near-miss" pairs (running shoes ~
//! hiking shoes, phone case ~ screen protector, laptop bag ~ backpack, coffee maker ~ electric
//! kettle), each with 4–5 brands and per-category attributes (`color`, `size`, `material`).
//! Queries name a category, optionally a brand (about half the time) and 0–2 attribute values;
//! products get a title `{brand} {modifier} {category} {color}`.
//!
//! The grade is the minimum over these checks, in this order (see [`judge`]):
//!
//! | check | rationale | grade |
//! |---|---|---|
//! | category unrelated | `category mismatch : running shoes vs phone case .` (stop) | L1 |
//! | category near miss | `category near miss : running shoes vs hiking shoes .` | L2 |
//! | query brand ≠ product brand | `brand mismatch : nike vs adidas .` | L2 |
//! | query attribute ≠ product's | `color mismatch : red vs blue .` | L3 |
//! | otherwise | `category match . brand match . color match .` | L4 |
//!
//! Examples are sampled so that grades are about L1 20 %, L2 30 %, L3 20 %, L4 30 %, with hard
//! cases (near misses, brand mismatches, attribute conflicts) making up half of the data.
//!
//! ```rust
//! use taosr1_cot::synth::{generate, judge, split, SynthConfig};
//!
//! let examples = generate(&SynthConfig { seed: 7, n_examples: 100 });
//! assert_eq!(examples.len(), 100);
//! let j = judge(&examples[0].item()).unwrap();
//! assert_eq!((j.rationale.as_str(), j.grade), (examples[0].rationale.as_str(), examples[0].grade));
//! let s = split(examples, 0.8, 0.1)?;
//! assert_eq!((s.train.len(), s.validation.len(), s.test.len()), (80, 10, 10));
//! # Ok::<(), taosr1_cot::CotError>(())
//! ```

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::data::{Example, Item, Product};
use crate::error::CotError;
use crate::grade::{Grade, GradeScale};
use crate::template::normalize_text;

/// Fraction of examples in the training split of the shipped data.
pub const TRAIN_FRAC: f64 = 0.8;
/// Fraction of examples in the validation split of the shipped data.
pub const VALIDATION_FRAC: f64 = 0.1;

/// Settings for [`generate`].
///
/// ```rust
/// let c = taosr1_cot::synth::SynthConfig::default();
/// assert_eq!((c.seed, c.n_examples), (20250817, 3000));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SynthConfig {
    /// Seed of the ChaCha8 generator; the output is a pure function of the config.
    pub seed: u64,
    /// Number of examples to generate.
    pub n_examples: usize,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 20250817,
            n_examples: 3000,
        }
    }
}

/// Train / validation / test partition of a data set (see [`split`]).
///
/// ```rust
/// use taosr1_cot::synth::{generate, split, SynthConfig};
///
/// let s = split(generate(&SynthConfig { seed: 1, n_examples: 10 }), 0.5, 0.2)?;
/// assert_eq!((s.train.len(), s.validation.len(), s.test.len()), (5, 2, 3));
/// # Ok::<(), taosr1_cot::CotError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Splits {
    /// Training examples.
    pub train: Vec<Example>,
    /// Validation examples.
    pub validation: Vec<Example>,
    /// Test examples.
    pub test: Vec<Example>,
}

/// The rule-based verdict for a query–product pair of the synthetic domain (see [`judge`]).
///
/// ```rust
/// use taosr1_cot::synth::{judge, Judgement};
/// use taosr1_cot::{Item, Product};
///
/// let item = Item {
///     query: "nike running shoes".into(),
///     product: Product { category: "running shoes".into(), brand: "adidas".into(), ..Product::default() },
///     ..Item::default()
/// };
/// let Judgement { rationale, grade } = judge(&item).unwrap();
/// assert_eq!(rationale, "category match . brand mismatch : nike vs adidas .");
/// assert_eq!(grade.index(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// The rationale, in the token convention.
    pub rationale: String,
    /// The grade on [`GradeScale::default`].
    pub grade: Grade,
}

struct Attr {
    key: &'static str,
    values: &'static [&'static str],
}

struct Category {
    name: &'static str,
    near: &'static str,
    brands: &'static [&'static str],
    modifiers: &'static [&'static str],
    attrs: &'static [Attr],
}

const COLORS: &[&str] = &["black", "white", "red", "blue", "grey", "green", "pink"];
const SHOE_SIZES: &[&str] = &["38", "39", "40", "41", "42", "43", "44", "45"];

const CATALOGUE: &[Category] = &[
    Category {
        name: "running shoes",
        near: "hiking shoes",
        brands: &["nike", "adidas", "asics", "puma", "brooks"],
        modifiers: &["air", "pro", "ultra", "lite", "swift"],
        attrs: &[
            Attr {
                key: "color",
                values: COLORS,
            },
            Attr {
                key: "size",
                values: SHOE_SIZES,
            },
        ],
    },
    Category {
        name: "hiking shoes",
        near: "running shoes",
        brands: &["salomon", "merrell", "columbia", "keen", "adidas"],
        modifiers: &["trail", "summit", "rock", "gtx", "ridge"],
        attrs: &[
            Attr {
                key: "color",
                values: COLORS,
            },
            Attr {
                key: "size",
                values: SHOE_SIZES,
            },
        ],
    },
    Category {
        name: "phone case",
        near: "screen protector",
        brands: &["spigen", "otterbox", "esr", "casetify"],
        modifiers: &["slim", "rugged", "clear", "armor"],
        attrs: &[
            Attr {
                key: "color",
                values: COLORS,
            },
            Attr {
                key: "material",
                values: &["silicone", "leather", "plastic"],
            },
        ],
    },
    Category {
        name: "screen protector",
        near: "phone case",
        brands: &["spigen", "zagg", "belkin", "esr"],
        modifiers: &["ultra", "privacy", "matte", "shield"],
        attrs: &[Attr {
            key: "material",
            values: &["glass", "film", "hydrogel"],
        }],
    },
    Category {
        name: "laptop bag",
        near: "backpack",
        brands: &["samsonite", "targus", "incase", "tumi"],
        modifiers: &["slim", "pro", "travel", "office"],
        attrs: &[
            Attr {
                key: "color",
                values: COLORS,
            },
            Attr {
                key: "material",
                values: &["nylon", "leather", "canvas", "polyester"],
            },
        ],
    },
    Category {
        name: "backpack",
        near: "laptop bag",
        brands: &["jansport", "herschel", "samsonite", "osprey"],
        modifiers: &["classic", "daypack", "travel", "urban"],
        attrs: &[
            Attr {
                key: "color",
                values: COLORS,
            },
            Attr {
                key: "material",
                values: &["nylon", "canvas", "polyester", "leather"],
            },
        ],
    },
    Category {
        name: "coffee maker",
        near: "electric kettle",
        brands: &["delonghi", "breville", "philips", "krups"],
        modifiers: &["barista", "drip", "compact", "deluxe"],
        attrs: &[
            Attr {
                key: "color",
                values: COLORS,
            },
            Attr {
                key: "material",
                values: &["steel", "plastic", "glass"],
            },
        ],
    },
    Category {
        name: "electric kettle",
        near: "coffee maker",
        brands: &["philips", "breville", "cosori", "bosch"],
        modifiers: &["rapid", "compact", "classic", "smart"],
        attrs: &[
            Attr {
                key: "color",
                values: COLORS,
            },
            Attr {
                key: "material",
                values: &["steel", "glass", "plastic"],
            },
        ],
    },
];

/// Structured form of a synthetic query.
struct QuerySpec {
    category: usize,
    brand: Option<String>,
    attrs: BTreeMap<String, String>,
}

fn category_index(name: &str) -> Option<usize> {
    CATALOGUE.iter().position(|c| c.name == name)
}

/// Reads a query of the synthetic domain back into its structured form.
fn parse_query(query: &str) -> Option<QuerySpec> {
    let norm = normalize_text(query);
    let padded = format!(" {norm} ");
    let category = CATALOGUE
        .iter()
        .position(|c| padded.contains(&format!(" {} ", c.name)))?;
    let tokens: Vec<&str> = norm.split(' ').collect();
    let brand = tokens
        .iter()
        .find(|t| CATALOGUE.iter().any(|c| c.brands.contains(t)))
        .map(|t| t.to_string());
    let mut attrs = BTreeMap::new();
    for (i, tok) in tokens.iter().enumerate() {
        if *tok == "size" {
            if let Some(v) = tokens
                .get(i + 1)
                .filter(|v| v.chars().all(|c| c.is_ascii_digit()))
            {
                attrs.insert("size".to_string(), v.to_string());
            }
            continue;
        }
        for c in CATALOGUE {
            for a in c.attrs {
                if a.key != "size" && a.values.contains(tok) {
                    attrs.insert(a.key.to_string(), tok.to_string());
                }
            }
        }
    }
    Some(QuerySpec {
        category,
        brand,
        attrs,
    })
}

fn render_query(spec: &QuerySpec) -> String {
    let mut words: Vec<&str> = Vec::new();
    if let Some(c) = spec.attrs.get("color") {
        words.push(c);
    }
    if let Some(b) = &spec.brand {
        words.push(b);
    }
    if let Some(m) = spec.attrs.get("material") {
        words.push(m);
    }
    words.push(CATALOGUE[spec.category].name);
    if let Some(s) = spec.attrs.get("size") {
        words.push("size");
        words.push(s);
    }
    words.join(" ")
}

/// Applies the grading checks; `product_category` is an index into the catalogue.
fn judge_spec(spec: &QuerySpec, product_category: usize, product: &Product) -> Judgement {
    let scale = GradeScale::default();
    let grade_of = |i: usize| Grade::from_index(i, &scale).unwrap_or_else(|_| scale.best());
    let q = &CATALOGUE[spec.category];
    let p = &CATALOGUE[product_category];
    let mut parts = Vec::new();
    let mut grade = 3usize;
    if product_category == spec.category {
        parts.push("category match .".to_string());
    } else if q.near == p.name {
        parts.push(format!("category near miss : {} vs {} .", q.name, p.name));
        grade = grade.min(1);
    } else {
        return Judgement {
            rationale: format!("category mismatch : {} vs {} .", q.name, p.name),
            grade: grade_of(0),
        };
    }
    if let Some(qb) = &spec.brand {
        let pb = normalize_text(&product.brand);
        if &pb == qb {
            parts.push("brand match .".to_string());
        } else {
            parts.push(format!("brand mismatch : {qb} vs {pb} ."));
            grade = grade.min(1);
        }
    }
    for (key, qv) in &spec.attrs {
        let pv = product
            .attributes
            .iter()
            .find(|(k, _)| normalize_text(k) == *key)
            .map(|(_, v)| normalize_text(v));
        match pv {
            Some(pv) if &pv == qv => parts.push(format!("{key} match .")),
            Some(pv) => {
                parts.push(format!("{key} mismatch : {qv} vs {pv} ."));
                grade = grade.min(2);
            }
            None => parts.push(format!("{key} unknown .")),
        }
    }
    Judgement {
        rationale: parts.join(" "),
        grade: grade_of(grade),
    }
}

/// Grades a query–product pair of the synthetic domain with the same rules (and the same
/// rationale text) that [`generate`] uses; a rule-based teacher for this domain.
///
/// Returns `None` if the query names no known category or the product's category is unknown.
/// Brand and attribute values are compared after [`normalize_text`]; a queried attribute the
/// product does not have is reported as `{key} unknown .` and does not lower the grade.
///
/// ```rust
/// use taosr1_cot::synth::judge;
/// use taosr1_cot::{Item, Product};
///
/// let mut product = Product { category: "hiking shoes".into(), brand: "keen".into(), ..Product::default() };
/// product.attributes.insert("color".into(), "red".into());
/// let item = Item { query: "red running shoes".into(), product, ..Item::default() };
/// let j = judge(&item).unwrap();
/// assert_eq!(j.rationale, "category near miss : running shoes vs hiking shoes . color match .");
/// assert_eq!(j.grade.index(), 1);
/// assert!(judge(&Item { query: "garden hose".into(), ..item }).is_none());
/// ```
pub fn judge(item: &Item) -> Option<Judgement> {
    let spec = parse_query(&item.query)?;
    let pcat = category_index(&normalize_text(&item.product.category))?;
    Some(judge_spec(&spec, pcat, &item.product))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Case {
    Unrelated,
    NearMiss,
    BrandMismatch,
    AttrConflict,
    Match,
}

fn pick<'a>(rng: &mut ChaCha8Rng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

fn pick_other<'a>(rng: &mut ChaCha8Rng, items: &[&'a str], not: &str) -> &'a str {
    let others: Vec<&str> = items.iter().copied().filter(|v| *v != not).collect();
    pick(rng, &others)
}

fn sample_example(rng: &mut ChaCha8Rng, id: String) -> Example {
    let case = match rng.random_range(0..100) {
        0..20 => Case::Unrelated,
        20..35 => Case::NearMiss,
        35..50 => Case::BrandMismatch,
        50..70 => Case::AttrConflict,
        _ => Case::Match,
    };
    let qi = rng.random_range(0..CATALOGUE.len());
    let qc = &CATALOGUE[qi];

    // Query.
    let brand = match case {
        Case::BrandMismatch => Some(pick(rng, qc.brands).to_string()),
        _ => rng
            .random_bool(0.5)
            .then(|| pick(rng, qc.brands).to_string()),
    };
    let max_attrs = qc.attrs.len().min(2);
    let n_attrs = match case {
        Case::AttrConflict => rng.random_range(1..=max_attrs),
        _ => rng.random_range(0..=max_attrs),
    };
    let mut keys: Vec<&Attr> = qc.attrs.iter().collect();
    let mut attrs = BTreeMap::new();
    for _ in 0..n_attrs {
        let a = keys.remove(rng.random_range(0..keys.len()));
        attrs.insert(a.key.to_string(), pick(rng, a.values).to_string());
    }
    let spec = QuerySpec {
        category: qi,
        brand,
        attrs,
    };

    // Product.
    let pi = match case {
        Case::Unrelated => {
            let others: Vec<usize> = (0..CATALOGUE.len())
                .filter(|&i| i != qi && CATALOGUE[i].name != qc.near)
                .collect();
            others[rng.random_range(0..others.len())]
        }
        Case::NearMiss => category_index(qc.near).unwrap_or(qi),
        _ => qi,
    };
    let pc = &CATALOGUE[pi];
    let product_brand = match (case, &spec.brand) {
        (Case::BrandMismatch, Some(qb)) => pick_other(rng, pc.brands, qb).to_string(),
        (Case::AttrConflict | Case::Match, Some(qb)) => qb.clone(),
        _ => pick(rng, pc.brands).to_string(),
    };
    let conflict_key = match case {
        Case::AttrConflict => {
            let ks: Vec<&String> = spec.attrs.keys().collect();
            Some(ks[rng.random_range(0..ks.len())].clone())
        }
        _ => None,
    };
    let mut attributes = BTreeMap::new();
    for a in pc.attrs {
        let queried = spec.attrs.get(a.key);
        let value = match (case, queried) {
            (Case::AttrConflict, Some(qv)) if conflict_key.as_deref() == Some(a.key) => {
                pick_other(rng, a.values, qv).to_string()
            }
            (Case::AttrConflict, Some(qv)) => {
                if rng.random_bool(0.5) {
                    qv.clone()
                } else {
                    pick(rng, a.values).to_string()
                }
            }
            (Case::Match, Some(qv)) => qv.clone(),
            _ => pick(rng, a.values).to_string(),
        };
        attributes.insert(a.key.to_string(), value);
    }
    let modifier = pick(rng, pc.modifiers);
    let title = match attributes.get("color") {
        Some(color) => format!("{product_brand} {modifier} {} {color}", pc.name),
        None => format!("{product_brand} {modifier} {}", pc.name),
    };
    let product = Product {
        title,
        category: pc.name.to_string(),
        brand: product_brand,
        attributes,
    };
    let Judgement { rationale, grade } = judge_spec(&spec, pi, &product);
    Example {
        id,
        query: render_query(&spec),
        product,
        rationale,
        grade,
        score: None,
    }
}

/// Generates `config.n_examples` labelled examples; a pure function of `config`
/// (ChaCha8 seeded with `config.seed`). Ids are `syn-00000`, `syn-00001`, ….
///
/// ```rust
/// use taosr1_cot::synth::{generate, SynthConfig};
///
/// let c = SynthConfig { seed: 3, n_examples: 20 };
/// assert_eq!(generate(&c), generate(&c));
/// assert_eq!(generate(&c)[1].id, "syn-00001");
/// ```
pub fn generate(config: &SynthConfig) -> Vec<Example> {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    (0..config.n_examples)
        .map(|i| sample_example(&mut rng, format!("syn-{i:05}")))
        .collect()
}

/// Splits examples, in order, into train / validation / test.
///
/// The first `round(n * train_frac)` examples go to `train`, the next `round(n * val_frac)`
/// (capped at what is left) to `validation`, the rest to `test`. [`generate`] already emits
/// examples in random order, so no shuffling is done; the split is deterministic.
///
/// # Errors
/// [`CotError::InvalidSplit`] if a fraction is not in `[0, 1]` (or is NaN) or their sum exceeds 1.
///
/// ```rust
/// use taosr1_cot::synth::{generate, split, SynthConfig, TRAIN_FRAC, VALIDATION_FRAC};
/// use taosr1_cot::CotError;
///
/// let s = split(generate(&SynthConfig::default()), TRAIN_FRAC, VALIDATION_FRAC)?;
/// assert_eq!((s.train.len(), s.validation.len(), s.test.len()), (2400, 300, 300));
/// assert!(matches!(split(Vec::new(), 0.9, 0.2), Err(CotError::InvalidSplit { .. })));
/// # Ok::<(), CotError>(())
/// ```
pub fn split(
    mut examples: Vec<Example>,
    train_frac: f64,
    val_frac: f64,
) -> Result<Splits, CotError> {
    let ok = |f: f64| (0.0..=1.0).contains(&f);
    if !ok(train_frac) || !ok(val_frac) || train_frac + val_frac > 1.0 + 1e-9 {
        return Err(CotError::InvalidSplit {
            train_frac,
            val_frac,
        });
    }
    let n = examples.len();
    let n_train = ((n as f64 * train_frac).round() as usize).min(n);
    let n_val = ((n as f64 * val_frac).round() as usize).min(n - n_train);
    let test = examples.split_off(n_train + n_val);
    let validation = examples.split_off(n_train);
    Ok(Splits {
        train: examples,
        validation,
        test,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Template;
    use std::collections::HashSet;

    /// Re-derives the grade from the rationale text alone.
    fn grade_from_rationale(rationale: &str) -> usize {
        let mut grade = 3;
        for clause in rationale
            .split(" .")
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            let g = if clause.starts_with("category mismatch :") {
                0
            } else if clause.starts_with("category near miss :")
                || clause.starts_with("brand mismatch :")
            {
                1
            } else if clause.contains(" mismatch : ") {
                2
            } else {
                assert!(
                    clause.ends_with(" match") || clause.ends_with(" unknown"),
                    "unexpected clause {clause:?}"
                );
                3
            };
            grade = grade.min(g);
        }
        grade
    }

    /// Derives the grade from the structured fields, independently of `judge_spec`.
    fn derive_grade(ex: &Example) -> usize {
        let spec = parse_query(&ex.query).expect("query names a category");
        let q = &CATALOGUE[spec.category];
        let p = &ex.product;
        if p.category != q.name && p.category != q.near {
            return 0;
        }
        let mut grade = 3;
        if p.category == q.near {
            grade = 1;
        }
        if spec.brand.as_ref().is_some_and(|b| *b != p.brand) {
            grade = grade.min(1);
        }
        if spec
            .attrs
            .iter()
            .any(|(k, v)| p.attributes.get(k).is_some_and(|pv| pv != v))
        {
            grade = grade.min(2);
        }
        grade
    }

    fn sample() -> Vec<Example> {
        generate(&SynthConfig::default())
    }

    #[test]
    fn deterministic_from_seed() {
        let a = generate(&SynthConfig {
            seed: 11,
            n_examples: 200,
        });
        let b = generate(&SynthConfig {
            seed: 11,
            n_examples: 200,
        });
        let c = generate(&SynthConfig {
            seed: 12,
            n_examples: 200,
        });
        assert_eq!(a, b);
        assert_ne!(a, c);
        // A prefix of a longer run is the shorter run.
        let d = generate(&SynthConfig {
            seed: 11,
            n_examples: 50,
        });
        assert_eq!(&a[..50], &d[..]);
        assert!(generate(&SynthConfig {
            seed: 11,
            n_examples: 0
        })
        .is_empty());
    }

    #[test]
    fn ids_are_unique() {
        let v = sample();
        let ids: HashSet<&str> = v.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids.len(), v.len());
        assert_eq!(v[0].id, "syn-00000");
        assert_eq!(v[2999].id, "syn-02999");
    }

    #[test]
    fn rationale_and_structure_rederive_grade() {
        for ex in sample() {
            assert_eq!(
                grade_from_rationale(&ex.rationale),
                ex.grade.index(),
                "{ex:?}"
            );
            assert_eq!(derive_grade(&ex), ex.grade.index(), "{ex:?}");
            let j = judge(&ex.item()).unwrap();
            assert_eq!(j.rationale, ex.rationale);
            assert_eq!(j.grade, ex.grade);
        }
    }

    #[test]
    fn text_is_in_token_convention() {
        for ex in sample() {
            assert_eq!(normalize_text(&ex.query), ex.query);
            assert_eq!(normalize_text(&ex.rationale), ex.rationale);
            assert_eq!(normalize_text(&ex.product.title), ex.product.title);
            assert!(ex.product.title.contains(&ex.product.category));
            assert!(ex.product.title.starts_with(&ex.product.brand));
        }
    }

    #[test]
    fn grade_distribution_within_tolerance() {
        let v = sample();
        let mut counts = [0usize; 4];
        for ex in &v {
            counts[ex.grade.index()] += 1;
        }
        let target = [0.20, 0.30, 0.20, 0.30];
        for (c, t) in counts.iter().zip(target) {
            let frac = *c as f64 / v.len() as f64;
            assert!((frac - t).abs() < 0.03, "counts {counts:?}");
        }
    }

    #[test]
    fn hard_cases_are_common() {
        let v = sample();
        let n = v.len() as f64;
        let frac = |pat: &str| v.iter().filter(|e| e.rationale.contains(pat)).count() as f64 / n;
        assert!(frac("category near miss") > 0.12);
        assert!(frac("brand mismatch") > 0.12);
        assert!(frac("color mismatch") + frac("size mismatch") + frac("material mismatch") > 0.2);
        // Every category appears on both sides.
        for c in CATALOGUE {
            assert!(v.iter().any(|e| e.product.category == c.name));
            assert!(v.iter().any(|e| e.query.contains(c.name)));
        }
        // About half the queries name a brand.
        let branded = v
            .iter()
            .filter(|e| parse_query(&e.query).unwrap().brand.is_some())
            .count() as f64
            / n;
        assert!((0.45..0.7).contains(&branded), "{branded}");
    }

    #[test]
    fn examples_fit_the_length_budget() {
        // prompt + response: at most 60 words (alphanumeric tokens) and 80 tokens in all.
        let t = Template::default();
        for ex in sample() {
            let text = format!(
                "{} {}",
                t.prompt(&ex.item()),
                t.response(&ex.rationale, ex.grade)
            );
            let tokens: Vec<&str> = text.split(' ').collect();
            let words = tokens
                .iter()
                .filter(|w| w.chars().all(char::is_alphanumeric))
                .count();
            assert!(
                words <= 60 && tokens.len() <= 80,
                "{words} words, {} tokens: {text}",
                tokens.len()
            );
        }
    }

    #[test]
    fn catalogue_is_consistent() {
        let mut values = HashSet::new();
        for c in CATALOGUE {
            assert!((3..=5).contains(&c.brands.len()));
            let near = category_index(c.near).unwrap();
            assert_eq!(CATALOGUE[near].near, c.name);
            for a in c.attrs {
                for v in a.values {
                    // Each attribute value belongs to one key only, so queries parse unambiguously.
                    values.insert((a.key, *v));
                }
            }
        }
        let mut owner = BTreeMap::new();
        for (k, v) in values {
            assert_eq!(
                *owner.entry(v).or_insert(k),
                k,
                "value {v} is used by two keys"
            );
        }
    }

    #[test]
    fn split_sizes_and_errors() {
        let v = generate(&SynthConfig {
            seed: 5,
            n_examples: 101,
        });
        let s = split(v.clone(), 0.8, 0.1).unwrap();
        assert_eq!(
            (s.train.len(), s.validation.len(), s.test.len()),
            (81, 10, 10)
        );
        let joined: Vec<Example> = [s.train, s.validation, s.test].concat();
        assert_eq!(joined, v);
        let s = split(v.clone(), 1.0, 0.0).unwrap();
        assert_eq!(
            (s.train.len(), s.validation.len(), s.test.len()),
            (101, 0, 0)
        );
        for (a, b) in [
            (-0.1, 0.1),
            (0.5, 0.6),
            (f64::NAN, 0.1),
            (0.1, f64::INFINITY),
        ] {
            assert!(matches!(
                split(v.clone(), a, b),
                Err(CotError::InvalidSplit { .. })
            ));
        }
        let s = split(Vec::new(), 0.8, 0.1).unwrap();
        assert!(s.train.is_empty() && s.validation.is_empty() && s.test.is_empty());
    }

    #[test]
    fn judge_handles_unknowns_and_normalises() {
        let mut product = Product {
            title: "x".into(),
            category: "Screen Protector".into(),
            brand: "ZAGG".into(),
            attributes: BTreeMap::new(),
        };
        product.attributes.insert("Material".into(), "Glass".into());
        let item = Item {
            id: String::new(),
            query: "Black ZAGG Glass Phone Case".into(),
            product,
        };
        let j = judge(&item).unwrap();
        assert_eq!(
            j.rationale,
            "category near miss : phone case vs screen protector . brand match . color unknown . material match ."
        );
        assert_eq!(j.grade.index(), 1);
        let mut bad = item.clone();
        bad.product.category = "garden hose".into();
        assert!(judge(&bad).is_none());
    }
}
