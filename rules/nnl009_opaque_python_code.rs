//! Lambda layers and lambda activations store Python code that nnlint cannot analyse and that runs on load
//!
//! ## What it finds
//! A Keras `Lambda` layer, or an activation given as a Python `lambda`, in a Keras config (JSON,
//! YAML, or the `config.json` of a `.keras` archive). Keras serializes an anonymous function as
//! base64-encoded *marshalled bytecode* (`{"class_name": "__lambda__", "config": {"code": …}}`,
//! `"activation": {"value": [<code>, …]}`, or Keras 2's `"function": [<code>, null, null]`); a Lambda
//! around a named function stores only the function's name.
//!
//! ## Why it matters
//! The layer's computation is Python code, not a layer nnlint (or any other tool reading the file)
//! can analyse: its output shape is unknown, and every rule downstream of it sees less. Worse, the
//! bytecode is executed when the model is loaded (Keras 2 always; Keras 3 when `safe_mode=False`), so a
//! model file from someone else can run arbitrary code on your machine. Marshalled bytecode is also
//! tied to the Python version that wrote it: the same file fails to load, or misbehaves, under
//! another Python.
//!
//! ## Symptom
//! Keras 3 refuses to load the model by default ("Requested the deserialization of a `lambda`
//! object … unsafe"); with `safe_mode=False`, or in Keras 2, the code in the file runs. Under another
//! Python version loading fails with `bad marshal data` or a `SystemError`. nnlint reports nothing
//! about the layers the Lambda feeds beyond what the config declares.
//!
//! ## Example
//! ```python
//! model = keras.Sequential([
//!     keras.Input((8,)),
//!     keras.layers.Dense(16),
//!     keras.layers.Lambda(lambda t: t * 2.0),  # stored as marshalled bytecode
//!     keras.layers.Dense(1, activation="sigmoid"),
//! ])
//! ```
//!
//! ## Fix
//! Use built-in layers for the computation (here `keras.layers.Rescaling(2.0)`), or write a custom
//! layer class, register it with `@keras.saving.register_keras_serializable()`, and ship its code in
//! your package, so the file holds only the class name and its config:
//! ```python
//! keras.layers.Rescaling(2.0)
//! ```
//! Load models you did not write with `safe_mode=True` (Keras 3's default).
//!
//! ## Formats
//! Keras configs (JSON, YAML, `.keras`). ONNX graphs cannot carry Python code (a custom-domain node
//! is an unknown op, not code), so this rule never fires on them. nnlint never decodes the bytecode
//! as code: the check only base64-decodes the payload and reads its first byte, the marshal type tag.
//!
//! ## References
//! - Keras `Lambda` layer docs (serialization limits and `safe_mode`)
//! - Python `marshal` module docs (the format is version-specific and not secure against
//!   malicious data)

use crate::advice::Advice;
use crate::finding::{At, Check, Label, Severity};
use crate::ir::{Framework, OpId, Part};
use crate::rule::{Detection, RuleContext};

pub const SEVERITY: Severity = Severity::Warning;

pub fn check(ctx: &RuleContext) -> Vec<Detection> {
    let graph = &ctx.model.graph;
    graph
        .op_ids()
        .filter(|&id| graph.op(id).is_opaque_code())
        .map(|id| finding(ctx, id))
        .collect()
}

fn finding(ctx: &RuleContext, id: OpId) -> Detection {
    let graph = &ctx.model.graph;
    let op = graph.op(id);
    let layer = op.origin.layer.clone().unwrap_or_else(|| op.name.clone());
    let field = op.attr_str("part").unwrap_or("function");
    let code = op.attr_str("code");
    let function = op.attr_str("function");
    let (check, decoded) = match (code, function) {
        (Some(code), _) => bytecode_check(code, ctx.model.framework),
        (None, Some(f)) => (
            Check::Unconfirmed {
                reason: format!(
                    "the file names the Python function `{f}` but holds no code for it; what it \
                     computes is in a module nnlint cannot read"
                ),
            },
            None,
        ),
        (None, None) => (
            Check::Unconfirmed {
                reason: "the Lambda's function is neither bytecode nor a named function nnlint \
                         recognises"
                    .into(),
            },
            None,
        ),
    };
    let what = if field == "activation" {
        format!("the activation of layer `{layer}` is a Python lambda")
    } else {
        format!("Lambda layer `{layer}` runs Python code")
    };
    let message = match (code, function) {
        (Some(_), _) => format!(
            "{what} stored as marshalled bytecode: nnlint cannot see what it computes, and loading \
             the model runs it"
        ),
        (None, Some(f)) => {
            format!("{what} (`{f}`) that is not in the file: nnlint cannot see what it computes")
        }
        (None, None) => format!("{what} that nnlint cannot see"),
    };
    let label = match decoded {
        Some(n) => format!("{n} bytes of marshalled Python bytecode (not decoded or run)"),
        None => "Python code nnlint cannot analyse".to_string(),
    };
    let at = match op.origin.spans.get(&Part::arg(field)) {
        Some(span) => At::Span(*span),
        None => At::op_key(graph, id, Part::Name),
    };
    Detection {
        message,
        help:
            "replace the lambda with built-in layers or a registered custom layer class whose code \
               ships in your package, and load models you did not write with `safe_mode=True`"
                .into(),
        symptom: if code.is_some() {
            Advice::LambdaBytecodeSymptom.say(ctx.model.framework)
        } else {
            "loading fails unless the named function is importable (custom_objects); rules see nothing \
             of what it computes"
                .into()
        },
        labels: vec![Label { at, text: label }],
        node_path: op.origin.path.clone(),
        check,
    }
}

/// "Confirmed" here means: the payload base64-decodes to a marshalled Python code object (marshal
/// type tag `c`, possibly with the 0x80 reference flag). Nothing else is decoded and nothing is run.
fn bytecode_check(code: &str, framework: Framework) -> (Check, Option<usize>) {
    let Some(bytes) = base64_decode(code) else {
        return (
            Check::Unconfirmed {
                reason: Advice::NotBytecodeReason.say(framework),
            },
            None,
        );
    };
    match bytes.first() {
        Some(&tag) if tag & 0x7f == b'c' => (
            Check::Confirmed {
                summary: format!(
                    "base64-decoded the payload without running it: {} bytes starting with marshal \
                     type tag 0x{tag:02x} (a Python code object)",
                    bytes.len()
                ),
                numbers: vec![
                    ("bytes of marshalled bytecode".into(), bytes.len() as f64),
                    ("marshal type tag".into(), f64::from(tag)),
                ],
            },
            Some(bytes.len()),
        ),
        other => (
            Check::Unconfirmed {
                reason: format!(
                    "the payload decodes to {} bytes that do not start with a marshalled code object \
                     (first byte {})",
                    bytes.len(),
                    other.map_or("none".into(), |b| format!("0x{b:02x}"))
                ),
            },
            Some(bytes.len()),
        ),
    }
}

/// Standard base64 (Python's `base64.encodebytes` inserts newlines every 76 characters).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .take_while(|&b| b != b'=')
        .map(|b| match b {
            b'A'..=b'Z' => Some(b - b'A'),
            b'a'..=b'z' => Some(b - b'a' + 26),
            b'0'..=b'9' => Some(b - b'0' + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        })
        .collect::<Option<_>>()?;
    if digits.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &d)| acc | (u32::from(d) << (18 - 6 * i)));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len() - 1]);
    }
    Some(out)
}
