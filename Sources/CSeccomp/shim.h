// libseccomp (Debian libseccomp-dev, found through pkg-config "libseccomp"), plus the actions it defines as
// function-like macros, which Swift cannot import.
#include <seccomp.h>

static inline uint32_t zoo_scmp_act_errno(uint16_t error) { return SCMP_ACT_ERRNO(error); }
static inline uint32_t zoo_scmp_act_allow(void) { return SCMP_ACT_ALLOW; }
static inline uint32_t zoo_scmp_act_kill_process(void) { return SCMP_ACT_KILL_PROCESS; }
