#!/usr/bin/python3
"""Checks ONNX files that locnet exported with Python's onnx package (optional; CI has no onnx module).

The C++ tests (tests/interop/test_onnx_export.cpp) already run ONNX's C++ checker and shape inference on every
model they export. This script runs the Python side on the same files: onnx.checker.check_model(full_check=True)
and strict shape inference. Usage, with Debian's python3-onnx:

    mkdir -p /tmp/onnx_export
    LOCNET_ONNX_EXPORT_DIR=/tmp/onnx_export build/bin/locnet_tests --gtest_filter='OnnxExport*'
    /usr/bin/python3 tests/interop/onnx_export/check.py /tmp/onnx_export

Exits 1 naming each file that fails, 0 when all pass.
"""
import pathlib
import sys

import onnx


def check(path: pathlib.Path) -> str:
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model, full_check=True)
        onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except Exception as e:  # the checker raises several types
        return f"{path.name}: {type(e).__name__}: {e}"
    return ""


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    files = sorted(pathlib.Path(sys.argv[1]).glob("*.onnx"))
    failures = [msg for msg in map(check, files) if msg]
    for msg in failures:
        print(msg)
    print(f"{len(files) - len(failures)} of {len(files)} files pass onnx {onnx.__version__}'s checker")
    return 1 if failures or not files else 0


if __name__ == "__main__":
    sys.exit(main())
