import CHDF5

/// What a name inside a group refers to.
public enum HDF5ObjectKind: Sendable {
    case group, dataset, other
}

public struct HDF5Group: HDF5Object {
    public let file: HDF5File
    let handle: Handle
    public let path: String

    var id: hid_t { handle.id }

    /// Member names in creation order when the group tracks it, otherwise in name order (HDF5's default).
    public func members() throws(HDF5Error) -> [String] {
        try HDF5Library.locked { () throws(HDF5Error) -> [String] in
            final class Names { var list: [String] = [] }
            let names = Names()
            let context = Unmanaged.passUnretained(names).toOpaque()
            let callback: H5L_iterate_t = { _, name, _, context in
                Unmanaged<Names>.fromOpaque(context!).takeUnretainedValue().list.append(String(cString: name!))
                return 0
            }
            var index: hsize_t = 0
            if H5Literate(id, H5_INDEX_CRT_ORDER, H5_ITER_INC, &index, callback, context) >= 0 { return names.list }
            _ = HDF5Library.takeErrorStack()
            names.list = []
            index = 0
            guard H5Literate(id, H5_INDEX_NAME, H5_ITER_INC, &index, callback, context) >= 0 else { throw failure("cannot list members") }
            return names.list
        }
    }

    /// What `name` (a path relative to this group, components separated by '/') refers to, or nil when absent.
    public func kind(of name: String) -> HDF5ObjectKind? {
        HDF5Library.locked {
            var prefix = ""
            for component in name.split(separator: "/", omittingEmptySubsequences: true) {
                prefix += (prefix.isEmpty ? "" : "/") + component
                guard H5Lexists(id, prefix, zoo_h5p_default()) > 0 else {
                    _ = HDF5Library.takeErrorStack()
                    return nil
                }
            }
            let object = H5Oopen(id, name, zoo_h5p_default())
            guard object >= 0 else {
                _ = HDF5Library.takeErrorStack()
                return nil
            }
            defer { H5Oclose(object) }
            switch H5Iget_type(object) {
            case H5I_GROUP: return .group
            case H5I_DATASET: return .dataset
            default: return .other
            }
        }
    }

    public func contains(_ name: String) -> Bool { kind(of: name) != nil }

    public func group(_ name: String) throws(HDF5Error) -> HDF5Group {
        guard kind(of: name) == .group else { throw error(kind(of: name) == nil ? "no such group" : "not a group", name) }
        return try HDF5Library.locked { () throws(HDF5Error) -> HDF5Group in
            let child = H5Gopen2(id, name, zoo_h5p_default())
            guard child >= 0 else { throw failure("cannot open group", name) }
            return HDF5Group(file: file, handle: Handle(child, close: H5Gclose), path: join(path, name))
        }
    }

    public func dataset(_ name: String) throws(HDF5Error) -> HDF5Dataset {
        guard kind(of: name) == .dataset else { throw error(kind(of: name) == nil ? "no such dataset" : "not a dataset", name) }
        return try HDF5Library.locked { () throws(HDF5Error) -> HDF5Dataset in
            let child = H5Dopen2(id, name, zoo_h5p_default())
            guard child >= 0 else { throw failure("cannot open dataset", name) }
            return try HDF5Dataset(file: file, handle: Handle(child, close: H5Dclose), path: join(path, name))
        }
    }

    /// Creates a group; a name with '/' creates the intermediate groups too (Keras layer names like `conv1/conv`).
    public func createGroup(_ name: String) throws(HDF5Error) -> HDF5Group {
        try HDF5Library.locked { () throws(HDF5Error) -> HDF5Group in
            let properties = H5Pcreate(zoo_h5p_link_create())
            defer { H5Pclose(properties) }
            H5Pset_create_intermediate_group(properties, 1)
            let child = H5Gcreate2(id, name, properties, zoo_h5p_default(), zoo_h5p_default())
            guard child >= 0 else { throw failure("cannot create group", name) }
            return HDF5Group(file: file, handle: Handle(child, close: H5Gclose), path: join(path, name))
        }
    }

    /// Writes a little-endian float32 dataset (shape [] makes a scalar).
    public func createDataset(_ name: String, shape: [Int], values: UnsafeBufferPointer<Float>) throws(HDF5Error) {
        guard values.count == shape.reduce(1, *) else {
            throw error("\(values.count) values do not fill shape \(shape)", name)
        }
        try HDF5Library.locked { () throws(HDF5Error) in
            let dims = shape.map { hsize_t($0) }
            let space = shape.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(shape.count), dims, nil)
            guard space >= 0 else { throw failure("cannot describe shape \(shape)", name) }
            defer { H5Sclose(space) }
            let properties = H5Pcreate(zoo_h5p_link_create())
            defer { H5Pclose(properties) }
            H5Pset_create_intermediate_group(properties, 1)
            let dataset = H5Dcreate2(id, name, zoo_h5t_ieee_f32le(), space, properties, zoo_h5p_default(), zoo_h5p_default())
            guard dataset >= 0 else { throw failure("cannot create dataset", name) }
            defer { H5Dclose(dataset) }
            if values.count > 0,
               H5Dwrite(dataset, zoo_h5t_native_float(), zoo_h5s_all(), zoo_h5s_all(), zoo_h5p_default(), values.baseAddress) < 0 {
                throw failure("cannot write dataset", name)
            }
        }
    }
}
