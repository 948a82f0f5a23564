//! Python source front end: Keras / tf.keras scripts (`.py`) and notebooks (`.ipynb`), read and
//! never executed. The text is parsed by ruff's error-recovering parser behind one adapter
//! (`syntax.rs`), interpreted abstractly (`interp.rs`), and what it builds is written as the Keras 2
//! config tree `model.to_json()` would give, with spans into the source (`synth.rs`); the Keras front
//! end lowers that tree, so every rule and numerical check runs unchanged.

mod big_stack;
mod interp;
mod notebook;
mod project;
mod syntax;
mod synth;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::{LoadError, LoadOptions};
use crate::ir::{Format, Graph, ImportedSource, Model, Span, Weights};

/// Largest source file read.
pub const MAX_SOURCE_BYTES: u64 = 32 << 20;
/// Deepest bracket nesting accepted before parsing (CPython's own parser stops at 200).
pub const MAX_BRACKET_DEPTH: usize = 1000;

pub fn load_python(path: &Path, options: &LoadOptions) -> Result<Model, LoadError> {
    let bytes = read_bytes(path)?;
    python_from_bytes(path, &bytes, options)
}

pub fn load_notebook(path: &Path, options: &LoadOptions) -> Result<Model, LoadError> {
    let bytes = read_bytes(path)?;
    // Valid UTF-8 (every notebook Jupyter writes) becomes the text without a copy.
    let text = String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    notebook_from_text(path, text, options)
}

/// [`load_python`] on bytes already in memory; `path` names the model and, when it is a file on
/// disk, the project its imports are read from.
pub fn python_from_bytes(
    path: &Path,
    bytes: &[u8],
    options: &LoadOptions,
) -> Result<Model, LoadError> {
    let text = decode(bytes);
    if !mentions_framework(&text)
        && !project::imports_deep_learning(path, &text, mentions_framework, options)
    {
        return Err(no_deep_learning());
    }
    let path = path.to_path_buf();
    let options = options.clone();
    big_stack::run(move || {
        check_nesting(&text)?;
        let parsed = syntax::parse(&text, false, &|o| o);
        if !parsed.errors.is_empty()
            && let Some(line) = python2_line(&text)
        {
            return Err(LoadError::new(format!(
                "Python 2 source is not supported (line {line} is Python 2 syntax); nnlint reads \
                 Python 3"
            )));
        }
        let source = Source {
            format: Format::PythonSource,
            text,
            cells: None,
            imported: vec![],
        };
        finish(&path, source, vec![parsed], &options)
    })
}

/// [`load_notebook`] on bytes already in memory; `path` names the model (see [`python_from_bytes`]).
pub fn notebook_from_bytes(
    path: &Path,
    bytes: &[u8],
    options: &LoadOptions,
) -> Result<Model, LoadError> {
    notebook_from_text(path, String::from_utf8_lossy(bytes).into_owned(), options)
}

fn notebook_from_text(
    path: &Path,
    text: String,
    options: &LoadOptions,
) -> Result<Model, LoadError> {
    if !mentions_framework(&text)
        && !project::imports_deep_learning(path, &text, mentions_framework, options)
    {
        return Err(no_deep_learning());
    }
    let path = path.to_path_buf();
    let options = options.clone();
    big_stack::run(move || {
        let cells = notebook::code_cells(&text)?;
        let mut parsed = vec![];
        for cell in &cells {
            check_nesting(&cell.code)?;
            parsed.push(syntax::parse(&cell.code, true, &|o| cell.to_file(o)));
        }
        let starts = cells.iter().map(|c| (c.index, c.to_file(0))).collect();
        let source = Source {
            format: Format::Notebook,
            text,
            cells: Some(crate::ir::SourceMap { cells: starts }),
            imported: vec![],
        };
        finish(&path, source, parsed, &options)
    })
}

struct Source {
    format: Format,
    text: String,
    /// Notebook: (cell number, offset of the cell's code in the JSON text).
    cells: Option<crate::ir::SourceMap>,
    /// First-party modules the file imports (filled once the interpreter ran).
    imported: Vec<ImportedSource>,
}

/// `module` as the user reaches it from the linted file `file`: relative to the file's folder
/// when it is below it (`models.py`, `pkg/nets.py`), else as found.
fn relative_to(module: &Path, file: &Path) -> std::path::PathBuf {
    let dir = project::canonical(file).and_then(|f| f.parent().map(Path::to_path_buf));
    let rel = dir.as_ref().and_then(|d| module.strip_prefix(d).ok());
    match (rel, file.parent()) {
        (Some(rel), Some(parent)) => parent.join(rel),
        _ => module.to_path_buf(),
    }
}

/// How many times each first-party module file was parsed for an import in this process (once
/// per content, whatever the number of files importing it: what a test checks).
pub fn import_parse_counts() -> Vec<(std::path::PathBuf, usize)> {
    project::parse_counts()
}

/// How many times each module file's body ran for an import in this run (once, for a module that
/// only defines things).
pub fn import_run_counts() -> Vec<(std::path::PathBuf, usize)> {
    interp::module_run_counts()
}

fn no_deep_learning() -> LoadError {
    LoadError::not_a_model(
        "no deep-learning code found (the file imports none of keras, tensorflow, torch and transformers)",
    )
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, LoadError> {
    let (bytes, over) = super::read_capped(path, MAX_SOURCE_BYTES)?;
    if over {
        return Err(LoadError::not_a_model(format!(
            "the file is larger than {MAX_SOURCE_BYTES} bytes, the limit for Python source"
        )));
    }
    Ok(bytes)
}

/// A cheap textual test before anything is parsed: directory scans skip most files here.
fn mentions_framework(text: &str) -> bool {
    ["keras", "tensorflow", "torch", "transformers"]
        .iter()
        .any(|w| text.contains(w))
}

/// The text of a source file: UTF-8, or latin-1 (and its cp1252 superset, read as latin-1) when a
/// PEP 263 declaration on one of the first two lines says so. Invalid UTF-8 is replaced.
fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if let Some(enc) = declared_encoding(bytes) {
        let enc = enc.to_ascii_lowercase().replace('_', "-");
        let latin1 = matches!(
            enc.as_str(),
            "latin-1"
                | "latin1"
                | "iso-8859-1"
                | "iso8859-1"
                | "l1"
                | "cp1252"
                | "windows-1252"
                | "iso-8859-15"
                | "latin-9"
        ) || enc.starts_with("iso-8859-1-");
        if latin1 && std::str::from_utf8(bytes).is_err() {
            return bytes.iter().map(|&b| b as char).collect();
        }
    }
    String::from_utf8_lossy(bytes).into_owned()
}

/// `# -*- coding: latin-1 -*-` / `# vim: set fileencoding=latin-1 :` on line 1 or 2.
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    for line in bytes.split(|&b| b == b'\n').take(2) {
        let line = String::from_utf8_lossy(line);
        let trimmed = line.trim_start();
        if !trimmed.starts_with('#') {
            continue;
        }
        let at = trimmed.find("coding")?;
        let rest = &trimmed[at + "coding".len()..];
        let rest = rest.strip_prefix([':', '='])?.trim_start();
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect();
        if !name.is_empty() {
            return Some(name);
        }
    }
    None
}

/// Refuses absurd bracket nesting before the recursive parser sees it.
fn check_nesting(text: &str) -> Result<(), LoadError> {
    let mut depth = 0usize;
    let mut max = 0usize;
    let mut line = 1;
    let mut signs = 0usize;
    let mut in_comment = false;
    for b in text.bytes() {
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    max = depth;
                    if max > MAX_BRACKET_DEPTH {
                        return Err(LoadError::new(format!(
                            "brackets nested more than {MAX_BRACKET_DEPTH} deep (line {line}): \
                             nnlint refuses such source rather than risk its stack"
                        )));
                    }
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'\n' => line += 1,
            _ => {}
        }
        // Prefix operators nest too: `- - - … 1` recurses once per sign (comments do not count).
        match b {
            b'#' => in_comment = true,
            b'\n' => in_comment = false,
            _ => {}
        }
        match b {
            _ if in_comment => signs = 0,
            b'-' | b'+' | b'~' => {
                signs += 1;
                if signs > MAX_BRACKET_DEPTH {
                    return Err(LoadError::new(format!(
                        "more than {MAX_BRACKET_DEPTH} unary operators in a row (line {line}): \
                         nnlint refuses such source rather than risk its stack"
                    )));
                }
            }
            b' ' | b'\t' => {}
            _ => signs = 0,
        }
    }
    // `not not …` chains: a chain too long needs that many `not`s in the file, so only such files
    // are scanned word by word.
    if text.matches("not").nth(MAX_BRACKET_DEPTH).is_none() {
        return Ok(());
    }
    let mut nots = 0usize;
    for word in text.split_ascii_whitespace() {
        nots = if word == "not" { nots + 1 } else { 0 };
        if nots > MAX_BRACKET_DEPTH {
            return Err(LoadError::new(format!(
                "more than {MAX_BRACKET_DEPTH} `not` in a row: nnlint refuses such source rather \
                 than risk its stack"
            )));
        }
    }
    Ok(())
}

/// The first line that is Python 2 only (`print x`, `print "..."`, `except E, e:`, `exec "..."`),
/// when the file has syntax errors.
fn python2_line(text: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let t = l.trim_start();
            let print2 =
                t.strip_prefix("print").is_some_and(|rest| {
                    rest.starts_with([' ', '\t'])
                        && rest.trim_start().chars().next().is_some_and(|c| {
                            c == '"' || c == '\'' || c.is_alphanumeric() || c == '_'
                        })
                        && !rest.trim_start().starts_with(['=', '(', '.'])
                });
            let except2 = t.starts_with("except ")
                && t.trim_end().ends_with(':')
                && t.contains(',')
                && !t.contains('(')
                && !t.contains(" as ");
            let exec2 = t.starts_with("exec \"") || t.starts_with("exec '");
            print2 || except2 || exec2
        })
        .map(|i| i + 1)
}

/// Each syntax error located as reports need it: line and column of the file's text, and the
/// notebook cell and line.
fn syntax_errors_at(
    source: &Source,
    errors: &[syntax::SyntaxError],
) -> Vec<crate::ir::SyntaxErrorAt> {
    errors
        .iter()
        .map(|e| {
            let (line, column) = crate::load::keras::tree::line_col(&source.text, e.span.offset);
            crate::ir::SyntaxErrorAt {
                line,
                column,
                cell: source
                    .cells
                    .as_ref()
                    .and_then(|cells| cells.position(&source.text, e.span.offset)),
                message: e.message.clone(),
            }
        })
        .collect()
}

fn finish(
    path: &Path,
    source: Source,
    parsed: Vec<syntax::Parsed>,
    options: &LoadOptions,
) -> Result<Model, LoadError> {
    let mut body = vec![];
    let mut errors = vec![];
    let mut comments = vec![];
    let mut too_deep = false;
    for p in parsed {
        body.extend(p.body);
        errors.extend(p.errors);
        comments.extend(p.comments);
        too_deep |= p.too_deep;
    }
    let mut world = interp::run(&body, Some(path), options);
    if world.frameworks.is_empty() && !world.unread_deep_learning {
        return Err(no_deep_learning());
    }
    // Modules of the project the file imports: their comments suppress too, their texts locate
    // the spans that point into them (named relative to the linted file's folder).
    let imported: Vec<ImportedSource> = world
        .imported
        .iter()
        .map(|m| {
            comments.extend(m.comments.iter().cloned());
            ImportedSource {
                path: relative_to(&m.path, path),
                text: m.text.clone(),
                base: m.base,
            }
        })
        .collect();
    let source = Source { imported, ..source };
    let syntax_errors = syntax_errors_at(&source, &errors);
    let mut metadata = BTreeMap::new();
    metadata.insert("frameworks".into(), world.frameworks.join(", "));
    if too_deep {
        metadata.insert(
            "python_too_deep".into(),
            format!(
                "expressions nested deeper than {} were not analysed",
                syntax::MAX_DEPTH
            ),
        );
    }
    if world.out_of_budget() {
        metadata.insert(
            "python_steps".into(),
            format!(
                "the interpreter stopped at its budget ({} steps, {} layers or {} module \
                 instances); findings cover what ran before",
                interp::MAX_STEPS,
                interp::MAX_LAYERS,
                interp::MAX_INSTANCES
            ),
        );
    }
    let display = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let chosen = world.models_to_check();
    let text: Arc<str> = Arc::from(source.text.as_str());
    let empty = |metadata: BTreeMap<String, String>| Model {
        assumed_widths: vec![],
        not_followed: vec![],
        imported_sources: vec![],
        submodels: vec![],
        path: path.to_path_buf(),
        format: source.format,
        source_name: display.clone(),
        source_text: Some(text.clone()),
        opset: crate::load::keras::OPSET,
        producer: "python source".into(),
        framework: Default::default(),
        graph: Graph::default(),
        training: None,
        metadata,
        weights: Weights::Absent,
        weights_provenance: Default::default(),
        source_map: source.cells.clone(),
        syntax_errors: syntax_errors.clone(),
    };
    if chosen.is_empty() && world.hf_heads.is_empty() {
        if world.out_of_budget() {
            return Err(LoadError::not_checked_because(
                format!(
                    "not checked: the interpreter stopped at its budget ({} steps) before a model \
                     was resolved",
                    interp::MAX_STEPS
                ),
                "the interpreter ran out of its step budget",
            ));
        }
        if !world.builds_something() {
            // Deep-learning imports, but nothing built or trained (a data or plotting helper).
            metadata.insert(
                "python_models".into(),
                "no model or loss is built in this file".into(),
            );
            return Ok(empty(metadata));
        }
        let (at, reason) = where_it_stopped(&world, &source);
        return Err(LoadError {
            syntax_errors,
            ..LoadError::not_checked_because(
                format!("not checked: no model or loss could be resolved{at}"),
                reason,
            )
        });
    }
    // Every model the file builds is checked on its own, lowered one by one and put side by side
    // in one graph (each keeps its outputs, losses and metrics).
    let mut merged: Option<Model> = None;
    let mut not_lowered = vec![];
    let mut submodels = vec![];
    for &m in &chosen {
        let tree = synth::model_tree(&world.models[m], &world);
        let built = crate::load::keras::build_from_tree(
            path,
            source.format,
            display.clone(),
            text.clone(),
            &tree,
            metadata.clone(),
        );
        let mut model = match built {
            Ok(model) => model,
            Err(e) => {
                // What the interpreter resolved does not lower (an argument it could not read, a
                // layer it does not know): nothing is guessed for this model.
                not_lowered.push(e.message);
                continue;
            }
        };
        if world.is_torch_model(m) {
            // Layer names are module paths nnlint made up (`score_head.proj`), not names for
            // the output.
            for o in &mut model.graph.outputs {
                o.name_speaks = false;
            }
        }
        model.imported_sources = source.imported.clone();
        // Code that samples its output as one distribution (`torch.multinomial(probs, 1)`) reads
        // it as one: a consumer says what the output is.
        if world.models[m].sampled.is_some()
            && let Some(o) = model.graph.outputs.first_mut()
            && o.intent_source == crate::ir::IntentSource::None
        {
            o.intent = crate::ir::Intent::Distribution;
            o.intent_source = crate::ir::IntentSource::Consumer;
        }
        // Loss functions of the file: the loss each computes (`-K.sum(y * K.log(p), -1)`).
        if let Some(t) = model.training.as_mut() {
            for l in &mut t.losses {
                if let crate::ir::LossKind::Other(name) = &l.kind
                    && let Some(Some((class, logits))) = world.loss_functions.get(name)
                {
                    l.kind = crate::load::keras::training::loss_kind(class);
                    l.from_logits = *logits;
                }
            }
        }
        // The labels it is trained on name their classes: they belong to its first output (the
        // one a loss of a TF1 graph or a PyTorch loop is computed on; a Keras model's only one).
        if let (Some(l), Some(t)) = (&world.models[m].labels, model.training.as_mut())
            && !model.graph.outputs.is_empty()
        {
            t.labels.push(crate::ir::ClassLabels {
                output: 0,
                classes: l.classes,
                one_hot: l.one_hot,
                span: Some(l.span),
                source: l.source.clone(),
            });
        }
        set_loss_frameworks(&mut model, &world.frameworks);
        apply_suppressions(&mut model, &comments, &world.models[m]);
        let (name, kind) = world.describe_model(m);
        let span = world.models[m].span;
        put_beside(&mut merged, &mut submodels, model, name, kind, span);
    }
    // `transformers` classifier heads: the IR the config reader makes for them, scored with
    // accuracy where the file scores predictions as classes.
    for head in std::mem::take(&mut world.hf_heads) {
        let class = head.class.clone();
        let span = head
            .class_span
            .unwrap_or(crate::ir::Span { offset: 0, len: 0 });
        let mut model =
            crate::load::hf::lowered_head(path, head, source.format, display.clone(), text.clone());
        model.imported_sources = source.imported.clone();
        if let (Some(span), Some(t)) = (world.class_scoring, model.training.as_mut()) {
            t.metrics.push(crate::ir::MetricSpec {
                output: Some(0),
                name: "accuracy".into(),
                threshold: None,
                span: Some(span),
            });
        }
        let kind = format!("transformers {class}");
        put_beside(&mut merged, &mut submodels, model, None, kind, span);
    }
    let Some(mut model) = merged else {
        return Err(LoadError {
            syntax_errors,
            ..LoadError::not_checked_because(
                format!(
                    "not checked: the model does not lower: {}",
                    not_lowered.join("; ")
                ),
                "the model does not lower",
            )
        });
    };
    model.source_map = source.cells.clone();
    model.syntax_errors = syntax_errors;
    if submodels.len() > 1 {
        model.submodels = submodels;
    }
    // Places where a model or a loss may have been lost: the file is partly checked.
    let mut seen = vec![];
    for g in world.gaps.iter().filter(|g| interp::loses_model(g.reason)) {
        let at = gap_location(g, &source);
        if !seen.contains(&at) {
            seen.push(at.clone());
            model.not_followed.push(crate::ir::NotFollowed {
                reason: g.reason.to_string(),
                at,
            });
        }
    }
    for m in &not_lowered {
        model.not_followed.push(crate::ir::NotFollowed {
            reason: "a model does not lower".into(),
            at: m.clone(),
        });
    }
    if !not_lowered.is_empty() {
        model
            .metadata
            .insert("python_models_not_lowered".into(), not_lowered.join("; "));
    }
    if chosen.len() > 1 {
        model.metadata.insert(
            "python_models".into(),
            format!("{} models checked", chosen.len()),
        );
    }
    if let Some(first) = world.gaps.first() {
        model.metadata.insert(
            "python_unknowns".into(),
            format!(
                "{} place(s) nnlint could not follow; the first at {} ({})",
                world.gaps.len(),
                gap_location(first, &source),
                first.reason
            ),
        );
    }
    model.producer = "python source".into();
    model.framework = model
        .training
        .as_ref()
        .map_or(Default::default(), crate::ir::TrainingSpec::framework);
    Ok(model)
}

/// Whose each loss of a model lowered through the Keras builder is, as far as its spelling and
/// the file's imports (`frameworks`, top-level module names) tell: a PyTorch name
/// ([`crate::ir::TORCH_LOSS_NAMES`]) is PyTorch's (Lightning's when the file imports Lightning),
/// a TensorFlow call outside `tf.keras` (`tf.nn.sigmoid_cross_entropy_with_logits`,
/// `-tf.reduce_sum(y * tf.log(p))`) TF1's, anything else Keras's (`tf.keras` when the file imports
/// TensorFlow but not Keras).
fn set_loss_frameworks(model: &mut Model, frameworks: &[String]) {
    use crate::ir::Framework;
    let imports = |m: &str| frameworks.iter().any(|f| f == m);
    let written: Vec<Option<String>> = model.training.as_ref().map_or(vec![], |t| {
        t.losses
            .iter()
            .map(|l| {
                let at = model.locate(l.span?)?;
                at.text
                    .get(at.span.offset..at.span.offset + at.span.len)
                    .map(str::to_string)
            })
            .collect()
    });
    let Some(t) = model.training.as_mut() else {
        return;
    };
    for (loss, text) in t.losses.iter_mut().zip(written) {
        let text = text.unwrap_or_default();
        let call = text.trim_start_matches(['-', '(', ' ']);
        loss.framework = if crate::ir::TORCH_LOSS_NAMES.contains(&loss.written.as_str()) {
            if imports("lightning") || imports("pytorch_lightning") {
                Framework::Lightning
            } else {
                Framework::PyTorch
            }
        } else if (call.starts_with("tf.") || call.starts_with("tensorflow."))
            && !call.contains(".keras.")
        {
            Framework::Tf1
        } else if imports("keras") {
            Framework::Keras
        } else {
            Framework::TfKeras
        };
    }
}

/// Adds `model` to the file's models (`merged`, side by side: [`absorb`]) and records which of the
/// merged outputs are its, under the name and kind a report uses for it.
fn put_beside(
    merged: &mut Option<Model>,
    submodels: &mut Vec<crate::ir::SubModel>,
    model: Model,
    name: Option<String>,
    kind: String,
    span: crate::ir::Span,
) {
    let first = merged.as_ref().map_or(0, |b| b.graph.outputs.len());
    let first_op = merged.as_ref().map_or(0, |b| b.graph.ops.len());
    submodels.push(crate::ir::SubModel {
        name,
        kind,
        span,
        outputs: first..first + model.graph.outputs.len(),
        ops: first_op..first_op + model.graph.ops.len(),
    });
    match merged.as_mut() {
        None => *merged = Some(model),
        Some(base) => absorb(base, model),
    }
}

/// Puts `other`'s graph beside `base`'s: values and ops are appended with their ids shifted,
/// inputs and outputs added, and the training spec's losses and metrics follow their outputs (a
/// loss for every output of `other` becomes one loss per output, so it cannot reach `base`'s).
fn absorb(base: &mut Model, other: Model) {
    use crate::ir::{OpId, ValueId};
    let shift_v = base.graph.values.len() as u32;
    let shift_o = base.graph.ops.len() as u32;
    let shift_out = base.graph.outputs.len();
    let v = |id: ValueId| ValueId(id.0 + shift_v);
    per_output(base);
    let mut other = other;
    per_output(&mut other);
    for mut value in other.graph.values {
        value.producer = value.producer.map(|p| OpId(p.0 + shift_o));
        base.graph.values.push(value);
    }
    for mut op in other.graph.ops {
        op.inputs = op.inputs.into_iter().map(|i| i.map(v)).collect();
        op.outputs = op.outputs.into_iter().map(v).collect();
        base.graph.ops.push(op);
    }
    base.graph
        .inputs
        .extend(other.graph.inputs.into_iter().map(v));
    for mut o in other.graph.outputs {
        o.value = v(o.value);
        base.graph.outputs.push(o);
    }
    base.assumed_widths
        .extend(other.assumed_widths.into_iter().map(v));
    base.graph
        .rank_assumed
        .extend(other.graph.rank_assumed.into_iter().map(v));
    if let Some(t) = other.training {
        let spec = base.training.get_or_insert_with(Default::default);
        spec.losses.extend(t.losses.into_iter().map(|mut l| {
            l.output = l.output.map(|o| o + shift_out);
            l
        }));
        spec.metrics.extend(t.metrics.into_iter().map(|mut m| {
            m.output = m.output.map(|o| o + shift_out);
            m
        }));
        spec.library_heads
            .extend(t.library_heads.into_iter().map(|mut h| {
                h.output += shift_out;
                h
            }));
        spec.labels.extend(t.labels.into_iter().map(|mut l| {
            l.output += shift_out;
            l
        }));
        if spec.backend.is_none() {
            spec.backend = t.backend;
        }
    }
}

/// A loss or metric that applies to every output (`output: None`) becomes one per output.
fn per_output(model: &mut Model) {
    let n = model.graph.outputs.len();
    let Some(t) = model.training.as_mut() else {
        return;
    };
    let spread = |output: Option<usize>| -> Vec<Option<usize>> {
        match output {
            Some(o) => vec![Some(o)],
            None => (0..n).map(Some).collect(),
        }
    };
    t.losses = std::mem::take(&mut t.losses)
        .into_iter()
        .flat_map(|l| {
            spread(l.output)
                .into_iter()
                .map(move |o| crate::ir::LossSpec {
                    output: o,
                    ..l.clone()
                })
        })
        .collect();
    t.metrics = std::mem::take(&mut t.metrics)
        .into_iter()
        .flat_map(|m| {
            spread(m.output)
                .into_iter()
                .map(move |o| crate::ir::MetricSpec {
                    output: o,
                    ..m.clone()
                })
        })
        .collect();
}

/// " (stopped at line 41: `self.backbone(x)` (why))" and the reason alone, for a file whose model
/// could not be resolved.
fn where_it_stopped(world: &interp::World, source: &Source) -> (String, String) {
    // A gap that lost a model is where it vanished; otherwise the first gap.
    let gap = world
        .gaps
        .iter()
        .find(|g| interp::loses_model(g.reason))
        .or(world.gaps.first());
    match gap {
        Some(g) => (
            format!(" (stopped at {} ({}))", gap_location(g, source), g.reason),
            g.reason.to_string(),
        ),
        None => (
            String::new(),
            "no model or loss could be resolved".to_string(),
        ),
    }
}

/// "line 41: `self.backbone(x)`" (in a notebook "cell 3, line 2: ...", in an imported module
/// "models.py, line 12: ..."): where a gap is.
fn gap_location(g: &interp::Gap, source: &Source) -> String {
    if let Some(m) = source
        .imported
        .iter()
        .find(|m| g.span.offset >= m.base && g.span.offset <= m.base + m.text.len())
    {
        let offset = g.span.offset - m.base;
        let (line, _) = crate::load::keras::tree::line_col(&m.text, offset);
        let name = m
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let snippet = snippet_at(&m.text, offset, g.span.len);
        return format!("{name}, line {line}: `{snippet}`");
    }
    let text = &source.text;
    let (line, _) = crate::load::keras::tree::line_col(text, g.span.offset);
    let snippet = snippet_at(text, g.span.offset, g.span.len);
    let at = match source
        .cells
        .as_ref()
        .and_then(|cells| cells.position(text, g.span.offset))
    {
        Some((cell, l)) => format!("cell {cell}, line {l}"),
        None => format!("line {line}"),
    };
    format!("{at}: `{snippet}`")
}

/// The code at `offset..offset + len` on one line, cut to 60 characters.
fn snippet_at(text: &str, offset: usize, len: usize) -> String {
    let end = (offset + len).min(text.len());
    let mut snippet: String = text
        .get(offset..end)
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if snippet.chars().count() > 60 {
        snippet = snippet.chars().take(57).collect::<String>() + "...";
    }
    snippet
}

/// `# nnlint: ignore[NNL001]` or `# noqa: NNL001` on the lines of a layer's call suppress those
/// rules on its ops; on the lines of the `compile(...)` call, on the ops of the model's outputs
/// (findings about a loss name the output layer).
fn apply_suppressions(model: &mut Model, comments: &[syntax::Comment], m: &interp::ModelRec) {
    if model.source_text.is_none() {
        return;
    }
    let codes_on = |span: Span| -> Vec<String> {
        // The lines of `span` in the file it is in (the linted file or an imported module), as
        // offsets of the span space the comments are in too.
        let Some(at) = model.locate(span) else {
            return vec![];
        };
        let (text, base) = (at.text, span.offset - at.span.offset);
        let local = at.span.offset.min(text.len());
        let start = base + text[..local].rfind('\n').map_or(0, |i| i + 1);
        let end_at = (local + span.len).min(text.len());
        let end = base + text[end_at..].find('\n').map_or(text.len(), |i| end_at + i);
        let mut out = vec![];
        for c in comments
            .iter()
            .filter(|c| c.span.offset >= start && c.span.offset <= end)
        {
            out.extend(crate::suppress::parse_markers(&c.text));
            out.extend(crate::suppress::noqa_codes(&c.text));
        }
        out
    };
    let compile_codes = m
        .compile
        .as_ref()
        .map(|c| codes_on(c.span))
        .unwrap_or_default();
    let output_values: Vec<_> = model.graph.outputs.iter().map(|o| o.value).collect();
    let output_paths: Vec<String> = output_values
        .iter()
        .filter_map(|&v| model.graph.value(v).producer)
        .map(|op| model.graph.op(op).origin.path.clone())
        .collect();
    let per_op: Vec<Vec<String>> = model
        .graph
        .ops
        .iter()
        .map(|op| {
            let mut codes = match op.origin.spans.get(&crate::ir::Part::Entry) {
                Some(span) => codes_on(*span),
                None => vec![],
            };
            if output_paths.contains(&op.origin.path) {
                codes.extend(compile_codes.iter().cloned());
            }
            codes
        })
        .collect();
    for (op, codes) in model.graph.ops.iter_mut().zip(per_op) {
        op.origin.suppress.extend(codes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_is_decoded_when_declared() {
        let src = b"# -*- coding: latin-1 -*-\n# caf\xe9\nimport keras\n";
        assert!(decode(src).contains("café"));
        assert_eq!(decode(b"x = 1\n"), "x = 1\n");
    }

    #[test]
    fn python2_lines_are_recognised() {
        assert_eq!(
            python2_line("import keras\nprint model.summary()\n"),
            Some(2)
        );
        assert_eq!(python2_line("print 'hi'\n"), Some(1));
        assert_eq!(python2_line("print('hi')\nprint = 3\n"), None);
        assert_eq!(
            python2_line("try:\n    x\nexcept ValueError, e:\n    pass\n"),
            Some(3)
        );
    }

    #[test]
    fn deep_brackets_are_refused() {
        let text = format!(
            "import keras\nx = {}1{}\n",
            "(".repeat(5000),
            ")".repeat(5000)
        );
        let e = check_nesting(&text).unwrap_err();
        assert!(e.message.contains("nested more than"), "{}", e.message);
        let text = format!("import keras\nx = {}1\n", "- ".repeat(5000));
        let e = check_nesting(&text).unwrap_err();
        assert!(e.message.contains("unary operators"), "{}", e.message);
        let text = format!("import keras\nx = {}y\n", "not ".repeat(5000));
        assert!(check_nesting(&text).is_err());
        // Ordinary code passes: comment rulers, `a - -b`, `x = -1`.
        assert!(check_nesting("# ----------\nx = a - -b\ny = -1\n").is_ok());
        assert!(check_nesting(&format!("# {}\nx = 1\n", "-".repeat(5000))).is_ok());
    }
}
