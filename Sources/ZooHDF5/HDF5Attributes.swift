import CHDF5

/// An attribute's value: strings (fixed- or variable-length, ASCII or UTF-8, scalar or array) or numbers.
public enum HDF5AttributeValue: Equatable, Sendable {
    case strings([String], scalar: Bool)
    case numbers([Double], scalar: Bool)

    /// The strings, or nil when the attribute holds numbers. An empty numeric array reads as no strings: numpy
    /// turns an empty list into a float array, which is how Keras stores a layer without weights.
    public var strings: [String]? {
        switch self {
        case .strings(let values, _): values
        case .numbers(let values, _): values.isEmpty ? [] : nil
        }
    }
}

/// Attribute access for any object id (groups and datasets forward to it).
struct HDF5Attributes {
    let id: hid_t
    let object: any HDF5Object

    init(_ id: hid_t, _ object: any HDF5Object) {
        self.id = id
        self.object = object
    }

    func names() throws(HDF5Error) -> [String] {
        try HDF5Library.locked { () throws(HDF5Error) -> [String] in
            final class Names { var list: [String] = [] }
            let names = Names()
            var index: hsize_t = 0
            let status = H5Aiterate2(id, H5_INDEX_NAME, H5_ITER_INC, &index, { _, name, _, context in
                Unmanaged<Names>.fromOpaque(context!).takeUnretainedValue().list.append(String(cString: name!))
                return 0
            }, Unmanaged.passUnretained(names).toOpaque())
            guard status >= 0 else { throw object.failure("cannot list attributes") }
            return names.list
        }
    }

    func value(_ name: String) throws(HDF5Error) -> HDF5AttributeValue? {
        try HDF5Library.locked { () throws(HDF5Error) -> HDF5AttributeValue? in
            guard H5Aexists(id, name) > 0 else {
                _ = HDF5Library.takeErrorStack()
                return nil
            }
            let what = "attribute '\(name)'"
            let attribute = H5Aopen(id, name, zoo_h5p_default())
            guard attribute >= 0 else { throw object.failure("cannot open \(what)") }
            defer { H5Aclose(attribute) }
            let type = H5Aget_type(attribute), space = H5Aget_space(attribute)
            defer { H5Tclose(type); H5Sclose(space) }
            let count = Int(H5Sget_simple_extent_npoints(space))
            let scalar = H5Sget_simple_extent_type(space) == H5S_SCALAR
            guard count >= 0 else { throw object.failure("cannot size \(what)") }
            // Each element takes at least 4 stored bytes (a variable-length string's descriptor is 16); a count the
            // stored bytes cannot back comes from a corrupt file and must not size an allocation.
            let stored = Int(H5Aget_storage_size(attribute))
            let elementBytes = H5Tis_variable_str(type) > 0 ? 4 : max(1, Int(H5Tget_size(type)))
            guard count.multipliedReportingOverflow(by: elementBytes).partialValue <= stored || count == 0,
                  !count.multipliedReportingOverflow(by: elementBytes).overflow else {
                throw object.error("\(what) declares \(count) elements but stores only \(stored) bytes; the file is corrupt")
            }
            switch H5Tget_class(type) {
            case H5T_STRING:
                let memory = H5Tcopy(zoo_h5t_c_s1())
                defer { H5Tclose(memory) }
                H5Tset_cset(memory, H5Tget_cset(type))
                if H5Tis_variable_str(type) > 0 {
                    H5Tset_size(memory, zoo_h5t_variable())
                    var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
                    // A read that fails midway may have allocated some strings already: reclaim in every case.
                    defer { if count > 0 { H5Dvlen_reclaim(memory, space, zoo_h5p_default(), &pointers) } }
                    guard count == 0 || H5Aread(attribute, memory, &pointers) >= 0 else { throw object.failure("cannot read \(what)") }
                    return .strings(pointers.map { $0.map { String(cString: $0) } ?? "" }, scalar: scalar)
                }
                let size = Int(H5Tget_size(type))
                H5Tset_size(memory, max(size, 1))
                H5Tset_strpad(memory, H5T_STR_NULLPAD)
                var bytes = [UInt8](repeating: 0, count: max(count * size, 1))
                guard count == 0 || H5Aread(attribute, memory, &bytes) >= 0 else { throw object.failure("cannot read \(what)") }
                let spacePadded = H5Tget_strpad(type) == H5T_STR_SPACEPAD
                let strings = (0..<count).map { i -> String in
                    var field = bytes[i * size..<(i + 1) * size]
                    if let end = field.firstIndex(of: 0) { field = field[..<end] }
                    var text = String(decoding: field, as: UTF8.self)
                    if spacePadded { while text.hasSuffix(" ") { text.removeLast() } }
                    return text
                }
                return .strings(strings, scalar: scalar)
            case H5T_INTEGER, H5T_FLOAT:
                var values = [Double](repeating: 0, count: count)
                guard count == 0 || H5Aread(attribute, zoo_h5t_native_double(), &values) >= 0 else { throw object.failure("cannot read \(what)") }
                return .numbers(values, scalar: scalar)
            default:
                throw object.error("\(what) holds \(elementTypeOf(type)) values; expected strings or numbers")
            }
        }
    }

    /// Writes fixed-length, NUL-padded byte strings, as numpy's `S` arrays (what Keras writes through h5py).
    func setStrings(_ name: String, _ values: [String], scalar: Bool) throws(HDF5Error) {
        try HDF5Library.locked { () throws(HDF5Error) in
            let encoded = values.map { Array($0.utf8) }
            let size = max(1, encoded.map(\.count).max() ?? 1)
            let type = H5Tcopy(zoo_h5t_c_s1())
            defer { H5Tclose(type) }
            H5Tset_size(type, size)
            H5Tset_strpad(type, H5T_STR_NULLPAD)
            var dims = [hsize_t(values.count)]
            let space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dims, nil)
            defer { H5Sclose(space) }
            if H5Aexists(id, name) > 0 { H5Adelete(id, name) }
            let attribute = H5Acreate2(id, name, type, space, zoo_h5p_default(), zoo_h5p_default())
            guard attribute >= 0 else { throw object.failure("cannot create attribute '\(name)'") }
            defer { H5Aclose(attribute) }
            var bytes = [UInt8](repeating: 0, count: max(1, values.count * size))
            for (i, e) in encoded.enumerated() { bytes.replaceSubrange(i * size..<i * size + e.count, with: e) }
            guard H5Awrite(attribute, type, bytes) >= 0 else { throw object.failure("cannot write attribute '\(name)'") }
        }
    }
}

extension HDF5Group {
    public func attributeNames() throws(HDF5Error) -> [String] { try HDF5Attributes(id, self).names() }
    public func attribute(_ name: String) throws(HDF5Error) -> HDF5AttributeValue? { try HDF5Attributes(id, self).value(name) }

    /// Writes a string attribute the way h5py stores numpy byte strings (fixed length, NUL-padded).
    public func setAttribute(_ name: String, strings: [String], scalar: Bool = false) throws(HDF5Error) {
        precondition(!scalar || strings.count == 1, "a scalar attribute holds one string")
        try HDF5Attributes(id, self).setStrings(name, strings, scalar: scalar)
    }
}
