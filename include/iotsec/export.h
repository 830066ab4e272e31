/*
 * libiotsec — symbol visibility and attribute macros shared by every public header.
 *
 * The library is built with -fvisibility=hidden; only declarations marked IOTSEC_API are
 * exported from libiotsec.so. IOTSEC_MUST_CHECK marks functions whose result decides a
 * security question (verify, open, check): ignoring it is a compiler warning.
 */
#ifndef IOTSEC_EXPORT_H
#define IOTSEC_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define IOTSEC_API __attribute__((visibility("default")))
#define IOTSEC_MUST_CHECK __attribute__((warn_unused_result))
#else
#define IOTSEC_API
#define IOTSEC_MUST_CHECK
#endif

#endif
