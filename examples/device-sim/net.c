/* iotsec-device-sim — libcurl mTLS client (sim.h).
 *
 * Transport policy of the device, as in seed 002: HTTPS only (the URL is checked before any
 * connection and libcurl is restricted to the https protocol, redirects included), the
 * server is verified against the pinned CA alone (CURLOPT_CAINFO, no CA directory, no
 * system store), host name or IP checked, TLS 1.2 or later, and the device authenticates
 * with its certificate and key. No proxy from the environment is used. Every request is
 * bounded in time: 10 s to connect, 60 s in all, and, once sim_net_limits is called (an
 * update), a minimum transfer rate and the update's overall deadline. */
#include "sim.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define URL_MAX 1024
#define REQUEST_TIMEOUT_MS 60000u

struct sim_net {
    CURL *h;
    char base[URL_MAX];
    char errbuf[CURL_ERROR_SIZE];
    char cert[SIM_PATH_MAX];
    char key[SIM_PATH_MAX];
    char ca[SIM_PATH_MAX];
    unsigned long min_rate, min_rate_time; /* 0 rate: no low-speed limit */
    uint64_t deadline_ms;                  /* sim_clock_ms() time; 0: none */
};

uint64_t sim_clock_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void sim_net_limits(sim_net *n, unsigned long min_rate, unsigned long min_rate_time,
                    uint64_t deadline_ms)
{
    n->min_rate = min_rate;
    n->min_rate_time = min_rate_time;
    n->deadline_ms = deadline_ms;
}

/* answer body, bounded by the caller's buffer */
struct sink {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int overflow;
};

static size_t sink_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct sink *s = userdata;
    size_t n = size * nmemb;

    if (n > s->cap - s->len) {
        s->overflow = 1;
        return 0; /* libcurl aborts the transfer with CURLE_WRITE_ERROR */
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    return n;
}

void sim_net_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void sim_net_global_cleanup(void)
{
    curl_global_cleanup();
}

static int refuse_insecure(const char *url)
{
    return sim_error(SIM_INSECURE_URL,
                     "refusing '%s': only https:// URLs are allowed (the device never talks "
                     "plain HTTP)",
                     url);
}

/* with_cert 0: no client certificate (enrollment with a bootstrap token, enroll.c) */
static int net_open(sim_net **out, const sim_state *st, const char *server, int with_cert)
{
    sim_net *n;
    size_t len;
    int rc = SIM_OK;

    *out = NULL;
    if (strncasecmp(server, "https://", 8) != 0)
        return refuse_insecure(server);
    len = strlen(server);
    while (len > 8 && server[len - 1] == '/')
        len--;
    if (len >= URL_MAX / 2)
        return sim_error(SIM_USAGE, "--server: URL too long");
    n = calloc(1, sizeof *n);
    if (n == NULL)
        return sim_error(SIM_IO, "out of memory");
    memcpy(n->base, server, len);
    if ((with_cert && ((rc = sim_path(st, SIM_CRED_CERT, n->cert)) != SIM_OK ||
                       (rc = sim_path(st, SIM_CRED_KEY, n->key)) != SIM_OK)) ||
        (rc = sim_path(st, SIM_CRED_CA, n->ca)) != SIM_OK) {
        free(n);
        return rc;
    }
    n->h = curl_easy_init();
    if (n->h == NULL) {
        free(n);
        return sim_error(SIM_NETWORK, "libcurl: cannot create a handle");
    }
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    if (curl_easy_setopt(n->h, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
        curl_easy_setopt(n->h, CURLOPT_REDIR_PROTOCOLS_STR, "https") != CURLE_OK)
        rc = SIM_NETWORK;
#else
    if (curl_easy_setopt(n->h, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS) != CURLE_OK ||
        curl_easy_setopt(n->h, CURLOPT_REDIR_PROTOCOLS, (long)CURLPROTO_HTTPS) != CURLE_OK)
        rc = SIM_NETWORK;
#endif
    if (curl_easy_setopt(n->h, CURLOPT_ERRORBUFFER, n->errbuf) != CURLE_OK ||
        curl_easy_setopt(n->h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(n->h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(n->h, CURLOPT_PROXY, "") != CURLE_OK ||
        curl_easy_setopt(n->h, CURLOPT_CONNECTTIMEOUT, 10L) != CURLE_OK ||
        curl_easy_setopt(n->h, CURLOPT_TIMEOUT_MS, (long)REQUEST_TIMEOUT_MS) != CURLE_OK ||
        curl_easy_setopt(n->h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK ||
        curl_easy_setopt(n->h, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
        curl_easy_setopt(n->h, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
        curl_easy_setopt(n->h, CURLOPT_CAINFO, n->ca) != CURLE_OK ||
        curl_easy_setopt(n->h, CURLOPT_CAPATH, NULL) != CURLE_OK ||
        curl_easy_setopt(n->h, CURLOPT_SSL_OPTIONS, 0L) != CURLE_OK ||
        (with_cert &&
         (curl_easy_setopt(n->h, CURLOPT_SSLCERT, n->cert) != CURLE_OK ||
          curl_easy_setopt(n->h, CURLOPT_SSLCERTTYPE, "PEM") != CURLE_OK ||
          curl_easy_setopt(n->h, CURLOPT_SSLKEY, n->key) != CURLE_OK ||
          curl_easy_setopt(n->h, CURLOPT_SSLKEYTYPE, "PEM") != CURLE_OK)) ||
        curl_easy_setopt(n->h, CURLOPT_WRITEFUNCTION, sink_write) != CURLE_OK)
        rc = SIM_NETWORK;
    if (rc != SIM_OK) {
        sim_net_close(n);
        return sim_error(rc, "libcurl lacks a required TLS option (HTTPS-only, pinned CA)");
    }
    *out = n;
    return SIM_OK;
}

int sim_net_open(sim_net **out, const sim_state *st, const char *server)
{
    return net_open(out, st, server, 1);
}

int sim_net_open_anonymous(sim_net **out, const sim_state *st, const char *server)
{
    return net_open(out, st, server, 0);
}

int sim_net_basic_auth(sim_net *n, const char *user, const char *password)
{
    if (curl_easy_setopt(n->h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC) != CURLE_OK ||
        curl_easy_setopt(n->h, CURLOPT_USERNAME, user) != CURLE_OK ||
        curl_easy_setopt(n->h, CURLOPT_PASSWORD, password) != CURLE_OK)
        return sim_error(SIM_NETWORK, "libcurl: cannot set HTTP Basic authentication");
    return SIM_OK;
}

void sim_net_close(sim_net *n)
{
    if (n == NULL)
        return;
    if (n->h != NULL)
        curl_easy_cleanup(n->h);
    free(n);
}

static int perform(sim_net *n, const char *path, struct sink *s, long *status)
{
    char url[URL_MAX];
    CURLcode cc;
    uint64_t now = sim_clock_ms(), timeout = REQUEST_TIMEOUT_MS;
    int by_deadline = 0, len = snprintf(url, sizeof url, "%s%s", n->base, path);

    if (len < 0 || (size_t)len >= sizeof url)
        return sim_error(SIM_USAGE, "URL too long: %s%s", n->base, path);
    if (n->deadline_ms != 0) {
        if (now >= n->deadline_ms)
            return sim_error(SIM_NETWORK, "%s: not requested: the update's deadline has "
                             "passed", url);
        if (n->deadline_ms - now < timeout) {
            timeout = n->deadline_ms - now;
            by_deadline = 1;
        }
    }
    n->errbuf[0] = '\0';
    if (curl_easy_setopt(n->h, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(n->h, CURLOPT_WRITEDATA, s) != CURLE_OK ||
        curl_easy_setopt(n->h, CURLOPT_TIMEOUT_MS, (long)timeout) != CURLE_OK ||
        curl_easy_setopt(n->h, CURLOPT_LOW_SPEED_LIMIT, (long)n->min_rate) != CURLE_OK ||
        curl_easy_setopt(n->h, CURLOPT_LOW_SPEED_TIME,
                         n->min_rate != 0 ? (long)n->min_rate_time : 0L) != CURLE_OK)
        return sim_error(SIM_NETWORK, "libcurl: cannot set the URL and time limits");
    cc = curl_easy_perform(n->h);
    if (cc == CURLE_UNSUPPORTED_PROTOCOL)
        return refuse_insecure(url);
    if (cc == CURLE_OPERATION_TIMEDOUT) {
        if (strstr(n->errbuf, "too slow") != NULL)
            return sim_error(SIM_NETWORK, "%s: transfer too slow: under the minimum of %lu "
                             "bytes/s for %lu s (%s)", url, n->min_rate, n->min_rate_time,
                             n->errbuf);
        if (by_deadline)
            return sim_error(SIM_NETWORK, "%s: the update's deadline passed during this "
                             "request (%s)", url, n->errbuf[0] ? n->errbuf : "timeout");
        return sim_error(SIM_NETWORK, "%s: request took longer than %u s (%s)", url,
                         REQUEST_TIMEOUT_MS / 1000u, n->errbuf[0] ? n->errbuf : "timeout");
    }
    if (cc == CURLE_WRITE_ERROR && s->overflow)
        return sim_error(SIM_NETWORK, "%s: answer larger than the %zu bytes expected", url,
                         s->cap);
    if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
        cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH)
        return sim_error(SIM_NETWORK, "%s: server certificate refused (not issued by the "
                         "pinned CA, or wrong name): %s", url,
                         n->errbuf[0] ? n->errbuf : curl_easy_strerror(cc));
    if (cc != CURLE_OK)
        return sim_error(SIM_NETWORK, "%s: %s", url,
                         n->errbuf[0] ? n->errbuf : curl_easy_strerror(cc));
    if (curl_easy_getinfo(n->h, CURLINFO_RESPONSE_CODE, status) != CURLE_OK)
        return sim_error(SIM_NETWORK, "%s: no HTTP status", url);
    return SIM_OK;
}

int sim_net_get(sim_net *n, const char *path, const char *range, uint8_t *buf, size_t cap,
                size_t *len, long *status)
{
    struct sink s = {buf, cap, 0, 0};
    int rc;

    if (curl_easy_setopt(n->h, CURLOPT_HTTPGET, 1L) != CURLE_OK ||
        curl_easy_setopt(n->h, CURLOPT_HTTPHEADER, NULL) != CURLE_OK ||
        curl_easy_setopt(n->h, CURLOPT_RANGE, range) != CURLE_OK)
        return sim_error(SIM_NETWORK, "libcurl: cannot prepare a GET");
    rc = perform(n, path, &s, status);
    *len = s.len;
    return rc;
}

int sim_net_post(sim_net *n, const char *path, const char *content_type, const uint8_t *body,
                 size_t body_len, char *resp, size_t cap, size_t *resp_len, long *status)
{
    char ct[128];
    struct curl_slist *hdr = NULL, *h2;
    struct sink s = {(uint8_t *)resp, cap - 1u, 0, 0};
    int rc;

    snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
    hdr = curl_slist_append(NULL, ct);
    h2 = hdr ? curl_slist_append(hdr, "Expect:") : NULL;
    if (h2 == NULL) {
        curl_slist_free_all(hdr);
        return sim_error(SIM_IO, "out of memory");
    }
    hdr = h2;
    if (curl_easy_setopt(n->h, CURLOPT_RANGE, NULL) != CURLE_OK ||
        curl_easy_setopt(n->h, CURLOPT_POST, 1L) != CURLE_OK ||
        curl_easy_setopt(n->h, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
        curl_easy_setopt(n->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len) != CURLE_OK ||
        curl_easy_setopt(n->h, CURLOPT_HTTPHEADER, hdr) != CURLE_OK) {
        curl_slist_free_all(hdr);
        return sim_error(SIM_NETWORK, "libcurl: cannot prepare a POST");
    }
    rc = perform(n, path, &s, status);
    curl_easy_setopt(n->h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(n->h, CURLOPT_POSTFIELDS, NULL);
    curl_slist_free_all(hdr);
    resp[s.len] = '\0';
    *resp_len = s.len;
    return rc;
}
