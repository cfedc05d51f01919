// zlib (Debian zlib1g-dev): gzopen/gzread read gzip files and plain files alike, for IDX data sets.
#include <zlib.h>
