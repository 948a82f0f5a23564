//! Front ends: each turns one file format into the IR.

pub mod external;
pub mod hdf5;
pub mod hf;
pub mod keras;
pub mod onnx;
pub mod python;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::ir::Model;

/// What a run tells the front ends beyond the file itself (the settings of the file's config and
/// command line). The default is what a file alone says.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LoadOptions {
    /// Folders (canonical) Python's first-party imports are looked up in, after the linted file's
    /// own folder: config `src`, `--src`. `None`: the project root found from its markers
    /// (`pyproject.toml`, `setup.py`, `setup.cfg`, `.git`) and its `src/`.
    pub src: Option<Arc<[PathBuf]>>,
}

/// A file that could not be turned into a model. The message names what is wrong; the caller adds the path.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct LoadError {
    pub message: String,
    /// The file is readable but is not a model (e.g. a `.json` that is no Keras config): a directory
    /// scan skips it silently, a file named on the command line is an error.
    pub not_a_model: bool,
    /// The file is a readable model, but what nnlint checks is not in it (a subclassed Keras model
    /// records no layers): a note, not an error, and the exit code ignores it.
    pub not_checked: bool,
    /// Why a file was not checked, without its line (`--statistics` counts files by it).
    pub reason: Option<String>,
    /// A not-checked Python file's syntax errors (reported as such, exit code 1).
    pub syntax_errors: Vec<crate::ir::SyntaxErrorAt>,
}

impl LoadError {
    pub fn new(message: impl Into<String>) -> Self {
        LoadError {
            message: message.into(),
            not_a_model: false,
            not_checked: false,
            reason: None,
            syntax_errors: vec![],
        }
    }

    /// A readable model whose architecture the file does not record; the message says what to lint
    /// instead.
    pub fn not_checked(message: impl Into<String>) -> Self {
        LoadError {
            message: message.into(),
            not_a_model: false,
            not_checked: true,
            reason: None,
            syntax_errors: vec![],
        }
    }

    /// [`LoadError::not_checked`] with the reason `--statistics` counts it under.
    pub fn not_checked_because(message: impl Into<String>, reason: impl Into<String>) -> Self {
        LoadError {
            reason: Some(reason.into()),
            ..LoadError::not_checked(message)
        }
    }

    pub fn not_a_model(message: impl Into<String>) -> Self {
        LoadError {
            message: message.into(),
            not_a_model: true,
            not_checked: false,
            reason: None,
            syntax_errors: vec![],
        }
    }
}

/// A loader of a model already in memory, named by the path.
pub type FromBytes = fn(&Path, Vec<u8>, &LoadOptions) -> Result<Model, LoadError>;

/// One front end: the file extensions it owns and the function that lowers such a file into the IR.
/// A loader returns the model with what the file says; [`load`] then runs shape inference on it, so a
/// loader need not (it may run it earlier if its own lowering needs shapes, as Keras's training spec
/// does: inference only sharpens, so running it twice is harmless).
pub struct FrontEnd {
    pub name: &'static str,
    /// Lower-case, without the dot.
    pub extensions: &'static [&'static str],
    pub load: fn(&Path, &LoadOptions) -> Result<Model, LoadError>,
    /// The same on bytes already in memory (standard input); `path` only names the model.
    pub from_bytes: FromBytes,
}

/// Every format nnlint reads. Adding a front end = a folder under `load/` and a row here.
pub const FRONT_ENDS: &[FrontEnd] = &[
    FrontEnd {
        name: "ONNX",
        extensions: &["onnx"],
        load: |path, _| onnx::load_onnx(path),
        from_bytes: |path, bytes, _| onnx::from_bytes(path, bytes),
    },
    FrontEnd {
        name: "JSON model config (Keras, Hugging Face)",
        extensions: &["json"],
        load: |path, _| load_json(path),
        from_bytes: |path, bytes, _| json_from_text(path, utf8(bytes)?),
    },
    FrontEnd {
        name: "Keras YAML",
        extensions: &["yaml", "yml"],
        load: |path, _| keras::load_yaml(path),
        from_bytes: |path, bytes, _| keras::yaml_from_text(path, utf8(bytes)?),
    },
    FrontEnd {
        name: "Keras archive",
        extensions: &["keras"],
        load: |path, _| keras::load_archive(path),
        from_bytes: |path, bytes, _| keras::archive_from_bytes(path, &bytes),
    },
    FrontEnd {
        name: "Keras HDF5",
        extensions: &["h5", "hdf5"],
        load: |path, _| keras::load_h5(path),
        from_bytes: |path, bytes, _| keras::h5_from_bytes(path, bytes::Bytes::from(bytes)),
    },
    FrontEnd {
        name: "Python source",
        extensions: &["py"],
        load: python::load_python,
        from_bytes: |path, bytes, opts| python::python_from_bytes(path, &bytes, opts),
    },
    FrontEnd {
        name: "Jupyter notebook",
        extensions: &["ipynb"],
        load: python::load_notebook,
        from_bytes: |path, bytes, opts| python::notebook_from_bytes(path, &bytes, opts),
    },
];

/// A `.json` file: a Keras model config or a Hugging Face transformers config, told apart by what
/// the document holds (never by the file's name); anything else is not a model.
pub fn load_json(path: &Path) -> Result<Model, LoadError> {
    json_from_text(path, keras::read_text(path).map_err(neither)?)
}

/// [`load_json`] on text already in memory; `path` only names the model.
pub fn json_from_text(path: &Path, text: String) -> Result<Model, LoadError> {
    if hf::may_be_config(&text)
        && let Ok(root) = keras::json::parse(&text)
        && hf::is_config(&root)
    {
        return hf::from_tree(path, text, &root);
    }
    keras::json_from_text(path, text).map_err(neither)
}

/// A `.json` that is no Keras config is no Hugging Face config either: say both.
fn neither(e: LoadError) -> LoadError {
    match e.message.strip_prefix("not a Keras model config: ") {
        Some(rest) if e.not_a_model => LoadError {
            message: format!("not a Keras or Hugging Face model config: {rest}"),
            ..e
        },
        _ => e,
    }
}

/// The front end that owns `path`'s extension.
pub fn front_end(path: &Path) -> Option<&'static FrontEnd> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    FRONT_ENDS
        .iter()
        .find(|f| f.extensions.contains(&ext.as_str()))
}

/// Loads any supported file with the front end its extension names, then infers shapes.
pub fn load(path: &Path) -> Result<Model, LoadError> {
    load_with(path, &LoadOptions::default())
}

/// [`load`] with the run's options for the file (its settings).
pub fn load_with(path: &Path, options: &LoadOptions) -> Result<Model, LoadError> {
    precheck(path)?;
    let mut model = (front_end_or_error(path)?.load)(path, options)?;
    finish(&mut model);
    Ok(model)
}

/// [`load_with`] on bytes read elsewhere (standard input, a fix's edited text), named by `path`.
pub fn load_bytes(path: &Path, bytes: Vec<u8>, options: &LoadOptions) -> Result<Model, LoadError> {
    let front_end = front_end_or_error(path)?;
    check_content(path, bytes.len() as u64, &bytes)?;
    let mut model = (front_end.from_bytes)(path, bytes, options)?;
    finish(&mut model);
    Ok(model)
}

/// The first line of a Git LFS pointer file: what a checkout without LFS leaves instead of the file.
pub const LFS_POINTER: &[u8] = b"version https://git-lfs.github.com/spec/v1";

/// Formats that are models whatever their content: an empty file of these is an error.
const BINARY_MODEL_EXTENSIONS: &[&str] = &["onnx", "keras", "h5", "hdf5"];

/// What is wrong with a path before any front end reads it: it does not exist, it is a Git LFS
/// pointer, or it is an empty binary model.
fn precheck(path: &Path) -> Result<(), LoadError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(LoadError::new("does not exist (no such file or folder)"));
        }
        // Let the front end report other failures in its own words.
        Err(_) => return Ok(()),
    };
    if !meta.is_file() {
        return Ok(());
    }
    let mut head = Vec::new();
    if meta.len() < 1024 {
        use std::io::Read;
        if let Ok(f) = std::fs::File::open(path) {
            let _ = f.take(LFS_POINTER.len() as u64).read_to_end(&mut head);
        }
    }
    check_content(path, meta.len(), &head)
}

/// `head` is the start of the file (at least the LFS signature's length when the file is that long).
fn check_content(path: &Path, len: u64, head: &[u8]) -> Result<(), LoadError> {
    if len < 1024 && head.starts_with(LFS_POINTER) {
        return Err(LoadError::new(format!(
            "a Git LFS pointer ({len} bytes), not the model: the repository stores the file in Git \
             LFS and this checkout has only the pointer. Run `git lfs pull`; in GitHub Actions, \
             check out with `lfs: true` (actions/checkout)"
        )));
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if len == 0 && ext.is_some_and(|e| BINARY_MODEL_EXTENSIONS.contains(&e.as_str())) {
        return Err(LoadError::new("the file is empty (0 bytes)"));
    }
    Ok(())
}

fn front_end_or_error(path: &Path) -> Result<&'static FrontEnd, LoadError> {
    front_end(path).ok_or_else(|| {
        let known: Vec<String> = FRONT_ENDS
            .iter()
            .flat_map(|f| f.extensions.iter().map(|e| format!(".{e}")))
            .collect();
        LoadError::new(format!(
            "not a supported model file (expected {})",
            known.join(", ")
        ))
    })
}

fn utf8(bytes: Vec<u8>) -> Result<String, LoadError> {
    String::from_utf8(bytes).map_err(|e| {
        LoadError::new(format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Reads a regular file, at most `max + 1` bytes (never more than it holds); the flag says it holds
/// more than `max`. For the front ends that read their input whole.
pub(crate) fn read_capped(path: &Path, max: u64) -> Result<(Vec<u8>, bool), LoadError> {
    use std::io::Read;
    let meta = std::fs::metadata(path)
        .map_err(|e| LoadError::new(format!("cannot read the file ({e})")))?;
    if !meta.is_file() {
        return Err(LoadError::new("not a regular file"));
    }
    let file = std::fs::File::open(path)
        .map_err(|e| LoadError::new(format!("cannot open the file ({e})")))?;
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| LoadError::new(format!("cannot read the file ({e})")))?;
    let over = bytes.len() as u64 > max;
    Ok((bytes, over))
}

/// What every loaded model goes through after its front end, whoever called the loader.
pub fn finish(model: &mut Model) {
    crate::shape::infer(&mut model.graph, model.opset);
}

/// Whether a directory walk should pick this file up.
pub fn is_model_path(path: &Path) -> bool {
    front_end(path).is_some()
}
