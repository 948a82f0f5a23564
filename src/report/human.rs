//! Terminal output: one miette diagnostic per finding, then its evidence and predicted symptom.

use std::fmt;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode,
};

use super::{RenderOptions, display_path};
use crate::engine::FileResult;
use crate::finding::{Check, Finding, Severity};
use crate::ir::{Format, Model};

struct Diag {
    message: String,
    code: Option<String>,
    severity: miette::Severity,
    help: Option<String>,
    source: NamedSource<String>,
    labels: Vec<LabeledSpan>,
    /// The finding's labels in other files, each with its own source.
    related: Vec<Diag>,
}

impl fmt::Debug for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diag {}

impl Diagnostic for Diag {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.code
            .as_ref()
            .map(|c| Box::new(c) as Box<dyn fmt::Display>)
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(self.related.iter().map(|d| d as &dyn Diagnostic)))
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }
}

/// The report (stdout) and the error lines (stderr, as ruff prints them).
pub fn render(results: &[FileResult], opts: &RenderOptions) -> super::Rendered {
    let theme = if opts.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(opts.width.unwrap_or(100))
        .with_context_lines(3)
        .with_links(false)
        // The message leads with `path:line:col` (columns in characters, as in every other format);
        // the snippet header names the same path without miette's byte column.
        .without_primary_span_start();
    let mut out = String::new();
    let mut errors = String::new();
    for r in results {
        let path = display_path(&r.path, &opts.root);
        for e in r.syntax_errors() {
            out.push_str(&format!("{}\n", super::syntax_error_line(&path, e, true)));
        }
        match &r.outcome {
            Err(e) if e.not_checked => out.push_str(&format!("note: {path}: {e}\n")),
            Err(e) if e.not_a_model => {
                if !opts.ignore_non_models {
                    out.push_str(&format!("note: {path}: skipped: {e}\n"));
                }
            }
            Err(e) => errors.push_str(&format!("error: {path}: {e}\n")),
            Ok(linted) => {
                if let Some(first) = linted.model.not_followed.first() {
                    out.push_str(&format!(
                        "note: {path}: {}\n",
                        super::partly_note(first, &linted.model.not_followed)
                    ));
                }
                for (f, suppressed) in super::shown(linted, opts) {
                    render_one(
                        &handler,
                        (&path, &r.path, &opts.root),
                        &linted.model,
                        f,
                        suppressed,
                        opts.width,
                        &mut out,
                    );
                }
            }
        }
    }
    if !opts.quiet {
        out.push_str(&super::summary_line(results, opts));
        out.push('\n');
    }
    super::Rendered {
        report: out,
        errors,
    }
}

fn render_one(
    handler: &GraphicalReportHandler,
    (path, own, root): (&str, &std::path::Path, &std::path::Path),
    model: &Model,
    f: &Finding,
    suppressed: Option<&str>,
    width: Option<usize>,
    out: &mut String,
) {
    let resolved = super::resolve_within(model, f, width);
    // A finding whose primary location is in a module the file imports is shown in that module.
    let path = match &resolved.file {
        Some(file) => display_path(file, root),
        None => path.to_string(),
    };
    let path = path.as_str();
    // Notebooks: say which cell and line, as Jupyter shows them (the snippet is the JSON text).
    let where_ = match f.primary() {
        Some(crate::finding::At::Span(_)) if resolved.file.is_some() => None,
        Some(crate::finding::At::Span(s)) => {
            let text = model.source_text.as_deref().unwrap_or_default();
            (model.source_map.as_ref())
                .and_then(|map| map.position(text, s.offset))
                .map(|(cell, line)| format!(" (cell {cell}, line {line})"))
        }
        _ => None,
    };
    // A clickable `path:line:col` where the file has those lines; the path alone for binary files
    // and for configs kept inside an archive or HDF5 attributes.
    // Notebooks are named by cell and line, as Jupyter numbers them.
    let position = match (resolved.region, model.format) {
        (_, Format::KerasArchive | Format::KerasH5) | (None, _) => String::new(),
        _ if where_.is_some() => String::new(),
        (Some(r), _) => format!(":{}:{}", r.start_line, r.start_column),
    };
    let at = format!("{path}{position}{}", where_.unwrap_or_default());
    // The snippet's header names the file by the same path (not its bare name).
    let base = resolved
        .file
        .as_deref()
        .unwrap_or(&model.path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let source_name = match resolved.source_name.strip_prefix(base.as_str()) {
        Some(rest) if !base.is_empty() => format!("{path}{rest}"),
        _ => resolved.source_name,
    };
    let diag = Diag {
        message: match suppressed {
            None => format!("{at}: {}", f.message),
            Some(why) => format!("{at}: {} (suppressed by {why})", f.message),
        },
        code: Some(format!("{} {}", f.code, f.name)),
        severity: match f.severity {
            _ if suppressed.is_some() => miette::Severity::Advice,
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Info => miette::Severity::Advice,
        },
        help: Some(f.help.clone()),
        source: NamedSource::new(source_name, resolved.source_text),
        labels: resolved
            .labels
            .into_iter()
            .map(|(offset, len, text)| LabeledSpan::new(Some(text), offset, len))
            .collect(),
        related: resolved
            .elsewhere
            .iter()
            .map(|e| {
                let p = display_path(e.path(own), root);
                Diag {
                    message: format!(
                        "{p}:{}:{}: {}",
                        e.region.start_line, e.region.start_column, e.text
                    ),
                    code: None,
                    severity: miette::Severity::Advice,
                    help: None,
                    source: NamedSource::new(p, e.source_text.to_string()),
                    labels: vec![LabeledSpan::new(Some(e.text.clone()), e.offset, e.len)],
                    related: vec![],
                }
            })
            .collect(),
    };
    let mut text = String::new();
    if handler.render_report(&mut text, &diag).is_err() {
        text = format!("{}: {}\n", f.code, f.message);
    }
    out.push_str(&text);
    if let Some(m) = super::model_of(model, f) {
        out.push_str(&wrap(&format!("  model: {m}"), width));
    }
    let (label, text) = match &f.check {
        Check::Confirmed { summary, .. } => ("confirmed", summary),
        Check::Unconfirmed { reason } => ("unconfirmed", reason),
    };
    out.push_str(&wrap(&format!("  {label}: {text}"), width));
    out.push_str(&wrap(&format!("  symptom: {}", f.symptom), width));
    out.push('\n');
}

/// `line` broken at spaces into lines of at most `width` characters, keeping its indentation,
/// continuation lines indented two spaces more; one line when the width is unknown.
fn wrap(line: &str, width: Option<usize>) -> String {
    let Some(width) = width else {
        return format!("{line}\n");
    };
    let body = line.trim_start_matches(' ');
    let indent = &line[..line.len() - body.len()];
    let mut out = String::new();
    let mut current = indent.to_string();
    for word in body.split(' ') {
        let fits = current.chars().count() + 1 + word.chars().count() <= width;
        if !current.trim().is_empty() && !fits {
            out.push_str(current.trim_end());
            out.push('\n');
            current = format!("{indent}  ");
        } else if !current.trim().is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    out.push_str(current.trim_end());
    out.push('\n');
    out
}
