"""Keras's side of tools/bench/transfer: images/s of a feature-extraction batch and of fine-tuning steps for a
keras.applications model on random weights and images, median of timed runs after a warm-up; for LeNet-5, also an
epoch of `model.fit` over 50,000 random 32×32 images at the batch size (Adam, shuffled). One JSON per line.

Usage (pinned environment): tools/python tools/bench/tf_transfer.py ARCH BATCH SECONDS
"""
import json
import os
import resource
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np
import tensorflow as tf
import keras

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "keras"))
import backbone_models  # noqa: E402
from timing import median  # noqa: E402

arch, batch, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])


def lenet5(weights=None, include_top=True, pooling=None, classes=10, classifier_activation=None):
    model = backbone_models.lenet5(include_top=include_top, classes=classes)
    if include_top:  # logits, as the other builders give with classifier_activation=None
        model.get_layer("predictions").activation = keras.activations.linear
    return model


build = {"resnet50": keras.applications.ResNet50, "resnet101": keras.applications.ResNet101,
         "vgg16": keras.applications.VGG16, "densenet121": keras.applications.DenseNet121, "lenet5": lenet5}[arch]
shape = (32, 32, 1) if arch == "lenet5" else (224, 224, 3)
rng = np.random.default_rng(1)
images = tf.constant(rng.uniform(-1, 1, (batch,) + shape).astype(np.float32))
labels = tf.constant(np.arange(batch) % 10)


def report(name, s, images=None):
    """`images`: how many images the `s` seconds processed (default one batch). The peak resident memory is the
    process's so far (the measurements run in the same order as Zoo's)."""
    print(json.dumps({"arch": arch, "batch": batch, "measurement": name, "seconds": s,
                      "images_per_second": (images or batch) / s,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)


features = build(weights=None, include_top=False, pooling="avg")
extract = tf.function(lambda x: features(x, training=False))
report("features", median(lambda: extract(images).numpy(), seconds))
last_conv4 = [l.name for l in features.layers if l.name.startswith("conv4_") and l.name.endswith("_out")][-1:]
del features, extract  # freed before fine-tuning starts, as on the other sides

stages = [("finetune, nothing frozen", None)]
if arch.startswith("resnet"):
    stages.append(("finetune, frozen through conv4 (conv4_block*_out)", last_conv4[0]))
for name, last in stages:
    model = build(weights=None, classes=10, classifier_activation=None)
    if last:
        for layer in model.layers:
            layer.trainable = False  # BatchNormalization with trainable False runs in inference mode (Keras 2.1.3+)
            if layer.name == last:
                break
    model.compile(optimizer=keras.optimizers.SGD(1e-4, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=False)
    report(name, median(lambda: model.train_on_batch(images, labels), seconds))

if arch == "lenet5":
    # Small layers: what an epoch costs is mostly per-step overhead. The second epoch is timed (the first traces).
    count = 50_000
    x = rng.uniform(0, 1, (count,) + shape).astype(np.float32)
    y = rng.integers(0, 10, count)
    model = build(classes=10)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=batch, epochs=1, shuffle=True, verbose=0)
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, shuffle=True, verbose=0)
    report(f"epoch of {count:,} images, Adam", time.perf_counter() - t0, images=count)
