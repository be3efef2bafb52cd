//! The LLM teacher with the real SmolLM2-135M-Instruct on two Home Depot-like items: the
//! prompt goes through the checkpoint's own chat template, the answer starts in the step
//! format, every verdict is kept with the gold grade or rejected for a stated reason, and a
//! second greedy run gives the same answers. The weights are never committed:
//! `TAOSR1_SMOLLM2_DIR` (relative to the workspace root) or `../models/smollm2-135m-instruct`;
//! skipped with a message when absent.

use std::path::{Path, PathBuf};

use taosr1::teacher::{LlmTeacher, LlmTeacherConfig};
use taosr1_cot::rules::RuleBook;
use taosr1_cot::teacher::{FiveSteps, RejectReason, Step, Teacher};
use taosr1_cot::{GradeScale, Item, Product};

fn smollm2_dir() -> Option<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = match std::env::var_os("TAOSR1_SMOLLM2_DIR") {
        Some(p) => workspace.join(p),
        None => workspace.join("../models/smollm2-135m-instruct"),
    };
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "SKIPPED: {} not found (set TAOSR1_SMOLLM2_DIR; see scripts/fixtures/make_smollm2_reference.py)",
            path.display()
        );
        None
    }
}

#[test]
fn smollm2_writes_or_is_rejected_with_a_reason() {
    let Some(dir) = smollm2_dir() else {
        return;
    };
    let scale = GradeScale::default();
    let cfg = LlmTeacherConfig {
        max_new_tokens: 40,
        batch_size: 2,
        ..Default::default()
    };
    let item = |q: &str, t: &str| Item {
        id: q.into(),
        query: q.into(),
        product: Product {
            title: t.into(),
            ..Product::default()
        },
    };
    let batch = vec![
        (
            item("angle bracket", "Simpson Strong-Tie 12-Gauge Angle"),
            scale.best(),
        ),
        (
            item("ryobi drill", "DEWALT 20-Volt MAX Cordless Drill"),
            scale.parse("L2").unwrap(),
        ),
    ];
    let mut teacher = LlmTeacher::load(
        &dir,
        &Default::default(),
        RuleBook::default_rules(),
        scale.clone(),
        cfg.clone(),
    )
    .unwrap();
    let verdicts = teacher.write_batch(&batch).unwrap();
    let answers = teacher.last_answers().to_vec();
    assert_eq!((verdicts.len(), answers.len()), (2, 2));
    assert!(teacher.generated_tokens() > 0 && teacher.generated_tokens() <= 80);
    for ((v, ans), (_, gold)) in verdicts.iter().zip(&answers).zip(&batch) {
        eprintln!("answer: {ans:?}\nverdict: {:?}", v.outcome);
        assert!(ans.starts_with(&cfg.answer_prefix));
        assert!(ans.len() > cfg.answer_prefix.len(), "nothing generated");
        match v.rationale() {
            Some(r) => {
                let steps = FiveSteps::parse(r).unwrap();
                let label = taosr1_cot::normalize_text(scale.label(*gold));
                assert!(steps.get(Step::Decision).contains(&label));
            }
            None => assert!(matches!(
                v.rejection(),
                Some(
                    RejectReason::MissingSteps { .. }
                        | RejectReason::EmptyStep { .. }
                        | RejectReason::NoDecision
                        | RejectReason::WrongDecision { .. }
                )
            )),
        }
    }
    let mut again = LlmTeacher::load(
        &dir,
        &Default::default(),
        RuleBook::default_rules(),
        scale,
        cfg,
    )
    .unwrap();
    assert_eq!(again.write_batch(&batch).unwrap(), verdicts);
    assert_eq!(again.last_answers(), &answers[..]);
}
