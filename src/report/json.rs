//! `--format json`: the schema is documented in docs/json-schema.md; bump `SCHEMA_VERSION` on any
//! change that could break a reader.

use serde_json::{Value, json};

use super::{RenderOptions, display_path, region_of, resolve};
use crate::engine::FileResult;
use crate::finding::{Check, Finding};
use crate::fix::{Fix, json_escape};
use crate::ir::Model;

pub const SCHEMA_VERSION: u32 = 1;

pub fn render(results: &[FileResult], opts: &RenderOptions) -> String {
    let files: Vec<Value> = results
        .iter()
        .map(|r| {
            let path = display_path(&r.path, &opts.root);
            let mut file = match &r.outcome {
                Err(e) if e.not_checked => {
                    json!({ "path": path, "status": "not-checked", "note": e.message, "findings": [] })
                }
                Err(e) if e.not_a_model => {
                    json!({ "path": path, "status": "skipped", "note": e.message, "findings": [] })
                }
                Err(e) => {
                    json!({ "path": path, "status": "error", "error": e.message, "findings": [] })
                }
                Ok(l) => json!({
                    "path": path,
                    "status": if l.model.not_followed.is_empty() { "ok" } else { "partly-checked" },
                    "not_followed": l.model.not_followed.iter().map(|n| json!({"reason": n.reason, "at": n.at})).collect::<Vec<_>>(),
                    "format": l.model.format,
                    "weights": l.model.weights,
                    "findings": l.findings.iter().map(|f| finding(&r.path, &l.model, f, opts)).collect::<Vec<_>>(),
                    "suppressed": l.suppressed.iter().map(|(f, why)| {
                        let mut v = finding(&r.path, &l.model, f, opts);
                        v["suppressed_by"] = json!(why);
                        v
                    }).collect::<Vec<_>>(),
                }),
            };
            // Only files with syntax errors carry the key, so other files read as before.
            if !r.syntax_errors().is_empty() {
                file["syntax_errors"] = r
                    .syntax_errors()
                    .iter()
                    .map(|e| {
                        let mut v = json!({ "line": e.line, "column": e.column, "message": e.message });
                        if let Some((cell, line)) = e.cell {
                            v["cell"] = json!({ "cell": cell, "line": line });
                        }
                        v
                    })
                    .collect();
            }
            file
        })
        .collect();
    let count = results.iter().map(|r| r.findings().len()).sum::<usize>();
    let errors = results.iter().filter(|r| r.unreadable().is_some()).count();
    let not_checked = results.iter().filter(|r| r.not_checked().is_some()).count();
    let partly_checked = results
        .iter()
        .filter(|r| r.partly_checked().is_some())
        .count();
    let skipped = results.iter().filter(|r| r.skipped().is_some()).count();
    let doc = json!({
        "schema_version": SCHEMA_VERSION,
        "tool": { "name": "nnlint", "version": env!("CARGO_PKG_VERSION") },
        "files": files,
        "summary": { "files": results.len(), "findings": count, "unreadable": errors, "not_checked": not_checked, "partly_checked": partly_checked, "skipped": skipped },
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// A fix as ruff's JSON gives one: applicability, message, and each edit's replacement as it would
/// be written (JSON-escaped inside a notebook) with its start and end, 1-based, in the file it is in.
fn fix_json(model: &Model, fix: &Fix, opts: &RenderOptions) -> Value {
    let notebook = model.format == crate::ir::Format::Notebook;
    let mut sorted: Vec<_> = fix.edits.iter().collect();
    sorted.sort();
    let edits: Vec<Value> = sorted
        .into_iter()
        .filter_map(|e| {
            let at = model.locate(e.span)?;
            let r = region_of(at.text, at.span.offset, at.span.len);
            let content = if notebook && at.path.is_none() {
                json_escape(&e.replacement)
            } else {
                e.replacement.clone()
            };
            let mut edit = json!({
                "content": content,
                "location": { "line": r.start_line, "column": r.start_column },
                "end_location": { "line": r.end_line, "column": r.end_column },
            });
            if let Some(file) = at.path {
                edit["file"] = json!(display_path(file, &opts.root));
            }
            Some(edit)
        })
        .collect();
    json!({ "applicability": fix.safety.as_str(), "message": fix.message, "edits": edits })
}

fn finding(path: &std::path::Path, model: &Model, f: &Finding, opts: &RenderOptions) -> Value {
    let resolved = resolve(model, f);
    let region = resolved.region.map(|r| {
        json!({ "line": r.start_line, "column": r.start_column, "end_line": r.end_line, "end_column": r.end_column })
    });
    let evidence = match &f.check {
        Check::Confirmed { summary, numbers } => json!({
            "status": "confirmed",
            "summary": summary,
            "numbers": numbers.iter().map(|(k, v)| json!({ "name": k, "value": v })).collect::<Vec<_>>(),
        }),
        Check::Unconfirmed { reason } => json!({ "status": "unconfirmed", "reason": reason }),
    };
    let mut v = json!({
        "code": f.code,
        "name": f.name,
        "severity": f.severity,
        "message": f.message,
        "node": f.node_path,
        "region": region,
        "help": f.help,
        "symptom": f.symptom,
        "evidence": evidence,
    });
    // In a file that builds several models: which one it is about (absent otherwise).
    if let Some(i) = f.model
        && let Some(m) = model.submodels.get(i)
    {
        v["model"] = json!({
            "name": m.name,
            "kind": m.kind,
            "line": model.locate(m.span).map(|l| super::region_of(l.text, l.span.offset, 0).start_line),
        });
    }
    // Only a finding with a fix carries the key, so other findings read as before.
    if let Some(fix) = &f.fix {
        v["fix"] = fix_json(model, fix, opts);
    }
    // A finding that spans files (a head in an imported module, the loss in this file): where its
    // primary location is, and every label in another file.
    if let Some(file) = &resolved.file {
        v["file"] = json!(display_path(file, &opts.root));
    }
    if !resolved.elsewhere.is_empty() {
        v["related"] = resolved
            .elsewhere
            .iter()
            .map(|e| {
                let r = e.region;
                json!({
                    "file": display_path(e.path(path), &opts.root),
                    "region": { "line": r.start_line, "column": r.start_column, "end_line": r.end_line, "end_column": r.end_column },
                    "message": e.text,
                })
            })
            .collect();
    }
    v
}
