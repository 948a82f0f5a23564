//! Hugging Face transformers `config.json`: the task head a `*ForSequenceClassification` or
//! `*ForTokenClassification` class builds from it, lowered as the classifier layer it is (a linear
//! layer of `num_labels` units on the encoder's hidden state) with the loss the class computes.
//! The encoder itself is not in the file (its weights are elsewhere and its code is the library's):
//! the graph starts at the hidden state. What only the config says (labels, `problem_type`) is an
//! [`ir::LibraryHead`]. All of transformers' behaviour nnlint relies on is in the tables and
//! functions of this file.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::LoadError;
use super::keras::tree::{Kind, Node};
use crate::ir::{
    self, DType, Dim, Format, Framework, Graph, GraphOutput, HeadTask, Intent, IntentSource,
    LibraryHead, LossKind, LossSpec, Model, Op, Origin, Part, ProblemType, Span, TensorData,
    TensorRef, TrainingSpec, Value, ValueId, Weights, WeightsProvenance,
};

/// The head classes nnlint builds, by the suffix of the architecture's name.
const HEAD_CLASSES: &[(&str, HeadTask)] = &[
    (
        "ForSequenceClassification",
        HeadTask::SequenceClassification,
    ),
    ("ForTokenClassification", HeadTask::TokenClassification),
];

/// Config keys that give the width of the encoder's hidden state, by model family (BERT and most
/// encoders, DistilBERT, GPT-2, BART/T5-like).
const HIDDEN_SIZE_KEYS: &[&str] = &["hidden_size", "dim", "n_embd", "d_model"];

/// transformers' default width of a classification head when the config gives neither `id2label`
/// nor `num_labels` (`PreTrainedConfig.__init__`).
const DEFAULT_NUM_LABELS: u64 = 2;

/// The largest class count read from a config: the head's width is claimed by the file, so it is
/// bounded before any shape or label list is built from it.
const MAX_LABELS: u64 = 1 << 20;

/// The loss the head computes, as transformers picks it (`loss_utils.py`): token classification is
/// always cross-entropy over the labels; sequence classification follows `problem_type`, and when it
/// is unset, one label means regression (MSE) and several depend on the labels' dtype at training
/// time (integers: cross-entropy, floats: BCE with logits), which the config cannot tell.
fn head_loss(task: HeadTask, num_labels: u64, problem: Option<ProblemType>) -> Option<LossKind> {
    match (task, problem) {
        (HeadTask::TokenClassification, _) => Some(LossKind::SparseCategoricalCrossentropy),
        (_, Some(ProblemType::Regression)) => Some(LossKind::MeanSquaredError),
        (_, Some(ProblemType::SingleLabelClassification)) => {
            Some(LossKind::SparseCategoricalCrossentropy)
        }
        (_, Some(ProblemType::MultiLabelClassification)) => {
            Some(LossKind::SigmoidCrossEntropyWithLogits)
        }
        (_, None) if num_labels == 1 => Some(LossKind::MeanSquaredError),
        (_, None) => None,
    }
}

/// The PyTorch class that computes a loss kind, as the head calls it.
fn torch_name(kind: &LossKind) -> &'static str {
    match kind {
        LossKind::MeanSquaredError => "MSELoss",
        LossKind::SigmoidCrossEntropyWithLogits => "BCEWithLogitsLoss",
        _ => "CrossEntropyLoss",
    }
}

/// A placeholder name transformers gives a label nobody named (`LABEL_0`).
fn is_placeholder(name: &str) -> bool {
    name.strip_prefix("LABEL_")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether the text may be a transformers config: cheap, before parsing.
pub fn may_be_config(text: &str) -> bool {
    text.contains("\"model_type\"") || text.contains("\"architectures\"")
}

/// Whether a parsed document is a transformers config: a mapping with `model_type` (a string) or
/// `architectures` (a list of strings), and none of the keys a Keras config has at its top level.
pub fn is_config(root: &Node) -> bool {
    if root.entries().is_none()
        || ["class_name", "model_config", "config"]
            .iter()
            .any(|k| root.get(k).is_some())
    {
        return false;
    }
    let model_type = root.get("model_type").and_then(Node::as_str).is_some();
    let architectures = root
        .get("architectures")
        .and_then(Node::as_list)
        .is_some_and(|l| !l.is_empty() && l.iter().all(|a| a.as_str().is_some()));
    model_type || architectures
}

/// A transformers head as a file describes it: read from a `config.json` here, and what another
/// front end (Python source: `AutoModelForSequenceClassification.from_pretrained(..., num_labels=1)`)
/// builds to get the same IR from [`lowered_head`]. Spans point into that front end's text.
#[derive(Clone, Debug)]
pub(crate) struct Head {
    /// The class as written (`BertForSequenceClassification`); empty when the file names none.
    pub class: String,
    pub class_span: Option<Span>,
    pub task: HeadTask,
    /// The width transformers builds (`len(id2label)`, else `num_labels`, else 2).
    pub num_labels: u64,
    pub num_labels_span: Option<Span>,
    /// Names that are not `LABEL_i` placeholders, in id order.
    pub class_names: Vec<String>,
    pub class_names_span: Option<Span>,
    pub problem_type: Option<ProblemType>,
    pub problem_type_span: Option<Span>,
    /// The encoder's hidden size and where it is written, when the file gives it.
    pub hidden: Option<(u64, Span)>,
}

/// A label map (`id2label`: ids to names, or `label2id`: names to ids) as (id, name) pairs in id
/// order; `None` when it is not such a map.
fn label_map(node: &Node, names_are_keys: bool) -> Option<Vec<(u64, String)>> {
    let entries = node.entries()?;
    let mut pairs = Vec::with_capacity(entries.len());
    for e in entries {
        let (id, name) = if names_are_keys {
            (e.value.as_i64()?, e.key.clone())
        } else {
            (
                e.key.trim().parse::<i64>().ok()?,
                e.value.as_str()?.to_string(),
            )
        };
        pairs.push((u64::try_from(id).ok()?, name));
    }
    pairs.sort();
    pairs.dedup_by_key(|p| p.0);
    Some(pairs)
}

pub(crate) fn read_head(root: &Node) -> Result<Option<Head>, LoadError> {
    let named = root.entry("architectures").and_then(|e| {
        let list = e.value.as_list()?;
        list.iter().find_map(|a| {
            let name = a.as_str()?;
            let task = HEAD_CLASSES
                .iter()
                .find(|(suffix, _)| name.ends_with(suffix) && name.len() > suffix.len())?
                .1;
            Some((name.to_string(), Some(a.span), task))
        })
    });
    let problem_entry = root.entry("problem_type").filter(|e| !e.value.is_null());
    let problem_type = problem_entry
        .and_then(|e| e.value.as_str())
        .and_then(ProblemType::from_written);
    if let Some(e) = problem_entry
        && problem_type.is_none()
    {
        return Err(LoadError::new(format!(
            "`problem_type` is {}, not one transformers knows (\"regression\", \
             \"single_label_classification\", \"multi_label_classification\")",
            quote_value(&e.value)
        )));
    }
    // Without an architecture, a `problem_type` says the config is for a sequence classifier
    // (`AutoModelForSequenceClassification` is the only class that reads it).
    let (class, class_span, task) = match named {
        Some(n) => n,
        None if problem_type.is_some() => (String::new(), None, HeadTask::SequenceClassification),
        None => return Ok(None),
    };
    let id2label = root.entry("id2label").filter(|e| !e.value.is_null());
    let label2id = root.entry("label2id").filter(|e| !e.value.is_null());
    let id_map = id2label.and_then(|e| label_map(&e.value, false));
    let name_map = label2id.and_then(|e| label_map(&e.value, true));
    let explicit = root.entry("num_labels").filter(|e| !e.value.is_null());
    // As `PreTrainedConfig.__init__`: `id2label` decides the width, else `num_labels`, else 2.
    let (num_labels, num_labels_span) = match (&id_map, explicit) {
        (Some(m), _) if !m.is_empty() => (m.len() as u64, id2label.map(|e| e.pair_span())),
        (_, Some(e)) => {
            let n = e
                .value
                .as_i64()
                .and_then(|n| u64::try_from(n).ok())
                .filter(|&n| (1..=MAX_LABELS).contains(&n))
                .ok_or_else(|| {
                    LoadError::new(format!(
                        "`num_labels` is {}, not a class count from 1 to {MAX_LABELS}",
                        quote_value(&e.value)
                    ))
                })?;
            (n, Some(e.pair_span()))
        }
        _ => (DEFAULT_NUM_LABELS, None),
    };
    if num_labels > MAX_LABELS {
        return Err(LoadError::new(format!(
            "`id2label` has {num_labels} labels, more than the {MAX_LABELS} nnlint reads"
        )));
    }
    // Names a person gave: from whichever map holds more of them (transformers rebuilds `label2id`
    // from `id2label` only when `label2id` is missing, so the two can disagree).
    let names = |m: &Option<Vec<(u64, String)>>| -> Vec<String> {
        m.iter()
            .flatten()
            .filter(|(_, n)| !is_placeholder(n))
            .map(|(_, n)| n.clone())
            .collect()
    };
    let (from_ids, from_names) = (names(&id_map), names(&name_map));
    let (class_names, class_names_span) = if from_names.len() > from_ids.len() {
        (from_names, label2id.map(|e| e.pair_span()))
    } else {
        (from_ids, id2label.map(|e| e.pair_span()))
    };
    let hidden = HIDDEN_SIZE_KEYS.iter().find_map(|k| {
        let e = root.entry(k)?;
        let n = u64::try_from(e.value.as_i64()?).ok()?;
        Some((n, e.pair_span()))
    });
    Ok(Some(Head {
        class,
        class_span,
        task,
        num_labels,
        num_labels_span,
        class_names,
        class_names_span,
        problem_type,
        problem_type_span: problem_entry.map(|e| e.pair_span()),
        hidden,
    }))
}

fn quote_value(node: &Node) -> String {
    match &node.kind {
        Kind::Str(s) => {
            let cut: String = s.chars().take(60).collect();
            format!("{cut:?}")
        }
        Kind::Int(i) => i.to_string(),
        Kind::Float(f) => f.to_string(),
        _ => node.type_name().to_string(),
    }
}

/// Lowers a parsed transformers config (see [`is_config`]). A config without a classification head
/// (a language model, a bare encoder) is not checked: nothing nnlint checks is in it.
pub fn from_tree(path: &Path, text: String, root: &Node) -> Result<Model, LoadError> {
    let Some(head) = read_head(root)? else {
        let what = root
            .get("architectures")
            .and_then(Node::as_list)
            .and_then(|l| l.first())
            .and_then(Node::as_str)
            .map(|a| format!("`{a}`"))
            .or_else(|| {
                root.get("model_type")
                    .and_then(Node::as_str)
                    .map(|t| format!("a `{t}` model"))
            })
            .unwrap_or_else(|| "a model".into());
        return Err(LoadError::not_checked_because(
            format!(
                "not checked: a Hugging Face config for {what}, which has no sequence or token \
                 classification head (nnlint checks the heads of `*ForSequenceClassification` and \
                 `*ForTokenClassification`)"
            ),
            "Hugging Face config without a classification head",
        ));
    };
    let model_type = root.get("model_type").and_then(Node::as_str);
    let mut metadata = BTreeMap::new();
    if let Some(t) = model_type {
        metadata.insert("model_type".to_string(), t.to_string());
    }
    if let Some(v) = root.get("transformers_version").and_then(Node::as_str) {
        metadata.insert("transformers_version".to_string(), v.to_string());
    }
    let producer = match metadata.get("transformers_version") {
        Some(v) => format!("transformers {v}"),
        None => "transformers".to_string(),
    };
    let source_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let mut model = lowered_head(path, head, Format::HfConfig, source_name, Arc::from(text));
    model.producer = producer;
    model.metadata = metadata;
    Ok(model)
}

/// The IR of a transformers head, whichever front end read it: the classifier on the hidden state
/// (output 0, `logits`), the loss transformers computes for it (when the head's description decides
/// it) and the [`LibraryHead`] rule NNL017 reads. Weights are seeded (the encoder's and the
/// classifier's are not in the description).
pub(crate) fn lowered_head(
    path: &Path,
    head: Head,
    format: Format,
    source_name: String,
    text: Arc<str>,
) -> Model {
    let (graph, assumed) = classifier_graph(&head);
    let losses = head_loss(head.task, head.num_labels, head.problem_type)
        .map(|kind| LossSpec {
            output: Some(0),
            written: torch_name(&kind).to_string(),
            kind,
            from_logits: true,
            axis: None,
            weight: None,
            span: head.problem_type_span.or(head.num_labels_span),
            from_logits_span: None,
            framework: Framework::HuggingFace,
        })
        .into_iter()
        .collect();
    let training = TrainingSpec {
        losses,
        metrics: vec![],
        backend: Some("torch".to_string()),
        library_heads: vec![LibraryHead {
            output: 0,
            class: head.class.clone(),
            task: head.task,
            num_labels: head.num_labels,
            num_labels_span: head.num_labels_span,
            class_names: head.class_names,
            class_names_span: head.class_names_span,
            problem_type: head.problem_type,
            problem_type_span: head.problem_type_span,
        }],
        labels: vec![],
    };
    Model {
        path: path.to_path_buf(),
        format,
        source_name,
        source_text: Some(text),
        opset: super::keras::OPSET,
        producer: "transformers".to_string(),
        framework: Framework::HuggingFace,
        graph,
        training: Some(training),
        metadata: BTreeMap::new(),
        weights: Weights::Absent,
        assumed_widths: assumed,
        not_followed: vec![],
        syntax_errors: vec![],
        imported_sources: vec![],
        submodels: vec![],
        weights_provenance: WeightsProvenance::None,
        source_map: None,
    }
}

/// The classifier on the encoder's hidden state: `hidden [N, H]` (token heads: one row per token) →
/// `MatMul` with `[H, K]` → `Add` bias `[K]` → output `logits`. `H` is the config's hidden size, or
/// a representative width (recorded as assumed) when the config gives none or a huge one.
fn classifier_graph(head: &Head) -> (Graph, Vec<ValueId>) {
    let mut g = Graph {
        name: if head.class.is_empty() {
            "classifier".into()
        } else {
            head.class.clone()
        },
        ..Graph::default()
    };
    let mut assumed = vec![];
    let hidden_width = head
        .hidden
        .map(|(n, _)| n)
        .filter(|n| (1..=MAX_LABELS).contains(n));
    let hidden_dim = hidden_width.unwrap_or(ir::REPRESENTATIVE_WIDTH);
    // A token head classifies every token alike; its loss views the logits as one row per token
    // (`logits.view(-1, num_labels)`), and so does the graph: the sequence length is not in the file.
    let (rows, input_name) = match head.task {
        HeadTask::SequenceClassification => ("batch", "pooled_hidden_state"),
        HeadTask::TokenClassification => ("tokens", "token_hidden_states"),
    };
    let with_last = |d: u64| vec![Dim::Named(rows.into()), Dim::Fixed(d)];
    let input = push(&mut g, input_name, Some(with_last(hidden_dim)), None);
    if hidden_width.is_none() {
        assumed.push(input);
    }
    g.inputs.push(input);
    let k = head.num_labels;
    let weight = push(
        &mut g,
        "classifier.weight",
        Some(vec![Dim::Fixed(hidden_dim), Dim::Fixed(k)]),
        Some(absent("classifier.weight", &[hidden_dim, k])),
    );
    let bias = push(
        &mut g,
        "classifier.bias",
        Some(vec![Dim::Fixed(k)]),
        Some(absent("classifier.bias", &[k])),
    );
    let projected = push(&mut g, "classifier/MatMul", Some(with_last(k)), None);
    let logits = push(&mut g, "logits", Some(with_last(k)), None);
    let mut spans = BTreeMap::new();
    if let Some(s) = head.num_labels_span {
        spans.insert(Part::Units, s);
        spans.insert(Part::Entry, s);
    }
    if let Some(s) = head.class_span {
        spans.insert(Part::Class, s);
    }
    if let Some((_, s)) = head.hidden {
        spans.insert(Part::Arg("hidden_size".into()), s);
    }
    let path = format!("{}/classifier", g.name);
    let origin = Origin {
        index: 0,
        path: path.clone(),
        layer: Some("classifier".into()),
        spans,
        suppress: vec![],
    };
    for (i, (op_type, inputs, output)) in [
        ("MatMul", [input, weight], projected),
        ("Add", [projected, bias], logits),
    ]
    .into_iter()
    .enumerate()
    {
        g.values[output.0 as usize].producer = Some(ir::OpId(i as u32));
        g.ops.push(Op {
            op_type: op_type.into(),
            domain: String::new(),
            name: format!("classifier/{op_type}"),
            inputs: inputs.iter().map(|&v| Some(v)).collect(),
            outputs: vec![output],
            attrs: BTreeMap::new(),
            origin: origin.clone(),
        });
    }
    g.outputs.push(GraphOutput {
        value: logits,
        intent: Intent::Unknown,
        intent_source: IntentSource::None,
        // transformers' outputs call it `logits`, whatever the model.
        name_speaks: true,
    });
    (g, assumed)
}

fn push(
    g: &mut Graph,
    name: &str,
    shape: Option<Vec<Dim>>,
    constant: Option<TensorRef>,
) -> ValueId {
    g.values.push(Value {
        name: name.into(),
        dtype: Some(DType::F32),
        shape,
        producer: None,
        constant,
    });
    ValueId(g.values.len() as u32 - 1)
}

fn absent(name: &str, dims: &[u64]) -> TensorRef {
    TensorRef {
        name: name.into(),
        dtype: DType::F32,
        dims: dims.iter().map(|&d| d as i64).collect(),
        data: TensorData::Absent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head_of(text: &str) -> Head {
        let root = super::super::keras::json::parse(text).unwrap();
        assert!(is_config(&root));
        read_head(&root).unwrap().unwrap()
    }

    #[test]
    fn id2label_decides_the_width_as_transformers_does() {
        let h = head_of(
            r#"{"architectures": ["BertForSequenceClassification"], "model_type": "bert",
                "num_labels": 1, "id2label": {"0": "NEG", "1": "POS"}}"#,
        );
        assert_eq!(h.num_labels, 2);
        assert_eq!(h.class_names, ["NEG", "POS"]);
    }

    #[test]
    fn placeholders_are_not_class_names_and_label2id_can_hold_more() {
        let h = head_of(
            r#"{"architectures": ["BertForSequenceClassification"], "model_type": "bert",
                "id2label": {"0": "LABEL_0"}, "label2id": {"NEGATIVE": 0, "POSITIVE": 1}}"#,
        );
        assert_eq!(h.num_labels, 1);
        assert_eq!(h.class_names, ["NEGATIVE", "POSITIVE"]);
    }

    #[test]
    fn the_loss_follows_problem_type_and_one_label_means_regression() {
        use HeadTask::*;
        assert_eq!(
            head_loss(SequenceClassification, 1, None),
            Some(LossKind::MeanSquaredError)
        );
        assert_eq!(head_loss(SequenceClassification, 3, None), None);
        assert_eq!(
            head_loss(
                SequenceClassification,
                1,
                Some(ProblemType::SingleLabelClassification)
            ),
            Some(LossKind::SparseCategoricalCrossentropy)
        );
        assert_eq!(
            head_loss(TokenClassification, 1, None),
            Some(LossKind::SparseCategoricalCrossentropy)
        );
    }

    #[test]
    fn keras_configs_and_other_json_are_not_transformers_configs() {
        for text in [
            r#"{"class_name": "Sequential", "config": {"layers": []}, "model_type": "x"}"#,
            r#"{"name": "package", "version": "1.0"}"#,
            r#"{"architectures": [1, 2]}"#,
            r#"[1, 2]"#,
        ] {
            let root = super::super::keras::json::parse(text).unwrap();
            assert!(!is_config(&root), "{text}");
        }
    }
}
