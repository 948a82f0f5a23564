//! Subcommands beyond linting: `nnlint eval` and the TensorProto `.pb` codec it reads and writes.

pub mod eval;
pub mod tensor_file;
