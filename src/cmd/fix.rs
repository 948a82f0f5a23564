//! `--fix`, `--unsafe-fixes`, `--diff`, `--fix-only`: applies the fixes rules attach to findings
//! (`crate::fix`). Per file: the fixes of its active findings (safe ones, and unsafe ones when asked),
//! only edits inside the linted file itself (an imported module's spans are left alone and said so),
//! none at all when two fixes overlap, applied from the end. The edited text is then linted again in
//! memory, and a fix is refused ("fix not applied: ...") when its finding is still there, when the
//! edit adds a finding or a syntax error, or when the file would no longer load. Only then is the file
//! written (or, with `--diff`, shown as a unified diff). Binary formats (ONNX, `.keras`, `.h5`) are
//! never edited: their findings say which source line to change.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::engine::{self, FileResult, Settings};
use crate::finding::Finding;
use crate::fix::{Edit, Fix, Safety, json_escape};
use crate::ir::{Format, Model};

/// What to apply.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Also apply unsafe fixes (`--unsafe-fixes`).
    pub unsafe_fixes: bool,
}

/// One finding a fix removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    pub code: &'static str,
    pub name: &'static str,
    /// The fix's own message (`replace log(softmax(x)) with log_softmax(x)`).
    pub fix: String,
}

/// What fixing did to one file with fixable findings.
#[derive(Debug, Default)]
pub struct FileFixes {
    pub path: PathBuf,
    /// The findings whose fixes were applied (in the new text).
    pub applied: Vec<Applied>,
    /// Fixes that were not applied, and why (`fix not applied: ...`).
    pub not_applied: Vec<String>,
    /// Unsafe fixes left out because `--unsafe-fixes` was not given.
    pub hidden_unsafe: usize,
    /// The text before and after, when something was applied.
    pub change: Option<(String, String)>,
}

/// Fixes every file of `results` (each linted with the matching entry of `settings`) in memory.
/// Returns the results as they are after the edits (a fixed file linted again, the others as they
/// were) and what was done per file that had a fix. Nothing is written here: see [`write`].
pub fn fix_all(
    results: Vec<FileResult>,
    settings: &[Settings],
    opts: Options,
) -> (Vec<FileResult>, Vec<FileFixes>) {
    // Files are fixed (and linted again) in parallel, as they are linted; the order is kept.
    let fixed: Vec<(FileResult, Option<FileFixes>)> = results
        .into_par_iter()
        .zip(settings.par_iter())
        .map(|(r, s)| match fix_file(&r, s, opts) {
            None => (r, None),
            Some((fixes, relinted)) => (relinted.unwrap_or(r), Some(fixes)),
        })
        .collect();
    let mut out = Vec::with_capacity(fixed.len());
    let mut done = vec![];
    for (r, fixes) in fixed {
        out.push(r);
        done.extend(fixes);
    }
    (out, done)
}

/// Writes each changed file; an error names the file.
pub fn write(fixes: &[FileFixes]) -> Result<(), String> {
    for f in fixes {
        if let Some((_, after)) = &f.change {
            std::fs::write(&f.path, after)
                .map_err(|e| format!("cannot write {}: {e}", f.path.display()))?;
        }
    }
    Ok(())
}

/// The fixes of one file and its result after them (`None`: nothing changed).
fn fix_file(
    r: &FileResult,
    settings: &Settings,
    opts: Options,
) -> Option<(FileFixes, Option<FileResult>)> {
    let linted = r.outcome.as_ref().ok()?;
    let mut fixes = FileFixes {
        path: r.path.clone(),
        ..FileFixes::default()
    };
    let mut candidates: Vec<(&Finding, &Fix)> = vec![];
    for f in &linted.findings {
        let Some(fix) = &f.fix else { continue };
        if fix.safety == Safety::Unsafe && !opts.unsafe_fixes {
            fixes.hidden_unsafe += 1;
        } else {
            candidates.push((f, fix));
        }
    }
    if candidates.is_empty() {
        return (fixes.hidden_unsafe > 0).then_some((fixes, None));
    }
    let model = &linted.model;
    let refuse_all = |fixes: &mut FileFixes, candidates: &[(&Finding, &Fix)], why: &str| {
        for (f, fix) in candidates {
            fixes.not_applied.push(format!(
                "fix not applied: {} ({}): {why}",
                f.code, fix.message
            ));
        }
    };
    if let Err(why) = editable(&r.path, model) {
        refuse_all(&mut fixes, &candidates, &why);
        return Some((fixes, None));
    }
    let text = model.source_text.as_deref().unwrap_or_default();
    // Only edits of the file itself: a span in an imported module is left to the user, and said.
    candidates.retain(|(f, fix)| match outside(model, text, fix) {
        None => true,
        Some(why) => {
            fixes.not_applied.push(format!(
                "fix not applied: {} ({}): {why}",
                f.code, fix.message
            ));
            false
        }
    });
    // Two findings with the same edits (one softmax two rules object to) are one fix.
    let mut unique: Vec<(Vec<&Finding>, &Fix)> = vec![];
    for (f, fix) in candidates {
        match unique.iter_mut().find(|(_, u)| same_edits(u, fix)) {
            Some((fs, _)) => fs.push(f),
            None => unique.push((vec![f], fix)),
        }
    }
    if unique.is_empty() {
        return Some((fixes, None));
    }
    for (i, (a, fa)) in unique.iter().enumerate() {
        if let Some((b, _)) = unique[i + 1..].iter().find(|(_, fb)| fa.overlaps(fb)) {
            let why = format!(
                "the fixes of {} and {} overlap, so no fix was applied in this file",
                a[0].code, b[0].code
            );
            let all: Vec<(&Finding, &Fix)> = unique
                .iter()
                .flat_map(|(fs, fix)| fs.iter().map(move |f| (*f, *fix)))
                .collect();
            refuse_all(&mut fixes, &all, &why);
            return Some((fixes, None));
        }
    }
    let json = model.format == Format::Notebook;
    let attempt = |set: &[&(Vec<&Finding>, &Fix)]| -> Result<(String, FileResult), String> {
        let edits: Vec<&Edit> = set.iter().flat_map(|(_, fix)| &fix.edits).collect();
        let new = apply(text, &edits, json);
        let after = engine::lint_bytes(&r.path, new.clone().into_bytes(), settings);
        let fixed: Vec<&Finding> = set.iter().flat_map(|(fs, _)| fs.iter().copied()).collect();
        verify(r, &after, &fixed)?;
        Ok((new, after))
    };
    let all: Vec<&(Vec<&Finding>, &Fix)> = unique.iter().collect();
    let mut chosen = all.clone();
    let mut result = attempt(&all);
    if let Err(why) = &result {
        // Find the fixes that hold on their own, then apply those together.
        chosen.clear();
        for u in &all {
            match attempt(&[*u]) {
                Ok(_) => chosen.push(*u),
                Err(own) => {
                    let why = if all.len() == 1 { why.clone() } else { own };
                    for f in &u.0 {
                        fixes.not_applied.push(format!(
                            "fix not applied: {} ({}): {why}",
                            f.code, u.1.message
                        ));
                    }
                }
            }
        }
        result = if chosen.is_empty() {
            Err(String::new())
        } else {
            attempt(&chosen)
        };
        if let (Err(together), false) = (&result, chosen.is_empty()) {
            for u in &chosen {
                for f in &u.0 {
                    fixes.not_applied.push(format!(
                        "fix not applied: {} ({}): applied together with the file's other fixes, {together}",
                        f.code, u.1.message
                    ));
                }
            }
        }
    }
    let Ok((new, after)) = result else {
        return Some((fixes, None));
    };
    for (fs, fix) in &chosen {
        for f in fs {
            fixes.applied.push(Applied {
                code: f.code,
                name: f.name,
                fix: fix.message.clone(),
            });
        }
    }
    fixes.change = Some((text.to_string(), new));
    Some((fixes, Some(after)))
}

/// Why the file cannot be edited in place, if it cannot.
fn editable(path: &Path, model: &Model) -> Result<(), String> {
    if !crate::fix::edits_in_place(model.format) {
        // Findings in these formats carry no fix (`Rule::stamp`); said here for any that would.
        return Err(
            "this format is not edited in place; change the model's source as the \
             finding says"
                .into(),
        );
    }
    let text = model
        .source_text
        .as_deref()
        .ok_or("the file's text is not available")?;
    let on_disk = std::fs::read(path).map_err(|e| format!("cannot read the file again ({e})"))?;
    if on_disk != text.as_bytes() {
        return Err("the file is not the UTF-8 text nnlint read (left alone)".into());
    }
    Ok(())
}

/// Why a fix's edits are not all inside the linted file's own text, if they are not.
fn outside(model: &Model, text: &str, fix: &Fix) -> Option<String> {
    for e in &fix.edits {
        if let Some(file) = model.locate(e.span).and_then(|at| at.path) {
            return Some(format!(
                "its edit is in {}, a module this file imports; --fix edits only the file a \
                 model is read from (make this edit by hand)",
                file.display()
            ));
        }
        if e.end() > text.len()
            || !text.is_char_boundary(e.span.offset)
            || !text.is_char_boundary(e.end())
        {
            return Some("its edit is not inside the file's text".into());
        }
    }
    None
}

fn same_edits(a: &Fix, b: &Fix) -> bool {
    let sorted = |f: &Fix| {
        let mut e = f.edits.clone();
        e.sort();
        e
    };
    sorted(a) == sorted(b)
}

/// `text` with `edits` (non-overlapping) applied from the end; in a notebook each replacement is
/// escaped for the JSON string it lands in.
pub fn apply(text: &str, edits: &[&Edit], json: bool) -> String {
    let mut sorted: Vec<&Edit> = edits.to_vec();
    sorted.sort_by_key(|e| (e.span.offset, e.span.len));
    let mut out = text.to_string();
    for e in sorted.iter().rev() {
        let replacement = if json {
            json_escape(&e.replacement)
        } else {
            e.replacement.clone()
        };
        out.replace_range(e.span.offset..e.end(), &replacement);
    }
    out
}

/// The edited file, linted again, must load, gain no syntax error and no finding, and have lost the
/// findings it was fixed for.
fn verify(before: &FileResult, after: &FileResult, fixed: &[&Finding]) -> Result<(), String> {
    let linted = after.outcome.as_ref().map_err(|e| {
        if e.not_checked {
            format!("nnlint could not check the edited file, so the fix is not proven ({e})")
        } else {
            format!("the edited file would not load ({e})")
        }
    })?;
    if after.syntax_errors().len() > before.syntax_errors().len() {
        return Err("the edit would add a syntax error".into());
    }
    let key = |f: &Finding| (f.code, f.message.clone());
    let mut left: HashMap<(&str, String), i64> = HashMap::new();
    for f in before.findings() {
        *left.entry(key(f)).or_default() += 1;
    }
    for f in fixed {
        *left.entry(key(f)).or_default() -= 1;
    }
    let mut after_counts: HashMap<(&str, String), i64> = HashMap::new();
    for f in &linted.findings {
        *after_counts.entry(key(f)).or_default() += 1;
    }
    for f in &linted.findings {
        let k = key(f);
        if after_counts[&k] > left.get(&k).copied().unwrap_or(0) {
            let existed = before.findings().iter().any(|b| key(b) == k);
            return Err(if existed && fixed.iter().any(|x| key(x) == k) {
                format!("{} would still fire after the edit", f.code)
            } else {
                format!("the edit would add a finding ({}: {})", f.code, f.message)
            });
        }
    }
    Ok(())
}

/// A unified diff of `old` → `new` (3 lines of context), labelled `a/<label>` and `b/<label>` as
/// `git diff` writes them, so `git apply` and `patch -p1` take it. Empty when they are equal.
pub fn unified_diff(label: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    let a = split_lines(old);
    let b = split_lines(new);
    // The changed stretch is found by the common prefix and suffix of lines, then narrowed to the
    // lines that differ inside it, block by block, by walking both sides where they agree.
    let blocks = changed_blocks(&a, &b);
    const CONTEXT: usize = 3;
    let mut out = format!("--- a/{label}\n+++ b/{label}\n");
    let mut i = 0;
    while i < blocks.len() {
        // Blocks closer than twice the context share a hunk.
        let mut j = i;
        while j + 1 < blocks.len() && blocks[j + 1].0 - (blocks[j].0 + blocks[j].1) <= 2 * CONTEXT {
            j += 1;
        }
        let (a0, b0) = (blocks[i].0, blocks[i].2);
        let pre = a0.min(CONTEXT);
        let last = blocks[j];
        let a_end = last.0 + last.1;
        let post = (a.len() - a_end).min(CONTEXT);
        let old_start = a0 - pre;
        let old_len = a_end + post - old_start;
        let new_start = b0 - pre;
        let new_len = last.2 + last.3 + post - new_start;
        let start = |s: usize, n: usize| if n == 0 { s } else { s + 1 };
        out.push_str(&format!(
            "@@ -{},{} +{},{} @@\n",
            start(old_start, old_len),
            old_len,
            start(new_start, new_len),
            new_len
        ));
        let mut at = old_start;
        for &(ao, al, bo, bl) in &blocks[i..=j] {
            for line in &a[at..ao] {
                push_line(&mut out, ' ', line);
            }
            for line in &a[ao..ao + al] {
                push_line(&mut out, '-', line);
            }
            for line in &b[bo..bo + bl] {
                push_line(&mut out, '+', line);
            }
            at = ao + al;
        }
        for line in &a[at..a_end + post] {
            push_line(&mut out, ' ', line);
        }
        i = j + 1;
    }
    out
}

fn push_line(out: &mut String, mark: char, line: &str) {
    out.push(mark);
    out.push_str(line);
    if !line.ends_with('\n') {
        out.push_str("\n\\ No newline at end of file\n");
    }
}

/// Lines with their terminators.
fn split_lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// The stretches that differ, as (old start, old count, new start, new count), in order. Lines
/// between two stretches are equal on both sides. Fixes change few lines in place, so a greedy walk
/// that resynchronises on the nearest equal line (looking ahead a bounded distance) finds them; where
/// it cannot, the rest is one stretch (still a correct diff).
fn changed_blocks(a: &[&str], b: &[&str]) -> Vec<(usize, usize, usize, usize)> {
    const LOOKAHEAD: usize = 64;
    let mut blocks = vec![];
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
            continue;
        }
        // The smallest (di + dj) with a[i + di] == b[j + dj] and the rest of a line run equal.
        let mut best: Option<(usize, usize)> = None;
        'search: for total in 1..=2 * LOOKAHEAD {
            for di in 0..=total.min(LOOKAHEAD) {
                let dj = total - di;
                if dj > LOOKAHEAD {
                    continue;
                }
                let (x, y) = (i + di, j + dj);
                if x < a.len() && y < b.len() && a[x] == b[y] {
                    best = Some((di, dj));
                    break 'search;
                }
                if x == a.len() && y == b.len() {
                    best = Some((di, dj));
                    break 'search;
                }
            }
        }
        let (di, dj) = best.unwrap_or((a.len() - i, b.len() - j));
        blocks.push((i, di, j, dj));
        i += di;
        j += dj;
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Span;

    #[test]
    fn edits_apply_from_the_end() {
        let text = "torch.log(torch.softmax(x, dim=1))";
        let e = [
            Edit::delete(Span { offset: 0, len: 10 }),
            Edit::replace(
                Span {
                    offset: 10,
                    len: 13,
                },
                "torch.log_softmax",
            ),
            Edit::delete(Span { offset: 33, len: 1 }),
        ];
        let refs: Vec<&Edit> = e.iter().collect();
        assert_eq!(apply(text, &refs, false), "torch.log_softmax(x, dim=1)");
        assert_eq!(
            apply(
                "\"a\"",
                &[&Edit::replace(Span { offset: 1, len: 1 }, "\"b\"")],
                true
            ),
            "\"\\\"b\\\"\""
        );
    }

    #[test]
    fn a_diff_has_hunks_with_context() {
        let old: String = (1..=20).map(|i| format!("line {i}\n")).collect();
        let new = old
            .replace("line 2\n", "line two\n")
            .replace("line 15\n", "")
            .replace("line 16\n", "line 16\nextra\n");
        let d = unified_diff("m.py", &old, &new);
        assert_eq!(
            d,
            "--- a/m.py\n+++ b/m.py\n@@ -1,5 +1,5 @@\n line 1\n-line 2\n+line two\n line 3\n \
             line 4\n line 5\n@@ -12,8 +12,8 @@\n line 12\n line 13\n line 14\n-line 15\n line \
             16\n+extra\n line 17\n line 18\n line 19\n"
        );
        assert_eq!(unified_diff("m.py", &old, &old), "");
        let d = unified_diff("m.py", "a\nb", "a\nc");
        assert!(
            d.ends_with("-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n")
        );
    }
}
