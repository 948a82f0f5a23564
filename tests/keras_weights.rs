//! Keras files with weights (legacy `.h5`, `.keras` archives): `nnlint eval` on the file's own
//! weights reproduces the prediction Keras made when it saved the file (fixtures/<CODE>/keras_goldens/,
//! written by fixtures/gen/generate.py `keras_hdf5_weights`). This checks the HDF5 reader's values,
//! the weight-to-layer matching and the kernel layout conversion end to end.

use std::path::{Path, PathBuf};

use nnlint::cmd::tensor_file::{NamedTensor, decode_tensor_proto};
use nnlint::ir::Weights;

mod common;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &Path) -> NamedTensor {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    decode_tensor_proto(&bytes, &Default::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// (model file, golden folder) for every `keras_goldens/<stem>_<ext>/`.
fn goldens() -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    for code in std::fs::read_dir(Path::new(ROOT).join("fixtures"))
        .unwrap()
        .flatten()
    {
        let Ok(dirs) = std::fs::read_dir(code.path().join("keras_goldens")) else {
            continue;
        };
        for d in dirs.flatten() {
            let name = d.file_name().to_string_lossy().into_owned();
            let (stem, ext) = name.rsplit_once('_').unwrap();
            out.push((code.path().join(format!("{stem}.{ext}")), d.path()));
        }
    }
    out.sort();
    out
}

#[test]
fn eval_on_the_files_weights_reproduces_keras_predictions() {
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = 0;
    let mut formats = std::collections::BTreeSet::new();
    for (model, golden) in goldens() {
        let name = model.file_name().unwrap().to_string_lossy().into_owned();
        let loaded = nnlint::load::load(&model).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            loaded.weights,
            Weights::Real,
            "{name}: {:?}",
            loaded.weights_provenance
        );
        let input = read(&golden.join("input_0.pb"));
        let want = read(&golden.join("output_0.pb"));
        let out_dir = tmp.path().join(&name);
        let feed = format!("{}={}", input.name, golden.join("input_0.pb").display());
        let (code, _, err) = common::nnlint(&[
            "eval",
            model.to_str().unwrap(),
            "--input",
            &feed,
            "--output-dir",
            out_dir.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{name}: {err}");
        let got = read(&out_dir.join(format!("{}.pb", want.name)));
        assert_eq!(got.tensor.shape(), want.tensor.shape(), "{name}");
        let (g, w) = (got.tensor.to_f64_vec(), want.tensor.to_f64_vec());
        let mut worst = 0f64;
        for (k, (a, b)) in g.iter().zip(&w).enumerate() {
            let err = (a - b).abs();
            assert!(
                err <= 1e-5 + 1e-4 * b.abs(),
                "{name}: element {k} is {a}, Keras predicted {b}"
            );
            worst = worst.max(err);
        }
        // Seeded weights would not reproduce a trained model's outputs: the comparison means something.
        assert!(
            w.iter().any(|&v| v != w[0]) || w.iter().all(|&v| v == 1.0),
            "{name}"
        );
        eprintln!("{name}: matches Keras, worst absolute difference {worst:.2e}");
        formats.insert(model.extension().unwrap().to_string_lossy().into_owned());
        checked += 1;
    }
    assert!(checked >= 23, "only {checked} Keras goldens found");
    assert_eq!(
        formats.into_iter().collect::<Vec<_>>(),
        vec!["h5".to_string(), "keras".to_string()]
    );
}

/// Every Keras fixture that carries weights (.keras, .h5) is linted on them: the model says
/// `Weights::Real`, no evidence mentions seeded weights, and every check that probes the model says it
/// used the file's weights.
#[test]
fn every_keras_fixture_with_weights_is_checked_on_them() {
    use nnlint::engine::{self, Settings};
    use nnlint::finding::Check;
    let mut files = 0;
    let mut probed = 0;
    for code in std::fs::read_dir(Path::new(ROOT).join("fixtures"))
        .unwrap()
        .flatten()
    {
        if !code.file_name().to_string_lossy().starts_with("NNL") {
            continue;
        }
        for f in std::fs::read_dir(code.path()).unwrap().flatten() {
            let path = f.path();
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if !matches!(ext, "keras" | "h5") {
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let linted = engine::lint_path(&path, &Settings::default())
                .outcome
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                linted.model.weights,
                Weights::Real,
                "{name}: {:?}",
                linted.model.weights_provenance
            );
            for finding in &linted.findings {
                let Check::Confirmed { summary, .. } = &finding.check else {
                    panic!("{name}: {:?}", finding.check);
                };
                assert!(!summary.contains("seeded Glorot"), "{name}: {summary}");
                if summary.contains("weights") {
                    assert!(summary.contains("the file's weights"), "{name}: {summary}");
                    probed += 1;
                }
            }
            files += 1;
        }
    }
    assert!(files >= 50, "only {files} Keras fixtures with weights");
    assert!(probed >= 25, "only {probed} probed findings");
}

/// Keras stores `model.weights.h5` uncompressed (read by its byte range through the memory map); a
/// re-zipped archive with a deflated weights entry is inflated in memory and gives the same weights.
#[test]
fn a_deflated_weights_entry_is_read_too() {
    let src = Path::new(ROOT).join("fixtures/NNL001/bad_keras3_trained_cnn_softmax1_bce.keras");
    let bytes = std::fs::read(&src).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("deflated.keras");
    {
        let mut w = zip::ZipWriter::new(std::fs::File::create(&out).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for i in 0..zip.len() {
            let mut f = zip.by_index(i).unwrap();
            let name = f.name().unwrap().to_string();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut f, &mut data).unwrap();
            w.start_file(name, opts).unwrap();
            std::io::Write::write_all(&mut w, &data).unwrap();
        }
        w.finish().unwrap();
    }
    let stored = nnlint::load::load(&src).unwrap();
    // The same archive from bytes in memory (standard input, fuzzing): the same weights.
    let in_memory = nnlint::load::keras::archive_from_bytes(&src, &bytes).unwrap();
    assert_eq!(
        in_memory.weights,
        Weights::Real,
        "{:?}",
        in_memory.weights_provenance
    );
    let deflated = nnlint::load::load(&out).unwrap();
    assert_eq!(
        deflated.weights,
        Weights::Real,
        "{:?}",
        deflated.weights_provenance
    );
    assert_eq!(stored.weights_provenance, deflated.weights_provenance);
    let values = |m: &nnlint::ir::Model| -> Vec<Vec<f64>> {
        m.graph
            .values
            .iter()
            .filter(|v| v.constant.is_some())
            .map(|v| {
                nnlint::eval::constant(m, v.constant.as_ref().unwrap(), &Default::default())
                    .unwrap()
                    .to_f64_vec()
            })
            .collect()
    };
    assert_eq!(values(&stored), values(&deflated));
}

/// SARIF for a legacy .h5: the file is binary and its config text is assembled from attributes, so the
/// region is line 1 and the message says where the finding is.
#[test]
fn sarif_for_an_h5_model_points_at_line_one_and_names_the_attributes() {
    let path = Path::new(ROOT).join("fixtures/NNL001/bad_keras2_h5_cnn_softmax1_bce.h5");
    let (code, out, _) =
        common::nnlint(&["--isolated", "--format", "sarif", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    let sarif: serde_json::Value = serde_json::from_str(&out).unwrap();
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "NNL001");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"],
        serde_json::json!({ "startLine": 1 })
    );
    let text = result["message"]["text"].as_str().unwrap();
    assert!(
        text.contains("model_config/training_config attributes of the .h5 file"),
        "{text}"
    );
    assert!(text.contains("with the file's weights"), "{text}");
}
