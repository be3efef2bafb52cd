//! Where the tests find the Home Depot Kaggle file, which is never copied into the
//! repository: `TAOSR1_HOME_DEPOT_CSV`, else `../shared/data/home-depot-search-relevance/`
//! next to the workspace.

use std::path::{Path, PathBuf};

/// The Home Depot `train_utf8.csv`, if present (a skip message otherwise).
pub fn csv_path() -> Option<PathBuf> {
    let path = std::env::var_os("TAOSR1_HOME_DEPOT_CSV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/data/home-depot-search-relevance/train_utf8.csv")
        });
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "SKIPPED: {} not found (set TAOSR1_HOME_DEPOT_CSV)",
            path.display()
        );
        None
    }
}
