#!/usr/bin/env python3
"""The compression study's models: one small CNN family trained on Fashion-MNIST, in five variants.

    float   float32 baseline                      (TFLite converter)
    int8    post-training int8 quantization of `float` (TFLite converter, representative dataset)
    bwn     binary weights, float activations     (Larq, LCE converter)
    xnor    binary weights and activations, per-channel scaling by batch norm, first and last
            layers real-valued (float)           (Larq, LCE converter)
    bireal  Bi-Real-style: xnor plus real-valued shortcuts around every binary conv
                                                  (Larq, LCE converter)

Architecture family: 28x28x1 -> conv3x3 32 -> maxpool -> conv3x3 64 -> maxpool -> conv3x3 128 ->
global average pool -> dense 10 (logits). Every model takes float32 [1, 28, 28, 1] pixels / 255
and returns float32 logits (the int8 model quantizes on entry and dequantizes on exit).

Run once, with the pinned environment of requirements.txt (Python 3.11):

    /work/venv-tf/bin/python tools/train/train.py                  # all variants
    /work/venv-tf/bin/python tools/train/train.py xnor bireal      # some variants

Data: Debian's `dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist/). Writes to
examples/study/: <variant>.tflite, test_images.npy (uint8 [10000, 28, 28]), test_labels.npy
(uint8 [10000]) and framework_accuracy.txt (one line per variant: name, Keras test accuracy, the
.tflite's test accuracy under TFLite's / LCE's interpreter). Seeded (numpy, Python, TF); TF's CPU
kernels may still reorder float sums between runs, so retrained weights can differ in the last
bits. CI never runs this: the results are committed.
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
OUT = os.path.normpath(os.path.join(HERE, "..", "..", "examples", "study"))
DATA = "/usr/share/datasets/fashion-mnist"
L = tf.keras.layers

# Training budget (2-core CPU, a few minutes per model): a fixed subset of the training set.
TRAIN_N = int(os.environ.get("STUDY_TRAIN_N", "30000"))
EPOCHS = {"float": 4, "bwn": 6, "xnor": 6, "bireal": 6}
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


def build_float():
    x = tf.keras.Input((28, 28, 1))
    y = x
    for i, c in enumerate((32, 64, 128)):
        y = L.Conv2D(c, 3, padding="same", use_bias=False)(y)
        y = L.BatchNormalization()(y)
        y = L.ReLU()(y)
        if i < 2:
            y = L.MaxPool2D(2)(y)
    y = L.GlobalAveragePooling2D()(y)
    y = L.Dense(10)(y)
    return tf.keras.Model(x, y)


def build_bwn():
    import larq as lq

    x = tf.keras.Input((28, 28, 1))
    y = L.Conv2D(32, 3, padding="same", use_bias=False)(x)
    y = L.BatchNormalization()(y)
    y = L.ReLU()(y)
    y = L.MaxPool2D(2)(y)
    for i, c in enumerate((64, 128)):
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


def build_xnor():
    import larq as lq

    x = tf.keras.Input((28, 28, 1))
    y = L.Conv2D(32, 3, padding="same", use_bias=False)(x)
    y = L.BatchNormalization()(y)
    y = L.MaxPool2D(2)(y)
    y = lq.layers.QuantConv2D(64, 3, **bkw())(y)
    y = L.BatchNormalization()(y)
    y = L.MaxPool2D(2)(y)
    y = lq.layers.QuantConv2D(128, 3, **bkw())(y)
    y = L.BatchNormalization()(y)
    y = L.GlobalAveragePooling2D()(y)
    y = L.Dense(10)(y)
    return tf.keras.Model(x, y)


def build_bireal():
    import larq as lq

    def block(y, c):
        h = lq.layers.QuantConv2D(c, 3, **bkw())(y)
        h = L.BatchNormalization()(h)
        return L.Add()([y, h])

    x = tf.keras.Input((28, 28, 1))
    y = L.Conv2D(32, 3, padding="same", use_bias=False)(x)
    y = L.BatchNormalization()(y)
    y = L.MaxPool2D(2)(y)
    y = block(y, 32)
    y = lq.layers.QuantConv2D(64, 3, **bkw())(y)
    y = L.BatchNormalization()(y)
    y = L.MaxPool2D(2)(y)
    y = block(y, 64)
    y = lq.layers.QuantConv2D(128, 3, **bkw())(y)
    y = L.BatchNormalization()(y)
    y = block(y, 128)
    y = L.GlobalAveragePooling2D()(y)
    y = L.Dense(10)(y)
    return tf.keras.Model(x, y)


def train(model, xtr, ytr, xte, yte, epochs):
    model.compile(
        optimizer=tf.keras.optimizers.Adam(1e-3),
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
    wanted = sys.argv[1:] or ["float", "int8", "bwn", "xnor", "bireal"]
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
