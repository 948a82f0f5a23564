//! The reader against files h5py wrote (fixtures/hdf5/, by fixtures/gen/generate.py
//! `hdf5_reader_variants`; `expected.json` holds every dataset's values as h5py reads them), and against
//! damage: every failure is an error, never a panic.

use std::path::PathBuf;

use super::data::unshuffle;
use super::*;

fn fixture(name: &str) -> Bytes {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/hdf5")
        .join(name);
    Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

fn expected() -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/hdf5/expected.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn to_f64(ds: &Dataset, bytes: &[u8]) -> Vec<f64> {
    let Datatype::Float { size, big_endian } = ds.dtype else {
        panic!("not a float: {:?}", ds.dtype);
    };
    bytes
        .chunks_exact(size as usize)
        .map(|c| {
            let mut v = c.to_vec();
            if big_endian {
                v.reverse();
            }
            match size {
                2 => f64::from(crate::load::keras::h5::f16_to_f32(u16::from_le_bytes([
                    v[0], v[1],
                ]))),
                4 => f64::from(f32::from_le_bytes([v[0], v[1], v[2], v[3]])),
                8 => f64::from_le_bytes(v.try_into().unwrap()),
                _ => panic!("size {size}"),
            }
        })
        .collect()
}

/// Every dataset h5py listed reads back bit-for-bit (f16 and f32 compared after widening), through
/// every layout and filter combination, and the string attributes decode.
#[test]
fn reads_what_h5py_wrote_in_both_file_layouts() {
    let all = expected();
    for name in ["variants_earliest.h5", "variants_latest.h5"] {
        let want = &all[name];
        let file = File::open(fixture(name)).unwrap();
        let root = file.root().unwrap();
        let title = file.attribute(&root, "title").unwrap().unwrap();
        assert_eq!(title.dtype, Datatype::VlenString, "{name}");
        assert_eq!(
            file.attribute_strings(&title, "title").unwrap(),
            vec![want["title"].as_str().unwrap().to_string()]
        );
        let names = file.attribute(&root, "names").unwrap().unwrap();
        assert!(matches!(names.dtype, Datatype::FixedString { .. }));
        let names = file.attribute_strings(&names, "names").unwrap();
        let want_names: Vec<String> = want["names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(names, want_names);
        assert!(file.attribute(&root, "absent").unwrap().is_none());

        let mut checked = 0;
        for (path, values) in want["datasets"].as_object().unwrap() {
            let obj = file
                .path(&root, path)
                .unwrap_or_else(|e| panic!("{name}: {path}: {e}"))
                .unwrap_or_else(|| panic!("{name}: {path} not found"));
            assert!(file.is_dataset(&obj));
            let ds = file.dataset(&obj).unwrap();
            let bytes = file.read(&ds).unwrap();
            let got = to_f64(&ds, &bytes);
            let want: Vec<f64> = values
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            // serde_json's float parsing may be one ulp off in f64: compare f16/f32 data at their own
            // precision exactly, f64 data to 1e-15.
            assert_eq!(got.len(), want.len(), "{name}: {path}");
            let narrow = ds.dtype.size() <= 4;
            for (g, w) in got.iter().zip(&want) {
                let same = if narrow {
                    *g as f32 == *w as f32
                } else {
                    (g - w).abs() <= 1e-15 * w.abs().max(1.0)
                };
                assert!(same, "{name}: {path}: {g} vs {w}");
            }
            checked += 1;
        }
        assert_eq!(checked, 86, "{name}: datasets checked");
    }
}

#[test]
fn the_superblock_and_object_header_versions_are_the_ones_intended() {
    let early = fixture("variants_earliest.h5");
    let late = fixture("variants_latest.h5");
    assert_eq!(early[8], 0, "superblock version of libver earliest");
    assert!(late[8] >= 2, "superblock version of libver latest");
    let file = File::open(late).unwrap();
    let root_at = (file.base + file.root) as usize;
    assert_eq!(&file.data[root_at..root_at + 4], b"OHDR");
}

/// Truncating a real file anywhere, or flipping any byte of its metadata, gives an error or a
/// value, never a panic, and stays within the object budget.
#[test]
fn damage_anywhere_is_an_error_not_a_panic() {
    for name in ["variants_earliest.h5", "variants_latest.h5"] {
        damage(fixture(name));
    }
}

fn damage(bytes: Bytes) {
    let walk = |data: Bytes| -> Result<usize> {
        let file = File::open(data)?;
        let root = file.root()?;
        let mut n = 0;
        for (name, addr) in file.links(&root)? {
            let obj = file.object(addr)?;
            let _ = file.attribute(&root, &name);
            for (_, a) in file.links(&obj).unwrap_or_default() {
                let o = file.object(a)?;
                for (_, d) in file.links(&o).unwrap_or_default() {
                    let d = file.object(d)?;
                    if file.is_dataset(&d) {
                        file.read(&file.dataset(&d)?)?;
                        n += 1;
                    }
                }
            }
        }
        Ok(n)
    };
    assert!(walk(bytes.clone()).unwrap() > 0);
    for cut in (0..bytes.len()).step_by(97) {
        let _ = walk(bytes.slice(..cut));
    }
    for at in (0..4096.min(bytes.len())).step_by(3) {
        let mut v = bytes.to_vec();
        v[at] ^= 0xA5;
        let _ = walk(Bytes::from(v));
    }
}

#[test]
fn a_cyclic_continuation_is_refused() {
    // A v1 object header whose only message continues into itself.
    let mut f = Vec::new();
    f.extend_from_slice(SIGNATURE);
    f.extend_from_slice(&[0, 0, 0, 0, 0, 8, 8, 0, 4, 0, 16, 0, 0, 0, 0, 0]);
    for v in [0u64, u64::MAX, 200, u64::MAX, 0, 96] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    f.extend_from_slice(&[0; 24]);
    f.resize(96, 0);
    // Header at 96: version 1, 1 message, refcount 1, size 24.
    f.extend_from_slice(&[1, 0, 1, 0, 1, 0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0]);
    // Continuation message (0x10), 16 bytes: offset 112 (its own message block), length 24.
    f.extend_from_slice(&[0x10, 0, 16, 0, 0, 0, 0, 0]);
    f.extend_from_slice(&112u64.to_le_bytes());
    f.extend_from_slice(&24u64.to_le_bytes());
    f.resize(200, 0);
    let file = File::open(Bytes::from(f)).unwrap();
    let e = file.root().err().expect("refused");
    assert!(e.0.contains("reached twice"), "{e}");
}

#[test]
fn unshuffle_undoes_the_byte_transpose() {
    let data: Vec<u8> = (0..12).collect();
    // Shuffled by 4-byte elements: all first bytes, then all second bytes...
    let shuffled = [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11];
    assert_eq!(unshuffle(&shuffled, 4), data);
    assert_eq!(unshuffle(&[1, 2, 3], 1), vec![1, 2, 3]);
}

/// What the `hdf5` fuzz target does: every group, dataset and the attributes Keras uses, read.
/// Inputs the fuzzer once broke (fixtures/malformed/regressions/*.h5) are walked as the fuzz target
/// walks them, without a panic.
#[test]
fn fuzz_regressions_walk_cleanly() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/malformed/regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "h5") {
            let bytes = Bytes::from(std::fs::read(&path).unwrap());
            if let Ok(file) = File::open(bytes)
                && let Ok(root) = file.root()
            {
                file.read_everything(&root);
            }
            n += 1;
        }
    }
    assert!(n >= 1);
}
