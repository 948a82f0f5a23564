//! `--format sarif`: SARIF 2.1.0 as GitHub code scanning reads it. Binary models get a line-1 region,
//! the node path as a logical location and the node named in the message (GitHub ignores logical
//! locations); config files get their real line and column.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{RenderOptions, display_path, resolve};
use crate::engine::FileResult;
use crate::finding::{Check, Finding, Severity};
use crate::registry;

const FULL_DESCRIPTION_LIMIT: usize = 1024;

pub fn render(results: &[FileResult], opts: &RenderOptions) -> String {
    let rules: Vec<Value> = registry::all()
        .iter()
        .map(|r| rule_descriptor(r, opts.docs_url.as_deref()))
        .collect();
    let mut sarif_results = vec![];
    let mut notifications = vec![];
    for r in results {
        let uri = display_path(&r.path, &opts.root);
        for e in r.syntax_errors() {
            notifications.push(json!({
                "level": "error",
                "message": { "text": format!("{uri}: syntax error: {}", e.message) },
                "locations": [{ "physicalLocation": {
                    "artifactLocation": { "uri": uri },
                    "region": { "startLine": e.line, "startColumn": e.column },
                } }],
            }));
        }
        match &r.outcome {
            Err(e) if e.not_a_model && opts.ignore_non_models => {}
            Err(e) => notifications.push(json!({
                "level": if e.not_checked || e.not_a_model { "note" } else { "error" },
                "message": { "text": if e.not_a_model && !e.not_checked {
                    format!("{uri}: skipped: {e}")
                } else {
                    format!("{uri}: {e}")
                } },
                "locations": [{ "physicalLocation": { "artifactLocation": { "uri": uri } } }],
            })),
            Ok(l) => {
                for f in &l.findings {
                    sarif_results.push(result(&uri, (&r.path, &opts.root), &l.model, f));
                }
                for (f, why) in &l.suppressed {
                    let mut r = result(&uri, (&r.path, &opts.root), &l.model, f);
                    r["suppressions"] = json!([{ "kind": "inSource", "justification": format!("suppressed by {why}") }]);
                    sarif_results.push(r);
                }
            }
        }
    }
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "nnlint",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "invocations": [{
                "executionSuccessful": results.iter().all(|r| r.unreadable().is_none()),
                "toolExecutionNotifications": notifications,
            }],
            "results": sarif_results,
        }],
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn rule_descriptor(rule: &registry::Rule, docs_url: Option<&str>) -> Value {
    let page = registry::doc_page(rule);
    let mut descriptor = json!({
        "id": rule.code,
        "name": rule.name,
        "shortDescription": { "text": rule.summary },
        "fullDescription": { "text": truncate(&section(rule.docs, "## What it finds"), FULL_DESCRIPTION_LIMIT) },
        "help": { "text": page.clone(), "markdown": page },
        "defaultConfiguration": { "level": level(rule.severity) },
        "properties": { "tags": ["correctness", "machine-learning"], "precision": "very-high" },
    });
    if let Some(base) = docs_url {
        descriptor["helpUri"] = json!(format!("{}/{}.md", base.trim_end_matches('/'), rule.code));
    }
    descriptor
}

/// The text under one `## ` heading of a rule's docs.
fn section(docs: &str, heading: &str) -> String {
    let Some(start) = docs.find(heading) else {
        return String::new();
    };
    let body = &docs[start + heading.len()..];
    let end = body.find("\n## ").unwrap_or(body.len());
    body[..end].trim().replace('\n', " ")
}

fn truncate(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut end = limit - 3;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

fn result(
    uri: &str,
    (own, root): (&std::path::Path, &std::path::Path),
    model: &crate::ir::Model,
    f: &Finding,
) -> Value {
    let resolved = resolve(model, f);
    // The primary location is in a module the linted file imports: that file is the artifact.
    let imported_uri = resolved.file.as_ref().map(|p| display_path(p, root));
    let uri = imported_uri.as_deref().unwrap_or(uri);
    // A legacy .h5's config text is put together from HDF5 attributes: no file has those lines.
    let text_region = resolved
        .region
        .filter(|_| model.format != crate::ir::Format::KerasH5);
    let region = match text_region {
        Some(r) => json!({
            "startLine": r.start_line, "startColumn": r.start_column,
            "endLine": r.end_line, "endColumn": r.end_column,
        }),
        None => json!({ "startLine": 1 }),
    };
    let evidence = match &f.check {
        Check::Confirmed { summary, .. } => format!("confirmed: {summary}"),
        Check::Unconfirmed { reason } => format!("unconfirmed: {reason}"),
    };
    let index = registry::all()
        .iter()
        .position(|r| r.code == f.code)
        .unwrap_or(0);
    // The region of a .keras finding is in the archive's config.json; say so, since the URI is the zip.
    let inside = match model.format {
        crate::ir::Format::KerasArchive => ", in config.json inside the .keras archive",
        crate::ir::Format::KerasH5 => {
            ", in the model_config/training_config attributes of the .h5 file"
        }
        _ => "",
    };
    // Named as in the source; the fingerprint keeps hashing the node path it always hashed, so
    // alerts keep their identity.
    let node = super::node_name(model, &f.node_path);
    // In a file that builds several models, which one (the fingerprint does not change).
    let in_model = super::model_of(model, f).map_or(String::new(), |m| format!(", model {m}"));
    let mut hasher = Sha256::new();
    for part in [f.code, uri, &f.node_path, &f.message] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let hash: String = hasher.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut out = json!({
        "ruleId": f.code,
        "ruleIndex": index,
        "level": level(f.severity),
        "message": { "text": format!("{} (at {}{}{}). {}. Symptom: {}", f.message, node, in_model, inside, evidence, f.symptom) },
        "locations": [{
            "physicalLocation": { "artifactLocation": { "uri": uri }, "region": region },
            "logicalLocations": [{ "fullyQualifiedName": node, "kind": "member" }],
        }],
        "partialFingerprints": { "primaryLocationLineHash": format!("{hash}:1") },
    });
    // Labels in other files (the loss in the training script of a head defined in a module).
    if !resolved.elsewhere.is_empty() {
        out["relatedLocations"] = resolved
            .elsewhere
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let r = e.region;
                json!({
                    "id": i + 1,
                    "physicalLocation": {
                        "artifactLocation": { "uri": display_path(e.path(own), root) },
                        "region": { "startLine": r.start_line, "startColumn": r.start_column, "endLine": r.end_line, "endColumn": r.end_column },
                    },
                    "message": { "text": e.text },
                })
            })
            .collect();
    }
    out
}
