#![no_main]
//! Notebook JSON bytes → code cells → parse each → abstract interpretation → lower → every rule.

mod common;

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nnlint::load::python;

fuzz_target!(|data: &[u8]| {
    common::lint(python::notebook_from_bytes(
        Path::new("train.ipynb"),
        data,
        &Default::default(),
    ));
});
