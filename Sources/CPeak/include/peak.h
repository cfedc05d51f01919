// The machine's fused multiply-add rate, for benchmarks to compare kernels against: independent FMA chains in the
// widest vectors the CPU has (AVX-512, else AVX2 with FMA), chosen at run time. A C target of its own, so that it is
// compiled optimized with the vector extensions enabled per function.
#ifndef ZOO_PEAK_H
#define ZOO_PEAK_H

#define ZOO_PEAK_CHAINS 12

/// Float lanes per FMA of the widest supported kind (16 with AVX-512, 8 with AVX2 and FMA), 0 without FMA.
int zoo_fma_lanes(void);

/// Runs `iterations` rounds of ZOO_PEAK_CHAINS fused multiply-adds on `lanes` floats each (as zoo_fma_lanes says);
/// returns a value that depends on every one, so none is optimized away.
float zoo_fma_loop(int lanes, long iterations);

#endif
