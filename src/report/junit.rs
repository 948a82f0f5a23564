//! `--format junit`: JUnit XML, for CI systems that show test reports (GitLab, Jenkins, Azure).
//!
//! One `<testsuite name="nnlint">`, one `<testcase>` per file (its path as `name` and `file`), one
//! `<failure>` per finding (the rule as `type`, `path:line:col: message` as `message`, the help, the
//! evidence and the symptom as text). A file that could not be read has an `<error>`, a file that was
//! not checked or was skipped (not a model) is `<skipped>` with the reason, a partly checked file says
//! so in `<system-out>`; each syntax error is a `<failure type="syntax-error">`. No timestamps or durations: the same run gives the same bytes.

use super::{RenderOptions, display_path, partly_note, resolve};
use crate::engine::FileResult;
use crate::finding::Check;
use crate::ir::Format;

pub fn render(results: &[FileResult], opts: &RenderOptions) -> String {
    let mut cases = String::new();
    let (mut tests, mut failures, mut errors, mut skipped) = (0, 0, 0, 0);
    for r in results {
        let path = display_path(&r.path, &opts.root);
        if r.skipped().is_some() && opts.ignore_non_models {
            continue;
        }
        tests += 1;
        cases.push_str(&format!(
            "    <testcase classname=\"nnlint\" name=\"{}\" file=\"{}\"",
            attr(&path),
            attr(&path)
        ));
        // Syntax errors fail the file's test case, whatever else it says.
        let syntax: String = r
            .syntax_errors()
            .iter()
            .map(|e| {
                let line = super::syntax_error_line(&path, e, false);
                format!(
                    "      <failure type=\"syntax-error\" message=\"{}\">{}</failure>\n",
                    attr(&line),
                    text(&line)
                )
            })
            .collect();
        if !syntax.is_empty() {
            failures += 1;
        }
        match &r.outcome {
            Err(e) if !syntax.is_empty() => {
                // Not checked because of what did not parse: the failures, and the note.
                cases.push_str(&format!(
                    ">\n{syntax}      <system-out>{}</system-out>\n    </testcase>\n",
                    text(&e.message)
                ));
            }
            Err(e) if r.unreadable().is_some() => {
                errors += 1;
                cases.push_str(&format!(
                    ">\n      <error type=\"unreadable\" message=\"{}\"/>\n    </testcase>\n",
                    attr(&format!("{path}: could not be read: {e}"))
                ));
            }
            Err(e) => {
                skipped += 1;
                let why = if r.skipped().is_some() {
                    format!("skipped: {e}")
                } else {
                    e.message.clone()
                };
                cases.push_str(&format!(
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                    attr(&why)
                ));
            }
            Ok(l) => {
                let partly = l
                    .model
                    .not_followed
                    .first()
                    .map(|first| partly_note(first, &l.model.not_followed));
                if l.findings.is_empty() && partly.is_none() && syntax.is_empty() {
                    cases.push_str("/>\n");
                    continue;
                }
                cases.push_str(">\n");
                cases.push_str(&syntax);
                if !l.findings.is_empty() && syntax.is_empty() {
                    failures += 1;
                }
                for f in &l.findings {
                    let resolved = resolve(&l.model, f);
                    // The primary label is in a module the linted file imports: name that file.
                    let imported = resolved.file.as_ref().map(|p| display_path(p, &opts.root));
                    let path = imported.as_deref().unwrap_or(&path);
                    let (line, col) = resolved
                        .region
                        .filter(|_| l.model.format != Format::KerasH5)
                        .map_or((1, 1), |r| (r.start_line, r.start_column));
                    let evidence = match &f.check {
                        Check::Confirmed { summary, .. } => format!("confirmed: {summary}"),
                        Check::Unconfirmed { reason } => format!("unconfirmed: {reason}"),
                    };
                    let body = format!(
                        "{path}:{line}:{col}: {} {} [{}] {}\nat: {}\nhelp: {}\n{evidence}\nsymptom: {}",
                        f.code,
                        f.name,
                        f.severity.as_str(),
                        f.message,
                        super::node_name(&l.model, &f.node_path),
                        f.help,
                        f.symptom
                    );
                    cases.push_str(&format!(
                        "      <failure type=\"{}\" message=\"{}\">{}</failure>\n",
                        attr(f.code),
                        attr(&format!("{path}:{line}:{col}: {} {}", f.code, f.message)),
                        text(&body)
                    ));
                }
                if let Some(note) = partly {
                    cases.push_str(&format!("      <system-out>{}</system-out>\n", text(&note)));
                }
                cases.push_str("    </testcase>\n");
            }
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <testsuites name=\"nnlint\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\">\n  \
         <testsuite name=\"nnlint\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\">\n\
         {cases}  </testsuite>\n</testsuites>\n"
    )
}

/// Text content: `&`, `<`, `>` escaped; characters XML 1.0 cannot hold dropped.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if allowed(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// An attribute value in double quotes: also `"`, and line breaks kept as character references
/// (a parser would turn a raw one into a space).
fn attr(s: &str) -> String {
    text(s)
        .replace('"', "&quot;")
        .replace('\n', "&#10;")
        .replace('\r', "&#13;")
        .replace('\t', "&#9;")
}

/// Characters XML 1.0 allows (the Char production).
fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_control_characters_are_escaped() {
        assert_eq!(text("a < b && c > d"), "a &lt; b &amp;&amp; c &gt; d");
        assert_eq!(
            attr("say \"hi\"\nthen\tgo"),
            "say &quot;hi&quot;&#10;then&#9;go"
        );
        assert_eq!(text("bell\u{7}\u{0}"), "bell\u{FFFD}\u{FFFD}");
        assert_eq!(text("ünïcödé ✓"), "ünïcödé ✓");
    }
}
