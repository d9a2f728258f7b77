/* The transport over real sockets, against forked peers (peer.h). */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE

#include "peer.h"
#include "test.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const unsigned char PING[] = {2, 0, 0, 0, 19, 0};
static const unsigned char OK_REPLY[] = {5, 0, 0, 1, 0, 0, 0, 0};

/* A GET frame for one of the peer's misbehaviour keys. */
static size_t get_frame(unsigned char *out, const char *key)
{
    size_t n = strlen(key);

    out[0] = (unsigned char)(n + 2);
    out[1] = out[2] = out[3] = 0;
    out[4] = 3;
    out[5] = 0;
    memcpy(out + 6, key, n);
    return n + 6;
}

static int connect_peer(const gb_peer *p, int io_timeout_ms, gb_error *err)
{
    if (p->family == AF_UNIX)
        return gb_connect_unix(p->path, 1000, io_timeout_ms, NULL, err);
    return gb_connect_tcp(p->family == AF_INET6 ? "::1" : "127.0.0.1", p->port, 1000,
                          io_timeout_ms, NULL, err);
}

/* PING round trip on a fresh connection to p. */
static void ping_peer(const gb_peer *p)
{
    unsigned char buf[64];
    size_t got = 0, have = 0;
    gb_error err;
    int fd = connect_peer(p, 1000, &err);

    CHECK(fd >= 0);
    if (fd < 0) {
        fprintf(stderr, "  %s\n", err.message);
        return;
    }
    CHECK_STATUS(
        gb_socket_send_all(fd, PING, sizeof PING, gb_deadline_after(1000), NULL, NULL, &err),
                 GB_OK);
    while (have < sizeof OK_REPLY) {
        if (gb_socket_recv_some(fd, buf + have, sizeof buf - have, &got,
                                gb_deadline_after(1000), NULL, &err) != GB_OK)
            break;
        have += got;
    }
    CHECK_MEM(buf, have, OK_REPLY, sizeof OK_REPLY);
    gb_socket_close(fd);
}

static void test_tcp_ipv4_and_ipv6(void)
{
    gb_peer p;

    CHECK_INT(gb_peer_start(&p, AF_INET, NULL), 0);
    ping_peer(&p);
    gb_peer_stop(&p);
    if (gb_peer_start(&p, AF_INET6, NULL) != 0) {
        fprintf(stderr, "  (no IPv6 loopback here: IPv6 test skipped)\n");
        return;
    }
    ping_peer(&p);
    gb_peer_stop(&p);
}

static void test_unix_socket(void)
{
    char path[64], longpath[300];
    gb_error err;
    gb_peer p;

    snprintf(path, sizeof path, "/tmp/gb-test-%ld.sock", (long)getpid());
    CHECK_INT(gb_peer_start(&p, AF_UNIX, path), 0);
    ping_peer(&p);
    gb_peer_stop(&p);

    /* Nobody listening any more. */
    CHECK_INT(gb_connect_unix(path, 1000, 1000, NULL, &err), -1);
    CHECK_STATUS(err.status, GB_ERR_CONNECT);
    CHECK(strstr(err.message, path) != NULL);

    memset(longpath, 'p', sizeof longpath - 1);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = '\0';
    CHECK_INT(gb_connect_unix(longpath, 1000, 1000, NULL, &err), -1);
    CHECK_STATUS(err.status, GB_ERR_CONNECT);
    CHECK(strstr(err.message, "at most") != NULL);
    CHECK_INT(gb_connect_unix("", 1000, 1000, NULL, &err), -1);
    CHECK_STATUS(err.status, GB_ERR_CONNECT);
}

static void test_connect_refused(void)
{
    char where[64];
    gb_error err;
    int port = gb_peer_free_port();

    CHECK(port > 0);
    CHECK_INT(gb_connect_tcp("127.0.0.1", port, 1000, 1000, NULL, &err), -1);
    CHECK_STATUS(err.status, GB_ERR_CONNECT);
    CHECK_INT(err.sys_errno, ECONNREFUSED);
    snprintf(where, sizeof where, "127.0.0.1:%d", port);
    CHECK(strstr(err.message, where) != NULL);
    CHECK(strstr(err.message, "is the Gibson server running?") != NULL);
    CHECK_INT(gb_connect_tcp("127.0.0.1", 0, 1000, 1000, NULL, &err), -1);
    CHECK_STATUS(err.status, GB_ERR_CONNECT);
    CHECK_INT(gb_connect_tcp("127.0.0.1", 70000, 1000, 1000, NULL, &err), -1);
    /* glibc refuses a name with spaces without asking DNS. */
    CHECK_INT(gb_connect_tcp("no such host", 10128, 1000, 1000, NULL, &err), -1);
    CHECK_STATUS(err.status, GB_ERR_RESOLVE);
    CHECK(strstr(err.message, "'no such host'") != NULL);
}

/* A listener whose backlog is full drops further SYNs, so the connect
   hangs until the deadline. */
static void test_connect_timeout(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int lfd = socket(AF_INET, SOCK_STREAM, 0), fillers[8], nfill = 0, fd, i;
    int64_t start, elapsed;
    gb_error err;

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 0) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &len) < 0) {
        CHECK(0);
        return;
    }
    for (i = 0; i < 8; i++) {
        fd = gb_connect_tcp("127.0.0.1", ntohs(a.sin_port), 100, -1, NULL, &err);
        if (fd < 0)
            break;
        fillers[nfill++] = fd;
    }
    start = gb_clock_ms();
    fd = gb_connect_tcp("127.0.0.1", ntohs(a.sin_port), 200, -1, NULL, &err);
    elapsed = gb_clock_ms() - start;
    CHECK_INT(fd, -1);
    if (fd >= 0)
        gb_socket_close(fd);
    CHECK_STATUS(err.status, GB_ERR_TIMEOUT);
    CHECK_WITHIN(elapsed, 195, 279);
    CHECK(strstr(err.message, "within 200 ms") != NULL);
    for (i = 0; i < nfill; i++)
        gb_socket_close(fillers[i]);
    close(lfd);
}

/* Deadline for a reply that never comes: poll path and blocking path. */
static void test_recv_timeout(void)
{
    unsigned char frame[32], buf[64];
    size_t n = get_frame(frame, "hang"), got;
    int64_t start, elapsed;
    gb_error err;
    gb_peer p;
    int fd;

    CHECK_INT(gb_peer_start(&p, AF_INET, NULL), 0);
    fd = connect_peer(&p, 150, &err);
    CHECK(fd >= 0);
    CHECK_STATUS(gb_socket_send_all(fd, frame, n, -1, NULL, NULL, &err), GB_OK);
    start = gb_clock_ms();
    CHECK_STATUS(gb_socket_recv_some(fd, buf, sizeof buf, &got, start + 200, NULL, &err),
                 GB_ERR_TIMEOUT);
    elapsed = gb_clock_ms() - start;
    CHECK_WITHIN(elapsed, 199, 249);
    CHECK(gb_status_breaks_connection(err.status));

    /* SO_RCVTIMEO (150 ms, set at connect) ends the blocking recv, then
       poll() waits out the rest of the deadline. */
    start = gb_clock_ms();
    CHECK_STATUS(gb_socket_recv_blocking(fd, buf, sizeof buf, &got, start + 200, NULL, &err),
                 GB_ERR_TIMEOUT);
    elapsed = gb_clock_ms() - start;
    CHECK_WITHIN(elapsed, 199, 249);
    /* With a later deadline than SO_RCVTIMEO it goes on polling until then. */
    start = gb_clock_ms();
    CHECK_STATUS(gb_socket_recv_blocking(fd, buf, sizeof buf, &got, start + 300, NULL, &err),
                 GB_ERR_TIMEOUT);
    elapsed = gb_clock_ms() - start;
    CHECK_WITHIN(elapsed, 299, 369);
    gb_socket_close(fd);
    gb_peer_stop(&p);
}

/* EOF and resets are GB_ERR_CLOSED at once, for reads and writes, and a
   write to a closed peer raises no SIGPIPE (main() keeps its default). */
static void test_peer_closes(void)
{
    unsigned char frame[32], buf[64];
    size_t n = get_frame(frame, "nothing"), got;
    int64_t start, elapsed;
    gb_status st = GB_OK;
    gb_error err;
    gb_peer p;
    int fd, i;

    CHECK_INT(gb_peer_start(&p, AF_INET, NULL), 0);
    fd = connect_peer(&p, 1000, &err);
    CHECK_STATUS(gb_socket_send_all(fd, frame, n, -1, NULL, NULL, &err), GB_OK);
    start = gb_clock_ms();
    CHECK_STATUS(gb_socket_recv_some(fd, buf, sizeof buf, &got, start + 1000, NULL, &err),
                 GB_ERR_CLOSED);
    CHECK_STATUS(gb_socket_recv_blocking(fd, buf, sizeof buf, &got, start + 1000, NULL, &err),
                 GB_ERR_CLOSED);
    elapsed = gb_clock_ms() - start;
    CHECK_WITHIN(elapsed, 0, 199);
    for (i = 0; i < 10 && st == GB_OK; i++)
        st = gb_socket_send_all(fd, PING, sizeof PING, gb_deadline_after(1000), NULL, NULL, &err);
    CHECK_STATUS(st, GB_ERR_CLOSED);
    gb_socket_close(fd);
    gb_peer_stop(&p);
}

/* exchange() over a socketpair: input is read while output is pending. */
static void test_exchange_basic(void)
{
    unsigned char in[64];
    size_t written, got;
    gb_error err;
    int sv[2];

    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    CHECK_STATUS(gb_socket_exchange(sv[0], PING, sizeof PING, &written, in, sizeof in, &got,
                                    gb_deadline_after(1000), NULL, &err),
                 GB_OK);
    CHECK_INT(written, sizeof PING);
    CHECK_INT(got, 0);
    CHECK_INT(write(sv[1], OK_REPLY, sizeof OK_REPLY), sizeof OK_REPLY);
    CHECK_STATUS(gb_socket_exchange(sv[0], PING, 0, &written, in, sizeof in, &got,
                                    gb_deadline_after(1000), NULL, &err),
                 GB_OK);
    CHECK_INT(got, sizeof OK_REPLY);
    CHECK_INT(written, 0);
    CHECK_STATUS(gb_socket_exchange(sv[0], PING, 0, &written, in, sizeof in, &got,
                                    gb_clock_ms() + 50, NULL, &err),
                 GB_ERR_TIMEOUT);
    CHECK_STATUS(gb_socket_exchange(sv[0], PING, 0, &written, in, 0, &got, -1, NULL, &err),
                 GB_ERR_IO);
    close(sv[1]);
    CHECK_STATUS(gb_socket_exchange(sv[0], PING, 0, &written, in, sizeof in, &got,
                                    gb_deadline_after(1000), NULL, &err),
                 GB_ERR_CLOSED);
    close(sv[0]);
}

static void test_check_idle(void)
{
    int sv[2];
    gb_error err;

    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    CHECK_STATUS(gb_socket_check_idle(sv[0], &err), GB_OK);
    CHECK_INT(send(sv[1], "x", 1, 0), 1);
    CHECK_STATUS(gb_socket_check_idle(sv[0], &err), GB_ERR_PROTOCOL);
    CHECK_STATUS(gb_socket_check_idle(sv[0], &err), GB_ERR_PROTOCOL); /* consumed nothing */
    close(sv[1]);
    CHECK_STATUS(gb_socket_check_idle(sv[0], &err), GB_ERR_PROTOCOL); /* the byte first */
    {
        char b;
        CHECK_INT(recv(sv[0], &b, 1, 0), 1);
    }
    CHECK_STATUS(gb_socket_check_idle(sv[0], &err), GB_ERR_CLOSED);
    close(sv[0]);
    CHECK_STATUS(gb_socket_check_idle(-1, &err), GB_ERR_IO);
}

static void test_clock(void)
{
    int64_t a = gb_clock_ms(), b = gb_clock_ms();

    CHECK(a > 0 && b >= a);
    CHECK_INT(gb_deadline_after(-1), -1);
    CHECK(gb_deadline_after(1000) >= a + 1000);
    CHECK(gb_socket_send_chunk_hint(-1) >= 4096);
    gb_socket_close(-1); /* a no-op */
}

void test_transport(void)
{
    RUN(test_clock);
    RUN(test_tcp_ipv4_and_ipv6);
    RUN(test_unix_socket);
    RUN(test_connect_refused);
    RUN(test_connect_timeout);
    RUN(test_recv_timeout);
    RUN(test_peer_closes);
    RUN(test_exchange_basic);
    RUN(test_check_idle);
}
