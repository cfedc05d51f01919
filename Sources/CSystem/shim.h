// Linux calls that Swift's Glibc module leaves out because glibc declares them only under _GNU_SOURCE.
#include <sys/types.h>

int memfd_create(const char *name, unsigned int flags);

/// An anonymous in-memory file, closed on exec (MFD_CLOEXEC).
static inline int zoo_memfd_create(const char *name) { return memfd_create(name, 0x0001U); }
