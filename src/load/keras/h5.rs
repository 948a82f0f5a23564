//! Keras's HDF5 files, read with our own bounded reader (`load::hdf5`): legacy `.h5` models (the config
//! in the root attributes `model_config` / `training_config`, weights under `model_weights/`) and the
//! `model.weights.h5` inside a `.keras` archive (Keras 3's `layers/<key>/vars/<i>` layout, older 3.x's
//! `_layer_checkpoint_dependencies/<name>/vars/<i>`).
//!
//! Weights are matched to the constants the lowering created (`lower::WeightSlot`) by layer name, then
//! by weight name (legacy files name them) or by position (Keras 3 numbers them). Every matched tensor
//! must have the config's shape; if any layer does not match, no weight of the file is used and the
//! model's `weights_provenance` says why (`WeightsProvenance::NotUsed`), so numerical checks run on
//! seeded weights and say so.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;

use super::lower::WeightSlot;
use crate::ir::{DType, Dim, Graph, TensorData};
use crate::load::LoadError;
use crate::load::hdf5::{self, Datatype};

/// One tensor of a weights file.
pub struct FileTensor {
    /// `kernel`, `bias`, ... (legacy files) or the position in the layer's `vars` (Keras 3).
    pub what: String,
    /// Where it is in the file (for messages).
    pub location: String,
    pub dataset: hdf5::Dataset,
}

/// The weights of a file, by layer name, not yet decoded.
pub struct FileWeights {
    /// How messages name the weights file ("model.weights.h5 inside the archive").
    pub what: String,
    pub file: hdf5::File,
    pub layers: BTreeMap<String, Vec<FileTensor>>,
    /// Legacy files name each weight (`head/kernel:0`); Keras 3 files number them.
    pub by_name: bool,
}

fn fail(e: hdf5::Error) -> String {
    e.0
}

/// Memory-maps `path` (a regular file) into a buffer the HDF5 reader slices without copying.
pub fn map_file(path: &Path) -> Result<Bytes, LoadError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| LoadError::new(format!("cannot read the file ({e})")))?;
    if !meta.is_file() {
        return Err(LoadError::new("not a regular file"));
    }
    let file = std::fs::File::open(path)
        .map_err(|e| LoadError::new(format!("cannot open the file ({e})")))?;
    if meta.len() == 0 {
        return Ok(Bytes::new());
    }
    // SAFETY: the map is read-only; a file truncated underneath us would fault, as for ONNX models.
    let map = unsafe { memmap2::Mmap::map(&file) }
        .map_err(|e| LoadError::new(format!("cannot map the file ({e})")))?;
    Ok(Bytes::from_owner(map))
}

/// The root attributes of a legacy Keras `.h5` model, as one JSON document the Keras front end reads
/// (`{"keras_version": …, "backend": …, "model_config": …, "training_config": …}`).
pub struct LegacyModel {
    pub text: String,
    pub has_training: bool,
    pub weights: Result<Option<FileWeights>, String>,
}

fn string_attr(file: &hdf5::File, obj: &hdf5::Object, name: &str) -> hdf5::Result<Option<String>> {
    match file.attribute(obj, name)? {
        None => Ok(None),
        Some(a) => Ok(Some(file.attribute_strings(&a, name)?.concat())),
    }
}

/// Reads a legacy `.h5` model. `Err` with `not_a_model` for HDF5 files without a Keras config.
pub fn read_legacy(data: Bytes, name: &str) -> Result<LegacyModel, LoadError> {
    if hdf5::find_signature(&data).is_none() {
        return Err(LoadError::not_a_model("not an HDF5 file"));
    }
    // A file nnlint cannot read is an error only when it could be a Keras model: the attribute name
    // `model_config` appears in the root object header (scanned on this error path only).
    let scan = data.clone();
    let broken = |e: hdf5::Error| {
        let message = format!("not a readable HDF5 file: {e}");
        if scan.windows(12).any(|w| w == b"model_config") {
            LoadError::new(message)
        } else {
            LoadError::not_a_model(format!(
                "{message} (and no `model_config` attribute name in it: not a Keras model)"
            ))
        }
    };
    let file = hdf5::File::open(data).map_err(broken)?;
    let root = file.root().map_err(broken)?;
    let Some(config) = string_attr(&file, &root, "model_config").map_err(broken)? else {
        return Err(LoadError::not_a_model(
            "an HDF5 file without a Keras `model_config` attribute (weights or data, not a model)",
        ));
    };
    let mut text = String::from("{");
    for key in ["keras_version", "backend"] {
        if let Some(v) = string_attr(&file, &root, key).map_err(broken)? {
            let v = serde_json::to_string(&v).unwrap_or_else(|_| "null".into());
            text.push_str(&format!("\"{key}\": {v},\n"));
        }
    }
    text.push_str("\"model_config\": ");
    text.push_str(&config);
    let training = string_attr(&file, &root, "training_config").map_err(broken)?;
    if let Some(t) = &training {
        text.push_str(",\n\"training_config\": ");
        text.push_str(t);
    }
    text.push('}');
    let weights = legacy_weights(file, &root, name).map_err(fail);
    Ok(LegacyModel {
        text,
        has_training: training.is_some(),
        weights,
    })
}

/// `model_weights/<layer>/` with its `weight_names` attribute (split into `weight_names0`, `1`, …
/// when Keras found it too large for one attribute).
fn legacy_weights(
    file: hdf5::File,
    root: &hdf5::Object,
    name: &str,
) -> hdf5::Result<Option<FileWeights>> {
    let Some(group) = file.child(root, "model_weights")? else {
        return Ok(None);
    };
    let layer_names = match chunked_strings(&file, &group, "layer_names")? {
        Some(n) => n,
        None => file.links(&group)?.into_iter().map(|(n, _)| n).collect(),
    };
    let members: BTreeMap<String, u64> = file.links(&group)?.into_iter().collect();
    let mut layers: BTreeMap<String, Vec<FileTensor>> = BTreeMap::new();
    for layer in layer_names {
        let Some(&addr) = members.get(&layer) else {
            continue;
        };
        let lg = file.object(addr)?;
        let names = chunked_strings(&file, &lg, "weight_names")?.unwrap_or_default();
        for wn in names {
            let Some(obj) = file.path(&lg, &wn)? else {
                return Err(hdf5::Error(format!(
                    "model_weights/{layer} names weight `{wn}`, which the file does not hold"
                )));
            };
            let dataset = file.dataset(&obj)?;
            let mut parts: Vec<&str> = wn.split('/').filter(|p| !p.is_empty()).collect();
            let what = parts.pop().unwrap_or("").trim_end_matches(":0").to_string();
            // Nested models list their inner layers' weights: `inner/dense/kernel:0`.
            let owner = parts.last().map_or(layer.as_str(), |p| p).to_string();
            layers.entry(owner).or_default().push(FileTensor {
                what,
                location: format!("model_weights/{layer}/{wn}"),
                dataset,
            });
        }
    }
    Ok(Some(FileWeights {
        what: format!("the model_weights group of {name}"),
        file,
        layers,
        by_name: true,
    }))
}

fn chunked_strings(
    file: &hdf5::File,
    obj: &hdf5::Object,
    name: &str,
) -> hdf5::Result<Option<Vec<String>>> {
    if let Some(a) = file.attribute(obj, name)? {
        return Ok(Some(file.attribute_strings(&a, name)?));
    }
    let mut out = Vec::new();
    // Keras splits an attribute above 64 KB into parts; 1,000 parts is far beyond any real model.
    for i in 0..1_000 {
        let part = format!("{name}{i}");
        match file.attribute(obj, &part)? {
            Some(a) => out.extend(file.attribute_strings(&a, &part)?),
            None if i == 0 => return Ok(None),
            None => break,
        }
    }
    Ok(Some(out))
}

/// Reads a Keras 3 `model.weights.h5`.
pub fn read_keras3(data: Bytes, what: String) -> Result<FileWeights, String> {
    let file = hdf5::File::open(data).map_err(fail)?;
    let root = file.root().map_err(fail)?;
    let mut layers = BTreeMap::new();
    for (key, addr) in file.links(&root).map_err(fail)? {
        if key == "layers" || key == "_layer_checkpoint_dependencies" {
            let obj = file.object(addr).map_err(fail)?;
            walk(&file, &obj, &key, 0, &mut layers).map_err(fail)?;
        }
    }
    Ok(FileWeights {
        what,
        file,
        layers,
        by_name: false,
    })
}

/// Each child of a `layers` group is a layer: its `vars` (named by the `name` attribute when Keras
/// wrote one, else by the group's key) and, for nested models, its own `layers`.
fn walk(
    file: &hdf5::File,
    group: &hdf5::Object,
    at: &str,
    depth: usize,
    out: &mut BTreeMap<String, Vec<FileTensor>>,
) -> hdf5::Result<()> {
    if depth > 16 {
        return Err(hdf5::Error(format!(
            "`{at}` nests layers more than 16 deep"
        )));
    }
    for (key, addr) in file.links(group)? {
        let layer = file.object(addr)?;
        if file.is_dataset(&layer) {
            continue;
        }
        let here = format!("{at}/{key}");
        for (sub, sub_addr) in file.links(&layer)? {
            let obj = file.object(sub_addr)?;
            if sub == "vars" {
                let name = string_attr(file, &obj, "name")?.unwrap_or_else(|| key.clone());
                let mut vars: Vec<(u64, FileTensor)> = Vec::new();
                for (i, v) in file.links(&obj)? {
                    let Ok(index) = i.parse::<u64>() else {
                        continue;
                    };
                    let dataset = file.dataset(&file.object(v)?)?;
                    vars.push((
                        index,
                        FileTensor {
                            what: i.clone(),
                            location: format!("{here}/vars/{i}"),
                            dataset,
                        },
                    ));
                }
                vars.sort_by_key(|(i, _)| *i);
                if !vars.is_empty() {
                    out.entry(name)
                        .or_default()
                        .extend(vars.into_iter().map(|(_, t)| t));
                }
            } else if sub == "layers" || sub == "_layer_checkpoint_dependencies" {
                walk(file, &obj, &format!("{here}/{sub}"), depth + 1, out)?;
            }
        }
    }
    Ok(())
}

/// Fills the graph's weight constants from `weights`. `Ok(n)`: every layer's weights matched and `n`
/// tensors now hold the file's values; `Err`: why none were used.
pub fn attach(
    graph: &mut Graph,
    slots: &[WeightSlot],
    weights: &FileWeights,
) -> Result<usize, Vec<String>> {
    let mut by_layer: BTreeMap<&str, Vec<&WeightSlot>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for s in slots {
        let layer = s.path.rsplit('/').next().unwrap_or(&s.path);
        if !by_layer.contains_key(layer) {
            order.push(layer);
        }
        by_layer.entry(layer).or_default().push(s);
    }
    let mut problems = Vec::new();
    let mut plan: Vec<(&WeightSlot, &FileTensor)> = Vec::new();
    for layer in order {
        let want = &by_layer[layer];
        let Some(have) = weights.layers.get(layer) else {
            problems.push(format!("layer `{layer}` has no weights in the file"));
            continue;
        };
        let named: Option<Vec<&FileTensor>> = if weights.by_name {
            want.iter()
                .map(|s| have.iter().find(|t| t.what == s.what))
                .collect()
        } else {
            None
        };
        if let Some(named) = named {
            plan.extend(want.iter().copied().zip(named));
        } else if weights.by_name && have.len() != want.len() {
            // Names differ between Keras versions (Keras 3 calls a depthwise kernel `kernel`), so
            // position decides when the counts agree; otherwise the first missing name is reported.
            let missing = want
                .iter()
                .find(|s| !have.iter().any(|t| t.what == s.what))
                .map_or("", |s| s.what.as_str());
            problems.push(format!(
                "layer `{layer}`: the file has no `{missing}` (it has {})",
                have.iter()
                    .map(|t| format!("`{}`", t.what))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        } else if have.len() != want.len() {
            problems.push(format!(
                "layer `{layer}`: the file has {} tensors, the config needs {} ({})",
                have.len(),
                want.len(),
                want.iter()
                    .map(|s| s.what.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        } else {
            plan.extend(want.iter().copied().zip(have.iter()));
        }
    }
    let mut layouts = Vec::with_capacity(plan.len());
    for (s, t) in &plan {
        let Some(c) = graph.value(s.value).constant.as_ref() else {
            layouts.push(Layout::Same);
            continue;
        };
        match layout(&c.dims, &t.dataset.dims, &s.what) {
            Some(l) => layouts.push(l),
            None => {
                let layer = s.path.rsplit('/').next().unwrap_or(&s.path);
                problems.push(format!(
                    "layer `{layer}` `{}`: {} in the file is {:?}, the config needs {:?}",
                    s.what, t.location, t.dataset.dims, c.dims
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut decoded = Vec::with_capacity(plan.len());
    for ((s, t), l) in plan.iter().zip(layouts) {
        match decode(&weights.file, t).and_then(|d| l.apply(d)) {
            Ok(data) => decoded.push((s.value, t, l, data)),
            Err(e) => problems.push(format!("{}: {e}", t.location)),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let n = decoded.len();
    for (value, t, l, data) in decoded {
        let v = graph.value_mut(value);
        if matches!(l, Layout::Same) {
            v.shape = Some(t.dataset.dims.iter().map(|&d| Dim::Fixed(d)).collect());
        }
        if let Some(c) = v.constant.as_mut() {
            if matches!(l, Layout::Same) {
                c.dims = t.dataset.dims.iter().map(|&d| d as i64).collect();
            }
            c.dtype = DType::F32;
            c.data = data;
        }
    }
    Ok(n)
}

/// How a file tensor becomes the constant the lowering made.
#[derive(Clone, Copy, Debug)]
enum Layout {
    /// The same dims (unknown config dims take the file's).
    Same,
    /// A Keras convolution kernel `[k..., a, b]` (channels last) read as ONNX's `[b, a, k...]`:
    /// `out[b][a][k] = in[k][a][b]`. A depthwise kernel `[k..., C, m]` is the case `a = 1`,
    /// `b = C·m` (ONNX `[C·m, 1, k...]`).
    Channels { k: usize, a: usize, b: usize },
}

impl Layout {
    fn apply(self, data: TensorData) -> Result<TensorData, String> {
        let Layout::Channels { k, a, b } = self else {
            return Ok(data);
        };
        let values: Vec<f32> = match data {
            TensorData::Raw(bytes) => bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            TensorData::Floats(v) => v.to_vec(),
            _ => return Err("unexpected tensor storage".into()),
        };
        if Some(values.len()) != k.checked_mul(a).and_then(|n| n.checked_mul(b)) {
            return Err("the kernel's element count does not match its dims".into());
        }
        let mut out = vec![0f32; values.len()];
        for ki in 0..k {
            for ai in 0..a {
                for bi in 0..b {
                    out[(bi * a + ai) * k + ki] = values[(ki * a + ai) * b + bi];
                }
            }
        }
        Ok(TensorData::Floats(out.into()))
    }
}

/// Whether file dims fit the config's constant, and how.
fn layout(config: &[i64], file: &[u64], what: &str) -> Option<Layout> {
    let file_i: Vec<i64> = file
        .iter()
        .map(|&d| i64::try_from(d).unwrap_or(-1))
        .collect();
    let same = config.len() == file_i.len()
        && config
            .iter()
            .zip(&file_i)
            .all(|(&c, &f)| f >= 0 && (c < 0 || c == f));
    if same {
        return Some(Layout::Same);
    }
    let r = file.len();
    if r < 3 || config.len() != r || !what.ends_with("kernel") || config.iter().any(|&c| c < 0) {
        return None;
    }
    let spatial = &file_i[..r - 2];
    let k = file[..r - 2]
        .iter()
        .try_fold(1u64, |p, &d| p.checked_mul(d))?;
    let (fa, fb) = (file_i[r - 2], file_i[r - 1]);
    let to = |n: i64| usize::try_from(n).ok();
    if config[2..] != *spatial {
        return None;
    }
    if config[0] == fb && config[1] == fa {
        return Some(Layout::Channels {
            k: usize::try_from(k).ok()?,
            a: to(fa)?,
            b: to(fb)?,
        });
    }
    if what == "depthwise_kernel" && config[1] == 1 && Some(config[0]) == fa.checked_mul(fb) {
        return Some(Layout::Channels {
            k: usize::try_from(k).ok()?,
            a: 1,
            b: to(config[0])?,
        });
    }
    None
}

/// A float tensor's values: little-endian float32 as a zero-copy slice of the file, anything else
/// converted to float32.
fn decode(file: &hdf5::File, t: &FileTensor) -> Result<TensorData, String> {
    let Datatype::Float { size, big_endian } = t.dataset.dtype else {
        return Err(format!(
            "a {} tensor, not floating point",
            t.dataset.dtype.describe()
        ));
    };
    let bytes = file.read(&t.dataset).map_err(fail)?;
    let word = |c: &[u8]| -> u64 {
        let it: Box<dyn Iterator<Item = &u8>> = if big_endian {
            Box::new(c.iter())
        } else {
            Box::new(c.iter().rev())
        };
        it.fold(0u64, |a, &b| (a << 8) | u64::from(b))
    };
    Ok(match (size, big_endian) {
        (4, false) => TensorData::Raw(bytes),
        (4, true) => TensorData::Floats(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_bits(word(c) as u32))
                .collect(),
        ),
        (8, _) => TensorData::Floats(
            bytes
                .chunks_exact(8)
                .map(|c| f64::from_bits(word(c)) as f32)
                .collect(),
        ),
        (2, _) => TensorData::Floats(
            bytes
                .chunks_exact(2)
                .map(|c| f16_to_f32(word(c) as u16))
                .collect(),
        ),
        _ => return Err(format!("a {}-byte float, not one nnlint reads", size)),
    })
}

/// IEEE binary16 to binary32, exactly.
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: value = m × 2^-24.
            let v = m as f32 * (1.0 / 16_777_216.0);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, m) => sign | 0x7fc0_0000 | (m << 13),
        (e, m) => sign | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}
