import RealModule

/// A scalar the reference kernels compute in: Float for the reference backend, Double for finite-difference checks.
public typealias KernelScalar = BinaryFloatingPoint & Real

/// The reference implementation of every op: plain loops over row-major buffers, written to be obviously correct.
/// Generic over the scalar so that tests can run the same code in Float64. Shapes are validated by the caller.
public enum ReferenceKernels {}
