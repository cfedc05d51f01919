"""Writes keras.applications' ResNet50 with random weights (seeded), its config included, as Keras HDF5, and a JPEG
photo-sized test image: what tools/bench/serve serves. Usage: make_resnet50.py OUT.h5 IMAGE.jpg"""
import sys

import numpy as np

import keras
from PIL import Image

keras.utils.set_random_seed(1)
model = keras.applications.ResNet50(weights=None)
model.save(sys.argv[1])
pixels = np.random.default_rng(1).integers(0, 256, size=(375, 500, 3), dtype=np.uint8)
Image.fromarray(pixels).save(sys.argv[2], quality=90)
