import Foundation

/// Class lists as people type them: "5-9", "0,2,4", "1-3,7".
public enum ClassSelection {
    /// The classes in the order written; each must be below `classCount` and appear once.
    public static func parse(_ text: String, classCount: Int) throws(DatasetError) -> [Int] {
        var classes: [Int] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard (1...2).contains(bounds.count), let low = bounds.first!, let high = bounds.last!, low <= high else {
                throw DatasetError("--classes", "cannot read '\(part)' in '\(text)'; write classes like 5-9 or 0,2,4")
            }
            classes += Array(low...high)
        }
        if let bad = classes.first(where: { $0 < 0 || $0 >= classCount }) {
            throw DatasetError("--classes", "class \(bad) does not exist; the data set has \(classCount) classes, 0…\(classCount - 1)")
        }
        guard Set(classes).count == classes.count else { throw DatasetError("--classes", "'\(text)' names a class twice") }
        return classes
    }
}
