#![no_main]
//! HDF5 bytes → our reader: every group, dataset and the attributes Keras uses, read in full; then
//! the same bytes as a legacy Keras `.h5` model → lower → every rule.

mod common;

use std::path::Path;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use nnlint::load::hdf5::File;
use nnlint::load::keras;

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    if let Ok(file) = File::open(bytes.clone()) {
        if let Ok(root) = file.root() {
            file.read_everything(&root);
        }
    }
    common::lint(keras::h5_from_bytes(Path::new("model.h5"), bytes));
});
