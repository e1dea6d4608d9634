// Linux calls Swift cannot import directly (variadic C functions), wrapped one each.
#include <sys/prctl.h>

/// prctl(PR_SET_PDEATHSIG, sig): this process receives `sig` when its parent thread exits.
static inline int grove_set_parent_death_signal(int sig) { return prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0, 0, 0); }
