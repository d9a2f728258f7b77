/* gb_client_cancel from another thread: the one call that may be made on a
   client while another thread uses it. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE

#include "peer.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms)
{
    struct timespec ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

typedef struct {
    gb_client *c;
    long delay_ms;
    long repeat; /* cancel this many times, delay_ms apart */
} canceller;

static void *cancel_later(void *arg)
{
    canceller *k = arg;
    long i;

    for (i = 0; i < k->repeat; i++) {
        sleep_ms(k->delay_ms);
        gb_client_cancel(k->c);
    }
    return NULL;
}

static int start_canceller(pthread_t *t, canceller *k, gb_client *c, long delay_ms, long repeat)
{
    k->c = c;
    k->delay_ms = delay_ms;
    k->repeat = repeat;
    return pthread_create(t, NULL, cancel_later, k);
}

static void start_client(gb_client *c, int port, int timeout_ms)
{
    gb_client_config cfg;
    gb_error err;

    gb_client_config_default(&cfg);
    cfg.port = port;
    cfg.timeout_ms = timeout_ms;
    cfg.connect_timeout_ms = timeout_ms < 0 ? 1000 : timeout_ms;
    CHECK_STATUS(gb_client_init(c, &cfg, &err), GB_OK);
}

static gb_status call(gb_client *c, int opcode, const char *key, gb_reply *r, gb_error *err)
{
    gb_request req;

    memset(&req, 0, sizeof req);
    req.opcode = opcode;
    req.key = key;
    req.key_len = key != NULL ? strlen(key) : 0;
    return gb_client_call(c, &req, r, err);
}

/* A GET the server never answers ends as soon as another thread cancels,
   deadline or none; the next call reconnects. */
static void test_cancel_ends_a_hung_call(void)
{
    static const int timeouts[] = {-1, 3000};
    int64_t start, elapsed;
    pthread_t t;
    canceller k;
    gb_client c;
    gb_reply r;
    gb_error err;
    gb_peer p;
    size_t i;

    CHECK_INT(gb_peer_start(&p, AF_INET, NULL), 0);
    for (i = 0; i < sizeof timeouts / sizeof timeouts[0]; i++) {
        start_client(&c, p.port, timeouts[i]);
        CHECK_STATUS(call(&c, GB_OP_PING, NULL, &r, &err), GB_OK);
        CHECK_INT(start_canceller(&t, &k, &c, 100, 1), 0);
        start = gb_clock_ms();
        CHECK_STATUS(call(&c, GB_OP_GET, "hang", &r, &err), GB_ERR_CANCELLED);
        elapsed = gb_clock_ms() - start;
        CHECK_INT(pthread_join(t, NULL), 0);
        CHECK_WITHIN(elapsed, 95, 1000);
        CHECK(err.request_sent);
        CHECK(strstr(err.message, "gb_client_cancel") != NULL);
        CHECK(!gb_client_connected(&c));
        CHECK_STATUS(call(&c, GB_OP_PING, NULL, &r, &err), GB_OK);
        CHECK_INT(r.code, GB_REPL_OK);
        gb_client_free(&c);
    }
    gb_peer_stop(&p);
}

static void test_cancel_ends_a_pipeline(void)
{
    unsigned char frames[] = {6, 0, 0, 0, 3, 0, 'h', 'a', 'n', 'g'};
    size_t written = 0;
    gb_status st = GB_OK;
    pthread_t t;
    canceller k;
    gb_client c;
    gb_error err;
    gb_peer p;

    CHECK_INT(gb_peer_start(&p, AF_INET, NULL), 0);
    start_client(&c, p.port, -1);
    CHECK_STATUS(gb_client_pipeline_begin(&c, &err), GB_OK);
    CHECK_INT(start_canceller(&t, &k, &c, 100, 1), 0);
    while (st == GB_OK)
        st = gb_client_pump(&c, frames, sizeof frames, &written, -1, &err);
    CHECK_INT(pthread_join(t, NULL), 0);
    CHECK_STATUS(st, GB_ERR_CANCELLED);
    CHECK(err.request_sent);
    CHECK(!gb_client_connected(&c));
    gb_client_free(&c);
    gb_peer_stop(&p);
}

/* With no call under way, the next call finds the connection ended: it
   fails without sending, and the one after reconnects. With no
   connection at all, cancelling does nothing. */
static void test_cancel_between_calls(void)
{
    gb_client c;
    gb_reply r;
    gb_error err;
    gb_peer p;

    CHECK_INT(gb_peer_start(&p, AF_INET, NULL), 0);
    start_client(&c, p.port, 1000);
    gb_client_cancel(&c);
    CHECK_STATUS(call(&c, GB_OP_PING, NULL, &r, &err), GB_OK);
    gb_client_cancel(&c);
    CHECK_STATUS(call(&c, GB_OP_INC, "n", &r, &err), GB_ERR_CANCELLED);
    CHECK(!err.request_sent);
    CHECK(!gb_client_connected(&c));
    CHECK_STATUS(call(&c, GB_OP_INC, "n", &r, &err), GB_OK);
    CHECK_INT(r.number, 1); /* the cancelled INC never reached the server */
    gb_client_free(&c);
    gb_peer_stop(&p);
}

/* A connect under way is not woken, but fails as cancelled when it ends. */
static void test_cancel_during_connect(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int lfd = socket(AF_INET, SOCK_STREAM, 0), fillers[8], nfill = 0, fd, i;
    pthread_t t;
    canceller k;
    gb_client c;
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
    start_client(&c, ntohs(a.sin_port), 300);
    CHECK_INT(start_canceller(&t, &k, &c, 50, 1), 0);
    CHECK_STATUS(gb_client_connect(&c, &err), GB_ERR_CANCELLED);
    CHECK_INT(pthread_join(t, NULL), 0);
    CHECK(!gb_client_connected(&c));
    gb_client_free(&c);
    for (i = 0; i < nfill; i++)
        gb_socket_close(fillers[i]);
    close(lfd);
}

/* Cancels racing calls: each lands at a random point of a call (or between
   two), and the next comes only once a call has completed since, so that
   both outcomes occur however slow the machine. Every call either completes
   or is cancelled, and nothing is touched after it was closed (ASan,
   valgrind). */
typedef struct {
    gb_client *c;
    pthread_mutex_t lock;
    pthread_cond_t progress;
    long ok;    /* calls completed */
    int done;   /* the racer has cancelled enough */
    int failed; /* a pthread call of the racer failed (checked by the main thread) */
} race;

static void *race_cancels(void *arg)
{
    race *rc = arg;
    long seen = 0;
    int i;

    if (pthread_mutex_lock(&rc->lock) != 0) {
        rc->failed = 1; /* the main thread then waits forever: a hang shows it */
        return NULL;
    }
    for (i = 0; i < 20; i++) {
        while (rc->ok == seen)
            rc->failed |= pthread_cond_wait(&rc->progress, &rc->lock) != 0;
        seen = rc->ok;
        rc->failed |= pthread_mutex_unlock(&rc->lock) != 0;
        sleep_ms(i % 3); /* 0, 1 or 2 ms into the next call */
        gb_client_cancel(rc->c);
        rc->failed |= pthread_mutex_lock(&rc->lock) != 0;
    }
    rc->done = 1;
    rc->failed |= pthread_mutex_unlock(&rc->lock) != 0;
    return NULL;
}

static void test_cancel_races_calls(void)
{
    long cancelled = 0, other = 0;
    int done = 0;
    pthread_t t;
    race rc;
    gb_client c;
    gb_reply r;
    gb_error err;
    gb_peer p;

    CHECK_INT(gb_peer_start(&p, AF_INET, NULL), 0);
    start_client(&c, p.port, 2000);
    rc.c = &c;
    rc.ok = 0;
    rc.done = 0;
    rc.failed = 0;
    CHECK_INT(pthread_mutex_init(&rc.lock, NULL), 0);
    CHECK_INT(pthread_cond_init(&rc.progress, NULL), 0);
    CHECK_INT(pthread_create(&t, NULL, race_cancels, &rc), 0);
    while (!done) {
        gb_status st = call(&c, GB_OP_INC, "n", &r, &err);

        if (st == GB_ERR_CANCELLED)
            cancelled++;
        else if (st != GB_OK)
            other++;
        CHECK_INT(pthread_mutex_lock(&rc.lock), 0);
        rc.ok += st == GB_OK;
        done = rc.done;
        CHECK_INT(pthread_cond_signal(&rc.progress), 0);
        CHECK_INT(pthread_mutex_unlock(&rc.lock), 0);
    }
    CHECK_INT(pthread_join(t, NULL), 0);
    CHECK(!rc.failed);
    CHECK(rc.ok >= 20);
    CHECK(cancelled > 0);
    CHECK_INT(other, 0);
    /* The last cancel may have ended the connection between calls. */
    if (call(&c, GB_OP_PING, NULL, &r, &err) == GB_ERR_CANCELLED)
        CHECK(!err.request_sent);
    CHECK_STATUS(call(&c, GB_OP_PING, NULL, &r, &err), GB_OK);
    CHECK_INT(pthread_cond_destroy(&rc.progress), 0);
    CHECK_INT(pthread_mutex_destroy(&rc.lock), 0);
    gb_client_free(&c);
    gb_peer_stop(&p);
}

void test_cancel(void)
{
    RUN(test_cancel_ends_a_hung_call);
    RUN(test_cancel_ends_a_pipeline);
    RUN(test_cancel_between_calls);
    RUN(test_cancel_during_connect);
    RUN(test_cancel_races_calls);
}
