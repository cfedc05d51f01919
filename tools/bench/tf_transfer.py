"""Keras's side of tools/bench/transfer: images/s of a feature-extraction batch and of fine-tuning steps for a
keras.applications model on random weights and images, median of timed runs after a warm-up. One JSON per line.

Usage (pinned environment): tools/python tools/bench/tf_transfer.py ARCH BATCH SECONDS
"""
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np
import tensorflow as tf
import keras

arch, batch, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
build = {"resnet50": keras.applications.ResNet50, "resnet101": keras.applications.ResNet101,
         "vgg16": keras.applications.VGG16, "densenet121": keras.applications.DenseNet121}[arch]
rng = np.random.default_rng(1)
images = tf.constant(rng.uniform(-1, 1, (batch, 224, 224, 3)).astype(np.float32))
labels = tf.constant(np.arange(batch) % 10)


def median(body):
    body()
    times, start = [], time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        body()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def report(name, s):
    print(json.dumps({"arch": arch, "batch": batch, "measurement": name, "seconds": s, "images_per_second": batch / s}), flush=True)


features = build(weights=None, include_top=False, pooling="avg")
extract = tf.function(lambda x: features(x, training=False))
report("features", median(lambda: extract(images).numpy()))

stages = [("finetune, nothing frozen", None)]
if arch.startswith("resnet"):
    stages.append(("finetune, frozen through conv4 (conv4_block*_out)", [l.name for l in features.layers if l.name.startswith("conv4_") and l.name.endswith("_out")][-1]))
for name, last in stages:
    model = build(weights=None, classes=10, classifier_activation=None)
    if last:
        for layer in model.layers:
            layer.trainable = False  # BatchNormalization with trainable False runs in inference mode (Keras 2.1.3+)
            if layer.name == last:
                break
    model.compile(optimizer=keras.optimizers.SGD(1e-4, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=False)
    report(name, median(lambda: model.train_on_batch(images, labels)))
