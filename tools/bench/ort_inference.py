"""ONNX Runtime's side of tools/bench/peers: the median time of an inference batch of random images through an ONNX
model (Zoo's export, NHWC input), on 2 threads with every graph optimization, and the process's peak resident
memory. One JSON line.

Usage (pinned environment): tools/python tools/bench/ort_inference.py MODEL.onnx ARCH BATCH SECONDS
"""
import json
import resource
import sys
import time

import numpy as np
import onnxruntime as ort

path, arch, batch, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
options = ort.SessionOptions()
options.intra_op_num_threads = 2
options.inter_op_num_threads = 1
options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
declared = session.get_inputs()[0]
images = np.random.default_rng(1).uniform(-1, 1, [batch] + list(declared.shape[1:])).astype(np.float32)
feed = {declared.name: images}

session.run(None, feed)
times, start = [], time.perf_counter()
while len(times) < (3 if batch >= 8 else 5) or time.perf_counter() - start < seconds:
    t0 = time.perf_counter()
    session.run(None, feed)
    times.append(time.perf_counter() - t0)
median = sorted(times)[len(times) // 2]
print(json.dumps({"arch": arch, "batch": batch, "mode": "onnxruntime", "seconds": median, "images_per_second": batch / median,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
