//! `nnlint inspect`: the model as nnlint sees it — inputs, outputs with their intent, and each output's
//! head (final activation, axis, units, and the logits tensor before it).

use std::fmt::Write as _;

use serde_json::json;

use crate::analysis::output_head;
use crate::ir::{Format, Graph, Model, Op, Part, ValueId, WeightsProvenance, shape_to_string};

fn describe(graph: &Graph, v: ValueId) -> String {
    let value = graph.value(v);
    format!(
        "{} {}",
        value.dtype.map_or_else(|| "?".to_string(), |d| d.name()),
        shape_to_string(value.shape.as_ref())
    )
}

/// Python source and notebooks: shown by source lines and the names the code uses, without the
/// ONNX vocabulary (opset, op counts, node paths) nnlint lowers them into.
fn is_source(model: &Model) -> bool {
    matches!(model.format, Format::PythonSource | Format::Notebook)
}

/// An op as the user wrote it: its source line and code for Python, its node path otherwise.
fn op_place(model: &Model, op: &Op) -> String {
    if is_source(model) {
        let span = op
            .origin
            .spans
            .get(&Part::Entry)
            .or_else(|| op.origin.spans.values().next());
        if let Some(place) = span.and_then(|&s| super::source_place(model, s)) {
            return place;
        }
        return format!("`{}`", super::node_name(model, &op.origin.path));
    }
    op.origin.path.clone()
}

/// A value as the user knows it: for Python, the output of the line that computes it.
fn value_place(model: &Model, v: ValueId, name: &str) -> String {
    if is_source(model)
        && let Some(op) = model.graph.value(v).producer
    {
        return format!("the output of {}", op_place(model, model.graph.op(op)));
    }
    name.to_string()
}

pub fn text(path: &str, model: &Model) -> String {
    let g = &model.graph;
    let mut out = String::new();
    let format = serde_json::to_value(model.format)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let weights = match model.weights {
        crate::ir::Weights::Real => "real",
        crate::ir::Weights::Absent => "absent (numerical checks use seeded weights)",
    };
    if is_source(model) {
        let _ = writeln!(out, "{path}  ({format}, weights: {weights})");
        if let Some(f) = model.metadata.get("frameworks") {
            let _ = writeln!(out, "frameworks: {f}");
        }
    } else {
        let _ = writeln!(
            out,
            "{path}  ({format}, opset {}, {} ops, weights: {weights})",
            model.opset,
            g.ops.len(),
        );
    }
    if !model.producer.trim().is_empty() && !is_source(model) {
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
    if let Some(first) = model.syntax_errors.first() {
        let _ = writeln!(
            out,
            "python_syntax_errors: {} syntax error(s); the first at {}: {}; findings cover what \
             parsed",
            model.syntax_errors.len(),
            first.place(),
            first.message
        );
    }
    if !model.submodels.is_empty() {
        let _ = writeln!(out, "models:");
        for m in &model.submodels {
            let _ = writeln!(out, "  {}", submodel_text(model, m));
        }
    }
    let _ = writeln!(out, "inputs:");
    for &i in &g.inputs {
        let _ = writeln!(out, "  {}  {}", g.value(i).name, describe(g, i));
    }
    let _ = writeln!(out, "outputs:");
    for (i, o) in g.outputs.iter().enumerate() {
        let head = output_head(g, o.value, model.opset);
        let name = if is_source(model) && !o.name_speaks {
            // A module path nnlint gave the output says little without its line (it is still the
            // name `[outputs]` and `--output-intent` use).
            format!(
                "{i}: {} ({})",
                head.output,
                value_place(model, o.value, &head.output)
            )
        } else {
            head.output.clone()
        };
        let _ = writeln!(
            out,
            "  {name}  {}  intent: {}",
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
                let _ = write!(line, " at {}", op_place(model, op));
                let _ = writeln!(out, "{line}");
                if let (Some(logits), Some(input)) = (&head.logits, op.input(0)) {
                    // A layer with a fused activation (Keras `Dense(..., activation=...)`) computes
                    // its logits inside the same call.
                    let same_layer = g
                        .value(input)
                        .producer
                        .is_some_and(|p| g.op(p).origin.path == op.origin.path);
                    let place = if is_source(model) && same_layer {
                        format!("inside {}, before its activation", op_place(model, op))
                    } else {
                        value_place(model, input, logits)
                    };
                    let _ = writeln!(
                        out,
                        "    logits (the output before the {}): {place}  {}",
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
        let at = |span: Option<crate::ir::Span>| {
            span.filter(|_| is_source(model))
                .and_then(|s| super::source_place(model, s))
                .map_or(String::new(), |p| format!(" at {p}"))
        };
        let on = |output: Option<usize>| {
            output.map_or(String::new(), |o| match g.outputs.get(o) {
                Some(out) if !is_source(model) || out.name_speaks => {
                    format!(" on output {o} ({})", g.value(out.value).name)
                }
                _ => format!(" on output {o}"),
            })
        };
        for l in &t.losses {
            let _ = writeln!(
                out,
                "  loss {} (from_logits={}){}{}",
                l.written,
                l.from_logits,
                on(l.output),
                at(l.span)
            );
        }
        for h in &t.library_heads {
            let class = if h.class.is_empty() {
                "a sequence classification head".to_string()
            } else {
                h.class.clone()
            };
            let names = match h.class_names.len() {
                0 => "no class names".to_string(),
                n if n <= 8 => format!("classes {}", h.class_names.join(", ")),
                n => format!(
                    "classes {} and {} more",
                    h.class_names[..8].join(", "),
                    n - 8
                ),
            };
            let problem = h
                .problem_type
                .map_or("unset".to_string(), |p| p.written().to_string());
            let _ = writeln!(
                out,
                "  head {class}: num_labels={}, {names}, problem_type {problem}{}",
                h.num_labels,
                on(Some(h.output))
            );
        }
        for l in &t.labels {
            let _ = writeln!(
                out,
                "  labels: {} classes{} from {}{}{}",
                l.classes,
                if l.one_hot { " (one-hot)" } else { "" },
                l.source,
                on(Some(l.output)),
                at(l.span)
            );
        }
        let mut shown = vec![];
        for m in &t.metrics {
            let line = format!("  metric {}{}{}", m.name, on(m.output), at(m.span));
            // The same metric read twice from one place is one metric.
            if !shown.contains(&line) {
                let _ = writeln!(out, "{line}");
                shown.push(line);
            }
        }
    }
    out
}

/// One model of a file that builds several: `clf (keras Sequential) built at line 6: `…`: output 0`.
fn submodel_text(model: &Model, m: &crate::ir::SubModel) -> String {
    let name = m
        .name
        .as_deref()
        .map_or(String::new(), |n| format!("`{n}` "));
    let at = super::source_place(model, m.span).map_or(String::new(), |p| format!(" at {p}"));
    let outputs = match m.outputs.len() {
        1 => format!("output {}", m.outputs.start),
        _ => format!(
            "outputs {}..{}",
            m.outputs.start,
            m.outputs.end.saturating_sub(1)
        ),
    };
    format!("{name}({}){at}: {outputs}", m.kind)
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
        "models": model.submodels.iter().map(|m| json!({
            "name": m.name,
            "kind": m.kind,
            "outputs": m.outputs.clone().collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
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
