//! nnlint: a linter for neural-network model definitions. See docs/design.md for the map.

pub mod advice;
pub mod analysis;
pub mod cmd;
pub mod config;
pub mod discover;
pub mod engine;
pub mod eval;
pub mod finding;
pub mod fix;
pub mod intent;
pub mod ir;
pub mod load;
pub mod ops;
pub mod registry;
pub mod report;
pub mod rule;
pub mod rules;
pub mod settings;
pub mod shape;
pub mod suppress;
