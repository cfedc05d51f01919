"""Writes a Keras 2 weights file whose arrays use every way HDF5 can store them, not only the plain contiguous
little-endian float32 Keras writes: chunked and compressed (gzip, with and without shuffle), big-endian, at an offset
that is not a multiple of 4, float64, and never written (only a fill value). Each element is `100 * layer + 10 * array + 0.5 * (index + 1)` (exact in
float32), so a test can check every value without reading the file another way.

    tools/python tools/keras/make_storage_fixture.py OUT.h5
"""
import sys

import h5py
import numpy as np

SHAPES = {"kernel:0": (3, 4), "bias:0": (4,)}


def values(layer, array, shape):
    return (100 * layer + 10 * array + 0.5 * (np.arange(np.prod(shape)) + 1)).reshape(shape)


LAYERS = [  # name, how each array is stored
    ("contiguous", {}),
    ("chunked_gzip", {"chunks": True, "compression": "gzip"}),
    ("chunked_shuffle", {"chunks": True, "compression": "gzip", "shuffle": True}),
    ("big_endian", {"dtype": ">f4"}),
    ("unaligned", {}),  # plain float32 again, placed by libhdf5 after the big-endian arrays' odd-sized end
    ("float64", {"dtype": "<f8"}),
]

with h5py.File(sys.argv[1], "w") as f:
    f.attrs["keras_version"] = b"2.3.1"
    f.attrs["backend"] = b"tensorflow"
    names = [name for name, _ in LAYERS] + ["unwritten"]
    f.attrs["layer_names"] = np.array([n.encode() for n in names])
    for layer, (name, storage) in enumerate(LAYERS):
        group = f.create_group(name)
        group.attrs["weight_names"] = np.array([f"{name}/{w}".encode() for w in SHAPES])
        inner = group.create_group(name)
        for array, (weight, shape) in enumerate(SHAPES.items()):
            options = dict(storage)
            dtype = options.pop("dtype", "<f4")
            inner.create_dataset(weight, data=values(layer, array, shape).astype(dtype), dtype=dtype, **options)
    group = f.create_group("unwritten")
    group.attrs["weight_names"] = np.array([f"unwritten/{w}".encode() for w in SHAPES])
    inner = group.create_group("unwritten")
    for weight, shape in SHAPES.items():
        inner.create_dataset(weight, shape=shape, dtype="<f4", fillvalue=7.25)
