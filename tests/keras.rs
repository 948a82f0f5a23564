//! The Keras front end: verdicts on the generated Keras fixtures (JSON, YAML, `.keras`; Keras 3 and
//! tf.keras 2), labels that resolve to the config line, the lowering's structure, the training spec,
//! malformed input (one clear error, never a panic) and directory scans that skip non-model files.

use std::io::Write;
use std::path::{Path, PathBuf};

use nnlint::engine::{self, Overrides, Settings};
use nnlint::finding::{At, Check, Finding};
use nnlint::ir::{Dim, Format, LossKind, Model, Span, Weights, WeightsProvenance};
use nnlint::load::{self, LoadError};

mod common;
use common::{codes, write};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(rel: &str) -> PathBuf {
    root().join("fixtures").join(rel)
}

fn is_keras(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("json" | "yaml" | "keras" | "h5")
    )
}

/// Keras fixtures of one rule folder whose file name starts with `prefix`.
fn keras_fixtures(code: &str, prefix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(fixture(code))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| is_keras(p))
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    out.sort();
    assert!(
        !out.is_empty(),
        "no {prefix}* Keras fixtures in fixtures/{code}"
    );
    out
}

fn lint(path: &Path) -> (Model, Vec<Finding>) {
    let linted = common::lint(path);
    (linted.model, linted.findings)
}

fn span_text(model: &Model, span: Span) -> &str {
    let text = model.source_text.as_deref().unwrap();
    &text[span.offset..span.offset + span.len]
}

/// The whole source line a span starts on.
fn line_of(model: &Model, span: Span) -> &str {
    let text = model.source_text.as_deref().unwrap();
    let start = text[..span.offset].rfind('\n').map_or(0, |i| i + 1);
    let end = text[span.offset..]
        .find('\n')
        .map_or(text.len(), |i| span.offset + i);
    &text[start..end]
}

fn load_err(path: &Path) -> LoadError {
    match load::load(path) {
        Ok(_) => panic!("{} loaded, expected an error", path.display()),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------------------------
// verdicts on the fixtures
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_keras_fixtures_fire_nnl001_at_the_softmax_line_with_a_confirmed_check() {
    for path in keras_fixtures("NNL001", "bad_") {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let (model, findings) = lint(&path);
        let hits: Vec<&Finding> = findings.iter().filter(|f| f.code == "NNL001").collect();
        assert_eq!(hits.len(), 1, "{name}: {:?}", codes(&findings));
        let f = hits[0];
        assert!(f.check.is_confirmed(), "{name}: {:?}", f.check);
        let Some(At::Span(primary)) = f.primary() else {
            panic!(
                "{name}: the primary label is not a config span: {:?}",
                f.labels
            );
        };
        // The activation that makes it a softmax: `"activation": "softmax"`, an Activation layer's
        // activation, or a Softmax layer's class name; for a softmax written by hand
        // (`ops.exp(x) / ops.sum(...)`), the division's class name.
        let want = if name.contains("handmade") {
            "divide"
        } else {
            "softmax"
        };
        assert!(
            span_text(&model, primary).to_lowercase().contains(want),
            "{name}: primary label covers {:?}",
            span_text(&model, primary)
        );
        assert!(
            line_of(&model, primary).to_lowercase().contains(want),
            "{name}"
        );
        assert!(f.node_path.contains('/'), "{name}: {}", f.node_path);
        // Files with weights (.keras archives, legacy .h5) are checked on them, and say so.
        let Check::Confirmed { summary, .. } = &f.check else {
            unreachable!()
        };
        if name.ends_with(".keras") || name.ends_with(".h5") {
            assert_eq!(model.weights, Weights::Real, "{name}: {:?}", model.metadata);
            assert!(
                summary.contains("with the file's weights"),
                "{name}: {summary}"
            );
        } else {
            assert_eq!(model.weights, Weights::Absent, "{name}");
            assert!(
                summary.contains("seeded Glorot-uniform weights"),
                "{name}: {summary}"
            );
        }
        let bce = model.training.as_ref().is_some_and(|t| {
            t.losses
                .iter()
                .any(|l| l.kind == LossKind::BinaryCrossentropy)
        });
        let loss_label = f
            .labels
            .iter()
            .find(|l| l.text.contains("binary cross-entropy"));
        assert_eq!(bce, loss_label.is_some(), "{name}: {:?}", f.labels);
        if let Some(At::Span(s)) = loss_label.map(|l| l.at) {
            let written = span_text(&model, s);
            assert!(
                written.contains("binary_crossentropy") || written.contains("BinaryCrossentropy"),
                "{name}: loss label covers {written:?}"
            );
        }
    }
}

#[test]
fn good_keras_fixtures_are_silent() {
    for code in ["NNL001", "NNL009"] {
        for path in keras_fixtures(code, "good_") {
            assert_eq!(common::assert_silent(&path), None, "{}", path.display());
        }
    }
}

#[test]
fn the_users_model_fires_nnl001_in_every_format_at_the_softmax_line() {
    for (file, format) in [
        ("NNL001/bad_keras3_user_cnn.json", Format::KerasJson),
        ("NNL001/bad_keras3_user_cnn.yaml", Format::KerasYaml),
        ("NNL001/bad_keras3_user_cnn.keras", Format::KerasArchive),
    ] {
        let (model, findings) = lint(&fixture(file));
        assert_eq!(model.format, format);
        assert_eq!(codes(&findings), ["NNL001"], "{file}");
        let f = &findings[0];
        let Some(At::Span(s)) = f.primary() else {
            panic!("{file}: {:?}", f.labels)
        };
        let activation = span_text(&model, s);
        assert!(
            activation == "\"activation\": \"softmax\"" || activation == "activation: softmax",
            "{file}: {activation:?}"
        );
        let texts: Vec<&str> = f.labels.iter().map(|l| l.text.as_str()).collect();
        assert!(texts.contains(&"one unit"), "{file}: {texts:?}");
        assert!(
            texts.iter().any(|t| t.contains("binary cross-entropy")),
            "{file}: {texts:?}"
        );
        assert!(f.message.contains("layer `dense_1`"), "{}", f.message);
        if format == Format::KerasArchive {
            assert_eq!(model.source_name, "bad_keras3_user_cnn.keras/config.json");
            assert_eq!(model.metadata["keras_version"], "3.15.1");
            assert!(model.metadata["weights_file"].contains("model.weights.h5"));
        }
    }
}

#[test]
fn lambda_layers_and_lambda_activations_fire_nnl009_without_running_anything() {
    for path in keras_fixtures("NNL009", "bad_") {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let (model, findings) = lint(&path);
        assert_eq!(codes(&findings), ["NNL009"], "{name}");
        let f = &findings[0];
        match &f.check {
            Check::Confirmed { numbers, .. } => {
                assert!(numbers[0].1 > 50.0, "{name}: {numbers:?}");
                // marshal's code-object tag 'c' with the reference flag.
                assert_eq!(numbers[1].1, f64::from(0xe3u8), "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
        let Some(At::Span(s)) = f.primary() else {
            panic!("{name}: {:?}", f.labels)
        };
        let labelled = span_text(&model, s);
        assert!(
            labelled.starts_with("\"function\"")
                || labelled.starts_with("function")
                || labelled.starts_with("\"activation\"")
                || labelled.starts_with("activation"),
            "{name}: {labelled:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// lowering structure and training spec
// ---------------------------------------------------------------------------------------------

fn dims(model: &Model, name: &str) -> Vec<String> {
    let g = &model.graph;
    let v = g
        .value_by_name(name)
        .unwrap_or_else(|| panic!("no value `{name}`"));
    g.value(v)
        .shape
        .as_ref()
        .unwrap_or_else(|| panic!("`{name}` has no shape"))
        .iter()
        .map(Dim::to_string)
        .collect()
}

fn const_dims(model: &Model, name: &str) -> Vec<i64> {
    let g = &model.graph;
    let v = g
        .value_by_name(name)
        .unwrap_or_else(|| panic!("no constant `{name}`"));
    g.value(v).constant.as_ref().unwrap().dims.clone()
}

#[test]
fn the_user_cnn_lowers_to_channels_first_convs_between_transposes_with_keras_shapes() {
    for file in ["bad_keras3_user_cnn.json", "bad_keras3_user_cnn.yaml"] {
        let model = load::load(&fixture(&format!("NNL001/{file}"))).unwrap();
        assert_eq!(model.opset, 13);
        let g = &model.graph;
        let types: Vec<&str> = g.ops.iter().map(|o| o.op_type.as_str()).collect();
        assert_eq!(
            types,
            [
                "Transpose",
                "Conv",
                "Transpose",
                "Relu",
                "Transpose",
                "BatchNormalization",
                "Transpose",
                "Transpose",
                "MaxPool",
                "Transpose",
                "Transpose",
                "Conv",
                "Transpose",
                "Relu",
                "Transpose",
                "BatchNormalization",
                "Transpose",
                "Transpose",
                "MaxPool",
                "Transpose",
                "Flatten",
                "MatMul",
                "Add",
                "Relu",
                "MatMul",
                "Add",
                "Softmax"
            ],
            "{file}"
        );
        // One op index per layer, in file order; the input layer makes no op.
        let layers: Vec<usize> = g.ops.iter().map(|o| o.origin.index).collect();
        assert_eq!(layers.first(), Some(&1));
        assert_eq!(layers.last(), Some(&9));
        assert_eq!(dims(&model, "image"), ["batch", "8", "8", "1"]);
        assert_eq!(dims(&model, "conv2d"), ["batch", "8", "8", "256"]);
        assert_eq!(dims(&model, "max_pooling2d"), ["batch", "4", "4", "256"]);
        assert_eq!(dims(&model, "max_pooling2d_1"), ["batch", "2", "2", "256"]);
        assert_eq!(dims(&model, "flatten"), ["batch", "1024"]);
        assert_eq!(dims(&model, "dense"), ["batch", "64"]);
        assert_eq!(dims(&model, "dense_1"), ["batch", "1"]);
        assert_eq!(
            const_dims(&model, "user_cnn/conv2d_1/kernel"),
            [256, 256, 3, 3]
        );
        assert_eq!(const_dims(&model, "user_cnn/conv2d/kernel"), [256, 1, 3, 3]);
        assert_eq!(const_dims(&model, "user_cnn/dense/kernel"), [1024, 64]);
        let t = model.training.as_ref().unwrap();
        assert_eq!(t.losses.len(), 1);
        assert_eq!(t.losses[0].kind, LossKind::BinaryCrossentropy);
        assert_eq!(t.losses[0].output, None);
        assert_eq!(t.metrics.len(), 1);
        assert_eq!(t.metrics[0].name, "accuracy");
        assert_eq!(t.metrics[0].threshold, Some(0.5));
    }
}

#[test]
fn a_two_output_functional_model_maps_its_dict_loss_to_the_named_outputs() {
    let model = load::load(&fixture("NNL001/bad_keras3_func_two_heads_dict_loss.json")).unwrap();
    let g = &model.graph;
    let outputs: Vec<&str> = g
        .outputs
        .iter()
        .map(|o| g.value(o.value).name.as_str())
        .collect();
    assert_eq!(outputs, ["mask", "cls"]);
    let t = model.training.as_ref().unwrap();
    let mask = t
        .losses
        .iter()
        .find(|l| l.written == "binary_crossentropy")
        .unwrap();
    let cls = t
        .losses
        .iter()
        .find(|l| l.kind == LossKind::SparseCategoricalCrossentropy)
        .unwrap();
    assert_eq!(mask.output, Some(0));
    assert_eq!(mask.weight, Some(1.0));
    assert_eq!(cls.output, Some(1));
    assert_eq!(cls.weight, Some(0.5));
    let thresholds: Vec<(Option<usize>, Option<f64>)> =
        t.metrics.iter().map(|m| (m.output, m.threshold)).collect();
    assert!(thresholds.contains(&(Some(0), Some(0.5))), "{thresholds:?}");
    assert!(thresholds.contains(&(Some(1), None)), "{thresholds:?}");
    // Both heads read the same trunk.
    assert_eq!(dims(&model, "trunk"), ["batch", "16"]);
    assert_eq!(dims(&model, "cls"), ["batch", "3"]);
}

#[test]
fn loss_objects_keep_from_logits_and_its_span() {
    let model = load::load(&fixture(
        "NNL001/good_keras3_func_linear_bce_from_logits.yaml",
    ))
    .unwrap();
    let loss = &model.training.as_ref().unwrap().losses[0];
    assert_eq!(loss.kind, LossKind::BinaryCrossentropy);
    assert!(loss.from_logits);
    assert_eq!(
        span_text(&model, loss.from_logits_span.unwrap()),
        "from_logits: true"
    );
    assert_eq!(
        span_text(&model, loss.span.unwrap()),
        "class_name: BinaryCrossentropy"
    );
    // BinaryAccuracy(threshold=0.0): the right threshold for logits.
    let metric = &model.training.as_ref().unwrap().metrics[0];
    assert_eq!(metric.threshold, Some(0.0));
    let uncompiled = load::load(&fixture(
        "NNL001/bad_keras3_func_softmax_layer1_uncompiled.json",
    ))
    .unwrap();
    assert!(uncompiled.training.is_none());
}

#[test]
fn keras2_layouts_lower_shared_layers_once_and_read_the_h5_training_config() {
    let model = load::load(&fixture("NNL001/bad_keras2_func_shared_softmax1.json")).unwrap();
    let g = &model.graph;
    let kernel = g.value_by_name("shared_mlp/shared/kernel").unwrap();
    let readers: Vec<&str> = g
        .consumers(kernel)
        .into_iter()
        .map(|o| g.op(o).op_type.as_str())
        .collect();
    assert_eq!(readers, ["MatMul", "MatMul"], "one weight, two calls");
    assert_eq!(model.producer, "keras 2.21.0");
    assert_eq!(model.metadata["backend"], "tensorflow");
    assert!(
        model.training.is_none(),
        "Keras 2 to_json() has no compile config"
    );

    let legacy = load::load(&fixture("NNL001/bad_keras2_h5attrs_softmax1_bce.json")).unwrap();
    let t = legacy.training.as_ref().unwrap();
    assert_eq!(t.backend.as_deref(), Some("tensorflow"));
    assert_eq!(t.losses[0].kind, LossKind::BinaryCrossentropy);
    assert!(
        t.metrics
            .iter()
            .any(|m| m.name == "accuracy" && m.threshold == Some(0.5)),
        "{:?}",
        t.metrics
    );
}

#[test]
fn keras_applications_and_the_layer_zoo_load_with_full_shapes_and_no_findings() {
    let mut dirs = vec![fixture("corpus/keras")];
    let extra = fixture("corpus/keras-extra");
    if extra.is_dir() {
        dirs.push(extra);
    } else {
        eprintln!(
            "fixtures/corpus/keras-extra missing: `generate.py keras_applications_extra keras_layer_zoo` writes 14 more"
        );
    }
    let mut seen = 0;
    for dir in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json" || e == "yaml"))
            .collect();
        files.sort();
        for path in files {
            let (model, findings) = lint(&path);
            assert!(
                findings.is_empty(),
                "{}: {:?}",
                path.display(),
                codes(&findings)
            );
            let g = &model.graph;
            assert_eq!(g.outputs.len(), 1);
            assert_eq!(
                dims(&model, &g.value(g.outputs[0].value).name),
                ["batch", "10"],
                "{}",
                path.display()
            );
            // Every op output has a known rank and fixed non-batch dims.
            for op in &g.ops {
                for &o in &op.outputs {
                    let shape = g.value(o).shape.as_ref().unwrap_or_else(|| {
                        panic!("{}: `{}` has no shape", path.display(), g.value(o).name)
                    });
                    assert!(
                        shape.iter().skip(1).all(|d| d.fixed().is_some()),
                        "{}: `{}` {:?}",
                        path.display(),
                        g.value(o).name,
                        shape
                    );
                }
            }
            seen += 1;
        }
    }
    assert!(seen >= 5, "expected the five committed configs, saw {seen}");
}

// ---------------------------------------------------------------------------------------------
// malformed input: one clear error, no panic
// ---------------------------------------------------------------------------------------------

const SEQ_HEAD: &str = r#"{"class_name": "Sequential", "config": {"name": "m", "layers": ["#;

fn seq(layers: &str) -> String {
    format!("{SEQ_HEAD}{layers}]}}}}")
}

const INPUT3: &str =
    r#"{"class_name": "InputLayer", "config": {"batch_input_shape": [null, 8, 4], "name": "x"}}"#;

const INPUT: &str =
    r#"{"class_name": "InputLayer", "config": {"batch_input_shape": [null, 4], "name": "x"}}"#;

#[test]
fn malformed_configs_are_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "broken.json",
            format!(
                "{}\n  {{\"class_name\": \"Dense\", \"config\": {{\"units\": 1,,}}}}",
                SEQ_HEAD
            ),
            "invalid JSON at line 2",
        ),
        (
            "units_string.json",
            seq(&format!(
                r#"{INPUT}, {{"class_name": "Dense", "config": {{"name": "d", "units": "one"}}}}"#
            )),
            "layer `d` (Dense): `units` must be an integer, found a string (line 1",
        ),
        (
            "units_nan.json",
            seq(&format!(
                r#"{INPUT}, {{"class_name": "Dense", "config": {{"name": "d", "units": NaN}}}}"#
            )),
            "`units` must be an integer, found a number",
        ),
        (
            "no_units.json",
            seq(&format!(
                r#"{INPUT}, {{"class_name": "Dense", "config": {{"name": "d"}}}}"#
            )),
            "layer `d` (Dense) has no `units`",
        ),
        (
            "no_class.json",
            seq(&format!(r#"{INPUT}, {{"config": {{"name": "d"}}}}"#)),
            "layer #1 of `m` has no `class_name`",
        ),
        (
            "layers_not_list.json",
            r#"{"class_name": "Sequential", "config": {"name": "m", "layers": 3}}"#.into(),
            "model `m`: `layers` must be a list, found an integer",
        ),
        (
            "no_layers.json",
            r#"{"class_name": "Sequential", "config": {"name": "m"}}"#.into(),
            "Keras model `Sequential` has no `config.layers` list",
        ),
        (
            "kernel_size.json",
            seq(&format!(
                r#"{INPUT3}, {{"class_name": "Conv1D", "config": {{"name": "c", "filters": 2, "kernel_size": [3, "x"]}}}}"#
            )),
            "layer `c` (Conv1D): `kernel_size` must be 1 integers",
        ),
        (
            "deep.json",
            format!(
                "{{\"class_name\": \"Sequential\", \"config\": {{\"layers\": {}{}}}}}",
                "[".repeat(300),
                "]".repeat(300)
            ),
            "nested deeper than 256 levels",
        ),
        (
            "broken.yaml",
            "class_name: Sequential\nconfig:\n  layers: [a, b\n  name: m\n".into(),
            "invalid YAML at line",
        ),
    ];
    for (name, text, expected) in cases {
        let path = write(d, name, text.as_bytes());
        let e = load_err(&path);
        assert!(!e.not_a_model, "{name}: {e}");
        assert!(e.message.contains(expected), "{name}: {}", e.message);
        assert!(!e.message.contains('\n'), "{name}: one line: {}", e.message);
    }
}

fn functional(layers: &str) -> String {
    format!(
        r#"{{"class_name": "Functional", "config": {{"name": "f", "layers": [{layers}],
        "input_layers": [["x", 0, 0]], "output_layers": [["b", 0, 0]]}}}}"#
    )
}

#[test]
fn broken_graphs_are_errors_that_name_the_layers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = r#"{"class_name": "InputLayer", "name": "x", "config": {"batch_input_shape": [null, 4], "name": "x"}, "inbound_nodes": []}"#;
    let dense = |name: &str, src: &str| {
        format!(
            r#"{{"class_name": "Dense", "name": "{name}", "config": {{"name": "{name}", "units": 2}}, "inbound_nodes": [[["{src}", 0, 0, {{}}]]]}}"#
        )
    };
    let cases = [
        (
            "cycle.json",
            functional(&format!(
                "{input}, {}, {}",
                dense("a", "b"),
                dense("b", "a")
            )),
            "form a cycle",
        ),
        (
            "unknown.json",
            functional(&format!(
                "{input}, {}, {}",
                dense("a", "x"),
                dense("b", "zz")
            )),
            "layer `b` (Dense) takes input from `zz`, which is not a layer of model `f`",
        ),
        (
            "node_index.json",
            functional(&format!(
                "{input}, {}, {}",
                dense("a", "x"),
                dense("b", "a").replace("[\"a\", 0, 0", "[\"a\", 3, 0")
            )),
            "takes node 3 of `a`, which has no such node",
        ),
        (
            "tensor_index.json",
            functional(&format!(
                "{input}, {}, {}",
                dense("a", "x"),
                dense("b", "a").replace("[\"a\", 0, 0", "[\"a\", 0, 2")
            )),
            "layer `a` (Dense) has no output #2",
        ),
        (
            "duplicate.json",
            functional(&format!(
                "{input}, {}, {}",
                dense("b", "x"),
                dense("b", "x")
            )),
            "has two layers named `b`",
        ),
    ];
    for (name, text, expected) in cases {
        let e = load_err(&write(d, name, text.as_bytes()));
        assert!(!e.not_a_model, "{name}: {e}");
        assert!(e.message.contains(expected), "{name}: {}", e.message);
    }
    // An unknown layer class is kept as an opaque op and loading goes on.
    let custom = functional(&format!(
        r#"{input}, {{"class_name": "MyBlock", "name": "a", "config": {{"name": "a"}}, "inbound_nodes": [[["x", 0, 0, {{}}]]]}}, {}"#,
        dense("b", "a")
    ));
    let model = load::load(&write(d, "custom.json", custom.as_bytes())).unwrap();
    let op = model
        .graph
        .ops
        .iter()
        .find(|o| o.op_type == "MyBlock")
        .unwrap();
    assert_eq!(op.domain, "keras");
    assert!(model.graph.value(op.outputs[0]).shape.is_none());
}

#[test]
fn python_nan_and_infinity_in_a_config_load() {
    let dir = tempfile::tempdir().unwrap();
    let text = seq(&format!(
        r#"{INPUT}, {{"class_name": "Dense", "config": {{"name": "d", "units": 1, "activation": "softmax", "x": NaN, "y": -Infinity, "z": Infinity}}}}"#
    ));
    let path = write(dir.path(), "nan.json", text.as_bytes());
    let (_, findings) = lint(&path);
    assert_eq!(codes(&findings), ["NNL001"]);
}

/// A minimal zip with one stored entry whose central directory declares `declared` bytes.
fn zip_with_declared_size(name: &str, data: &[u8], declared: u32) -> Vec<u8> {
    let crc = crc32(data);
    let mut out = vec![];
    let local = |out: &mut Vec<u8>| {
        out.extend(0x0403_4b50u32.to_le_bytes());
        out.extend(20u16.to_le_bytes()); // version needed
        out.extend(0u16.to_le_bytes()); // flags
        out.extend(0u16.to_le_bytes()); // stored
        out.extend(0u32.to_le_bytes()); // time, date
        out.extend(crc.to_le_bytes());
        out.extend(declared.to_le_bytes());
        out.extend(declared.to_le_bytes());
        out.extend((name.len() as u16).to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend(name.as_bytes());
    };
    local(&mut out);
    out.extend(data);
    let cd_start = out.len() as u32;
    out.extend(0x0201_4b50u32.to_le_bytes());
    out.extend(20u16.to_le_bytes()); // made by
    out.extend(20u16.to_le_bytes()); // needed
    out.extend(0u16.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out.extend(0u32.to_le_bytes());
    out.extend(crc.to_le_bytes());
    out.extend(declared.to_le_bytes());
    out.extend(declared.to_le_bytes());
    out.extend((name.len() as u16).to_le_bytes());
    out.extend([0u8; 8]); // extra, comment, disk, internal attrs
    out.extend(0u32.to_le_bytes()); // external attrs
    out.extend(0u32.to_le_bytes()); // local header offset
    out.extend(name.as_bytes());
    let cd_len = out.len() as u32 - cd_start;
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]);
    out.extend(1u16.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    out.extend(cd_len.to_le_bytes());
    out.extend(cd_start.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn archives_that_are_not_keras_or_lie_about_sizes_are_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good_config =
        std::fs::read_to_string(fixture("NNL001/bad_keras3_seq_dense_softmax1_bce.json")).unwrap();

    // A well-formed archive written by hand loads like the JSON.
    let ok = zip_with_declared_size(
        "config.json",
        good_config.as_bytes(),
        good_config.len() as u32,
    );
    let model = load::load(&write(d, "ok.keras", &ok)).unwrap();
    assert_eq!(model.format, Format::KerasArchive);

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("text.keras", b"not a zip at all".to_vec(), "not a zip file"),
        (
            "other.keras",
            zip_with_declared_size("readme.txt", b"hello", 5),
            "the zip has no `config.json` (entries: `readme.txt`)",
        ),
        (
            "huge.keras",
            zip_with_declared_size("config.json", b"{}", 1 << 30),
            "`config.json` declares 1073741824 bytes, more than the limit of 67108864",
        ),
        (
            "liar.keras",
            zip_with_declared_size("config.json", b"{\"a\": 1}", 4096),
            "config.json",
        ),
        (
            "notjson.keras",
            zip_with_declared_size("config.json", b"class_name: [", 13),
            "config.json inside the archive: invalid JSON at line 1",
        ),
        (
            "notkeras.keras",
            zip_with_declared_size("config.json", b"{\"a\": 1}", 8),
            "config.json inside the archive: not a Keras model config",
        ),
    ];
    for (name, bytes, expected) in cases {
        let e = load_err(&write(d, name, &bytes));
        assert!(!e.not_a_model, "{name}: {e}");
        assert!(e.message.contains(expected), "{name}: {}", e.message);
    }
}

#[test]
fn legacy_h5_models_load_broken_ones_are_errors_and_other_hdf5_files_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The signature and the attribute's name, but no readable superblock behind them.
    let mut model = b"\x89HDF\r\n\x1a\n".to_vec();
    model.extend(vec![0u8; 200]);
    model.extend(b"model_config");
    let e = load_err(&write(d, "legacy.h5", &model));
    assert!(!e.not_a_model);
    assert!(e.message.contains("not a readable HDF5 file"), "{e}");
    // A real HDF5 file without a Keras config (the reader's own test data) is skipped.
    let data = std::fs::read(fixture("hdf5/variants_earliest.h5")).unwrap();
    let e = load_err(&write(d, "data.h5", &data));
    assert!(e.not_a_model, "{e}");
    assert!(e.message.contains("without a Keras `model_config`"), "{e}");
    assert!(load_err(&write(d, "plain.h5", b"plain bytes")).not_a_model);
    // An HDF5 file the reader cannot read and that never names `model_config` is some data file
    // (a directory scan skips it); named on the command line it is still an error.
    let mut data = b"\x89HDF\r\n\x1a\n".to_vec();
    data.extend([9u8; 64]);
    let e = load_err(&write(d, "unreadable_data.h5", &data));
    assert!(e.not_a_model, "{e}");
    assert!(e.message.contains("not a Keras model"), "{e}");

    // A tf_keras 2 model.save("x.h5"): config from the root attributes, weights from model_weights.
    let path = fixture("NNL001/bad_keras2_h5_cnn_softmax1_bce.h5");
    let model = nnlint::load::load(&path).unwrap();
    assert_eq!(model.format, Format::KerasH5);
    assert_eq!(model.weights, Weights::Real, "{:?}", model.metadata);
    assert_eq!(
        model.source_name,
        "the model_config and training_config attributes of bad_keras2_h5_cnn_softmax1_bce.h5"
    );
    assert_eq!(model.metadata["keras_version"], "2.21.0");
    assert_eq!(model.metadata["backend"], "tensorflow");
    assert_eq!(
        model.weights_provenance,
        WeightsProvenance::Loaded {
            tensors: 4,
            from: "the model_weights group of bad_keras2_h5_cnn_softmax1_bce.h5".into()
        }
    );
    let text = model.source_text.as_deref().unwrap();
    assert!(text.contains("\"model_config\": {\"class_name\": \"Sequential\""));
}

/// Weights whose shapes do not fit the config are never used: the model says why, and the
/// numerical check runs on seeded weights and says that, too.
#[test]
fn weights_that_do_not_fit_the_config_are_reported_not_used() {
    let src = fixture("NNL001/bad_keras3_trained_cnn_softmax1_bce.keras");
    let bytes = std::fs::read(&src).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
    let mut config = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("config.json").unwrap(), &mut config).unwrap();
    // Three filters in the file; the edited config asks for four.
    assert!(config.contains("\"filters\": 3"));
    let edited = config.replace("\"filters\": 3", "\"filters\": 4");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("edited.keras");
    {
        let mut w = zip::ZipWriter::new(std::fs::File::create(&out).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for i in 0..zip.len() {
            let mut f = zip.by_index(i).unwrap();
            let name = f.name().unwrap().to_string();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut f, &mut data).unwrap();
            if name == "config.json" {
                data = edited.clone().into_bytes();
            }
            w.start_file(name, opts).unwrap();
            std::io::Write::write_all(&mut w, &data).unwrap();
        }
        w.finish().unwrap();
    }
    let (model, findings) = lint(&out);
    assert_eq!(model.weights, Weights::Absent);
    let WeightsProvenance::NotUsed { why: note } = &model.weights_provenance else {
        panic!("{:?}", model.weights_provenance);
    };
    assert!(
        note.contains("layer `conv` `kernel`") && note.contains("[3, 3, 1, 3]"),
        "{note}"
    );
    let f = findings.iter().find(|f| f.code == "NNL001").unwrap();
    let Check::Confirmed { summary, .. } = &f.check else {
        panic!("{:?}", f.check)
    };
    assert!(
        summary.contains("the file's weights do not match"),
        "{summary}"
    );
}

// ---------------------------------------------------------------------------------------------
// directory scans
// ---------------------------------------------------------------------------------------------

#[test]
fn directory_scans_drop_json_and_yaml_that_are_not_models_and_named_ones_are_skipped_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "package.json", br#"{"name": "web", "version": "1.0.0"}"#);
    write(d, "broken_data.json", b"{\"rows\": [1, 2,");
    write(d, "tsconfig.json", b"// comment\n{\"compilerOptions\": {}}");
    write(d, "settings.yaml", b"class_name: Foo\nconfig: {a: 1}\n");
    write(d, "ci.yml", b"jobs:\n  test:\n    runs-on: ubuntu\n");
    write(d, "empty.json", b"");
    let model = std::fs::read(fixture("NNL001/bad_keras3_seq_dense_softmax1_bce.yaml")).unwrap();
    write(d, "model.yaml", &model);

    let targets = engine::collect_paths(&[d.to_path_buf()]);
    assert_eq!(targets.len(), 7);
    let results = engine::lint_targets(&targets, &Overrides::default(), &|_| {}).unwrap();
    let linted: Vec<String> = results
        .iter()
        .map(|r| r.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(linted, ["model.yaml"]);
    assert_eq!(engine::exit_code(&results), 1);

    for name in [
        "package.json",
        "broken_data.json",
        "settings.yaml",
        "empty.json",
    ] {
        let targets = engine::collect_paths(&[d.join(name)]);
        let results = engine::lint_targets(&targets, &Overrides::default(), &|_| {}).unwrap();
        assert_eq!(results.len(), 1, "{name}");
        let e = results[0].outcome.as_ref().err().unwrap();
        assert!(
            e.message.starts_with("not a Keras model config")
                || e.message
                    .starts_with("not a Keras or Hugging Face model config"),
            "{name}: {e}"
        );
        assert!(results[0].skipped().is_some(), "{name}");
        assert!(results[0].unreadable().is_none(), "{name}");
        assert_eq!(engine::exit_code(&results), 0, "{name}");
    }
}

#[test]
fn a_yaml_comment_on_a_layer_records_a_suppression_on_its_ops() {
    let dir = tempfile::tempdir().unwrap();
    let text =
        std::fs::read_to_string(fixture("NNL001/bad_keras3_seq_dense_softmax1_bce.yaml")).unwrap();
    let marked = text.replacen(
        "- module: keras.layers\n    class_name: Dense\n    config:\n      name: head",
        "# nnlint: ignore[NNL001]\n  - module: keras.layers\n    class_name: Dense\n    config:\n      name: head",
        1,
    );
    assert_ne!(marked, text, "the fixture's head layer moved");
    let mut f = std::fs::File::create(dir.path().join("m.yaml")).unwrap();
    f.write_all(marked.as_bytes()).unwrap();
    let model = load::load(&dir.path().join("m.yaml")).unwrap();
    for op in &model.graph.ops {
        let expected: &[&str] = if op.origin.layer.as_deref() == Some("head") {
            &["NNL001"]
        } else {
            &[]
        };
        assert_eq!(op.origin.suppress, expected, "{}", op.name);
    }
    // And the engine applies it: the finding moves to the suppressed list.
    let r = engine::lint_path(&dir.path().join("m.yaml"), &engine::Settings::default());
    let linted = r.outcome.as_ref().unwrap();
    assert!(linted.findings.is_empty(), "{:?}", codes(&linted.findings));
    assert_eq!(linted.suppressed.len(), 1);
    assert_eq!(linted.suppressed[0].0.code, "NNL001");
}

/// Every mutation of real configs loads or fails with an error; none panics.
#[test]
fn mutated_configs_never_panic() {
    let files = [
        "NNL001/bad_keras3_user_cnn.json",
        "NNL001/bad_keras3_func_two_heads_dict_loss.json",
        "NNL001/bad_keras2_func_shared_softmax1.json",
        "NNL001/bad_keras3_func_activation_layer_softmax1_bce_object.yaml",
        "NNL009/bad_keras3_lambda_layer.json",
    ];
    let replacements = [
        "-1",
        "0",
        "1e300",
        "\"x\"",
        "null",
        "[]",
        "{}",
        "NaN",
        "-Infinity",
        "99999999999999999999",
        "[1, 2, 3]",
        "[[1, 2], [3]]",
        "true",
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut cases = 0;
    for file in files {
        let text = std::fs::read_to_string(fixture(file)).unwrap();
        let ext = Path::new(file).extension().unwrap().to_str().unwrap();
        let target = dir.path().join(format!("m.{ext}"));
        let mut variants: Vec<String> = (0..text.len())
            .step_by(211)
            .filter(|&i| text.is_char_boundary(i))
            .map(|i| text[..i].to_string())
            .collect();
        // Replace each scalar value after a key with every replacement.
        let sep = if ext == "yaml" { ": " } else { "\": " };
        for (k, (at, _)) in text.match_indices(sep).enumerate() {
            let start = at + sep.len();
            let end = text[start..]
                .find([',', '\n', '}'])
                .map_or(text.len(), |i| start + i);
            if text[start..end].starts_with(['[', '{']) && end - start > 1 {
                continue;
            }
            // Two replacements per value, rotating through the list.
            for j in 0..2 {
                let r = replacements[(k + 5 * j) % replacements.len()];
                variants.push(format!("{}{r}{}", &text[..start], &text[end..]));
            }
        }
        for (i, v) in variants.into_iter().enumerate() {
            std::fs::write(&target, &v).unwrap();
            // Loading every variant; running the rules (and the evaluator) on every 16th.
            let outcome = std::panic::catch_unwind(|| {
                if let Ok(model) = load::load(&target)
                    && i % 16 == 0
                {
                    let _ = engine::lint_model(&model, &Settings::default());
                }
            });
            assert!(outcome.is_ok(), "{file}: panicked on:\n{v}");
            cases += 1;
        }
    }
    eprintln!("{cases} mutated configs");
    assert!(cases > 1000, "{cases}");
}
