//! What a rule may attach to a finding: the edit that removes it (`--fix`, `--diff`). Plain data, as
//! findings are; `cmd/fix.rs` applies fixes, re-lints the edited text and writes or diffs it.
//!
//! An edit replaces a byte span of `Model::source_text` with source text (Python or config text as
//! the user reads it). In a notebook the span points into the JSON text and the applier escapes the
//! replacement for the JSON string it lands in, so a rule writes the replacement as plain source and
//! never copies text out of the file (copied text would already be escaped).

use serde::Serialize;

use crate::ir::{Format, Model, Span};

/// Whether applying a fix can change what a correct program computes elsewhere (as ruff's fix
/// safety).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Safety {
    /// The edit cannot change what a correct program computes anywhere else: applied by `--fix`.
    Safe,
    /// The edit may change something else (an output also used for reporting): applied only with
    /// `--unsafe-fixes`.
    Unsafe,
}

impl Safety {
    pub fn as_str(self) -> &'static str {
        match self {
            Safety::Safe => "safe",
            Safety::Unsafe => "unsafe",
        }
    }
}

/// Replace `span` with `replacement` (empty: delete; an empty span: insert).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edit {
    pub span: Span,
    pub replacement: String,
}

impl Edit {
    pub fn replace(span: Span, replacement: impl Into<String>) -> Edit {
        Edit {
            span,
            replacement: replacement.into(),
        }
    }

    pub fn delete(span: Span) -> Edit {
        Edit::replace(span, "")
    }

    /// One past the last byte it replaces.
    pub fn end(&self) -> usize {
        self.span.offset + self.span.len
    }
}

/// The edits that remove one finding, applied together or not at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fix {
    /// Non-overlapping edits, any order.
    pub edits: Vec<Edit>,
    pub safety: Safety,
    /// What the fix does, lower-case, no trailing period (`replace log(softmax(x)) with
    /// log_softmax(x)`).
    pub message: String,
}

impl Fix {
    pub fn safe(message: impl Into<String>, edits: Vec<Edit>) -> Fix {
        Fix {
            edits,
            safety: Safety::Safe,
            message: message.into(),
        }
    }

    pub fn unsafe_(message: impl Into<String>, edits: Vec<Edit>) -> Fix {
        Fix {
            edits,
            safety: Safety::Unsafe,
            message: message.into(),
        }
    }

    /// Whether two fixes touch the same bytes (or insert at the same place), so that applying both
    /// is not well defined.
    pub fn overlaps(&self, other: &Fix) -> bool {
        self.edits.iter().any(|a| {
            other.edits.iter().any(|b| {
                let (a0, a1, b0, b1) = (a.span.offset, a.end(), b.span.offset, b.end());
                (a0 < b1 && b0 < a1)
                    || a0 == b0
                    || (a0 == a1 && b0 < a0 && a0 < b1)
                    || (b0 == b1 && a0 < b0 && b0 < a1)
            })
        })
    }
}

/// Whether files of `format` are edited in place: the text formats. ONNX graphs, `.keras` archives
/// and `.h5` files are not (their findings say which source to change), so their findings carry no
/// fix.
pub fn edits_in_place(format: Format) -> bool {
    matches!(
        format,
        Format::PythonSource | Format::Notebook | Format::KerasJson | Format::KerasYaml
    )
}

/// The byte span of `needle` inside `span` of `text`, searched from the end (`Dense(1,
/// activation="softmax")`: the value, not the key). `None` when it is not there.
pub fn find_last(text: &str, span: Span, needle: &str) -> Option<Span> {
    let inner = text.get(span.offset..span.offset + span.len)?;
    let at = inner.rfind(needle)?;
    Some(Span {
        offset: span.offset + at,
        len: needle.len(),
    })
}

/// The text of `span` as the file it lies in has it (the linted file or a module it imports): what a
/// rule's fix checks before it proposes an edit there.
pub fn span_text(model: &Model, span: Span) -> Option<&str> {
    let at = model.locate(span)?;
    at.text.get(at.span.offset..at.span.offset + at.span.len)
}

/// The span from the start of `a` to the start of `b` (`b` after `a`).
pub fn between(a_start: usize, b_start: usize) -> Option<Span> {
    (b_start >= a_start).then(|| Span {
        offset: a_start,
        len: b_start - a_start,
    })
}

/// The elementwise natural logarithm as each framework spells it, where a fix may fold it into the
/// activation it is applied to (`torch.log(torch.softmax(z, 1))` → `torch.log_softmax(z, 1)`).
pub const LOG_CALLS: &[&str] = &[
    "torch.log",
    "tf.log",
    "tf.math.log",
    "tf.compat.v1.log",
    "keras.ops.log",
    "ops.log",
];

/// The negative log-likelihood loss renamed to the cross-entropy, which applies the log-softmax
/// itself (`nn.NLLLoss` → `nn.CrossEntropyLoss`, `F.nll_loss` → `F.cross_entropy`): the name as
/// written and its replacement, when `written` is one spelled with PyTorch's module prefixes.
pub fn cross_entropy_for_nll(written: &str) -> Option<(&'static str, &'static str)> {
    let (old, new) = [
        ("NLLLoss", "CrossEntropyLoss"),
        ("nll_loss", "cross_entropy"),
    ]
    .into_iter()
    .find(|(old, _)| written.ends_with(old))?;
    matches!(
        written.strip_suffix(old)?,
        "nn." | "torch.nn." | "F." | "torch.nn.functional." | ""
    )
    .then_some((old, new))
}

/// The fused log-softmax or log-sigmoid for a softmax or sigmoid function written as `name`, in the
/// same library and with the same arguments (`torch.softmax` → `torch.log_softmax`, `tf.nn.softmax`
/// → `tf.nn.log_softmax`, `torch.sigmoid` → `torch.nn.functional.logsigmoid`). `None` for a
/// spelling without one (Keras's backend `K.softmax`).
pub fn fused_log_name(name: &str) -> Option<String> {
    if let Some(prefix) = name.strip_suffix("softmax") {
        const PREFIXES: &[&str] = &[
            "torch.",
            "F.",
            "torch.nn.functional.",
            "nn.functional.",
            "tf.nn.",
            "tf.math.",
            "tf.compat.v1.nn.",
            "keras.ops.",
            "ops.",
        ];
        return PREFIXES
            .contains(&prefix)
            .then(|| format!("{prefix}log_softmax"));
    }
    if let Some(prefix) = name.strip_suffix("Softmax") {
        // The module form: `nn.Softmax(dim=1)` → `nn.LogSoftmax(dim=1)`.
        return ["nn.", "torch.nn."]
            .contains(&prefix)
            .then(|| format!("{prefix}LogSoftmax"));
    }
    Some(
        match name {
            "torch.sigmoid" | "torch.nn.functional.sigmoid" => "torch.nn.functional.logsigmoid",
            "F.sigmoid" => "F.logsigmoid",
            "tf.sigmoid" | "tf.nn.sigmoid" | "tf.math.sigmoid" => "tf.math.log_sigmoid",
            "keras.ops.sigmoid" => "keras.ops.log_sigmoid",
            "ops.sigmoid" => "ops.log_sigmoid",
            _ => return None,
        }
        .to_string(),
    )
}

/// Whether the call at `entry` is written as a loss's own argument: right after the opening
/// parenthesis of a cross-entropy (`F.cross_entropy(torch.softmax(z, 1), y)`,
/// `tf.nn.sigmoid_cross_entropy_with_logits(y, sigmoid(z))`) or after `logits=`
/// (`softmax_cross_entropy_with_logits(logits=tf.nn.softmax(z), ...)`). `None` when the span is in
/// no text the model has.
pub fn is_loss_argument(model: &Model, entry: Span) -> Option<bool> {
    let at = model.locate(entry)?;
    let line = &at.text[at.text[..at.span.offset].rfind('\n').map_or(0, |i| i + 1)..at.span.offset];
    let before = line.trim_end();
    Some(
        before.ends_with("logits=")
            || before.strip_suffix('(').is_some_and(|call| {
                ["cross_entropy", "_with_logits"]
                    .iter()
                    .any(|name| call.trim_end().ends_with(name))
            }),
    )
}

/// The edits that replace a call `f(x, dim=1)` (entry span, `f` at its start) by its first argument
/// `x`: `f(` and `, dim=1)` are deleted, `x` stays as written. Only for a positional first argument
/// followed by at most the axis (`dim=`/`axis=` or a number), so nothing else the call said is lost.
pub fn unwrap_call(model: &Model, entry: Span, name: Span) -> Option<Vec<Edit>> {
    if name.offset != entry.offset {
        return None;
    }
    let (arg_start, arg_end) = call_argument(span_text(model, entry)?, name.len)?;
    Some(vec![
        Edit::delete(between(entry.offset, entry.offset + arg_start)?),
        Edit::delete(between(entry.offset + arg_end, entry.offset + entry.len)?),
    ])
}

/// The edits that remove an activation call and keep what it was applied to: the statement
/// `x = F.softmax(x, dim=1)` goes with its line (it would read `x = x`), any other call is unwrapped
/// (`return F.softmax(x, dim=1)` → `return x`), an `nn.Softmax(dim=1)` alone on its line of an
/// `nn.Sequential` goes with its line.
pub fn drop_activation(model: &Model, entry: Span, name: Span) -> Option<Vec<Edit>> {
    let Some(edits) = unwrap_call(model, entry, name) else {
        return Some(vec![drop_line_element(model, entry)?]);
    };
    let at = model.locate(entry)?;
    let call = at.text.get(at.span.offset..at.span.offset + at.span.len)?;
    let (a, b) = call_argument(call, name.len)?;
    if model.format == Format::Notebook && at.path.is_none() {
        // A cell's line is part of a JSON string: `x = F.softmax(x)` there is left alone rather
        // than made `x = x`.
        let line_start = at.text[..at.span.offset]
            .rfind(['\n', '"'])
            .map_or(0, |i| i + 1);
        let before = &at.text[line_start..at.span.offset];
        let before = before.rsplit("\\n").next().unwrap_or(before).trim();
        let rest = &at.text[at.span.offset + at.span.len..];
        let after = rest[..rest.find(['"', '#']).unwrap_or(rest.len())].trim();
        let statement_ends = after.is_empty() || after.starts_with("\\n");
        if statement_ends && before.strip_suffix('=').map(str::trim_end) == Some(&call[a..b]) {
            return None;
        }
        return Some(edits);
    }
    match self_assignment_line(at.text, at.span.offset, at.span.len, &call[a..b]) {
        Some((start, len)) => Some(vec![Edit::delete(Span {
            offset: entry.offset - (at.span.offset - start),
            len,
        })]),
        None => Some(edits),
    }
}

/// The line (start, length with its newline) when it is only `arg = <the call>` (and a comment).
fn self_assignment_line(text: &str, start: usize, len: usize, arg: &str) -> Option<(usize, usize)> {
    let end = start + len;
    let line_start = text.get(..start)?.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text
        .get(end..)?
        .find('\n')
        .map_or(text.len(), |i| end + i + 1);
    let target = text[line_start..start].trim().strip_suffix('=')?.trim_end();
    let after = text[end..line_end].trim();
    (target == arg && (after.is_empty() || after.starts_with('#')))
        .then_some((line_start, line_end - line_start))
}

/// In a call's text (`f(x, dim=1)`, the name `name_len` bytes long), the byte range of its only
/// argument but the axis.
fn call_argument(text: &str, name_len: usize) -> Option<(usize, usize)> {
    if !text.ends_with(')') {
        return None;
    }
    let open = name_len + text.get(name_len..)?.find('(')?;
    if !text[name_len..open].trim().is_empty() {
        return None;
    }
    let args = &text[open + 1..text.len() - 1];
    // Top-level commas (brackets and strings skipped).
    let (mut depth, mut quote, mut commas) = (0i32, None, vec![]);
    for (i, c) in args.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => depth -= 1,
            (None, ',') if depth == 0 => commas.push(i),
            (None, '#') => return None,
            _ => {}
        }
    }
    let first = &args[..commas.first().copied().unwrap_or(args.len())];
    let rest: Vec<&str> = commas
        .iter()
        .enumerate()
        .map(|(k, &c)| args[c + 1..commas.get(k + 1).copied().unwrap_or(args.len())].trim())
        .filter(|r| !r.is_empty())
        .collect();
    let is_axis = |r: &&str| {
        let v = match r.strip_prefix("dim").or_else(|| r.strip_prefix("axis")) {
            Some(v) => v.trim_start().strip_prefix('=')?.trim(),
            None => r,
        };
        let digits = v.strip_prefix('-').unwrap_or(v);
        Some(!digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()))
    };
    let arg = first.trim();
    if arg.is_empty()
        || rest.len() > 1
        || !rest.iter().all(|r| is_axis(r) == Some(true))
        || arg.contains('=')
        || arg.starts_with('*')
    {
        return None;
    }
    let start = open + 1 + (first.len() - first.trim_start().len());
    Some((start, start + arg.len()))
}

/// The edit that removes one element written alone on its line of an `nn.Sequential(...)`
/// (`nn.Softmax(dim=1),`): the whole line goes. `None` when anything else shares the line or the
/// enclosing call is not a `Sequential`.
pub fn drop_line_element(model: &Model, entry: Span) -> Option<Edit> {
    let at = model.locate(entry)?;
    let (start, len) = sequential_line(at.text, at.span.offset, at.span.len)?;
    Some(Edit::delete(Span {
        offset: entry.offset - (at.span.offset - start),
        len,
    }))
}

/// The line (start, length with its newline) holding only the element at `start..start + len`
/// and its comma, inside a `Sequential(` call.
fn sequential_line(text: &str, start: usize, len: usize) -> Option<(usize, usize)> {
    let end = start + len;
    let line_start = text.get(..start)?.rfind('\n').map_or(0, |i| i + 1);
    let line_end = text
        .get(end..)?
        .find('\n')
        .map_or(text.len(), |i| end + i + 1);
    let after = text[end..line_end].trim();
    let after = after
        .split_once('#')
        .map_or(after, |(code, _)| code.trim_end());
    if !text[line_start..start].trim().is_empty() || !(after.is_empty() || after == ",") {
        return None;
    }
    // The bracket that encloses the line: the first unmatched `(` before it.
    let mut depth = 0;
    let open = text[..line_start].char_indices().rev().find_map(|(i, c)| {
        match c {
            ')' | ']' | '}' => depth += 1,
            '(' | '[' | '{' if depth == 0 => return Some((i, c)),
            '(' | '[' | '{' => depth -= 1,
            _ => {}
        }
        None
    })?;
    (open.1 == '(' && text[..open.0].trim_end().ends_with("Sequential"))
        .then_some((line_start, line_end - line_start))
}

/// `text` escaped for the inside of a JSON string (a notebook cell's source).
pub fn json_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: usize, len: usize) -> Span {
        Span { offset, len }
    }

    #[test]
    fn fixes_overlap_when_their_edits_touch_the_same_bytes() {
        let f = |o, l| Fix::safe("x", vec![Edit::delete(at(o, l))]);
        assert!(f(0, 5).overlaps(&f(4, 2)));
        assert!(!f(0, 5).overlaps(&f(5, 2)));
        assert!(f(3, 0).overlaps(&f(3, 0)), "two insertions at one place");
        assert!(
            f(3, 0).overlaps(&f(1, 5)),
            "an insertion inside a replacement"
        );
        assert!(
            f(3, 0).overlaps(&f(3, 4)),
            "an insertion where a replacement starts"
        );
    }

    #[test]
    fn a_call_is_unwrapped_only_when_its_first_argument_is_all_that_stays() {
        fn arg(call: &str) -> Option<&str> {
            call_argument(call, call.find('(').unwrap()).map(|(a, b)| &call[a..b])
        }
        assert_eq!(arg("F.softmax(x, dim=1)"), Some("x"));
        assert_eq!(
            arg("torch.softmax(self.fc(x, y), 1)"),
            Some("self.fc(x, y)")
        );
        assert_eq!(arg("F.softmax( h ,dim = -1 , )"), Some("h"));
        assert_eq!(arg("torch.sigmoid(z)"), Some("z"));
        assert_eq!(arg("tf.nn.softmax(\n    out_layer\n)"), Some("out_layer"));
        assert_eq!(arg("F.softmax(t[\"a,b\"], 1)"), Some("t[\"a,b\"]"));
        for kept in [
            "F.softmax(x, dim=1, dtype=torch.float64)",
            "F.softmax(input=x, dim=1)",
            "F.softmax(*xs)",
            "F.softmax(x, d)",
            "F.softmax()",
            "F.softmax(x, dim=1)[0]",
            "F.softmax(x,  # logits\n dim=1)",
        ] {
            assert_eq!(arg(kept), None, "{kept}");
        }
    }

    #[test]
    fn a_sequential_element_alone_on_its_line_is_dropped_with_its_line() {
        let drop = |text: &str, element: &str| {
            let at = text.find(element).unwrap();
            sequential_line(text, at, element.len()).map(|(s, l)| {
                let mut out = text.to_string();
                out.replace_range(s..s + l, "");
                out
            })
        };
        let seq = "m = nn.Sequential(\n    nn.Linear(4, 1),\n    nn.Softmax(dim=1),  # probs\n)\n";
        assert_eq!(
            drop(seq, "nn.Softmax(dim=1)").unwrap(),
            "m = nn.Sequential(\n    nn.Linear(4, 1),\n)\n"
        );
        let last = "m = nn.Sequential(\n    nn.Linear(4, 1),\n    nn.Softmax(dim=1)\n)\n";
        assert!(drop(last, "nn.Softmax(dim=1)").is_some());
        for kept in [
            "m = nn.Sequential(nn.Linear(4, 1), nn.Softmax(dim=1))\n",
            "self.act = nn.Softmax(dim=1)\n",
            "m.add_module(\n    \"p\",\n    nn.Softmax(dim=1)\n)\n",
            "m = nn.Sequential(\n    nn.Linear(4, 1),\n    nn.Softmax(dim=1)).eval()\n",
        ] {
            assert_eq!(drop(kept, "nn.Softmax(dim=1)"), None, "{kept}");
        }
    }

    #[test]
    fn an_activation_assigned_back_to_its_argument_goes_with_its_line() {
        let text =
            "        x = self.fc(x)\n        x = F.softmax(x, dim=1)  # probs\n        return x\n";
        let at = text.find("F.softmax").unwrap();
        let (s, l) = self_assignment_line(text, at, "F.softmax(x, dim=1)".len(), "x").unwrap();
        assert_eq!(
            &text[s..s + l],
            "        x = F.softmax(x, dim=1)  # probs\n"
        );
        let other = "        y = F.softmax(x, dim=1)\n";
        let at = other.find("F.softmax").unwrap();
        assert_eq!(self_assignment_line(other, at, 19, "x"), None);
        let chained = "        x = F.softmax(x, dim=1).clamp(0, 1)\n";
        let at = chained.find("F.softmax").unwrap();
        assert_eq!(self_assignment_line(chained, at, 19, "x"), None);
    }

    #[test]
    fn json_escaping_of_a_replacement() {
        assert_eq!(json_escape("f(\"a\")\n"), "f(\\\"a\\\")\\n");
        assert_eq!(json_escape("a\\b"), "a\\\\b");
    }

    #[test]
    fn the_value_is_found_from_the_end_of_the_span() {
        let text = r#"Dense(1, activation="softmax")"#;
        let span = find_last(text, at(9, 20), "softmax").unwrap();
        assert_eq!(&text[span.offset..span.offset + span.len], "softmax");
        assert_eq!(find_last(text, at(9, 20), "sigmoid"), None);
    }
}
