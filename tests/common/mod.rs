//! What the integration tests share: running the `nnlint` binary, linting a file in process, and
//! "lint and assert silent". A test file says `mod common;` and uses the parts it needs.

#![allow(dead_code)] // each test crate uses a part

use std::path::{Path, PathBuf};

use nnlint::engine::{self, Linted, Settings};
use nnlint::finding::Finding;

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A path under the repository root (`fixtures/NNL001/...`).
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(ROOT).join(rel)
}

/// Writes `bytes` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Runs the binary at the repository root; see [`nnlint_in`].
pub fn nnlint(args: &[&str]) -> (i32, String, String) {
    nnlint_in(Path::new(ROOT), args)
}

/// Runs the binary in `dir` (config discovery starts there) with plain output (`NO_COLOR`, no
/// `COLUMNS`): exit code (-1 when killed), stdout, stderr. Output must be UTF-8.
pub fn nnlint_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    nnlint_with_stdin(dir, args, None)
}

/// [`nnlint_in`] with `input` on standard input.
pub fn nnlint_with_stdin(dir: &Path, args: &[&str], input: Option<&[u8]>) -> (i32, String, String) {
    let mut cmd = assert_cmd::Command::cargo_bin("nnlint").unwrap();
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("COLUMNS")
        .args(args);
    if let Some(input) = input {
        cmd.write_stdin(input);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// [`nnlint`] with `input` on standard input.
pub fn nnlint_stdin(args: &[&str], input: &[u8]) -> (i32, String, String) {
    nnlint_with_stdin(Path::new(ROOT), args, Some(input))
}

/// Lints `path` in process as the CLI does; a file that does not load fails the test, named.
pub fn lint(path: &Path) -> Linted {
    engine::lint_path(path, &Settings::default())
        .outcome
        .unwrap_or_else(|e| panic!("{}: failed to load: {e}", path.display()))
}

/// No finding: the file was checked and is clean, or nnlint says it could not check it (the note
/// names where it stopped, and is returned). Any other load error fails the test.
pub fn assert_silent(path: &Path) -> Option<String> {
    match engine::lint_path(path, &Settings::default()).outcome {
        Ok(l) => {
            assert!(
                l.findings.is_empty(),
                "{}: {:?}",
                path.display(),
                codes(&l.findings)
            );
            None
        }
        Err(e) if e.not_checked => Some(e.message),
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

/// The codes of `findings`, in order.
pub fn codes(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.code).collect()
}
