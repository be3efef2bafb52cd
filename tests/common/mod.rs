//! Helpers shared by the integration tests that run example binaries.

#![allow(dead_code)] // each test binary uses some of these

use std::path::PathBuf;

/// The example binary `name`, which `cargo test` builds next to the test binaries; `None`
/// (the caller skips with a message) when the test runs outside `cargo test`.
pub fn example_bin(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?; // target/<profile>/deps -> target/<profile>
    let bin = dir.join("examples").join(name);
    bin.exists().then_some(bin)
}

/// Run `bin` with `args`, assert that it exits successfully (printing its stderr otherwise)
/// and return its stdout.
pub fn run_ok(bin: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new(bin).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{} failed: {}",
        bin.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A fresh, empty folder under the temp dir for one test (`taosr1-NAME-PID`); whatever an
/// earlier run of the same process id left there is removed first.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("taosr1-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Run `bin` with `args`, assert that it fails, and return its stderr.
pub fn run_err(bin: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new(bin).args(args).output().unwrap();
    assert!(
        !out.status.success(),
        "{} {args:?} succeeded where it should fail",
        bin.display()
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}
