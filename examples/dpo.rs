//! Stage 2 of TaoSR1: offline pass@N sampling with the SFT model, (correct, incorrect) pairs,
//! and DPO against the frozen SFT model. Prints test accuracy before and after as a table.
//!
//! `cargo run --release --example dpo -- [--init runs/sft] [--out runs/dpo] [--prompts 800]
//! [--n 8] [--temperature 1] [--epochs 2] [--beta 0.1] [--nll 1] [--lr 0.0001] [--eval N]
//! [--train data/train.jsonl] [--test data/test.jsonl] [--tokenizer assets/tokenizer.json]`
//!
//! Every flag, its default and what it accepts:
//! `cargo run --release --example dpo -- --help` (see [`taosr1::cli::DpoArgs`]).
//!
//! Run `cargo run --release --example sft` first to produce `runs/sft`.

use burn::module::Module;
use clap::Parser;
use rand::SeedableRng;
use taosr1::assets::{load_checkpoint, save_checkpoint, Split};
use taosr1::backend;
use taosr1::cli::DpoArgs;
use taosr1::eval::stage_table;
use taosr1::pipeline::evaluate_on_test;
use taosr1::stages::run_dpo;

fn main() -> std::process::ExitCode {
    taosr1::cli::report(run(&DpoArgs::parse()))
}

fn run(args: &DpoArgs) -> Result<(), taosr1::Error> {
    let (init, out, eval) = (&args.init, &args.out, args.eval.limit());
    let data = args.source.resolve(args.data_paths())?;
    let run = args.run();
    println!("backend: {}", backend::name());

    let codec = data.codec_for(init)?;
    let (model, config) = load_checkpoint(init, &backend::train_device())?;
    let sft_eval = evaluate_on_test(&model.valid(), &codec, &data.test, eval)?;
    let train = data.load_nonempty(Split::Train)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let start = std::time::Instant::now();
    let (model, report) = run_dpo(model, &codec, &train, &run, &mut rng, |l, _| {
        let (step, total) = (l.metrics.step, l.total);
        if step % 20 == 0 || step + 1 == total {
            println!(
                "dpo step {:>4}/{total}  loss {:.4}",
                step + 1,
                l.metrics.loss
            );
        }
    })?;
    let s = &report.pair_stats;
    println!(
        "pass@N over {} prompts (N = {}): pass@1 {:.3}, pass@{} {:.3}; {} pairs ({} mixed, {} all-wrong vs gold, {} all-correct skipped); {:.1}s",
        s.prompts, run.n, report.pass_at_1, run.n, report.pass_at_n, s.pairs, s.mixed, s.all_wrong_gold, s.all_correct_skipped,
        start.elapsed().as_secs_f32()
    );
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len().max(1) as f32;
    let tenth = (report.losses.len() / 10).max(1);
    let n = report.losses.len();
    println!(
        "dpo loss {:.4} -> {:.4}, implicit-reward accuracy {:.3} -> {:.3} (first / last 10% of steps)",
        mean(&report.losses[..tenth.min(n)]),
        mean(&report.losses[n.saturating_sub(tenth)..]),
        mean(&report.reward_accuracy[..tenth.min(n)]),
        mean(&report.reward_accuracy[n.saturating_sub(tenth)..]),
    );
    save_checkpoint(&model, &config, out)?;
    taosr1::assets::save_order(out, codec.template().order())?;
    println!("checkpoint: {}", out.display());
    let dpo_eval = evaluate_on_test(&model.valid(), &codec, &data.test, eval)?;
    println!("\ntest split ({}), argmax grade:", codec.template().order());
    print!("{}", stage_table(&[("SFT", &sft_eval), ("DPO", &dpo_eval)]));
    Ok(())
}
