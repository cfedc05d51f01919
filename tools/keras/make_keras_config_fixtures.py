"""Keras models Zoo builds from their own config (the `keras` family): small CNNs with random weights (BatchNorm
statistics randomized too), each saved as a full-model HDF5 file by Keras 3 and by tf-keras 2 (whose configs are
different dialects), with an input and Keras's output for it. Writes manifest.json beside them.

    tools/python tools/keras/make_keras_config_fixtures.py Tests/ZooModelsTests/Fixtures/keras-config
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np
import keras
import tf_keras


def sequential_cnn(k):
    """A MNIST-style Sequential CNN: every core layer in a chain."""
    L = k.layers
    return k.Sequential([
        k.Input((28, 28, 1)),
        L.Conv2D(8, 3, activation="relu", name="conv1"),
        L.MaxPooling2D(2, name="pool1"),
        L.Conv2D(16, 3, padding="same", use_bias=False, name="conv2"),
        L.BatchNormalization(epsilon=1e-3, name="bn2"),
        L.Activation("relu", name="relu2"),
        L.AveragePooling2D(2, padding="same", name="pool2"),
        L.Dropout(0.25, name="dropout"),
        L.Flatten(name="flatten"),
        L.Dense(32, activation="tanh", name="fc1"),
        L.Dense(10, activation="softmax", name="predictions"),
    ], name="mnist_cnn")


def residual_net(k):
    """A Functional net with a residual Add, a Concatenate of two branches, padding and global pooling."""
    L = k.layers
    inputs = k.Input((32, 32, 3), name="image")
    x = L.Conv2D(8, 3, padding="same", name="stem")(inputs)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.ReLU(name="stem_relu")(x)
    y = L.Conv2D(8, 3, padding="same", name="block_conv")(x)
    y = L.BatchNormalization(name="block_bn")(y)
    x = L.Add(name="block_add")([x, y])
    x = L.Activation("relu", name="block_out")(x)
    x = L.ZeroPadding2D(((1, 0), (2, 1)), name="pad")(x)
    x = L.MaxPooling2D(3, strides=2, name="pool")(x)
    a = L.Conv2D(4, 1, activation="sigmoid", name="branch_a")(x)
    b = L.Conv2D(6, 3, padding="same", name="branch_b")(x)
    x = L.Concatenate(name="concat")([a, b])
    x = L.GlobalAveragePooling2D(name="gap")(x)
    outputs = L.Dense(5, name="logits")(x)
    return k.Model(inputs, outputs, name="residual_net")


def randomize(model, rng):
    for layer in model.layers:
        values = []
        for w in layer.weights:
            shape = tuple(w.shape)
            if "moving_variance" in w.name:
                values.append(rng.uniform(0.5, 1.5, shape))
            elif "gamma" in w.name:
                values.append(rng.uniform(0.5, 1.5, shape))
            else:
                values.append(rng.uniform(-0.5, 0.5, shape))
        if values:
            layer.set_weights([v.astype("float32") for v in values])


def main(out):
    os.makedirs(out, exist_ok=True)
    cases = []
    for seed, build in enumerate([sequential_cnn, residual_net]):
        for flavour, k in [("keras3", keras), ("tf_keras", tf_keras)]:
            rng = np.random.default_rng(seed)
            model = build(k)
            randomize(model, rng)
            name = f"{model.name}_{flavour}"
            model.save(os.path.join(out, f"{name}.h5"))
            x = rng.uniform(0, 1, (2,) + tuple(model.input_shape[1:])).astype("<f4")
            y = np.asarray(model(x, training=False), dtype="<f4")
            x.tofile(os.path.join(out, f"{name}.input.f32"))
            y.tofile(os.path.join(out, f"{name}.output.f32"))
            cases.append({"name": name, "file": f"{name}.h5", "input": list(x.shape), "output": list(y.shape),
                          "parameters": int(model.count_params()),
                          "layers": [l.name for l in model.layers if l.__class__.__name__ != "InputLayer"]})
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"cases": cases}, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
