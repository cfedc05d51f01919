import ArgumentParser

/// --crop-fraction, for every command that prepares images.
struct CropOption: ParsableArguments {
    @Option(name: .customLong("crop-fraction"),
            help: "Share of the shorter side the centre crop keeps (default: the backbone's, or what the run recorded; 0.875 for the ImageNet backbones). 1 resizes the whole image to the input size, as Keras's load_img(target_size=...) does.")
    var value: Double?

    func validate() throws {
        if let value, !(value > 0 && value <= 1) { throw ValidationError("--crop-fraction is a share in (0, 1], got \(value)") }
    }
}
