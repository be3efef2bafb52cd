//! A reply to one chat prompt from a Hugging Face model folder or a GGUF file, through the
//! checkpoint's own tokenizer and chat template (rendered with minijinja as transformers'
//! `apply_chat_template` does):
//!
//! `cargo run --release --example generate -- --model ../models/smollm2-135m-instruct --prompt "What is the capital of France?"`
//!
//! Greedy by default (`--temperature T --top-p P --seed N` to sample). The reply goes to
//! stdout; the backend, the prompt length and the speed go to stderr. Every flag:
//! `cargo run --release --example generate -- --help` (see [`taosr1::cli::GenerateArgs`]).

use std::time::Instant;

use clap::Parser;
use rand::SeedableRng;
use taosr1::backend;
use taosr1::cli::GenerateArgs;
use taosr1::Error;
use taosr1_model::{generate, load_pretrained, ChatMessage, SamplingConfig, TaoTokenizer};

fn main() -> std::process::ExitCode {
    taosr1::cli::report(run(&GenerateArgs::parse()))
}

fn run(args: &GenerateArgs) -> Result<(), Error> {
    let device = backend::device();
    let start = Instant::now();
    let loaded = load_pretrained(&args.model, &device)?;
    let tokenizer = if args.model.is_file() {
        TaoTokenizer::from_gguf(&args.model)?
    } else {
        TaoTokenizer::from_pretrained(&args.model)?
    };
    let mut messages = Vec::new();
    if let Some(system) = &args.system {
        messages.push(ChatMessage::system(system));
    }
    messages.push(ChatMessage::user(&args.prompt));
    let prompt = tokenizer.apply_chat_template(&messages, true, &serde_json::json!({}))?;
    eprintln!(
        "backend: {}; loaded in {:.2} s; prompt: {} tokens",
        backend::name(),
        start.elapsed().as_secs_f64(),
        prompt.len()
    );
    let mut stop: Vec<u32> = tokenizer.eos_ids().to_vec();
    stop.extend(&loaded.generation.eos_token_ids);
    let sampling = if args.temperature == 0.0 {
        SamplingConfig::greedy(args.max_new_tokens)
    } else {
        SamplingConfig::sampled(args.temperature, args.top_p, args.max_new_tokens)
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
    let t = Instant::now();
    let out = generate(
        &loaded.model,
        &[prompt],
        tokenizer.pad_id(),
        &stop,
        &sampling,
        &mut rng,
    )?;
    let tokens = &out[0].tokens;
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "{} tokens in {secs:.2} s ({:.1} tokens/s){}",
        tokens.len(),
        tokens.len() as f64 / secs,
        if out[0].stopped {
            ", stopped at end of sequence"
        } else {
            ""
        }
    );
    println!("{}", tokenizer.decode(tokens)?);
    Ok(())
}
