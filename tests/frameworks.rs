//! Each front end records the framework a model and its losses are written for (`ir::Framework`),
//! which decides the words of its help (`src/advice.rs`) and its loss conventions.

use std::path::Path;

use nnlint::ir::Framework;

/// The model's framework and its losses' frameworks.
fn frameworks(file: &str) -> (Framework, Vec<Framework>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let model = nnlint::load::load(&path).unwrap_or_else(|e| panic!("{file}: {}", e.message));
    let losses = model
        .training
        .as_ref()
        .map_or(vec![], |t| t.losses.iter().map(|l| l.framework).collect());
    (model.framework, losses)
}

#[test]
fn config_files_say_which_library_wrote_them() {
    let (model, losses) = frameworks("fixtures/NNL004/bad_keras3_linear_bce_probabilities.json");
    assert_eq!((model, losses), (Framework::Keras, vec![Framework::Keras]));
    let (model, losses) = frameworks("fixtures/NNL004/bad_keras2_h5_mask_logits.h5");
    assert_eq!(model, Framework::TfKeras);
    assert!(!losses.is_empty() && losses.iter().all(|&f| f == Framework::TfKeras));
    let (model, losses) = frameworks("fixtures/NNL017/bad_hf_bert_single_label_one_label.json");
    assert_eq!(
        (model, losses),
        (Framework::HuggingFace, vec![Framework::HuggingFace])
    );
    // An ONNX file says it only through its producer.
    let (model, losses) =
        frameworks("fixtures/NNL004/bad_torch_segmentation_mask_logits_opset17.onnx");
    assert_eq!((model, losses), (Framework::PyTorch, vec![]));
}

#[test]
fn python_losses_are_the_frameworks_their_spelling_and_imports_say() {
    let cases = [
        (
            "fixtures/NNL004/bad_pt_bceloss_on_linear.py",
            Framework::PyTorch,
        ),
        (
            "fixtures/projects/lightning_bad/model/classifier.py",
            Framework::Lightning,
        ),
        (
            "fixtures/NNL004/bad_py_tf1_logits_thresholded.py",
            Framework::Tf1,
        ),
        (
            "fixtures/NNL004/bad_py_linear_bce_object.py",
            Framework::TfKeras,
        ),
        (
            "fixtures/NNL001/bad_py_keras3_input_star.py",
            Framework::Keras,
        ),
    ];
    for (file, expected) in cases {
        let (model, losses) = frameworks(file);
        assert!(!losses.is_empty(), "{file}: no loss");
        assert!(losses.iter().all(|&f| f == expected), "{file}: {losses:?}");
        // The model as a whole is its training's.
        assert_eq!(model, expected, "{file}");
    }
}
