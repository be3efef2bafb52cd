//! Rebuild `assets/tokenizer.json` from the shipped data.
//!
//! `cargo run --example build_tokenizer -- [--output assets/tokenizer.json]
//! [--train data/train.jsonl] [--validation data/validation.jsonl] [--test data/test.jsonl]`
//!
//! Every flag, its default and what it accepts:
//! `cargo run --example build_tokenizer -- --help` (see [`taosr1::cli::BuildTokenizerArgs`]).

use clap::Parser;
use taosr1::cli::BuildTokenizerArgs;

fn main() -> std::process::ExitCode {
    taosr1::cli::report(run(&BuildTokenizerArgs::parse()))
}

fn run(args: &BuildTokenizerArgs) -> Result<(), taosr1::Error> {
    let d = &args.data;
    let tok =
        taosr1::assets::build_tokenizer_from(&[&d.train.path, &d.validation.path, &d.test.path])?;
    let path = &args.output;
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| taosr1::Error::io(dir, e))?;
    }
    tok.save(path)?;
    println!("wrote {} ({} tokens)", path.display(), tok.vocab_size());
    Ok(())
}
