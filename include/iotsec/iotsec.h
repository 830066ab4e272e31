/*
 * libiotsec — umbrella header: includes every public module header.
 *
 * The library holds the security decisions of an IoT fleet: firmware manifests,
 * authenticated telemetry frames, replay protection, payload encryption and certificate
 * revocation (docs/DESIGN.md). Start with error.h (return codes) and crypto.h (backends).
 */
#ifndef IOTSEC_IOTSEC_H
#define IOTSEC_IOTSEC_H

#include "iotsec/version.h"
#include "iotsec/error.h"
#include "iotsec/util.h"
#include "iotsec/reader.h"
#include "iotsec/crypto.h"
#include "iotsec/replay.h"
#include "iotsec/frame.h"
#include "iotsec/ecowatt.h"
#include "iotsec/replay_store.h"
#include "iotsec/counter.h"
#include "iotsec/file.h"
#include "iotsec/keyfile.h"
#include "iotsec/manifest.h"
#include "iotsec/image.h"
#include "iotsec/denylist.h"
#include "iotsec/x509.h"
#include "iotsec/revocation.h"
#include "iotsec/tls.h"

#endif
