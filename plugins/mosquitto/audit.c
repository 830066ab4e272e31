/*
 * iotsec mosquitto plugin — the audit trail (plugin.h).
 *
 * One JSON object per line, the shape of the backend's --log-json lines
 * (docs/DESIGN.md §10.3) and its event names, so one tool reads both:
 *   {"time":1700000000,"peer":"127.0.0.1","identity":"sensor-01","event":"replay","detail":"…"}
 * Each line is one write(2) to a file opened O_APPEND, so lines of the broker and of other
 * writers never interleave inside a line. Rejections are limited per source (a verified
 * identity, or all clients without one together) to plugin_opt_audit_rate rows/s with a
 * burst of ten seconds' worth; what was dropped is counted in an audit_suppressed row once a
 * second. Accepted frames and operational rows are never limited.
 */
#include "plugin.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double mq_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t mq_now(void)
{
    return (int64_t)time(NULL);
}

const char *mq_error_code(int rc, char *buf, size_t cap)
{
    const char *name = iotsec_error_name(rc);
    size_t i = 0;

    if (strncmp(name, "IOTSEC_E_", 9) == 0)
        name += 9;
    for (; name[i] != '\0' && i + 1 < cap; i++)
        buf[i] = (char)tolower((unsigned char)name[i]);
    buf[i] = '\0';
    return buf;
}

/* s as the body of a JSON string into out (NUL-terminated; control characters, '"', '\\'
 * and bytes >= 0x80 escaped, so the line stays one line of ASCII whatever a client sent). */
static void json_escape(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    if (s == NULL)
        s = "";
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            if (o + 3 > cap)
                break;
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20 || ch >= 0x7f) {
            if (o + 7 > cap)
                break;
            memcpy(out + o, "\\u00", 4);
            out[o + 4] = hex[ch >> 4];
            out[o + 5] = hex[ch & 15];
            o += 6;
        } else {
            if (o + 2 > cap)
                break;
            out[o++] = (char)ch;
        }
    }
    out[o] = '\0';
}

static void audit_write(mq_plugin *p, const char *peer, const char *identity, const char *event,
                        const char *detail)
{
    char e_peer[160], e_id[400], e_event[80], e_detail[6 * MQ_DETAIL_MAX], line[8192];
    int n;

    json_escape(peer, e_peer, sizeof e_peer);
    json_escape(identity, e_id, sizeof e_id);
    json_escape(event, e_event, sizeof e_event);
    json_escape(detail, e_detail, sizeof e_detail);
    n = snprintf(line, sizeof line,
                 "{\"time\":%lld,\"peer\":\"%s\",\"identity\":\"%s\",\"event\":\"%s\","
                 "\"detail\":\"%s\"}\n",
                 (long long)mq_now(), e_peer, e_id, e_event, e_detail);
    if (n < 0 || (size_t)n >= sizeof line)
        return;
    if (p->audit_fd < 0) {
        line[n - 1] = '\0';
        mosquitto_log_printf(MOSQ_LOG_NOTICE, "iotsec audit: %s", line);
        return;
    }
    {
        size_t off = 0;
        while (off < (size_t)n) {
            ssize_t w = write(p->audit_fd, line + off, (size_t)n - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                mosquitto_log_printf(MOSQ_LOG_ERR, "iotsec: cannot write the audit log %s: %s",
                                     p->opt.audit_path, strerror(errno));
                return;
            }
            off += (size_t)w;
        }
    }
}

int mq_audit_open(mq_plugin *p)
{
    int fd = open(p->opt.audit_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
                  0600);

    if (fd < 0)
        return IOTSEC_E_IO;
    if (p->audit_fd >= 0)
        close(p->audit_fd);
    p->audit_fd = fd;
    return IOTSEC_OK;
}

/* May a rejection row of this gate be written now? */
static int gate_take(mq_plugin *p, mq_gate *g, const char *event)
{
    double now = mq_mono(), rate = p->opt.audit_rate, burst = 10.0 * rate;

    if (rate <= 0)
        return 1;
    if (g->last == 0) {
        g->tokens = burst;
    } else {
        g->tokens += (now - g->last) * rate;
        if (g->tokens > burst)
            g->tokens = burst;
    }
    g->last = now;
    if (g->tokens >= 1.0) {
        g->tokens -= 1.0;
        return 1;
    }
    g->suppressed++;
    snprintf(g->event, sizeof g->event, "%s", event);
    return 0;
}

void mq_audit(mq_plugin *p, mq_gate *gate, const char *peer, const char *identity,
              const char *event, const char *fmt, ...)
{
    char detail[MQ_DETAIL_MAX];
    va_list ap;

    if (gate != NULL && !gate_take(p, gate, event))
        return;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    audit_write(p, peer, identity, event, detail);
}

void mq_audit_flush(mq_plugin *p, mq_gate *gate, const char *identity)
{
    char detail[MQ_DETAIL_MAX];

    if (gate->suppressed == 0)
        return;
    snprintf(detail, sizeof detail,
             "%lu audit rows of rejections suppressed (over plugin_opt_audit_rate %g/s; last: %s)",
             gate->suppressed, p->opt.audit_rate, gate->event);
    gate->suppressed = 0;
    audit_write(p, NULL, identity, "audit_suppressed", detail);
}
