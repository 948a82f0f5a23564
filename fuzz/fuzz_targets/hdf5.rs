#![no_main]
//! HDF5 bytes → our reader: every group, dataset and the attributes Keras uses, read in full; then
//! the same bytes as a legacy Keras `.h5` model → lower → every rule.

mod common;

use std::path::Path;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use nnlint::load::hdf5::{File, Object};
use nnlint::load::keras;

fn walk(file: &File, obj: &Object, depth: usize) {
    for name in ["model_config", "training_config", "name", "weight_names", "layer_names", "title"] {
        if let Ok(Some(a)) = file.attribute(obj, name) {
            let _ = file.attribute_strings(&a, name);
        }
    }
    if file.is_dataset(obj) {
        if let Ok(ds) = file.dataset(obj) {
            let _ = file.read(&ds);
        }
        return;
    }
    if depth > 8 {
        return;
    }
    for (_, addr) in file.links(obj).unwrap_or_default() {
        if let Ok(child) = file.object(addr) {
            walk(file, &child, depth + 1);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    if let Ok(file) = File::open(bytes.clone()) {
        if let Ok(root) = file.root() {
            walk(&file, &root, 0);
        }
    }
    common::lint(keras::h5_from_bytes(Path::new("model.h5"), bytes));
});
