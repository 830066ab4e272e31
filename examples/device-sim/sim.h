/*
 * iotsec-device-sim — shared declarations (docs/DESIGN.md §11).
 *
 * The simulator behaves as an ESP32-class firmware does: A/B slots with a secure-boot check,
 * OTA with rollback, mTLS telemetry. Every security decision (manifest signature and policy,
 * image and payload verification, frame sealing, the sender counter) is a libiotsec call;
 * this program only moves bytes, keeps its state directory and talks HTTPS with libcurl.
 */
#ifndef IOTSEC_DEVICE_SIM_H
#define IOTSEC_DEVICE_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "iotsec/iotsec.h"

/* Exit status of every subcommand. */
enum sim_exit {
    SIM_OK = 0,              /* success */
    SIM_REJECTED = 1,        /* the library refused an input (manifest, payload, image) */
    SIM_USAGE = 2,           /* bad command line, or a secret file of the wrong length */
    SIM_IO = 3,              /* local storage: state directory, credentials, slots */
    SIM_NETWORK = 4,         /* connection, TLS handshake, server certificate, HTTP error */
    SIM_HALT = 5,            /* secure boot found no verified image to run: halted */
    SIM_INSECURE_URL = 6,    /* a server URL that is not https:// was refused */
    SIM_SERVER_REJECTED = 7, /* the server answered a telemetry frame with an error status */
    SIM_POWER_LOSS = 8,      /* fault injection: simulated power loss ended the process */
    SIM_ROLLED_BACK = 9      /* the pending image was not confirmed: back on the old slot */
};

#define SIM_SLOTS 2
#define SIM_DEVICE_ID_MAX 64
#define SIM_CLASS_MAX 64
#define SIM_PATH_MAX 4096
#define SIM_MAX_TRUST 8              /* trusted firmware keys kept by a device */
#define SIM_DEFAULT_ATTEMPTS 3       /* boots of a pending image before it is rolled back */
#define SIM_FRAME_SECRET_LEN 32      /* frame master secret (bindings-spec/SPEC.md §2.2) */
#define SIM_FW_KEY_LEN 32            /* firmware decryption key (bindings-spec/SPEC.md §7.6) */

/* Print "iotsec-device-sim: <message>" on stderr and return code. */
int sim_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "iotsec-device-sim: <message>: IOTSEC_E_NAME: text" on stderr and return code. */
int sim_fail(int code, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Silence sim_error / sim_fail while muted is non-zero (status probes slots quietly). */
void sim_errors_mute(int muted);

/* ---- fault injection: simulated power loss -------------------------------------------- */

/* Arm the power-loss simulator: the limit-th storage write from now on (1-based) ends the
 * process; 0 disarms it. */
void sim_power_arm(unsigned long limit);
/* Storage writes still allowed before the power fails (0 when disarmed). Passed on to the
 * re-executed boot so one count covers a whole update, reboot included. */
unsigned long sim_power_remaining(void);
/* Account for one storage write: returns 1 when the power fails during it (the caller may
 * leave a torn write behind, then must call sim_power_fail), else 0. */
int sim_power_due(void);
/* End the process at once as a power cut would: _exit(SIM_POWER_LOSS), nothing flushed (a
 * one-line note naming what goes to stderr with write(2)). */
void sim_power_fail(const char *what) __attribute__((noreturn));
/* Account for one storage write described by what. When it is the armed one, the process
 * ends at once (_exit, nothing flushed) with SIM_POWER_LOSS; if torn_fd >= 0 the first half
 * of the bytes (data, len at offset off) reach the file first, as a write cut by power loss
 * leaves a torn record or chunk behind. Returns only when the write may go ahead. */
void sim_power_tick(const char *what, int torn_fd, const void *data, size_t len, long long off);

/* ---- state directory (docs/DESIGN.md §11) --------------------------------------------- */

/* Device settings: optional lines of device.conf (README.md, "Settings"); these defaults
 * apply when a line is absent. */
#define SIM_DEFAULT_SLOT_SIZE (4ull * 1024u * 1024u) /* bytes each slot holds (flash
                                                       partition size) */
#define SIM_SLOT_SIZE_MIN 4096ull
#define SIM_SLOT_SIZE_MAX (1ull << 32)   /* the manifest's image_size maximum (docs/DESIGN.md §6) */
#define SIM_DEFAULT_MIN_RATE 1024ul      /* bytes/s an update download must average ... */
#define SIM_DEFAULT_MIN_RATE_TIME 30ul   /* ... over any this many seconds (0 rate: no minimum) */
#define SIM_DEFAULT_UPDATE_DEADLINE 1800ul /* seconds for a whole update, all chunks */

typedef struct sim_state {
    char root[SIM_PATH_MAX];            /* the state directory */
    char device_id[SIM_DEVICE_ID_MAX + 1];
    char device_class[SIM_CLASS_MAX + 1];
    uint64_t slot_size;                 /* slot_size: capacity of each slot, bytes */
    unsigned long min_rate;             /* update_min_rate: bytes/s, 0 = no minimum */
    unsigned long min_rate_time;        /* update_min_rate_time: seconds */
    unsigned long update_deadline;      /* update_deadline: seconds */
} sim_state;

/* Boot record: which slot runs, whether it is pending confirmation, how many times a
 * pending image has been started, and the stored (anti-rollback) security counter. */
typedef struct sim_boot_record {
    uint32_t seq;        /* record sequence, serial arithmetic; the newest valid copy wins */
    uint8_t active;      /* 0 = slot A, 1 = slot B */
    uint8_t pending;     /* 1: the active image has not confirmed its first boot */
    uint8_t attempts;    /* boots of the pending image so far */
    uint64_t counter;    /* stored security counter: rises only on confirm */
} sim_boot_record;

/* Build "<root>/<rel>" into out (SIM_PATH_MAX). Returns SIM_OK or SIM_IO (too long). */
int sim_path(const sim_state *st, const char *rel, char *out);
/* Path of slot's image ("slots/a.bin") or manifest ("slots/a.manifest"). */
int sim_slot_path(const sim_state *st, int slot, int manifest, char *out);
/* 'A' or 'B'. */
char sim_slot_name(int slot);

/* Open the state directory of a provisioned device: reads its configuration (device id,
 * class, and the optional settings above). Returns SIM_OK, SIM_IO with a message. */
int sim_state_open(sim_state *st, const char *root);
/* Create the directory tree of a new device (mode 0700); refuses a directory that already
 * holds a boot record. */
int sim_state_create(sim_state *st, const char *root);
/* Write the configuration file (device id and class, and each setting that differs from
 * its default). */
int sim_state_write_config(const sim_state *st);

/* Read the boot record: both copies, the newest valid one wins. A torn copy is ignored;
 * with neither copy valid the state is corrupt. Returns IOTSEC_OK, IOTSEC_E_CORRUPT or
 * IOTSEC_E_IO. */
int sim_boot_read(const sim_state *st, sim_boot_record *rec);
/* Write rec with the next sequence number into the copy not holding the current record and
 * flush it (one storage write). Updates rec->seq. Returns IOTSEC_OK or IOTSEC_E_IO. */
int sim_boot_write(const sim_state *st, sim_boot_record *rec);
/* Create a fresh boot record file holding rec (seq 1) in copy 0: provisioning. */
int sim_boot_create(const sim_state *st, sim_boot_record *rec);

/* The state files' names and sizes, and two helpers of state.c the fuzz target
 * tests/fuzz/fuzz_devicesim_state.c uses too. */
#define SIM_CONFIG_FILE "device.conf" /* configuration: device_id=... and class=... lines */
#define SIM_CONFIG_MAX 1024u          /* longest configuration file */
#define SIM_BOOT_FILE "boot"          /* boot record: two copies, one per sector */
#define SIM_BOOT_REC_LEN 24u          /* one copy (format: state.c) */
#define SIM_BOOT_SECTOR 512           /* copy i is at offset i * SIM_BOOT_SECTOR */
/* An empty state rooted at root; nothing is read or created. Returns SIM_OK, or SIM_IO with
 * a message when root is too long. */
int sim_state_init(sim_state *st, const char *root);
/* Encode rec as one copy of the boot record, its CRC included. */
void sim_boot_encode(const sim_boot_record *rec, uint8_t out[SIM_BOOT_REC_LEN]);

/* Write a whole file atomically (one storage write). Returns IOTSEC_OK or IOTSEC_E_IO. */
int sim_store_file(const char *path, const void *data, size_t len, unsigned mode);
/* Remove a file (one storage write; a missing file is fine). */
int sim_store_remove(const char *path);
/* Remove temporary files an interrupted atomic write left in the state directory. */
void sim_state_sweep(const sim_state *st);

/* A slot being written chunk by chunk: each chunk is one storage write. */
typedef struct sim_slot_writer {
    int fd;
    unsigned long long off;
} sim_slot_writer;
int sim_slot_writer_open(sim_slot_writer *w, const sim_state *st, int slot);
int sim_slot_writer_write(sim_slot_writer *w, const uint8_t *data, size_t len);
/* fsync and close; returns IOTSEC_OK or IOTSEC_E_IO. */
int sim_slot_writer_close(sim_slot_writer *w);

/* ---- credentials ----------------------------------------------------------------------- */

/* Fixed names inside the state directory. */
#define SIM_CRED_CERT "creds/device.crt"
#define SIM_CRED_KEY "creds/device.key"
#define SIM_CRED_CA "creds/ca.pem"
#define SIM_CRED_SECRET "creds/frame.secret"
#define SIM_CRED_FW_KEY "creds/fw.key"
#define SIM_CRED_TRUST_FMT "creds/trust/%d.pem"
#define SIM_NVS_COUNTER "nvs/counter"

/* ---- libcurl mTLS client --------------------------------------------------------------- */

typedef struct sim_net sim_net;

/* Start a client for server (must be https://; anything else is refused before any
 * connection with SIM_INSECURE_URL). Uses the device certificate and key, trusts only the
 * pinned CA, TLS 1.2 or later. Returns SIM_OK or an exit code with a message. */
int sim_net_open(sim_net **out, const sim_state *st, const char *server);
void sim_net_close(sim_net *n);
/* Bound every later request of n: abort one that averages under min_rate bytes/s over
 * min_rate_time seconds (libcurl's low-speed limit; min_rate 0: none), and one still
 * running at deadline_ms (sim_clock_ms() time; 0: none) — a request is not even started
 * after it. Such an abort is SIM_NETWORK with a message naming the limit. */
void sim_net_limits(sim_net *n, unsigned long min_rate, unsigned long min_rate_time,
                    uint64_t deadline_ms);
/* Milliseconds of a monotonic clock. */
uint64_t sim_clock_ms(void);
/* GET server + path. With range (a "first-last" string) asks for those bytes. The body
 * goes to buf (at most cap bytes; a longer body is an error). Returns SIM_OK (whatever
 * the status) or SIM_NETWORK / SIM_INSECURE_URL with a message. */
int sim_net_get(sim_net *n, const char *path, const char *range, uint8_t *buf, size_t cap,
                size_t *len, long *status);
/* POST body with content_type; the answer body (at most cap − 1 bytes, NUL-terminated)
 * goes to resp. */
int sim_net_post(sim_net *n, const char *path, const char *content_type, const uint8_t *body,
                 size_t body_len, char *resp, size_t cap, size_t *resp_len, long *status);
void sim_net_global_init(void);
void sim_net_global_cleanup(void);

#endif
