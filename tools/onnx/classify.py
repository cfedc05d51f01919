"""Classifies images with a model `zoo convert --to onnx` wrote, in ONNX Runtime alone: each image prepared as the
model's metadata says (input size, crop fraction, preprocessing), then the top classes by the names it carries.

    tools/python tools/onnx/classify.py MODEL.onnx IMAGE... [--top N]
"""
import json
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image

args = sys.argv[1:]
top = 5
if "--top" in args:
    at = args.index("--top")
    top = int(args[at + 1])
    del args[at:at + 2]
model, images = args[0], args[1:]

session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
meta = session.get_modelmeta().custom_metadata_map
declared = session.get_inputs()[0]
nchw = meta["zoo.input_layout"] == "NCHW"
channels = declared.shape[1] if nchw else declared.shape[3]
height, width = map(int, meta["zoo.input_size"].split("x"))
crop = float(meta["zoo.crop_fraction"])
names = json.loads(meta["zoo.class_names"]) if "zoo.class_names" in meta else None


def prepare(path):
    """Resize the shorter side so that the centre crop covers `crop` of it, cut the centre (at crop 1: resize the whole
    image to the input size), normalize."""
    image = Image.open(path).convert("RGB" if channels == 3 else "L")
    if crop == 1:
        size = (width, height)
    else:
        scale = max(height / image.height, width / image.width) / crop
        size = (max(width, round(image.width * scale)), max(height, round(image.height * scale)))
    image = image.resize(size, Image.BILINEAR)
    left, upper = (size[0] - width) // 2, (size[1] - height) // 2
    x = np.asarray(image.crop((left, upper, left + width, upper + height)), np.float32).reshape(height, width, channels)
    mode = meta["zoo.preprocessing"]
    if mode == "caffe":
        x = (x[..., ::-1] if channels == 3 else x) - np.array([103.939, 116.779, 123.68][:channels], np.float32)
    elif mode == "torch":
        x = (x / 255 - np.array([0.485, 0.456, 0.406][:channels], np.float32)) / np.array([0.229, 0.224, 0.225][:channels], np.float32)
    elif mode == "tf":
        x = x / 127.5 - 1
    elif mode == "unit":
        x = x / 255
    return x.transpose(2, 0, 1) if nchw else x


batch = np.stack([prepare(path) for path in images]).astype(np.float32)
probabilities = session.run(None, {declared.name: batch})[0]
for path, p in zip(images, probabilities):
    print(path)
    for c in np.argsort(-p, kind="stable")[:top]:
        print(f"  {100 * p[c]:6.2f}%  {names[c] if names else 'class'} ({c})")
