//! Rebuild `assets/tokenizer.json` from the shipped data (`cargo run --example build_tokenizer`).

fn main() -> Result<(), taosr1::Error> {
    let tok = taosr1::assets::build_shipped_tokenizer()?;
    let path = taosr1::assets::tokenizer_path();
    tok.save(&path)?;
    println!("wrote {} ({} tokens)", path.display(), tok.vocab_size());
    Ok(())
}
