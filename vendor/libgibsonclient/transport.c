/*
 * Sockets, deadlines and poll(). This layer moves bytes and knows nothing of
 * opcodes or replies. Every deadline is an absolute monotonic time in ms
 * covering a whole operation, so retries after EINTR or a short write use
 * what is left of it rather than starting over. Whether a signal ends a wait
 * instead is the caller's choice, through a gb_interrupt.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE

#include "gb_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* such systems get SO_NOSIGPIPE at connect instead */
#endif

/* ---- Clock and deadlines ------------------------------------------------- */

int64_t gb_clock_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t gb_deadline_after(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : gb_clock_ms() + timeout_ms;
}

/* What poll() should wait: -1 forever, 0 when the deadline has passed. */
static int ms_left(int64_t deadline_ms)
{
    int64_t left;

    if (deadline_ms < 0)
        return -1;
    left = deadline_ms - gb_clock_ms();
    if (left <= 0)
        return 0;
    return left > INT_MAX ? INT_MAX : (int)left;
}

/* Whether a signal that interrupted a wait should end it (see gb_interrupt). */
static int stop_on_signal(const gb_interrupt *intr)
{
    return intr != NULL && intr->fn != NULL && intr->fn(intr->arg) != 0;
}

static gb_status interrupted(gb_error *err, const char *doing)
{
    return gb_fail(err, GB_ERR_INTERRUPTED, EINTR, "interrupted by a signal %s", doing);
}

/*
 * poll() one descriptor until an event or the deadline. After EINTR, intr
 * decides: stop, or resume with the time left, so that a signal can neither
 * cut the wait short nor stretch it.
 */
static gb_status wait_fd(struct pollfd *pfd, int64_t deadline_ms, const gb_interrupt *intr,
                         const char *doing, gb_error *err)
{
    for (;;) {
        int timeout = ms_left(deadline_ms);
        int n;

        /* With the deadline gone, one last look (timeout 0) still takes
           what is ready. */
        pfd->revents = 0;
        n = poll(pfd, 1, timeout);
        if (n > 0)
            return GB_OK;
        if (n == 0 && timeout == 0)
            return gb_fail(err, GB_ERR_TIMEOUT, ETIMEDOUT,
                           "timed out %s; the server may be overloaded or stuck (raise the "
                           "timeout if it is only slow)",
                           doing);
        if (n < 0 && errno == EINTR && stop_on_signal(intr))
            return interrupted(err, doing);
        if (n < 0 && errno != EINTR)
            return gb_fail(err, GB_ERR_IO, errno, "poll() failed %s: %s", doing,
                           strerror(errno));
    }
}

static int is_closed_errno(int e)
{
    return e == ECONNRESET || e == EPIPE || e == ECONNABORTED || e == ENOTCONN;
}

static gb_status io_error(gb_error *err, int e, const char *doing)
{
    if (is_closed_errno(e))
        return gb_fail(err, GB_ERR_CLOSED, e,
                       "the server closed the connection (%s) %s; it drops connections on "
                       "malformed requests, and may have restarted",
                       strerror(e), doing);
    return gb_fail(err, GB_ERR_IO, e, "socket error %s: %s", doing, strerror(e));
}

static gb_status eof_error(gb_error *err, const char *doing)
{
    return gb_fail(err, GB_ERR_CLOSED, 0,
                   "the server closed the connection %s; it drops connections on malformed "
                   "requests, after END, when max_clients is reached, and on restart",
                   doing);
}

/* ---- Connecting ---------------------------------------------------------- */

static int set_nonblocking(int fd, int on)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0)
        return -1;
    flags = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
    return fcntl(fd, F_SETFL, flags);
}

/* A non-blocking, close-on-exec stream socket, atomically where possible so
   that a concurrent fork+exec elsewhere in the process cannot inherit it. */
static int open_socket(int family)
{
    int fd;

#if defined(SOCK_CLOEXEC) && defined(SOCK_NONBLOCK)
    fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0 || errno != EINVAL)
        return fd;
#endif
    fd = socket(family, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || set_nonblocking(fd, 1) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void close_keep_errno(int fd)
{
    int e = errno;

    close(fd);
    errno = e;
}

/*
 * Connect one address before the deadline. Returns the socket, or -1 with
 * errno set; *waited is GB_ERR_TIMEOUT or GB_ERR_INTERRUPTED when the wait
 * for the connection ended that way, else GB_OK.
 */
static int connect_addr(const struct sockaddr *sa, socklen_t len, int64_t deadline_ms,
                        const gb_interrupt *intr, gb_status *waited)
{
    struct pollfd pfd;
    int fd, soerr = 0;
    socklen_t soerr_len = sizeof soerr;
    gb_status st;

    *waited = GB_OK;
    fd = open_socket(sa->sa_family);
    if (fd < 0)
        return -1;
    if (connect(fd, sa, len) == 0)
        return fd;
    /* After EINTR the connection still completes in the background. */
    if (errno != EINPROGRESS && errno != EINTR) {
        close_keep_errno(fd);
        return -1;
    }
    pfd.fd = fd;
    pfd.events = POLLOUT;
    st = wait_fd(&pfd, deadline_ms, intr, "connecting", NULL);
    if (st == GB_ERR_TIMEOUT || st == GB_ERR_INTERRUPTED) {
        *waited = st;
        close(fd);
        errno = st == GB_ERR_TIMEOUT ? ETIMEDOUT : EINTR;
        return -1;
    }
    if (st != GB_OK) { /* poll() itself failed; errno says why */
        close_keep_errno(fd);
        return -1;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &soerr_len) < 0) {
        close_keep_errno(fd);
        return -1;
    }
    if (soerr != 0) {
        close(fd);
        errno = soerr;
        return -1;
    }
    return fd;
}

static void ms_to_timeval(int ms, struct timeval *tv)
{
    /* A zero timeval would mean "no timeout": keep at least 1 ms. */
    if (ms < 1)
        ms = 1;
    tv->tv_sec = ms / 1000;
    tv->tv_usec = (ms % 1000) * 1000;
}

/*
 * Make a connected socket ready for requests: blocking, so that the first
 * recv() after a send can simply sleep in the kernel (one syscall), with
 * SO_RCVTIMEO/SO_SNDTIMEO as the backstop that keeps it under the deadline.
 */
static int prepare_socket(int fd, int is_tcp, int io_timeout_ms)
{
    int one = 1;

    if (set_nonblocking(fd, 0) < 0)
        return -1;
    if (is_tcp && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        return -1;
#ifdef SO_NOSIGPIPE
    if (setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one) < 0)
        return -1;
#endif
    if (io_timeout_ms >= 0) {
        struct timeval tv;

        ms_to_timeval(io_timeout_ms, &tv);
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
            return -1;
    }
    return 0;
}

static void format_addr(const struct sockaddr *sa, socklen_t len, char *out, size_t cap)
{
    char host[NI_MAXHOST], port[NI_MAXSERV];

    if (getnameinfo(sa, len, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(out, cap, "(unprintable address)");
        return;
    }
    snprintf(out, cap, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

static gb_status connect_failed(gb_error *err, const char *where, int e, gb_status waited,
                                int timeout_ms)
{
    if (waited == GB_ERR_INTERRUPTED)
        return gb_fail(err, GB_ERR_INTERRUPTED, EINTR,
                       "interrupted by a signal while connecting to %s", where);
    if (waited == GB_ERR_TIMEOUT)
        return gb_fail(err, GB_ERR_TIMEOUT, ETIMEDOUT,
                       "could not connect to %s within %d ms; is the Gibson server running "
                       "and reachable?",
                       where, timeout_ms);
    return gb_fail(err, GB_ERR_CONNECT, e,
                   "could not connect to %s: %s; is the Gibson server running?", where,
                   strerror(e));
}

int gb_connect_tcp(const char *host, int port, int timeout_ms, int io_timeout_ms,
                   const gb_interrupt *intr, gb_error *err)
{
    struct addrinfo hints, *list = NULL, *ai;
    char service[16], where[NI_MAXHOST + NI_MAXSERV + 4];
    int64_t deadline = gb_deadline_after(timeout_ms);
    int rc, fd = -1, e = 0;
    gb_status waited = GB_OK;

    if (host == NULL || host[0] == '\0')
        host = GB_DEFAULT_HOST;
    if (port < 1 || port > 65535) {
        gb_fail(err, GB_ERR_CONNECT, 0, "port %d is not a TCP port (1..65535)", port);
        return -1;
    }
    snprintf(service, sizeof service, "%d", port);
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(host, service, &hints, &list);
    if (rc != 0) {
        e = rc == EAI_SYSTEM ? errno : 0;
        gb_fail(err, GB_ERR_RESOLVE, e, "could not resolve host '%s': %s; check the host name",
                host, rc == EAI_SYSTEM ? strerror(e) : gai_strerror(rc));
        return -1;
    }
    snprintf(where, sizeof where, "%s:%d", host, port);
    /* Each address in turn, all within the one deadline. */
    for (ai = list; ai != NULL; ai = ai->ai_next) {
        fd = connect_addr(ai->ai_addr, ai->ai_addrlen, deadline, intr, &waited);
        if (fd >= 0 && prepare_socket(fd, 1, io_timeout_ms) < 0) {
            close_keep_errno(fd);
            fd = -1;
        }
        if (fd >= 0)
            break;
        e = errno;
        format_addr(ai->ai_addr, ai->ai_addrlen, where, sizeof where);
        if (waited != GB_OK)
            break;
    }
    freeaddrinfo(list);
    if (fd < 0)
        connect_failed(err, where, e, waited, timeout_ms);
    return fd;
}

int gb_connect_unix(const char *path, int timeout_ms, int io_timeout_ms,
                    const gb_interrupt *intr, gb_error *err)
{
    struct sockaddr_un sun;
    char where[sizeof sun.sun_path + 16];
    size_t len = path != NULL ? strlen(path) : 0;
    int fd;
    gb_status waited = GB_OK;

    if (len == 0) {
        gb_fail(err, GB_ERR_CONNECT, 0, "the unix socket path is empty");
        return -1;
    }
    if (len >= sizeof sun.sun_path) {
        gb_fail(err, GB_ERR_CONNECT, ENAMETOOLONG,
                "unix socket path is %zu bytes, but this system allows at most %zu; use a "
                "shorter path",
                len, sizeof sun.sun_path - 1);
        return -1;
    }
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, len + 1);
    fd = connect_addr((const struct sockaddr *)&sun, (socklen_t)sizeof sun,
                      gb_deadline_after(timeout_ms), intr, &waited);
    if (fd >= 0 && prepare_socket(fd, 0, io_timeout_ms) < 0) {
        close_keep_errno(fd);
        fd = -1;
    }
    if (fd < 0) {
        snprintf(where, sizeof where, "unix socket %s", path);
        connect_failed(err, where, errno, waited, timeout_ms);
    }
    return fd;
}

void gb_socket_close(int fd)
{
    if (fd < 0)
        return;
    shutdown(fd, SHUT_RDWR);
    /* Not retried on EINTR: on Linux the descriptor is already gone. */
    close(fd);
}

/* ---- Moving bytes -------------------------------------------------------- */

gb_status gb_socket_send_all(int fd, const void *buf, size_t len, int64_t deadline_ms,
                             const gb_interrupt *intr, size_t *written, gb_error *err)
{
    const unsigned char *p = buf;
    size_t done = 0;
    gb_status st = GB_OK;

    /* MSG_DONTWAIT: a frame that fits the socket buffer costs one syscall,
       and a full buffer turns into a poll() bounded by the deadline rather
       than a blocking send bounded only by SO_SNDTIMEO. */
    while (done < len && st == GB_OK) {
        ssize_t n = send(fd, p + done, len - done, MSG_DONTWAIT | MSG_NOSIGNAL);

        if (n > 0) {
            done += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd;

            pfd.fd = fd;
            pfd.events = POLLOUT;
            st = wait_fd(&pfd, deadline_ms, intr, "sending the request", err);
        } else {
            st = n == 0 ? gb_fail(err, GB_ERR_IO, 0, "send() wrote nothing")
                        : io_error(err, errno, "while sending the request");
        }
    }
    if (written != NULL)
        *written = done;
    return st;
}

gb_status gb_socket_recv_some(int fd, void *buf, size_t cap, size_t *got, int64_t deadline_ms,
                              const gb_interrupt *intr, gb_error *err)
{
    *got = 0;
    if (cap == 0)
        return gb_fail(err, GB_ERR_IO, 0, "no room to receive into");
    for (;;) {
        ssize_t n = recv(fd, buf, cap, MSG_DONTWAIT);
        struct pollfd pfd;
        gb_status st;

        if (n > 0) {
            *got = (size_t)n;
            return GB_OK;
        }
        if (n == 0)
            return eof_error(err, "before its reply was complete");
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return io_error(err, errno, "while reading the reply");
        pfd.fd = fd;
        pfd.events = POLLIN;
        st = wait_fd(&pfd, deadline_ms, intr, "waiting for the reply", err);
        if (st != GB_OK)
            return st;
    }
}

gb_status gb_socket_recv_blocking(int fd, void *buf, size_t cap, size_t *got,
                                  int64_t deadline_ms, const gb_interrupt *intr, gb_error *err)
{
    ssize_t n;

    *got = 0;
    if (cap == 0)
        return gb_fail(err, GB_ERR_IO, 0, "no room to receive into");
    n = recv(fd, buf, cap, 0);
    if (n > 0) {
        *got = (size_t)n;
        return GB_OK;
    }
    if (n == 0)
        return eof_error(err, "before its reply was complete");
    if (errno == EINTR && stop_on_signal(intr))
        return interrupted(err, "waiting for the reply");
    /* A signal, or a socket whose SO_RCVTIMEO ran out before the deadline
       (or that is not blocking at all): finish with poll() on what is left. */
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
        return gb_socket_recv_some(fd, buf, cap, got, deadline_ms, intr, err);
    return io_error(err, errno, "while reading the reply");
}

gb_status gb_socket_check_idle(int fd, gb_error *err)
{
    unsigned char byte;
    ssize_t n;

    /* One syscall that sees unread bytes, EOF and a reset alike, and
       consumes nothing; cheaper than poll() or FIONREAD. */
    do
        n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return GB_OK;
    if (n > 0)
        return gb_fail(err, GB_ERR_PROTOCOL, 0,
                       "bytes that answer no request arrived on the idle connection");
    if (n == 0)
        return eof_error(err, "while the connection was idle");
    return io_error(err, errno, "on the idle connection");
}

/* One non-blocking recv for exchange: 1 progress, 0 nothing yet, -1 error. */
static int exchange_recv(int fd, void *in, size_t in_cap, size_t *got, gb_error *err)
{
    ssize_t n = recv(fd, in, in_cap, MSG_DONTWAIT);

    if (n > 0) {
        *got = (size_t)n;
        return 1;
    }
    if (n == 0) {
        eof_error(err, "during a pipeline");
        return -1;
    }
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
    io_error(err, errno, "while reading pipelined replies");
    return -1;
}

static int exchange_send(int fd, const void *out, size_t out_len, size_t *written,
                         gb_error *err)
{
    ssize_t n = send(fd, out, out_len, MSG_DONTWAIT | MSG_NOSIGNAL);

    if (n > 0) {
        *written = (size_t)n;
        return 1;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n == 0)
        gb_fail(err, GB_ERR_IO, 0, "send() wrote nothing");
    else
        io_error(err, errno, "while sending pipelined requests");
    return -1;
}

gb_status gb_socket_exchange(int fd, const void *out, size_t out_len, size_t *written,
                             void *in, size_t in_cap, size_t *got, int64_t deadline_ms,
                             const gb_interrupt *intr, gb_error *err)
{
    *written = 0;
    *got = 0;
    if (out_len == 0 && in_cap == 0)
        return gb_fail(err, GB_ERR_IO, 0, "nothing to send and no room to receive");
    for (;;) {
        struct pollfd pfd;
        gb_error recv_err, send_err;
        gb_status st;
        int rs = 0, ws = 0;

        pfd.fd = fd;
        pfd.events = (short)((in_cap > 0 ? POLLIN : 0) | (out_len > 0 ? POLLOUT : 0));
        st = wait_fd(&pfd, deadline_ms, intr, "during a pipeline", err);
        if (st != GB_OK)
            return st;
        /* Read first: the server stops reading while it has a reply to
           write, so draining it is what lets our writes progress (§8.1). */
        if (in_cap > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)) != 0)
            rs = exchange_recv(fd, in, in_cap, got, &recv_err);
        if (rs >= 0 && out_len > 0 && (pfd.revents & (POLLOUT | POLLHUP | POLLERR)) != 0)
            ws = exchange_send(fd, out, out_len, written, &send_err);
        if (rs < 0) {
            return gb_fail(err, recv_err.status, recv_err.sys_errno, "%s", recv_err.message);
        }
        /* Replies that arrived are worth more than a send error: hand them
           over now; the error comes back on the next step. */
        if (ws < 0 && *got == 0) {
            return gb_fail(err, send_err.status, send_err.sys_errno, "%s", send_err.message);
        }
        if (*written > 0 || *got > 0)
            return GB_OK;
    }
}

size_t gb_socket_send_chunk_hint(int fd)
{
    int sndbuf = 0;
    socklen_t len = sizeof sndbuf;

    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) < 0 || sndbuf <= 0)
        return 4096;
    /* poll() reports POLLOUT once a third of the buffer is free (in kernel
       accounting, which adds per-packet overhead): an eighth fits whole. */
    return (size_t)sndbuf / 8 < 4096 ? 4096 : (size_t)sndbuf / 8;
}
