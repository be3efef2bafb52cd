//! Write five-step rationales for labelled data that has none, with the rule teacher or a
//! checkpoint, and keep only those consistent with the gold grade:
//!
//! ```text
//! cargo run --release --example teach -- --data ../shared/data/home-depot-search-relevance/train_utf8.csv \
//!     --spec home-depot --teacher rules --output runs/teach/rules.jsonl
//! cargo run --release --example teach -- --data ../shared/data/home-depot-search-relevance/train_utf8.csv \
//!     --spec home-depot --teacher llm --model ../models/smollm2-135m-instruct --limit 64 --output runs/teach/llm.jsonl
//! ```
//!
//! The kept examples go to `--output` as `Example` JSONL (written atomically); coverage,
//! kept and rejected counts, the top rejection reasons and the time go to stdout.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use taosr1::teacher::{LlmTeacher, LlmTeacherConfig};
use taosr1::Error;
use taosr1_cot::adapter::{read_csv, split_by_query, ColumnSpec};
use taosr1_cot::rules::RuleBook;
use taosr1_cot::teacher::{brand_lexicon, RuleTeacher, TeachReport, Teacher};
use taosr1_cot::{load_examples, write_examples, Example, GradeScale};

/// How `--data` is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Spec {
    /// The Home Depot Kaggle CSV (`ColumnSpec::home_depot`: mean rating bucketed into L1–L4).
    HomeDepot,
    /// taosr1 `Example` JSONL (`query`, `product`, `grade` labels; rationales are replaced).
    Jsonl,
}

/// Which teacher writes the rationales.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Which {
    /// The rule analyser (`taosr1_cot::teacher::RuleTeacher`).
    Rules,
    /// A checkpoint through our own inference (`taosr1::teacher::LlmTeacher`); needs `--model`.
    Llm,
}

/// Which rows, after the sha256 split by query (80 / 10 / 10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Split {
    /// Every row.
    All,
    /// The training split.
    Train,
    /// The validation split.
    Validation,
    /// The test split.
    Test,
}

fn non_empty_path(s: &str) -> Result<PathBuf, String> {
    if s.trim().is_empty() {
        Err("a path must not be empty".into())
    } else {
        Ok(PathBuf::from(s))
    }
}

fn at_least_1(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        Ok(_) => Err("must be at least 1".into()),
        Err(_) => Err(format!("`{s}` is not a whole number")),
    }
}

/// Arguments of the `teach` example.
#[derive(Parser, Debug)]
#[command(
    name = "teach",
    about = "Write five-step rationales for labelled data with a teacher"
)]
struct Args {
    /// Labelled data: a CSV file (`--spec home-depot`) or Example JSONL (`--spec jsonl`)
    #[arg(long, value_name = "FILE", value_parser = non_empty_path)]
    data: PathBuf,
    /// How to read --data
    #[arg(long, value_enum, default_value = "home-depot")]
    spec: Spec,
    /// Which teacher writes the rationales
    #[arg(long, value_enum, default_value = "rules")]
    teacher: Which,
    /// Checkpoint folder (or .gguf) for --teacher llm
    #[arg(long, value_name = "DIR", value_parser = non_empty_path)]
    model: Option<PathBuf>,
    /// Which rows (split by query, 80/10/10)
    #[arg(long, value_enum, default_value = "all")]
    split: Split,
    /// Teach only the first N rows (after the split)
    #[arg(long, value_name = "N", value_parser = at_least_1)]
    limit: Option<usize>,
    /// Where the kept examples go (Example JSONL, written atomically)
    #[arg(long, value_name = "FILE", value_parser = non_empty_path)]
    output: Option<PathBuf>,
    /// Your own atomic-rules JSONL instead of the shipped one
    #[arg(long, value_name = "FILE", value_parser = non_empty_path)]
    rules: Option<PathBuf>,
    /// Brand lexicon from the titles: a first title word that starts at least N distinct titles
    #[arg(long, value_name = "N", default_value = "5", value_parser = at_least_1)]
    brand_min_titles: usize,
    /// Items decoded together (--teacher llm)
    #[arg(long, value_name = "N", default_value = "8", value_parser = at_least_1)]
    batch_size: usize,
    /// Most tokens generated per item (--teacher llm)
    #[arg(long, value_name = "N", default_value = "200", value_parser = at_least_1)]
    max_new_tokens: usize,
    /// Print this many kept rationales (and, for llm, raw answers)
    #[arg(long, value_name = "N", default_value = "2")]
    show: usize,
}

fn main() -> std::process::ExitCode {
    taosr1::cli::report(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), Error> {
    let scale = GradeScale::default();
    let start = Instant::now();
    let (mut rows, skipped) = match args.spec {
        Spec::HomeDepot => {
            let out = read_csv(&args.data, &ColumnSpec::home_depot(), &scale, false)?;
            (out.examples, out.rejected.len())
        }
        Spec::Jsonl => (load_examples(&args.data, &scale)?, 0),
    };
    let read = rows.len();
    // The brand lexicon reads titles only (no labels), from every row of the file.
    let brands = brand_lexicon(
        rows.iter().map(|e| e.product.title.as_str()),
        args.brand_min_titles,
    );
    if args.split != Split::All {
        let s = split_by_query(rows, 0.8, 0.1)?;
        rows = match args.split {
            Split::Train => s.train,
            Split::Validation => s.validation,
            _ => s.test,
        };
    }
    if let Some(n) = args.limit {
        rows.truncate(n);
    }
    println!(
        "data: {} ({} rows read, {} skipped; {} taught, split {:?}); brand lexicon: {} words; read in {:.1} s",
        args.data.display(),
        read,
        skipped,
        rows.len(),
        args.split,
        brands.len(),
        start.elapsed().as_secs_f64()
    );
    let book = match &args.rules {
        Some(p) => RuleBook::load(p)?,
        None => RuleBook::default_rules(),
    };
    let batch: Vec<_> = rows.iter().map(|e| (e.item(), e.grade)).collect();
    let t = Instant::now();
    let mut raw_answers: Vec<String> = Vec::new();
    let verdicts = match args.teacher {
        Which::Rules => {
            let mut teacher = RuleTeacher::new(book, scale.clone()).with_brands(&brands);
            teacher.write_batch(&batch)?
        }
        Which::Llm => {
            let dir = args.model.as_ref().ok_or_else(|| {
                Error::Input("--teacher llm needs --model DIR (a checkpoint folder)".into())
            })?;
            let device = taosr1::backend::device();
            let cfg = LlmTeacherConfig {
                max_new_tokens: args.max_new_tokens,
                batch_size: args.batch_size,
                ..Default::default()
            };
            let mut teacher = LlmTeacher::load(dir, &device, book, scale.clone(), cfg)?;
            eprintln!(
                "model {} loaded in {:.1} s ({})",
                dir.display(),
                t.elapsed().as_secs_f64(),
                taosr1::backend::name()
            );
            let mut out = Vec::with_capacity(batch.len());
            for chunk in batch.chunks(args.batch_size) {
                out.extend(teacher.write_batch(chunk)?);
                raw_answers.extend(teacher.last_answers().iter().cloned());
                eprintln!(
                    "{} / {} items, {} tokens, {:.0} s",
                    out.len(),
                    batch.len(),
                    teacher.generated_tokens(),
                    t.elapsed().as_secs_f64()
                );
            }
            println!(
                "generated {} tokens ({:.1} tokens/s)",
                teacher.generated_tokens(),
                teacher.generated_tokens() as f64 / t.elapsed().as_secs_f64()
            );
            out
        }
    };
    let secs = t.elapsed().as_secs_f64();
    let mut report = TeachReport::default();
    let mut kept: Vec<Example> = Vec::new();
    for (v, (item, gold)) in verdicts.iter().zip(&batch) {
        report.add_with_gold(v, *gold);
        kept.extend(v.example(item, *gold));
    }
    println!(
        "teacher {:?}: {} items in {:.1} s ({:.0} items/s)",
        args.teacher,
        report.items,
        secs,
        report.items as f64 / secs.max(1e-9)
    );
    println!(
        "coverage: {:.1} % ({} items with a definite check or an applicable rule); with a rule: {:.1} %",
        100.0 * report.coverage(),
        report.covered,
        100.0 * report.with_rules as f64 / report.items.max(1) as f64
    );
    if !report.by_kind.is_empty() {
        let kinds: Vec<String> = report
            .by_kind
            .iter()
            .map(|(k, n)| {
                format!(
                    "{k} {:.1} %",
                    100.0 * *n as f64 / report.items.max(1) as f64
                )
            })
            .collect();
        println!("definite checks by kind: {}", kinds.join(", "));
    }
    println!(
        "kept: {} ({:.1} %), rejected: {}",
        report.kept,
        100.0 * report.kept_share(),
        report.rejected
    );
    for (reason, n) in report.top_reasons(6) {
        println!("  rejected {n:>6}: {reason}");
    }
    if !report.evidence_vs_gold.is_empty() {
        let (exact, near) = report.evidence_agreement();
        println!(
            "evidence vs gold: exact {:.1} %, within one grade {:.1} %",
            100.0 * exact,
            100.0 * near
        );
        for g in scale.grades() {
            let row: Vec<String> = scale
                .grades()
                .map(|e| {
                    report
                        .evidence_vs_gold
                        .get(&(e.index(), g.index()))
                        .copied()
                        .unwrap_or(0)
                        .to_string()
                })
                .collect();
            println!(
                "  gold {}: evidence L1..L4 = {}",
                scale.label(g),
                row.join(" / ")
            );
        }
    }
    let mut per_gold = vec![(0usize, 0usize); scale.len()];
    for (v, (_, g)) in verdicts.iter().zip(&batch) {
        per_gold[g.index()].1 += 1;
        if v.is_kept() {
            per_gold[g.index()].0 += 1;
        }
    }
    let pg: Vec<String> = scale
        .grades()
        .map(|g| {
            let (k, n) = per_gold[g.index()];
            format!("{} {k}/{n}", scale.label(g))
        })
        .collect();
    println!("kept by gold grade: {}", pg.join(", "));
    for ex in kept.iter().take(args.show) {
        println!(
            "\nkept [{}] {} | {} | {}\n  {}",
            ex.id,
            ex.query,
            ex.product.title,
            scale.label(ex.grade),
            ex.rationale
        );
    }
    for (ans, (item, gold)) in raw_answers.iter().zip(&batch).take(args.show) {
        println!(
            "\nraw answer [{}] {} | {} | gold {}:\n{}",
            item.id,
            item.query,
            item.product.title,
            scale.label(*gold),
            ans
        );
    }
    if let Some(path) = &args.output {
        let mut bytes = Vec::new();
        write_examples(&mut bytes, &kept, &scale)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        taosr1_model::write_atomic(path, &bytes).map_err(|e| Error::io(path, e))?;
        println!("\nwrote {} examples to {}", kept.len(), path.display());
    }
    Ok(())
}
