// oneDNN's v2 C API (Debian libdnnl-dev 2.6.3), plus the two OpenMP entry points that size oneDNN's thread pool.
#include <oneapi/dnnl/dnnl.h>

int omp_get_max_threads(void);
void omp_set_num_threads(int num_threads);
