//! Suppressions written in the model itself. One syntax everywhere: `nnlint: ignore[NNL001, NNL003]`
//! (codes or names) in a YAML comment on the layer, or in an ONNX node's `doc_string`; and a
//! model-level ONNX `metadata_props` entry `nnlint:ignore` whose value lists codes.

/// The ONNX `metadata_props` key for model-level suppressions.
pub const METADATA_KEY: &str = "nnlint:ignore";

/// Codes in every `nnlint: ignore[...]` marker found in `text` (a comment or a doc string).
pub fn parse_markers(text: &str) -> Vec<String> {
    let mut out = vec![];
    let mut rest = text;
    while let Some(at) = rest.find("nnlint:") {
        rest = &rest[at + "nnlint:".len()..];
        let trimmed = rest.trim_start();
        let Some(after) = trimmed.strip_prefix("ignore[") else {
            continue;
        };
        let Some(end) = after.find(']') else {
            break;
        };
        out.extend(parse_list(&after[..end]));
        rest = &after[end..];
    }
    out
}

/// A comma- or space-separated list of codes.
pub fn parse_list(text: &str) -> Vec<String> {
    text.split([',', ' ', '\t', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether a suppression entry names this rule (by code in any case, by name, or "ALL").
pub fn matches(entry: &str, code: &str, name: &str) -> bool {
    entry.eq_ignore_ascii_case(code) || entry == name || entry.eq_ignore_ascii_case("ALL")
}

/// File-level suppressions, as ruff's `# ruff: noqa`: a line that is only `# nnlint: noqa` silences
/// every rule in the file, `# nnlint: noqa: NNL001, NNL003` those rules. Read from Python source,
/// YAML configs and notebooks' code cells; `ALL` stands for every rule.
pub fn file_level(format: crate::ir::Format, text: &str) -> Vec<String> {
    use crate::ir::Format;
    match format {
        Format::PythonSource | Format::KerasYaml => file_level_lines(text.lines()),
        Format::Notebook => {
            let Ok(doc) = serde_json::from_str::<serde_json::Value>(text) else {
                return vec![];
            };
            let mut sources = vec![];
            for cell in doc["cells"].as_array().into_iter().flatten() {
                if cell["cell_type"] != "code" {
                    continue;
                }
                match &cell["source"] {
                    serde_json::Value::String(s) => sources.push(s.clone()),
                    serde_json::Value::Array(parts) => {
                        sources.push(parts.iter().filter_map(|p| p.as_str()).collect::<String>())
                    }
                    _ => {}
                }
            }
            sources
                .iter()
                .flat_map(|s| file_level_lines(s.lines()))
                .collect()
        }
        _ => vec![],
    }
}

fn file_level_lines<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out = vec![];
    for line in lines {
        let Some(comment) = line.trim().strip_prefix('#') else {
            continue;
        };
        let Some(rest) = comment.trim_start().strip_prefix("nnlint:") else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix("noqa") else {
            continue;
        };
        let rest = rest.trim();
        if rest.is_empty() {
            out.push("ALL".to_string());
        } else if let Some(codes) = rest.strip_prefix(':') {
            out.extend(parse_list(codes));
        }
    }
    out
}

/// Codes of the suppression comments (`# nnlint: ignore[CODES]`, `# noqa: CODES`) on the lines of
/// `spans` in a text format with comments (Python source, notebooks, YAML), so a comment on any
/// line a finding labels (the loss line, a secondary label) suppresses it. A notebook's lines are
/// those of its code cells: a `\n` escape inside the JSON string ends one.
pub fn on_lines(
    format: crate::ir::Format,
    text: &str,
    spans: impl Iterator<Item = crate::ir::Span>,
) -> Vec<String> {
    use crate::ir::Format;
    let json = match format {
        Format::PythonSource | Format::KerasYaml => false,
        Format::Notebook => true,
        _ => return vec![],
    };
    let mut out = vec![];
    let mut seen = vec![];
    for span in spans {
        let start = span.offset.min(text.len());
        let end = (span.offset + span.len).min(text.len());
        let (from, to) = line_bounds(text, start, end, json);
        if seen.contains(&from) {
            continue;
        }
        seen.push(from);
        let Some(lines) = text.get(from..to) else {
            continue;
        };
        for line in lines.split('\n') {
            let line = if json {
                line.split("\\n").collect::<Vec<_>>().join("\n")
            } else {
                line.to_string()
            };
            for line in line.lines() {
                let Some(hash) = line.find('#') else {
                    continue;
                };
                let comment = &line[hash..];
                out.extend(parse_markers(comment));
                out.extend(noqa_codes(comment));
            }
        }
    }
    out
}

/// The start of the line holding `start` and the end of the line holding `end`; in a notebook's
/// JSON a `\n` escape (a backslash that is not itself escaped, then `n`) also ends a line.
fn line_bounds(text: &str, start: usize, end: usize, json: bool) -> (usize, usize) {
    let bytes = text.as_bytes();
    let mut from = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let mut to = text[end..].find('\n').map_or(text.len(), |i| end + i);
    if json {
        // Escapes are read from the start of the JSON line, where no string can be half open
        // (Jupyter writes one source line per JSON line).
        let mut i = from;
        let mut last_break = None;
        let mut next_break = None;
        while i < to {
            if bytes[i] == b'\\' {
                if bytes.get(i + 1) == Some(&b'n') {
                    if i + 2 <= start {
                        last_break = Some(i + 2);
                    } else if i >= end && next_break.is_none() {
                        next_break = Some(i);
                    }
                }
                i += 2;
            } else {
                i += 1;
            }
        }
        from = last_break.unwrap_or(from);
        to = next_break.unwrap_or(to);
    }
    (from, to.max(from))
}

/// `# noqa: NNL001, NNL004` (ruff/flake8 style: codes or rule names after `noqa:`; a bare `# noqa`
/// names no nnlint rule). Every `noqa:` of the comment counts, so `# noqa: E501  # nnlint: noqa:
/// NNL001` names NNL001.
pub fn noqa_codes(comment: &str) -> Vec<String> {
    let lower = comment.to_ascii_lowercase();
    let mut out = vec![];
    for (at, _) in lower.match_indices("noqa:") {
        out.extend(
            comment[at + "noqa:".len()..]
                .split([',', ' ', '\t', '"'])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .take_while(|s| {
                    let code = s.len() == 6
                        && s[..3].eq_ignore_ascii_case("nnl")
                        && s[3..].chars().all(|c| c.is_ascii_digit());
                    let name =
                        s.contains('-') && s.chars().all(|c| c.is_ascii_lowercase() || c == '-');
                    code || name
                })
                .map(str::to_string),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_level_noqa_is_a_line_of_its_own() {
        use crate::ir::Format::{Notebook, Onnx, PythonSource};
        assert_eq!(
            file_level(PythonSource, "import torch\n# nnlint: noqa\n"),
            ["ALL"]
        );
        assert_eq!(
            file_level(PythonSource, "  #nnlint: noqa: NNL001, log-of-softmax\n"),
            ["NNL001", "log-of-softmax"]
        );
        assert!(file_level(PythonSource, "x = 1  # nnlint: noqa\n").is_empty());
        assert!(file_level(PythonSource, "# nnlint: noqa-ish\n").is_empty());
        assert!(file_level(Onnx, "# nnlint: noqa\n").is_empty());
        let nb = r##"{"cells": [{"cell_type": "code", "source": ["import torch\n", "# nnlint: noqa: NNL008\n"]},
                      {"cell_type": "markdown", "source": "# nnlint: noqa"}]}"##;
        assert_eq!(file_level(Notebook, nb), ["NNL008"]);
    }

    #[test]
    fn markers_are_found_anywhere_in_the_text() {
        assert_eq!(parse_markers("# nnlint: ignore[NNL001]"), ["NNL001"]);
        assert_eq!(
            parse_markers("head layer. nnlint: ignore[NNL001, single-unit-softmax] more"),
            ["NNL001", "single-unit-softmax"]
        );
        assert!(parse_markers("nnlint: ignore NNL001").is_empty());
        assert!(parse_markers("nnlint: ignore[NNL001").is_empty());
    }

    #[test]
    fn entries_match_by_code_name_or_all() {
        assert!(matches("nnl001", "NNL001", "single-unit-softmax"));
        assert!(matches(
            "single-unit-softmax",
            "NNL001",
            "single-unit-softmax"
        ));
        assert!(matches("ALL", "NNL001", "single-unit-softmax"));
        assert!(!matches("NNL002", "NNL001", "single-unit-softmax"));
    }

    #[test]
    fn comments_on_any_labelled_line_count() {
        use crate::ir::Format::{Notebook, Onnx, PythonSource};
        use crate::ir::Span;
        let py = "model = build()\ncriterion = nn.NLLLoss()  # nnlint: ignore[NNL011]\nx = 1  # noqa: NNL004, log-of-softmax\ny = 2  # noqa\n";
        let at = |needle: &str| Span {
            offset: py.find(needle).unwrap(),
            len: needle.len(),
        };
        assert!(on_lines(PythonSource, py, [at("build")].into_iter()).is_empty());
        assert_eq!(
            on_lines(PythonSource, py, [at("build"), at("NLLLoss")].into_iter()),
            ["NNL011"]
        );
        assert_eq!(
            on_lines(PythonSource, py, [at("x = 1")].into_iter()),
            ["NNL004", "log-of-softmax"]
        );
        assert!(on_lines(PythonSource, py, [at("y = 2")].into_iter()).is_empty());
        assert_eq!(
            noqa_codes("# noqa: E501  # nnlint: noqa: NNL001, NNL002"),
            ["NNL001", "NNL002"]
        );
        assert_eq!(noqa_codes("# noqa: NNL001, NNL004"), ["NNL001", "NNL004"]);
        assert_eq!(noqa_codes("# NOQA:NNL001 because"), ["NNL001"]);
        assert!(noqa_codes("# noqa: E501").is_empty());
        assert!(noqa_codes("# noqa").is_empty());
        assert!(on_lines(Onnx, py, [at("NLLLoss")].into_iter()).is_empty());
        // A notebook cell written as one string: only the labelled line of the cell counts.
        let nb = r#"{"cells": [{"cell_type": "code", "source": "a = f()  # noqa: NNL001\nb = g()\nc = h()  # noqa: NNL002"}]}"#;
        let b = Span {
            offset: nb.find("b = g()").unwrap(),
            len: 7,
        };
        assert!(on_lines(Notebook, nb, [b].into_iter()).is_empty());
        let c = Span {
            offset: nb.find("c = h()").unwrap(),
            len: 7,
        };
        assert_eq!(on_lines(Notebook, nb, [c].into_iter()), ["NNL002"]);
        let a = Span {
            offset: nb.find("a = f()").unwrap(),
            len: 7,
        };
        assert_eq!(on_lines(Notebook, nb, [a].into_iter()), ["NNL001"]);
    }
}
