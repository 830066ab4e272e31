/*
 * libiotsec — version of the library and of its ABI.
 *
 * The SONAME is libiotsec.so.IOTSEC_VERSION_MAJOR; the Makefile reads the three numbers
 * below, so this header is the single source of the version. The major number changes
 * only when an exported symbol is removed or changes meaning; error codes never change value.
 */
#ifndef IOTSEC_VERSION_H
#define IOTSEC_VERSION_H

#include "iotsec/export.h"

#define IOTSEC_VERSION_MAJOR 0
#define IOTSEC_VERSION_MINOR 1
#define IOTSEC_VERSION_PATCH 0
#define IOTSEC_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* The version string of the library actually linked ("MAJOR.MINOR.PATCH"); compare with
 * IOTSEC_VERSION_STRING to detect a header/library mismatch. Never NULL. */
IOTSEC_API const char *iotsec_version(void);

#ifdef __cplusplus
}
#endif

#endif
