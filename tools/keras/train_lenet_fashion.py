"""Trains LeNet-5 with ReLU and max pooling (Zoo's lenet5-relu) in Keras on Fashion-MNIST classes 0, 1, 3, 5, 8
(T-shirt/top, Trouser, Dress, Sandal, Bag) and writes the example files under examples/:

  lenet5-relu_fashion_0-1-3-5-8.h5   the whole model as Keras HDF5 (layer names as Zoo's plugin names them)
  fashion_0-1-3-5-8.txt              its class names, one per line
  images/*.png                       two test images of every class, named by class (the other five too, for transfer)

The input is what Zoo's lenet5 preprocessing makes of a 28x28 image: pixels / 255, resized to 32x32 bilinearly
(tf.image.resize, the resize Zoo matches). Run from the pinned environment:
    tools/python tools/keras/train_lenet_fashion.py examples
"""
import gzip
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np
import tensorflow as tf
import keras

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from backbone_models import lenet5  # noqa: E402

DATA = os.environ.get("FASHION_MNIST", "/usr/share/datasets/fashion-mnist")
NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SOURCE_CLASSES = [0, 1, 3, 5, 8]
TARGET_CLASSES = [2, 4, 6, 7, 9]
STEM = "lenet5-relu_fashion_0-1-3-5-8"


def idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def subset(images, labels, classes):
    """The images of `classes`, labelled by their position in it (as zoo's --classes relabels them)."""
    position = np.full(len(NAMES), -1)
    position[classes] = np.arange(len(classes))
    keep = np.isin(labels, classes)
    return images[keep], position[labels[keep]]


def prepare(images):
    x = images[..., None].astype(np.float32) / 255.0
    return tf.image.resize(x, (32, 32), method="bilinear").numpy()


def main(out):
    keras.utils.set_random_seed(1998)
    tf.config.experimental.enable_op_determinism()
    train_x, train_y = subset(idx("train-images-idx3-ubyte.gz"), idx("train-labels-idx1-ubyte.gz"), SOURCE_CLASSES)
    test_images, test_labels = idx("t10k-images-idx3-ubyte.gz"), idx("t10k-labels-idx1-ubyte.gz")
    test_x, test_y = subset(test_images, test_labels, SOURCE_CLASSES)

    model = lenet5(classes=len(SOURCE_CLASSES), relu=True)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(prepare(train_x), train_y, batch_size=64, epochs=8, verbose=2)
    loss, accuracy = model.evaluate(prepare(test_x), test_y, verbose=0)
    print(f"test accuracy on classes {SOURCE_CLASSES}: {accuracy:.4f} ({len(test_y)} images)")

    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    model.save(os.path.join(out, f"{STEM}.h5"), include_optimizer=False)
    with open(os.path.join(out, "fashion_0-1-3-5-8.txt"), "w") as f:
        f.write("".join(NAMES[c] + "\n" for c in SOURCE_CLASSES))
    # The first two test images of every class, as 28x28 grayscale PNG.
    for c in range(10):
        for n, i in enumerate(np.flatnonzero(test_labels == c)[:2]):
            name = NAMES[c].lower().replace("/", "-").replace(" ", "-")
            png = tf.io.encode_png(test_images[i][..., None]).numpy()
            with open(os.path.join(out, "images", f"{c}-{name}-{n + 1}.png"), "wb") as f:
                f.write(png)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "examples")
