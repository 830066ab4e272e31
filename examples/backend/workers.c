/*
 * iotsec-backend — serve --workers N (docs/DESIGN.md §12): N processes on one listening port.
 *
 * The parent binds a placeholder socket with SO_REUSEPORT to learn the address (a port 0
 * becomes a real one) and holds it, never listening, so the port stays reserved while workers
 * come and go; it opens the database once (creating or migrating the schema, so workers never
 * race on it) and closes it, then forks the workers. Each worker binds and listens on its own
 * SO_REUSEPORT socket of that address (the kernel spreads new connections over them) and then
 * runs the ordinary server: its own event loop, its own database connection opened after the
 * fork, its own revocation watcher (each polls the --crl and --denylist files every second),
 * its own connection budgets and rate limits. A worker reports on a pipe once it listens;
 * when all have, the parent prints 'listening on HOST:PORT' and writes --pid-file (its own
 * pid).
 *
 * Signals: the parent forwards SIGHUP (revocation reload) and SIGTERM / SIGINT (graceful
 * drain) to every worker and, after SIGTERM / SIGINT, waits for them all and exits 0 when
 * they all did. A worker that dies otherwise (a crash, kill -9) is started again after
 * WORKER_RESTART_MS; a worker that fails during its start-up (before it listens: a bad
 * certificate, a database refused) stops the whole server with its exit status.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORKER_RESTART_MS 100
#define WORKERS_MAX 256

struct worker {
    pid_t pid;
    int ready;
};

static int bind_reuseport(const struct sockaddr *sa, socklen_t sl, int do_listen)
{
    int one = 1, fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        bind(fd, sa, sl) != 0 || (do_listen && listen(fd, 128) != 0) ||
        evutil_make_socket_nonblocking(fd) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Start worker i: a child that listens on its own socket and serves. */
static pid_t spawn(struct server *proto, const struct sockaddr *sa, socklen_t sl, int hold_fd,
                   int ready_w, const sigset_t *old)
{
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    /* the worker */
    close(hold_fd);
    sigprocmask(SIG_SETMASK, old, NULL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    proto->listen_fd = bind_reuseport(sa, sl, 1);
    if (proto->listen_fd < 0) {
        bk_error(0, "worker: cannot listen on %s: %s", proto->cfg.listen, strerror(errno));
        _exit(BK_EXIT_IO);
    }
    proto->ready_fd = ready_w;
    fflush(NULL);
    _exit(serve_run(proto));
}

static void forward(struct worker *w, unsigned n, int sig)
{
    unsigned i;

    for (i = 0; i < n; i++)
        if (w[i].pid > 0)
            kill(w[i].pid, sig);
}

int workers_main(struct server *s)
{
    char host[256], portstr[8], err[256];
    struct addrinfo hints, *ai = NULL;
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    struct worker w[WORKERS_MAX];
    sigset_t mask, old;
    unsigned n = s->cfg.workers, i, alive = 0, ready = 0;
    int hold, pipefd[2], stopping = 0, rc = BK_EXIT_OK, started = 0;
    uint16_t port;
    bk_db *db = NULL;

    if (n > WORKERS_MAX)
        n = WORKERS_MAX;
    memset(w, 0, sizeof w);
    if (listen_split(s->cfg.listen, host, sizeof host, &port) != 0)
        return bk_error(BK_EXIT_USAGE, "--listen %s: expected HOST:PORT", s->cfg.listen);
    snprintf(portstr, sizeof portstr, "%u", (unsigned)port);
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(host, portstr, &hints, &ai) != 0 || ai == NULL)
        return bk_error(BK_EXIT_IO, "cannot listen on %s: unknown address", s->cfg.listen);
    hold = bind_reuseport(ai->ai_addr, ai->ai_addrlen, 0);
    freeaddrinfo(ai);
    if (hold < 0 || getsockname(hold, (struct sockaddr *)&sa, &sl) != 0) {
        rc = bk_error(BK_EXIT_IO, "cannot listen on %s: %s", s->cfg.listen, strerror(errno));
        if (hold >= 0)
            close(hold);
        return rc;
    }
    /* the schema, created or migrated once, before any worker opens the database */
    rc = bk_db_open(&db, s->cfg.db_path, s->cfg.window, s->cfg.sync_normal, err, sizeof err);
    bk_db_close(db);
    if (rc != IOTSEC_OK) {
        close(hold);
        bk_error(0, "--db: %s", err);
        return rc == IOTSEC_E_IO ? BK_EXIT_IO : BK_EXIT_REJECTED;
    }
    if (pipe(pipefd) != 0) {
        close(hold);
        return bk_error(BK_EXIT_IO, "pipe: %s", strerror(errno));
    }
    sigemptyset(&mask);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, &old);
    fflush(NULL);
    for (i = 0; i < n; i++) {
        w[i].pid = spawn(s, (struct sockaddr *)&sa, sl, hold, pipefd[1], &old);
        if (w[i].pid < 0) {
            rc = bk_error(BK_EXIT_IO, "fork: %s", strerror(errno));
            stopping = 1;
            forward(w, n, SIGTERM);
            break;
        }
        alive++;
    }
    for (;;) {
        struct timespec tick = {0, WORKER_RESTART_MS * 1000000L};
        siginfo_t si;
        char b[64];
        ssize_t got;
        int sig, status;
        pid_t pid;

        /* workers that report being ready (non-blocking read of what is there) */
        while (!started && ready < n) {
            fd_set rf;
            struct timeval z = {0, 0};
            FD_ZERO(&rf);
            FD_SET(pipefd[0], &rf);
            if (select(pipefd[0] + 1, &rf, NULL, NULL, &z) <= 0)
                break;
            got = read(pipefd[0], b, sizeof b);
            if (got <= 0)
                break;
            ready += (unsigned)got;
        }
        if (!started && ready >= n && !stopping) {
            started = 1;
            if (sa.ss_family == AF_INET6) {
                char a6[INET6_ADDRSTRLEN];
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&sa)->sin6_addr, a6, sizeof a6);
                printf("listening on [%s]:%u\n", a6,
                       (unsigned)ntohs(((struct sockaddr_in6 *)&sa)->sin6_port));
            } else {
                char a4[INET_ADDRSTRLEN];
                inet_ntop(AF_INET, &((struct sockaddr_in *)&sa)->sin_addr, a4, sizeof a4);
                printf("listening on %s:%u\n", a4,
                       (unsigned)ntohs(((struct sockaddr_in *)&sa)->sin_port));
            }
            fflush(stdout);
            if (s->cfg.pid_file != NULL) {
                FILE *f = fopen(s->cfg.pid_file, "w");
                if (f == NULL || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0) {
                    rc = bk_error(BK_EXIT_IO, "--pid-file %s: %s", s->cfg.pid_file,
                                  strerror(errno));
                    stopping = 1;
                    forward(w, n, SIGTERM);
                }
            }
        }
        if (alive == 0)
            break;
        sig = sigtimedwait(&mask, &si, &tick);
        if (sig == SIGHUP) {
            forward(w, n, SIGHUP);
        } else if (sig == SIGTERM || sig == SIGINT) {
            if (!stopping)
                fprintf(stderr, "iotsec-backend: %s: stopping %u workers\n",
                        sig == SIGTERM ? "SIGTERM" : "SIGINT", n);
            stopping = 1;
            forward(w, n, sig);
        }
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            for (i = 0; i < n && w[i].pid != pid; i++)
                ;
            if (i == n)
                continue;
            w[i].pid = 0;
            alive--;
            if (stopping) {
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                    rc = rc != BK_EXIT_OK ? rc : BK_EXIT_IO;
                continue;
            }
            if (!started && WIFEXITED(status) && WEXITSTATUS(status) != 0) {
                /* a start-up failure: the same for every worker; stop them all */
                rc = WEXITSTATUS(status);
                stopping = 1;
                forward(w, n, SIGTERM);
                continue;
            }
            fprintf(stderr, "iotsec-backend: worker %ld %s %d; starting another\n", (long)pid,
                    WIFSIGNALED(status) ? "killed by signal" : "exited with status",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
            nanosleep(&tick, NULL);
            w[i].pid = spawn(s, (struct sockaddr *)&sa, sl, hold, pipefd[1], &old);
            if (w[i].pid > 0)
                alive++;
            else
                w[i].pid = 0;
        }
    }
    if (started && s->cfg.pid_file != NULL)
        unlink(s->cfg.pid_file);
    close(pipefd[0]);
    close(pipefd[1]);
    close(hold);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return rc;
}
