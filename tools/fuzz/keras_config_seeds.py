"""Seeds for the keras_config fuzz target: the model config of every Keras fixture (full-model .h5 files and .keras
archives), one JSON file each, written into the corpus folder given.

    tools/python tools/fuzz/keras_config_seeds.py CORPUS
"""
import glob
import hashlib
import json
import os
import sys
import zipfile

import h5py

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
configs = []
for path in glob.glob("Tests/**/Fixtures/**/*.h5", recursive=True):
    try:
        with h5py.File(path, "r") as f:
            if "model_config" in f.attrs:
                text = f.attrs["model_config"]
                configs.append(text.decode() if isinstance(text, bytes) else text)
    except OSError:
        pass
for path in glob.glob("Tests/**/Fixtures/**/*.keras", recursive=True):
    with zipfile.ZipFile(path) as archive:
        configs.append(json.dumps(json.loads(archive.read("config.json"))))
for text in configs:
    if len(text) <= 65536:
        name = hashlib.sha1(text.encode()).hexdigest()[:16]
        with open(os.path.join(out, f"config-{name}.json"), "w") as f:
            f.write(text)
print(f"{len(configs)} configs", file=sys.stderr)
