"""Checks an ONNX model with onnx.checker and runs it in ONNX Runtime: the oracle Zoo's exports are tested against.

    tools/python tools/onnx/run.py MODEL.onnx INPUT.f32[,INPUT.f32...] OUTPUT_PREFIX [--threads N]

Each INPUT.f32 holds little-endian float32 values for one of the model's inputs, in the model's order, whose shape is
the declared one with a dynamic batch taken from the file's size. Each output is written to OUTPUT_PREFIX.NAME.f32;
stdout gets JSON with the inputs' shapes, each output's name and shape, and the model's metadata_props.
"""
import json
import sys

import numpy as np
import onnx
import onnxruntime as ort

model_path, input_path, prefix = sys.argv[1:4]
threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 2

onnx.checker.check_model(model_path, full_check=True)
model = onnx.load(model_path, load_external_data=False)

options = ort.SessionOptions()
options.intra_op_num_threads = threads
options.inter_op_num_threads = 1
session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
feeds, inputs = {}, []
for declared, path in zip(session.get_inputs(), input_path.split(","), strict=True):
    values = np.fromfile(path, dtype="<f4")
    per_item = int(np.prod([d for d in declared.shape[1:]]))
    shape = [values.size // per_item] + list(declared.shape[1:])
    feeds[declared.name] = values.reshape(shape)
    inputs.append({"name": declared.name, "shape": shape})
outputs = session.run(None, feeds)
report = {"inputs": inputs, "outputs": [], "metadata": {p.key: p.value for p in model.metadata_props}}
for meta, value in zip(session.get_outputs(), outputs):
    value.astype("<f4").tofile(f"{prefix}.{meta.name}.f32")
    report["outputs"].append({"name": meta.name, "shape": list(value.shape)})
print(json.dumps(report))
