// The Keras HDF5 target: .h5 files, which keras-h5 and keras-weights read (Keras 1/2/3 weights and full models).
let suffix = ".h5"
