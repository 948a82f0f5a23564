//! Subcommands beyond linting: `nnlint eval` and the TensorProto `.pb` codec it reads and writes,
//! `--add-noqa`, which writes suppressions into the linted files, and `--fix`/`--diff`, which apply
//! the rules' fixes.

pub mod add_noqa;
pub mod eval;
pub mod fix;
pub mod tensor_file;
