/*
 * The floor for any client: a raw C loop over libgibsonclient's protocol
 * layer (gb_encode, gb_reader_*), with plain blocking socket calls and no
 * transport policy (no deadlines, no poll, no reconnect).
 *
 *   sequential (batch 1): per request, gb_encode, one send(), then read()
 *     into the reader until the reply is whole (one read for small replies);
 *   pipelined (batch B): B frames encoded into one buffer, then write and
 *     read together under poll(), each write ending on a frame boundary
 *     (the server cannot take a split length prefix, docs/protocol.md §8.1).
 *
 * Usage:
 *   raw_loop (--tcp HOST PORT | --unix PATH) --op get|set|inc|mget
 *            --key KEY [--value-size N] [--ops N] [--batch B] [--warmup N]
 *            [--wait-go]
 *
 * With --wait-go it connects, prints "ready", and waits for a line on
 * stdin before measuring, so that several copies can start together.
 * Prints one JSON line: {"ops": N, "wall_us": .., "cpu_us": .., "user_us":
 * .., "sys_us": .., "replies_bytes": ..}, the µs being per operation, CPU
 * from getrusage(RUSAGE_SELF) around the measured loop only.
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "gibson.h"

static void die(const char *what)
{
    fprintf(stderr, "raw_loop: %s: %s\n", what, errno ? strerror(errno) : "failed");
    exit(2);
}

static void die_gb(const char *what, const gb_error *err)
{
    fprintf(stderr, "raw_loop: %s: %s %s\n", what, gb_status_name(err->status), err->message);
    exit(2);
}

static int connect_tcp(const char *host, const char *port)
{
    struct addrinfo hints, *ai;
    int fd, one = 1;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &ai) != 0)
        die("getaddrinfo");
    fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0)
        die("connect");
    freeaddrinfo(ai);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sun;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sun.sun_path)
        die("unix socket path too long");
    strcpy(sun.sun_path, path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0)
        die("connect");
    return fd;
}

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double tv_us(struct timeval tv)
{
    return tv.tv_sec * 1e6 + tv.tv_usec;
}

typedef struct bench {
    int fd;
    gb_request req;
    gb_limits limits;
    gb_buffer out;
    gb_reader reader;
    size_t frame_len;
    unsigned long long reply_bytes; /* payload bytes seen: keeps the work live */
} bench;

static void write_all(int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("write");
        p += n;
        len -= (size_t)n;
    }
}

static void take_reply(bench *b, const gb_reply *reply)
{
    if (reply->code != GB_REPL_VAL && reply->code != GB_REPL_KVAL &&
        reply->code != GB_REPL_OK) {
        fprintf(stderr, "raw_loop: unexpected reply code %d\n", reply->code);
        exit(2);
    }
    b->reply_bytes += reply->size;
}

/* One request: encode, one write, read until the reply is whole. */
static void one_request(bench *b)
{
    gb_error err;
    gb_reply reply;
    int r;

    b->out.len = 0;
    if (gb_encode(&b->out, &b->req, &b->limits, &err) != GB_OK)
        die_gb("encode", &err);
    write_all(b->fd, b->out.data, b->out.len);
    while ((r = gb_reader_next(&b->reader, &reply, &err)) == 0) {
        size_t room;
        unsigned char *p = gb_reader_space(&b->reader, &room, &err);
        ssize_t n;

        if (p == NULL)
            die_gb("reader", &err);
        n = read(b->fd, p, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("read");
        gb_reader_commit(&b->reader, (size_t)n);
    }
    if (r < 0)
        die_gb("reply", &err);
    take_reply(b, &reply);
}

/* A batch: frames[0..len) written in whole-frame chunks while replies are
 * read, until `count` replies are in; every call here is MSG_DONTWAIT. */
/* The batch's frames, encoded afresh into `frames`. */
static void encode_batch(bench *b, gb_buffer *frames, long batch)
{
    gb_error err;
    long k;

    frames->len = 0;
    for (k = 0; k < batch; k++)
        if (gb_encode(frames, &b->req, &b->limits, &err) != GB_OK)
            die_gb("encode", &err);
}

/* Tell the runner the warm-up is done and wait for its go (all C loops of a
   pool row start together). 0 when the runner has gone. */
static int ready_and_wait(void)
{
    char line[16];

    printf("ready\n");
    fflush(stdout);
    return fgets(line, sizeof line, stdin) != NULL;
}

static void one_batch(bench *b, const unsigned char *frames, size_t len, size_t count)
{
    size_t written = 0, received = 0;
    size_t chunk = b->frame_len * (16384 / b->frame_len > 0 ? 16384 / b->frame_len : 1);
    gb_error err;

    while (received < count) {
        struct pollfd pfd;
        gb_reply reply;
        int r;

        pfd.fd = b->fd;
        pfd.events = (short)(POLLIN | (written < len ? POLLOUT : 0));
        if (poll(&pfd, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            die("poll");
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            size_t room;
            unsigned char *p = gb_reader_space(&b->reader, &room, &err);
            ssize_t n;

            if (p == NULL)
                die_gb("reader", &err);
            n = recv(b->fd, p, room, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                die("recv");
            if (n > 0)
                gb_reader_commit(&b->reader, (size_t)n);
            while ((r = gb_reader_next(&b->reader, &reply, &err)) == 1) {
                take_reply(b, &reply);
                received++;
            }
            if (r < 0)
                die_gb("reply", &err);
        }
        if (written < len && (pfd.revents & POLLOUT)) {
            size_t want = len - written < chunk ? len - written : chunk;
            ssize_t n = send(b->fd, frames + written, want, MSG_DONTWAIT | MSG_NOSIGNAL);

            if (n < 0 && errno != EAGAIN && errno != EINTR)
                die("send");
            /* A short write must not end inside a length prefix: finish
               those few bytes with a blocking send (the socket is blocking
               apart from MSG_DONTWAIT). */
            if (n > 0 && (size_t)n < want && (size_t)n % b->frame_len != 0 &&
                (size_t)n % b->frame_len < 4) {
                size_t at = written + (size_t)n;
                size_t rest = 4 - (size_t)n % b->frame_len;

                write_all(b->fd, frames + at, rest);
                n += (ssize_t)rest;
            }
            if (n > 0)
                written += (size_t)n;
        }
    }
}

int main(int argc, char **argv)
{
    const char *host = NULL, *port = NULL, *unix_path = NULL, *op = "get", *key = "bench:k";
    long value_size = 10, ops = 1000, batch = 1, warmup = -1;
    int wait_go = 0;
    bench b;
    unsigned char *value = NULL;
    struct rusage ru0, ru1;
    double t0, t1;
    long done;
    int i;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tcp") && i + 2 < argc) {
            host = argv[++i];
            port = argv[++i];
        } else if (!strcmp(argv[i], "--unix") && i + 1 < argc) {
            unix_path = argv[++i];
        } else if (!strcmp(argv[i], "--op") && i + 1 < argc) {
            op = argv[++i];
        } else if (!strcmp(argv[i], "--key") && i + 1 < argc) {
            key = argv[++i];
        } else if (!strcmp(argv[i], "--value-size") && i + 1 < argc) {
            value_size = atol(argv[++i]);
        } else if (!strcmp(argv[i], "--ops") && i + 1 < argc) {
            ops = atol(argv[++i]);
        } else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
            batch = atol(argv[++i]);
        } else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) {
            warmup = atol(argv[++i]);
        } else if (!strcmp(argv[i], "--wait-go")) {
            wait_go = 1;
        } else {
            fprintf(stderr, "raw_loop: bad argument %s\n", argv[i]);
            return 2;
        }
    }
    if ((host == NULL) == (unix_path == NULL) || ops < 1 || batch < 1 || value_size < 1) {
        fprintf(stderr, "raw_loop: give --tcp HOST PORT or --unix PATH, ops/batch >= 1\n");
        return 2;
    }
    if (warmup < 0)
        warmup = ops / 20 < batch ? batch : ops / 20;

    memset(&b, 0, sizeof b);
    gb_limits_default(&b.limits);
    gb_buffer_init(&b.out);
    gb_reader_init(&b.reader, GB_DEFAULT_MAX_REPLY_SIZE);
    b.req.key = key;
    b.req.key_len = strlen(key);
    if (!strcmp(op, "get")) {
        b.req.opcode = GB_OP_GET;
    } else if (!strcmp(op, "inc")) {
        b.req.opcode = GB_OP_INC;
    } else if (!strcmp(op, "mget")) {
        b.req.opcode = GB_OP_MGET;
    } else if (!strcmp(op, "set")) {
        b.req.opcode = GB_OP_SET;
        value = malloc((size_t)value_size);
        if (value == NULL)
            die("malloc");
        for (i = 0; i < value_size; i++)
            value[i] = (unsigned char)('a' + i % 26);
        b.req.value = value;
        b.req.value_len = (size_t)value_size;
    } else {
        fprintf(stderr, "raw_loop: unknown op %s\n", op);
        return 2;
    }
    b.fd = unix_path != NULL ? connect_unix(unix_path) : connect_tcp(host, port);

    if (batch == 1) {
        for (done = 0; done < warmup; done++)
            one_request(&b);
        if (wait_go && !ready_and_wait())
            return 2;
        getrusage(RUSAGE_SELF, &ru0);
        t0 = now_us();
        for (done = 0; done < ops; done++)
            one_request(&b);
        t1 = now_us();
        getrusage(RUSAGE_SELF, &ru1);
    } else {
        gb_buffer frames;

        gb_buffer_init(&frames);
        encode_batch(&b, &frames, batch);
        b.frame_len = frames.len / (size_t)batch;
        for (done = 0; done < warmup; done += batch)
            one_batch(&b, frames.data, frames.len, (size_t)batch);
        if (wait_go && !ready_and_wait())
            return 2;
        getrusage(RUSAGE_SELF, &ru0);
        t0 = now_us();
        /* Encoding is part of the client's work, batch by batch. */
        for (done = 0; done < ops; done += batch) {
            encode_batch(&b, &frames, batch);
            one_batch(&b, frames.data, frames.len, (size_t)batch);
        }
        t1 = now_us();
        getrusage(RUSAGE_SELF, &ru1);
        ops = done;
        gb_buffer_free(&frames);
    }
    {
        double user = tv_us(ru1.ru_utime) - tv_us(ru0.ru_utime);
        double sys = tv_us(ru1.ru_stime) - tv_us(ru0.ru_stime);

        printf("{\"ops\": %ld, \"wall_us\": %.4f, \"cpu_us\": %.4f, \"user_us\": %.4f, "
               "\"sys_us\": %.4f, \"reply_bytes\": %llu}\n",
               ops, (t1 - t0) / ops, (user + sys) / ops, user / ops, sys / ops, b.reply_bytes);
    }
    close(b.fd);
    free(value);
    gb_buffer_free(&b.out);
    gb_reader_free(&b.reader);
    return 0;
}
