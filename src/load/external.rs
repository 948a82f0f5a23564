//! Safe reading of ONNX external data: refuses anything that could leave the model's folder.
//!
//! Every check runs before a byte of tensor data is mapped, so a hostile `location`, `offset` or
//! `length` costs nothing but the refusal. Only the requested byte range is mapped and read.

use std::fs::{File, Metadata};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use bytes::Bytes;

use super::LoadError;

/// Returns the bytes `[offset, offset + length)` of the external data file `location`, which must lie
/// inside `base_dir` (the model's folder). `offset` defaults to 0 and `length` to the rest of the file.
pub fn read_external(
    base_dir: &Path,
    location: &str,
    offset: Option<&str>,
    length: Option<&str>,
) -> Result<Bytes, LoadError> {
    let relative = check_location(location)?;
    let offset = offset
        .map(|s| parse_size("offset", location, s))
        .transpose()?;
    let length = length
        .map(|s| parse_size("length", location, s))
        .transpose()?;

    let base = base_dir.canonicalize().map_err(|e| {
        refuse(
            location,
            format!(
                "the model folder {} cannot be resolved ({e})",
                base_dir.display()
            ),
        )
    })?;
    let leaf = check_no_symlinks(&base, &relative, location)?;
    let full = base.join(&relative);
    let canonical = full
        .canonicalize()
        .map_err(|e| refuse(location, format!("it cannot be resolved ({e})")))?;
    if !canonical.starts_with(&base) {
        return Err(refuse(location, "it resolves outside the model folder"));
    }
    check_regular_single_link(&leaf, location)?;

    let file =
        File::open(&full).map_err(|e| refuse(location, format!("it cannot be opened ({e})")))?;
    let opened = file
        .metadata()
        .map_err(|e| refuse(location, format!("it cannot be inspected ({e})")))?;
    if opened.dev() != leaf.dev() || opened.ino() != leaf.ino() {
        return Err(refuse(location, "it changed while it was being checked"));
    }
    check_regular_single_link(&opened, location)?;

    let size = opened.len();
    let start = offset.unwrap_or(0);
    if start > size {
        return Err(refuse(
            location,
            format!("offset {start} lies beyond the end of the file ({size} bytes)"),
        ));
    }
    let len = length.unwrap_or(size - start);
    let end = start
        .checked_add(len)
        .filter(|&end| end <= size)
        .ok_or_else(|| {
            refuse(
                location,
                format!("offset {start} + length {len} reaches beyond the end of the file ({size} bytes)"),
            )
        })?;
    if len == 0 {
        return Ok(Bytes::new());
    }
    let (start, end) = match (usize::try_from(start), usize::try_from(end)) {
        (Ok(s), Ok(e)) => (s, e),
        _ => return Err(refuse(location, "the byte range does not fit in memory")),
    };
    // SAFETY: the map is read-only and private to this process. Another process truncating the
    // file while it is mapped could still fault the reader; that is the accepted cost of zero-copy
    // loading, the same trade-off the model file itself makes.
    let map = unsafe {
        memmap2::MmapOptions::new()
            .offset(start as u64)
            .len(end - start)
            .map(&file)
    }
    .map_err(|e| refuse(location, format!("it cannot be memory-mapped ({e})")))?;
    let now = file
        .metadata()
        .map_err(|e| refuse(location, format!("it cannot be inspected ({e})")))?;
    if now.len() < end as u64 {
        return Err(refuse(location, "the file shrank while it was being read"));
    }
    // Only the range is mapped; read it in one go and nothing around it (no read-around on faults).
    let _ = map.advise(memmap2::Advice::Random);
    let _ = map.advise(memmap2::Advice::WillNeed);
    Ok(Bytes::from_owner(map))
}

fn refuse(location: &str, why: impl std::fmt::Display) -> LoadError {
    LoadError::new(format!(
        "refusing external data file '{}': {why}",
        location.escape_debug()
    ))
}

/// The location as a relative path of plain components, or why it is refused.
fn check_location(location: &str) -> Result<PathBuf, LoadError> {
    if location.is_empty() {
        return Err(LoadError::new(
            "refusing external data with an empty location",
        ));
    }
    if location.contains('\0') {
        return Err(refuse(location, "the path contains a NUL byte"));
    }
    if location.contains('\\') {
        return Err(refuse(
            location,
            "the path contains a backslash (ONNX locations are relative POSIX paths)",
        ));
    }
    let bytes = location.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Err(refuse(location, "the path starts with a drive letter"));
    }
    let path = Path::new(location);
    if path.is_absolute() || location.starts_with('/') {
        return Err(refuse(location, "the path is absolute"));
    }
    let mut relative = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => relative.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(refuse(location, "the path contains a '..' component"));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(refuse(location, "the path is absolute"));
            }
        }
    }
    if relative.as_os_str().is_empty() {
        return Err(refuse(location, "the path names no file"));
    }
    Ok(relative)
}

/// A decimal string without sign, as ONNX writes `offset` and `length`.
fn parse_size(what: &str, location: &str, text: &str) -> Result<u64, LoadError> {
    if text.starts_with('-') && text.len() > 1 && text[1..].bytes().all(|b| b.is_ascii_digit()) {
        return Err(refuse(location, format!("its {what} {text} is negative")));
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refuse(
            location,
            format!(
                "its {what} '{}' is not a decimal integer",
                text.escape_debug()
            ),
        ));
    }
    text.parse::<u64>()
        .map_err(|_| refuse(location, format!("its {what} {text} is too large")))
}

/// Refuses a symlink at any step from `base` down to the file; returns the file's own metadata.
fn check_no_symlinks(base: &Path, relative: &Path, location: &str) -> Result<Metadata, LoadError> {
    let mut current = base.to_path_buf();
    let mut last = None;
    for part in relative.components() {
        current.push(part);
        let meta = std::fs::symlink_metadata(&current).map_err(|e| {
            refuse(
                location,
                format!("{} cannot be inspected ({e})", current.display()),
            )
        })?;
        if meta.file_type().is_symlink() {
            return Err(refuse(
                location,
                format!("{} is a symbolic link", current.display()),
            ));
        }
        last = Some(meta);
    }
    last.ok_or_else(|| refuse(location, "the path names no file"))
}

fn check_regular_single_link(meta: &Metadata, location: &str) -> Result<(), LoadError> {
    if !meta.file_type().is_file() {
        return Err(refuse(location, "it is not a regular file"));
    }
    if meta.nlink() > 1 {
        return Err(refuse(
            location,
            format!(
                "it has {} hard links (a hard link can point outside the model folder)",
                meta.nlink()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    fn folder() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("w.bin"), (0u8..100).collect::<Vec<_>>()).unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub/x.bin"), [7u8; 16]).unwrap();
        dir
    }

    fn refused(dir: &Path, location: &str, offset: Option<&str>, length: Option<&str>) -> String {
        match read_external(dir, location, offset, length) {
            Ok(bytes) => panic!("{location:?} was read ({} bytes)", bytes.len()),
            Err(e) => e.message,
        }
    }

    #[test]
    fn reads_exact_range() {
        let dir = folder();
        let bytes = read_external(dir.path(), "w.bin", Some("10"), Some("5")).unwrap();
        assert_eq!(&bytes[..], &[10, 11, 12, 13, 14]);
        let rest = read_external(dir.path(), "w.bin", Some("95"), None).unwrap();
        assert_eq!(&rest[..], &[95, 96, 97, 98, 99]);
        let all = read_external(dir.path(), "./sub/x.bin", None, None).unwrap();
        assert_eq!(all.len(), 16);
        let empty = read_external(dir.path(), "w.bin", Some("100"), Some("0")).unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn refuses_bad_paths() {
        let dir = folder();
        let d = dir.path();
        assert!(refused(d, "", None, None).contains("empty location"));
        assert!(refused(d, "/etc/passwd", None, None).contains("absolute"));
        assert!(refused(d, "../w.bin", None, None).contains(".."));
        assert!(refused(d, "sub/../../w.bin", None, None).contains(".."));
        assert!(refused(d, "sub/../w.bin", None, None).contains(".."));
        assert!(refused(d, "w.bin\0.txt", None, None).contains("NUL"));
        assert!(refused(d, "C:\\weights\\w.bin", None, None).contains("backslash"));
        assert!(refused(d, "..\\w.bin", None, None).contains("backslash"));
        assert!(refused(d, "C:/w.bin", None, None).contains("drive letter"));
        assert!(refused(d, ".", None, None).contains("names no file"));
        assert!(refused(d, "missing.bin", None, None).contains("cannot be inspected"));
    }

    #[test]
    fn refuses_symlinks_anywhere_below_the_folder() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), b"secret").unwrap();
        let dir = folder();
        let d = dir.path();
        symlink(outside.path().join("secret"), d.join("link.bin")).unwrap();
        symlink(outside.path(), d.join("linkdir")).unwrap();
        symlink(d.join("w.bin"), d.join("inside.bin")).unwrap();
        assert!(refused(d, "link.bin", None, None).contains("symbolic link"));
        assert!(refused(d, "linkdir/secret", None, None).contains("symbolic link"));
        assert!(refused(d, "inside.bin", None, None).contains("symbolic link"));
    }

    #[test]
    fn a_symlinked_model_folder_is_fine() {
        let dir = folder();
        let holder = tempfile::tempdir().unwrap();
        let alias = holder.path().join("alias");
        symlink(dir.path(), &alias).unwrap();
        assert_eq!(
            read_external(&alias, "w.bin", None, Some("3"))
                .unwrap()
                .len(),
            3
        );
    }

    #[test]
    fn refuses_hard_links_and_non_regular_files() {
        let dir = folder();
        let d = dir.path();
        fs::hard_link(d.join("w.bin"), d.join("twin.bin")).unwrap();
        assert!(refused(d, "twin.bin", None, None).contains("hard links"));
        assert!(refused(d, "w.bin", None, None).contains("hard links"));
        assert!(refused(d, "sub", None, None).contains("not a regular file"));
    }

    #[test]
    fn refuses_a_fifo_without_blocking() {
        let dir = folder();
        let fifo = dir.path().join("pipe");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !matches!(status, Ok(s) if s.success()) {
            return;
        }
        assert!(refused(dir.path(), "pipe", None, None).contains("not a regular file"));
    }

    #[test]
    fn refuses_bad_offsets_and_lengths() {
        let dir = folder();
        let d = dir.path();
        assert!(refused(d, "sub/x.bin", Some("-1"), None).contains("negative"));
        assert!(refused(d, "sub/x.bin", None, Some("-16")).contains("negative"));
        for bad in ["", "1.5", "0x10", "+3", " 3", "3 ", "1e3", "abc", "-"] {
            let msg = refused(d, "sub/x.bin", Some(bad), None);
            assert!(msg.contains("not a decimal integer"), "{bad:?}: {msg}");
        }
        assert!(
            refused(d, "sub/x.bin", Some("99999999999999999999999"), None).contains("too large")
        );
        assert!(refused(d, "sub/x.bin", Some("17"), None).contains("beyond the end"));
        assert!(refused(d, "sub/x.bin", Some("8"), Some("9")).contains("beyond the end"));
        assert!(refused(d, "sub/x.bin", None, Some("17")).contains("beyond the end"));
        let huge = u64::MAX.to_string();
        assert!(refused(d, "sub/x.bin", Some("1"), Some(&huge)).contains("beyond the end"));
    }
}
