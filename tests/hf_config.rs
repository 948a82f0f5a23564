//! Hugging Face `config.json` files: `.json` is told apart by content (Keras config, transformers
//! config, anything else), the head and its loss are lowered as transformers builds them, and bad
//! configs are one error naming the file.

use nnlint::ir::{Format, HeadTask, LossKind, ProblemType};
use nnlint::load;

mod common;
use common::{codes, fixture, lint, nnlint_in, write};

const BAD: &str = "fixtures/NNL017/bad_hf_bert_num_labels_1_label2id.json";

#[test]
fn the_head_is_the_classifier_with_the_loss_transformers_picks() {
    let m = load::load(&fixture(BAD)).unwrap();
    assert_eq!(m.format, Format::HfConfig);
    let out = m.graph.outputs[0].value;
    assert_eq!(m.graph.static_shape(out), None, "the batch is named");
    let shape = m.graph.value(out).shape.clone().unwrap();
    assert_eq!(shape.last().and_then(|d| d.fixed()), Some(1));
    let t = m.training.as_ref().unwrap();
    assert_eq!(t.losses.len(), 1);
    assert_eq!(t.losses[0].kind, LossKind::MeanSquaredError);
    assert_eq!(t.losses[0].written, "MSELoss");
    let head = &t.library_heads[0];
    assert_eq!(head.class, "BertForSequenceClassification");
    assert_eq!(head.task, HeadTask::SequenceClassification);
    assert_eq!(head.num_labels, 1);
    assert_eq!(head.class_names, ["NEGATIVE", "POSITIVE"]);
    assert_eq!(head.problem_type, None);
    // The classifier reads the hidden state at the config's hidden size.
    let input = m.graph.inputs[0];
    assert_eq!(
        m.graph
            .value(input)
            .shape
            .as_ref()
            .unwrap()
            .last()
            .unwrap()
            .fixed(),
        Some(64)
    );

    let single = load::load(&fixture(
        "fixtures/NNL017/good_hf_bert_single_label_two_labels.json",
    ))
    .unwrap();
    let t = single.training.as_ref().unwrap();
    assert_eq!(
        t.library_heads[0].problem_type,
        Some(ProblemType::SingleLabelClassification)
    );
    assert_eq!(t.losses[0].kind, LossKind::SparseCategoricalCrossentropy);
    // Several labels and no problem_type: the loss depends on the labels' dtype, so none is recorded.
    let named = load::load(&fixture(
        "fixtures/NNL017/good_hf_bert_num_labels_2_label2id.json",
    ))
    .unwrap();
    assert!(named.training.as_ref().unwrap().losses.is_empty());
}

#[test]
fn inspect_shows_the_head_as_the_config_gives_it() {
    let (code, out, err) = common::nnlint(&["inspect", BAD]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("(hf-config, opset 13, 2 ops"), "{out}");
    assert!(
        out.contains("  loss MSELoss (from_logits=true) on output 0 (logits)"),
        "{out}"
    );
    assert!(
        out.contains(
            "  head BertForSequenceClassification: num_labels=1, classes NEGATIVE, POSITIVE, \
             problem_type unset on output 0 (logits)"
        ),
        "{out}"
    );
}

#[test]
fn json_is_dispatched_by_content_not_by_name() {
    let d = tempfile::tempdir().unwrap();
    let hf = std::fs::read(fixture(BAD)).unwrap();
    let keras = std::fs::read(fixture(
        "fixtures/NNL012/bad_keras3_softmax10_mse_accuracy.json",
    ))
    .unwrap();
    // A transformers config under another name, a Keras config named config.json.
    let as_model = write(d.path(), "model.json", &hf);
    let keras_named_config = write(d.path(), "config.json", &keras);
    let hf_model = lint(&as_model);
    assert_eq!(codes(&hf_model.findings), ["NNL017"]);
    let keras_model = load::load(&keras_named_config).unwrap();
    assert_eq!(keras_model.format, Format::KerasJson);
    assert_eq!(codes(&lint(&keras_named_config).findings), ["NNL012"]);
}

#[test]
fn other_json_is_not_a_model_and_a_headless_config_is_not_checked() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "tokenizer_config.json",
        br#"{"tokenizer_class": "BertTokenizer", "do_lower_case": true, "model_max_length": 512}"#,
    );
    write(
        d.path(),
        "generation_config.json",
        br#"{"bos_token_id": 50256, "eos_token_id": 50256, "transformers_version": "5.25.0"}"#,
    );
    write(
        d.path(),
        "lm.json",
        br#"{"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_embd": 64}"#,
    );
    // A directory scan skips what is not a model silently and notes the head it cannot check.
    let (code, out, err) = nnlint_in(d.path(), &["."]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("tokenizer_config"), "{out}");
    assert!(!out.contains("generation_config"), "{out}");
    assert!(
        out.contains("lm.json: not checked: a Hugging Face config for `GPT2LMHeadModel`"),
        "{out}"
    );
    // Named on the command line, a file that is not a model is a note that says which kinds it is not.
    let (code, out, _) = nnlint_in(d.path(), &["tokenizer_config.json"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("tokenizer_config.json: skipped: not a Keras or Hugging Face model config"),
        "{out}"
    );
}

#[test]
fn a_broken_head_is_one_error_naming_the_file() {
    let d = tempfile::tempdir().unwrap();
    for (name, text, says) in [
        (
            "problem.json",
            r#"{"architectures": ["BertForSequenceClassification"], "model_type": "bert",
                "problem_type": "classification"}"#,
            "`problem_type` is \"classification\"",
        ),
        (
            "labels.json",
            r#"{"architectures": ["BertForSequenceClassification"], "model_type": "bert",
                "num_labels": 1000000000000}"#,
            "`num_labels` is 1000000000000",
        ),
        (
            "negative.json",
            r#"{"architectures": ["BertForTokenClassification"], "model_type": "bert",
                "num_labels": -3}"#,
            "`num_labels` is -3",
        ),
    ] {
        write(d.path(), name, text.as_bytes());
        let (code, out, err) = nnlint_in(d.path(), &[name]);
        assert_eq!(code, 2, "{name}: {out}{err}");
        let all = format!("{out}{err}");
        assert!(all.contains(name) && all.contains(says), "{name}: {all}");
    }
}

#[test]
fn a_huge_hidden_size_is_not_allocated() {
    let d = tempfile::tempdir().unwrap();
    let path = write(
        d.path(),
        "config.json",
        br#"{"architectures": ["BertForSequenceClassification"], "model_type": "bert",
            "hidden_size": 9007199254740991, "label2id": {"NEG": 0, "POS": 1},
            "id2label": {"0": "LABEL_0"}}"#,
    );
    let l = lint(&path);
    assert_eq!(codes(&l.findings), ["NNL017"]);
}
