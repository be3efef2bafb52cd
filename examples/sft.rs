//! Stage 1 of TaoSR1: supervised fine-tuning with chain-of-thought on the shipped synthetic
//! data, then thinking-first evaluation on the test split.
//!
//! `cargo run --release --example sft -- [--epochs 6] [--steps N] [--lr 5e-3] [--batch 16] [--hidden 64] [--layers 2] [--out runs/sft] [--eval 300]`

use burn::module::Module;
use indicatif::{ProgressBar, ProgressStyle};
use taosr1::backend::{self, Train};
use taosr1::cli::Args;
use taosr1::pipeline::{run_sft, SftRun};

fn main() -> std::process::ExitCode {
    taosr1::cli::report(run())
}

fn run() -> Result<(), taosr1::Error> {
    let args = Args::from_env()?;
    let mut run = SftRun::default();
    run.sft.epochs = args.get("epochs", run.sft.epochs)?;
    run.sft.max_steps = args.opt("steps")?;
    run.sft.learning_rate = args.get("lr", run.sft.learning_rate)?;
    run.sft.batch_size = args.get("batch", run.sft.batch_size)?;
    run.model.hidden_size = args.get("hidden", run.model.hidden_size)?;
    run.model.intermediate_size = 2 * run.model.hidden_size;
    run.model.num_hidden_layers = args.get("layers", run.model.num_hidden_layers)?;
    run.out_dir = Some(args.get("out", String::from("runs/sft"))?.into());
    run.eval_limit = args.get("eval", usize::MAX)?;
    println!("backend: {}", backend::name());
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("sft {bar:40} {pos}/{len} loss {msg}")
            .expect("valid template"),
    );
    let start = std::time::Instant::now();
    let out = run_sft::<Train>(&run, &backend::device(), |s| {
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
    println!("test split ({} examples, thinking generated first):", e.n);
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
