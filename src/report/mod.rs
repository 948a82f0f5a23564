//! Output formats. The only place that knows miette, JSON, SARIF, GitLab Code Quality or JUnit.

mod gitlab;
mod human;
pub mod inspect;
mod json;
mod junit;
pub mod listing;
mod sarif;
pub mod show_settings;

use std::path::{Path, PathBuf};

use crate::engine::{FileResult, Linted};
use crate::finding::{At, Finding};
use crate::ir::Model;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Diagnostics with the offending config line or graph node labelled (miette); `full` is ruff's
    /// name for it.
    #[value(alias = "full")]
    Human,
    /// One line per finding: `path:line:col: CODE message`.
    Concise,
    /// Versioned JSON (docs/json-schema.md).
    Json,
    /// SARIF 2.1.0 for GitHub code scanning.
    Sarif,
    /// GitHub Actions workflow commands (annotations on the pull request).
    Github,
    /// GitLab Code Quality (CodeClimate JSON) for merge-request widgets.
    Gitlab,
    /// JUnit XML: one test case per file, one failure per finding.
    Junit,
}

pub struct RenderOptions {
    pub color: bool,
    /// Paths in JSON and SARIF are written relative to this folder.
    pub root: PathBuf,
    /// Also show findings silenced by suppressions in the model files.
    pub show_suppressed: bool,
    /// Base URL of the rule pages, for SARIF `helpUri`.
    pub docs_url: Option<String>,
    /// Human output without the closing summary line.
    pub quiet: bool,
    /// Columns of the terminal (`COLUMNS`, or the terminal's size) for human output; `None` when
    /// unknown (then 100).
    pub width: Option<usize>,
    /// `--ignore-non-models`: named files that are not models get no note of their own; the human
    /// summary still names them.
    pub ignore_non_models: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            color: false,
            root: PathBuf::from("."),
            show_suppressed: false,
            docs_url: None,
            quiet: false,
            width: None,
            ignore_non_models: false,
        }
    }
}

/// A rendered report and the error lines that go to standard error (human format only; the other
/// formats carry errors in the report).
pub struct Rendered {
    pub report: String,
    pub errors: String,
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// At most `FIRST` names, then how many more.
fn some_names(names: &[String]) -> String {
    const FIRST: usize = 5;
    let mut out = names
        .iter()
        .take(FIRST)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > FIRST {
        out.push_str(&format!(" and {} more", names.len() - FIRST));
    }
    out
}

/// "partly checked: 2 places nnlint could not follow; the first at line 41: `model(x)` (why)".
pub(crate) fn partly_note(
    first: &crate::ir::NotFollowed,
    all: &[crate::ir::NotFollowed],
) -> String {
    format!(
        "partly checked: {} nnlint could not follow; the first at {} ({})",
        plural(all.len(), "place"),
        first.at,
        first.reason
    )
}

/// Why files were not fully checked, counted over the run, most frequent first: each not-checked
/// file counts once under its reason, each partly checked file once under each of its reasons.
fn unchecked_reasons(results: &[FileResult]) -> Vec<(String, usize)> {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for r in results {
        if let Some(e) = r.not_checked() {
            let why = e.reason.clone().unwrap_or_else(|| {
                // The message of a not-checked file starts with "not checked: " itself.
                e.message
                    .strip_prefix("not checked: ")
                    .unwrap_or(&e.message)
                    .to_string()
            });
            *counts.entry(format!("not checked: {why}")).or_default() += 1;
        }
        if let Some(places) = r.partly_checked() {
            let mut reasons: Vec<&str> = places.iter().map(|p| p.reason.as_str()).collect();
            reasons.sort_unstable();
            reasons.dedup();
            for why in reasons {
                *counts.entry(format!("partly checked: {why}")).or_default() += 1;
            }
        }
    }
    let mut rows: Vec<(String, usize)> = counts.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    rows
}

/// One syntax error as text formats print it: `path:13:12: syntax error: message` (human output
/// names a notebook's cell and line instead, as Jupyter numbers them).
pub(crate) fn syntax_error_line(path: &str, e: &crate::ir::SyntaxErrorAt, human: bool) -> String {
    match e.cell {
        Some(_) if human => format!("{path} ({}): syntax error: {}", e.place(), e.message),
        _ => format!(
            "{path}:{}:{}: syntax error: {}",
            e.line, e.column, e.message
        ),
    }
}

/// The human summary: findings in the files linted, then each other status with its count (the
/// skipped files also by name).
pub(crate) fn summary_line(results: &[FileResult], opts: &RenderOptions) -> String {
    let findings: usize = results.iter().map(|r| r.findings().len()).sum();
    let linted = results.iter().filter(|r| r.outcome.is_ok()).count();
    let mut parts = vec![format!(
        "{} in {}",
        plural(findings, "finding"),
        plural(linted, "file")
    )];
    // As ruff's "[*] N fixable with the `--fix` option".
    let fixes = |safety| {
        results
            .iter()
            .flat_map(|r| r.findings())
            .filter(|f| f.fix.as_ref().is_some_and(|x| x.safety == safety))
            .count()
    };
    let (safe, unsafe_) = (
        fixes(crate::fix::Safety::Safe),
        fixes(crate::fix::Safety::Unsafe),
    );
    match (safe, unsafe_) {
        (0, 0) => {}
        (0, n) => parts.push(format!("{n} fixable with `nnlint --fix --unsafe-fixes`")),
        (n, 0) => parts.push(format!("{n} fixable with `nnlint --fix`")),
        (n, m) => parts.push(format!(
            "{n} fixable with `nnlint --fix` ({m} more with `--unsafe-fixes`)"
        )),
    }
    let unreadable = results.iter().filter(|r| r.unreadable().is_some()).count();
    if unreadable > 0 {
        parts.push(format!("{} could not be read", plural(unreadable, "file")));
    }
    let syntax = results
        .iter()
        .filter(|r| !r.syntax_errors().is_empty())
        .count();
    if syntax > 0 {
        parts.push(format!("{} with syntax errors", plural(syntax, "file")));
    }
    let partly = results
        .iter()
        .filter(|r| r.partly_checked().is_some())
        .count();
    if partly > 0 {
        parts.push(format!("{} partly checked", plural(partly, "file")));
    }
    let not_checked = results.iter().filter(|r| r.not_checked().is_some()).count();
    if not_checked > 0 {
        parts.push(format!("{} not checked", plural(not_checked, "file")));
    }
    let skipped: Vec<String> = results
        .iter()
        .filter(|r| r.skipped().is_some())
        .map(|r| display_path(&r.path, &opts.root))
        .collect();
    if !skipped.is_empty() {
        parts.push(format!(
            "{} skipped, not {}: {}",
            plural(skipped.len(), "file"),
            if skipped.len() == 1 {
                "a model"
            } else {
                "models"
            },
            some_names(&skipped)
        ));
    }
    parts.join("; ")
}

/// Findings counted per rule (`--statistics`): most frequent first, then by code. Text formats get a
/// table, then the files that could not be read and those not checked, by name (the first few); `json`
/// an object with the rows as `{code, name, count}` and those files' paths.
pub fn statistics(format: OutputFormat, results: &[FileResult], root: &Path) -> String {
    let mut counts: std::collections::BTreeMap<(&str, &str), usize> = Default::default();
    for f in results.iter().flat_map(|r| r.findings()) {
        *counts.entry((f.code, f.name)).or_default() += 1;
    }
    let mut rows: Vec<_> = counts.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let paths = |pick: &dyn Fn(&FileResult) -> bool| -> Vec<String> {
        results
            .iter()
            .filter(|r| pick(r))
            .map(|r| display_path(&r.path, root))
            .collect()
    };
    let unreadable = paths(&|r| r.unreadable().is_some());
    let syntax = paths(&|r| !r.syntax_errors().is_empty());
    let not_checked = paths(&|r| r.not_checked().is_some());
    let partly = paths(&|r| r.partly_checked().is_some());
    let reasons = unchecked_reasons(results);
    if format == OutputFormat::Json {
        let rows: Vec<serde_json::Value> = rows
            .iter()
            .map(|((code, name), n)| serde_json::json!({"code": code, "name": name, "count": n}))
            .collect();
        let doc = serde_json::json!({
            "statistics": rows,
            "unreadable_files": unreadable.len(),
            "unreadable": unreadable,
            "syntax_error_files": syntax.len(),
            "syntax_errors": syntax,
            "not_checked_files": not_checked.len(),
            "not_checked": not_checked,
            "partly_checked_files": partly.len(),
            "partly_checked": partly,
            "unchecked_reasons": reasons
                .iter()
                .map(|(why, n)| serde_json::json!({"reason": why, "files": n}))
                .collect::<Vec<_>>(),
        });
        return format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        );
    }
    let mut out = String::new();
    for ((code, name), n) in &rows {
        out.push_str(&format!("{n:>5}  {code}  {name}\n"));
    }
    for (paths, what) in [
        (&unreadable, "could not be read"),
        (&syntax, "with syntax errors"),
        (&not_checked, "not checked"),
        (&partly, "partly checked"),
    ] {
        if !paths.is_empty() {
            out.push_str(&format!(
                "{:>5}  {} {what}: {}\n",
                paths.len(),
                if paths.len() == 1 { "file" } else { "files" },
                some_names(paths)
            ));
        }
    }
    if !reasons.is_empty() {
        out.push_str("why files were not fully checked (files):\n");
        for (why, n) in reasons.iter().take(10) {
            out.push_str(&format!("{n:>5}  {why}\n"));
        }
    }
    out
}

pub fn render(format: OutputFormat, results: &[FileResult], opts: &RenderOptions) -> Rendered {
    let report = match format {
        OutputFormat::Human => return human::render(results, opts),
        OutputFormat::Concise => concise(results, opts),
        OutputFormat::Json => json::render(results, opts),
        OutputFormat::Sarif => sarif::render(results, opts),
        OutputFormat::Github => github(results, opts),
        OutputFormat::Gitlab => gitlab::render(results, opts),
        OutputFormat::Junit => junit::render(results, opts),
    };
    Rendered {
        report,
        errors: String::new(),
    }
}

/// The findings a text format shows for one file: the active ones, then (with `--show-suppressed`)
/// the suppressed ones with what silenced them.
pub(crate) fn shown<'a>(
    linted: &'a Linted,
    opts: &RenderOptions,
) -> Vec<(&'a Finding, Option<&'a str>)> {
    let mut out: Vec<(&Finding, Option<&str>)> =
        linted.findings.iter().map(|f| (f, None)).collect();
    if opts.show_suppressed {
        out.extend(
            linted
                .suppressed
                .iter()
                .map(|(f, why)| (f, Some(why.as_str()))),
        );
    }
    out
}

/// What a finding points at, resolved against the text it is shown with.
pub(crate) struct Resolved {
    pub source_name: String,
    pub source_text: String,
    /// (byte offset, length, label text)
    pub labels: Vec<(usize, usize, String)>,
    /// 1-based line and column of the primary label in the real file; `None` for binary files.
    pub region: Option<Region>,
    /// The file the primary label is in when it is not the linted file: a module the linted
    /// Python file imports (the head layer in `models.py`).
    pub file: Option<PathBuf>,
    /// Labels in another file than the primary label's.
    pub elsewhere: Vec<Elsewhere>,
}

/// A label of a finding in another file than its primary location.
pub(crate) struct Elsewhere {
    /// The imported file, or `None` for the linted file itself.
    pub file: Option<PathBuf>,
    pub region: Region,
    pub text: String,
    /// The file's text and the label's span in it.
    pub source_text: std::sync::Arc<str>,
    pub offset: usize,
    pub len: usize,
}

impl Elsewhere {
    /// The label's file for display: the imported one, or the linted file `own`.
    pub fn path<'a>(&'a self, own: &'a Path) -> &'a Path {
        self.file.as_deref().unwrap_or(own)
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Region {
    pub start_line: usize,
    pub start_column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

pub(crate) fn resolve(model: &Model, finding: &Finding) -> Resolved {
    resolve_within(model, finding, None)
}

/// [`resolve`] for a display of `width` columns: graph listings are abbreviated to fit.
pub(crate) fn resolve_within(model: &Model, finding: &Finding, width: Option<usize>) -> Resolved {
    match &model.source_text {
        Some(own) => {
            // Labels are in the primary label's file (the linted file, or a module it imports);
            // the ones in other files are shown apart.
            let located: Vec<_> = finding
                .labels
                .iter()
                .filter_map(|l| match l.at {
                    At::Span(s) => model.locate(s).map(|at| (at, l.text.clone())),
                    At::Op(_) => None,
                })
                .collect();
            let file = located.first().and_then(|(at, _)| at.path);
            let text: &str = located.first().map_or(own, |(at, _)| at.text);
            let mut labels = vec![];
            let mut elsewhere = vec![];
            for (at, label) in &located {
                if at.path == file {
                    labels.push((at.span.offset, at.span.len, label.clone()));
                } else {
                    let source_text = match at.path {
                        Some(p) => model
                            .imported_sources
                            .iter()
                            .find(|s| s.path == p)
                            .map(|s| s.text.clone()),
                        None => model.source_text.clone(),
                    }
                    .unwrap_or_else(|| std::sync::Arc::from(""));
                    elsewhere.push(Elsewhere {
                        file: at.path.map(Path::to_path_buf),
                        region: region_of(at.text, at.span.offset, at.span.len),
                        text: label.clone(),
                        source_text,
                        offset: at.span.offset,
                        len: at.span.len,
                    });
                }
            }
            let region = labels
                .first()
                .map(|&(offset, len, _)| region_of(text, offset, len));
            let name = match file {
                Some(p) => p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                None => model.source_name.clone(),
            };
            let (source_text, labels, excerpt) = excerpt(text, labels);
            Resolved {
                source_name: if excerpt {
                    format!("{name} (excerpt of a long line)")
                } else {
                    name
                },
                source_text,
                labels,
                region,
                file: file.map(Path::to_path_buf),
                elsewhere,
            }
        }
        None => {
            let ops: Vec<_> = finding
                .labels
                .iter()
                .filter_map(|l| match l.at {
                    At::Op(op) => Some(op),
                    At::Span(_) => None,
                })
                .collect();
            // miette's gutter (line number and bar) takes about eight columns.
            let listing = listing::around(
                &model.graph,
                &ops,
                width.map(|w| w.saturating_sub(8).max(40)),
            );
            let labels = finding
                .labels
                .iter()
                .filter_map(|l| match l.at {
                    At::Op(op) => listing
                        .span_of(op)
                        .map(|(start, len)| (start, len, l.text.clone())),
                    At::Span(_) => None,
                })
                .collect();
            Resolved {
                source_name: format!("{} (graph listing)", model.source_name),
                source_text: listing.text,
                labels,
                region: None,
                file: None,
                elsewhere: vec![],
            }
        }
    }
}

/// Lines longer than this are shown as excerpts around the labels (a `.keras` archive's config.json is
/// one line of several kilobytes).
const LONG_LINE: usize = 300;
/// Bytes of context kept on each side of a label in an excerpt.
const EXCERPT_CONTEXT: usize = 60;

/// Cuts text whose labelled lines are very long down to windows around the labels, one per line,
/// with the labels moved to match. Text with ordinary lines is returned whole.
fn excerpt(
    text: &str,
    labels: Vec<(usize, usize, String)>,
) -> (String, Vec<(usize, usize, String)>, bool) {
    let line_len = |at: usize| {
        let at = at.min(text.len());
        let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        end - start
    };
    if labels.is_empty() || labels.iter().all(|&(o, _, _)| line_len(o) <= LONG_LINE) {
        return (text.to_string(), labels, false);
    }
    let floor = |mut i: usize| {
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let mut windows: Vec<(usize, usize)> = labels
        .iter()
        .map(|&(o, l, _)| {
            (
                floor(o.saturating_sub(EXCERPT_CONTEXT)),
                floor(o + l + EXCERPT_CONTEXT),
            )
        })
        .collect();
    windows.sort_unstable();
    let mut merged: Vec<(usize, usize)> = vec![];
    for (a, b) in windows {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    let mut out = String::new();
    let mut starts = vec![];
    for (i, &(a, b)) in merged.iter().enumerate() {
        // One window per line, so each label gets its own row.
        out.push_str(if i > 0 {
            " …\n… "
        } else if a > 0 {
            "… "
        } else {
            ""
        });
        starts.push((a, out.len()));
        out.push_str(&text[a..b].replace('\n', " "));
    }
    if merged.last().is_some_and(|&(_, b)| b < text.len()) {
        out.push_str(" …");
    }
    let moved = labels
        .into_iter()
        .map(|(o, l, t)| {
            let (a, at) = starts
                .iter()
                .rev()
                .find(|(a, _)| *a <= o)
                .copied()
                .unwrap_or((0, 0));
            (at + (o - a), l, t)
        })
        .collect();
    (out, moved, true)
}

/// 1-based line/column (columns count characters) of a byte range.
pub(crate) fn region_of(text: &str, offset: usize, len: usize) -> Region {
    let pos = |at: usize| {
        let at = at.min(text.len());
        let before = text.get(..at).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    };
    let (start_line, start_column) = pos(offset);
    let (end_line, end_column) = pos(offset + len);
    Region {
        start_line,
        start_column,
        end_line,
        end_column,
    }
}

/// The model name the Python front end gives a graph it assembled from a loss call (TF1 scripts,
/// PyTorch modules): nnlint's, not the user's (`src/load/python/interp.rs`).
const PYTHON_GRAPH_NAME: &str = "tf_graph/";

/// A finding's node as users of its format name it: in Python source and notebooks, the layer path
/// without the model name nnlint made up for a graph built from a loss (`classifier.1`, not
/// `tf_graph/classifier.1`); elsewhere the node path as it is.
pub(crate) fn node_name<'a>(model: &Model, node_path: &'a str) -> &'a str {
    match model.format {
        crate::ir::Format::PythonSource | crate::ir::Format::Notebook => node_path
            .strip_prefix(PYTHON_GRAPH_NAME)
            .unwrap_or(node_path),
        _ => node_path,
    }
}

/// Where `span` is in a source format, as users count: `line 8` (`cell 3, line 2` in a notebook),
/// then the first line of the code there, shortened.
/// Which of the file's models finding `f` is about, for a reader: "`clf` (keras Sequential,
/// line 3)"; `None` when the file builds one model.
pub(crate) fn model_of(model: &Model, f: &Finding) -> Option<String> {
    let m = model.submodels.get(f.model?)?;
    let place = source_place(model, m.span)
        .map(|p| match p.split_once(": `") {
            Some((at, _)) => at.to_string(),
            None => p,
        })
        .map_or(String::new(), |p| format!(", {p}"));
    Some(match &m.name {
        Some(name) => format!("`{name}` ({}{place})", m.kind),
        None => format!("a {}{place}", m.kind),
    })
}

pub(crate) fn source_place(model: &Model, span: crate::ir::Span) -> Option<String> {
    let located = model.locate(span)?;
    if let Some(file) = located.path {
        // In a module the file imports: that file and its line.
        let (text, span) = (located.text, located.span);
        let end = (span.offset + span.len).min(text.len());
        let code = first_line(text.get(span.offset.min(end)..end).unwrap_or(""));
        let at = format!(
            "{} line {}",
            file.display(),
            region_of(text, span.offset, 0).start_line
        );
        return Some(if code.is_empty() {
            at
        } else {
            format!("{at}: `{code}`")
        });
    }
    let text = model.source_text.as_deref()?;
    let at = match (model.source_map.as_ref()).and_then(|map| map.position(text, span.offset)) {
        Some((cell, line)) => format!("cell {cell}, line {line}"),
        None => format!("line {}", region_of(text, span.offset, 0).start_line),
    };
    let end = (span.offset + span.len).min(text.len());
    let code = text.get(span.offset.min(end)..end)?;
    let code = if model.format == crate::ir::Format::Notebook {
        // The JSON text of the cell: its escapes read as the code they stand for.
        serde_json::from_str::<String>(&format!("\"{code}\"")).unwrap_or_else(|_| code.to_string())
    } else {
        code.to_string()
    };
    let code = first_line(&code);
    Some(if code.is_empty() {
        at
    } else {
        format!("{at}: `{code}`")
    })
}

/// The first line of some code, its blanks squeezed, at most 60 characters.
fn first_line(code: &str) -> String {
    let mut code = code
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if code.chars().count() > 60 {
        code = code.chars().take(57).collect::<String>() + "...";
    }
    code
}

/// `path` relative to `root` with forward slashes, or as given when it is elsewhere.
pub fn display_path(path: &Path, root: &Path) -> String {
    let abs = |p: &Path| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir()
                .map(|d| d.join(p))
                .unwrap_or_else(|_| p.to_path_buf())
        }
    };
    let (path_abs, root_abs) = (abs(path), abs(root));
    match path_abs.strip_prefix(&root_abs) {
        Ok(rel) => rel
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/"),
        // Outside the root: show it as the user wrote it.
        Err(_) => path.to_string_lossy().replace('\\', "/"),
    }
}

fn concise(results: &[FileResult], opts: &RenderOptions) -> String {
    let mut out = String::new();
    for r in results {
        let path = display_path(&r.path, &opts.root);
        for e in r.syntax_errors() {
            out.push_str(&format!("{}\n", syntax_error_line(&path, e, false)));
        }
        match &r.outcome {
            Err(e) if e.not_checked => out.push_str(&format!("{path}:1:1: note: {e}\n")),
            Err(e) if e.not_a_model => {
                if !opts.ignore_non_models {
                    out.push_str(&format!("{path}:1:1: note: skipped: {e}\n"))
                }
            }
            Err(e) => out.push_str(&format!("{path}:1:1: error: {e}\n")),
            Ok(linted) => {
                for (f, suppressed) in shown(linted, opts) {
                    let resolved = resolve(&linted.model, f);
                    let path = match &resolved.file {
                        Some(file) => display_path(file, &opts.root),
                        None => path.clone(),
                    };
                    let (line, col) = resolved
                        .region
                        .map_or((1, 1), |r| (r.start_line, r.start_column));
                    let note =
                        suppressed.map_or(String::new(), |why| format!(" (suppressed by {why})"));
                    out.push_str(&format!(
                        "{path}:{line}:{col}: {} [{}] {}{note}\n",
                        f.code,
                        f.severity.as_str(),
                        f.message
                    ));
                }
            }
        }
    }
    out
}

/// GitHub Actions workflow commands: `::error file=…,line=…::message`.
fn github(results: &[FileResult], opts: &RenderOptions) -> String {
    let data = |s: &str| {
        s.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let prop = |s: &str| data(s).replace(':', "%3A").replace(',', "%2C");
    let mut out = String::new();
    for r in results {
        let path = display_path(&r.path, &opts.root);
        for e in r.syntax_errors() {
            out.push_str(&format!(
                "::error file={},line={},col={},title={}::{}\n",
                prop(&path),
                e.line,
                e.column,
                prop("nnlint: syntax error"),
                data(&e.message)
            ));
        }
        match &r.outcome {
            Err(e) if e.not_checked => out.push_str(&format!(
                "::notice file={},line=1,title={}::{}\n",
                prop(&path),
                prop("nnlint: not checked"),
                data(&e.message)
            )),
            Err(e) if e.not_a_model => {
                if !opts.ignore_non_models {
                    out.push_str(&format!(
                        "::notice file={},line=1,title={}::{}\n",
                        prop(&path),
                        prop("nnlint: skipped, not a model"),
                        data(&e.message)
                    ))
                }
            }
            Err(e) => out.push_str(&format!(
                "::error file={},line=1,title={}::{}\n",
                prop(&path),
                prop("nnlint: unreadable file"),
                data(&e.message)
            )),
            Ok(linted) => {
                for f in &linted.findings {
                    let resolved = resolve(&linted.model, f);
                    let region = resolved.region;
                    let path = match &resolved.file {
                        Some(file) => display_path(file, &opts.root),
                        None => path.clone(),
                    };
                    let level = match f.severity {
                        crate::finding::Severity::Error => "error",
                        crate::finding::Severity::Warning => "warning",
                        crate::finding::Severity::Info => "notice",
                    };
                    let position = match region {
                        Some(r) => format!(
                            "line={},col={},endLine={},endColumn={}",
                            r.start_line, r.start_column, r.end_line, r.end_column
                        ),
                        None => "line=1".to_string(),
                    };
                    out.push_str(&format!(
                        "::{level} file={},{position},title={}::{} (at {})\n",
                        prop(&path),
                        prop(&format!("{} {}", f.code, f.name)),
                        data(&f.message),
                        data(node_name(&linted.model, &f.node_path))
                    ));
                }
            }
        }
    }
    out
}
