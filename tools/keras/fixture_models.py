"""The small Keras models behind the weight-format fixtures, buildable with Keras 3 (`keras`) or tf-keras."""


def build(api, name, dtype="float32"):
    L = api.layers
    if name.startswith("small_cnn"):
        return api.Sequential([api.Input((8, 8, 3)), L.Conv2D(4, 3, name="conv", dtype=dtype),
                               L.BatchNormalization(name="bn", dtype=dtype), L.ReLU(name="relu"), L.Flatten(name="flatten"),
                               L.Dropout(0.5, name="dropout"), L.Dense(5, name="dense", dtype=dtype)], name=name)
    if name == "functional":
        inputs = api.Input((6, 6, 2), name="image")
        a = L.Conv2D(3, 1, name="conv_a")(inputs)
        b = L.Conv2D(3, 3, padding="same", name="conv_b")(inputs)
        x = L.Concatenate(name="concat")([a, b])
        inner = api.Sequential([api.Input((6, 6, 6)), L.Conv2D(4, 1, name="inner_conv"), L.BatchNormalization(name="inner_bn")],
                               name="inner")
        x = L.GlobalAveragePooling2D(name="pool")(inner(x))
        return api.Model(inputs, L.Dense(2, name="head")(x), name=name)
    if name == "deep":
        layers = [api.Input((2,))] + [L.Dense(2, name=f"dense_{i:03d}_" + "x" * 210) for i in range(310)]
        return api.Sequential(layers, name=name)
    raise ValueError(name)
