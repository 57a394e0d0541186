#!/usr/bin/env python3
"""Builds the committed data of examples/style/ from photos that ship inside the scikit-image and
scikit-learn wheels (no download):

    photos/<name>.png   evaluation set, 6 RGB photos, 256x256 (centre square crop, area resize)
    calib/<name>.png    calibration set, 8 RGB images 256x256, disjoint from photos/
    ref_<model>_64_in.npy / ref_<model>_64_out.npy
                        onnxruntime reference of fns_<model>.onnx on a 64x64 crop of
                        photos/astronaut.png; NHWC float32 [1,64,64,3], values 0..255

    /work/venv-style/bin/python tools/style/make_data.py [--refs-only]

Deterministic: no randomness; resizing by skimage.transform.resize (anti-aliased), rounding to uint8.
"""

import os
import sys

import numpy as np
from PIL import Image
from skimage import data, transform
from sklearn.datasets import load_sample_images

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "..", "examples", "style"))
MODELS = os.environ.get("STYLE_MODELS", os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "models")))
if not os.path.isdir(MODELS):
    MODELS = "/work/shared/models"


def rgb(img):
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.stack([img] * 3, -1)
    if img.shape[-1] == 4:  # composite RGBA on white
        a = img[..., 3:4].astype(np.float32) / 255.0
        img = (img[..., :3].astype(np.float32) * a + 255.0 * (1 - a)).round().astype(np.uint8)
    if img.dtype != np.uint8:
        img = (np.clip(img, 0, 1) * 255).round().astype(np.uint8) if img.dtype.kind == "f" else img.astype(np.uint8)
    return img


def square(img, size=256):
    """Centre square crop, then anti-aliased resize to size x size, uint8 RGB."""
    img = rgb(img)
    h, w = img.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    img = img[y : y + s, x : x + s]
    out = transform.resize(img, (size, size), order=1, anti_aliasing=True, preserve_range=True)
    return np.clip(out.round(), 0, 255).astype(np.uint8)


def sk_sample(name):
    s = load_sample_images()
    for f, im in zip(s.filenames, s.images):
        if os.path.basename(f) == name:
            return im
    raise KeyError(name)


# Evaluation photos (held out from calibration and from distillation training).
PHOTOS = {
    "astronaut": lambda: data.astronaut(),
    "chelsea": lambda: data.chelsea(),
    "coffee": lambda: data.coffee(),
    "rocket": lambda: data.rocket(),
    "china": lambda: sk_sample("china.jpg"),
    "flower": lambda: sk_sample("flower.jpg"),
}
# Calibration images (also part of the distillation training pool).
CALIB = {
    "hubble": lambda: data.hubble_deep_field(),
    "ihc": lambda: data.immunohistochemistry(),
    "retina": lambda: data.retina(),
    "camera": lambda: data.camera(),
    "coins": lambda: data.coins(),
    "brick": lambda: data.brick(),
    "grass": lambda: data.grass(),
    "gravel": lambda: data.gravel(),
}
# Extra distillation-training images, never written to disk (full resolution, random crops).
TRAIN_EXTRA = {
    "motorcycle_left": lambda: data.stereo_motorcycle()[0],
    "motorcycle_right": lambda: data.stereo_motorcycle()[1],
    "logo": lambda: data.logo(),
    "colorwheel": lambda: data.colorwheel(),
    "clock": lambda: data.clock(),
    "page": lambda: data.page(),
    "moon": lambda: data.moon(),
    "text": lambda: data.text(),
    "cell": lambda: data.cell(),
}


def save_png(path, img):
    Image.fromarray(img).save(path, optimize=True)


def load_png(path):
    return np.asarray(Image.open(path).convert("RGB"))


def ref_crop():
    """64x64 crop (rows 40..104, cols 96..160: the face) of photos/astronaut.png, NHWC float32."""
    img = load_png(os.path.join(OUT, "photos", "astronaut.png"))
    return img[40:104, 96:160].astype(np.float32)[None]


def run_ort(model_path, nhwc):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(model_path, so, providers=["CPUExecutionProvider"])
    x = np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2))
    y = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    return np.ascontiguousarray(y.transpose(0, 2, 3, 1)).astype(np.float32)


def main():
    refs_only = "--refs-only" in sys.argv
    if not refs_only:
        for d, table in (("photos", PHOTOS), ("calib", CALIB)):
            os.makedirs(os.path.join(OUT, d), exist_ok=True)
            for name, fn in table.items():
                save_png(os.path.join(OUT, d, name + ".png"), square(fn()))
                print("wrote", d, name)
    x = ref_crop()
    for m in ("candy", "mosaic"):
        y = run_ort(os.path.join(MODELS, f"fns_{m}.onnx"), x)
        np.save(os.path.join(OUT, f"ref_{m}_64_in.npy"), x)
        np.save(os.path.join(OUT, f"ref_{m}_64_out.npy"), y)
        print(m, "out", y.shape, float(y.min()), float(y.max()))


if __name__ == "__main__":
    main()
