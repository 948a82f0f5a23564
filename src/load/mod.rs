//! Front ends: each turns one file format into the IR.

pub mod external;
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

/// One front end: the file extensions it owns and the function that lowers such a file into the IR.
/// A loader returns the model with what the file says; [`load`] then runs shape inference on it, so a
/// loader need not (it may run it earlier if its own lowering needs shapes, as Keras's training spec
/// does: inference only sharpens, so running it twice is harmless).
pub struct FrontEnd {
    pub name: &'static str,
    /// Lower-case, without the dot.
    pub extensions: &'static [&'static str],
    pub load: fn(&Path) -> Result<Model, LoadError>,
}

/// Every format nnlint reads. Adding a front end = a folder under `load/` and a row here.
pub const FRONT_ENDS: &[FrontEnd] = &[
    FrontEnd {
        name: "ONNX",
        extensions: &["onnx"],
        load: onnx::load_onnx,
    },
    FrontEnd {
        name: "Keras JSON",
        extensions: &["json"],
        load: keras::load_json,
    },
    FrontEnd {
        name: "Keras YAML",
        extensions: &["yaml", "yml"],
        load: keras::load_yaml,
    },
    FrontEnd {
        name: "Keras archive",
        extensions: &["keras"],
        load: keras::load_archive,
    },
    FrontEnd {
        name: "Keras HDF5",
        extensions: &["h5", "hdf5"],
        load: keras::load_h5,
    },
];

/// The front end that owns `path`'s extension.
pub fn front_end(path: &Path) -> Option<&'static FrontEnd> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    FRONT_ENDS
        .iter()
        .find(|f| f.extensions.contains(&ext.as_str()))
}

/// Loads any supported file with the front end its extension names, then infers shapes.
pub fn load(path: &Path) -> Result<Model, LoadError> {
    let Some(front_end) = front_end(path) else {
        let known: Vec<String> = FRONT_ENDS
            .iter()
            .flat_map(|f| f.extensions.iter().map(|e| format!(".{e}")))
            .collect();
        return Err(LoadError::new(format!(
            "not a supported model file (expected {})",
            known.join(", ")
        )));
    };
    let mut model = (front_end.load)(path)?;
    finish(&mut model);
    Ok(model)
}

/// What every loaded model goes through after its front end, whoever called the loader.
pub fn finish(model: &mut Model) {
    crate::shape::infer(&mut model.graph, model.opset);
}

/// Whether a directory walk should pick this file up.
pub fn is_model_path(path: &Path) -> bool {
    front_end(path).is_some()
}
