//! The main job: all of TaoSR1 end to end on the CPU default with the tiny model and the
//! shipped synthetic data.
//!
//! Label-first (post-CoT order, `<answer> L </answer> <think> … </think>`, the deployed chain):
//! 1. SFT with chain-of-thought (loss on the response only) → `runs/sft`;
//! 2. offline pass@N sampling + DPO against the frozen SFT model → `runs/dpo`;
//! 3. difficulty-based dynamic sampling + GRPO → `runs/grpo`;
//! 4. deployment: per-grade thresholds and the single CumPT β fitted on validation →
//!    `runs/grpo/thresholds.json` and `runs/grpo/cumpt.json`; argmax vs thresholds vs CumPT on
//!    the test split, for grades and for tiers.
//!
//! Think-first (`<think> … </think> <answer> L </answer>`, for comparison): the same three
//! stages → `runs/think-first/{sft,dpo,grpo}`, then the post-CoT stage turns the GRPO model
//! into a label-first one → `runs/think-first/post-cot` (see `taosr1::stages::run_post_cot`).
//!
//! The stage table reports accuracy, macro-F1, NDCG@100 and prediction time per item for both
//! orders (`--orders label-first|think-first` runs one chain).
//!
//! `cargo run --release --example pipeline -- [--eval N] [--grpo-steps 40] [--orders both]
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
use taosr1::assets::{save_checkpoint, save_order, DataPaths, Split};
use taosr1::backend;
use taosr1::cli::PipelineArgs;
use taosr1::codec::Codec;
use taosr1::eval::{stage_table, EvalReport};
use taosr1::infer::InferConfig;
use taosr1::pipeline::{compare_partition, evaluate_on_test, run_sft, SftRun};
use taosr1::stages::{run_dpo, run_grpo, run_post_cot, DpoRun, GrpoRun, PostCotRun};
use taosr1::Error;
use taosr1_cot::ResponseOrder;
use taosr1_model::{ModelConfig, Transformer};

fn main() -> std::process::ExitCode {
    taosr1::cli::report(run(&PipelineArgs::parse()))
}

/// One chain's checkpoint directories.
struct Dirs {
    sft: std::path::PathBuf,
    dpo: std::path::PathBuf,
    grpo: std::path::PathBuf,
}

/// What a chain hands on: its last model and config, its codec and training split (for
/// post-CoT), and its table rows.
struct Chain {
    model: Transformer,
    config: ModelConfig,
    codec: Codec,
    train: Vec<taosr1_cot::Example>,
    rows: Vec<(String, EvalReport)>,
}

fn save(
    model: &Transformer,
    config: &ModelConfig,
    dir: &std::path::Path,
    order: ResponseOrder,
) -> Result<(), Error> {
    save_checkpoint(model, config, dir)?;
    save_order(dir, order)
}

fn chain(
    args: &PipelineArgs,
    data: &DataPaths,
    order: ResponseOrder,
    dirs: &Dirs,
    stage: &dyn Fn(&str),
) -> Result<Chain, Error> {
    let eval = args.eval.limit();
    let codec: Codec = data.codec()?.with_order(order);
    let train = data.load_nonempty(Split::Train)?;
    let name = |stage: &str| format!("{order}: {stage}");

    stage(&format!("{order} stage 1: SFT with chain-of-thought"));
    let sft = SftRun {
        eval_limit: eval,
        out_dir: Some(dirs.sft.clone()),
        data: data.clone(),
        order,
        ..SftRun::default()
    };
    let out = run_sft(&sft, &backend::train_device(), |s, _| {
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
    let mut rows = vec![(name("SFT"), out.eval)];

    stage(&format!("{order} stage 2: pass@N sampling + DPO"));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let dpo = DpoRun::default();
    let (model, r) = run_dpo(out.model, &codec, &train, &dpo, &mut rng, |_, _| {})?;
    println!(
        "  pass@1 {:.3}, pass@{} {:.3}; {} pairs; loss {:.4} -> {:.4}",
        r.pass_at_1,
        dpo.n,
        r.pass_at_n,
        r.pair_stats.pairs,
        r.losses.first().copied().unwrap_or(f32::NAN),
        r.losses.last().copied().unwrap_or(f32::NAN)
    );
    save(&model, &out.config, &dirs.dpo, order)?;
    rows.push((
        name("+DPO"),
        evaluate_on_test(&model.valid(), &codec, &data.test, eval)?,
    ));

    stage(&format!("{order} stage 3: dynamic sampling + GRPO"));
    let grpo = GrpoRun {
        steps: args.grpo_steps,
        ..GrpoRun::default()
    };
    let mut far_end = train.clone();
    far_end.reverse();
    let (model, r) = run_grpo(model, &codec, &far_end, &grpo, &mut rng, |_, _| {})?;
    let s = &r.sampling;
    println!(
        "  {} steps; examined {} prompts, kept {}, dropped {} all-correct / {} all-wrong",
        r.steps.len(),
        s.prompts_seen,
        s.kept,
        s.dropped_all_correct,
        s.dropped_all_wrong
    );
    save(&model, &out.config, &dirs.grpo, order)?;
    rows.push((
        name("+GRPO"),
        evaluate_on_test(&model.valid(), &codec, &data.test, eval)?,
    ));
    Ok(Chain {
        model,
        config: out.config,
        codec,
        train,
        rows,
    })
}

fn run(args: &PipelineArgs) -> Result<(), Error> {
    let eval = args.eval.limit();
    let data = args.source.resolve(args.data_paths())?;
    let started = std::time::Instant::now();
    let stage = |name: &str| println!("[{:>5.0}s] {name}", started.elapsed().as_secs_f32());
    println!("backend: {}", backend::name());
    let mut rows: Vec<(String, EvalReport)> = Vec::new();
    let mut deploy = None;
    for order in args.orders() {
        match order {
            ResponseOrder::LabelFirst => {
                let dirs = Dirs {
                    sft: args.sft_out.clone(),
                    dpo: args.dpo_out.clone(),
                    grpo: args.grpo_out.clone(),
                };
                let c = chain(args, &data, order, &dirs, &stage)?;
                rows.extend(c.rows);
                deploy = Some((c.model.valid(), args.grpo_out.clone(), order));
            }
            ResponseOrder::ThinkFirst => {
                let base = &args.think_first_out;
                let dirs = Dirs {
                    sft: base.join("sft"),
                    dpo: base.join("dpo"),
                    grpo: base.join("grpo"),
                };
                let c = chain(args, &data, order, &dirs, &stage)?;
                rows.extend(c.rows);
                stage("post-CoT: the think-first GRPO model learns to put its label first");
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
                let post = PostCotRun::default();
                let (model, r) =
                    run_post_cot(c.model, &c.codec, &c.train, &post, &mut rng, |_, _| {})?;
                println!(
                    "  {} prompts: {} targets from the model's own correct reasoning, {} from gold; loss {:.4} -> {:.4}",
                    r.prompts,
                    r.own_samples,
                    r.gold_fallback,
                    r.losses.first().copied().unwrap_or(f32::NAN),
                    r.losses.last().copied().unwrap_or(f32::NAN)
                );
                let dir = base.join("post-cot");
                save(&model, &c.config, &dir, ResponseOrder::LabelFirst)?;
                let label_first = c.codec.with_order(ResponseOrder::LabelFirst);
                rows.push((
                    "think-first: post-CoT".to_string(),
                    evaluate_on_test(&model.valid(), &label_first, &data.test, eval)?,
                ));
                if deploy.is_none() {
                    deploy = Some((model.valid(), dir, ResponseOrder::LabelFirst));
                }
            }
        }
    }
    let Some((model, dir, order)) = deploy else {
        return Err(Error::Input("no response order to run".into()));
    };

    stage("deployment: per-grade thresholds and CumPT tiers");
    let codec = data.codec()?.with_order(order);
    let cmp = compare_partition(
        &model,
        &codec,
        &data,
        usize::MAX,
        eval,
        &InferConfig::default(),
    )?;
    cmp.thresholds
        .save(dir.join(taosr1::cli::THRESHOLDS_FILE))?;
    cmp.cumpt.save(dir.join(taosr1::cli::CUMPT_FILE))?;
    println!(
        "  thresholds fitted on validation (macro-F1 {:.3} -> {:.3}): {:?}",
        cmp.validation_before,
        cmp.validation_after,
        cmp.thresholds.as_slice()
    );
    stage("done");
    let table: Vec<(&str, &EvalReport)> = rows.iter().map(|(n, r)| (n.as_str(), r)).collect();
    println!("\ntest split, argmax grade per stage (ms/item: batched prediction time):");
    print!("{}", stage_table(&table));
    println!("\ndeployment rules on {} ({order}):", dir.display());
    print!("{}", cmp.table());
    println!(
        "\ncheckpoints under {}, {}, {} and {}; score JSONL with `cargo run --release --example serve -- --model {}`",
        args.sft_out.display(),
        args.dpo_out.display(),
        dir.display(),
        args.think_first_out.display(),
        dir.display()
    );
    Ok(())
}
