"""Times TensorFlow's convolutions (forward, backward-data, backward-weights) on the shapes Zoo's benchmark uses.

Prints one JSON object per measurement, like zoo-bench. Run through tools/python.
"""
import argparse
import json
import os
import statistics
import time

import numpy as np
import tensorflow as tf

parser = argparse.ArgumentParser()
parser.add_argument("--shapes", required=True)
parser.add_argument("--batch", type=int, default=32)
parser.add_argument("--threads", type=int, default=int(os.environ.get("ZOO_NUM_THREADS", os.cpu_count())))
parser.add_argument("--seconds", type=float, default=1.0)
args = parser.parse_args()
tf.config.threading.set_intra_op_parallelism_threads(args.threads)
tf.config.threading.set_inter_op_parallelism_threads(1)


def padding_of(spec):
    if isinstance(spec, int):
        return "EXPLICIT", [0, 0, spec, spec, spec, spec, 0, 0]
    return spec.upper(), []


def median_seconds(fn):
    fn()
    times, start = [], time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < args.seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


rng = np.random.default_rng(1)
for s in json.load(open(args.shapes))["shapes"]:
    padding, explicit = padding_of(s["padding"])
    x = tf.constant(rng.uniform(-1, 1, (args.batch, s["size"], s["size"], s["in"])).astype(np.float32))
    w = tf.constant(rng.uniform(-1, 1, (s["kernel"], s["kernel"], s["in"], s["out"])).astype(np.float32))
    strides = [1, s["stride"], s["stride"], 1]
    conv = tf.function(lambda a, b: tf.raw_ops.Conv2D(input=a, filter=b, strides=strides, padding=padding,
                                                      explicit_paddings=explicit))
    y = conv(x, w)
    dy = tf.constant(rng.uniform(-1, 1, y.shape).astype(np.float32))
    flops = 2.0 * np.prod(y.shape) * s["kernel"] * s["kernel"] * s["in"]
    data = tf.function(lambda g, b: tf.raw_ops.Conv2DBackpropInput(input_sizes=x.shape, filter=b, out_backprop=g,
                                                                   strides=strides, padding=padding, explicit_paddings=explicit))
    weights = tf.function(lambda a, g: tf.raw_ops.Conv2DBackpropFilter(input=a, filter_sizes=w.shape, out_backprop=g,
                                                                       strides=strides, padding=padding, explicit_paddings=explicit))
    for direction, fn in [("forward", lambda: conv(x, w).numpy()), ("backward_data", lambda: data(dy, w).numpy()),
                          ("backward_weights", lambda: weights(x, dy).numpy())]:
        seconds = median_seconds(fn)
        print(json.dumps({"name": s["name"], "backend": "tensorflow", "direction": direction, "seconds": seconds,
                          "gflops": flops / seconds / 1e9}, sort_keys=True), flush=True)
