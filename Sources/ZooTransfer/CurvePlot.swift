import Foundation
import ZooImaging

/// Training curves as a picture: loss on the left, top-1 accuracy on the right, training in blue and validation in
/// orange, each panel labelled with its range and the epochs. Drawn pixel by pixel with a 3×5 font, so it needs no
/// graphics library.
public enum CurvePlot {
    static let width = 720, height = 320, scale = 2
    static let train: [UInt8] = [31, 119, 180], validation: [UInt8] = [255, 127, 14]
    static let ink: [UInt8] = [40, 40, 40], grid: [UInt8] = [225, 225, 225]

    public static func render(_ history: [EpochRecord]) -> Image {
        var canvas = Canvas(width: width, height: height)
        let epochs = history.map { Double($0.epoch) }
        panel(&canvas, x: 0, title: "LOSS", epochs: epochs, series: [
            (history.map(\.trainLoss), train), (history.compactMap(\.validationLoss), validation)])
        panel(&canvas, x: width / 2, title: "TOP-1", epochs: epochs, series: [
            (history.map(\.trainTop1), train), (history.compactMap(\.validationTop1), validation)])
        canvas.text("TRAIN", x: 70, y: height - 16, color: train)
        canvas.text("VALIDATION", x: 150, y: height - 16, color: validation)
        return canvas.image
    }

    static func panel(_ canvas: inout Canvas, x left: Int, title: String, epochs: [Double], series: [([Double], [UInt8])]) {
        let plot = (x: left + 60, y: 30, w: width / 2 - 80, h: height - 80)
        canvas.text(title, x: plot.x, y: 10, color: ink)
        let values = series.flatMap(\.0).filter(\.isFinite)
        guard let low = values.min(), let high = values.max(), let first = epochs.first, let last = epochs.last else { return }
        let span = max(high - low, 1e-9), epochSpan = max(last - first, 1)
        for i in 0...4 { canvas.line(plot.x, plot.y + plot.h * i / 4, plot.x + plot.w, plot.y + plot.h * i / 4, color: grid) }
        canvas.line(plot.x, plot.y, plot.x, plot.y + plot.h, color: ink)
        canvas.line(plot.x, plot.y + plot.h, plot.x + plot.w, plot.y + plot.h, color: ink)
        canvas.text(format(high), x: left + 4, y: plot.y - 4, color: ink)
        canvas.text(format(low), x: left + 4, y: plot.y + plot.h - 4, color: ink)
        canvas.text("EPOCH \(Int(first))", x: plot.x, y: plot.y + plot.h + 8, color: ink)
        let end = "\(Int(last))"
        canvas.text(end, x: plot.x + plot.w - end.count * 4 * scale, y: plot.y + plot.h + 8, color: ink)
        for (points, color) in series where !points.isEmpty {
            let xy = zip(epochs, points).map { (e, v) in
                (plot.x + Int((e - first) / epochSpan * Double(plot.w)), plot.y + plot.h - Int((v - low) / span * Double(plot.h)))
            }
            for (a, b) in zip(xy, xy.dropFirst()) { canvas.line(a.0, a.1, b.0, b.1, color: color, thickness: 2) }
            for p in xy { canvas.dot(p.0, p.1, color: color) }
        }
    }

    static func format(_ value: Double) -> String {
        abs(value) >= 10 ? String(format: "%.0f", value) : String(format: "%.3f", value)
    }

    struct Canvas {
        let width: Int, height: Int
        var pixels: [UInt8]

        init(width: Int, height: Int) {
            self.width = width; self.height = height
            pixels = [UInt8](repeating: 255, count: width * height * 3)
        }

        var image: Image { Image(width: width, height: height, channels: 3, pixels: pixels) }

        mutating func set(_ x: Int, _ y: Int, _ color: [UInt8]) {
            guard x >= 0, y >= 0, x < width, y < height else { return }
            let i = (y * width + x) * 3
            pixels[i] = color[0]; pixels[i + 1] = color[1]; pixels[i + 2] = color[2]
        }

        mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, color: [UInt8], thickness: Int = 1) {
            let steps = max(abs(x1 - x0), abs(y1 - y0), 1)
            for s in 0...steps {
                let x = x0 + (x1 - x0) * s / steps, y = y0 + (y1 - y0) * s / steps
                for dy in 0..<thickness { for dx in 0..<thickness { set(x + dx, y + dy, color) } }
            }
        }

        mutating func dot(_ x: Int, _ y: Int, color: [UInt8]) {
            for dy in -2...2 { for dx in -2...2 where dx * dx + dy * dy <= 5 { set(x + dx, y + dy, color) } }
        }

        mutating func text(_ string: String, x: Int, y: Int, color: [UInt8]) {
            for (n, character) in string.uppercased().enumerated() {
                guard let rows = font[character] else { continue }
                for (r, row) in rows.enumerated() {
                    for c in 0..<3 where row >> (2 - c) & 1 == 1 {
                        for dy in 0..<scale { for dx in 0..<scale { set(x + (n * 4 + c) * scale + dx, y + r * scale + dy, color) } }
                    }
                }
            }
        }
    }

    /// 3×5 glyphs, one 3-bit row each, top row first.
    static let font: [Character: [Int]] = [
        "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [7, 1, 7, 4, 7], "3": [7, 1, 7, 1, 7], "4": [5, 5, 7, 1, 1],
        "5": [7, 4, 7, 1, 7], "6": [7, 4, 7, 5, 7], "7": [7, 1, 1, 1, 1], "8": [7, 5, 7, 5, 7], "9": [7, 5, 7, 1, 7],
        ".": [0, 0, 0, 0, 2], "-": [0, 0, 7, 0, 0], "A": [2, 5, 7, 5, 5], "C": [7, 4, 4, 4, 7], "D": [6, 5, 5, 5, 6],
        "E": [7, 4, 6, 4, 7], "H": [5, 5, 7, 5, 5], "I": [7, 2, 2, 2, 7], "L": [4, 4, 4, 4, 7], "N": [5, 7, 7, 5, 5],
        "O": [7, 5, 5, 5, 7], "P": [7, 5, 7, 4, 4], "R": [7, 5, 6, 5, 5], "S": [7, 4, 7, 1, 7], "T": [7, 2, 2, 2, 2],
        "V": [5, 5, 5, 5, 2],
    ]
}

/// The per-epoch log as CSV, one row per epoch, empty cells where there was no validation.
public enum TrainingLog {
    public static let header = "epoch,learning_rate,train_loss,train_top1,train_top5,validation_loss,validation_top1,validation_top5,seconds,images_per_second"

    public static func csv(_ history: [EpochRecord]) -> String {
        func cell(_ v: Double?) -> String { v.map { String(format: "%.6g", $0) } ?? "" }
        return ([header] + history.map { r in
            ["\(r.epoch)", String(format: "%.6g", r.learningRate), cell(r.trainLoss), cell(r.trainTop1), cell(r.trainTop5),
             cell(r.validationLoss), cell(r.validationTop1), cell(r.validationTop5), cell(r.seconds), cell(r.imagesPerSecond)]
                .joined(separator: ",")
        }).joined(separator: "\n") + "\n"
    }

    /// The confusion matrix as a text table: rows are true classes, columns predictions.
    public static func confusion(_ matrix: [[Int]], classNames: [String]) -> String {
        let width = max(6, (matrix.flatMap { $0 }.max() ?? 0).description.count + 1)
        let nameWidth = min(24, classNames.map(\.count).max() ?? 4)
        var lines = ["true \\ predicted".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + " "
                     + matrix.indices.map { String(repeating: " ", count: max(0, width - "\($0)".count)) + "\($0)" }.joined()]
        for (i, row) in matrix.enumerated() {
            let name = "\(i) \(classNames[i])"
            lines.append(String(name.prefix(nameWidth)).padding(toLength: nameWidth, withPad: " ", startingAt: 0) + " "
                         + row.map { String(repeating: " ", count: max(0, width - "\($0)".count)) + "\($0)" }.joined())
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
