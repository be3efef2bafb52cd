//! Logits of a Hugging Face model folder on given token ids, as one JSON object on stdout:
//!
//! `cargo run --release --example logits -- --model DIR --ids 1,17,42 [--greedy N]`
//!
//! prints `{"logits": [[f32; vocab]; n_ids], "logprobs": [f32; n_ids - 1], "greedy": [ids]}`
//! where `logprobs[i] = log p(ids[i+1] | ids[..=i])` and `greedy` (only with `--greedy N`)
//! holds N ids decoded greedily with the KV cache. Nothing else is written to stdout; the
//! backend name and errors go to stderr. Compare with transformers:
//! `AutoModelForCausalLM.from_pretrained(DIR, dtype=torch.float32)(ids).logits`.

use burn::tensor::{Int, Tensor, TensorData};
use clap::Parser;
use rand::SeedableRng;
use taosr1::backend;
use taosr1::cli::LogitsArgs;
use taosr1::Error;
use taosr1_model::{generate, load_pretrained, SamplingConfig};

fn main() -> std::process::ExitCode {
    taosr1::cli::report(run(&LogitsArgs::parse()))
}

fn run(args: &LogitsArgs) -> Result<(), Error> {
    eprintln!("backend: {}", backend::name());
    let device = backend::device();
    let loaded = load_pretrained(&args.model, &device)?;
    let model = &loaded.model;
    let vocab = model.vocab_size();
    if let Some(bad) = args.ids.iter().find(|&&i| i as usize >= vocab) {
        return Err(Error::Input(format!(
            "--ids: token {bad} is outside the vocabulary of {} ({vocab} ids)",
            args.model.display()
        )));
    }
    let n = args.ids.len();
    if n > model.max_positions() {
        return Err(Error::Input(format!(
            "--ids: {n} ids exceed the model's context of {}",
            model.max_positions()
        )));
    }
    let ids = Tensor::<2, Int>::from_data(
        TensorData::new(
            args.ids.iter().map(|&i| i as i64).collect::<Vec<_>>(),
            [1, n],
        ),
        &device,
    );
    let logits = model.forward(ids.clone());
    let flat = logits
        .clone()
        .into_data()
        .try_to_vec_as::<f32>()
        .map_err(|e| Error::Input(format!("reading logits: {e:?}")))?;
    let logits: Vec<&[f32]> = flat.chunks(vocab).collect();
    let logprobs: Vec<f32> = (0..n.saturating_sub(1))
        .map(|i| {
            let row = logits[i];
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let lse = max + row.iter().map(|x| (x - max).exp()).sum::<f32>().ln();
            row[args.ids[i + 1] as usize] - lse
        })
        .collect();
    let mut out = serde_json::json!({ "logits": logits, "logprobs": logprobs });
    if let Some(steps) = args.greedy {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let generated = generate(
            model,
            std::slice::from_ref(&args.ids),
            0,
            &[],
            &SamplingConfig::greedy(steps),
            &mut rng,
        )?;
        out["greedy"] = serde_json::json!(generated[0].tokens);
    }
    println!("{out}");
    Ok(())
}
