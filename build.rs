//! Reads every rule file under `rules/` with syn and writes the registry into OUT_DIR.
//!
//! A rule file is `rules/nnlNNN_kebab_name.rs`. Its `//!` docs start with a one-line summary, then the
//! fixed headings below; it declares `pub const SEVERITY: Severity` and `pub fn check(..)`, and may
//! declare `pub fn fix(..)` (then its docs need a `## Fix safety` heading after `## Fix`; a rule
//! without one gets "No automatic fix." under that heading). The code (`NNL001`) and the kebab name
//! (`single-unit-softmax`) come from the file name, so they cannot drift.

use std::fmt::Write as _;
use std::path::Path;

const HEADINGS: &[&str] = &[
    "## What it finds",
    "## Why it matters",
    "## Symptom",
    "## Example",
    "## Fix",
    "## Formats",
    "## References",
];

struct Rule {
    module: String,
    code: String,
    name: String,
    summary: String,
    docs: String,
    path: String,
    has_fix: bool,
}

const FIX_SAFETY: &str = "## Fix safety";

fn main() {
    build_id();
    let dir = manifest_dir().join("rules");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("rules/ directory")
        .map(|e| e.expect("rules/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    entries.sort();
    let rules: Vec<Rule> = entries.iter().map(|p| parse_rule(p)).collect();

    let mut out = String::new();
    for r in &rules {
        writeln!(out, "#[path = {:?}]\npub mod {};", r.path, r.module).unwrap();
    }
    out.push_str(
        "\n/// Every rule, sorted by code.\npub static RULES: &[crate::rule::Rule] = &[\n",
    );
    for r in &rules {
        writeln!(
            out,
            "    crate::rule::Rule {{ code: {:?}, name: {:?}, severity: {}::SEVERITY, \
             summary: {:?}, docs: {:?}, check: {}::check, fix: {} }},",
            r.code,
            r.name,
            r.module,
            r.summary,
            r.docs,
            r.module,
            if r.has_fix {
                format!("Some({}::fix)", r.module)
            } else {
                "None".to_string()
            }
        )
        .unwrap();
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("registry.rs");
    std::fs::write(dest, out).unwrap();
}

/// `NNLINT_BUILD` for `nnlint --version`: the commit it was built from (when built from a git
/// checkout) and the profile.
fn build_id() {
    let root = manifest_dir();
    for watched in [".git/HEAD", ".git/refs/heads"] {
        if root.join(watched).exists() {
            println!("cargo:rerun-if-changed={}", root.join(watched).display());
        }
    }
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "no git commit".to_string());
    let profile = std::env::var("PROFILE").unwrap_or_default();
    println!("cargo:rustc-env=NNLINT_BUILD={commit}, {profile} build");
}

fn parse_rule(path: &Path) -> Rule {
    let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
    let fail = |msg: &str| -> ! { panic!("{}: {msg}", path.display()) };
    let (code_part, name_part) = stem
        .split_once('_')
        .unwrap_or_else(|| fail("file name must be nnlNNN_name.rs"));
    if !(code_part.len() == 6
        && code_part.starts_with("nnl")
        && code_part[3..].chars().all(|c| c.is_ascii_digit()))
    {
        fail("file name must start with nnlNNN_");
    }
    let text = std::fs::read_to_string(path).unwrap();
    let file = syn::parse_file(&text).unwrap_or_else(|e| fail(&format!("does not parse: {e}")));

    let mut doc_lines = vec![];
    for attr in &file.attrs {
        if attr.path().is_ident("doc")
            && let syn::Meta::NameValue(nv) = &attr.meta
            && let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
        {
            let line = s.value();
            doc_lines.push(line.strip_prefix(' ').unwrap_or(&line).to_string());
        }
    }
    let mut docs = doc_lines.join("\n").trim().to_string();
    let summary = doc_lines.first().cloned().unwrap_or_default();
    if summary.is_empty() || summary.ends_with('.') {
        fail("docs must start with a one-line summary without a trailing period");
    }
    let mut last = 0;
    for h in HEADINGS {
        match docs.find(&format!("\n{h}\n")) {
            Some(at) if at >= last => last = at,
            Some(_) => fail(&format!("heading `{h}` is out of order")),
            None => fail(&format!("missing heading `{h}`")),
        }
    }

    let mut severity = None;
    let (mut has_check, mut has_fix) = (false, false);
    for item in &file.items {
        match item {
            syn::Item::Const(c) if c.ident == "SEVERITY" => {
                severity = Some(quote_path(&c.expr));
            }
            syn::Item::Fn(f) if f.sig.ident == "check" => has_check = true,
            syn::Item::Fn(f) if f.sig.ident == "fix" => has_fix = true,
            _ => {}
        }
    }
    // Every rule's docs say whether `--fix` can remove its findings, right after `## Fix`.
    let safety = docs.find(&format!("\n{FIX_SAFETY}\n"));
    match (has_fix, safety) {
        (true, None) => fail(&format!("has `pub fn fix` but no `{FIX_SAFETY}` heading")),
        (false, Some(_)) => fail(&format!("has a `{FIX_SAFETY}` heading but no `pub fn fix`")),
        (true, Some(at)) => {
            let fix = docs.find("\n## Fix\n").unwrap_or(0);
            let formats = docs.find("\n## Formats\n").unwrap_or(docs.len());
            if !(fix < at && at < formats) {
                fail(&format!(
                    "`{FIX_SAFETY}` goes between `## Fix` and `## Formats`"
                ));
            }
        }
        (false, None) => {
            let at = docs.find("\n## Formats\n").unwrap_or(docs.len());
            docs.insert_str(at, &format!("\n{FIX_SAFETY}\nNo automatic fix.\n"));
        }
    }
    let severity = severity.unwrap_or_else(|| fail("missing `pub const SEVERITY`"));
    if !["Severity::Error", "Severity::Warning", "Severity::Info"].contains(&severity.as_str()) {
        fail("SEVERITY must be Severity::Error, Severity::Warning or Severity::Info");
    }
    if !has_check {
        fail("missing `pub fn check`");
    }
    Rule {
        module: stem.clone(),
        code: code_part.to_uppercase(),
        name: name_part.replace('_', "-"),
        summary,
        docs,
        path: path.display().to_string(),
        has_fix,
    }
}

fn quote_path(expr: &syn::Expr) -> String {
    match expr {
        syn::Expr::Path(p) => p
            .path
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect::<Vec<_>>()
            .join("::"),
        _ => panic!("SEVERITY must be a path such as Severity::Error"),
    }
}

/// The crate's folder, read when the script runs: a build script compiled for one copy of the crate
/// may be reused for another (pre-commit builds a temporary clone in the same target folder).
fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    )
}
