#!/usr/bin/env python3
"""Builds the ConvTranspose + Tanh fixture of examples/style/ (reads nothing external):

    convtranspose_tanh.onnx     x [1,3,5,6] -> ConvTranspose (3->4, k3, stride 2, pads 1,
                                output_padding 1: fast-neural-style's upsampling layer, 5x6 -> 10x12)
                                -> Relu -> ConvTranspose (4->2, k4, stride 2, pads 1, dilations 1:
                                10x12 -> 20x24) -> Tanh -> y [1,2,20,24]
    ref_convtranspose_in.npy    the input, uniform in [-1, 1), NHWC float32 [1,5,6,3]
    ref_convtranspose_out.npy   onnxruntime's output, NHWC float32 [1,20,24,2]
                                (both transposed from ONNX's NCHW, like every .npy in examples/style/)

    /work/venv-style/bin/python tools/style/make_convtranspose_fixture.py

Weights and input come from numpy's PCG64 with a fixed seed, so the files are reproducible (up to
onnxruntime's own float summation order in the reference output).
"""

import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "..", "examples", "style"))


def main():
    rng = np.random.default_rng(20261128)
    # ONNX ConvTranspose weights are [C_in, C_out, kH, kW].
    w1 = (rng.standard_normal((3, 4, 3, 3)) * 0.4).astype(np.float32)
    b1 = (rng.standard_normal(4) * 0.1).astype(np.float32)
    w2 = (rng.standard_normal((4, 2, 4, 4)) * 0.3).astype(np.float32)
    b2 = (rng.standard_normal(2) * 0.1).astype(np.float32)
    x = rng.uniform(-1.0, 1.0, (1, 3, 5, 6)).astype(np.float32)

    nodes = [
        helper.make_node(
            "ConvTranspose", ["x", "w1", "b1"], ["up1"], name="up1",
            kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1],
        ),
        helper.make_node("Relu", ["up1"], ["r1"], name="relu1"),
        helper.make_node(
            "ConvTranspose", ["r1", "w2", "b2"], ["up2"], name="up2",
            kernel_shape=[4, 4], strides=[2, 2], pads=[1, 1, 1, 1], dilations=[1, 1],
        ),
        helper.make_node("Tanh", ["up2"], ["y"], name="tanh"),
    ]
    graph = helper.make_graph(
        nodes,
        "convtranspose_tanh",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 5, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 20, 24])],
        initializer=[
            numpy_helper.from_array(w1, "w1"),
            numpy_helper.from_array(b1, "b1"),
            numpy_helper.from_array(w2, "w2"),
            numpy_helper.from_array(b2, "b2"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    path = os.path.join(OUT, "convtranspose_tanh.onnx")
    onnx.save(model, path)

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (y,) = sess.run(None, {"x": x})
    assert y.shape == (1, 2, 20, 24), y.shape
    nhwc = lambda a: np.ascontiguousarray(a.transpose(0, 2, 3, 1), dtype=np.float32)
    np.save(os.path.join(OUT, "ref_convtranspose_in.npy"), nhwc(x))
    np.save(os.path.join(OUT, "ref_convtranspose_out.npy"), nhwc(y))
    print(f"wrote {path}; output range [{y.min():.4f}, {y.max():.4f}], "
          f"saturated |y| > 0.99: {(np.abs(y) > 0.99).mean():.1%}")


if __name__ == "__main__":
    main()
