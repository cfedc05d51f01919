// MPI's C API (Open MPI 4.1 from Debian's libopenmpi-dev, found through pkg-config "ompi-c"), plus the handles that
// MPI defines as macros over library globals, which Swift cannot import directly.
#include <mpi.h>

static inline MPI_Comm zoo_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype zoo_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype zoo_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype zoo_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype zoo_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Op zoo_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op zoo_mpi_max(void) { return MPI_MAX; }
static inline void *zoo_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Request zoo_mpi_request_null(void) { return MPI_REQUEST_NULL; }
static inline MPI_Status *zoo_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline MPI_Status *zoo_mpi_statuses_ignore(void) { return MPI_STATUSES_IGNORE; }
