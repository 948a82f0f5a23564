#![no_main]
//! ONNX bytes → decode → lower → every rule.

mod common;

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nnlint::load::onnx;

fuzz_target!(|data: &[u8]| {
    let bytes = bytes::Bytes::copy_from_slice(data);
    let loaded = onnx::decode_model_bytes(bytes)
        .and_then(|proto| onnx::lower(&proto, Path::new("/nonexistent-fuzz-dir/model.onnx")));
    common::lint(loaded);
});
