/* iotsec-device-sim — the subcommands (boot.c, update.c, telemetry.c, provision.c,
 * status.c) and their options. */
#ifndef IOTSEC_DEVICE_SIM_APP_H
#define IOTSEC_DEVICE_SIM_APP_H

#include "fw.h"
#include "iotsec/counter_file.h"
#include "sim.h"

typedef struct sim_boot_opts {
    int self_test_fail;    /* simulate a bad build: the pending image's self-test fails */
    unsigned max_attempts; /* starts of a pending image before rollback, 1–255 */
} sim_boot_opts;

typedef struct sim_boot_result {
    int slot;              /* the slot running */
    int rolled_back;       /* 1 when a pending image was abandoned */
    sim_boot_record record;
    sim_manifest sm;       /* the running image's verified manifest */
} sim_boot_result;

/* Boot: returns SIM_OK, SIM_ROLLED_BACK (running the old slot), SIM_HALT, SIM_IO. */
int sim_boot(const sim_state *st, const iotsec_crypto *crypto, const sim_boot_opts *o,
             sim_boot_result *res);

/* Update from server, then reboot by re-executing argv0 with "boot". */
int sim_update(const sim_state *st, const iotsec_crypto *crypto, const char *server,
               const sim_boot_opts *o, const char *argv0);

enum sim_format { SIM_FMT_BINARY, SIM_FMT_JSON, SIM_FMT_ECOWATT };
/* HTTPS POSTs to the backend (net.c), or MQTT publishes to a broker (mqtt.c) */
enum sim_transport { SIM_TRANSPORT_HTTPS, SIM_TRANSPORT_MQTT };

typedef struct sim_run_opts {
    unsigned long frames;      /* frames to send */
    unsigned long interval_ms; /* pause between frames */
    enum sim_format format;
    int encrypt;
    enum sim_transport transport;
} sim_run_opts;

/* Boot, then send telemetry frames over mTLS to server: an https:// URL, or with
 * ro->transport SIM_TRANSPORT_MQTT an mqtts:// broker. */
int sim_run(const sim_state *st, const iotsec_crypto *crypto, const char *server,
            const sim_boot_opts *bo, const sim_run_opts *ro);

typedef struct sim_provision_opts {
    const char *cert, *key, *ca, *secret, *fw_key, *legacy_mac_key, *legacy_enc_key;
    const char *image, *manifest;
    const char *trust[SIM_MAX_TRUST];
    int ntrust;
} sim_provision_opts;

/* Create a device state: credentials, slot A from a verified image, boot record. */
int sim_provision(sim_state *st, const iotsec_crypto *crypto, const sim_provision_opts *o);

/* Print the device state (text or one JSON object). */
int sim_status(const sim_state *st, const iotsec_crypto *crypto, int json);

/* Open the sender counter store in nvs/ (library file port, writes seen by the power-loss
 * simulator). Close f with iotsec_counter_file_close. */
int sim_nvs_open(const sim_state *st, iotsec_counter_file *f, iotsec_counter *c);

/* Legacy EcoWatt profile keys installed by provision (--legacy-mac-key, --legacy-enc-key). */
#define SIM_CRED_LEGACY_MAC "creds/legacy-mac.key"
#define SIM_CRED_LEGACY_ENC "creds/legacy-enc.key"

#endif
