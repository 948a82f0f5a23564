//! ONNX front end: decodes a `ModelProto` from a memory map (weights stay in the map) and lowers it to the IR.

use std::path::Path;

use super::LoadError;
use crate::ir::Model;

pub fn load_onnx(_path: &Path) -> Result<Model, LoadError> {
    Err(LoadError::new("ONNX loading is not implemented yet"))
}
