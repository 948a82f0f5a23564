#![no_main]
//! `.json` text (Keras and Hugging Face configs, told apart by content) → parse → lower → every
//! rule.

mod common;

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nnlint::load;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    common::lint(load::json_from_text(
        Path::new("model.json"),
        text.to_string(),
    ));
});
