"""Writes images encoded by TensorFlow and what TensorFlow decodes and resizes them to, for Zoo's imaging tests.

Run from the pinned environment:  tools/python tools/keras/make_image_fixtures.py Tests/ZooImagingTests/Fixtures
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tensorflow as tf

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(20261123)

# Smooth content plus noise, so that JPEG is not lossless and resizing has something to average.
h, w = 23, 37
yy, xx = np.mgrid[0:h, 0:w]
base = np.stack([xx * 255 / (w - 1), yy * 255 / (h - 1), (xx + yy) * 255 / (w + h - 2)], axis=-1)
rgb = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
gray = rgb[..., :1]
rgba = np.concatenate([rgb, rng.integers(0, 256, (h, w, 1), dtype=np.uint8)], axis=-1)

cases = {}


def pixels(a):
    a = np.asarray(a)
    return {"shape": list(a.shape), "data": [int(v) for v in a.reshape(-1)]}


def write(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


for name, image in [("rgb", rgb), ("gray", gray)]:
    write(f"{name}.png", tf.io.encode_png(image).numpy())
    write(f"{name}.jpg", tf.io.encode_jpeg(image, quality=85).numpy())
    cases[f"{name}.png"] = pixels(image)
    cases[f"{name}.jpg"] = pixels(tf.io.decode_jpeg(tf.io.read_file(os.path.join(out, f"{name}.jpg"))).numpy())
write("rgba.png", tf.io.encode_png(rgba).numpy())
cases["rgba.png"] = pixels(rgba[..., :3])  # alpha dropped, as PIL's convert("RGB") in keras.utils.load_img
cases["source"] = pixels(rgb)

# Bilinear upscaling on half-pixel centres, as tf.image.resize does it (rounded back to 8 bits).
resizes = []
for th, tw in [(32, 48), (46, 74), (31, 50)]:
    resized = tf.image.resize(rgb.astype(np.float32), (th, tw), method="bilinear").numpy()
    resizes.append({"height": th, "width": tw, "pixels": pixels(np.clip(np.round(resized), 0, 255).astype(np.uint8))})
cases["upscaled"] = resizes

with open(os.path.join(out, "images.json"), "w") as f:
    json.dump(cases, f)
