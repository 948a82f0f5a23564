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

/// The edits that replace a call `f(x, dim=1)` (entry span, `f` at its start) by its first argument
/// `x`: `f(` and `, dim=1)` are deleted, `x` stays as written. Only for a positional first argument
/// followed by at most the axis (`dim=`/`axis=` or a number), so nothing else the call said is lost.
pub fn unwrap_call(model: &Model, entry: Span, name: Span) -> Option<Vec<Edit>> {
    let text = span_text(model, entry)?;
    if name.offset != entry.offset || !text.ends_with(')') {
        return None;
    }
    let open = name.len + text[name.len..].find('(')?;
    if !text[name.len..open].trim().is_empty() {
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
            _ => {}
        }
    }
    let first_end = commas.first().copied().unwrap_or(args.len());
    let first = &args[..first_end];
    let rest: Vec<&str> = commas
        .iter()
        .enumerate()
        .map(|(k, &c)| args[c + 1..commas.get(k + 1).copied().unwrap_or(args.len())].trim())
        .filter(|r| !r.is_empty())
        .collect();
    let axis_only = rest.len() <= 1
        && rest.iter().all(|r| {
            let v = r
                .strip_prefix("dim")
                .or_else(|| r.strip_prefix("axis"))
                .map(|v| v.trim_start().strip_prefix('=').unwrap_or("?"))
                .unwrap_or(r)
                .trim();
            v.strip_prefix('-')
                .unwrap_or(v)
                .chars()
                .all(|c| c.is_ascii_digit())
                && !v.is_empty()
        });
    let arg = first.trim();
    if arg.is_empty() || !axis_only || arg.contains('=') || arg.starts_with('*') {
        return None;
    }
    let lead = first.len() - first.trim_start().len();
    let arg_start = entry.offset + open + 1 + lead;
    let arg_end = arg_start + arg.len();
    Some(vec![
        Edit::delete(between(entry.offset, arg_start)?),
        Edit::delete(between(arg_end, entry.offset + entry.len)?),
    ])
}

/// The edit that removes one element written alone on its line of a list of calls
/// (`nn.Sequential(..., nn.Softmax(dim=1),)`): the whole line goes. `None` when anything else
/// shares the line.
pub fn drop_line_element(model: &Model, entry: Span) -> Option<Edit> {
    let at = model.locate(entry)?;
    let text = at.text;
    let (start, end) = (at.span.offset, at.span.offset + at.span.len);
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
    let before = &text[line_start..start];
    let after = text[end..line_end].trim();
    let after = after
        .split_once('#')
        .map_or(after, |(code, _)| code.trim_end());
    if !before.trim().is_empty() || !(after.is_empty() || after == ",") {
        return None;
    }
    // The element after it must not lose a separating comma: without a comma after this one, it is
    // the last element, and the one before keeps its own comma (or the list ends with it).
    Some(Edit::delete(Span {
        offset: entry.offset - (start - line_start),
        len: line_end - line_start,
    }))
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
