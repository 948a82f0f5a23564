//! `.keras` archives: a zip holding `config.json`, `metadata.json` and `model.weights.h5`. Entries are
//! read into memory with their declared sizes checked first; nothing is extracted to disk.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

use zip::{CompressionMethod, ZipArchive};

use crate::load::LoadError;

/// Largest `config.json` accepted (the keras.applications configs we tried are 21 KB to 0.76 MB).
pub const MAX_CONFIG_BYTES: u64 = 64 << 20;
const MAX_METADATA_BYTES: u64 = 1 << 20;
/// Deflate cannot compress better than about 1032:1; a higher declared ratio is a lie.
const MAX_DEFLATE_RATIO: u64 = 1032;
const MAX_ENTRIES: usize = 100_000;

pub struct Contents {
    pub config: String,
    pub metadata: Option<String>,
    /// Name and declared size of the weights file, when present.
    pub weights: Option<(String, u64)>,
    /// Where the weights file's bytes are: a stored entry by its exact range in the archive (read
    /// through a memory map by the caller), a deflated one inflated here within a limit.
    pub weights_data: Option<WeightsData>,
}

pub enum WeightsData {
    Stored {
        start: u64,
        size: u64,
    },
    Inflated(Vec<u8>),
    /// Why the weights entry cannot be read (the architecture still is).
    Unreadable(String),
}

/// Largest deflated `model.weights.h5` inflated into memory (Keras stores it uncompressed).
const MAX_INFLATED_WEIGHTS: u64 = 256 << 20;

fn refuse(what: impl std::fmt::Display) -> LoadError {
    LoadError::new(format!("not a readable Keras archive: {what}"))
}

pub fn read(path: &Path) -> Result<Contents, LoadError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| LoadError::new(format!("cannot read the file ({e})")))?;
    if !meta.is_file() {
        return Err(LoadError::new("not a regular file"));
    }
    let file =
        File::open(path).map_err(|e| LoadError::new(format!("cannot open the file ({e})")))?;
    read_from(BufReader::new(file))
}

/// Reads the archive from any seekable source (a file, or bytes in memory for fuzzing and tests).
pub fn read_from<R: Read + Seek>(reader: R) -> Result<Contents, LoadError> {
    let mut zip =
        ZipArchive::new(reader).map_err(|e| refuse(format_args!("not a zip file ({e})")))?;
    if zip.len() > MAX_ENTRIES {
        return Err(refuse(format_args!(
            "{} entries (limit {MAX_ENTRIES})",
            zip.len()
        )));
    }
    let Some(index) = zip.index_for_name("config.json") else {
        let names: Vec<String> = zip
            .file_names()
            .take(5)
            .map(|n| format!("`{}`", n.unwrap_or_default()))
            .collect();
        let listed = if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        };
        return Err(refuse(format_args!(
            "the zip has no `config.json` (entries: {listed})"
        )));
    };
    let config = read_entry(&mut zip, index, "config.json", MAX_CONFIG_BYTES)?;
    let config =
        String::from_utf8(config).map_err(|_| refuse("`config.json` is not UTF-8 text"))?;
    let metadata = zip
        .index_for_name("metadata.json")
        .and_then(|i| read_entry(&mut zip, i, "metadata.json", MAX_METADATA_BYTES).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let weights = zip
        .index_for_name("model.weights.h5")
        .or_else(|| zip.index_for_name("model.weights.npz"))
        .and_then(|i| {
            zip.by_index_raw(i)
                .ok()
                .map(|f| (f.name().unwrap_or_default().to_string(), f.size()))
        });
    let weights_data = zip
        .index_for_name("model.weights.h5")
        .map(|i| weights_entry(&mut zip, i));
    Ok(Contents {
        config,
        metadata,
        weights,
        weights_data,
    })
}

fn weights_entry<R: Read + Seek>(zip: &mut ZipArchive<R>, index: usize) -> WeightsData {
    let stored = match zip.by_index_raw(index) {
        Ok(f) if f.encrypted() => return WeightsData::Unreadable("it is encrypted".into()),
        Ok(f) if f.compression() == CompressionMethod::Stored => {
            if f.compressed_size() != f.size() {
                return WeightsData::Unreadable(format!(
                    "it is stored uncompressed but declares {} bytes in {}",
                    f.size(),
                    f.compressed_size()
                ));
            }
            match f.data_start() {
                Some(start) => Some((start, f.size())),
                None => return WeightsData::Unreadable("its data offset is unknown".into()),
            }
        }
        Ok(_) => None,
        Err(e) => return WeightsData::Unreadable(format!("it cannot be opened ({e})")),
    };
    match stored {
        Some((start, size)) => WeightsData::Stored { start, size },
        None => match read_entry(zip, index, "model.weights.h5", MAX_INFLATED_WEIGHTS) {
            Ok(bytes) => WeightsData::Inflated(bytes),
            Err(e) => WeightsData::Unreadable(e.message),
        },
    }
}

fn read_entry<R: Read + Seek>(
    zip: &mut ZipArchive<R>,
    index: usize,
    name: &str,
    limit: u64,
) -> Result<Vec<u8>, LoadError> {
    let entry = zip
        .by_index(index)
        .map_err(|e| refuse(format_args!("cannot open `{name}` ({e})")))?;
    if entry.encrypted() {
        return Err(refuse(format_args!("`{name}` is encrypted")));
    }
    let size = entry.size();
    let packed = entry.compressed_size();
    if size > limit {
        return Err(refuse(format_args!(
            "`{name}` declares {size} bytes, more than the limit of {limit}"
        )));
    }
    match entry.compression() {
        CompressionMethod::Stored if packed != size => {
            return Err(refuse(format_args!(
                "`{name}` is stored uncompressed but declares {size} bytes in {packed}"
            )));
        }
        CompressionMethod::Stored => {}
        CompressionMethod::Deflated if size > packed.saturating_mul(MAX_DEFLATE_RATIO) + 1024 => {
            return Err(refuse(format_args!(
                "`{name}` declares {size} bytes from {packed} compressed, a ratio deflate cannot reach"
            )));
        }
        CompressionMethod::Deflated => {}
        other => {
            return Err(refuse(format_args!(
                "`{name}` uses compression method {other:?}; only stored and deflate are read"
            )));
        }
    }
    let mut buf = Vec::with_capacity(size as usize);
    entry
        .take(size + 1)
        .read_to_end(&mut buf)
        .map_err(|e| refuse(format_args!("cannot read `{name}` ({e})")))?;
    if buf.len() as u64 != size {
        return Err(refuse(format_args!(
            "`{name}` declares {size} bytes but holds {}",
            buf.len()
        )));
    }
    Ok(buf)
}
