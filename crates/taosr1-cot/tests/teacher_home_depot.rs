//! The rule teacher on the first 5 000 rows of the Home Depot Kaggle file: nearly every item
//! is covered, most rationales are kept, the kept ones parse back into five steps that end
//! in the gold grade, the rejected ones are really more than a grade away, and a second run
//! gives the same verdicts. The data is not in the repository: the test reads it from
//! `../shared` (or `TAOSR1_HOME_DEPOT_CSV`) and is skipped with a message when absent.

mod common;

use common::csv_path;
use taosr1_cot::adapter::{read_csv, ColumnSpec};
use taosr1_cot::teacher::{
    brand_lexicon, FiveSteps, RejectReason, RuleTeacher, Step, TeachReport, Teacher,
};
use taosr1_cot::{normalize_text, GradeScale};

#[test]
fn rule_teacher_covers_and_keeps_consistent_rationales() {
    let Some(path) = csv_path() else {
        return;
    };
    let scale = GradeScale::default();
    let mut rows = read_csv(&path, &ColumnSpec::home_depot(), &scale, true)
        .unwrap()
        .examples;
    let brands = brand_lexicon(rows.iter().map(|e| e.product.title.as_str()), 5);
    assert!(
        brands.contains("behr") && brands.contains("ryobi"),
        "{}",
        brands.len()
    );
    rows.truncate(5_000);
    let batch: Vec<_> = rows.iter().map(|e| (e.item(), e.grade)).collect();
    let mut teacher = RuleTeacher::new(Default::default(), scale.clone()).with_brands(&brands);
    let verdicts = teacher.write_batch(&batch).unwrap();
    let mut report = TeachReport::default();
    for (v, (item, gold)) in verdicts.iter().zip(&batch) {
        report.add_with_gold(v, *gold);
        match v.rationale() {
            Some(r) => {
                let steps = FiveSteps::parse(r).unwrap();
                let label = normalize_text(scale.label(*gold));
                assert!(steps.get(Step::Decision).ends_with(&label), "{r}");
                assert!(steps
                    .get(Step::Item)
                    .contains(&normalize_text(&item.product.title)));
                let e = v.evidence.unwrap();
                assert!(e.index().abs_diff(gold.index()) <= 1);
            }
            None => match v.rejection().unwrap() {
                RejectReason::Inconsistent { .. } => {
                    assert!(v.evidence.unwrap().index().abs_diff(gold.index()) > 1)
                }
                RejectReason::NothingCheckable => assert!(v.checks.is_empty()),
                other => panic!("unexpected rejection {other:?}"),
            },
        }
    }
    eprintln!(
        "5000 rows: coverage {:.3}, with rules {}, kept {}, rejected {}, reasons {:?}, by kind {:?}, agreement {:?}",
        report.coverage(),
        report.with_rules,
        report.kept,
        report.rejected,
        report.top_reasons(4),
        report.by_kind,
        report.evidence_agreement()
    );
    assert!(report.coverage() > 0.95, "{}", report.coverage());
    assert!(
        report.with_rules * 2 > report.items,
        "{}",
        report.with_rules
    );
    let share = report.kept_share();
    assert!((0.6..0.99).contains(&share), "kept share {share}");
    assert!(report.reasons.keys().any(|k| k.starts_with("inconsistent")));
    // Attribute checks fire on real titles, not only the product type.
    for kind in ["brand", "measurement", "color", "material", "negation"] {
        assert!(
            report.by_kind.get(kind).copied().unwrap_or(0) >= 10,
            "{kind}: {:?}",
            report.by_kind
        );
    }
    let again = RuleTeacher::new(Default::default(), scale.clone())
        .with_brands(&brands)
        .write_batch(&batch)
        .unwrap();
    assert_eq!(again, verdicts);
}
