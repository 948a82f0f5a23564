//! `nnlint inspect`: the model as nnlint sees it — inputs, outputs with their intent, and each output's
//! head (final activation, axis, units, and the logits tensor before it).

use std::fmt::Write as _;

use serde_json::json;

use crate::analysis::output_head;
use crate::ir::{Graph, Model, ValueId, WeightsProvenance, shape_to_string};

fn describe(graph: &Graph, v: ValueId) -> String {
    let value = graph.value(v);
    format!(
        "{} {}",
        value.dtype.map_or_else(|| "?".to_string(), |d| d.name()),
        shape_to_string(value.shape.as_ref())
    )
}

pub fn text(path: &str, model: &Model) -> String {
    let g = &model.graph;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{path}  ({}, opset {}, {} ops, weights: {})",
        serde_json::to_value(model.format)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        model.opset,
        g.ops.len(),
        match model.weights {
            crate::ir::Weights::Real => "real",
            crate::ir::Weights::Absent => "absent (numerical checks use seeded weights)",
        }
    );
    if !model.producer.trim().is_empty() {
        let _ = writeln!(out, "producer: {}", model.producer.trim());
    }
    match &model.weights_provenance {
        WeightsProvenance::None => {}
        WeightsProvenance::Loaded { tensors, from } => {
            let _ = writeln!(out, "weights: {tensors} tensors from {from}");
        }
        WeightsProvenance::NotUsed { why } => {
            let _ = writeln!(out, "weights_not_used: {why}");
        }
    }
    for key in ["python_models", "python_unknowns", "python_steps"] {
        if let Some(note) = model.metadata.get(key) {
            let _ = writeln!(out, "{key}: {note}");
        }
    }
    if let Some(errors) = &model.syntax_errors {
        let _ = writeln!(out, "python_syntax_errors: {errors}");
    }
    let _ = writeln!(out, "inputs:");
    for &i in &g.inputs {
        let _ = writeln!(out, "  {}  {}", g.value(i).name, describe(g, i));
    }
    let _ = writeln!(out, "outputs:");
    for o in &g.outputs {
        let head = output_head(g, o.value, model.opset);
        let _ = writeln!(
            out,
            "  {}  {}  intent: {}",
            head.output,
            describe(g, o.value),
            intent_text(o)
        );
        match (&head.activation, head.activation_op) {
            (Some(act), Some(op)) => {
                let op = g.op(op);
                let mut line = format!("    final activation: {act}");
                if let Some(axis) = head.axis {
                    let _ = write!(line, " over axis {axis}");
                }
                if let Some(units) = head.units {
                    let _ = write!(
                        line,
                        " ({units} {})",
                        if units == 1 { "unit" } else { "units" }
                    );
                }
                let _ = write!(line, " at {}", op.origin.path);
                let _ = writeln!(out, "{line}");
                if let (Some(logits), Some(input)) = (&head.logits, op.input(0)) {
                    let _ = writeln!(
                        out,
                        "    logits (the output before the {}): {logits}  {}",
                        act.to_lowercase(),
                        describe(g, input)
                    );
                } else if !op.is_default_domain() {
                    let _ = writeln!(
                        out,
                        "    logits (the output before the {}): inside the fused {}.{} (no tensor of the graph holds them)",
                        act.to_lowercase(),
                        op.domain,
                        op.op_type
                    );
                }
            }
            _ => {
                let _ = writeln!(
                    out,
                    "    final activation: none (linear output: these are the logits)"
                );
            }
        }
        if !head.passthrough.is_empty() {
            let _ = writeln!(out, "    then: {}", head.passthrough.join(" → "));
        }
    }
    if let Some(t) = &model.training {
        let _ = writeln!(out, "training:");
        for l in &t.losses {
            let _ = writeln!(
                out,
                "  loss {} (from_logits={}){}",
                l.written,
                l.from_logits,
                l.output
                    .map_or(String::new(), |o| format!(" on output {o}"))
            );
        }
        for m in &t.metrics {
            let _ = writeln!(out, "  metric {}", m.name);
        }
    }
    out
}

fn intent_text(o: &crate::ir::GraphOutput) -> String {
    use crate::ir::{Intent, IntentSource};
    let intent = match o.intent {
        Intent::Unknown => return "unknown".into(),
        Intent::Probability => "probability",
        Intent::Distribution => "distribution",
        Intent::Logits => "logits",
        Intent::Mask => "mask",
    };
    let source = match &o.intent_source {
        IntentSource::None => String::new(),
        IntentSource::Declared => " (declared)".into(),
        IntentSource::TrainingSpec => " (from the loss)".into(),
        IntentSource::Consumer => " (from a consumer in the graph)".into(),
        IntentSource::Name(n) => format!(" (from the name `{n}`)"),
    };
    format!("{intent}{source}")
}

pub fn json(path: &str, model: &Model) -> serde_json::Value {
    let g = &model.graph;
    json!({
        "path": path,
        "format": model.format,
        "opset": model.opset,
        "weights": model.weights,
        "inputs": g.inputs.iter().map(|&i| json!({ "name": g.value(i).name, "type": describe(g, i) })).collect::<Vec<_>>(),
        "outputs": g.outputs.iter().map(|o| {
            let head = output_head(g, o.value, model.opset);
            json!({
                "name": head.output,
                "type": describe(g, o.value),
                "intent": o.intent,
                "intent_source": o.intent_source,
                "head": head,
            })
        }).collect::<Vec<_>>(),
    })
}
