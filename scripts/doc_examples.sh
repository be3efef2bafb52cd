#!/usr/bin/env bash
# Check that every public item of the six published crates has a rustdoc code example.
#
#   scripts/doc_examples.sh            (needs a nightly toolchain: `rustup toolchain install nightly`)
#
# Stable rustdoc cannot check this: the `rustdoc::missing_doc_code_examples` lint is unstable
# (rust-lang/rust#101730), so it is turned on here with `-Zcrate-attr` and made an error. The
# doc tests themselves run on stable in `.ci/run` (`cargo test --workspace` runs them); this script
# only checks that none is missing. It is not part of `.ci/run` because CI has no nightly.
# The root `taosr1` crate (publish = false, the examples' glue) is not checked.
# Uses its own target dir, NIGHTLY_TARGET_DIR (default target/nightly-doc): nightly artefacts
# do not mix with stable ones.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${NIGHTLY_TARGET_DIR:-target/nightly-doc}"
status=0
for crate in taosr1-model taosr1-cot taosr1-dpo taosr1-grpo taosr1-rewards taosr1-partition; do
    echo "== $crate"
    cargo +nightly rustdoc -q -p "$crate" -- -Z unstable-options \
        -Zcrate-attr="feature(rustdoc_missing_doc_code_examples)" \
        -D rustdoc::missing-doc-code-examples || status=1
done
exit $status
