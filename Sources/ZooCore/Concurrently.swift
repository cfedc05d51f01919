import Foundation
import ZooTensor

/// Work started on a thread of its own, for overlapping I/O with computing (hashing a file while it is read or
/// flushed). `wait` returns the result or rethrows the error; wait before anything the work uses goes away.
public final class Concurrently<Value>: @unchecked Sendable {
    private var result: Result<Value, Error>?
    private var finished = false  // only the waiting thread reads or writes it
    private let done = DispatchSemaphore(value: 0)

    public init(_ work: @escaping () throws -> Value) {
        let work = UncheckedSendable(work)
        Thread.detachNewThread { [self] in
            result = Result { try work.value() }
            done.signal()
        }
    }

    /// The work's result, waiting for it the first time; may be called again.
    @discardableResult
    public func wait() throws -> Value {
        if !finished {
            done.wait()
            finished = true
        }
        return try result!.get()
    }
}
