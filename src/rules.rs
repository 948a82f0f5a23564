//! The rule pack: one file per rule under `rules/`, wired in by `build.rs` (see docs/design.md).

include!(concat!(env!("OUT_DIR"), "/registry.rs"));
