//! nnlint's shapes against onnx's own inference (`infer_shapes(data_prop=True)`, onnx 1.23.2) on every
//! ONNX fixture and (with NNLINT_ZOO_DIR) the nine light zoo models. The goldens are tests/data/onnx_shapes.json, written by fixtures/gen/shape_goldens.py.
//!
//! Fails on any contradiction: a value both give a rank for with different ranks, or a dim both know
//! with different sizes. Symbols are not compared (onnx names its own, `unk__N`). Also counts the head
//! values (outputs of the ops `eval::head` cuts from each graph output: what the numerical checks run
//! on) whose shape onnx knows better than nnlint (a rank or a dim onnx knows and nnlint does not), and
//! holds that count at 0 (the goal, met when this test was added).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use nnlint::ir::Dim;

type Goldens = BTreeMap<String, BTreeMap<String, Vec<serde_json::Value>>>;

fn goldens() -> Goldens {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/onnx_shapes.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn nnlint_shapes_never_contradict_onnx_and_know_every_head_value_onnx_knows() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let goldens = goldens();
    // Every ONNX fixture has goldens (regenerate them when adding one).
    let mut on_disk = vec![];
    for dir in std::fs::read_dir(&root).unwrap().flatten() {
        let code = dir.file_name().to_string_lossy().into_owned();
        if !code.starts_with("NNL") {
            continue;
        }
        for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.ends_with(".onnx") {
                on_disk.push(format!("{code}/{name}"));
            }
        }
    }
    on_disk.sort();
    let listed: Vec<String> = goldens
        .keys()
        .filter(|k| !k.starts_with("zoo/"))
        .cloned()
        .collect();
    assert_eq!(
        on_disk, listed,
        "tests/data/onnx_shapes.json is stale: run fixtures/gen/shape_goldens.py"
    );

    let mut contradictions = vec![];
    let mut better = vec![];
    let (mut compared, mut head_values, mut better_anywhere) = (0usize, 0usize, 0usize);
    // The light zoo (`zoo/<name>` in the goldens) is read from NNLINT_ZOO_DIR, as in tests/fixtures.rs.
    let zoo = std::env::var_os("NNLINT_ZOO_DIR");
    if zoo.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set NNLINT_ZOO_DIR (see .ci/run)"
        );
        eprintln!("NNLINT_ZOO_DIR not set: the light zoo models are not compared");
    }
    for (file, shapes) in &goldens {
        let path = match (file.strip_prefix("zoo/"), &zoo) {
            (Some(name), Some(dir)) => Path::new(dir).join(name),
            (Some(_), None) => continue,
            (None, _) => root.join(file),
        };
        let model = nnlint::load::load(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        let g = &model.graph;
        let mut head: BTreeSet<String> = BTreeSet::new();
        for out in &g.outputs {
            for op in nnlint::eval::head(g, out.value).ops {
                for &v in &g.op(op).outputs {
                    head.insert(g.value(v).name.clone());
                }
            }
        }
        for (name, onnx_dims) in shapes {
            let Some(id) = g.value_by_name(name) else {
                continue;
            };
            compared += 1;
            let ours = g.value(id).shape.as_ref();
            let in_head = head.contains(name);
            head_values += usize::from(in_head);
            let Some(ours) = ours else {
                better_anywhere += 1;
                if in_head {
                    better.push(format!("{file}: {name}: onnx {onnx_dims:?}, nnlint ?"));
                }
                continue;
            };
            if ours.len() != onnx_dims.len() {
                contradictions.push(format!(
                    "{file}: {name}: rank {} (nnlint) vs {} (onnx {onnx_dims:?})",
                    ours.len(),
                    onnx_dims.len()
                ));
                continue;
            }
            let mut knows_better = false;
            for (i, (d, o)) in ours.iter().zip(onnx_dims).enumerate() {
                match (d, o.as_u64()) {
                    (Dim::Fixed(a), Some(b)) if *a != b => contradictions.push(format!(
                        "{file}: {name}: dim {i} is {a} (nnlint) vs {b} (onnx)"
                    )),
                    (Dim::Named(_) | Dim::Unknown, Some(_)) => knows_better = true,
                    _ => {}
                }
            }
            better_anywhere += usize::from(knows_better);
            if knows_better && in_head {
                better.push(format!(
                    "{file}: {name}: onnx {onnx_dims:?}, nnlint {}",
                    nnlint::ir::shape_to_string(Some(ours))
                ));
            }
        }
    }
    eprintln!(
        "shape conformance: {compared} values compared ({head_values} in heads), {} contradictions, \
         {} head values onnx knows better ({better_anywhere} values anywhere in the graphs)",
        contradictions.len(),
        better.len()
    );
    for b in &better {
        eprintln!("  onnx knows better: {b}");
    }
    assert!(compared > 100, "only {compared} values compared");
    assert!(
        contradictions.is_empty(),
        "nnlint contradicts onnx's shape inference:\n{}",
        contradictions.join("\n")
    );
    assert!(
        better.is_empty(),
        "{} head values onnx knows better:\n{}",
        better.len(),
        better.join("\n")
    );
}
