//! The training spec from `compile_config` (Keras 3) or `training_config` (Keras 2): loss per output,
//! metrics, loss weights, with the spans rules label.

use super::tree::{Kind, Node};
use crate::ir::{Framework, Graph, LossKind, LossSpec, MetricSpec, Span, TrainingSpec};

/// Which graph outputs a per-output entry (list position or dict key) refers to.
pub struct Outputs<'a> {
    pub graph: &'a Graph,
    /// Per graph output, the names a dict may use (output key, layer name).
    pub names: &'a [Vec<String>],
}

impl Outputs<'_> {
    fn by_key(&self, key: &str) -> Option<usize> {
        self.names.iter().position(|n| n.iter().any(|k| k == key))
    }

    fn units(&self, index: usize) -> Option<u64> {
        let out = self.graph.outputs.get(index)?;
        self.graph.value(out.value).shape.as_ref()?.last()?.fixed()
    }
}

pub fn training_spec(config: &Node, outputs: &Outputs, backend: Option<String>) -> TrainingSpec {
    let mut spec = TrainingSpec {
        backend,
        ..TrainingSpec::default()
    };
    if let Some(loss) = config.get_some("loss") {
        spec.losses = losses(loss, outputs);
    }
    if let Some(weights) = config.get_some("loss_weights") {
        apply_weights(&mut spec.losses, weights, outputs);
    }
    for key in ["metrics", "weighted_metrics"] {
        if let Some(m) = config.get_some(key) {
            spec.metrics.extend(metrics(m, outputs, &spec.losses));
        }
    }
    spec
}

/// Whether a node is one loss (a name or a serialized object) rather than a per-output container.
fn is_single(node: &Node) -> bool {
    matches!(node.kind, Kind::Str(_)) || node.get("class_name").is_some()
}

fn losses(node: &Node, outputs: &Outputs) -> Vec<LossSpec> {
    if is_single(node) {
        return loss(node, None).into_iter().collect();
    }
    match &node.kind {
        Kind::List(items) => items
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.is_null())
            .filter_map(|(i, n)| loss(n, Some(i)))
            .collect(),
        Kind::Map(entries) => entries
            .iter()
            .filter(|e| !e.value.is_null())
            .filter_map(|e| outputs.by_key(&e.key).and_then(|i| loss(&e.value, Some(i))))
            .collect(),
        _ => vec![],
    }
}

fn loss(node: &Node, output: Option<usize>) -> Option<LossSpec> {
    let (written, span, config) = written_name(node)?;
    let from_logits_entry = config.and_then(|c| c.entry("from_logits"));
    Some(LossSpec {
        output,
        kind: loss_kind(&written),
        from_logits: from_logits_entry
            .and_then(|e| e.value.as_bool())
            .unwrap_or(false),
        axis: config.and_then(|c| c.get("axis")).and_then(Node::as_i64),
        weight: None,
        span: Some(span),
        from_logits_span: from_logits_entry.map(|e| e.pair_span()),
        // Which Keras: set by the loader (`keras::build`), which knows the file.
        framework: Framework::default(),
        written,
    })
}

/// The name as written, the span to label, and the object's `config` when it is one.
fn written_name(node: &Node) -> Option<(String, Span, Option<&Node>)> {
    match &node.kind {
        Kind::Str(s) => Some((s.clone(), node.span, None)),
        Kind::Map(_) => {
            let class = node.entry("class_name")?;
            let name = class.value.as_str()?;
            let config = node.get("config");
            // Keras 3 serializes a plain function as {"class_name": "function", "config": "name"}.
            let name = match config.and_then(Node::as_str) {
                Some(f) if name == "function" => f,
                _ => name,
            };
            Some((
                name.to_string(),
                class.pair_span(),
                config.filter(|c| c.entries().is_some()),
            ))
        }
        _ => None,
    }
}

fn normalized(name: &str) -> String {
    let base = name.rsplit(['.', '>']).next().unwrap_or(name);
    base.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase()
}

pub fn loss_kind(name: &str) -> LossKind {
    match normalized(name).as_str() {
        // PyTorch spellings (`nn.BCELoss`, `F.binary_cross_entropy`, ...) from Python source.
        "binarycrossentropy" | "bce" | "bceloss" => LossKind::BinaryCrossentropy,
        "categoricalcrossentropy" | "cce" => LossKind::CategoricalCrossentropy,
        // PyTorch's cross-entropy takes class indices (or probabilities) and always logits.
        "sparsecategoricalcrossentropy" | "scce" | "crossentropyloss" | "crossentropy" => {
            LossKind::SparseCategoricalCrossentropy
        }
        "sigmoidcrossentropywithlogits" | "bcewithlogitsloss" | "binarycrossentropywithlogits" => {
            LossKind::SigmoidCrossEntropyWithLogits
        }
        "meansquarederror" | "mse" | "mseloss" => LossKind::MeanSquaredError,
        "meanabsoluteerror" | "mae" | "l1loss" => LossKind::MeanAbsoluteError,
        "nllloss" => LossKind::NegativeLogLikelihood,
        _ => LossKind::Other(name.to_string()),
    }
}

fn apply_weights(losses: &mut [LossSpec], weights: &Node, outputs: &Outputs) {
    let weight_of = |output: Option<usize>| -> Option<f64> {
        match &weights.kind {
            Kind::Int(_) | Kind::Float(_) => weights.as_f64(),
            Kind::List(items) => output.and_then(|i| items.get(i)).and_then(Node::as_f64),
            Kind::Map(entries) => {
                let i = output?;
                entries
                    .iter()
                    .find(|e| outputs.by_key(&e.key) == Some(i))
                    .and_then(|e| e.value.as_f64())
            }
            _ => None,
        }
    };
    for l in losses {
        l.weight = weight_of(l.output).or_else(|| match (&weights.kind, l.output) {
            (Kind::List(items), None) if items.len() == 1 => items[0].as_f64(),
            _ => None,
        });
    }
}

fn metrics(node: &Node, outputs: &Outputs, losses: &[LossSpec]) -> Vec<MetricSpec> {
    let mut out = vec![];
    match &node.kind {
        Kind::Map(entries) if !is_single(node) => {
            for e in entries {
                if let Some(i) = outputs.by_key(&e.key) {
                    for_each_metric(&e.value, &mut |m| {
                        out.extend(metric(m, Some(i), outputs, losses))
                    });
                }
            }
        }
        Kind::List(items)
            if outputs.graph.outputs.len() > 1
                && items.iter().all(|i| i.as_list().is_some() || i.is_null()) =>
        {
            // Keras 2: one list of metrics per output.
            for (i, per_output) in items.iter().enumerate() {
                for_each_metric(per_output, &mut |m| {
                    out.extend(metric(m, Some(i), outputs, losses))
                });
            }
        }
        _ => for_each_metric(node, &mut |m| out.extend(metric(m, None, outputs, losses))),
    }
    out
}

fn for_each_metric<'a>(node: &'a Node, f: &mut dyn FnMut(&'a Node)) {
    match &node.kind {
        Kind::List(items) => items.iter().for_each(|i| for_each_metric(i, f)),
        Kind::Null => {}
        _ => f(node),
    }
}

fn metric(
    node: &Node,
    output: Option<usize>,
    outputs: &Outputs,
    losses: &[LossSpec],
) -> Option<MetricSpec> {
    let (written, span, config) = written_name(node)?;
    let name = config
        .and_then(|c| c.get("name"))
        .and_then(Node::as_str)
        .unwrap_or(&written)
        .to_string();
    let function = config.and_then(|c| c.get("fn")).and_then(Node::as_str);
    let threshold = match normalized(function.unwrap_or(&written)).as_str() {
        "binaryaccuracy" => Some(
            config
                .and_then(|c| c.get("threshold"))
                .and_then(Node::as_f64)
                .unwrap_or(0.5),
        ),
        "accuracy" | "acc" if binary_output(output, outputs, losses) => Some(0.5),
        _ => None,
    };
    Some(MetricSpec {
        output,
        name,
        threshold,
        span: Some(span),
    })
}

/// Keras turns "accuracy" into binary accuracy (threshold 0.5) for a one-unit output or a binary
/// cross-entropy loss.
fn binary_output(output: Option<usize>, outputs: &Outputs, losses: &[LossSpec]) -> bool {
    let indices: Vec<usize> = match output {
        Some(i) => vec![i],
        None => (0..outputs.graph.outputs.len()).collect(),
    };
    !indices.is_empty()
        && indices.iter().all(|&i| {
            outputs.units(i) == Some(1)
                || losses.iter().any(|l| {
                    (l.output == Some(i) || l.output.is_none())
                        && l.kind == LossKind::BinaryCrossentropy
                })
        })
}
