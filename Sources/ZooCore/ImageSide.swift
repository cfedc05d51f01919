/// The height and width an image input may have: positive, and at most 2¹⁶ a side. Larger ones in a file's metadata
/// or config mean a damaged or crafted file; given on the command line, a mistake.
public enum ImageSide {
    public static let maximum = 1 << 16

    /// (height, width) when both are given and within bounds.
    public static func checked(_ height: Int?, _ width: Int?) -> (Int, Int)? {
        guard let height, let width, (1...maximum).contains(height), (1...maximum).contains(width) else { return nil }
        return (height, width)
    }
}
