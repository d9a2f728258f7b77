/* The forked test peer described in peer.h. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE

#include "peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PEER_BUF (5u << 20) /* a 4 MiB frame fits */

static void write_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(0);
        p += n;
        len -= (size_t)n;
    }
}

static void sleep_ms(long ms)
{
    struct timespec ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void header(unsigned char *h, int code, int encoding, uint32_t size)
{
    h[0] = (unsigned char)code;
    h[1] = 0;
    h[2] = (unsigned char)encoding;
    h[3] = (unsigned char)(size & 0xff);
    h[4] = (unsigned char)((size >> 8) & 0xff);
    h[5] = (unsigned char)((size >> 16) & 0xff);
    h[6] = (unsigned char)((size >> 24) & 0xff);
}

static void reply_code(int fd, int code)
{
    unsigned char r[8];

    header(r, code, 0, 1);
    r[7] = 0;
    write_all(fd, r, sizeof r);
}

static void reply_value(int fd, const unsigned char *v, size_t len)
{
    unsigned char h[7];

    header(h, 6, 0, (uint32_t)len);
    write_all(fd, h, 7);
    write_all(fd, v, len);
}

static void wait_for_eof(int fd)
{
    unsigned char sink[256];
    ssize_t n;

    do
        n = read(fd, sink, sizeof sink);
    while (n > 0 || (n < 0 && errno == EINTR));
    _exit(0);
}

static void misbehave(int fd, const unsigned char *key, size_t len)
{
    static unsigned char big[100000];
    unsigned char r[32];
    int i;

#define IS(name) (len == sizeof(name) - 1 && memcmp(key, name, len) == 0)
    if (IS("hang")) {
        wait_for_eof(fd);
    } else if (IS("half")) {
        header(r, 6, 0, 10);
        memcpy(r + 7, "01", 2);
        write_all(fd, r, 9);
        _exit(0);
    } else if (IS("drip")) {
        header(r, 6, 0, 10);
        write_all(fd, r, 7);
        for (i = 0; i < 10; i++) {
            sleep_ms(100);
            write_all(fd, "d", 1);
        }
    } else if (IS("nothing")) {
        _exit(0);
    } else if (IS("garbage")) {
        header(r, 9, 0, 1);
        r[7] = 0;
        write_all(fd, r, 8);
    } else if (IS("twice")) {
        header(r, 5, 0, 1);
        r[7] = 0;
        memcpy(r + 8, r, 8);
        write_all(fd, r, 16);
    } else if (IS("late")) {
        reply_code(fd, 1);
        sleep_ms(50);
        reply_code(fd, 5);
    } else if (IS("bye")) {
        reply_code(fd, 1);
        _exit(0);
    } else if (IS("big")) {
        memset(big, 'x', sizeof big);
        reply_value(fd, big, sizeof big);
    } else {
        reply_code(fd, 1);
    }
#undef IS
}

/* Answer one frame: opcode and payload. */
static void answer(int fd, int opcode, const unsigned char *pl, size_t len, int64_t *counter)
{
    static const unsigned char stats[] = {1, 0, 0, 0, 11, 0, 0, 0, 's', 'e', 'r', 'v', 'e',
                                          'r', '_', 'a', 'r', 'c', 'h', 0, 2, 0, 0, 0, '6', '4'};
    unsigned char h[16];
    const unsigned char *sp;
    int64_t v;
    int i;

    switch (opcode) {
    case 1: /* SET: echo the value after "ttl key " */
        sp = memchr(pl, ' ', len);
        sp = sp != NULL ? memchr(sp + 1, ' ', len - (size_t)(sp + 1 - pl)) : NULL;
        if (sp == NULL) {
            reply_code(fd, 0);
            return;
        }
        reply_value(fd, sp + 1, len - (size_t)(sp + 1 - pl));
        return;
    case 3:
        misbehave(fd, pl, len);
        return;
    case 5: /* INC */
        v = ++*counter;
        header(h, 6, 2, 8);
        for (i = 0; i < 8; i++)
            h[7 + i] = (unsigned char)(((uint64_t)v >> (8 * i)) & 0xff);
        write_all(fd, h, 15);
        return;
    case 18:
        header(h, 7, 0, sizeof stats);
        write_all(fd, h, 7);
        write_all(fd, stats, sizeof stats);
        return;
    case 255:
        reply_code(fd, 5);
        _exit(0);
    default:
        reply_code(fd, 5);
    }
}

/* One connection: frames in any split, handled one at a time. */
static void serve(int fd)
{
    static unsigned char in[PEER_BUF];
    size_t have = 0, pos;
    int64_t counter = 0;

    for (;;) {
        ssize_t n = read(fd, in + have, sizeof in - have);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(0);
        have += (size_t)n;
        pos = 0;
        while (have - pos >= 4) {
            uint32_t flen = (uint32_t)in[pos] | ((uint32_t)in[pos + 1] << 8) |
                            ((uint32_t)in[pos + 2] << 16) | ((uint32_t)in[pos + 3] << 24);
            if (flen < 2 || flen > sizeof in - 4)
                _exit(0); /* like the server: drop the connection */
            if (have - pos < 4 + flen)
                break;
            answer(fd, in[pos + 4] | (in[pos + 5] << 8), in + pos + 6, flen - 2, &counter);
            pos += 4 + flen;
        }
        memmove(in, in + pos, have - pos);
        have -= pos;
    }
}

static void accept_loop(int lfd)
{
    signal(SIGCHLD, SIG_IGN); /* handlers are reaped automatically */
    for (;;) {
        int one = 1, fd = accept(lfd, NULL, NULL);
        pid_t pid;

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            _exit(1);
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pid = fork();
        if (pid == 0) {
            close(lfd);
            serve(fd);
        }
        close(fd);
    }
}

static int listen_on(gb_peer *p, int family, const char *unix_path)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, one = 1;

    memset(&ss, 0, sizeof ss);
    if (family == AF_UNIX) {
        struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
        sun->sun_family = AF_UNIX;
        strncpy(sun->sun_path, unix_path, sizeof sun->sun_path - 1);
        strncpy(p->path, unix_path, sizeof p->path - 1);
        unlink(unix_path);
        len = sizeof *sun;
    } else if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *a;
    }
    fd = socket(family, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 64) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        close(fd);
        return -1;
    }
    if (family == AF_INET)
        p->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else if (family == AF_INET6)
        p->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return fd;
}

int gb_peer_start(gb_peer *p, int family, const char *unix_path)
{
    int lfd;

    memset(p, 0, sizeof *p);
    p->family = family;
    lfd = listen_on(p, family, unix_path);
    if (lfd < 0)
        return -1;
    p->pid = fork();
    if (p->pid < 0) {
        close(lfd);
        return -1;
    }
    if (p->pid == 0) {
        setpgid(0, 0);
        accept_loop(lfd);
    }
    setpgid(p->pid, p->pid); /* also here, so stop() cannot race the child */
    close(lfd);
    return 0;
}

void gb_peer_stop(gb_peer *p)
{
    if (p->pid <= 0)
        return;
    kill(-p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    if (p->family == AF_UNIX)
        unlink(p->path);
    p->pid = 0;
}

int gb_peer_free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}
