// HDF5's C API (Debian libhdf5-dev 1.10.8, serial build, found through pkg-config "hdf5"), its high-level library
// (for opening a file image held in memory), plus the values that HDF5 defines as macros over library globals, which
// Swift cannot import directly.
#include <hdf5.h>
#include <hdf5_hl.h>

static inline hid_t zoo_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t zoo_h5e_default(void) { return H5E_DEFAULT; }
static inline hid_t zoo_h5s_all(void) { return H5S_ALL; }
static inline unsigned zoo_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned zoo_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline hid_t zoo_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t zoo_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t zoo_h5t_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t zoo_h5t_c_s1(void) { return H5T_C_S1; }
static inline size_t zoo_h5t_variable(void) { return H5T_VARIABLE; }
static inline hid_t zoo_h5p_link_create(void) { return H5P_LINK_CREATE; }
static inline hid_t zoo_h5p_file_access(void) { return H5P_FILE_ACCESS; }
static inline unsigned zoo_h5lt_image_read_in_place(void) { return H5LT_FILE_IMAGE_DONT_COPY | H5LT_FILE_IMAGE_DONT_RELEASE; }
