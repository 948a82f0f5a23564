#![no_main]
//! Keras YAML text → parse → lower → every rule.

mod common;

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nnlint::load::keras;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    common::lint(keras::yaml_from_text(
        Path::new("model.yaml"),
        text.to_string(),
    ));
});
