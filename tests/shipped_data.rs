//! The shipped data files must be exactly what the generator produces now
//! (regenerate with `cargo run --example gen_data`).

use std::path::Path;

use taosr1_cot::synth::{generate, split, SynthConfig, TRAIN_FRAC, VALIDATION_FRAC};
use taosr1_cot::{load_examples, load_items, GradeScale, Template};

fn data(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

#[test]
fn shipped_data_matches_generator() {
    let scale = GradeScale::default();
    let expected = split(
        generate(&SynthConfig::default()),
        TRAIN_FRAC,
        VALIDATION_FRAC,
    )
    .unwrap();
    for (name, want) in [
        ("train.jsonl", &expected.train),
        ("validation.jsonl", &expected.validation),
        ("test.jsonl", &expected.test),
    ] {
        let got = load_examples(data(name), &scale).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            got.len(),
            want.len(),
            "{name}: run `cargo run --example gen_data`"
        );
        assert!(
            &got == want,
            "{name} drifted from the generator: run `cargo run --example gen_data`"
        );
    }
    assert_eq!(
        (
            expected.train.len(),
            expected.validation.len(),
            expected.test.len()
        ),
        (2400, 300, 300)
    );
}

#[test]
fn shipped_data_reads_as_items_and_parses_back() {
    let scale = GradeScale::default();
    let template = Template::new(scale.clone());
    let examples = load_examples(data("test.jsonl"), &scale).unwrap();
    let items = load_items(data("test.jsonl")).unwrap();
    assert_eq!(items.len(), examples.len());
    for (item, ex) in items.iter().zip(&examples) {
        assert_eq!(item, &ex.item());
        let parsed = template
            .parse_strict(&template.response(&ex.rationale, ex.grade))
            .unwrap();
        assert_eq!(parsed.grade, ex.grade);
        assert_eq!(parsed.thinking.as_deref(), Some(ex.rationale.as_str()));
    }
}
