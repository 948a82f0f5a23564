//! `--format gitlab`: GitLab Code Quality (a JSON array of CodeClimate issues), which GitLab shows in
//! merge requests when a job uploads it as `artifacts: reports: codequality`.
//!
//! Each finding is one issue: `description`, `check_name` (the rule code), `fingerprint`, `severity`
//! and `location` (`path` relative to `--root`, `lines.begin`). The fingerprint hashes the rule, the
//! path, the node and the message, not the line, so an issue survives edits above it and GitLab can
//! tell new issues from fixed ones; two equal findings in one file get distinct fingerprints. A file
//! that could not be read is a `blocker` issue (`nnlint/unreadable`), a file nnlint did not or only
//! partly check an `info` one, a syntax error a `critical` one (`nnlint/syntax-error`), so no
//! status is silent; suppressed findings are left out.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{RenderOptions, display_path, partly_note, resolve};
use crate::engine::FileResult;
use crate::finding::{Check, Finding, Severity};
use crate::ir::Format;

pub fn render(results: &[FileResult], opts: &RenderOptions) -> String {
    let mut issues = vec![];
    let mut seen = std::collections::HashMap::new();
    let mut fingerprint = |parts: &[&str]| {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        let base: String = hasher.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        // GitLab needs every fingerprint of a report to be unique.
        let n: &mut usize = seen.entry(base.clone()).or_default();
        *n += 1;
        if *n == 1 { base } else { format!("{base}-{n}") }
    };
    for r in results {
        let path = display_path(&r.path, &opts.root);
        for e in r.syntax_errors() {
            let check = "nnlint/syntax-error";
            issues.push(issue(
                format!("{path}: syntax error: {}", e.message),
                check,
                fingerprint(&[check, &path, &e.message]),
                "critical",
                &path,
                e.line,
                None,
            ));
        }
        match &r.outcome {
            Err(e) => {
                let (check, severity, text) = if r.not_checked().is_some() {
                    ("nnlint/not-checked", "info", e.message.clone())
                } else if r.skipped().is_some() {
                    if opts.ignore_non_models {
                        continue;
                    }
                    ("nnlint/skipped", "info", format!("skipped: {e}"))
                } else {
                    (
                        "nnlint/unreadable",
                        "blocker",
                        format!("could not be read: {e}"),
                    )
                };
                issues.push(issue(
                    format!("{path}: {text}"),
                    check,
                    fingerprint(&[check, &path]),
                    severity,
                    &path,
                    1,
                    None,
                ));
            }
            Ok(l) => {
                if let Some(first) = l.model.not_followed.first() {
                    let check = "nnlint/partly-checked";
                    issues.push(issue(
                        format!("{path}: {}", partly_note(first, &l.model.not_followed)),
                        check,
                        fingerprint(&[check, &path]),
                        "info",
                        &path,
                        1,
                        None,
                    ));
                }
                for f in &l.findings {
                    issues.push(finding((&path, &opts.root), &l.model, f, &mut fingerprint));
                }
            }
        }
    }
    let mut s = serde_json::to_string_pretty(&Value::Array(issues)).unwrap_or_default();
    s.push('\n');
    s
}

fn finding(
    (path, root): (&str, &std::path::Path),
    model: &crate::ir::Model,
    f: &Finding,
    fingerprint: &mut impl FnMut(&[&str]) -> String,
) -> Value {
    let resolved = resolve(model, f);
    // The primary label is in a module the linted file imports: the issue is in that file.
    let imported = resolved.file.as_ref().map(|p| display_path(p, root));
    let path = imported.as_deref().unwrap_or(path);
    // A legacy .h5's config text is put together from HDF5 attributes: no file has those lines.
    let line = resolved
        .region
        .filter(|_| model.format != Format::KerasH5)
        .map_or(1, |r| r.start_line);
    let evidence = match &f.check {
        Check::Confirmed { summary, .. } => format!("**confirmed**: {summary}"),
        Check::Unconfirmed { reason } => format!("**unconfirmed**: {reason}"),
    };
    let body = format!(
        "{} (at `{}`)\n\n**help**: {}\n\n{evidence}\n\n**symptom**: {}",
        f.message,
        super::node_name(model, &f.node_path),
        f.help,
        f.symptom
    );
    issue(
        format!("{} {}: {}", f.code, f.name, f.message),
        f.code,
        fingerprint(&[f.code, path, &f.node_path, &f.message]),
        severity(f.severity),
        path,
        line,
        Some(body),
    )
}

/// nnlint's severities on GitLab's scale (info, minor, major, critical, blocker).
fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "critical",
        Severity::Warning => "major",
        Severity::Info => "info",
    }
}

fn issue(
    description: String,
    check_name: &str,
    fingerprint: String,
    severity: &str,
    path: &str,
    line: usize,
    body: Option<String>,
) -> Value {
    let mut v = json!({
        "type": "issue",
        "check_name": check_name,
        "description": description,
        "categories": ["Bug Risk"],
        "severity": severity,
        "fingerprint": fingerprint,
        "location": { "path": path, "lines": { "begin": line } },
    });
    if let Some(body) = body {
        v["content"] = json!({ "body": body });
    }
    v
}
