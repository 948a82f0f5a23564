//! The reference evaluator: ONNX semantics in ndarray, one small function per op family.
