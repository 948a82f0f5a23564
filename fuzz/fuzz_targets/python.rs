#![no_main]
//! Python source bytes → decode → parse → abstract interpretation → lower → every rule.

mod common;

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nnlint::load::python;

fuzz_target!(|data: &[u8]| {
    common::lint(python::python_from_bytes(
        Path::new("train.py"),
        data,
        &Default::default(),
    ));
});
