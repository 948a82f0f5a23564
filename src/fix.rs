//! What a rule may attach to a finding: the edit that removes it (`--fix`, `--diff`). Plain data, as
//! findings are; `cmd/fix.rs` applies fixes, re-lints the edited text and writes or diffs it.
//!
//! An edit replaces a byte span of `Model::source_text` with source text (Python or config text as
//! the user reads it). In a notebook the span points into the JSON text and the applier escapes the
//! replacement for the JSON string it lands in, so a rule writes the replacement as plain source and
//! never copies text out of the file (copied text would already be escaped).

use serde::Serialize;

use crate::ir::{Model, Span};

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
