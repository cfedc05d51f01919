"""Writes TensorFlow/Keras reference outputs for Zoo's op tests.

Each case holds its inputs, parameters and the output TensorFlow computed, on random inputs from a fixed seed.
Run from the pinned environment (tools/setup creates it):  python tools/keras/make_op_fixtures.py OUT.json
"""
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np
import tensorflow as tf
import keras

rng = np.random.default_rng(20261123)
cases = []


def array(a):
    a = np.asarray(a, dtype=np.float32)
    return {"shape": list(a.shape), "data": [float(v) for v in a.reshape(-1)]}


def add(op, params, inputs, outputs):
    cases.append({"op": op, "params": params,
                  "inputs": {k: array(v) for k, v in inputs.items()},
                  "outputs": {k: array(v) for k, v in outputs.items()}})


def randn(*shape):
    return rng.standard_normal(shape).astype(np.float32)


# Convolution: odd sizes, stride 2 with same padding, 1x1 kernels, dilation, groups, explicit padding.
conv_cases = [
    ((1, 7, 9, 3), (3, 3, 3, 5), (1, 1), "same", (1, 1), 1),
    ((2, 9, 8, 4), (3, 3, 4, 6), (2, 2), "same", (1, 1), 1),
    ((2, 11, 11, 3), (5, 5, 3, 8), (2, 2), "valid", (1, 1), 1),
    ((1, 15, 15, 3), (7, 7, 3, 4), (2, 2), "same", (1, 1), 1),
    ((3, 5, 5, 16), (1, 1, 16, 7), (1, 1), "valid", (1, 1), 1),
    ((2, 10, 7, 3), (1, 1, 3, 4), (2, 2), "valid", (1, 1), 1),
    ((1, 9, 9, 2), (3, 3, 2, 3), (1, 1), "same", (2, 2), 1),
    ((2, 8, 8, 8), (3, 3, 2, 12), (1, 1), "same", (1, 1), 4),
    ((1, 13, 13, 6), (5, 5, 3, 4), (1, 1), "same", (1, 1), 2),
]
for xs, ks, strides, padding, dilation, groups in conv_cases:
    x, k, b = randn(*xs), randn(*ks), randn(ks[3])
    layer = keras.layers.Conv2D(ks[3], ks[:2], strides=strides, padding=padding, dilation_rate=dilation, groups=groups)
    layer.build(xs)
    layer.set_weights([k, b])
    y = layer(x).numpy()
    add("conv2d", {"strides": list(strides), "padding": padding, "dilation": list(dilation), "groups": groups},
        {"x": x, "kernel": k, "bias": b}, {"y": y})

# Explicit padding: Keras ZeroPadding2D then a valid convolution.
x, k = randn(1, 6, 6, 2), randn(3, 3, 2, 3)
padded = keras.layers.ZeroPadding2D(((1, 2), (0, 1)))(x)
y = tf.nn.conv2d(padded, k, strides=1, padding="VALID").numpy()
add("conv2d", {"strides": [1, 1], "padding": [1, 2, 0, 1], "dilation": [1, 1], "groups": 1}, {"x": x, "kernel": k}, {"y": y})

# Pooling: windows that overhang the border with same padding, odd sizes with valid padding, AlexNet's 3/2.
for kind in ("max", "average"):
    for xs, size, strides, padding in [((2, 7, 7, 3), 3, 2, "same"), ((1, 8, 8, 2), 3, 2, "same"),
                                       ((1, 5, 5, 4), 2, 2, "valid"), ((2, 13, 13, 3), 3, 2, "valid"),
                                       ((1, 6, 9, 2), 2, 1, "same"), ((1, 7, 5, 1), 5, 3, "same")]:
        x = randn(*xs)
        cls = keras.layers.MaxPooling2D if kind == "max" else keras.layers.AveragePooling2D
        y = cls(size, strides, padding=padding)(x).numpy()
        add(kind + "_pool", {"size": [size, size], "strides": [strides, strides], "padding": padding}, {"x": x}, {"y": y})
    x = randn(2, 5, 6, 7)
    g = (keras.layers.GlobalMaxPooling2D() if kind == "max" else keras.layers.GlobalAveragePooling2D())(x).numpy()
    add("global_" + kind + "_pool", {}, {"x": x}, {"y": g})

# Local response normalization, TensorFlow's definition (alpha multiplies the sum).
for xs, radius, bias, alpha, beta in [((2, 3, 4, 7), 2, 2.0, 1e-4, 0.75), ((1, 2, 2, 16), 2, 1.0, 0.5, 0.75),
                                      ((1, 1, 1, 3), 1, 2.0, 0.3, 0.5)]:
    x = randn(*xs) * 3
    y = tf.nn.local_response_normalization(x, depth_radius=radius, bias=bias, alpha=alpha, beta=beta).numpy()
    add("lrn", {"size": 2 * radius + 1, "k": bias, "alpha": alpha, "beta": beta}, {"x": x}, {"y": y})

# Batch normalization: Keras's layer in inference and training mode, with its moving-statistics update.
for xs, epsilon, momentum in [((4, 3, 5, 6), 1e-3, 0.99), ((8, 10), 1.001e-5, 0.9)]:
    c = xs[-1]
    x = randn(*xs) * 2 + 0.5
    gamma, beta, mean = randn(c), randn(c), randn(c)
    variance = rng.uniform(0.5, 2.0, c).astype(np.float32)
    layer = keras.layers.BatchNormalization(epsilon=epsilon, momentum=momentum)
    layer.build(xs)
    layer.set_weights([gamma, beta, mean, variance])
    inference = layer(x, training=False).numpy()
    training = layer(x, training=True).numpy()
    new_mean, new_variance = [w.numpy() for w in (layer.moving_mean, layer.moving_variance)]
    add("batch_norm", {"epsilon": epsilon, "momentum": momentum},
        {"x": x, "gamma": gamma, "beta": beta, "moving_mean": mean, "moving_variance": variance},
        {"inference": inference, "training": training, "moving_mean": new_mean, "moving_variance": new_variance})

# Losses, Keras's definitions (mean over the batch).
logits = randn(6, 5) * 2
probabilities = tf.nn.softmax(logits).numpy()
probabilities[0, 1] = 0.0  # exercises the clip at epsilon
onehot = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 6)]
labels = onehot.argmax(1).astype(np.float32)
binary_targets = rng.integers(0, 2, (6, 5)).astype(np.float32)
sigmoid = tf.sigmoid(logits).numpy()
regression_targets = randn(6, 5)
loss_cases = [
    ("categorical_logits", keras.losses.CategoricalCrossentropy(from_logits=True), onehot, logits),
    ("categorical_probabilities", keras.losses.CategoricalCrossentropy(), onehot, probabilities * 1.3),
    ("sparse_logits", keras.losses.SparseCategoricalCrossentropy(from_logits=True), labels, logits),
    ("sparse_probabilities", keras.losses.SparseCategoricalCrossentropy(), labels, probabilities),
    ("binary_logits", keras.losses.BinaryCrossentropy(from_logits=True), binary_targets, logits),
    ("binary_probabilities", keras.losses.BinaryCrossentropy(), binary_targets, sigmoid),
    ("mean_squared_error", keras.losses.MeanSquaredError(), regression_targets, logits),
]
for name, fn, targets, predictions in loss_cases:
    with tf.GradientTape() as tape:
        p = tf.constant(predictions)
        tape.watch(p)
        value = fn(targets, p)
    add("loss", {"function": name}, {"targets": targets, "predictions": predictions},
        {"loss": np.array([value.numpy()]), "gradient": tape.gradient(value, p).numpy()})

# Softmax and log-softmax.
x = randn(4, 9) * 3
add("softmax", {}, {"x": x}, {"softmax": tf.nn.softmax(x).numpy(), "log_softmax": tf.nn.log_softmax(x).numpy()})

out = sys.argv[1] if len(sys.argv) > 1 else "tensorflow_ops.json"
with open(out, "w") as f:
    json.dump({"generator": "tools/keras/make_op_fixtures.py", "tensorflow": tf.__version__, "keras": keras.__version__,
               "cases": cases}, f, separators=(",", ":"))
print(f"wrote {len(cases)} cases to {out}")
