/* libiotsec — library version (include/iotsec/version.h). */
#include "iotsec/version.h"

const char *iotsec_version(void) { return IOTSEC_VERSION_STRING; }
