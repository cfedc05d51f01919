"""Keras's side of tools/bench/inference: the median time of an inference batch of random images through a backbone
without its top, globally average pooled (keras.applications, or tools/keras/backbone_models.py for GoogLeNet), and
the process's peak resident memory. One JSON line. With WEIGHTS (an HDF5 file zoo-bench --export-peers wrote), the
model runs those weights instead of its random ones.

Usage (pinned environment): tools/python tools/bench/tf_inference.py ARCH BATCH SECONDS [WEIGHTS]
                            tools/python tools/bench/tf_inference.py FILE.keras BATCH SECONDS
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

arch, batch, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
weights = sys.argv[4] if len(sys.argv) > 4 else None
applications = {"resnet50": keras.applications.ResNet50, "resnet101": keras.applications.ResNet101,
                "vgg16": keras.applications.VGG16, "vgg19": keras.applications.VGG19,
                "densenet121": keras.applications.DenseNet121}
if arch.endswith(".keras"):
    # A saved network as a user has it (tools/bench/keras-models): timed as it is, named after its file.
    model = keras.saving.load_model(arch, compile=False)
    arch = os.path.splitext(os.path.basename(arch))[0]
elif arch in applications:
    model = applications[arch](weights=None, include_top=False, pooling="avg")
elif arch == "googlenet":
    import backbone_models
    body = backbone_models.googlenet(include_top=False)
    model = keras.Model(body.input, keras.layers.GlobalAveragePooling2D()(body.output))
else:
    sys.exit(f"tf_inference: no Keras model for {arch}")
if weights:
    model.load_weights(weights)
images = tf.constant(np.random.default_rng(1).uniform(-1, 1, [batch] + list(model.input_shape[1:])).astype(np.float32))
infer = tf.function(lambda x: model(x, training=False))

infer(images).numpy()
times, start = [], time.perf_counter()
while len(times) < (3 if batch >= 8 else 5) or time.perf_counter() - start < seconds:
    t0 = time.perf_counter()
    infer(images).numpy()
    times.append(time.perf_counter() - t0)
median = sorted(times)[len(times) // 2]
print(json.dumps({"arch": arch, "batch": batch, "mode": "keras", "seconds": median, "images_per_second": batch / median,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
