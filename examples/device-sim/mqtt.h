/* iotsec-device-sim — the MQTT transport (mqtt.c; docs/DESIGN.md §11, §13).
 *
 * libmosquitto (Debian libmosquitto-dev), MQTT 5, over TLS only: `mqtts://HOST[:PORT]` is the
 * one accepted URL form (port 8883 by default); `mqtt://` and anything else is refused before
 * any connection with SIM_INSECURE_URL, as `http://` is. The broker is verified against the
 * pinned CA alone (no CA directory, no system store) with host name or IP checked, TLS 1.2
 * or later; the device authenticates with its certificate and key, and its client id is its
 * device id (the broker plugin requires client id = certificate identity).
 *
 * Topics: telemetry is published to devices/<id>/telemetry (QoS 1: the broker's PUBACK
 * comes after the plugin committed the frame's counter); commands arrive on
 * devices/<id>/cmd/# as downlink frames, opened with the device's downlink keys against a
 * replay window kept in nvs/cmd-window.
 *
 * Built without libmosquitto (SIM_HAVE_MQTT 0) every entry point says so and returns
 * SIM_USAGE. */
#ifndef IOTSEC_DEVICE_SIM_MQTT_H
#define IOTSEC_DEVICE_SIM_MQTT_H

#include "app.h"

typedef struct sim_mqtt sim_mqtt;

/* Connect to broker as the device of st (MQTT 5, clean start) and wait for the CONNACK (at
 * most 10 s). Returns SIM_OK, SIM_INSECURE_URL (not mqtts://), SIM_USAGE (malformed URL, or
 * built without MQTT), SIM_IO (credentials), SIM_NETWORK (connection, TLS, or a CONNACK
 * refusing the device) with a message. */
int sim_mqtt_open(sim_mqtt **out, const sim_state *st, const char *broker);
void sim_mqtt_close(sim_mqtt *m);

/* Publish payload on the device's telemetry topic with QoS 1 and wait (at most 10 s) for
 * the PUBACK; *reason gets its MQTT 5 reason code (0 success, 0x10 no matching subscribers,
 * 0x87 not authorized: refused by the broker). Returns SIM_OK whatever the reason code, or
 * SIM_NETWORK with a message. */
int sim_mqtt_publish_telemetry(sim_mqtt *m, const uint8_t *payload, size_t len, int *reason);
/* The text of an MQTT 5 reason code ("Success", "Not authorized", …). */
const char *sim_mqtt_reason_text(int reason);

typedef struct sim_listen_opts {
    unsigned long count;      /* commands to receive before exiting, 1–1000000 */
    unsigned long timeout_ms; /* give up when they have not all come within this time */
} sim_listen_opts;

/* Boot, subscribe to devices/<id>/cmd/# and open each command as a downlink frame (binary
 * or JSON v1, kid 0 of the device's frame secret) against nvs/cmd-window; print one line
 * per command ("command N topic=T ctr=C: PAYLOAD", or "command N topic=T: refused
 * IOTSEC_E_…") and "listening on devices/<id>/cmd/#" once subscribed. Returns SIM_OK when
 * every command opened, SIM_REJECTED when one was refused, SIM_NETWORK on a timeout or a
 * lost connection, or the errors of sim_mqtt_open and sim_boot. */
int sim_listen(const sim_state *st, const iotsec_crypto *crypto, const char *broker,
               const sim_boot_opts *bo, const sim_listen_opts *lo);

#define SIM_NVS_CMD_WINDOW "nvs/cmd-window" /* the commands' replay window (139 bytes) */

#endif
