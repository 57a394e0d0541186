#!/usr/bin/env python3
"""int8 QDQ version of fns_candy.onnx by onnxruntime's static post-training quantizer.

    /work/venv-style/bin/python tools/style/quantize_qdq.py [--sweep]
    /work/venv-style/bin/python tools/style/quantize_qdq.py --float conv1 [--save]  # conv1 kept float
    /work/venv-style/bin/python tools/style/quantize_qdq.py --conv-out-float [--save]  # no Q/DQ after Conv

1. Fix the input shape to [1,3,256,256] (the float model has symbolic H, W; a static shape lets
   onnxruntime's pre-processing run full shape inference) and run quant_pre_process.
2. quantize_static: QDQ format, per-channel symmetric int8 weights, int8 activations, MinMax
   calibration on the 8 images of examples/style/calib/, only Conv quantized (QuantizeLinear /
   DequantizeLinear pairs around each Conv's input and int8 weight initializers with a
   DequantizeLinear; everything else stays float).
3. PSNR of the QDQ model against the float model (both onnxruntime) on examples/style/photos/.

Writes examples/style/candy_qdq.onnx and examples/style/ref_candy_qdq_256_out.npy (NHWC float32
[1,256,256,3], onnxruntime output of candy_qdq.onnx on photos/astronaut.png as float32 0..255).
"""

import os
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                      QuantType, quantize_static)
from onnxruntime.quantization.shape_inference import quant_pre_process
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "..", "examples", "style"))
MODELS = "/work/shared/models"
SIZE = 256


def load_dir(d):
    names = sorted(f for f in os.listdir(d) if f.endswith(".png"))
    return names, [np.asarray(Image.open(os.path.join(d, f)).convert("RGB")).astype(np.float32) for f in names]


def nchw(img):
    return np.ascontiguousarray(img.transpose(2, 0, 1)[None])


def session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def run(sess, img):
    y = sess.run(None, {"input": nchw(img)})[0]
    return y[0].transpose(1, 2, 0)


def psnr(a, b):
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / mse) if mse > 0 else float("inf")


class Reader(CalibrationDataReader):
    def __init__(self, imgs):
        self.it = iter([{"input": nchw(i)} for i in imgs])

    def get_next(self):
        return next(self.it, None)


def static_model(src, dst):
    m = onnx.load(src)
    m.ir_version = 8  # source says 14; onnx 1.17 (pinned for TF 2.15's ml-dtypes) checks up to 10
    dims = m.graph.input[0].type.tensor_type.shape.dim
    for d, v in zip(dims, (1, 3, SIZE, SIZE)):
        d.ClearField("dim_param")
        d.dim_value = v
    dims = m.graph.output[0].type.tensor_type.shape.dim
    for d, v in zip(dims, (1, 3, SIZE, SIZE)):
        d.ClearField("dim_param")
        d.dim_value = v
    onnx.save(m, dst)


def quantize(dst, calib, method=CalibrationMethod.MinMax, act=QuantType.QInt8, ops=("Conv",), extra=None,
             float_convs=None):
    tmp = tempfile.mkdtemp()
    st = os.path.join(tmp, "static.onnx")
    pre = os.path.join(tmp, "pre.onnx")
    static_model(os.path.join(MODELS, "fns_candy.onnx"), st)
    quant_pre_process(st, pre, skip_symbolic_shape=True)
    m = onnx.load(pre)
    for i, n in enumerate(m.graph.node):  # names, so that nodes can be excluded by weight name
        if not n.name:
            n.name = f"{n.op_type}_{i}"
    onnx.save(m, pre)
    excl = [n.name for n in m.graph.node if n.op_type == "Conv" and n.input[1][:-2] in (float_convs or ())]
    quantize_static(pre, dst, Reader(calib), quant_format=QuantFormat.QDQ, per_channel=True,
                    weight_type=QuantType.QInt8, activation_type=act, calibrate_method=method,
                    op_types_to_quantize=list(ops), nodes_to_exclude=excl, extra_options=extra or {})


def evaluate(path, photos, floats):
    s = session(path)
    return [psnr(run(s, p), f) for p, f in zip(photos, floats)]


def main():
    _, calib = load_dir(os.path.join(OUT, "calib"))
    names, photos = load_dir(os.path.join(OUT, "photos"))
    fs = session(os.path.join(MODELS, "fns_candy.onnx"))
    floats = [run(fs, p) for p in photos]
    configs = {"minmax_s8": {}}
    if "--float" in sys.argv:  # --float conv1[,conv2...]: keep these convs float (mixed precision)
        fl = sys.argv[sys.argv.index("--float") + 1].split(",")
        configs = {"minmax_s8_float_" + "_".join(fl): dict(float_convs=fl)}
    if "--conv-out-float" in sys.argv:  # no Q/DQ on Conv outputs: Conv -> float -> InstanceNorm
        configs = {"minmax_s8_outfloat": dict(extra={"OpTypesToExcludeOutputQuantization": ["Conv"]})}
    if "--sweep" in sys.argv:
        configs.update({
            "minmax_u8": dict(act=QuantType.QUInt8),
            "percentile_s8": dict(method=CalibrationMethod.Percentile,
                                  extra={"CalibPercentile": 99.99}),
            "entropy_s8": dict(method=CalibrationMethod.Entropy),
        })
    dst = os.path.join(OUT, "candy_qdq.onnx")
    for name, kw in configs.items():
        if name.startswith("minmax_s8_float_") or name == "minmax_s8_outfloat":
            dst = os.path.join(OUT if "--save" in sys.argv else tempfile.mkdtemp(),
                               "candy_qdq_" + name[len("minmax_s8_"):] + ".onnx")
        path = dst if name.startswith("minmax_s8") else os.path.join(tempfile.mkdtemp(), name + ".onnx")
        quantize(path, calib, **kw)
        p = evaluate(path, photos, floats)
        print(f"{name}: PSNR vs float " + " ".join(f"{n[:-4]}={v:.2f}" for n, v in zip(names, p))
              + f" mean={np.mean(p):.2f} dB, size={os.path.getsize(path)} B", flush=True)
    q = session(dst)
    ops = {}
    for n in onnx.load(dst).graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    print("candy_qdq.onnx ops:", ops)
    astro = photos[names.index("astronaut.png")]
    y = run(q, astro)[None].astype(np.float32)
    if dst.startswith(OUT):
        np.save(os.path.join(OUT, os.path.basename(dst)[:-5].replace("candy_", "ref_candy_") + "_256_out.npy"), y)


if __name__ == "__main__":
    main()
