"""Checks that Keras loads the HDF5 files Zoo wrote and gets the original arrays back, bit for bit.

Each file in DIR is named WRITER__MODEL.h5 (weights only: built with fixture_models.build, then load_weights) or
WRITER__MODEL_model.h5 (full model: load_model), with WRITER keras3 or tfkeras choosing Keras 3 or tf-keras. The
expected arrays are the manifest's for WRITER/MODEL.h5.

    tools/python tools/keras/check_keras_loads.py DIR MANIFEST
"""
import base64
import json
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np
import keras
import tf_keras

from fixture_models import build

folder, manifest_path = sys.argv[1], sys.argv[2]
expected = {entry["file"]: entry for entry in json.load(open(manifest_path))["files"]}
failures, checked = [], 0
for name in sorted(os.listdir(folder)):
    writer, model_name = name[:-3].split("__")
    full = model_name.endswith("_model")
    base = model_name[: -len("_model")] if full else model_name
    api = keras if writer == "keras3" else tf_keras
    dtype = "float16" if base.endswith("float16") else "float64" if base.endswith("float64") else "float32"
    path = os.path.join(folder, name)
    try:
        model = api.models.load_model(path, compile=False) if full else build(api, base, dtype)
        if not full:
            model.load_weights(path)
    except Exception as error:  # report every file, not just the first
        failures.append(f"{name}: Keras could not load it: {type(error).__name__}: {error}")
        continue
    for layer in expected[f"{writer}/{base}.h5"]["layers"]:
        weights = model.get_layer(layer["name"])
        values = [w.numpy() for w in weights.trainable_weights + weights.non_trainable_weights]
        for want, got in zip(layer["arrays"], values):
            bits = np.frombuffer(base64.b64decode(want["values"]), dtype="<f4")
            if not np.array_equal(bits.view("<u4"), np.asarray(got, dtype="<f4").reshape(-1).view("<u4")):
                failures.append(f"{name}: {layer['name']}/{want['name']} differs after loading")
    checked += 1
for failure in failures:
    print(failure)
print(f"{checked - len(set(f.split(':')[0] for f in failures))} of {len(os.listdir(folder))} files loaded by Keras with identical arrays")
sys.exit(1 if failures else 0)
