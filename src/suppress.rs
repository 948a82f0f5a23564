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
}
