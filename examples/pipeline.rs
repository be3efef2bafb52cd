//! The main job: all of TaoSR1 end to end on the CPU default with the tiny model and the
//! shipped synthetic data.
//!
//! 1. SFT with chain-of-thought (loss on the response only) → `runs/sft`;
//! 2. offline pass@N sampling + DPO against the frozen SFT model → `runs/dpo`;
//! 3. difficulty-based dynamic sampling + GRPO → `runs/grpo`;
//! 4. deployment: thresholds of the cumulative-probability partition fitted on validation →
//!    `runs/grpo/thresholds.json`, argmax vs partition on the test split.
//!
//! `cargo run --release --example pipeline -- [--eval N] [--grpo-steps 40]
//! [--sft-out runs/sft] [--dpo-out runs/dpo] [--grpo-out runs/grpo]
//! [--train data/train.jsonl] [--validation data/validation.jsonl] [--test data/test.jsonl]
//! [--tokenizer assets/tokenizer.json]`
//!
//! Every flag, its default and what it accepts:
//! `cargo run --release --example pipeline -- --help` (see [`taosr1::cli::PipelineArgs`]).
//!
//! Each stage also has its own example (`sft`, `dpo`, `grpo`, `calibrate`, `serve`) with
//! more knobs.

use burn::module::Module;
use clap::Parser;
use rand::SeedableRng;
use taosr1::assets::{save_checkpoint, Split};
use taosr1::backend;
use taosr1::cli::PipelineArgs;
use taosr1::eval::stage_table;
use taosr1::infer::InferConfig;
use taosr1::pipeline::{compare_partition, evaluate_on_test, run_sft, SftRun};
use taosr1::stages::{run_dpo, run_grpo, DpoRun, GrpoRun};
use taosr1::Error;

fn main() -> std::process::ExitCode {
    taosr1::cli::report(run(&PipelineArgs::parse()))
}

fn run(args: &PipelineArgs) -> Result<(), Error> {
    let eval = args.eval.limit();
    let data = args.data_paths();
    let grpo = GrpoRun {
        steps: args.grpo_steps,
        ..GrpoRun::default()
    };
    let started = std::time::Instant::now();
    let stage = |name: &str| println!("[{:>5.0}s] {name}", started.elapsed().as_secs_f32());
    println!("backend: {}", backend::name());
    let codec = data.codec()?;
    let train = data.load_nonempty(Split::Train)?;

    stage("stage 1: SFT with chain-of-thought");
    let sft = SftRun {
        eval_limit: eval,
        out_dir: Some(args.sft_out.clone()),
        data: data.clone(),
        ..SftRun::default()
    };
    let out = run_sft(&sft, &backend::train_device(), |s| {
        if s.step % 100 == 0 || s.step + 1 == s.total {
            println!(
                "  sft step {:>4}/{}  loss {:.4}",
                s.step + 1,
                s.total,
                s.loss
            );
        }
    })?;
    println!(
        "  majority-class baseline accuracy {:.3}",
        out.majority_baseline
    );
    let mut rows = vec![("SFT", out.eval)];

    stage("stage 2: pass@N sampling + DPO");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let dpo = DpoRun::default();
    let (model, r) = run_dpo(out.model, &codec, &train, &dpo, &mut rng, |_, _, _| {})?;
    println!(
        "  pass@1 {:.3}, pass@{} {:.3}; {} pairs; loss {:.4} -> {:.4}",
        r.pass_at_1,
        dpo.n,
        r.pass_at_n,
        r.pair_stats.pairs,
        r.losses.first().copied().unwrap_or(f32::NAN),
        r.losses.last().copied().unwrap_or(f32::NAN)
    );
    save_checkpoint(&model, &out.config, &args.dpo_out)?;
    rows.push((
        "DPO",
        evaluate_on_test(&model.valid(), &codec, &data.test, eval)?,
    ));

    stage("stage 3: dynamic sampling + GRPO");
    let mut far_end = train.clone();
    far_end.reverse();
    let (model, r) = run_grpo(model, &codec, &far_end, &grpo, &mut rng, |_| {})?;
    let s = &r.sampling;
    println!(
        "  {} steps; examined {} prompts, kept {}, dropped {} all-correct / {} all-wrong",
        r.steps.len(),
        s.prompts_seen,
        s.kept,
        s.dropped_all_correct,
        s.dropped_all_wrong
    );
    let dir = args.grpo_out.as_path();
    save_checkpoint(&model, &out.config, dir)?;
    let model = model.valid();

    stage("deployment: cumulative-probability partition");
    let cmp = compare_partition(
        &model,
        &codec,
        &data,
        usize::MAX,
        eval,
        &InferConfig::default(),
    )?;
    // the comparison already predicted the test split with the default rules
    rows.push(("GRPO", cmp.test_default.clone()));
    cmp.thresholds.save(dir.join("thresholds.json"))?;
    cmp.cumpt.save(dir.join("cumpt.json"))?;
    println!(
        "  thresholds fitted on validation (macro-F1 {:.3} -> {:.3}): {:?}",
        cmp.validation_before,
        cmp.validation_after,
        cmp.thresholds.as_slice()
    );
    stage("done");
    let table: Vec<(&str, _)> = rows.iter().map(|(n, r)| (*n, r)).collect();
    println!("\ntest split, thinking generated first, argmax grade per stage:");
    print!("{}", stage_table(&table));
    println!("\ndeployment rules on the GRPO model:");
    print!("{}", cmp.table());
    println!(
        "\ncheckpoints in {}, {} and {}; score JSONL with `cargo run --release --example serve -- --model {}`",
        args.sft_out.display(),
        args.dpo_out.display(),
        dir.display(),
        dir.display()
    );
    Ok(())
}
