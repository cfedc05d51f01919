import Foundation
import ZooImaging
import ZooNN
import ZooTensor

/// Random changes to a training image at the input's size, each drawn from the generator it is given (so a seed
/// and the sample's position decide them, whatever thread runs them).
public struct Augmentation: Sendable, Equatable {
    /// Zero padding on every side before a random crop back to the input's size (CIFAR's 4); 0 turns it off.
    public var padding: Int
    public var horizontalFlip: Bool
    /// Standard deviation of AlexNet's PCA lighting noise (the paper's 0.1); 0 turns it off. RGB images only.
    public var colorJitter: Float

    public init(padding: Int = 0, horizontalFlip: Bool = false, colorJitter: Float = 0) {
        self.padding = padding; self.horizontalFlip = horizontalFlip; self.colorJitter = colorJitter
    }

    public static let none = Augmentation()
    public var isNone: Bool { self == .none }

    public func apply(_ image: Image, using generator: inout SeededGenerator) -> Image {
        var image = image
        if padding > 0 {
            let dx = Int(generator.next() % UInt64(2 * padding + 1)), dy = Int(generator.next() % UInt64(2 * padding + 1))
            image = Self.shifted(image, dx: dx - padding, dy: dy - padding)
        }
        if horizontalFlip, generator.next() & 1 == 1 { image = image.flippedHorizontally() }
        if colorJitter > 0, image.channels == 3 {
            let alphas = (0..<3).map { _ in generator.normal() * colorJitter }
            image = Self.lit(image, alphas)
        }
        return image
    }

    /// The image moved by (dx, dy) with zeros shifted in: a crop of the zero-padded image.
    static func shifted(_ image: Image, dx: Int, dy: Int) -> Image {
        var out = [UInt8](repeating: 0, count: image.pixels.count)
        let c = image.channels
        for y in 0..<image.height {
            let sy = y + dy
            guard sy >= 0, sy < image.height else { continue }
            let x0 = max(0, -dx), x1 = min(image.width, image.width - dx)
            guard x0 < x1 else { continue }
            let from = (sy * image.width + x0 + dx) * c, to = (y * image.width + x0) * c
            out[to..<(to + (x1 - x0) * c)] = image.pixels[from..<(from + (x1 - x0) * c)]
        }
        return Image(width: image.width, height: image.height, channels: c, pixels: out)
    }

    /// Principal components of ImageNet's RGB pixel covariance (0…1 scale), as published with AlexNet-style training
    /// code: eigenvalues, and eigenvectors as columns.
    static let eigenvalues: [Float] = [0.2175, 0.0188, 0.0045]
    static let eigenvectors: [[Float]] = [[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203]]

    /// Adds Σᵢ αᵢ·λᵢ·vᵢ to every pixel (Krizhevsky et al. 2012, section 4.1), in 0…255 units, clamped.
    static func lit(_ image: Image, _ alphas: [Float]) -> Image {
        let shift = (0..<3).map { c in 255 * (0..<3).reduce(Float(0)) { $0 + eigenvectors[c][$1] * alphas[$1] * eigenvalues[$1] } }
        var out = image.pixels
        for i in out.indices { out[i] = UInt8(max(0, min(255, (Float(out[i]) + shift[i % 3]).rounded()))) }
        return Image(width: image.width, height: image.height, channels: 3, pixels: out)
    }
}

/// Ten-crop evaluation: the four corners and the centre at the input's size, and their mirror images; predictions
/// are averaged over the ten.
public enum TenCrop {
    public static func crops(_ image: Image, width: Int, height: Int) -> [Image] {
        let right = image.width - width, bottom = image.height - height
        let five = [(0, 0), (right, 0), (0, bottom), (right, bottom), (right / 2, bottom / 2)].map {
            image.cropped(x: $0.0, y: $0.1, width: width, height: height)
        }
        return five + five.map { $0.flippedHorizontally() }
    }
}

/// Scores a classifier with ten crops per image: the predicted probabilities are averaged over the crops.
public struct TenCropEvaluation {
    public let model: Model
    public let preparation: ImagePreparation
    public var batchSize: Int
    public var strict: Bool

    public init(model: Model, preparation: ImagePreparation, batchSize: Int = 32, strict: Bool = false) {
        self.model = model; self.preparation = preparation; self.batchSize = max(1, batchSize / 10); self.strict = strict
    }

    /// `progress` gets the number of images done.
    public func evaluate(_ dataset: Dataset, progress: ((Int) -> Void)? = nil) throws -> ClassificationMetrics {
        var metrics = ClassificationMetrics(classes: dataset.classNames.count)
        for start in stride(from: 0, to: dataset.count, by: batchSize) {
            var crops: [Image] = [], labels: [Float] = []
            for index in start..<min(start + batchSize, dataset.count) {
                let image: Image
                do { image = try dataset.samples[index].image() } catch {
                    if strict { throw DatasetError(dataset.samples[index].describe(index: index), "cannot be used: \(error)") }
                    continue
                }
                crops += TenCrop.crops(preparation.resizedForCropping(image), width: preparation.width, height: preparation.height)
                labels.append(Float(dataset.samples[index].label))
            }
            progress?(min(start + batchSize, dataset.count))
            guard !labels.isEmpty else { continue }
            let probabilities = try Gradients.off { try softmax(model(Variable(preparation.tensor(crops)), training: false).main).value }
            let classes = probabilities.count / crops.count
            var lossSum: Float = 0
            let averaged = Tensor(shape: [labels.count, classes]) { out in
                probabilities.withUnsafeBufferPointer { p in
                    for i in labels.indices {
                        for k in 0..<classes {
                            let mean = (0..<10).reduce(Float(0)) { $0 + p[((i * 10) + $1) * classes + k] } / 10
                            out[i * classes + k] = log(max(mean, .leastNormalMagnitude))  // log-probabilities rank like logits
                        }
                        lossSum -= out[i * classes + Int(labels[i])]
                    }
                }
            }
            metrics.add(logits: averaged, labels: try Tensor(shape: [labels.count], scalars: labels), meanLoss: lossSum / Float(labels.count))
        }
        return metrics
    }
}
