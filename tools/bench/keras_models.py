"""Keras's side of tools/bench/keras-models, on keras.applications networks saved as people save them (the batch
timings are tools/bench/tf_inference.py's).

    tools/python tools/bench/keras_models.py make DIR ARCH           writes DIR/ARCH.keras (random weights, 1000 classes)
    tools/python tools/bench/keras_models.py predict FILE IMAGE      what a user's script does: load, prepare, predict
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import numpy as np
import keras

APPLICATIONS = {"MobileNetV2": "mobilenet_v2", "EfficientNetB0": "efficientnet", "InceptionV3": "inception_v3",
                "Xception": "xception", "ResNet50": "resnet50", "DenseNet121": "densenet", "MobileNetV3Small": None,
                "ConvNeXtTiny": "convnext", "NASNetMobile": "nasnet"}

command = sys.argv[1]
if command == "make":
    folder, arch = sys.argv[2], sys.argv[3]
    keras.utils.set_random_seed(1)
    model = getattr(keras.applications, arch)(weights=None)
    model.save(os.path.join(folder, f"{arch}.keras"))
elif command == "predict":
    path, image = sys.argv[2], sys.argv[3]
    model = keras.saving.load_model(path, compile=False)
    arch = os.path.splitext(os.path.basename(path))[0]
    height, width = model.input_shape[1:3]
    x = keras.utils.img_to_array(keras.utils.load_img(image, target_size=(height, width)))[None]
    module = APPLICATIONS.get(arch)
    if module:
        x = getattr(keras.applications, module).preprocess_input(x)
    probabilities = model.predict(x, verbose=0)[0]
    best = int(np.argmax(probabilities))
    print(f"{best} {probabilities[best]:.4f}")
else:
    sys.exit(f"keras_models: unknown command {command}")
