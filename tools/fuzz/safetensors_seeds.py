"""Writes small safetensors seeds for the fuzzer: Zoo's layout with zoo.layers metadata, F16 and F64 data, none."""
import json
import struct
import sys

out = sys.argv[1]


def write(name, tensors, metadata=None):
    header, data = {}, b""
    for key, (dtype, shape, raw) in tensors.items():
        header[key] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(f"{out}/{name}", "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


f32 = lambda *v: struct.pack(f"<{len(v)}f", *v)
layers = [{"name": "conv", "path": None, "arrays": [{"key": "conv/kernel", "name": "conv/kernel:0"}, {"key": "conv/bias", "name": "conv/bias:0"}]}]
write("zoo.safetensors", {"conv/kernel": ("F32", [1, 1, 2, 2], f32(1, 2, 3, 4)), "conv/bias": ("F32", [2], f32(0.5, -0.5))},
      {"architecture": "test", "zoo.layers": json.dumps(layers)})
write("mixed.safetensors", {"a/x": ("F16", [3], struct.pack("<3e", 1, 2, 3)), "b/y": ("F64", [2], struct.pack("<2d", 1, 2)),
                            "b/z": ("BF16", [1], b"\x80\x3f")})
write("plain.safetensors", {"w": ("F32", [2, 2], f32(1, 2, 3, 4))})
