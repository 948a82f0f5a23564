//! Rules say nothing in a framework's words and never branch on a framework: they name a kind of
//! advice and `src/advice.rs` words it for the framework (see its docs). This scan reads the code
//! of every `rules/*.rs` file — its string literals and its identifiers, without comments (the
//! `//!` docs are where examples in each framework's API belong) and without its `#[cfg(test)]`
//! module (a test builds a PyTorch loss to test PyTorch behaviour) — and fails on any token below.

use std::path::Path;

/// Framework names, matched case-insensitively in strings and in code (`is_torch`,
/// `Framework::TfKeras`, `"Keras renormalises"`).
const NAMES: &[&str] = &[
    "keras",
    "torch",
    "tensorflow",
    "tf1",
    "lightning",
    "transformers",
    "hugging",
    "jax",
];

/// API spellings, matched as written in string literals.
const API: &[&str] = &[
    "nn.",
    "F.",
    "tf.",
    "Dense(",
    "from_logits",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "NLLLoss",
    "nll_loss",
    "cross_entropy",
    "crossentropy",
    "Softmax(",
    "Sigmoid(",
    "ReLU(",
    "GELU(",
    "Linear(",
    "activation=",
    "dim=",
    "permute(",
    "forward",
    "logits=",
    "criterion(",
    "IndexError",
    "RuntimeError",
];

/// Ways of telling the framework other than the loss's or the model's `framework`, matched in
/// code: the exporter's name on the model.
const BRANCHES: &[&str] = &["model.producer", "trained_with"];

/// One piece of a source file: a string literal's text (escapes resolved) or a run of code.
#[derive(Debug, PartialEq)]
enum Piece {
    Code(String, usize),
    Str(String, usize),
}

/// The code and string literals of `source` up to its `#[cfg(test)]` module, comments dropped.
fn pieces(source: &str) -> Vec<Piece> {
    let source = source.split("#[cfg(test)]").next().unwrap_or("");
    let chars: Vec<char> = source.chars().collect();
    let mut out = vec![];
    let mut code = String::new();
    let mut line = 1;
    let mut code_line = 1;
    let mut i = 0;
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                line += usize::from(chars[i] == '\n');
                i += 1;
            }
            i += 2;
            continue;
        }
        let raw = c == 'r'
            && (i == 0 || !ident(chars[i - 1]))
            && matches!(next, Some('"') | Some('#'))
            && chars[i + 1..]
                .iter()
                .find(|&&c| c != '#')
                .is_some_and(|&c| c == '"');
        if raw || c == '"' {
            if !code.is_empty() {
                out.push(Piece::Code(std::mem::take(&mut code), code_line));
            }
            let start = line;
            let mut text = String::new();
            if raw {
                let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
                i += 2 + hashes;
                let close: Vec<char> = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                while i < chars.len() && !chars[i..].starts_with(&close) {
                    line += usize::from(chars[i] == '\n');
                    text.push(chars[i]);
                    i += 1;
                }
                i += close.len();
            } else {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                        match chars.get(i) {
                            // A continuation: the newline and the next line's indent go.
                            Some('\n') => {
                                line += 1;
                                i += 1;
                                while chars.get(i).is_some_and(|c| c.is_whitespace()) {
                                    line += usize::from(chars[i] == '\n');
                                    i += 1;
                                }
                                continue;
                            }
                            Some('n') => text.push('\n'),
                            Some(&other) => text.push(other),
                            None => {}
                        }
                        i += 1;
                        continue;
                    }
                    line += usize::from(chars[i] == '\n');
                    text.push(chars[i]);
                    i += 1;
                }
                i += 1;
            }
            out.push(Piece::Str(text, start));
            code_line = line;
            continue;
        }
        if c == '\'' {
            // A char literal ('"', '\'', 'x'), else a lifetime.
            let len = match next {
                Some('\\') => chars[i + 2..]
                    .iter()
                    .position(|&c| c == '\'')
                    .map(|p| p + 3),
                _ if chars.get(i + 2) == Some(&'\'') => Some(3),
                _ => None,
            };
            if let Some(len) = len {
                code.push_str("' '");
                i += len;
                continue;
            }
        }
        if code.is_empty() {
            code_line = line;
        }
        line += usize::from(c == '\n');
        code.push(c);
        i += 1;
    }
    if !code.is_empty() {
        out.push(Piece::Code(code, code_line));
    }
    out
}

/// Every forbidden token in `source`, as "line N: `token` in a string / in code".
fn violations(source: &str) -> Vec<String> {
    let mut out = vec![];
    for piece in pieces(source) {
        let (text, line, in_string) = match &piece {
            Piece::Str(t, l) => (t, *l, true),
            Piece::Code(t, l) => (t, *l, false),
        };
        let lower = text.to_lowercase();
        let mut found: Vec<&str> = NAMES
            .iter()
            .copied()
            .filter(|n| lower.contains(n))
            .collect();
        if in_string {
            found.extend(API.iter().copied().filter(|t| text.contains(t)));
        } else {
            found.extend(BRANCHES.iter().copied().filter(|t| text.contains(t)));
        }
        for token in found {
            // The line of the token's first occurrence (a string's own first line).
            let at = if in_string {
                0
            } else {
                let i = lower.find(&token.to_lowercase()).unwrap_or(0);
                text[..i].matches('\n').count()
            };
            let place = if in_string { "a string" } else { "code" };
            out.push(format!("line {}: `{token}` in {place}", line + at));
        }
    }
    out
}

#[test]
fn no_rule_speaks_a_frameworks_words_or_branches_on_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(root.join("rules"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    assert!(files.len() >= 16, "{files:?}");
    let mut bad = vec![];
    for file in &files {
        let source = std::fs::read_to_string(file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        bad.extend(
            violations(&source)
                .into_iter()
                .map(|v| format!("{name} {v}")),
        );
    }
    assert!(
        bad.is_empty(),
        "framework words in rules (say them through src/advice.rs):\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_scan_finds_a_framework_branch_and_its_words() {
    let rule = r##"
        let help = if loss.is_torch() {
            "return the logit and train with `nn.BCEWithLogitsLoss`"
        } else {
            "set from_logits=True on the loss, or use `Dense(1, \
             activation=\"sigmoid\")`"
        };
        let exported = ctx.model.producer.starts_with("x");
        let fw = Framework::TfKeras;
        let raw = r#"use tf.nn.softmax"#;
    "##;
    let found = violations(rule);
    for expected in [
        "line 2: `torch` in code",
        "line 3: `nn.` in a string",
        "line 3: `BCEWithLogitsLoss` in a string",
        "line 5: `from_logits` in a string",
        "line 5: `Dense(` in a string",
        "line 5: `activation=` in a string",
        "line 8: `model.producer` in code",
        "line 9: `keras` in code",
        "line 10: `tf.` in a string",
    ] {
        assert!(
            found.iter().any(|f| f.contains(expected)),
            "{expected} not in {found:#?}"
        );
    }
}

#[test]
fn docs_comments_char_literals_and_tests_are_not_scanned() {
    let rule = r#"//! In PyTorch, `nn.BCEWithLogitsLoss`; in Keras, `from_logits=True`.
/// Keras: `Dense(1)`.
fn check() {
    // PyTorch reads the classes on dim 1.
    let quote = '"'; let other = '\''; let text = "the loss is constant";
    /* torch */
    let s: &'static str = "a softmax over one unit";
}
#[cfg(test)]
mod tests {
    fn torch_loss() -> &'static str { "CrossEntropyLoss" }
}
"#;
    assert_eq!(violations(rule), Vec::<String>::new());
    let strings: Vec<_> = pieces(rule)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Str(s, _) => Some(s),
            Piece::Code(..) => None,
        })
        .collect();
    assert_eq!(strings, ["the loss is constant", "a softmax over one unit"]);
}
