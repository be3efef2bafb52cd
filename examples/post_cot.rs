//! Post-CoT: a think-first checkpoint (`<think> … </think> <answer> L </answer>`) becomes a
//! label-first one (`<answer> L </answer> <think> … </think>`), which serving scores with one
//! prefill. For each training prompt the model samples N responses; the first well-formed
//! correct one is rewritten label-first (its own reasoning, moved after the label), the gold
//! rationale stands in when none is correct, and the model is fine-tuned on these targets
//! (see [`taosr1::stages::run_post_cot`]).
//!
//! `cargo run --release --example post_cot -- [--init runs/think-first/grpo]
//! [--out runs/think-first/post-cot] [--prompts 800] [--n 4] [--epochs 4] [--lr 3e-3]`
//!
//! Every flag, its default and what it accepts: `--help` (see [`taosr1::cli::PostCotArgs`]).

use burn::module::Module;
use clap::Parser;
use rand::SeedableRng;
use taosr1::assets::{load_checkpoint, save_checkpoint, save_order, Split};
use taosr1::backend;
use taosr1::cli::PostCotArgs;
use taosr1::eval::stage_table;
use taosr1::pipeline::evaluate_on_test;
use taosr1::stages::run_post_cot;
use taosr1_cot::ResponseOrder;

fn main() -> std::process::ExitCode {
    taosr1::cli::report(run(&PostCotArgs::parse()))
}

fn run(args: &PostCotArgs) -> Result<(), taosr1::Error> {
    let (init, out, eval) = (&args.init, &args.out, args.eval.limit());
    let data = args.source.resolve(args.data_paths())?;
    println!("backend: {}", backend::name());
    let think_first = data.codec()?.with_order(ResponseOrder::ThinkFirst);
    let label_first = think_first.clone().with_order(ResponseOrder::LabelFirst);
    let (model, config) = load_checkpoint(init, &backend::train_device())?;
    let before = evaluate_on_test(&model.valid(), &think_first, &data.test, eval)?;
    let train = data.load_nonempty(Split::Train)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
    let start = std::time::Instant::now();
    let (model, r) = run_post_cot(
        model,
        &think_first,
        &train,
        &args.run(),
        &mut rng,
        |s, _| {
            if s.step % 20 == 0 || s.step + 1 == s.total {
                println!(
                    "post-cot step {:>4}/{}  loss {:.4}",
                    s.step + 1,
                    s.total,
                    s.loss
                );
            }
        },
    )?;
    println!(
        "{} prompts: {} targets from the model's own correct reasoning, {} from gold; {:.1}s",
        r.prompts,
        r.own_samples,
        r.gold_fallback,
        start.elapsed().as_secs_f32()
    );
    save_checkpoint(&model, &config, out)?;
    save_order(out, ResponseOrder::LabelFirst)?;
    println!("checkpoint: {}", out.display());
    let after = evaluate_on_test(&model.valid(), &label_first, &data.test, eval)?;
    println!("\ntest split, argmax grade:");
    print!(
        "{}",
        stage_table(&[
            ("think-first (start)", &before),
            ("post-CoT label-first", &after)
        ])
    );
    Ok(())
}
