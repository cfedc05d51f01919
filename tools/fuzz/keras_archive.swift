// The Keras archive target: .keras files, zips whose model.weights.h5 the isolated reader parses.
let suffix = ".keras"
