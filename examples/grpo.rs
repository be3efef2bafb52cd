//! Stage 3 of TaoSR1: GRPO with difficulty-based dynamic sampling, continuing from the DPO
//! checkpoint (or the SFT one when there is none). Prints test accuracy of SFT, DPO (when
//! present) and GRPO as a table.
//!
//! `cargo run --release --example grpo -- [--sft runs/sft] [--init runs/dpo] [--out runs/grpo]
//! [--steps 40] [--group 8] [--groups 8] [--lr 0.0005] [--kl 0.04] [--eval N]
//! [--train data/train.jsonl] [--test data/test.jsonl] [--tokenizer assets/tokenizer.json]`
//!
//! `--init` defaults to `runs/dpo` when it holds a checkpoint, else to `--sft`. Every flag,
//! its default and what it accepts: `cargo run --release --example grpo -- --help` (see
//! [`taosr1::cli::GrpoArgs`]).

use burn::module::Module;
use clap::Parser;
use rand::SeedableRng;
use taosr1::assets::{load_checkpoint, save_checkpoint, Split};
use taosr1::backend;
use taosr1::cli::GrpoArgs;
use taosr1::eval::stage_table;
use taosr1::pipeline::evaluate_on_test;
use taosr1::stages::run_grpo;

fn main() -> std::process::ExitCode {
    taosr1::cli::report(run(&GrpoArgs::parse()))
}

fn run(args: &GrpoArgs) -> Result<(), taosr1::Error> {
    let (sft, init, out, eval) = (&args.sft, args.init_dir(), &args.out, args.eval.limit());
    let data = args.source.resolve(args.data_paths())?;
    let run = args.run();
    println!("backend: {}", backend::name());

    let codec = data.codec_for(&init)?;
    let device = backend::device();
    let (sft_model, _) = load_checkpoint(sft, &device)?;
    let mut rows = vec![(
        "SFT",
        evaluate_on_test(&sft_model, &codec, &data.test, eval)?,
    )];
    let (model, config) = load_checkpoint(&init, &device.clone().autodiff())?;
    if &init != sft {
        println!("starting from {}", init.display());
        rows.push((
            "DPO",
            evaluate_on_test(&model.valid(), &codec, &data.test, eval)?,
        ));
    }
    // the train split from its far end, so GRPO sees prompts DPO did not sample
    let mut train = data.load_nonempty(Split::Train)?;
    train.reverse();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
    let start = std::time::Instant::now();
    let (model, report) = run_grpo(model, &codec, &train, &run, &mut rng, |l, _| {
        println!(
            "grpo step {:>3}/{}  loss {:+.4}  kl {:.4}  reward {:.3}±{:.3}  clip {:.3}  kept {}/{} groups",
            l.metrics.step + 1,
            l.total,
            l.metrics.loss,
            l.metrics.kl,
            l.metrics.reward_mean,
            l.metrics.reward_std,
            l.metrics.clip_fraction,
            l.metrics.sampling.kept,
            l.metrics.sampling.prompts_seen
        );
    })?;
    let s = &report.sampling;
    println!(
        "dynamic sampling: examined {} prompts, kept {}, dropped {} all-correct and {} all-wrong ({:.1}s)",
        s.prompts_seen, s.kept, s.dropped_all_correct, s.dropped_all_wrong, start.elapsed().as_secs_f32()
    );
    save_checkpoint(&model, &config, out)?;
    taosr1::assets::save_order(out, codec.template().order())?;
    println!("checkpoint: {}", out.display());
    rows.push((
        "GRPO",
        evaluate_on_test(&model.valid(), &codec, &data.test, eval)?,
    ));
    let table: Vec<(&str, _)> = rows.iter().map(|(n, r)| (*n, r)).collect();
    println!("\ntest split ({}), argmax grade:", codec.template().order());
    print!("{}", stage_table(&table));
    Ok(())
}
