#![no_main]
//! Keras JSON text → parse → lower → every rule.

mod common;

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nnlint::load::keras;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    common::lint(keras::json_from_text(
        Path::new("model.json"),
        text.to_string(),
    ));
});
