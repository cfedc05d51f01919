"""Keras's class probabilities for images prepared as `zoo predict --crop-fraction F` says, the oracle of that option:

  F = 1   keras.utils.load_img(path, target_size=(h, w), interpolation="bilinear"): the whole image resized to the
          input size, as a Keras pipeline feeds it
  F < 1   the shorter side resized (PIL bilinear) to the input's side / F, then the centre cut out

Pixels are scaled to 0..1 (the preprocessing of Zoo's LeNet plugins). Prints JSON: {image path: [probabilities]}.

    tools/python tools/keras/crop_oracle.py MODEL.h5 FRACTION IMAGE...
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np
import keras
from PIL import Image

model = keras.models.load_model(sys.argv[1], compile=False)
fraction = float(sys.argv[2])
_, height, width, channels = model.input_shape
mode = "L" if channels == 1 else "RGB"


def prepared(path):
    if fraction == 1:
        image = keras.utils.load_img(path, color_mode="grayscale" if channels == 1 else "rgb", target_size=(height, width),
                                     interpolation="bilinear")
        return keras.utils.img_to_array(image)
    image = Image.open(path).convert(mode)
    scale = max(height / image.height, width / image.width) / fraction
    size = (max(width, round(image.width * scale)), max(height, round(image.height * scale)))
    image = image.resize(size, Image.BILINEAR)
    left, top = (size[0] - width) // 2, (size[1] - height) // 2
    return np.asarray(image.crop((left, top, left + width, top + height)), np.float32).reshape(height, width, channels)


paths = sys.argv[3:]
probabilities = model.predict(np.stack([prepared(p) for p in paths]) / 255.0, verbose=0)
print(json.dumps({p: [float(v) for v in row] for p, row in zip(paths, probabilities)}))
