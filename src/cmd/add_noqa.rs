//! `nnlint --add-noqa`: adopt nnlint on a repository with existing findings, as ruff's `--add-noqa`
//! does. Each active finding in Python source or a notebook gets `# nnlint: noqa: CODE` at the end
//! of its primary line (codes of one line merged into one comment, added to an nnlint noqa comment
//! the line already has, never repeated). A notebook is edited inside its JSON cell source, byte for
//! byte elsewhere. Every edited file is linted again in memory before it is written: it is written
//! only when it still loads, has no new syntax error and the findings it was edited for are now
//! suppressed; otherwise it is left as it was and said so. Findings in formats without comments
//! (ONNX, Keras JSON, `.keras`, `.h5`) cannot be suppressed in the file: they are counted and named
//! (per-file-ignores in the config file is the way there).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::engine::{self, FileResult, Settings};
use crate::finding::{At, Finding};
use crate::ir::{Format, Model};

/// What `--add-noqa` did to one file.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Suppressions were added: how many codes, on how many lines; `left` says why the other
    /// findings of the file (if any) were not.
    Edited {
        codes: usize,
        lines: usize,
        left: Vec<String>,
    },
    /// The file has findings but none could be suppressed in it, with the reason.
    NotEditable { findings: usize, why: String },
}

/// Adds suppressions for the active findings of `results` (each linted with the matching entry of
/// `settings`), writes the files it could edit, and says what it did per file with findings.
pub fn add_noqa(results: &[FileResult], settings: &[Settings]) -> Vec<(PathBuf, Outcome)> {
    let mut done = vec![];
    for (r, s) in results.iter().zip(settings) {
        let Ok(linted) = &r.outcome else { continue };
        if linted.findings.is_empty() {
            continue;
        }
        let outcome = match edit(&r.path, &linted.model, &linted.findings) {
            Err(why) => Outcome::NotEditable {
                findings: linted.findings.len(),
                why,
            },
            Ok(e) => match verify(&r.path, &linted.model, &e, s) {
                Err(why) => Outcome::NotEditable {
                    findings: linted.findings.len(),
                    why,
                },
                Ok(()) => match std::fs::write(&r.path, &e.text) {
                    Ok(()) => Outcome::Edited {
                        codes: e.codes,
                        lines: e.lines,
                        left: e.refused,
                    },
                    Err(e) => Outcome::NotEditable {
                        findings: linted.findings.len(),
                        why: format!("cannot write the file ({e})"),
                    },
                },
            },
        };
        done.push((r.path.clone(), outcome));
    }
    done
}

/// A file's text with the suppressions added.
struct Edit<'a> {
    text: String,
    /// Codes added and lines changed.
    codes: usize,
    lines: usize,
    /// The findings the edit suppresses (code and message).
    targeted: Vec<(&'a str, &'a str)>,
    /// Why the other findings were not suppressed.
    refused: Vec<String>,
}

/// The edited text; or why the file cannot be edited.
fn edit<'a>(path: &Path, model: &Model, findings: &'a [Finding]) -> Result<Edit<'a>, String> {
    let json = match model.format {
        Format::PythonSource => false,
        Format::Notebook => true,
        other => {
            return Err(format!(
                "{} files have no comments; use per-file-ignores in the config file",
                format_name(other)
            ));
        }
    };
    let text = model
        .source_text
        .as_deref()
        .ok_or("the file's text is not available")?;
    // The offsets are into the text nnlint read; only a file that is exactly that text is edited (a
    // latin-1 file decoded on reading is not).
    let on_disk = std::fs::read(path).map_err(|e| format!("cannot read the file again ({e})"))?;
    if on_disk != text.as_bytes() {
        return Err("the file is not UTF-8 text as nnlint read it (left alone)".into());
    }
    // Codes by the byte position where the line's comment goes.
    let mut at: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    let mut refused = vec![];
    let mut targeted = vec![];
    for f in findings {
        let Some(At::Span(span)) = f.primary() else {
            refused.push(format!("{} has no line in the source", f.code));
            continue;
        };
        if let Some(file) = model.locate(span).and_then(|at| at.path) {
            refused.push(format!(
                "{}: its line is in {}, a module this file imports (add the comment there)",
                f.code,
                file.display()
            ));
            continue;
        }
        match comment_position(text, span.offset, json) {
            Ok(pos) => {
                at.entry(pos).or_default().push(f.code);
                targeted.push((f.code, f.message.as_str()));
            }
            Err(why) => refused.push(format!("{}: {why}", f.code)),
        }
    }
    if at.is_empty() {
        return Err(refused.join("; "));
    }
    let mut out = text.to_string();
    let (mut codes_added, lines) = (0, at.len());
    // From the end, so earlier positions stay valid.
    for (pos, mut codes) in at.into_iter().rev() {
        codes.sort_unstable();
        codes.dedup();
        let line_start = line_start(text, pos, json);
        let line = &text[line_start..pos];
        match existing_noqa(line) {
            Some((end, present)) => {
                let new: Vec<&str> = codes
                    .into_iter()
                    .filter(|c| !present.iter().any(|p| p.eq_ignore_ascii_case(c)))
                    .collect();
                if !new.is_empty() {
                    codes_added += new.len();
                    out.insert_str(line_start + end, &format!(", {}", new.join(", ")));
                }
            }
            None => {
                codes_added += codes.len();
                out.insert_str(pos, &format!("  # nnlint: noqa: {}", codes.join(", ")));
            }
        }
    }
    Ok(Edit {
        text: out,
        codes: codes_added,
        lines,
        targeted,
        refused,
    })
}

/// Lints the edited text in memory: it must load, gain no syntax error, and leave none of the
/// findings it was edited for active.
fn verify(path: &Path, before: &Model, edit: &Edit, settings: &Settings) -> Result<(), String> {
    let after = engine::lint_bytes(path, edit.text.as_bytes().to_vec(), settings);
    let linted = after
        .outcome
        .map_err(|e| format!("the edited file would not load ({e}); left alone"))?;
    let errors = |m: &Model| m.metadata.get("python_syntax_errors").cloned();
    if errors(&linted.model) != errors(before) {
        return Err("the edit would change how the file parses; left alone".into());
    }
    if let Some(f) = linted
        .findings
        .iter()
        .find(|f| edit.targeted.contains(&(f.code, f.message.as_str())))
    {
        return Err(format!(
            "{} would still fire after the edit ({}); left alone",
            f.code, f.message
        ));
    }
    Ok(())
}

/// Where a comment for the line holding `offset` goes: the end of the line (before a `\r`), or in a
/// notebook, the end of the line inside the cell's JSON string (before its `\n` escape or its
/// closing quote).
fn comment_position(text: &str, offset: usize, json: bool) -> Result<usize, String> {
    let bytes = text.as_bytes();
    let offset = offset.min(text.len());
    let eol = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let mut end = eol;
    if json {
        // Walk the JSON line from its start, where no string is open, to the end of the string
        // holding `offset`'s source line.
        let mut i = line_start(text, offset, false);
        let mut in_string = false;
        end = usize::MAX;
        while i < eol {
            match bytes[i] {
                b'\\' if in_string => {
                    if bytes.get(i + 1) == Some(&b'n') && i >= offset {
                        end = i;
                        break;
                    }
                    i += 2;
                    continue;
                }
                b'"' => {
                    if in_string && i >= offset {
                        end = i;
                        break;
                    }
                    in_string = !in_string;
                }
                _ => {}
            }
            i += 1;
        }
        if end == usize::MAX {
            return Err("its line in the notebook's JSON could not be found".into());
        }
    } else if end > 0 && bytes[end - 1] == b'\r' {
        end -= 1;
    }
    let line = &text[line_start(text, offset, json)..end];
    // A backslash at the end of a Python line continues it (in a notebook's JSON each is written
    // as two).
    let trailing = line
        .trim_end()
        .chars()
        .rev()
        .take_while(|&c| c == '\\')
        .count();
    if (if json { trailing / 2 } else { trailing }) % 2 == 1 {
        return Err("its line continues with a backslash, where no comment may go".into());
    }
    if line.contains("\"\"\"") || line.contains("'''") {
        return Err("its line opens or closes a triple-quoted string".into());
    }
    Ok(end)
}

/// The start of the source line holding `offset` (in a notebook: after the `\n` escape before it
/// in the same JSON line, if any).
fn line_start(text: &str, offset: usize, json: bool) -> usize {
    let from = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    if !json {
        return from;
    }
    let bytes = text.as_bytes();
    let (mut i, mut start) = (from, from);
    while i < offset {
        if bytes[i] == b'\\' {
            if bytes.get(i + 1) == Some(&b'n') && i + 2 <= offset {
                start = i + 2;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    start
}

/// An `# nnlint: noqa: CODES` comment already on the line: the byte offset (in `line`) just after
/// its last code, and the codes.
fn existing_noqa(line: &str) -> Option<(usize, Vec<String>)> {
    let hash = line.find('#')?;
    let lower = line.to_ascii_lowercase();
    let at = lower[hash..].find("nnlint: noqa:")? + hash + "nnlint: noqa:".len();
    let codes = crate::suppress::noqa_codes(&line[at - "noqa:".len()..]);
    let last = codes.last()?;
    let end = line[at..].find(last.as_str())? + at + last.len();
    Some((end, codes))
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Onnx => "ONNX",
        Format::KerasJson => "Keras JSON",
        Format::KerasYaml => "Keras YAML",
        Format::KerasArchive => "`.keras`",
        Format::KerasH5 => "`.h5`",
        Format::PythonSource => "Python",
        Format::Notebook => "notebook",
        Format::HfConfig => "Hugging Face config",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_comment_goes_at_the_end_of_the_line() {
        let py = "a = f(x)\nb = g(y)\r\nc = h(z) \\\n    + 1\n";
        assert_eq!(comment_position(py, 4, false), Ok(8));
        assert_eq!(comment_position(py, py.find("g(").unwrap(), false), Ok(17));
        assert!(comment_position(py, py.find("h(").unwrap(), false).is_err());
        let nb = r#"    "x = f(\"a\\b\")\n",
    "y = g()"
"#;
        let x = nb.find("f(").unwrap();
        assert_eq!(&nb[comment_position(nb, x, true).unwrap()..][..2], "\\n");
        let y = nb.find("g()").unwrap();
        assert_eq!(&nb[comment_position(nb, y, true).unwrap()..][..1], "\"");
        let one = r#""source": "a = 1\nb = f(x)\nc = 2""#;
        let b = one.find("f(x)").unwrap();
        let pos = comment_position(one, b, true).unwrap();
        assert_eq!(&one[pos..pos + 2], "\\n");
        assert_eq!(line_start(one, b, true), one.find("b = ").unwrap());
    }

    #[test]
    fn an_existing_noqa_comment_is_extended() {
        let line = "x = f()  # nnlint: noqa: NNL004 (reviewed)";
        let (end, codes) = existing_noqa(line).unwrap();
        assert_eq!(codes, ["NNL004"]);
        assert_eq!(&line[..end], "x = f()  # nnlint: noqa: NNL004");
        assert!(existing_noqa("x = f()  # noqa: NNL004").is_none());
        assert!(existing_noqa("x = f()").is_none());
    }
}
