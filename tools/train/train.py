#!/usr/bin/env python3
"""The compression study's models: one small CNN family trained on Fashion-MNIST, in five variants.

    float   float32 baseline                      (TFLite converter)
    int8    post-training int8 quantization of `float` (TFLite converter, representative dataset)
    bwn     binary weights, float activations     (Larq, LCE converter)
    xnor    binary weights and activations, per-channel scaling by batch norm, first and last
            layers int8 (quantization-aware fake-quant ranges)   (Larq, LCE converter)
    bireal  Bi-Real-style: xnor plus an int8 shortcut around the binary conv whose input and
            output shapes agree                   (Larq, LCE converter)

Architecture family: 28x28x1 -> conv3x3/2 32 -> conv3x3 64 -> maxpool -> conv3x3 128 ->
conv3x3 128 -> global average pool -> dense 10 (logits). Every model takes float32 [1, 28, 28, 1]
pixels / 255 and returns float32 logits (the int8 and binary models quantize on entry and
dequantize on exit).

Run once, with the pinned environment of requirements.txt (Python 3.11):

    /work/venv-tf/bin/python tools/train/train.py                  # all variants
    /work/venv-tf/bin/python tools/train/train.py xnor bireal      # some variants

Data: Debian's `dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist/). Writes to
examples/study/: <variant>.tflite, test_images.npy (uint8 [10000, 28, 28]), test_labels.npy
(uint8 [10000]) and framework_accuracy.txt (one line per variant: name, Keras test accuracy, the
.tflite's test accuracy under TFLite's / LCE's interpreter). Seeded (numpy, Python, TF); TF's CPU
kernels may still reorder float sums between runs, so retrained weights can differ in the last
bits. CI never runs this: the results are committed.

Budget: on two shared cores the default run (3 / 2 / 2 / 1 epochs on all 60 000 images) took
about 55 minutes of wall time, most of it the Larq training steps and the reference interpreter's
pass over the 10 000 test images of the float model.
"""

import gzip
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.environ.get("STUDY_OUT") or os.path.normpath(os.path.join(HERE, "..", "..", "examples", "study"))
DATA = "/usr/share/datasets/fashion-mnist"
L = tf.keras.layers

# Training budget (2-core CPU, about 35 minutes for all variants): the full training set, a few
# epochs with a cosine learning-rate decay. STUDY_TRAIN_N / STUDY_EPOCHS ("xnor=1,float=2")
# override them for quick experiments; the committed models use the defaults.
TRAIN_N = int(os.environ.get("STUDY_TRAIN_N", "60000"))
EPOCHS = {"float": 3, "bwn": 1, "xnor": 2, "bireal": 2}
for kv in filter(None, os.environ.get("STUDY_EPOCHS", "").split(",")):
    EPOCHS[kv.split("=")[0]] = int(kv.split("=")[1])
BATCH = 128


def idx(name):
    with gzip.open(os.path.join(DATA, name)) as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load():
    xtr = idx("train-images-idx3-ubyte.gz")
    ytr = idx("train-labels-idx1-ubyte.gz")
    xte = idx("t10k-images-idx3-ubyte.gz")
    yte = idx("t10k-labels-idx1-ubyte.gz")
    order = np.random.default_rng(0).permutation(len(xtr))[:TRAIN_N]
    return xtr[order], ytr[order], xte, yte


def as_input(x):
    return (x.astype(np.float32) / 255.0)[..., None]


def bkw():
    return dict(
        input_quantizer="ste_sign",
        kernel_quantizer="ste_sign",
        kernel_constraint="weight_clip",
        use_bias=False,
        pad_values=1.0,
        padding="same",
    )


class FakeQuant(L.Layer):
    """int8 range of one activation tensor, learnt during training (quantization-aware).

    Training: the running minimum / maximum of the batches (exponential moving average, like
    TensorFlow Model Optimization's moving-average quantizer) and fake quantization with it.
    Inference and conversion: `tf.quantization.fake_quant_with_min_max_vars` with the learnt range,
    which is what makes the LCE converter emit int8 ops (TFLite int8 spec) for the real-valued
    layers of a binary model. `fixed` pins the range (the input pixels are in [0, 1])."""

    def __init__(self, fixed=None, momentum=0.99, **kw):
        super().__init__(**kw)
        self.fixed = fixed
        self.momentum = momentum

    def build(self, shape):
        lo, hi = self.fixed or (-1.0, 1.0)
        self.lo = self.add_weight(name="lo", shape=(), initializer=tf.constant_initializer(lo), trainable=False)
        self.hi = self.add_weight(name="hi", shape=(), initializer=tf.constant_initializer(hi), trainable=False)
        self.seen = self.add_weight(name="seen", shape=(), initializer="zeros", trainable=False)

    def call(self, x, training=None):
        if training and self.fixed is None:
            lo = tf.minimum(tf.reduce_min(x), 0.0)
            hi = tf.maximum(tf.reduce_max(x), 0.0)
            m = tf.where(self.seen > 0, self.momentum, 0.0)
            self.lo.assign(m * self.lo + (1 - m) * lo)
            self.hi.assign(m * self.hi + (1 - m) * hi)
            self.seen.assign(1.0)
        return tf.quantization.fake_quant_with_min_max_vars(x, self.lo, self.hi, num_bits=8)


# Architecture family (every variant): 28x28x1 -> conv3x3/2 32 -> conv3x3 64 -> maxpool ->
# conv3x3 128 -> conv3x3 128 -> global average pool -> dense 10. The stride-2 stem keeps the
# first layer (1 input channel, which binarization cannot help) cheap; the three 3x3 convs with
# 32..128 input channels carry 99.6 % of the MACs, which is where binary wins.
WIDTHS = (64, 128, 128)


def build_float():
    x = tf.keras.Input((28, 28, 1))
    y = L.Conv2D(32, 3, strides=2, padding="same", use_bias=False)(x)
    y = L.BatchNormalization()(y)
    y = L.ReLU()(y)
    for i, c in enumerate(WIDTHS):
        y = L.Conv2D(c, 3, padding="same", use_bias=False)(y)
        y = L.BatchNormalization()(y)
        y = L.ReLU()(y)
        if i == 0:
            y = L.MaxPool2D(2)(y)
    y = L.GlobalAveragePooling2D()(y)
    y = L.Dense(10)(y)
    return tf.keras.Model(x, y)


def build_bwn():
    import larq as lq

    x = tf.keras.Input((28, 28, 1))
    y = L.Conv2D(32, 3, strides=2, padding="same", use_bias=False)(x)
    y = L.BatchNormalization()(y)
    y = L.ReLU()(y)
    for i, c in enumerate(WIDTHS):
        y = lq.layers.QuantConv2D(
            c, 3, padding="same", kernel_quantizer="ste_sign", kernel_constraint="weight_clip", use_bias=False
        )(y)
        y = L.BatchNormalization()(y)
        y = L.ReLU()(y)
        if i == 0:
            y = L.MaxPool2D(2)(y)
    y = L.GlobalAveragePooling2D()(y)
    y = L.Dense(10)(y)
    return tf.keras.Model(x, y)


def int8_stem(x):
    """int8 first layer: quantized input, stride-2 conv (+ folded batch norm), int8 output."""
    y = FakeQuant(fixed=(0.0, 1.0))(x)
    y = L.Conv2D(32, 3, strides=2, padding="same", use_bias=False)(y)
    y = L.BatchNormalization()(y)
    return FakeQuant()(y)


def int8_head(y):
    """int8 last layers: global average pool and dense on int8, float logits out."""
    y = FakeQuant()(y)
    y = L.GlobalAveragePooling2D()(y)
    y = FakeQuant()(y)
    y = L.Dense(10)(y)
    return FakeQuant()(y)


def build_xnor():
    import larq as lq

    x = tf.keras.Input((28, 28, 1))
    y = int8_stem(x)
    for i, c in enumerate(WIDTHS):
        y = lq.layers.QuantConv2D(c, 3, **bkw())(y)
        y = L.BatchNormalization()(y)
        if i == 0:
            y = L.MaxPool2D(2)(y)
    return tf.keras.Model(x, int8_head(y))


def build_bireal():
    """xnor plus a real-valued (int8) shortcut around every binary conv whose input and output
    shapes agree (Bi-Real Net); the others are plain xnor convs."""
    import larq as lq

    x = tf.keras.Input((28, 28, 1))
    y = int8_stem(x)
    for i, c in enumerate(WIDTHS):
        h = lq.layers.QuantConv2D(c, 3, **bkw())(y)
        h = L.BatchNormalization()(h)
        if y.shape[-1] == c:
            h = FakeQuant()(h)
            y = FakeQuant()(L.Add()([y, h]))
        else:
            y = h if i == 0 else FakeQuant()(h)
        if i == 0:
            y = L.MaxPool2D(2)(y)
    return tf.keras.Model(x, int8_head(y))


def train(model, xtr, ytr, xte, yte, epochs):
    steps = epochs * ((len(xtr) + BATCH - 1) // BATCH)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(tf.keras.optimizers.schedules.CosineDecay(2e-3, max(steps, 1))),
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(as_input(xtr), ytr, batch_size=BATCH, epochs=epochs, verbose=2, shuffle=True)
    _, acc = model.evaluate(as_input(xte), yte, batch_size=500, verbose=0)
    return float(acc)


def tflite_accuracy(blob, xte, yte, lce_runtime):
    if lce_runtime:
        from larq_compute_engine.tflite.python.interpreter import Interpreter

        it = Interpreter(blob, num_threads=1)
        out = np.concatenate([it.predict(as_input(xte[i : i + 500])) for i in range(0, len(xte), 500)])
    else:
        it = tf.lite.Interpreter(
            model_content=blob, experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF
        )
        it.allocate_tensors()
        i_in = it.get_input_details()[0]["index"]
        i_out = it.get_output_details()[0]["index"]
        out = []
        for i in range(len(xte)):
            it.set_tensor(i_in, as_input(xte[i : i + 1]))
            it.invoke()
            out.append(it.get_tensor(i_out)[0])
        out = np.stack(out)
    return float(np.mean(np.argmax(out, axis=1) == yte))


def main():
    wanted = sys.argv[1:] or ["float", "int8", "xnor", "bireal", "bwn"]
    os.makedirs(OUT, exist_ok=True)
    xtr, ytr, xte, yte = load()
    np.save(os.path.join(OUT, "test_images.npy"), xte)
    np.save(os.path.join(OUT, "test_labels.npy"), yte)
    print(f"train subset {len(xtr)} of 60000, test {len(xte)}", flush=True)

    results = {}
    path = os.path.join(OUT, "framework_accuracy.txt")
    if os.path.exists(path):
        for line in open(path):
            if line.strip() and not line.startswith("#"):
                results[line.split()[0]] = line.strip()

    float_model = None
    for name in wanted:
        t0 = time.time()
        tf.keras.utils.set_random_seed(1234)
        if name in ("float", "int8"):
            if float_model is None:
                float_model = build_float()
                keras_acc = train(float_model, xtr, ytr, xte, yte, EPOCHS["float"])
                float_keras_acc = keras_acc
            keras_acc = float_keras_acc
            conv = tf.lite.TFLiteConverter.from_keras_model(float_model)
            if name == "int8":
                rep_x = as_input(xtr[:500])

                def rep():
                    for i in range(len(rep_x)):
                        yield [rep_x[i : i + 1]]

                conv.optimizations = [tf.lite.Optimize.DEFAULT]
                conv.representative_dataset = rep
                conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            blob = conv.convert()
            lce_runtime = False
        else:
            import larq_compute_engine as lce

            model = {"bwn": build_bwn, "xnor": build_xnor, "bireal": build_bireal}[name]()
            keras_acc = train(model, xtr, ytr, xte, yte, EPOCHS[name])
            blob = lce.convert_keras_model(model)
            lce_runtime = True
        with open(os.path.join(OUT, f"{name}.tflite"), "wb") as f:
            f.write(blob)
        lite_acc = tflite_accuracy(blob, xte, yte, lce_runtime)
        runtime = "lce" if lce_runtime else "tflite"
        results[name] = f"{name} {keras_acc:.4f} {lite_acc:.4f} {runtime}"
        print(
            f"{name}: keras test accuracy {keras_acc:.4f}, {runtime} .tflite {lite_acc:.4f} "
            f"({len(blob)} bytes, {time.time() - t0:.0f} s)",
            flush=True,
        )
        with open(path, "w") as f:
            f.write("# variant keras_accuracy tflite_accuracy runtime (full 10k test set)\n")
            for k in ("float", "int8", "bwn", "xnor", "bireal"):
                if k in results:
                    f.write(results[k] + "\n")


if __name__ == "__main__":
    main()
