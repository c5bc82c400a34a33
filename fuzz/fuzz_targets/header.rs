//! cargo-fuzz target `header`: see fuzz/src/targets.rs and docs/src/fuzzing.md.
#![no_main]

#[path = "../src/targets.rs"]
mod targets;

use std::path::Path;
use std::sync::OnceLock;

static TARGETS: OnceLock<targets::Targets> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    TARGETS
        .get_or_init(|| targets::Targets::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")))
        .run("header", data);
});
