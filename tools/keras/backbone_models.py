"""Keras definitions of the backbones keras.applications lacks, with the layer names Zoo uses."""
import keras
import tensorflow as tf
from keras import layers as L


@keras.saving.register_keras_serializable(package="zoo")
class LRN(L.Layer):
    """Local response normalization across channels, TensorFlow's definition (alpha multiplies the sum)."""

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=2.0, **kwargs):
        super().__init__(**kwargs)
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def call(self, x):
        return tf.nn.local_response_normalization(x, depth_radius=(self.size - 1) // 2, bias=self.k, alpha=self.alpha, beta=self.beta)

    def get_config(self):
        return dict(super().get_config(), size=self.size, alpha=self.alpha, beta=self.beta, k=self.k)


def lenet5(include_top=True, classes=10, input_shape=(32, 32, 1)):
    x = inputs = keras.Input(input_shape)
    x = L.Conv2D(6, 5, activation="tanh", name="c1")(x)
    x = L.AveragePooling2D(2, name="s2")(x)
    x = L.Conv2D(16, 5, activation="tanh", name="c3")(x)
    x = L.AveragePooling2D(2, name="s4")(x)
    x = L.Conv2D(120, 5, activation="tanh", name="c5")(x)
    if include_top:
        x = L.Flatten(name="flatten")(x)
        x = L.Dense(84, activation="tanh", name="f6")(x)
        x = L.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, x, name="lenet5")


VGG_BLOCKS = {
    "A": [[3], [3], [3, 3], [3, 3], [3, 3]],
    "B": [[3, 3], [3, 3], [3, 3], [3, 3], [3, 3]],
    "C": [[3, 3], [3, 3], [3, 3, 1], [3, 3, 1], [3, 3, 1]],
}


def vgg(configuration, include_top=True, classes=1000, input_shape=(224, 224, 3)):
    lrn = configuration == "A-LRN"
    blocks = VGG_BLOCKS["A" if lrn else configuration]
    x = inputs = keras.Input(input_shape)
    for b, (filters, kernels) in enumerate(zip([64, 128, 256, 512, 512], blocks), start=1):
        for c, k in enumerate(kernels, start=1):
            x = L.Conv2D(filters, k, padding="same", activation="relu", name=f"block{b}_conv{c}")(x)
            if lrn and b == 1 and c == 1:
                x = LRN(name="block1_lrn")(x)
        x = L.MaxPooling2D(2, name=f"block{b}_pool")(x)
    if include_top:
        x = L.Flatten(name="flatten")(x)
        x = L.Dense(4096, activation="relu", name="fc1")(x)
        x = L.Dense(4096, activation="relu", name="fc2")(x)
        x = L.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, x, name=f"vgg_{configuration.lower()}")
