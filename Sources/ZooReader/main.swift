import Foundation
import ZooConverters
import ZooHDF5

// zoo-reader parses one HDF5 weight file for a parent process (`zoo`, or any program using ZooConverters), confined
// by `Sandbox`, and writes its reply (`ReaderWire`) to descriptor 3, an in-memory file the parent created. With
// --input-descriptor the file is read from that open descriptor (FILE then only names it), so that parent and child
// read the same file even if the path changes meanwhile.
//   zoo-reader [--timeout SECONDS] [--input-descriptor N] recognize FILE
//   zoo-reader [--timeout SECONDS] [--input-descriptor N] read FORMAT FILE
//   zoo-reader [--timeout SECONDS] [--input-descriptor N] read-if-recognized FORMAT FILE
//   zoo-reader [--timeout SECONDS] sandbox-check open|exec|socket|memory FILE    (prints what the sandbox refuses)

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("zoo-reader: \(message)\n".utf8))
    exit(2)
}

var arguments = Array(CommandLine.arguments.dropFirst())
var seconds = 120
var inputDescriptor: Int32?
while let option = arguments.first, option.hasPrefix("--") {
    guard arguments.count > 1, let value = Int32(arguments[1]), value > 0 else { fail("\(option) needs a positive whole number") }
    switch option {
    case "--timeout": seconds = Int(value)
    case "--input-descriptor": inputDescriptor = value
    default: fail("unknown option \(option)")
    }
    arguments.removeFirst(2)
}
let usage = "usage: zoo-reader [--timeout SECONDS] [--input-descriptor N] recognize FILE | read FORMAT FILE | "
    + "read-if-recognized FORMAT FILE | sandbox-check open|exec|socket|memory FILE"
let check = arguments.first == "sandbox-check" && arguments.count == 3 ? arguments[1] : nil
let request = ReaderRequest(arguments: arguments)
guard let path = check != nil ? arguments[2] : request?.path else { fail(usage) }

// The input is mapped before confinement: afterwards no file can be opened.
let descriptor = inputDescriptor ?? open(path, O_RDONLY | O_CLOEXEC)
guard descriptor >= 0 else { fail("cannot open \(path): \(String(cString: strerror(errno)))") }
var info = stat()
guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { fail("\(path) is not a regular file") }
let size = Int(info.st_size)
var image = UnsafeRawBufferPointer(start: nil, count: 0)
if size > 0 {
    // Not populated: plain Float32 arrays are left where they lie for the parent, so most pages are never touched here.
    guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), mapped != MAP_FAILED else {
        fail("cannot map \(path): \(String(cString: strerror(errno)))")
    }
    image = UnsafeRawBufferPointer(start: mapped, count: size)
}
close(descriptor)
HDF5File.prepareLibrary()
do {
    try Sandbox.limit(inputSize: size, seconds: seconds)
    try Sandbox.enter()
} catch {
    fail("cannot confine the reader: \(error)")
}

if let check {
    let refused = { (what: String) in print("\(what): refused (\(String(cString: strerror(errno))))") }
    switch check {
    case "open": open("/etc/hostname", O_RDONLY) < 0 ? refused("open") : print("open: allowed")
    case "socket": socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0) < 0 ? refused("socket") : print("socket: allowed")
    case "exec":
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        execv("/bin/true", argv)
        refused("exec")
    case "memory":
        if let block = malloc(4 << 30) { print("memory: allowed at \(block)") } else { refused("memory") }
    default: fail(usage)
    }
    exit(0)
}
do { try ReaderWire.serve(request!, image: image, to: 3) } catch { fail("\(error)") }
exit(0)
