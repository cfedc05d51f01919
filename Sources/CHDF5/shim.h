// HDF5's C API (Debian libhdf5-dev 1.10.8, serial build, found through pkg-config "hdf5").
#include <hdf5.h>
