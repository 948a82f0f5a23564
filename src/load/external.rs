//! Safe reading of ONNX external data: refuses anything that could leave the model's folder.
