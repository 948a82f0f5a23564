//! Module dependencies point one way. `LAYERS` is the order (written only here; docs/design.md
//! states it in words): a module may use modules of lower layers only, never one of its own layer or
//! above. The scan reads every `crate::` path in `src/` and `rules/` (comments skipped), grouped
//! imports (`use crate::{ir, ops::Act}`) included.

use std::path::{Path, PathBuf};

/// Lowest first. `rules` is `src/rules.rs` with the files under `rules/` and the table `build.rs`
/// writes for them.
const LAYERS: &[&[&str]] = &[
    &["ir"],
    &["ops", "shape", "suppress", "fix"],
    &["load"],
    &["eval"],
    &["advice", "analysis", "finding", "intent"],
    &["rule"],
    &["rules"],
    &["registry"],
    &["config"],
    &["discover", "settings"],
    &["engine"],
    &["cmd", "report"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The top-level module a file belongs to.
fn module_of(root: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(root).unwrap();
    let mut parts = rel.iter().map(|p| p.to_string_lossy().into_owned());
    let first = parts.next().unwrap();
    if first == "rules" || first == "build.rs" {
        return "rules".into();
    }
    let second = parts.next().unwrap();
    second.trim_end_matches(".rs").to_string()
}

/// The source without `//` comments (doc links are not dependencies).
fn code_only(source: &str) -> String {
    source
        .lines()
        .map(|line| match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first path segment after each `crate::`, with its 1-based line: `crate::ir::Model` gives
/// `ir`, `crate::{ir::Model, ops}` gives `ir` and `ops`.
fn crate_uses(source: &str) -> Vec<(String, usize)> {
    let code = code_only(source);
    let bytes = code.as_bytes();
    let line_at = |i: usize| code[..i].matches('\n').count() + 1;
    let ident = |from: usize| -> String {
        code[from..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = vec![];
    for (at, _) in code.match_indices("crate::") {
        let preceded = at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
        if preceded {
            continue; // `my_crate::`
        }
        let start = at + "crate::".len();
        if bytes.get(start) != Some(&b'{') {
            out.push((ident(start), line_at(at)));
            continue;
        }
        // A group: the first segment of every top-level item.
        let (mut depth, mut item_start) = (0usize, true);
        for (i, c) in code[start..].char_indices() {
            let i = start + i;
            match c {
                '{' => {
                    depth += 1;
                    if depth > 1 {
                        item_start = false;
                    }
                    continue;
                }
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                ',' if depth == 1 => {
                    item_start = true;
                    continue;
                }
                c if c.is_whitespace() => continue,
                _ if item_start && depth == 1 => {
                    out.push((ident(i), line_at(i)));
                    item_start = false;
                }
                _ => {}
            }
        }
    }
    out
}

/// Every use of a module of the same or a higher layer in `source`, which belongs to `module`.
fn upward_uses(module: &str, source: &str) -> Vec<String> {
    let Some(own) = layer_of(module) else {
        return vec![format!(
            "module `{module}` is in no layer of tests/layers.rs"
        )];
    };
    crate_uses(source)
        .into_iter()
        .filter(|(used, _)| used != module && used != "self" && !used.is_empty())
        .filter_map(|(used, line)| match layer_of(&used) {
            Some(l) if l < own => None,
            Some(_) => Some(format!("line {line}: `{module}` uses `{used}`")),
            None => Some(format!(
                "line {line}: `{module}` uses `{used}`, which is in no layer"
            )),
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn module_dependencies_point_down_the_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("build.rs")];
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("rules"), &mut files);
    files.sort();
    let mut problems = vec![];
    let mut modules = 0;
    for file in &files {
        let module = module_of(root, file);
        if module == "lib" || module == "main" {
            continue; // the crate root declares every module; the binary uses the library
        }
        modules += 1;
        let source = std::fs::read_to_string(file).unwrap();
        for p in upward_uses(&module, &source) {
            problems.push(format!(
                "{}: {p}",
                file.strip_prefix(root).unwrap().display()
            ));
        }
    }
    assert!(modules > 50, "only {modules} files scanned");
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn every_top_level_module_has_a_layer() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod ")?.strip_suffix(';'))
        .collect();
    assert!(declared.len() > 10, "{declared:?}");
    for m in &declared {
        assert!(
            layer_of(m).is_some(),
            "`{m}` is in no layer of tests/layers.rs"
        );
    }
    let listed: Vec<&str> = LAYERS.iter().flat_map(|l| l.iter().copied()).collect();
    for m in &listed {
        assert!(
            declared.contains(m),
            "`{m}` is listed but src/lib.rs has no such module"
        );
    }
}

#[test]
fn the_scan_catches_an_upward_import() {
    // `analysis` using `rule` closes the circle this test was written against.
    let source = "//! Helpers.\n\nuse crate::ir::Model;\nuse crate::rule::RuleContext;\n";
    assert_eq!(
        upward_uses("analysis", source),
        ["line 4: `analysis` uses `rule`"]
    );
    // Grouped, nested and inline paths; a use within the same layer is refused too.
    let source = "use crate::{\n    ir::{Graph, Model},\n    engine,\n};\nfn f() { crate::intent::infer(); }\n";
    assert_eq!(
        upward_uses("finding", source),
        [
            "line 3: `finding` uses `engine`",
            "line 5: `finding` uses `intent`"
        ]
    );
    // Downward uses, comments and doc links pass.
    let source = "use crate::{ir, ops::Act};\n/// See [`crate::engine::lint_model`].\nfn g() { crate::shape::infer(); } // crate::report\n";
    assert!(upward_uses("analysis", source).is_empty());
    // A module nobody placed is named.
    assert_eq!(
        upward_uses("newmod", "use crate::ir;"),
        ["module `newmod` is in no layer of tests/layers.rs"]
    );
}
