"""The README's transfer example done in Keras, as a cross-check of Zoo's numbers: the example LeNet-5 (classes 0-4)
as a frozen feature extractor with a new linear head, against LeNet-5 from scratch, both on 50 training images per
class of Fashion-MNIST's classes 5-9, scored on their 5,000 test images. Its own choice of the 250 images.

Run from the pinned environment:  tools/python tools/keras/lenet_transfer_baseline.py
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np
import keras

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_lenet_fashion import idx, prepare, lenet5  # noqa: E402

examples = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples")
train_images, train_labels = idx("train-images-idx3-ubyte.gz"), idx("train-labels-idx1-ubyte.gz")
test_images, test_labels = idx("t10k-images-idx3-ubyte.gz"), idx("t10k-labels-idx1-ubyte.gz")
rng = np.random.default_rng(0)
chosen = np.concatenate([rng.choice(np.flatnonzero(train_labels == c), 50, replace=False) for c in range(5, 10)])
x, y = prepare(train_images[chosen]), train_labels[chosen] - 5
kept = test_labels >= 5
test_x, test_y = prepare(test_images[kept]), test_labels[kept] - 5
source = keras.models.load_model(os.path.join(examples, "lenet5_fashion_0-4.h5"), compile=False)
logits = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

keras.utils.set_random_seed(0)
features = keras.Sequential(source.layers[:6])  # c1 … c5 and flatten: the 120 c5 features
head = keras.Sequential([keras.Input((120,)), keras.layers.Dense(5)])
head.compile(keras.optimizers.Adam(1e-2), logits, metrics=["accuracy"])
head.fit(features.predict(x, verbose=0), y, batch_size=32, epochs=30, verbose=0)
print(f"(a) features, linear head: {head.evaluate(features.predict(test_x, verbose=0), test_y, verbose=0)[1]:.4f}")

scratch = lenet5(5)
scratch.layers[-1].activation = None
scratch.compile(keras.optimizers.Adam(1e-2), logits, metrics=["accuracy"])
scratch.fit(x, y, batch_size=32, epochs=30, verbose=0)
print(f"(c) scratch:               {scratch.evaluate(test_x, test_y, verbose=0)[1]:.4f}")
