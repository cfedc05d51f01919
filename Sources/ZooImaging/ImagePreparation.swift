import ZooCore
import ZooTensor

/// How images become a backbone's input: channels, resize and centre crop, then the plugin's pixel normalization.
public struct ImagePreparation: Sendable {
    public var height: Int
    public var width: Int
    public var channels: Int
    public var cropFraction: Double
    public var preprocessing: Preprocessing

    public init(height: Int, width: Int, channels: Int, cropFraction: Double = 0.875, preprocessing: Preprocessing) {
        precondition(cropFraction > 0 && cropFraction <= 1, "the crop fraction lies in (0, 1]")
        self.height = height; self.width = width; self.channels = channels
        self.cropFraction = cropFraction; self.preprocessing = preprocessing
    }

    /// What the backbone's plugin says, at its default input size and crop fraction unless others are given.
    public init(for backbone: any Backbone, inputSize: (Int, Int)? = nil, cropFraction: Double? = nil) {
        let (h, w) = inputSize ?? backbone.defaultInputSize
        self.init(height: h, width: w, channels: backbone.inputChannels, cropFraction: cropFraction ?? backbone.cropFraction,
                  preprocessing: backbone.preprocessing)
    }

    /// The image at the input's size and channel count: the shorter side resized to the crop's side divided by the
    /// crop fraction, then the centre cut out; at crop fraction 1, the whole image resized to the input's size
    /// (aspect ratio not kept), as Keras's `load_img(target_size=…)` does.
    public func resizedAndCropped(_ image: Image) -> Image {
        resizedForCropping(image).centerCropped(width: width, height: height)
    }

    /// The image at the input's channel count, its shorter side resized to the crop's side divided by the crop
    /// fraction: what a centre crop or ten crops are cut from. At crop fraction 1 it is the input's size.
    public func resizedForCropping(_ image: Image) -> Image {
        let image = image.converted(toChannels: channels)
        if cropFraction == 1 { return image.resized(width: width, height: height) }
        let scale = max(Double(height) / Double(image.height), Double(width) / Double(image.width)) / cropFraction
        return image.resized(width: max(width, Int((Double(image.width) * scale).rounded())),
                             height: max(height, Int((Double(image.height) * scale).rounded())))
    }

    /// A batch of images already at the input's size, normalized, as an NHWC tensor.
    public func tensor(_ images: [Image]) -> Tensor {
        let perImage = height * width * channels
        return Tensor(shape: [images.count, height, width, channels]) { out in
            for (n, image) in images.enumerated() {
                precondition(image.width == width && image.height == height && image.channels == channels,
                             "prepare images with resizedAndCropped first")
                normalize(image.pixels, into: UnsafeMutableBufferPointer(rebasing: out[(n * perImage)..<((n + 1) * perImage)]))
            }
        }
    }

    /// Decoded images of any size, resized, cropped and normalized into one batch.
    public func batch(_ images: [Image]) -> Tensor { tensor(images.map(resizedAndCropped)) }

    /// keras.applications' modes; pixel values arrive as RGB (or gray) 0…255.
    func normalize(_ pixels: [UInt8], into out: UnsafeMutableBufferPointer<Float>) {
        switch preprocessing {
        case .none:
            for i in pixels.indices { out[i] = Float(pixels[i]) }
        case .unit:
            for i in pixels.indices { out[i] = Float(pixels[i]) / 255 }
        case .tf:
            for i in pixels.indices { out[i] = Float(pixels[i]) / 127.5 - 1 }
        case .torch:
            let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
            for i in pixels.indices {
                let c = channels == 3 ? i % 3 : 0
                out[i] = (Float(pixels[i]) / 255 - mean[c]) / std[c]
            }
        case .caffe:
            // Channels reversed to BGR, then the ImageNet mean of each BGR channel subtracted; no scaling.
            let mean: [Float] = [103.939, 116.779, 123.68]
            if channels == 3 {
                for i in stride(from: 0, to: pixels.count, by: 3) {
                    out[i] = Float(pixels[i + 2]) - mean[0]
                    out[i + 1] = Float(pixels[i + 1]) - mean[1]
                    out[i + 2] = Float(pixels[i]) - mean[2]
                }
            } else {
                for i in pixels.indices { out[i] = Float(pixels[i]) - mean[0] }
            }
        }
    }
}
