//! Stage 3 of TaoSR1: GRPO with difficulty-based dynamic sampling, continuing from the DPO
//! checkpoint (or the SFT one when there is none). Prints test accuracy of SFT, DPO (when
//! present) and GRPO as a table.
//!
//! `cargo run --release --example grpo -- [--sft runs/sft] [--init runs/dpo] [--out runs/grpo]
//! [--steps 40] [--group 8] [--groups 8] [--lr 5e-4] [--kl 0.04] [--eval 300]`

use std::path::PathBuf;

use burn::module::AutodiffModule;
use rand::SeedableRng;
use taosr1::assets::{load_checkpoint, load_codec, load_split, save_checkpoint, Split};
use taosr1::backend::{self, Infer, Train};
use taosr1::cli::Args;
use taosr1::eval::stage_table;
use taosr1::pipeline::evaluate_on_test;
use taosr1::stages::{run_grpo, GrpoRun};

fn main() -> std::process::ExitCode {
    taosr1::cli::report(run())
}

fn run() -> Result<(), taosr1::Error> {
    let args = Args::from_env()?;
    let sft: PathBuf = args.get("sft", String::from("runs/sft"))?.into();
    let dpo = PathBuf::from("runs/dpo");
    let init: PathBuf = match args.string("init") {
        Some(p) => p.into(),
        None if dpo.join("model.safetensors").exists() => dpo,
        None => sft.clone(),
    };
    let out: PathBuf = args.get("out", String::from("runs/grpo"))?.into();
    let eval = args.get("eval", usize::MAX)?;
    let mut run = GrpoRun::default();
    run.steps = args.get("steps", run.steps)?;
    run.group_size = args.get("group", run.group_size)?;
    run.groups_per_step = args.get("groups", run.groups_per_step)?;
    run.learning_rate = args.get("lr", run.learning_rate)?;
    run.grpo = run.grpo.with_kl_beta(args.get("kl", run.grpo.kl_beta)?);
    println!("backend: {}", backend::name());

    let codec = load_codec()?;
    let device = backend::device();
    let (sft_model, _) = load_checkpoint::<Infer>(&sft, &device)?;
    let mut rows = vec![("SFT", evaluate_on_test(&sft_model, &codec, eval)?)];
    let (model, config) = load_checkpoint::<Train>(&init, &device)?;
    if init != sft {
        println!("starting from {}", init.display());
        rows.push(("DPO", evaluate_on_test(&model.valid(), &codec, eval)?));
    }
    // the train split from its far end, so GRPO sees prompts DPO did not sample
    let mut train = load_split(Split::Train)?;
    train.reverse();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
    let start = std::time::Instant::now();
    let (model, report) = run_grpo(model, &codec, &train, &run, &mut rng, |l| {
        println!(
            "grpo step {:>3}/{}  loss {:+.4}  kl {:.4}  reward {:.3}  kept {}/{} groups",
            l.step + 1,
            l.total,
            l.stats.loss,
            l.stats.mean_kl,
            l.mean_reward,
            l.sampling.kept,
            l.sampling.prompts_seen
        );
    })?;
    let s = &report.sampling;
    println!(
        "dynamic sampling: examined {} prompts, kept {}, dropped {} all-correct and {} all-wrong ({:.1}s)",
        s.prompts_seen, s.kept, s.dropped_all_correct, s.dropped_all_wrong, start.elapsed().as_secs_f32()
    );
    save_checkpoint(&model, &config, &out)?;
    println!("checkpoint: {}", out.display());
    rows.push(("GRPO", evaluate_on_test(&model.valid(), &codec, eval)?));
    let table: Vec<(&str, _)> = rows.iter().map(|(n, r)| (*n, r)).collect();
    println!("\ntest split, thinking generated first, argmax grade:");
    print!("{}", stage_table(&table));
    Ok(())
}
