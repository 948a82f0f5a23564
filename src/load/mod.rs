//! Front ends: each turns one file format into the IR.

pub mod external;
pub mod hdf5;
pub mod keras;
pub mod onnx;

use std::path::Path;

use crate::ir::Model;

/// A file that could not be turned into a model. The message names what is wrong; the caller adds the path.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct LoadError {
    pub message: String,
    /// The file is readable but is not a model (e.g. a `.json` that is no Keras config): a directory
    /// scan skips it silently, a file named on the command line is an error.
    pub not_a_model: bool,
}

impl LoadError {
    pub fn new(message: impl Into<String>) -> Self {
        LoadError {
            message: message.into(),
            not_a_model: false,
        }
    }

    pub fn not_a_model(message: impl Into<String>) -> Self {
        LoadError {
            message: message.into(),
            not_a_model: true,
        }
    }
}

/// Loads any supported file, choosing the front end by extension.
pub fn load(path: &Path) -> Result<Model, LoadError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("onnx") => onnx::load_onnx(path),
        Some("json") => keras::load_json(path),
        Some("yaml" | "yml") => keras::load_yaml(path),
        Some("keras") => keras::load_archive(path),
        Some("h5" | "hdf5") => keras::load_h5(path),
        _ => Err(LoadError::new(
            "not a supported model file (expected .onnx, .keras, .json, .yaml/.yml or .h5)",
        )),
    }
}

/// Whether a directory walk should pick this file up.
pub fn is_model_path(path: &Path) -> bool {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    matches!(
        ext.as_deref(),
        Some("onnx" | "json" | "yaml" | "yml" | "keras" | "h5" | "hdf5")
    )
}
