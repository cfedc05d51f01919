import CHDF5

/// How a dataset stores its elements.
public enum HDF5ElementType: Equatable, Sendable, CustomStringConvertible {
    case float(bits: Int)
    case integer(bits: Int)
    case string
    case other(String)

    public var description: String {
        switch self {
        case .float(let bits): "float\(bits)"
        case .integer(let bits): "int\(bits)"
        case .string: "string"
        case .other(let name): name
        }
    }
}

public struct HDF5Dataset: HDF5Object {
    public let file: HDF5File
    let handle: Handle
    public let path: String
    public let shape: [Int]
    public let elementType: HDF5ElementType

    init(file: HDF5File, handle: Handle, path: String) throws(HDF5Error) {
        self.file = file
        self.handle = handle
        self.path = path
        let space = H5Dget_space(handle.id)
        guard space >= 0 else { throw HDF5Error(file: file.path, object: path, message: "cannot read shape: \(HDF5Library.takeErrorStack())") }
        defer { H5Sclose(space) }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard rank >= 0 else { throw HDF5Error(file: file.path, object: path, message: "cannot read rank: \(HDF5Library.takeErrorStack())") }
        var dims = [hsize_t](repeating: 0, count: rank)
        if rank > 0 { H5Sget_simple_extent_dims(space, &dims, nil) }
        shape = dims.map { Int($0) }
        let type = H5Dget_type(handle.id)
        defer { H5Tclose(type) }
        elementType = elementTypeOf(type)
        try checkDeclaredSize(elementBytes: Int(H5Tget_size(type)))
    }

    /// A corrupted file can declare any shape; refuse one its stored bytes cannot back before anything is allocated.
    /// Filtered (compressed) data may expand up to 1100× (deflate's limit is about 1032×); data never written reads
    /// as the fill value, allowed up to 64 MiB.
    private func checkDeclaredSize(elementBytes: Int) throws(HDF5Error) {
        let (declared, overflow) = shape.reduce((elementBytes, false)) {
            let product = $0.0.multipliedReportingOverflow(by: $1)
            return (product.partialValue, $0.1 || product.overflow)
        }
        let stored = Int(H5Dget_storage_size(handle.id))
        let properties = H5Dget_create_plist(handle.id)
        let filters = properties >= 0 ? Int(H5Pget_nfilters(properties)) : 0
        if properties >= 0 { H5Pclose(properties) }
        let limit = stored == 0 ? 64 << 20 : filters > 0 ? stored.multipliedReportingOverflow(by: 1100).partialValue : stored
        guard !overflow, declared <= limit else {
            throw HDF5Error(file: file.path, object: path, message: "declares shape \(shape) of \(elementBytes)-byte elements "
                + "but stores only \(stored) bytes; the file is corrupt")
        }
    }

    /// The element count (its size was checked against the stored bytes when the dataset was opened).
    public var count: Int { shape.reduce(1, *) }

    /// Reads every element, converted to Float32 by HDF5 (float16 and float64 included), into `buffer`.
    public func read(into buffer: UnsafeMutableBufferPointer<Float>) throws(HDF5Error) {
        guard buffer.count == count else { throw error("buffer of \(buffer.count) elements for shape \(shape)") }
        switch elementType {
        case .float, .integer: break
        default: throw error("holds \(elementType) values, expected numbers")
        }
        guard count > 0 else { return }
        try HDF5Library.locked { () throws(HDF5Error) in
            guard H5Dread(handle.id, zoo_h5t_native_float(), zoo_h5s_all(), zoo_h5s_all(), zoo_h5p_default(), buffer.baseAddress) >= 0 else {
                throw failure("cannot read")
            }
        }
    }

    /// The values where they lie in the file image, when the file was opened from memory and stores them as plain
    /// little-endian Float32, contiguous and unfiltered: exactly what `read` would produce, with no read and no copy.
    public func valuesInImage() -> UnsafeBufferPointer<Float>? {
        #if _endian(little)
        guard let image = file.image, let base = image.baseAddress, count > 0 else { return nil }
        return HDF5Library.locked { () -> UnsafeBufferPointer<Float>? in
            let type = H5Dget_type(handle.id)
            guard type >= 0 else { H5Eclear2(zoo_h5e_default()); return nil }
            defer { H5Tclose(type) }
            let properties = H5Dget_create_plist(handle.id)
            guard properties >= 0 else { H5Eclear2(zoo_h5e_default()); return nil }
            defer { H5Pclose(properties) }
            // An offset exists only for contiguous data stored in this file; external storage has none.
            guard H5Tequal(type, zoo_h5t_ieee_f32le()) > 0, H5Pget_layout(properties) == H5D_CONTIGUOUS,
                  H5Pget_nfilters(properties) == 0, H5Pget_external_count(properties) == 0 else { return nil }
            let address = H5Dget_offset(handle.id)
            H5Eclear2(zoo_h5e_default())  // an unallocated dataset leaves an error behind
            guard address != haddr_t.max, address <= UInt(image.count) else { return nil }
            let offset = Int(address)
            guard offset % MemoryLayout<Float>.alignment == 0, count <= (image.count - offset) / MemoryLayout<Float>.stride else { return nil }
            return UnsafeBufferPointer(start: (base + offset).assumingMemoryBound(to: Float.self), count: count)
        }
        #else
        return nil
        #endif
    }

    public func attributeNames() throws(HDF5Error) -> [String] { try HDF5Attributes(handle.id, self).names() }
    public func attribute(_ name: String) throws(HDF5Error) -> HDF5AttributeValue? { try HDF5Attributes(handle.id, self).value(name) }
}

func elementTypeOf(_ type: hid_t) -> HDF5ElementType {
    let bits = Int(H5Tget_size(type)) * 8
    switch H5Tget_class(type) {
    case H5T_FLOAT: return .float(bits: bits)
    case H5T_INTEGER: return .integer(bits: bits)
    case H5T_STRING: return .string
    case H5T_COMPOUND: return .other("compound")
    case H5T_ENUM: return .other("enum")
    case H5T_VLEN: return .other("variable-length")
    case H5T_ARRAY: return .other("array")
    case H5T_OPAQUE: return .other("opaque")
    case H5T_REFERENCE: return .other("reference")
    default: return .other("unknown")
    }
}
