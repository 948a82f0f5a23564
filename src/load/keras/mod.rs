//! Keras front end: `model.to_json()` output (Keras 3 and Keras 2 / tf.keras layouts), YAML configs of
//! the same structure, and `.keras` archives (their `config.json`). The text is parsed into a tree
//! that keeps byte spans (`tree.rs`, by `json.rs` or `yaml.rs`), lowered into the IR (`lower.rs`,
//! `layers/`) and the compile config read into the training spec (`training.rs`). Legacy `.h5`
//! models and the weights of `.keras` archives are read with our HDF5 reader (`h5.rs`); weights that
//! match the config fill the layers' constants, and numerical checks then run on them.

/// The `axis` a PyTorch softmax written without `dim` gets from the Python front end: the lowering
/// applies PyTorch's implicit-dim rule once the input's rank is known.
pub const TORCH_IMPLICIT_DIM: &str = "pytorch-implicit-dim";

pub mod archive;
pub mod h5;
pub mod json;
mod layers;
mod lower;
pub mod training;
pub mod tree;
pub mod yaml;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use self::tree::{Node, line_col};
use super::LoadError;
use crate::ir::{Format, Framework, Model, Part, Weights, WeightsProvenance};

/// Keras layers lower to ONNX ops with the semantics of this opset (Softmax over one axis).
pub const OPSET: i64 = 13;

/// Largest config file read from disk.
pub const MAX_TEXT_BYTES: u64 = archive::MAX_CONFIG_BYTES;

pub fn load_json(path: &Path) -> Result<Model, LoadError> {
    json_from_text(path, read_text(path)?)
}

/// [`load_json`] on text already in memory; `path` only names the model (fuzzing and tests).
pub fn json_from_text(path: &Path, text: String) -> Result<Model, LoadError> {
    require_class_name(&text)?;
    let root = json::parse(&text).map_err(|e| parse_failure(&text, e))?;
    build(
        path,
        Format::KerasJson,
        display_name(path),
        text,
        &root,
        BTreeMap::new(),
        None,
    )
}

pub fn load_yaml(path: &Path) -> Result<Model, LoadError> {
    yaml_from_text(path, read_text(path)?)
}

/// [`load_yaml`] on text already in memory; `path` only names the model (fuzzing and tests).
pub fn yaml_from_text(path: &Path, text: String) -> Result<Model, LoadError> {
    require_class_name(&text)?;
    let root = yaml::parse(&text).map_err(|e| parse_failure(&text, e))?;
    build(
        path,
        Format::KerasYaml,
        display_name(path),
        text,
        &root,
        BTreeMap::new(),
        None,
    )
}

pub fn load_archive(path: &Path) -> Result<Model, LoadError> {
    let contents = archive::read(path)?;
    let whole = match contents.weights_data {
        Some(archive::WeightsData::Stored { .. }) => Some(h5::map_file(path)),
        _ => None,
    };
    archive_from_contents(path, contents, whole)
}

/// [`load_archive`] on archive bytes already in memory; `path` only names the model (fuzzing and tests).
pub fn archive_from_bytes(path: &Path, bytes: &[u8]) -> Result<Model, LoadError> {
    let contents = archive::read_from(std::io::Cursor::new(bytes))?;
    let stored = matches!(
        contents.weights_data,
        Some(archive::WeightsData::Stored { .. })
    );
    let whole = stored.then(|| Ok(Bytes::copy_from_slice(bytes)));
    archive_from_contents(path, contents, whole)
}

const WEIGHTS_IN_ARCHIVE: &str = "model.weights.h5 inside the archive";

/// The archive's weights file, read (not yet decoded); `Err` says why it cannot be used.
fn archive_weights(
    data: Option<archive::WeightsData>,
    whole: Option<Result<Bytes, LoadError>>,
) -> Option<Result<h5::FileWeights, String>> {
    let bytes = match data? {
        archive::WeightsData::Unreadable(why) => return Some(Err(why)),
        archive::WeightsData::Inflated(v) => Bytes::from(v),
        archive::WeightsData::Stored { start, size } => {
            let whole = match whole? {
                Ok(b) => b,
                Err(e) => return Some(Err(e.message)),
            };
            let end = start.checked_add(size).filter(|&e| e <= whole.len() as u64);
            match end {
                Some(end) => whole.slice(start as usize..end as usize),
                None => {
                    return Some(Err(format!(
                        "its {size} bytes at offset {start} run past the end of the archive"
                    )));
                }
            }
        }
    };
    Some(h5::read_keras3(bytes, WEIGHTS_IN_ARCHIVE.to_string()))
}

fn archive_from_contents(
    path: &Path,
    contents: archive::Contents,
    whole: Option<Result<Bytes, LoadError>>,
) -> Result<Model, LoadError> {
    let mut metadata = BTreeMap::new();
    if let Some(meta) = contents
        .metadata
        .as_deref()
        .and_then(|m| json::parse(m).ok())
    {
        for e in meta.entries().unwrap_or_default() {
            if let Some(v) = e.value.as_str() {
                metadata.insert(e.key.clone(), v.to_string());
            }
        }
    }
    if let Some((name, size)) = &contents.weights {
        metadata.insert("weights_file".into(), format!("{name} ({size} bytes)"));
    }
    let weights = archive_weights(contents.weights_data, whole);
    let source_name = format!("{}/config.json", display_name(path));
    let root = json::parse(&contents.config)
        .map_err(|e| LoadError::new(format!("config.json inside the archive: {e}")))?;
    build(
        path,
        Format::KerasArchive,
        source_name,
        contents.config,
        &root,
        metadata,
        weights,
    )
    .map_err(|e| {
        if e.not_a_model {
            LoadError::new(format!("config.json inside the archive: {}", e.message))
        } else {
            e
        }
    })
}

/// A legacy Keras `.h5` model: the root attributes `model_config` and `training_config` (with
/// `keras_version`, `backend`) are lowered as one JSON document, and `model_weights/` fills the
/// layers' constants. Any other HDF5 file (weights, data) is `not_a_model`.
pub fn load_h5(path: &Path) -> Result<Model, LoadError> {
    h5_from_bytes(path, h5::map_file(path)?)
}

/// [`load_h5`] on bytes already in memory; `path` only names the model (fuzzing and tests).
pub fn h5_from_bytes(path: &Path, data: Bytes) -> Result<Model, LoadError> {
    let name = display_name(path);
    let legacy = h5::read_legacy(data, &name)?;
    let source_name = if legacy.has_training {
        format!("the model_config and training_config attributes of {name}")
    } else {
        format!("the model_config attribute of {name}")
    };
    let root = json::parse(&legacy.text)
        .map_err(|e| LoadError::new(format!("the model_config attribute: {e}")))?;
    let weights = legacy.weights.transpose();
    build(
        path,
        Format::KerasH5,
        source_name,
        legacy.text,
        &root,
        BTreeMap::new(),
        weights,
    )
    .map_err(|e| {
        if e.not_a_model {
            LoadError::new(format!("the model_config attribute: {}", e.message))
        } else {
            e
        }
    })
}

fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

pub(crate) fn read_text(path: &Path) -> Result<String, LoadError> {
    let (bytes, over) = super::read_capped(path, MAX_TEXT_BYTES)?;
    if over {
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(64 << 10)]);
        let message = format!("the file is larger than {MAX_TEXT_BYTES} bytes");
        return Err(if looks_like_keras(&head) {
            LoadError::new(format!("{message}, the limit for a Keras config"))
        } else {
            LoadError::not_a_model(format!("not a Keras model config: {message}"))
        });
    }
    String::from_utf8(bytes)
        .map_err(|_| LoadError::not_a_model("not a Keras model config: not UTF-8 text"))
}

/// Every Keras config names classes; a file that never says `class_name` is skipped unparsed.
fn require_class_name(text: &str) -> Result<(), LoadError> {
    if text.contains("class_name") {
        Ok(())
    } else {
        Err(LoadError::not_a_model(
            "not a Keras model config: the file never mentions `class_name`",
        ))
    }
}

/// A config that fails to parse is reported as broken when it is recognisably Keras, and as "not a
/// model" otherwise (so a directory scan skips unrelated broken JSON/YAML).
fn looks_like_keras(text: &str) -> bool {
    text.contains("class_name") && (text.contains("layers") || text.contains("keras"))
}

fn parse_failure(text: &str, message: String) -> LoadError {
    if looks_like_keras(text) {
        LoadError::new(message)
    } else {
        LoadError::not_a_model(format!("not a Keras model config: {message}"))
    }
}

/// The model config and the compile/training config inside a parsed document.
fn locate(root: &Node) -> Result<(&Node, Option<&Node>), LoadError> {
    if root.entries().is_none() {
        return Err(LoadError::not_a_model(format!(
            "not a Keras model config: the document is {}, not a mapping",
            root.type_name()
        )));
    }
    // Legacy `.h5` root attributes dumped to a file: {"model_config": {...}, "training_config": {...}}.
    if let Some(model) = root.get("model_config").filter(|m| m.entries().is_some()) {
        return Ok((model, root.get_some("training_config")));
    }
    let class = root.get("class_name").and_then(Node::as_str);
    let config = root.get("config").filter(|c| c.entries().is_some());
    let (Some(class), Some(config)) = (class, config) else {
        return Err(LoadError::not_a_model(
            "not a Keras model config: the top level has no `class_name` and `config`",
        ));
    };
    if config.get("layers").is_none() {
        let keras_like = root
            .get("module")
            .and_then(Node::as_str)
            .is_some_and(|m| m.starts_with("keras"))
            || root.get("keras_version").is_some()
            || root.get("build_config").is_some()
            || root.get("compile_config").is_some();
        let model_class = matches!(class, "Sequential" | "Functional" | "Model");
        return Err(if model_class {
            LoadError::new(format!("Keras model `{class}` has no `config.layers` list"))
        } else if keras_like {
            LoadError::not_checked(format!(
                "not checked: the architecture is not recorded in the file (`{class}` is a \
                 subclassed model or a single layer, whose structure is Python code); lint the \
                 Python source or an ONNX export"
            ))
        } else {
            LoadError::not_a_model(format!(
                "not a Keras model config: `{class}` has no `config.layers`"
            ))
        });
    }
    let compile = root
        .get_some("compile_config")
        .or_else(|| root.get_some("training_config"));
    Ok((root, compile))
}

/// Lowers a config tree built by another front end (the Python source front end writes what the
/// script builds as the tree `model.to_json()` would give, spans pointing into the script).
pub(crate) fn build_from_tree(
    path: &Path,
    format: Format,
    source_name: String,
    text: impl Into<Arc<str>>,
    root: &Node,
    metadata: BTreeMap<String, String>,
) -> Result<Model, LoadError> {
    build(path, format, source_name, text, root, metadata, None)
}

fn build(
    path: &Path,
    format: Format,
    source_name: String,
    text: impl Into<Arc<str>>,
    root: &Node,
    mut metadata: BTreeMap<String, String>,
    weights: Option<Result<h5::FileWeights, String>>,
) -> Result<Model, LoadError> {
    let text: Arc<str> = text.into();
    let (model_root, compile) = locate(root)?;
    let version = root
        .get("keras_version")
        .or_else(|| model_root.get("keras_version"))
        .and_then(Node::as_str)
        .map(str::to_string)
        .or_else(|| metadata.get("keras_version").cloned());
    let backend = root
        .get("backend")
        .or_else(|| model_root.get("backend"))
        .and_then(Node::as_str)
        .map(str::to_string);
    let keras2 = match &version {
        Some(v) => v.starts_with("2."),
        None => model_root.get("module").is_none(),
    };
    let lowered = lower::lower(
        model_root,
        keras2,
        matches!(format, Format::PythonSource | Format::Notebook),
    )
    .map_err(|e| {
        let at =
            e.at.map(|s| {
                let (line, col) = line_col(&text, s.offset);
                format!(" (line {line}, column {col})")
            })
            .unwrap_or_default();
        LoadError::new(format!("{}{at}", e.message))
    })?;
    let mut graph = lowered.graph;
    if format == Format::KerasYaml {
        apply_yaml_suppressions(&mut graph, &text);
    }
    if !lowered.conflicts.is_empty() {
        metadata.insert("shape_conflicts".into(), lowered.conflicts.join("; "));
    }
    let mut weights_state = Weights::Absent;
    let weights_provenance = match weights {
        None => WeightsProvenance::None,
        Some(Err(why)) => WeightsProvenance::NotUsed {
            why: format!("the weights file cannot be read: {why}"),
        },
        Some(Ok(w)) => match h5::attach(&mut graph, &lowered.weight_slots, &w) {
            Ok(0) => WeightsProvenance::None,
            Ok(n) => {
                weights_state = Weights::Real;
                WeightsProvenance::Loaded {
                    tensors: n,
                    from: w.what,
                }
            }
            Err(problems) => WeightsProvenance::NotUsed {
                why: format!("{} is not used: {}", w.what, problems.join("; ")),
            },
        },
    };
    crate::shape::infer(&mut graph, OPSET);
    // An uncompiled Keras 3 model writes `"compile_config": {}`.
    let compiled = compile.filter(|c| c.entries().is_some_and(|e| !e.is_empty()));
    let framework = if keras2 {
        Framework::TfKeras
    } else {
        Framework::Keras
    };
    let training = compiled.map(|c| {
        let outputs = training::Outputs {
            graph: &graph,
            names: &lowered.output_names,
        };
        let mut spec = training::training_spec(c, &outputs, backend.clone());
        for loss in &mut spec.losses {
            loss.framework = framework;
        }
        spec
    });
    if let Some(v) = &version {
        metadata.insert("keras_version".into(), v.clone());
    }
    if let Some(b) = &backend {
        metadata.insert("backend".into(), b.clone());
    }
    let producer = match &version {
        Some(v) => format!("keras {v}"),
        None => "keras".to_string(),
    };
    Ok(Model {
        path: path.to_path_buf(),
        format,
        source_name,
        source_text: Some(text),
        opset: OPSET,
        producer,
        framework,
        graph,
        training,
        metadata,
        weights: weights_state,
        assumed_widths: lowered.assumed_widths,
        not_followed: vec![],
        syntax_errors: vec![],
        imported_sources: vec![],
        submodels: vec![],
        weights_provenance,
        source_map: None,
    })
}

/// `# nnlint: ignore[NNL001]` in a comment on a layer entry (its lines, or comment lines right above
/// it) suppresses those rules on the layer's ops.
fn apply_yaml_suppressions(graph: &mut crate::ir::Graph, text: &str) {
    let mut cache: BTreeMap<(usize, usize), Vec<String>> = BTreeMap::new();
    for op in &mut graph.ops {
        let Some(span) = op.origin.spans.get(&Part::Entry) else {
            continue;
        };
        let codes = cache.entry((span.offset, span.len)).or_insert_with(|| {
            crate::suppress::parse_markers(&entry_comments(
                text,
                span.offset,
                span.offset + span.len,
            ))
        });
        op.origin.suppress.extend(codes.iter().cloned());
    }
}

/// The comments of a YAML layer entry: from its first line (and the comment-only lines directly
/// above) to its last line with content (trailing comment lines belong to the next entry).
fn entry_comments(text: &str, start: usize, end: usize) -> String {
    let end = end.min(text.len());
    let start = start.min(end);
    let first_line = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let is_comment = |l: &str| l.trim_start().starts_with('#');
    let above: Vec<&str> = text[..first_line]
        .lines()
        .rev()
        .take_while(|l| is_comment(l))
        .collect();
    let mut lines: Vec<&str> = above.into_iter().rev().collect();
    let mut body: Vec<&str> = text[first_line..end].lines().collect();
    while body
        .last()
        .is_some_and(|l| l.trim().is_empty() || is_comment(l))
    {
        body.pop();
    }
    lines.extend(body);
    lines
        .iter()
        .filter_map(|l| {
            if is_comment(l) {
                Some(*l)
            } else {
                l.find(" #").map(|i| &l[i..])
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every Keras config nnlint ships (fixtures and the keras.applications corpus, plus any folder
    /// named in NNLINT_KERAS_EXTRA): the shapes the lowering computes agree with the shapes Keras
    /// recorded in the file.
    #[test]
    fn computed_shapes_agree_with_the_shapes_keras_recorded() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut dirs = vec![root.join("corpus/keras"), root.join("corpus/keras-extra")];
        dirs.extend(
            std::fs::read_dir(&root)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| !p.ends_with("malformed")),
        );
        if let Some(extra) = std::env::var_os("NNLINT_KERAS_EXTRA") {
            dirs.push(extra.into());
        }
        let mut checked = 0;
        for dir in dirs {
            for file in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = file.path();
                let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
                let text = match ext {
                    "json" | "yaml" => std::fs::read_to_string(&path).unwrap(),
                    "keras" => archive::read(&path).unwrap().config,
                    _ => continue,
                };
                let root = if ext == "yaml" {
                    yaml::parse(&text)
                } else {
                    json::parse(&text)
                };
                let root = root.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let Ok((model, _)) = locate(&root) else {
                    continue;
                };
                let keras2 = model.get("module").is_none();
                let lowered = lower::lower(model, keras2, false)
                    .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.message));
                assert!(
                    lowered.conflicts.is_empty(),
                    "{}: {:?}",
                    path.display(),
                    lowered.conflicts
                );
                checked += 1;
            }
        }
        eprintln!("checked {checked} Keras configs");
    }
}
