/*
 * One connection to a Gibson server: the protocol and the transport joined,
 * plus the connection policy. That policy is deliberately simple: after any
 * transport or protocol failure the socket is closed, so no later reply can
 * be mistaken for the answer to an earlier request, and the next request
 * connects again. Nothing is ever re-sent by the library: whether a request
 * may be retried is the caller's decision (err->request_sent helps).
 */
#define _POSIX_C_SOURCE 200809L

#include "gb_internal.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Largest write of whole frames in one pipeline step (a bigger single frame
   is still sent whole), and the room offered to each pipelined read. */
#define GB_PIPE_CHUNK (256u * 1024u)
#define GB_PIPE_READ_ROOM (256u * 1024u)

void gb_client_config_default(gb_client_config *config)
{
    config->host = GB_DEFAULT_HOST;
    config->port = GB_DEFAULT_PORT;
    config->unix_path = NULL;
    config->timeout_ms = 1000;
    config->connect_timeout_ms = 1000;
    config->max_reply_size = GB_DEFAULT_MAX_REPLY_SIZE;
    gb_limits_default(&config->limits);
}

static char *copy_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);

    if (copy != NULL)
        memcpy(copy, s, n);
    return copy;
}

gb_status gb_client_init(gb_client *c, const gb_client_config *config, gb_error *err)
{
    gb_client_config defaults;

    if (config == NULL) {
        gb_client_config_default(&defaults);
        config = &defaults;
    }
    gb_error_clear(err);
    c->fd = -1;
    c->port = config->port;
    c->timeout_ms = config->timeout_ms;
    c->connect_timeout_ms = config->connect_timeout_ms;
    c->limits = config->limits;
    c->pipe_mark = 0;
    c->deadline_ms = -1;
    c->opcode = 0;
    c->intr.fn = NULL;
    c->intr.arg = NULL;
    c->cancelled = 0;
    c->connecting = 0;
    c->last_request_ms = 0;
    c->check_next = 1;
    gb_buffer_init(&c->out);
    gb_reader_init(&c->reader, config->max_reply_size);
    c->host = NULL;
    c->unix_path = NULL;
    if (pthread_mutex_init(&c->guard, NULL) != 0) {
        gb_reader_free(&c->reader);
        return gb_fail(err, GB_ERR_NOMEM, 0, "could not create the client's mutex");
    }
    c->host = copy_string(config->host != NULL ? config->host : GB_DEFAULT_HOST);
    c->unix_path = config->unix_path != NULL ? copy_string(config->unix_path) : NULL;
    if (c->host == NULL || (config->unix_path != NULL && c->unix_path == NULL)) {
        free(c->host);
        free(c->unix_path);
        c->host = NULL;
        c->unix_path = NULL;
        gb_reader_free(&c->reader);
        (void)pthread_mutex_destroy(&c->guard); /* unlocked: cannot fail */
        return gb_fail(err, GB_ERR_NOMEM, 0, "out of memory copying the client configuration");
    }
    return GB_OK;
}

void gb_client_set_interrupt(gb_client *c, gb_interrupt_fn fn, void *arg)
{
    c->intr.fn = fn;
    c->intr.arg = arg;
}

void gb_client_free(gb_client *c)
{
    if (c->host == NULL)
        return; /* freed already (host is set once init succeeds) */
    gb_client_close(c);
    free(c->host);
    free(c->unix_path);
    c->host = NULL;
    c->unix_path = NULL;
    gb_buffer_free(&c->out);
    gb_reader_free(&c->reader);
    /* Fails only on a mutex still locked, which no call can leave. */
    (void)pthread_mutex_destroy(&c->guard);
}

/* ---- The guard: gb_client_cancel against the descriptor's changes ------- */

/* pthread_mutex_lock fails only on a mutex that was never initialised or
   is corrupted: going on unguarded could shut down a stranger's socket. */
static void lock_guard(gb_client *c)
{
    if (pthread_mutex_lock(&c->guard) != 0)
        abort();
}

static void unlock_guard(gb_client *c)
{
    if (pthread_mutex_unlock(&c->guard) != 0)
        abort();
}

/*
 * Detach the descriptor from the client and return it (-1 if none): once
 * c->fd is -1 under the guard, gb_client_cancel can no longer reach it, so
 * the caller may close it without the guard held. *cancelled (may be NULL)
 * says whether gb_client_cancel had ended the connection.
 */
static int take_fd(gb_client *c, int *cancelled)
{
    int fd;

    lock_guard(c);
    fd = c->fd;
    c->fd = -1;
    if (cancelled != NULL)
        *cancelled = c->cancelled;
    c->cancelled = 0;
    unlock_guard(c);
    return fd;
}

void gb_client_cancel(gb_client *c)
{
    lock_guard(c);
    if (c->fd >= 0 || c->connecting)
        c->cancelled = 1;
    /* Shut down, never close: the descriptor is the calling thread's, which
       closes it under the guard. Fails only when the peer is gone already,
       and then the waits end anyway. */
    if (c->fd >= 0)
        (void)shutdown(c->fd, SHUT_RDWR);
    unlock_guard(c);
}

static gb_status cancelled_error(gb_error *err)
{
    return gb_fail(err, GB_ERR_CANCELLED, 0,
                   "the connection was ended by gb_client_cancel() from another thread "
                   "during the request");
}

int gb_client_connected(const gb_client *c)
{
    return c->fd >= 0;
}

/*
 * SO_RCVTIMEO runs on the kernel's timer wheel, which rounds a timeout up by
 * as much as an eighth (32 ms of a 300 ms timeout at HZ=250). Asking for 7/8
 * of the request timeout makes it end before the deadline; poll(), which is
 * precise, then waits out the rest.
 */
static int io_timeout(const gb_client *c)
{
    return c->timeout_ms < 0 ? -1 : c->timeout_ms - c->timeout_ms / 8;
}

gb_status gb_client_connect(gb_client *c, gb_error *err)
{
    gb_error scratch;
    int fd, cancelled;

    if (c->fd >= 0)
        return GB_OK;
    if (err == NULL)
        err = &scratch;
    /* A new connection starts from a clean byte stream. */
    gb_reader_reset(&c->reader);
    lock_guard(c);
    c->connecting = 1;
    unlock_guard(c);
    if (c->unix_path != NULL)
        fd = gb_connect_unix(c->unix_path, c->connect_timeout_ms, io_timeout(c), &c->intr, err);
    else
        fd = gb_connect_tcp(c->host, c->port, c->connect_timeout_ms, io_timeout(c), &c->intr,
                            err);
    lock_guard(c);
    c->connecting = 0;
    cancelled = c->cancelled;
    c->cancelled = 0;
    if (!cancelled)
        c->fd = fd;
    unlock_guard(c);
    if (cancelled) {
        gb_socket_close(fd);
        return cancelled_error(err);
    }
    c->check_next = 1; /* a reply sent before any request is looked for too */
    return fd >= 0 ? GB_OK : err->status;
}

void gb_client_close(gb_client *c)
{
    gb_socket_close(take_fd(c, NULL));
    gb_reader_reset(&c->reader);
}

void gb_client_abandon(gb_client *c)
{
    /* A thread of the parent may have held the guard at fork(); it does not
       exist here, so start the guard afresh (as atfork child handlers do).
       It fails only where resources run out, and a guard that may be held
       forever cannot be trusted. */
    if (pthread_mutex_init(&c->guard, NULL) != 0)
        abort();
    /* close() alone: shutdown() would end the connection for the parent
       process too, which still shares it. */
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->cancelled = 0;
    c->connecting = 0;
    gb_reader_reset(&c->reader);
}

/* Name the server in a transport error, which the transport cannot do. */
static void add_peer(const gb_client *c, gb_error *err)
{
    size_t used = strlen(err->message);

    if (c->unix_path != NULL)
        snprintf(err->message + used, sizeof err->message - used, " (unix socket %s)",
                 c->unix_path);
    else
        snprintf(err->message + used, sizeof err->message - used, " (%s:%d)", c->host,
                 c->port);
}

/* The failure policy: a connection that failed is never used again. When
   gb_client_cancel caused the failure, say so instead. */
static gb_status broken(gb_client *c, gb_error *err)
{
    int cancelled;

    gb_socket_close(take_fd(c, &cancelled));
    gb_reader_reset(&c->reader);
    if (cancelled)
        cancelled_error(err);
    add_peer(c, err);
    return err->status;
}

/*
 * Whether the open connection can take the next request. Bytes already
 * buffered, or waiting in the socket, answer no request (a server or proxy
 * out of step, or a reply sent before the request), and EOF means the server
 * hung up while the connection was idle. Looking into the socket costs a
 * system call (recv with MSG_PEEK), 77 user-space instructions or 4 % of a
 * small GET's (callgrind), so it is made when the connection may have been
 * idle: when the ms clock moved since the previous request started (so
 * always after 1 ms or more, at most once per ms between back-to-back
 * requests), and always for the first request on a new connection and
 * after a pipeline.
 */
static int fit_for_reuse(gb_client *c, int64_t now_ms)
{
    if (gb_reader_buffered(&c->reader) != 0)
        return 0;
    if (!c->check_next && now_ms == c->last_request_ms)
        return 1;
    c->check_next = 0;
    return gb_socket_check_idle(c->fd, NULL) == GB_OK;
}

/*
 * Connect, first closing the connection if one is open (unfit for reuse):
 * nothing has been sent, so the request, read or write, goes out once, on
 * the new connection, and no stray bytes are ever read as its reply. A
 * connection that gb_client_cancel ended fails the request instead.
 */
static GB_NOINLINE gb_status replace_connection(gb_client *c, gb_error *err)
{
    if (c->fd >= 0) {
        int cancelled;

        gb_socket_close(take_fd(c, &cancelled));
        gb_reader_reset(&c->reader);
        if (cancelled) {
            cancelled_error(err);
            add_peer(c, err);
            return GB_ERR_CANCELLED;
        }
    }
    return gb_client_connect(c, err);
}

/*
 * The first wait for a reply may be a plain blocking recv() (one syscall,
 * no poll) while SO_RCVTIMEO, set from the request timeout at connect, is
 * sure to end before the deadline. Under 100 ms the kernel's timer ticks
 * are too coarse for that, so short timeouts always poll.
 */
static int may_block_first(const gb_client *c, int64_t deadline_ms)
{
    if (c->timeout_ms < 0)
        return 1;
    if (c->timeout_ms < 100)
        return 0;
    return (deadline_ms - gb_clock_ms()) * 16 >= (int64_t)c->timeout_ms * 15;
}

/* Receive once into the reader: a blocking recv() on the first wait of a
   request when that is safe, else poll() and recv(). At most `cap` bytes. */
static gb_status receive(gb_client *c, size_t cap, int first, gb_error *err)
{
    unsigned char *room;
    size_t room_len, got;
    gb_status st;

    room = gb_reader_space(&c->reader, &room_len, err);
    if (room == NULL)
        return err->status;
    if (room_len > cap)
        room_len = cap;
    if (first && may_block_first(c, c->deadline_ms))
        st = gb_socket_recv_blocking(c->fd, room, room_len, &got, c->deadline_ms, &c->intr,
                                     err);
    else
        st = gb_socket_recv_some(c->fd, room, room_len, &got, c->deadline_ms, &c->intr, err);
    if (st == GB_OK)
        gb_reader_commit(&c->reader, got);
    return st;
}

/* Encode, connect if needed, send in one write, and read until the reply's
   header is in. No more than first_cap bytes are read in the first
   receive. */
static gb_status send_request(gb_client *c, const gb_request *req, size_t first_cap,
                              gb_reply_head *head, gb_error *err)
{
    gb_status st;
    size_t written = 0;
    int first = 1, r = 0;
    int64_t now;

    gb_error_clear(err);
    c->out.len = 0;
    st = gb_encode(&c->out, req, &c->limits, err);
    if (st != GB_OK)
        return st;
    now = gb_clock_ms();
    if (c->fd < 0 || !fit_for_reuse(c, now)) {
        st = replace_connection(c, err);
        if (st != GB_OK)
            return st;
        now = gb_clock_ms(); /* the deadline starts once connected */
    }
    c->last_request_ms = now;
    c->opcode = req->opcode;
    c->deadline_ms = c->timeout_ms < 0 ? -1 : now + c->timeout_ms;
    /* One write holds the whole frame: the server mishandles a length
       prefix that arrives split (§8.1). */
    st = gb_socket_send_all(c->fd, c->out.data, c->out.len, c->deadline_ms, &c->intr, &written,
                            err);
    err->request_sent = written > 0;
    while (st == GB_OK && (r = gb_reader_peek(&c->reader, head, err)) == 0) {
        st = receive(c, first ? first_cap : SIZE_MAX, first, err);
        first = 0;
    }
    if (st == GB_OK && r < 0)
        st = err->status;
    return st != GB_OK ? broken(c, err) : GB_OK;
}

/* After the reply to END the server hangs up; close first so that the next
   call reconnects instead of failing. */
static void end_call(gb_client *c)
{
    if (c->opcode == GB_OP_END)
        gb_socket_close(take_fd(c, NULL));
}

gb_status gb_client_call_head(gb_client *c, const gb_request *req, size_t first_read,
                              gb_reply_head *head, gb_error *err)
{
    gb_error scratch;

    return send_request(c, req, first_read > 0 ? first_read : 1, head,
                        err != NULL ? err : &scratch);
}

gb_status gb_client_call_finish(gb_client *c, const gb_reply_head *head, gb_reply *reply,
                                gb_error *err)
{
    gb_error scratch;
    int r;

    if (head->complete) {
        /* The common case: the reply came whole with its header. */
        gb_reader_take(&c->reader, head, reply);
        end_call(c);
        return GB_OK;
    }
    if (err == NULL)
        err = &scratch;
    while ((r = gb_reader_next(&c->reader, reply, err)) == 0) {
        gb_status st = receive(c, SIZE_MAX, 0, err);

        if (st != GB_OK)
            return broken(c, err);
    }
    if (r < 0)
        return broken(c, err);
    end_call(c);
    return GB_OK;
}

gb_status gb_client_call_finish_into(gb_client *c, const gb_reply_head *head,
                                     unsigned char *dst, gb_error *err)
{
    gb_error scratch;
    size_t done = gb_reader_take_payload(&c->reader, head, dst);

    if (err == NULL)
        err = &scratch;
    while (done < head->size) {
        size_t got;
        gb_status st = gb_socket_recv_some(c->fd, dst + done, head->size - done, &got,
                                           c->deadline_ms, &c->intr, err);

        if (st != GB_OK)
            return broken(c, err);
        done += got;
    }
    end_call(c);
    return GB_OK;
}

gb_status gb_client_call(gb_client *c, const gb_request *req, gb_reply *reply, gb_error *err)
{
    gb_error scratch;
    gb_reply_head head;
    gb_status st;

    if (err == NULL)
        err = &scratch;
    /* Read as much as arrives: the reader grows to hold the whole reply. */
    st = send_request(c, req, SIZE_MAX, &head, err);
    return st != GB_OK ? st : gb_client_call_finish(c, &head, reply, err);
}

gb_status gb_client_check(gb_client *c, const gb_request *req, gb_error *err)
{
    gb_error scratch;

    if (err == NULL)
        err = &scratch;
    gb_error_clear(err);
    c->out.len = 0;
    return gb_encode(&c->out, req, &c->limits, err);
}

gb_status gb_client_pipeline_begin(gb_client *c, gb_error *err)
{
    gb_status st = GB_OK;

    gb_error_clear(err);
    c->pipe_mark = 0;
    c->check_next = 1; /* one system call is nothing to a pipeline */
    if (c->fd < 0 || !fit_for_reuse(c, 0))
        st = replace_connection(c, err);
    /* Whatever the server sends after the pipeline's last reply is looked
       for before the next request. */
    c->check_next = 1;
    return st;
}

/* The end of the frame starting at `at`, or 0 if it is not a whole frame. */
static size_t frame_end(const unsigned char *frames, size_t len, size_t at)
{
    uint32_t n;

    if (len - at < 4)
        return 0;
    n = gb_get_u32le(frames + at);
    if (n < 2 || n > len - at - 4)
        return 0;
    return at + 4 + n;
}

/*
 * Where the next write should stop: on a frame boundary, so that no write
 * ends inside a length prefix, taking whole frames up to `cap` bytes (but
 * always at least the frame under way). Returns 0 on malformed frames.
 */
static size_t chunk_end(gb_client *c, const unsigned char *frames, size_t len, size_t written,
                        size_t cap)
{
    size_t start = c->pipe_mark <= written ? c->pipe_mark : 0;
    size_t end, next;

    for (;;) {
        end = frame_end(frames, len, start);
        if (end == 0)
            return 0;
        if (end > written)
            break;
        start = end;
    }
    c->pipe_mark = start;
    while (end < len) {
        next = frame_end(frames, len, end);
        if (next == 0)
            return 0;
        if (next - written > cap)
            break;
        end = next;
    }
    return end;
}

static unsigned char *pipe_room(gb_client *c, size_t *room, gb_error *err)
{
    unsigned char *p = gb_reader_space(&c->reader, room, err);

    if (p != NULL && *room < GB_PIPE_READ_ROOM &&
        gb_buffer_reserve(&c->reader.buf, GB_PIPE_READ_ROOM) == GB_OK) {
        *room = c->reader.buf.cap - c->reader.buf.len;
        p = c->reader.buf.data + c->reader.buf.len;
    }
    return p;
}

gb_status gb_client_pump(gb_client *c, const unsigned char *frames, size_t frames_len,
                         size_t *written, int64_t deadline_ms, gb_error *err)
{
    gb_error scratch;
    unsigned char *room;
    size_t end = *written, cap, sent = 0, got = 0;
    gb_status st;

    if (err == NULL)
        err = &scratch;
    gb_error_clear(err);
    err->request_sent = *written > 0;
    if (c->fd < 0)
        return gb_fail(err, GB_ERR_NOT_CONNECTED, 0,
                       "the pipeline's connection is closed; replies still due are lost");
    if (*written > frames_len)
        return gb_fail(err, GB_ERR_PROTOCOL, 0, "written is past the end of the frames");
    if (*written < frames_len) {
        size_t chunk = gb_socket_send_chunk_hint(c->fd);

        end = chunk_end(c, frames, frames_len, *written,
                        chunk < GB_PIPE_CHUNK ? chunk : GB_PIPE_CHUNK);
        if (end == 0) {
            gb_fail(err, GB_ERR_PROTOCOL, 0,
                    "the pipeline buffer does not hold whole frames after byte %zu",
                    *written);
            return broken(c, err);
        }
    }
    room = pipe_room(c, &cap, err);
    if (room == NULL)
        return broken(c, err);
    st = gb_socket_exchange(c->fd, frames + *written, end - *written, &sent, room, cap, &got,
                            deadline_ms, &c->intr, err);
    *written += sent;
    gb_reader_commit(&c->reader, got);
    if (*written > 0)
        err->request_sent = 1;
    if (st != GB_OK) {
        /* Keep the reader: complete replies in it are still good. */
        int cancelled;

        gb_socket_close(take_fd(c, &cancelled));
        if (cancelled)
            st = cancelled_error(err);
        add_peer(c, err);
        return st;
    }
    return GB_OK;
}
