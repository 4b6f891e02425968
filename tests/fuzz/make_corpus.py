#!/usr/bin/python3
"""Writes the seed corpora tests/fuzz/corpus/<target>/ (small valid files, plus a few near-misses).

Files named ok-* must be accepted by their target (tests/fuzz/test_fuzz_inputs.cpp checks it), so the fuzzer
starts from inputs that reach deep into each reader. Run: python3 tests/fuzz/make_corpus.py
"""
import gzip
import json
import os
import struct
import subprocess

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    os.makedirs(os.path.join(ROOT, target), exist_ok=True)
    with open(os.path.join(ROOT, target, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def npy(descr, shape, payload, version=1, fortran=False):
    shape_s = "(" + "".join(f"{d}, " for d in shape).rstrip(" ") + ")" if len(shape) != 1 else f"({shape[0]},)"
    if not shape:
        shape_s = "()"
    header = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape_s}, }}"
    prefix = 10 if version == 1 else 12
    total = (prefix + len(header) + 1 + 63) // 64 * 64
    header += " " * (total - prefix - len(header) - 1) + "\n"
    size = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + size + header.encode() + payload


def safetensors(tensors, metadata=None):
    header, data = {}, b""
    for name, (dtype, shape, payload) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    if metadata is not None:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def idx(type_code, dims, payload):
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def f32(*v):
    return struct.pack(f"<{len(v)}f", *v)


def main():
    put("npy", "ok-f32-2x3", npy("<f4", [2, 3], f32(1, 2, 3, 4, 5, 6)))
    put("npy", "ok-f64-scalar", npy("<f8", [], struct.pack("<d", 2.5)))
    put("npy", "ok-f16-4", npy("<f2", [4], struct.pack("<4e", 1, -2, 0.5, 65504)))
    put("npy", "ok-bf16-empty", npy("bfloat16", [0, 3], b""))
    put("npy", "ok-v2-1x1x2", npy("<f4", [1, 1, 2], f32(7, 8), version=2))
    put("npy", "fortran", npy("<f4", [2, 1], f32(1, 2), fortran=True))
    put("npy", "short-data", npy("<f4", [3], f32(1, 2)))

    put("safetensors", "ok-two", safetensors({"a": ("F32", [2, 2], f32(1, 2, 3, 4)),
                                              "b.bias": ("F64", [1], struct.pack("<d", -1))}, {"k": "v"}))
    put("safetensors", "ok-empty", safetensors({}))
    put("safetensors", "ok-halves", safetensors({"h": ("F16", [2], struct.pack("<2e", 1, 2)),
                                                 "g": ("BF16", [0], b"")}))
    put("safetensors", "overlap", safetensors({"a": ("F32", [1], f32(1))})[:-2])

    put("idx", "ok-u8-2x3", idx(0x08, [2, 3], bytes(range(6))))
    put("idx", "ok-u8-gzip", gzip.compress(idx(0x08, [3, 2, 2], bytes(range(12))), mtime=0))
    put("idx", "ok-i32", idx(0x0C, [2], struct.pack(">2i", -5, 70000)))
    put("idx", "ok-f64", idx(0x0E, [1, 1], struct.pack(">d", 3.25)))
    put("idx", "ok-i16-gzip", gzip.compress(idx(0x0B, [2], struct.pack(">2h", -1, 2)), mtime=0))
    put("idx", "bad-type", idx(0x07, [1], b"\0"))

    specs = {
        "ok-lrn": "Input((4, 4, 6)) >> LocalResponseNorm()",
        "ok-lrn-conventions": "Input((6, 3, 3)) >> LocalResponseNorm.pytorch(size=4) >> "
                              "LocalResponseNorm.caffe(local_size=3, norm_region='WITHIN_CHANNEL', "
                              "data_format='channels_first') >> LocalResponseNorm.wolfram(ChannelWindowSize=1)",
        "ok-lc": "Input((5, 5, 2)) >> LocallyConnected2D(3, (2, 2), strides=(1, 2), activation='relu') "
                 ">> Flatten() >> Dense(4, name='out')",
        "ok-lc1d": "Input((7, 3)) >> LocallyConnected1D(2, 3, padding='same')",
        "ok-bn": "Input((3, 3, 4)) >> BatchNorm2D(momentum=0.5) >> BatchNorm2D.pytorch(4, data_format='channels_last')",
        "ok-conv": "Input((6, 6, 1)) >> Conv2D(2, 3, padding='same') >> MaxPooling2D(2) >> "
                   "AveragePooling2D(1) >> GlobalAveragePooling2D() >> Dropout(0.5, seed=1) >> Activation('tanh')",
        "ok-reshape": "Input((2, 6)) >> Reshape((3, -1)) >> BatchNorm1D.keras(axis=-1) >> Dense(1)",
        "ok-no-input": "Dense(3, kernel_regularizer=L1L2(l1=0.01), kernel_constraint=MaxNorm(2.0))",
        "ok-branches": "Input((5, 5, 2)) >> [Conv2D(2, 1), Conv2D(3, 3, padding='same') >> Activation('relu'), "
                       "MaxPooling2D(3, 1, padding='same')] >> Concatenate() >> ZeroPadding2D(1) >> Cropping2D(1)",
        "ok-functional": "x = Input((6, 3), name='seq')\n# a comment\na = Conv1D(3, 3, padding='causal')(x)\n"
                         "b = x >> Dense(3) >> BatchNorm1D.keras(axis=1)\ns = Add()([a, b]); m = Maximum()([s, x])\n"
                         "y = Concatenate(axis=1)([m, UpSampling1D(2)(s)])\nModel(inputs=x, outputs=[y, a])",
        "deep": "(" * 80 + ")" * 80,
        "bad-input": "Input((0, 3)) >> Dense(2)",
    }
    for name, text in specs.items():
        put("spec", name, text)

    def model(spec, tensors, dtype="f32"):
        return safetensors(tensors, {"format": "locnet", "locnet_version": "0.1.0", "spec": spec, "dtype": dtype})

    put("model", "ok-dense", model("Input((3,)) >> Dense(2, name='d')",
                                   {"d.kernel": ("F32", [3, 2], f32(1, 2, 3, 4, 5, 6)), "d.bias": ("F32", [2], f32(0, 1))}))
    put("model", "ok-lrn", model("Input((2, 2, 3)) >> LocalResponseNorm(depth_radius=3)", {}))
    put("model", "ok-bn", model("Input((4,)) >> BatchNorm1D(name='bn')",
                                {"bn.gamma": ("F32", [4], f32(1, 1, 1, 1)), "bn.beta": ("F32", [4], f32(0, 0, 0, 0)),
                                 "bn.moving_mean": ("F32", [4], f32(0, 0, 0, 0)),
                                 "bn.moving_variance": ("F32", [4], f32(1, 1, 1, 1))}))
    put("model", "missing-weight", model("Input((3,)) >> Dense(2, name='d')", {"d.bias": ("F32", [2], f32(0, 1))}))

    # ONNX: a model written here from protobuf text by protoc (protobuf-compiler, libonnx-dev's onnx.proto), the
    # small single-node models of ONNX's backend tests (libonnx-testdata, ONNX 1.12), and one cut short.
    put("onnx", "ok-conv-relu-pool-gemm.onnx", subprocess.run(
        ["protoc", "--encode=onnx.ModelProto", "-I/usr/include", "onnx/onnx.proto"], input=ONNX_CONV_TEXT.encode(),
        check=True, capture_output=True).stdout)
    node = "/usr/share/libonnx-testdata/data/node"
    for test in ["lrn", "maxpool_2d_pads", "concat_2d_axis_1", "globalaveragepool", "averagepool_2d_ceil"]:
        with open(f"{node}/test_{test}/model.onnx", "rb") as f:
            put("onnx", f"ok-{test}.onnx", f.read())
    for test in ["resize_upsample_scales_linear", "upsample_nearest", "constant_pad"]:  # scales, pads fed as inputs
        with open(f"{node}/test_{test}/model.onnx", "rb") as f:
            put("onnx", f"unsupported-{test}.onnx", f.read())
    with open(f"{node}/test_lrn/model.onnx", "rb") as f:
        put("onnx", "cut-lrn.onnx", f.read()[:100])
    # PyTorch exports (tests/interop/onnx_pytorch/generate.py): Pad, Upsample/Resize and operators on constants.
    for name in ["nearest_op9_b2", "nearest_op13_b2"]:
        with open(os.path.join(ROOT, f"../../interop/onnx_pytorch/{name}.onnx"), "rb") as f:
            put("onnx", f"ok-pytorch-{name}.onnx", f.read())
    # Keras 3 .keras archives: the synthetic ones of tests/interop/keras3/ (its generate.py writes them).
    keras3 = os.path.join(os.path.dirname(ROOT), "..", "interop", "keras3")
    for name in ["sequential", "functional", "no_config", "custom_object", "missing_variable"]:
        with open(os.path.join(keras3, name + ".keras"), "rb") as f:
            put("keras", ("ok-" if name in ("sequential", "functional") else "") + name + ".keras", f.read())

    # HDF5: Keras 2 model files, a real one (tests/interop/keras_h5/) and small synthetic ones
    # (tests/interop/keras2_synthetic/), and one cut short.
    interop = os.path.join(os.path.dirname(ROOT), "..", "interop")
    for name in ["keras_h5/dl4j_cnn_batch_norm.h5", "keras2_synthetic/lc1d_impl3.h5",
                 "keras2_synthetic/bn_train_2.1.3.h5"]:
        with open(os.path.join(interop, name), "rb") as f:
            put("hdf5", "ok-" + os.path.basename(name), f.read())
    with open(os.path.join(interop, "keras_h5/dl4j_cnn_batch_norm.h5"), "rb") as f:
        put("hdf5", "cut-dl4j.h5", f.read()[:3000])


ONNX_CONV_TEXT = """\
ir_version: 8
opset_import { version: 13 }
graph {
  name: "conv_relu_gemm"
  initializer { name: "W" dims: 2 dims: 1 dims: 2 dims: 2 data_type: 1 float_data: [1, 2, 3, 4, 0, 0, 0, -1] }
  initializer { name: "B" dims: 2 data_type: 1 float_data: [0.5, -0.5] }
  initializer { name: "G" dims: 8 dims: 3 data_type: 1 float_data: [1,0,0, 0,1,0, 0,0,1, 1,1,1, -1,0,1, 0,2,0, 1,0,0, 0,0,1] }
  node { name: "conv" op_type: "Conv" input: ["x", "W", "B"] output: "c"
         attribute { name: "pads" type: INTS ints: [1, 1, 0, 0] } attribute { name: "group" type: INT i: 1 } }
  node { name: "relu" op_type: "Relu" input: "c" output: "r" }
  node { name: "pool" op_type: "MaxPool" input: "r" output: "p" attribute { name: "kernel_shape" type: INTS ints: [2, 2] }
         attribute { name: "strides" type: INTS ints: [2, 2] } }
  node { name: "flat" op_type: "Flatten" input: "p" output: "f" }
  node { name: "fc" op_type: "Gemm" input: ["f", "G"] output: "y" }
  input { name: "x" type { tensor_type { elem_type: 1 shape { dim { dim_param: "N" } dim { dim_value: 1 } dim { dim_value: 4 } dim { dim_value: 4 } } } } }
  output { name: "y" type { tensor_type { elem_type: 1 } } }
}
"""


if __name__ == "__main__":
    main()
