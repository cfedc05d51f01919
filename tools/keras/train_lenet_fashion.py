"""Trains LeNet-5 in Keras on Fashion-MNIST classes 0-4 and writes the example files under examples/:

  lenet5_fashion_0-4.h5     the whole model as Keras HDF5 (layer names as Zoo's lenet5 plugin names them)
  fashion_0-4.txt           its class names, one per line
  images/*.png              a few test images of every class, named by class (classes 5-9 too, for transfer)

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

DATA = os.environ.get("FASHION_MNIST", "/usr/share/datasets/fashion-mnist")
NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SOURCE_CLASSES = range(0, 5)


def idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def subset(images, labels, classes):
    keep = np.isin(labels, list(classes))
    return images[keep], labels[keep]


def prepare(images):
    x = images[..., None].astype(np.float32) / 255.0
    return tf.image.resize(x, (32, 32), method="bilinear").numpy()


def lenet5(classes):
    return keras.Sequential([
        keras.Input((32, 32, 1)),
        keras.layers.Conv2D(6, 5, activation="tanh", name="c1"),
        keras.layers.AveragePooling2D(2, name="s2"),
        keras.layers.Conv2D(16, 5, activation="tanh", name="c3"),
        keras.layers.AveragePooling2D(2, name="s4"),
        keras.layers.Conv2D(120, 5, activation="tanh", name="c5"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(84, activation="tanh", name="f6"),
        keras.layers.Dense(classes, activation="softmax", name="predictions"),
    ], name="lenet5")


def main(out):
    keras.utils.set_random_seed(1998)
    tf.config.experimental.enable_op_determinism()
    train_x, train_y = subset(idx("train-images-idx3-ubyte.gz"), idx("train-labels-idx1-ubyte.gz"), SOURCE_CLASSES)
    test_images, test_labels = idx("t10k-images-idx3-ubyte.gz"), idx("t10k-labels-idx1-ubyte.gz")
    test_x, test_y = subset(test_images, test_labels, SOURCE_CLASSES)

    model = lenet5(len(SOURCE_CLASSES))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(prepare(train_x), train_y, batch_size=64, epochs=8, verbose=2)
    loss, accuracy = model.evaluate(prepare(test_x), test_y, verbose=0)
    print(f"test accuracy on classes 0-4: {accuracy:.4f} ({len(test_y)} images)")

    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    model.save(os.path.join(out, "lenet5_fashion_0-4.h5"), include_optimizer=False)
    with open(os.path.join(out, "fashion_0-4.txt"), "w") as f:
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
