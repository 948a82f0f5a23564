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

#[cfg(test)]
mod tests {
    use super::*;

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
