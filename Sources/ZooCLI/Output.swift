import Foundation

/// Printing for people and for scripts: aligned tables on stdout, JSON with sorted keys, messages on stderr.
enum Output {
    static func json(_ object: Any) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        print(String(decoding: data, as: UTF8.self))
    }

    /// Columns padded to their widest cell; columns listed in `rightAligned` (numbers) align right.
    static func table(_ header: [String], _ rows: [[String]], rightAligned: Set<Int> = []) -> String {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return rightAligned.contains(column) ? pad + cell : cell + pad
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        return ([line(header), line(widths.map { String(repeating: "─", count: $0) })] + rows.map(line)).joined(separator: "\n")
    }

    static func message(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    static func bytes(_ count: Int) -> String {
        let units = ["B", "KB", "MB", "GB"]
        var value = Double(count), unit = 0
        while value >= 1000, unit < units.count - 1 { value /= 1000; unit += 1 }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }

    static func count(_ n: Int) -> String {
        let digits = String(n)
        var out = ""
        for (i, c) in digits.reversed().enumerated() {
            if i > 0, i % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return String(out.reversed())
    }
}

/// A one-line progress bar on stderr, drawn only when stderr is a terminal (scripts and logs get nothing).
final class ProgressBar: @unchecked Sendable {
    private let label: String
    private var total: Int
    private let unit: ProgressUnit
    private let start = Date()
    private var lastDraw = Date.distantPast
    private let enabled = isatty(STDERR_FILENO) != 0

    enum ProgressUnit { case items, bytes }

    init(_ label: String, total: Int, unit: ProgressUnit = .items) {
        self.label = label
        self.total = total
        self.unit = unit
    }

    /// Progress with a total learnt along the way (a download's length arrives with its response).
    func update(_ done: Int, total: Int) {
        self.total = total
        update(done)
    }

    /// `detail` follows the counts (a running loss, images per second).
    func update(_ done: Int, detail: String = "") {
        guard enabled, Date().timeIntervalSince(lastDraw) > 0.1 || done >= total else { return }
        lastDraw = Date()
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 0
        let width = 30, filled = Int(fraction * Double(width))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let elapsed = Date().timeIntervalSince(start)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 && total > done ? String(format: " ETA %.0fs", Double(total - done) / rate) : ""
        let amount = unit == .bytes ? "\(Output.bytes(done))/\(Output.bytes(total))" : "\(done)/\(total)"
        FileHandle.standardError.write(Data("\r\(label) \(bar) \(amount)\(eta)\(detail.isEmpty ? "" : "  " + detail)\u{1B}[K".utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
