//! Stage 1 of TaoSR1: supervised fine-tuning with chain-of-thought on the shipped synthetic
//! data, then thinking-first evaluation on the test split.
//!
//! `cargo run --release --example sft -- [--epochs 6] [--steps N] [--lr 0.005] [--batch 16]
//! [--hidden 64] [--layers 2] [--seed 42] [--out runs/sft] [--eval N]
//! [--train data/train.jsonl] [--test data/test.jsonl] [--tokenizer assets/tokenizer.json]`
//!
//! Every flag, its default and what it accepts:
//! `cargo run --release --example sft -- --help` (see [`taosr1::cli::SftArgs`]).

use burn::module::Module;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use taosr1::backend;
use taosr1::cli::SftArgs;
use taosr1::pipeline::run_sft;

fn main() -> std::process::ExitCode {
    taosr1::cli::report(run(&SftArgs::parse()))
}

fn run(args: &SftArgs) -> Result<(), taosr1::Error> {
    let mut run = args.run();
    run.data = args.source.resolve(run.data)?;
    println!("backend: {}", backend::name());
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("sft {bar:40} {pos}/{len} loss {msg}")
            .expect("valid template"),
    );
    let start = std::time::Instant::now();
    let out = run_sft(&run, &backend::train_device(), |s, _| {
        bar.set_length(s.total as u64);
        bar.set_position(s.step as u64 + 1);
        bar.set_message(format!("{:.4}", s.loss));
    })?;
    bar.finish();
    let r = &out.report;
    println!(
        "trained {} params for {} steps in {:.1}s: loss {:.3} (first 10 steps) -> {:.3} (last 10)",
        out.model.num_params(),
        r.losses.len(),
        start.elapsed().as_secs_f32(),
        r.head_mean(10),
        r.tail_mean(10)
    );
    if let Some(dir) = &run.out_dir {
        println!("checkpoint: {}", dir.display());
    }
    let e = &out.eval;
    println!("test split ({} examples, {}):", e.n, run.order);
    println!(
        "  majority-class baseline accuracy {:.3}",
        out.majority_baseline
    );
    println!(
        "  argmax grade accuracy            {:.3} (macro-F1 {:.3})",
        e.argmax.accuracy, e.argmax.macro_f1
    );
    println!(
        "  thinking past budget             {}",
        e.truncated_thinking
    );
    Ok(())
}
