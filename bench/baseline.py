#!/usr/bin/env python3
"""One run of a Python baseline on one ONNX file, for bench/run.py (runs in bench/.venv).

    bench/.venv/bin/python bench/baseline.py checker PATH    onnx.load + onnx.checker.check_model(full_check=True)
    bench/.venv/bin/python bench/baseline.py checker-path PATH   onnx.checker.check_model(PATH, full_check=True)
    bench/.venv/bin/python bench/baseline.py doctor PATH     onnx-doctor's `check` command, in process

The last line printed is `seconds=<float>`: the time of the work itself, without interpreter start-up
and imports (run.py also times the whole process from outside).
"""

from __future__ import annotations

import contextlib
import io
import sys
import time


def checker(path: str) -> None:
    import onnx

    from google.protobuf.message import EncodeError

    model = onnx.load(path)
    try:
        onnx.checker.check_model(model, full_check=True)
    except (EncodeError, ValueError) as e:
        # With its external data loaded a > 2 GB model no longer fits one protobuf message, and onnx
        # asks for the path instead.
        if not isinstance(e, EncodeError) and "too large" not in str(e):
            raise
        onnx.checker.check_model(path, full_check=True)


def checker_path(path: str) -> None:
    import onnx

    onnx.checker.check_model(path, full_check=True)


def doctor(path: str) -> None:
    from onnx_doctor import _cli

    with contextlib.redirect_stdout(io.StringIO()):
        _cli.main(["check", path])


def head_bytes(path: str) -> None:
    """Prints the external-data bytes of the tensors on the head of graph output 0 (from the output
    back to, and including, the last MatMul/Gemm/Conv): what a numerical check has to read."""
    import onnx

    model = onnx.load(path, load_external_data=False)
    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    initializers = {t.name: t for t in g.initializer}
    total, todo, seen = 0, [g.output[0].name], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in initializers:
            t = initializers[name]
            if t.data_location == onnx.TensorProto.EXTERNAL:
                total += int({e.key: e.value for e in t.external_data}.get("length", 0))
            continue
        node = producer.get(name)
        if node is None:
            continue
        linear = node.op_type in ("MatMul", "Gemm", "Conv")
        todo += [i for i in node.input if i and (not linear or i in initializers)]
    print(f"bytes={total}")


def main() -> int:
    kind, path = sys.argv[1], sys.argv[2]
    if kind == "head-bytes":
        head_bytes(path)
        return 0
    run = {"checker": checker, "checker-path": checker_path, "doctor": doctor}[kind]
    if kind == "doctor":
        import onnx_doctor._cli  # noqa: F401  (imports are not timed)
    else:
        import onnx  # noqa: F401
    start = time.perf_counter()
    run(path)
    print(f"seconds={time.perf_counter() - start:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
