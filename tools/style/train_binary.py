#!/usr/bin/env python3
"""Binary (XNOR) residual blocks for fns_candy.onnx, recovered by distillation from the float net.

    /work/venv-style/bin/python tools/style/train_binary.py check      # Keras float vs onnxruntime
    /work/venv-style/bin/python tools/style/train_binary.py untrained  # binarize only, export, PSNR
    /work/venv-style/bin/python tools/style/train_binary.py train      # distill, export, PSNR
    /work/venv-style/bin/python tools/style/train_binary.py export     # export the last checkpoint

The TransformerNet is rebuilt in Keras (NHWC): reflect padding by tf.pad, InstanceNorm as a small
custom layer (biased variance, eps 1e-5, affine), nearest x2 upsampling by UpSampling2D; float
weights are read from fns_candy.onnx (OIHW -> HWIO).

Student ("binary"): the 10 convs of the 5 residual blocks take sign(input) (+1 at 0) and weights
alpha_c * sign(w) (alpha_c = mean |w_c| per output channel, no bias: the InstanceNorm that follows
removes any per-channel offset and, up to its eps, any per-channel scale, so alpha_c hardly matters).
Because sign(ReLU(x)) is constant, the binary blocks take the sign of the value *before* the ReLU:
block 1's first conv binarizes the encoder's InstanceNorm output (in_14, not relu_15), each block's
second conv binarizes its first InstanceNorm's output (the block's inner ReLU is dropped, Bi-Real
style); the block shortcuts stay real-valued. Everything else stays float (Doppler quantizes it to
int8 afterwards). Gradients of sign: straight-through, clipped to |x| <= 1 (activations) and
identity for the latent weights (they are ~1e-2, far inside any clip).

Distillation: loss = MSE between the student's and the frozen float net's output (0..255) on random
128x128 crops (random flips) of the calibration images plus extra scikit-image photos, never the
held-out evaluation set examples/style/photos/. Trained: latent binary weights, the affine parameters
of the 10 residual InstanceNorms and of the two decoder InstanceNorms; the encoder/decoder convs
stay frozen. Seeds fixed (numpy, TF); TF CPU kernels may still reorder float sums between runs.

Export: examples/style/candy_binary.onnx = the float graph where each binarized conv is
Pad(reflect) -> Sign -> Conv(no pads, weight values exactly +-alpha_c per output channel, no bias);
checked against the Keras student with onnxruntime (ONNX Sign(0) = 0 while Keras/Doppler use +1:
exact zeros at Sign inputs are counted and reported).
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import tensorflow as tf  # noqa: E402
from onnx import helper, numpy_helper  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_data  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "..", "examples", "style"))
SRC = os.path.join(make_data.MODELS, "fns_candy.onnx")
DST = os.path.join(OUT, "candy_binary.onnx")
RUN = os.environ.get("STYLE_RUN", "/work/style-run")
L = tf.keras.layers
SEED = 8
CROP = int(os.environ.get("STYLE_CROP", "128"))
BATCH = int(os.environ.get("STYLE_BATCH", "4"))
STEPS = int(os.environ.get("STYLE_STEPS", "600"))
POOL = int(os.environ.get("STYLE_POOL", "512"))
LR = float(os.environ.get("STYLE_LR", "1e-3"))
EPS = 1e-5
BLOCKS = 5


# ---------------------------------------------------------------- model

@tf.custom_gradient
def ste_sign(x):
    y = tf.where(x >= 0, tf.ones_like(x), -tf.ones_like(x))

    def grad(dy):
        return dy * tf.cast(tf.abs(x) <= 1.0, dy.dtype)

    return y, grad


@tf.custom_gradient
def ste_sign_w(w):
    y = tf.where(w >= 0, tf.ones_like(w), -tf.ones_like(w))
    return y, lambda dy: dy


class ReflectConv(L.Layer):
    """tf.pad(REFLECT) + VALID conv. binary=True: sign(input) * (alpha_c * sign(w)), no bias."""

    def __init__(self, filters, k, stride=1, binary=False, **kw):
        super().__init__(**kw)
        self.filters, self.k, self.stride, self.binary = filters, k, stride, binary

    def build(self, shape):
        self.kernel = self.add_weight("kernel", (self.k, self.k, int(shape[-1]), self.filters))
        self.bias = None if self.binary else self.add_weight("bias", (self.filters,), initializer="zeros")

    def binary_kernel(self):
        alpha = tf.reduce_mean(tf.abs(self.kernel), axis=(0, 1, 2))
        return ste_sign_w(self.kernel) * alpha

    def call(self, x):
        p = self.k // 2
        if self.binary:
            x = ste_sign(x)
        x = tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")
        w = self.binary_kernel() if self.binary else self.kernel
        y = tf.nn.conv2d(x, w, self.stride, "VALID")
        return y if self.bias is None else y + self.bias


class InstanceNorm(L.Layer):
    def build(self, shape):
        c = int(shape[-1])
        self.gamma = self.add_weight("gamma", (c,), initializer="ones")
        self.beta = self.add_weight("beta", (c,), initializer="zeros")

    def call(self, x):
        m, v = tf.nn.moments(x, axes=[1, 2], keepdims=True)
        return (x - m) * tf.math.rsqrt(v + EPS) * self.gamma + self.beta


class TransformerNet(tf.keras.Model):
    def __init__(self, binary=False):
        super().__init__()
        self.binary = binary
        self.conv1, self.in1 = ReflectConv(32, 9, name="conv1"), InstanceNorm(name="in1")
        self.conv2, self.in2 = ReflectConv(64, 3, 2, name="conv2"), InstanceNorm(name="in2")
        self.conv3, self.in3 = ReflectConv(128, 3, 2, name="conv3"), InstanceNorm(name="in3")
        self.res = []
        for i in range(1, BLOCKS + 1):
            self.res.append((ReflectConv(128, 3, binary=binary, name=f"res{i}.conv1"), InstanceNorm(name=f"res{i}.in1"),
                             ReflectConv(128, 3, binary=binary, name=f"res{i}.conv2"), InstanceNorm(name=f"res{i}.in2")))
        self.up = L.UpSampling2D(2, interpolation="nearest")
        self.deconv1, self.in4 = ReflectConv(64, 3, name="deconv1"), InstanceNorm(name="in4")
        self.deconv2, self.in5 = ReflectConv(32, 3, name="deconv2"), InstanceNorm(name="in5")
        self.deconv3 = ReflectConv(3, 9, name="deconv3")

    def encode(self, x):
        h = tf.nn.relu(self.in1(self.conv1(x)))
        h = tf.nn.relu(self.in2(self.conv2(h)))
        return self.in3(self.conv3(h))  # pre-ReLU (in_14)

    def blocks(self, pre):
        s = tf.nn.relu(pre)
        for i, (c1, n1, c2, n2) in enumerate(self.res):
            if self.binary:
                h = n1(c1(pre if i == 0 else s))  # sign() inside c1; no ReLU before the next sign
            else:
                h = tf.nn.relu(n1(c1(s)))
            s = s + n2(c2(h))
        return s

    def decode(self, s):
        h = tf.nn.relu(self.in4(self.deconv1(self.up(s))))
        h = tf.nn.relu(self.in5(self.deconv2(self.up(h))))
        return tf.clip_by_value(self.deconv3(h), 0.0, 255.0)

    def call(self, x):
        return self.decode(self.blocks(self.encode(x)))


def onnx_weights(path):
    return {i.name: numpy_helper.to_array(i) for i in onnx.load(path).graph.initializer}


def load_float(net, path=SRC):
    w = onnx_weights(path)
    net(tf.zeros((1, 16, 16, 3)))
    for layer in net.submodules:
        if isinstance(layer, ReflectConv):
            layer.kernel.assign(w[layer.name + ".w"].transpose(2, 3, 1, 0))
            if layer.bias is not None:
                layer.bias.assign(w[layer.name + ".b"])
        elif isinstance(layer, InstanceNorm):
            layer.gamma.assign(w[layer.name + ".g"])
            layer.beta.assign(w[layer.name + ".b"])
    return net


def build(binary):
    return load_float(TransformerNet(binary))


# ---------------------------------------------------------------- onnxruntime, export, metrics

def ort_run(path, nhwc):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    s = ort.InferenceSession(path if isinstance(path, str) else path.SerializeToString(), so,
                             providers=["CPUExecutionProvider"])
    outs = s.run(None, {"input": np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2))})
    return [o.transpose(0, 2, 3, 1) if o.ndim == 4 else o for o in outs]


def psnr(a, b):
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / mse) if mse > 0 else float("inf")


def photos():
    d = os.path.join(OUT, "photos")
    names = sorted(f for f in os.listdir(d) if f.endswith(".png"))
    return [n[:-4] for n in names], [make_data.load_png(os.path.join(d, n)).astype(np.float32)[None] for n in names]


def export(net, dst=DST):
    """float graph of fns_candy.onnx with the 10 residual convs as Pad -> Sign -> Conv(+-alpha_c)."""
    m = onnx.load(SRC)
    g = m.graph
    layers = {l.name: l for l in net.submodules if isinstance(l, (ReflectConv, InstanceNorm))}
    inits = {i.name: i for i in g.initializer}
    # trained InstanceNorm parameters (all of them, untrained ones are unchanged)
    for name, l in layers.items():
        if isinstance(l, InstanceNorm):
            inits[name + ".g"].CopyFrom(numpy_helper.from_array(l.gamma.numpy().astype(np.float32), name + ".g"))
            inits[name + ".b"].CopyFrom(numpy_helper.from_array(l.beta.numpy().astype(np.float32), name + ".b"))
    producer = {o: n for n in g.node for o in n.output}
    nodes, drop_inits = [], set()
    relu_out = {}  # relu output -> its input, for the ReLUs removed inside blocks
    for n in g.node:
        if n.op_type == "Conv" and n.input[1].startswith("res") and n.input[1].endswith(".w"):
            lname = n.input[1][:-2]
            pad = producer[n.input[0]]
            src = pad.input[0]
            if src in relu_out:  # block-internal ReLU was removed: read its input
                src = relu_out[src]
            elif lname == "res1.conv1":  # sign of the pre-ReLU encoder output
                src = producer[src].input[0]
            # Pad node was already appended: rewrite it
            for k, e in enumerate(nodes):
                if e.output[0] == pad.output[0]:
                    nodes[k] = helper.make_node("Pad", [src, pad.input[1]], [pad.output[0]], name=pad.name or pad.output[0], mode="reflect")
            sname = lname + ".sign"
            nodes.append(helper.make_node("Sign", [pad.output[0]], [sname], name=sname))
            l = layers[lname]
            wb = l.binary_kernel().numpy().transpose(3, 2, 0, 1).astype(np.float32)
            inits[n.input[1]].CopyFrom(numpy_helper.from_array(wb, n.input[1]))
            drop_inits.add(n.input[2])
            nodes.append(helper.make_node("Conv", [sname, n.input[1]], list(n.output), name=n.name or lname,
                                          kernel_shape=[3, 3], strides=[1, 1], pads=[0, 0, 0, 0]))
            continue
        if n.op_type == "Relu" and n.input[0].startswith("in_") and _in_block_relu(g, n):
            relu_out[n.output[0]] = n.input[0]
            continue
        c = onnx.NodeProto()
        c.CopyFrom(n)
        if not c.name:
            c.name = c.output[0]
        nodes.append(c)
    del g.node[:]
    g.node.extend(nodes)
    keep = [i for i in g.initializer if i.name not in drop_inits]
    del g.initializer[:]
    g.initializer.extend(keep)
    m.producer_name = "doppler tools/style/train_binary.py"
    m.ir_version = 8  # opset 13 needs IR >= 7; the source says 14, newer than onnx 1.17 checks
    onnx.checker.check_model(m)
    onnx.save(m, dst)
    # exactness of the binary weights: two values +-alpha_c per output channel
    for i in m.graph.initializer:
        if i.name.startswith("res") and i.name.endswith(".w"):
            a = numpy_helper.to_array(i).reshape(128, -1)
            for row in a:
                assert len(np.unique(np.abs(row))) == 1, i.name
    return m


def _in_block_relu(g, relu):
    """True for the ReLU between a residual block's two convs (its input is res<i>.in1's output)."""
    for n in g.node:
        if n.op_type == "InstanceNormalization" and n.output[0] == relu.input[0]:
            return n.input[1].startswith("res") and ".in1." in n.input[1]
    return False


def with_sign_outputs(m):
    m2 = onnx.ModelProto()
    m2.CopyFrom(m)
    for n in m2.graph.node:
        if n.op_type == "Sign":
            m2.graph.output.append(helper.make_tensor_value_info(n.output[0], onnx.TensorProto.FLOAT, None))
    return m2


def evaluate(net, tag, m):
    """PSNR (onnxruntime binary ONNX vs onnxruntime float) on the evaluation photos + ORT vs Keras."""
    names, imgs = photos()
    ps, kd, zeros, total, kps, big, npx = [], 0.0, 0, 0, [], 0, 0
    mz = with_sign_outputs(m)
    for n, x in zip(names, imgs):
        ref = ort_run(SRC, x)[0]
        outs = ort_run(mz, x)
        yb = outs[0]
        zeros += sum(int(np.sum(o == 0)) for o in outs[1:])
        total += sum(o.size for o in outs[1:])
        yk = net(tf.constant(x)).numpy()
        kd = max(kd, float(np.max(np.abs(yk - yb))))
        kps.append(psnr(yk, yb))
        big += int(np.sum(np.abs(yk - yb) > 1.0))
        npx += yk.size
        ps.append(psnr(yb, ref))
    line = (f"[{tag}] PSNR vs float (onnxruntime, photos/): " + " ".join(f"{n}={p:.2f}" for n, p in zip(names, ps))
            + f" mean={np.mean(ps):.2f} dB; ORT binary vs Keras student: max|diff|={kd:.4f}, "
            + f"values with |diff|>1: {big} of {npx}, min PSNR {min(kps):.1f} dB (float-rounding sign flips); "
            + f"exact zeros at Sign inputs: {zeros} of {total}")
    x = np.load(os.path.join(OUT, "ref_candy_64_in.npy"))
    y = ort_run(m, x)[0].astype(np.float32)
    np.save(os.path.join(OUT, "ref_candy_binary_64_out.npy"), y)
    line += f"; 64x64 ref: ORT vs Keras max|diff|={float(np.max(np.abs(y - net(tf.constant(x)).numpy()))):.4f}"
    print(line, flush=True)
    return line


# ---------------------------------------------------------------- commands

def cmd_check():
    net = build(False)
    names, imgs = photos()
    worst = 0.0
    x = np.load(os.path.join(OUT, "ref_candy_64_in.npy"))
    d = float(np.max(np.abs(net(tf.constant(x)).numpy() - np.load(os.path.join(OUT, "ref_candy_64_out.npy")))))
    print(f"[check] Keras float vs onnxruntime, 64x64 ref: max|diff|={d:.5f}")
    for n, x in zip(names, imgs):
        d = float(np.max(np.abs(net(tf.constant(x)).numpy() - ort_run(SRC, x)[0])))
        worst = max(worst, d)
    print(f"[check] Keras float vs onnxruntime, photos/ 256x256: max|diff|={worst:.5f} (0..255 scale)")


def cmd_untrained():
    net = build(True)
    m = export(net)
    evaluate(net, "untrained binarized", m)


def training_pool(rng):
    imgs = [make_data.rgb(f()) for f in list(make_data.CALIB.values()) + list(make_data.TRAIN_EXTRA.values())]
    imgs = [i for i in imgs if min(i.shape[:2]) >= CROP]
    xs = np.empty((POOL, CROP, CROP, 3), np.float32)
    for k in range(POOL):
        im = imgs[k % len(imgs)]
        h, w = im.shape[:2]
        y, x = rng.integers(0, h - CROP + 1), rng.integers(0, w - CROP + 1)
        c = im[y : y + CROP, x : x + CROP]
        if rng.random() < 0.5:
            c = c[:, ::-1]
        if rng.random() < 0.5:
            c = c[::-1]
        xs[k] = c
    return xs, len(imgs)


def cmd_train():
    np.random.seed(SEED)
    tf.random.set_seed(SEED)
    rng = np.random.default_rng(SEED)
    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    os.makedirs(RUN, exist_ok=True)
    teacher, student = build(False), build(True)
    t0 = time.time()
    xs, nimg = training_pool(rng)
    enc = np.empty((POOL, CROP // 4, CROP // 4, 128), np.float32)
    ys = np.empty_like(xs)
    for k in range(0, POOL, 8):
        xb = tf.constant(xs[k : k + 8])
        e = teacher.encode(xb)
        enc[k : k + 8] = e.numpy()
        ys[k : k + 8] = teacher.decode(teacher.blocks(e)).numpy()
    print(f"[train] pool: {POOL} crops {CROP}x{CROP} from {nimg} images; teacher targets in {time.time() - t0:.0f} s", flush=True)
    train_vars = [v for l in student.submodules if (isinstance(l, ReflectConv) and l.binary)
                  or (isinstance(l, InstanceNorm) and (l.name.startswith("res") or l.name in ("in4", "in5")))
                  for v in l.trainable_weights]
    print(f"[train] trainable: {len(train_vars)} tensors, {sum(int(np.prod(v.shape)) for v in train_vars)} values", flush=True)
    sched = tf.keras.optimizers.schedules.CosineDecay(LR, STEPS)
    opt = tf.keras.optimizers.Adam(sched)

    @tf.function
    def step(e, y):
        with tf.GradientTape() as tape:
            out = student.decode(student.blocks(e))
            loss = tf.reduce_mean(tf.square(out - y))
        opt.apply_gradients(zip(tape.gradient(loss, train_vars), train_vars))
        return loss

    t1 = time.time()
    run_loss = None
    for s in range(STEPS):
        idx = rng.choice(POOL, BATCH, replace=False)
        loss = float(step(tf.constant(enc[idx]), tf.constant(ys[idx])))
        run_loss = loss if run_loss is None else 0.95 * run_loss + 0.05 * loss
        if s % 25 == 0 or s == STEPS - 1:
            print(f"[train] step {s}/{STEPS} loss {loss:.1f} (ema {run_loss:.1f}, ~{psnr_from_mse(run_loss):.2f} dB) "
                  f"{time.time() - t1:.0f} s", flush=True)
        if s % 100 == 99:
            student.save_weights(os.path.join(RUN, "student.weights.h5"))
    wall = time.time() - t1
    student.save_weights(os.path.join(RUN, "student.weights.h5"))
    print(f"[train] {STEPS} steps x batch {BATCH} in {wall:.0f} s ({wall / STEPS:.2f} s/step); total {time.time() - t0:.0f} s", flush=True)
    m = export(student)
    evaluate(student, f"distilled {STEPS} steps", m)


def cmd_export():
    """Export + evaluate the last checkpoint of `train` (STYLE_RUN/student.weights.h5)."""
    student = TransformerNet(True)
    student(tf.zeros((1, 16, 16, 3)))
    student.load_weights(os.path.join(RUN, "student.weights.h5"))
    m = export(student)
    evaluate(student, "distilled (checkpoint)", m)


def psnr_from_mse(mse):
    return 10 * np.log10(255.0**2 / max(mse, 1e-9))


if __name__ == "__main__":
    {"check": cmd_check, "untrained": cmd_untrained, "train": cmd_train, "export": cmd_export}[sys.argv[1] if len(sys.argv) > 1 else "train"]()
