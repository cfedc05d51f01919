#include <immintrin.h>
#include "peak.h"

static __attribute__((target("avx512f"))) float zoo_fma_loop_avx512(long iterations) {
    __m512 acc[ZOO_PEAK_CHAINS];
    for (int i = 0; i < ZOO_PEAK_CHAINS; i++) acc[i] = _mm512_set1_ps((float)i);
    const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (long n = 0; n < iterations; n++)
        for (int i = 0; i < ZOO_PEAK_CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    __m512 sum = acc[0];
    for (int i = 1; i < ZOO_PEAK_CHAINS; i++) sum = _mm512_add_ps(sum, acc[i]);
    return _mm512_reduce_add_ps(sum);
}

static __attribute__((target("avx2,fma"))) float zoo_fma_loop_avx2(long iterations) {
    __m256 acc[ZOO_PEAK_CHAINS];
    for (int i = 0; i < ZOO_PEAK_CHAINS; i++) acc[i] = _mm256_set1_ps((float)i);
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (long n = 0; n < iterations; n++)
        for (int i = 0; i < ZOO_PEAK_CHAINS; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    __m256 sum = acc[0];
    for (int i = 1; i < ZOO_PEAK_CHAINS; i++) sum = _mm256_add_ps(sum, acc[i]);
    float lanes[8];
    _mm256_storeu_ps(lanes, sum);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
}

/// Float lanes per FMA of the widest supported kind (16 with AVX-512, 8 with AVX2 and FMA), 0 without FMA.
int zoo_fma_lanes(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 16;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 8;
    return 0;
}

/// Runs `iterations` rounds of ZOO_PEAK_CHAINS fused multiply-adds on `lanes` floats each (as zoo_fma_lanes says);
/// returns a value that depends on every one, so none is optimized away.
float zoo_fma_loop(int lanes, long iterations) {
    return lanes == 16 ? zoo_fma_loop_avx512(iterations) : zoo_fma_loop_avx2(iterations);
}
