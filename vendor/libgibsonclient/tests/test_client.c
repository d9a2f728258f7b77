/* gb_client over real sockets: calls, the failure policy, pipelines. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE

#include "peer.h"
#include "test.h"

#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void start_client(gb_client *c, const gb_peer *p, int timeout_ms)
{
    gb_client_config cfg;
    gb_error err;

    gb_client_config_default(&cfg);
    cfg.port = p->port;
    cfg.timeout_ms = timeout_ms;
    if (p->family == AF_UNIX)
        cfg.unix_path = p->path;
    CHECK_STATUS(gb_client_init(c, &cfg, &err), GB_OK);
}

static gb_request op(int opcode, const char *key, const char *value)
{
    gb_request req;

    memset(&req, 0, sizeof req);
    req.opcode = opcode;
    req.key = key;
    req.key_len = key != NULL ? strlen(key) : 0;
    req.value = value;
    req.value_len = value != NULL ? strlen(value) : 0;
    return req;
}

static gb_status call(gb_client *c, int opcode, const char *key, const char *value,
                      gb_reply *reply, gb_error *err)
{
    gb_request req = op(opcode, key, value);

    return gb_client_call(c, &req, reply, err);
}

static void test_calls(void)
{
    gb_client c;
    gb_reply r;
    gb_error err;
    gb_kv_iter it;
    gb_kv_pair pair;
    gb_peer p;

    CHECK_INT(gb_peer_start(&p, AF_INET, NULL), 0);
    start_client(&c, &p, 1000);
    CHECK(!gb_client_connected(&c));
    CHECK_STATUS(call(&c, GB_OP_SET, "foo", "bar baz", &r, &err), GB_OK);
    CHECK(gb_client_connected(&c));
    CHECK_INT(r.code, GB_REPL_VAL);
    CHECK_MEM(r.data, r.size, "bar baz", 7);
    CHECK_STATUS(call(&c, GB_OP_INC, "n", NULL, &r, &err), GB_OK);
    CHECK_STATUS(call(&c, GB_OP_INC, "n", NULL, &r, &err), GB_OK);
    CHECK_INT(r.encoding, GB_ENC_NUMBER);
    CHECK_INT(r.number, 2);
    CHECK_STATUS(call(&c, GB_OP_GET, "missing", NULL, &r, &err), GB_OK);
    CHECK_INT(r.code, GB_REPL_ERR_NOT_FOUND);
    CHECK_STATUS(call(&c, GB_OP_GET, "big", NULL, &r, &err), GB_OK);
    CHECK_INT(r.size, 100000);
    CHECK(r.data[0] == 'x' && r.data[99999] == 'x');
    CHECK_STATUS(call(&c, GB_OP_STATS, NULL, NULL, &r, &err), GB_OK);
    CHECK_INT(r.code, GB_REPL_KVAL);
    CHECK_INT(gb_kv_begin(&it, r.data, r.size, &err), 0);
    CHECK_INT(gb_kv_next(&it, &pair, &err), 1);
    CHECK_MEM(pair.key, pair.key_len, "server_arch", 11);
    CHECK_MEM(pair.value, pair.value_len, "64", 2);
    CHECK_INT(gb_kv_next(&it, &pair, &err), 0);
    CHECK_STATUS(call(&c, GB_OP_PING, NULL, NULL, &r, &err), GB_OK);
    CHECK_INT(r.code, GB_REPL_OK);
    CHECK_STATUS(call(&c, GB_OP_PING, NULL, NULL, &r, NULL), GB_OK);
    gb_client_free(&c);
    gb_peer_stop(&p);
}

/* A refused request sends nothing and leaves the connection alone. */
static void test_argument_errors(void)
{
    gb_client c;
    gb_reply r;
    gb_error err;
    gb_peer p;
    int fd;

    CHECK_INT(gb_peer_start(&p, AF_INET, NULL), 0);
    start_client(&c, &p, 1000);
    CHECK_STATUS(call(&c, GB_OP_GET, "a b", NULL, &r, &err), GB_ERR_KEY_SPACE);
    CHECK(!gb_client_connected(&c)); /* not even connected for it */
    CHECK_INT(err.request_sent, 0);
    /* The same checks alone, without I/O. */
    {
        gb_request bad = op(GB_OP_GET, "a b", NULL), good = op(GB_OP_GET, "k", NULL);
        CHECK_STATUS(gb_client_check(&c, &bad, &err), GB_ERR_KEY_SPACE);
        CHECK_INT(err.status, GB_ERR_KEY_SPACE);
        CHECK_STATUS(gb_client_check(&c, &good, &err), GB_OK);
        CHECK_STATUS(gb_client_check(&c, &bad, NULL), GB_ERR_KEY_SPACE);
        CHECK(!gb_client_connected(&c));
    }
    CHECK_STATUS(call(&c, GB_OP_PING, NULL, NULL, &r, &err), GB_OK);
    fd = c.fd;
    CHECK_STATUS(call(&c, GB_OP_SET, "k", "", &r, &err), GB_ERR_EMPTY_VALUE);
    CHECK_STATUS(call(&c, GB_OP_META, "k", "l", &r, &err), GB_ERR_BAD_FIELD);
    CHECK_STATUS(call(&c, 42, "k", NULL, &r, &err), GB_ERR_BAD_OPCODE);
    CHECK_INT(c.fd, fd);
    CHECK_STATUS(call(&c, GB_OP_PING, NULL, NULL, &r, &err), GB_OK);
    CHECK_INT(c.fd, fd);
    gb_client_free(&c);
    gb_peer_stop(&p);
}

/* Call `key` on the peer, expect status want within min_ms..max_ms, then
   check that the next call reconnects and works. A late attempt is retried
   twice, so that a busy machine's scheduling delays do not fail the test
   while a systematic overshoot still does. */
static void fail_then_recover(const char *key, gb_status want, int timeout_ms,
                              int64_t min_ms, int64_t max_ms)
{
    int64_t start, elapsed = -1;
    gb_client c;
    gb_reply r;
    gb_error err;
    gb_peer p;
    int attempt;

    CHECK_INT(gb_peer_start(&p, AF_INET, NULL), 0);
    start_client(&c, &p, timeout_ms);
    for (attempt = 0; attempt < 3; attempt++) {
        CHECK_STATUS(call(&c, GB_OP_PING, NULL, NULL, &r, &err), GB_OK);
        start = gb_clock_ms();
        CHECK_STATUS(call(&c, GB_OP_GET, key, NULL, &r, &err), want);
        elapsed = gb_clock_ms() - start;
        if (elapsed >= min_ms && elapsed <= max_ms)
            break;
        fprintf(stderr, "  GET %s took %lld ms, expected %lld..%lld%s\n", key,
                (long long)elapsed, (long long)min_ms, (long long)max_ms,
                attempt < 2 ? "; trying again" : "");
    }
    CHECK_WITHIN(elapsed, min_ms, max_ms);
    CHECK_INT(err.status, want);
    CHECK_INT(err.request_sent, 1);
    CHECK(gb_status_breaks_connection(want));
    CHECK(!gb_client_connected(&c));
    CHECK(strstr(err.message, "127.0.0.1:") != NULL);
    c.timeout_ms = 5000; /* a slow peer must not fail the recovery */
    CHECK_STATUS(call(&c, GB_OP_INC, "n", NULL, &r, &err), GB_OK);
    CHECK_INT(r.number, 1); /* a new connection: the peer's counter restarted */
    gb_client_free(&c);
    gb_peer_stop(&p);
}

static void test_failures_reconnect(void)
{
    fail_then_recover("half", GB_ERR_CLOSED, 1000, 0, 100);
    fail_then_recover("nothing", GB_ERR_CLOSED, 1000, 0, 100);
    fail_then_recover("garbage", GB_ERR_PROTOCOL, 1000, 0, 100);
    /* The deadline covers the whole request: a reply that trickles in
       still times out on time. */
    fail_then_recover("hang", GB_ERR_TIMEOUT, 300, 299, 330);
    fail_then_recover("drip", GB_ERR_TIMEOUT, 300, 299, 330);
}

/* Bytes that nobody asked for mean the stream is out of step: the next
   call starts a new connection instead of taking them as its reply. */
static void test_stale_bytes_reconnect(void)
{
    gb_client c;
    gb_reply r;
    gb_error err;
    gb_peer p;

    CHECK_INT(gb_peer_start(&p, AF_INET, NULL), 0);
    start_client(&c, &p, 1000);
    CHECK_STATUS(call(&c, GB_OP_INC, "n", NULL, &r, &err), GB_OK);
    CHECK_STATUS(call(&c, GB_OP_GET, "twice", NULL, &r, &err), GB_OK);
    CHECK_INT(r.code, GB_REPL_OK);
    CHECK_INT(gb_reader_buffered(&c.reader), 8);
    CHECK_STATUS(call(&c, GB_OP_INC, "n", NULL, &r, &err), GB_OK);
    CHECK_INT(r.code, GB_REPL_VAL);
    CHECK_INT(r.number, 1);
    gb_client_free(&c);
    gb_peer_stop(&p);
}

/* Until the client's socket has something to read (stray bytes or EOF). */
static void wait_readable(const gb_client *c)
{
    struct pollfd pfd;

    pfd.fd = c->fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    CHECK_INT(poll(&pfd, 1, 5000), 1);
}

/* A reply nobody asked for that arrives on its own while the connection is
   idle is never read as the answer to the next request, nor to a pipeline:
   the request goes out on a new connection instead (the peer's INC counts
   per connection, so 1 means a fresh one). */
static void test_unsolicited_reply_is_never_taken(void)
{
    unsigned char frames[32];
    size_t written = 0, len = 0;
    gb_buffer buf;
    gb_request req = op(GB_OP_INC, "n", NULL);
    gb_client c;
    gb_reply r;
    gb_error err;
    gb_peer p;

    CHECK_INT(gb_peer_start(&p, AF_INET, NULL), 0);
    start_client(&c, &p, 1000);
    CHECK_STATUS(call(&c, GB_OP_INC, "n", NULL, &r, &err), GB_OK);
    CHECK_STATUS(call(&c, GB_OP_GET, "late", NULL, &r, &err), GB_OK);
    CHECK_INT(r.code, GB_REPL_ERR_NOT_FOUND);
    wait_readable(&c); /* the extra OK is in the socket */
    CHECK_STATUS(call(&c, GB_OP_INC, "n", NULL, &r, &err), GB_OK);
    CHECK_INT(r.code, GB_REPL_VAL);
    CHECK_INT(r.number, 1);
    CHECK(c.fd >= 0);

    /* The same before a pipeline. */
    CHECK_STATUS(call(&c, GB_OP_GET, "late", NULL, &r, &err), GB_OK);
    wait_readable(&c);
    gb_buffer_init(&buf);
    CHECK_STATUS(gb_encode(&buf, &req, NULL, &err), GB_OK);
    len = buf.len;
    memcpy(frames, buf.data, len);
    gb_buffer_free(&buf);
    CHECK_STATUS(gb_client_pipeline_begin(&c, &err), GB_OK);
    while (gb_reader_next(&c.reader, &r, &err) == 0 &&
           gb_client_pump(&c, frames, len, &written, gb_deadline_after(1000), &err) == GB_OK)
        ;
    CHECK_INT(r.code, GB_REPL_VAL);
    CHECK_INT(r.number, 1);
    gb_client_free(&c);
    gb_peer_stop(&p);
}

/* The server hung up the idle connection: even a write goes out, once, on a
   new connection, since nothing of it was sent on the dead one. */
static void test_idle_hangup_is_seen_before_sending(void)
{
    gb_client c;
    gb_reply r;
    gb_error err;
    gb_peer p;

    CHECK_INT(gb_peer_start(&p, AF_INET, NULL), 0);
    start_client(&c, &p, 1000);
    CHECK_STATUS(call(&c, GB_OP_GET, "bye", NULL, &r, &err), GB_OK);
    wait_readable(&c);
    CHECK_STATUS(call(&c, GB_OP_INC, "n", NULL, &r, &err), GB_OK);
    CHECK_INT(r.number, 1);
    gb_client_free(&c);
    gb_peer_stop(&p);
}

static void test_end_and_connect_errors(void)
{
    gb_client_config cfg;
    gb_client c;
    gb_reply r;
    gb_error err;
    gb_peer p;

    CHECK_INT(gb_peer_start(&p, AF_INET, NULL), 0);
    start_client(&c, &p, 1000);
    CHECK_STATUS(call(&c, GB_OP_END, NULL, NULL, &r, &err), GB_OK);
    CHECK_INT(r.code, GB_REPL_OK);
    CHECK(!gb_client_connected(&c));
    CHECK_STATUS(call(&c, GB_OP_PING, NULL, NULL, &r, &err), GB_OK);
    CHECK_STATUS(gb_client_connect(&c, &err), GB_OK); /* already connected */
    gb_client_close(&c);
    CHECK(!gb_client_connected(&c));
    gb_client_free(&c);
    gb_client_free(&c); /* freeing twice is harmless */
    gb_peer_stop(&p);

    gb_client_config_default(&cfg);
    cfg.port = gb_peer_free_port();
    CHECK_STATUS(gb_client_init(&c, &cfg, &err), GB_OK);
    CHECK_STATUS(call(&c, GB_OP_PING, NULL, NULL, &r, &err), GB_ERR_CONNECT);
    CHECK_INT(err.request_sent, 0);
    CHECK(strstr(err.message, "Connection refused") != NULL);
    gb_client_free(&c);
    CHECK_STATUS(gb_client_init(&c, NULL, &err), GB_OK);
    CHECK(strcmp(c.host, GB_DEFAULT_HOST) == 0 && c.port == GB_DEFAULT_PORT);
    gb_client_free(&c);
}

static void test_unix_client(void)
{
    char path[64];
    gb_client c;
    gb_reply r;
    gb_error err;
    gb_peer p;

    snprintf(path, sizeof path, "/tmp/gb-client-%ld.sock", (long)getpid());
    CHECK_INT(gb_peer_start(&p, AF_UNIX, path), 0);
    start_client(&c, &p, 1000);
    CHECK_STATUS(call(&c, GB_OP_SET, "k", "v", &r, &err), GB_OK);
    CHECK_MEM(r.data, r.size, "v", 1);
    CHECK_STATUS(call(&c, GB_OP_GET, "nothing", NULL, &r, &err), GB_ERR_CLOSED);
    CHECK(strstr(err.message, path) != NULL);
    CHECK_STATUS(call(&c, GB_OP_PING, NULL, NULL, &r, &err), GB_OK);
    gb_client_free(&c);
    gb_peer_stop(&p);
}

/* A forked child drops the inherited connection without shutdown(), so the
   parent's connection keeps working. */
static void test_abandon_after_fork(void)
{
    gb_client c;
    gb_reply r;
    gb_error err;
    gb_peer p;
    pid_t pid;
    int status = -1, fd;

    CHECK_INT(gb_peer_start(&p, AF_INET, NULL), 0);
    start_client(&c, &p, 1000);
    CHECK_STATUS(call(&c, GB_OP_PING, NULL, NULL, &r, &err), GB_OK);
    fd = c.fd;
    pid = fork();
    if (pid == 0) {
        gb_client_abandon(&c);
        _exit(gb_client_connected(&c) ? 1 : 0);
    }
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_STATUS(call(&c, GB_OP_PING, NULL, NULL, &r, &err), GB_OK);
    CHECK_INT(c.fd, fd);
    gb_client_abandon(&c);
    CHECK(!gb_client_connected(&c));
    gb_client_free(&c);
    gb_peer_stop(&p);
}

/* A value near the server's 4 MiB request limit: the send needs several
   writes (and polls), and the echo several reads. */
static void test_large_values(void)
{
    const size_t len = 3u << 20;
    char *value = malloc(len + 2u * 1024 * 1024);
    gb_request req;
    gb_client c;
    gb_reply r;
    gb_error err;
    gb_peer p;
    size_t i;

    CHECK(value != NULL);
    if (value == NULL)
        return;
    for (i = 0; i < len; i++)
        value[i] = (char)('a' + i % 26);
    CHECK_INT(gb_peer_start(&p, AF_INET, NULL), 0);
    start_client(&c, &p, 5000);
    req = op(GB_OP_SET, "big", NULL);
    req.value = value;
    req.value_len = len;
    CHECK_STATUS(gb_client_call(&c, &req, &r, &err), GB_OK);
    CHECK_MEM(r.data, r.size, value, len);
    req.value_len = len + 2u * 1024 * 1024;
    CHECK_STATUS(gb_client_call(&c, &req, &r, &err), GB_ERR_FRAME_TOO_LARGE);
    CHECK(gb_client_connected(&c));
    gb_client_free(&c);
    gb_peer_stop(&p);
    free(value);
}

/* No timeout at all, and one too short for SO_RCVTIMEO's coarse ticks. */
static void test_timeout_extremes(void)
{
    int64_t start, elapsed;
    gb_client c;
    gb_reply r;
    gb_error err;
    gb_peer p;

    CHECK_INT(gb_peer_start(&p, AF_INET, NULL), 0);
    start_client(&c, &p, -1);
    CHECK_STATUS(call(&c, GB_OP_PING, NULL, NULL, &r, &err), GB_OK);
    CHECK_STATUS(call(&c, GB_OP_GET, "drip", NULL, &r, &err), GB_OK);
    CHECK_INT(r.size, 10);
    gb_client_free(&c);
    start_client(&c, &p, 50);
    CHECK_STATUS(gb_client_connect(&c, &err), GB_OK); /* outside the deadline */
    start = gb_clock_ms();
    CHECK_STATUS(call(&c, GB_OP_GET, "hang", NULL, &r, &err), GB_ERR_TIMEOUT);
    elapsed = gb_clock_ms() - start;
    CHECK_WITHIN(elapsed, 49, 99);
    gb_client_free(&c);
    gb_peer_stop(&p);
}

/* Encode n SETs of value_len bytes, the value stamped with its index. */
static int build_sets(gb_buffer *frames, size_t n, size_t value_len)
{
    char *value = malloc(value_len), key[32];
    gb_request req;
    size_t i;

    if (value == NULL)
        return -1;
    memset(value, 'v', value_len);
    for (i = 0; i < n; i++) {
        req = op(GB_OP_SET, NULL, NULL);
        req.key = key;
        req.key_len = (size_t)snprintf(key, sizeof key, "k%zu", i);
        memcpy(value, key, req.key_len);
        req.value = value;
        req.value_len = value_len;
        if (gb_encode(frames, &req, NULL, NULL) != GB_OK)
            break;
    }
    free(value);
    return i == n ? 0 : -1;
}

/* The peer stops reading while it writes each reply (like the server), so a
   client that wrote the whole pipeline before reading would deadlock. */
static void test_pipeline(void)
{
    const size_t n = 100000, value_len = 1024;
    size_t written = 0, replies = 0, bad = 0;
    int64_t deadline;
    gb_buffer frames;
    gb_client c;
    gb_reply r;
    gb_error err;
    gb_peer p;
    gb_status st = GB_OK;
    char key[32];

    CHECK_INT(gb_peer_start(&p, AF_INET, NULL), 0);
    start_client(&c, &p, 1000);
    gb_buffer_init(&frames);
    CHECK_INT(build_sets(&frames, n, value_len), 0);
    CHECK_STATUS(gb_client_pipeline_begin(&c, &err), GB_OK);
    deadline = gb_deadline_after(60000);
    while (replies < n && st == GB_OK) {
        int got;

        st = gb_client_pump(&c, frames.data, frames.len, &written, deadline, &err);
        while ((got = gb_reader_next(&c.reader, &r, &err)) == 1) {
            size_t klen = (size_t)snprintf(key, sizeof key, "k%zu", replies);
            if (r.code != GB_REPL_VAL || r.size != value_len || memcmp(r.data, key, klen) != 0)
                bad++;
            replies++;
        }
        CHECK(got == 0);
    }
    CHECK_STATUS(st, GB_OK);
    if (st != GB_OK)
        fprintf(stderr, "  %s\n", err.message);
    CHECK_INT(replies, n);
    CHECK_INT(bad, 0);
    CHECK_INT(written, frames.len);
    /* The connection is in step afterwards. */
    CHECK_STATUS(call(&c, GB_OP_INC, "n", NULL, &r, &err), GB_OK);
    CHECK_INT(r.number, 1);
    gb_buffer_free(&frames);
    gb_client_free(&c);
    gb_peer_stop(&p);
}

static void test_pipeline_failures(void)
{
    unsigned char bad_frames[] = {2, 0, 0, 0, 19, 0, 9, 0, 0, 0, 19, 0};
    size_t written = 0, oks = 0;
    gb_buffer frames;
    gb_request req;
    gb_client c;
    gb_reply r;
    gb_error err;
    gb_peer p;
    gb_status st = GB_OK;
    int i;

    CHECK_INT(gb_peer_start(&p, AF_INET, NULL), 0);
    start_client(&c, &p, 1000);
    /* A buffer that does not hold whole frames is refused. */
    CHECK_STATUS(gb_client_pipeline_begin(&c, &err), GB_OK);
    written = sizeof bad_frames + 1;
    CHECK_STATUS(gb_client_pump(&c, bad_frames, sizeof bad_frames, &written, -1, &err),
                 GB_ERR_PROTOCOL);
    written = 0;
    CHECK_STATUS(gb_client_pump(&c, bad_frames, sizeof bad_frames, &written, -1, &err),
                 GB_ERR_PROTOCOL);
    CHECK(!gb_client_connected(&c));
    CHECK_STATUS(gb_client_pump(&c, bad_frames, 6, &written, -1, &err), GB_ERR_NOT_CONNECTED);

    /* The peer hangs up in the middle: the replies before it are kept. */
    gb_buffer_init(&frames);
    for (i = 0; i < 5; i++) {
        req = op(i == 3 ? GB_OP_GET : GB_OP_PING, i == 3 ? "nothing" : NULL, NULL);
        CHECK_STATUS(gb_encode(&frames, &req, NULL, NULL), GB_OK);
    }
    written = 0;
    CHECK_STATUS(gb_client_pipeline_begin(&c, &err), GB_OK);
    while (st == GB_OK) {
        st = gb_client_pump(&c, frames.data, frames.len, &written, gb_deadline_after(1000),
                            &err);
        while (gb_reader_next(&c.reader, &r, &err) == 1)
            oks += r.code == GB_REPL_OK;
    }
    CHECK_STATUS(st, GB_ERR_CLOSED);
    CHECK_INT(oks, 3);
    CHECK_INT(err.request_sent, 1);
    CHECK(!gb_client_connected(&c));
    CHECK_STATUS(call(&c, GB_OP_PING, NULL, NULL, &r, &err), GB_OK);
    gb_buffer_free(&frames);
    gb_client_free(&c);
    gb_peer_stop(&p);
}

/* The two-step call: a large value straight into the caller's buffer, a
   small one through the reader, and the connection still in step
   afterwards. (This peer writes a value's header and payload apart.) */
static void test_call_into_own_buffer(void)
{
    gb_request req;
    gb_reply_head head;
    gb_client c;
    gb_reply r;
    gb_error err;
    gb_peer p;
    unsigned char *dst;
    size_t i, wrong = 0;

    CHECK_INT(gb_peer_start(&p, AF_INET, NULL), 0);
    start_client(&c, &p, 1000);
    req = op(GB_OP_GET, "big", NULL);
    CHECK_STATUS(gb_client_call_head(&c, &req, GB_CALL_HEAD_READ, &head, &err), GB_OK);
    CHECK_INT(head.code, GB_REPL_VAL);
    CHECK_INT(head.size, 100000);
    /* At most 16 KB was read before the header was known. */
    CHECK_INT(head.complete, 0);
    CHECK(gb_reader_buffered(&c.reader) <= 16 * 1024);
    dst = malloc(head.size);
    CHECK(dst != NULL);
    if (dst != NULL) {
        CHECK_STATUS(gb_client_call_finish_into(&c, &head, dst, &err), GB_OK);
        for (i = 0; i < head.size; i++)
            wrong += dst[i] != 'x';
        CHECK_INT(wrong, 0);
        free(dst);
    }
    CHECK_INT(gb_reader_buffered(&c.reader), 0);
    req = op(GB_OP_SET, "k", "v");
    CHECK_STATUS(gb_client_call_head(&c, &req, GB_CALL_HEAD_READ, &head, &err), GB_OK);
    CHECK_STATUS(gb_client_call_finish(&c, &head, &r, &err), GB_OK);
    CHECK_MEM(r.data, r.size, "v", 1);
    /* A reply cut short while being received into the caller's buffer. */
    req = op(GB_OP_GET, "half", NULL);
    CHECK_STATUS(gb_client_call_head(&c, &req, GB_CALL_HEAD_READ, &head, &err), GB_OK);
    dst = malloc(head.size);
    CHECK(dst != NULL);
    if (dst != NULL) {
        CHECK_STATUS(gb_client_call_finish_into(&c, &head, dst, &err), GB_ERR_CLOSED);
        CHECK(!gb_client_connected(&c));
        free(dst);
    }
    CHECK_STATUS(call(&c, GB_OP_GET, "big", NULL, &r, &err), GB_OK);
    CHECK_INT(r.size, 100000);
    gb_client_free(&c);
    gb_peer_stop(&p);
}

void test_client(void)
{
    RUN(test_calls);
    RUN(test_argument_errors);
    RUN(test_failures_reconnect);
    RUN(test_stale_bytes_reconnect);
    RUN(test_unsolicited_reply_is_never_taken);
    RUN(test_idle_hangup_is_seen_before_sending);
    RUN(test_end_and_connect_errors);
    RUN(test_unix_client);
    RUN(test_abandon_after_fork);
    RUN(test_large_values);
    RUN(test_timeout_extremes);
    RUN(test_pipeline);
    RUN(test_pipeline_failures);
    RUN(test_call_into_own_buffer);
}
