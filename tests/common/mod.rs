//! Helpers shared by the integration tests that run example binaries.

use std::path::PathBuf;

/// The example binary `name`, which `cargo test` builds next to the test binaries; `None`
/// (the caller skips with a message) when the test runs outside `cargo test`.
pub fn example_bin(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?; // target/<profile>/deps -> target/<profile>
    let bin = dir.join("examples").join(name);
    bin.exists().then_some(bin)
}
