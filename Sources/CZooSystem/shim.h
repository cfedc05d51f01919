// Linux calls that Swift's Glibc module leaves out because glibc declares them only under _GNU_SOURCE.
#include <stddef.h>
#include <sys/types.h>

int memfd_create(const char *name, unsigned int flags);

/// An anonymous in-memory file, closed on exec (MFD_CLOEXEC).
static inline int zoo_memfd_create(const char *name) { return memfd_create(name, 0x0001U); }

int sync_file_range(int fd, off_t offset, off_t nbytes, unsigned int flags);

/// Starts writing a range of a file's dirty pages to disk without waiting for it (SYNC_FILE_RANGE_WRITE), so that a
/// later fsync waits only for what is still in flight.
static inline int zoo_start_writeback(int fd, off_t offset, off_t count) { return sync_file_range(fd, offset, count, 2U); }

/// Returns the C heap's free memory at its top and in whole free pages to the system (glibc's malloc_trim).
int malloc_trim(size_t pad);
