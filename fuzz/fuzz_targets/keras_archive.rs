#![no_main]
//! `.keras` archive bytes → zip → config.json → lower → every rule.

mod common;

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nnlint::load::keras;

fuzz_target!(|data: &[u8]| {
    common::lint(keras::archive_from_bytes(Path::new("model.keras"), data));
});
