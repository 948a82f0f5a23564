//! Subcommands beyond linting: `nnlint eval` and the TensorProto `.pb` codec it reads and writes,
//! and `--add-noqa`, which writes suppressions into the linted files.

pub mod add_noqa;
pub mod eval;
pub mod tensor_file;
