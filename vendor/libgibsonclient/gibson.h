/*
 * libgibsonclient: a client library for the Gibson cache server.
 *
 * This is the one public header. The library has three layers:
 *
 *   protocol.c   encodes requests and parses replies; no I/O at all, so the
 *                same code serves blocking, non-blocking and asyncio callers;
 *   transport.c  sockets, deadlines and poll(); knows nothing of opcodes;
 *   client.c     a connection: one of each, plus reconnect and pipelining.
 *
 * Every function reports failure through a gb_status and, where it takes one,
 * a gb_error owned by the caller: the library keeps no global state.
 *
 * Wire facts come from the protocol description (docs/protocol.md); section numbers
 * in comments refer to it.
 */
#ifndef GIBSON_H
#define GIBSON_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GB_VERSION "2.0.0"

/* ---- Wire constants ---------------------------------------------------- */

#define GB_DEFAULT_HOST "127.0.0.1"
#define GB_DEFAULT_PORT 10128

/* The real server's compiled defaults (§9.1). */
#define GB_DEFAULT_MAX_KEY_SIZE 512u
#define GB_DEFAULT_MAX_REQUEST_SIZE 4194304u
/* Our own cap on one reply: a larger size field is treated as garbage. */
#define GB_DEFAULT_MAX_REPLY_SIZE (64u * 1024u * 1024u)

/* The server stores TTLs in a signed 16-bit field (§5): only these survive. */
#define GB_TTL_MAX 32767

#define GB_FRAME_HEADER_SIZE 6 /* uint32 length + int16 opcode */
#define GB_REPLY_HEADER_SIZE 7 /* uint16 code + uint8 encoding + uint32 size */

/* The opcodes, GB_OP_SET = 1 .. GB_OP_KEYS = 21 and GB_OP_END = 255, from
 * the one list of operations (operations.def). */
typedef enum gb_opcode {
#define GB_OPERATION(NAME, OPCODE, ...) GB_OP_##NAME = OPCODE,
#define GB_ALIAS(...)
#include "operations.def"
#undef GB_OPERATION
#undef GB_ALIAS
} gb_opcode;

typedef enum gb_reply_code {
    GB_REPL_ERR = 0,
    GB_REPL_ERR_NOT_FOUND = 1,
    GB_REPL_ERR_NAN = 2,
    GB_REPL_ERR_MEM = 3,
    GB_REPL_ERR_LOCKED = 4,
    GB_REPL_OK = 5,
    GB_REPL_VAL = 6,
    GB_REPL_KVAL = 7
} gb_reply_code;

typedef enum gb_encoding {
    GB_ENC_PLAIN = 0,
    GB_ENC_LZF = 1, /* never valid on the wire (§3.2) */
    GB_ENC_NUMBER = 2
} gb_encoding;

/* ---- Status and errors ------------------------------------------------- */

typedef enum gb_status {
    GB_OK = 0,

    /* Refused before anything was sent: the request's arguments. */
    GB_ERR_EMPTY_KEY,       /* key or prefix is empty */
    GB_ERR_KEY_SPACE,       /* key or prefix holds a space, which splits it */
    GB_ERR_KEY_TOO_LONG,    /* key over max_key_size: the server would cut it */
    GB_ERR_EMPTY_VALUE,     /* empty value or META field: the server refuses it */
    GB_ERR_VALUE_TOO_LONG,  /* value over the configured max_value_size */
    GB_ERR_BAD_TTL,         /* TTL outside 0..GB_TTL_MAX while strict_ttl is on */
    GB_ERR_BAD_LOCK,        /* lock time below -1: the server would store a no-op */
    GB_ERR_BAD_LIMIT,       /* MGET limit below 1 */
    GB_ERR_BAD_FIELD,       /* META field not one of the seven full names */
    GB_ERR_BAD_OPCODE,      /* not one of the 22 operations */
    GB_ERR_FRAME_TOO_LARGE, /* frame over max_request_size */

    /* The reply. */
    GB_ERR_PROTOCOL,        /* malformed reply: unknown code or encoding, bad
                               number width, a key-value pair cut short */
    GB_ERR_REPLY_TOO_LARGE, /* reply size field over max_reply_size */

    /* The transport. */
    GB_ERR_RESOLVE,         /* getaddrinfo failed */
    GB_ERR_CONNECT,         /* could not connect (refused, unreachable, ...) */
    GB_ERR_TIMEOUT,         /* the deadline passed */
    GB_ERR_CLOSED,          /* the peer closed the connection (EOF or reset) */
    GB_ERR_IO,              /* any other socket error */
    GB_ERR_NOT_CONNECTED,   /* no connection and none could be made */
    GB_ERR_INTERRUPTED,     /* a signal came during a wait and the interrupt
                               hook asked to stop (gb_interrupt) */
    GB_ERR_CANCELLED,       /* gb_client_cancel() ended the connection */

    GB_ERR_NOMEM            /* an allocation failed */
} gb_status;

#define GB_ERROR_MESSAGE_SIZE 256

typedef struct gb_error {
    gb_status status;
    int sys_errno;     /* errno of the failing system call, or 0 */
    int request_sent;  /* 1 if any byte of the failed request reached the
                          socket: the server may have executed it */
    char message[GB_ERROR_MESSAGE_SIZE]; /* what happened and what to do */
} gb_error;

/* A short constant name such as "GB_ERR_KEY_SPACE". */
const char *gb_status_name(gb_status status);
/* Resets err to GB_OK with an empty message. */
void gb_error_clear(gb_error *err);
/* True for the statuses that refuse a request before sending it. */
int gb_status_is_argument_error(gb_status status);
/* True for the statuses after which the connection is unusable (the
 * protocol and transport errors). GB_ERR_NOMEM is not among them: it may
 * come from encoding, with the connection untouched; gb_client closes the
 * connection itself when memory runs out in the middle of a reply. */
int gb_status_breaks_connection(gb_status status);

/* ---- Growable byte buffer ---------------------------------------------- */

typedef struct gb_buffer {
    unsigned char *data;
    size_t len;
    size_t cap;
} gb_buffer;

void gb_buffer_init(gb_buffer *buf);
void gb_buffer_free(gb_buffer *buf);
/* Make room for at least `extra` more bytes after len. GB_OK or GB_ERR_NOMEM. */
gb_status gb_buffer_reserve(gb_buffer *buf, size_t extra);

/* ---- Protocol: encoding requests (protocol.c) ---------------------------- */

typedef struct gb_limits {
    size_t max_key_size;     /* GB_DEFAULT_MAX_KEY_SIZE; 0: not checked */
    size_t max_request_size; /* GB_DEFAULT_MAX_REQUEST_SIZE: largest length field;
                                0: only the 32-bit field's own limit */
    size_t max_value_size;   /* 0: not checked (the SET echo still tells) */
    int strict_ttl;          /* 1: refuse TTLs outside 0..GB_TTL_MAX */
} gb_limits;

void gb_limits_default(gb_limits *limits);

/*
 * One request. Which fields matter depends on the opcode:
 *   key          every opcode but STATS, PING and END (a prefix for M*, COUNT, KEYS)
 *   value        SET and MSET (the value), META (the field name)
 *   number       SET, TTL, MTTL: the TTL in seconds; LOCK, MLOCK: seconds
 *                (-1 = until UNLOCK); MGET: the limit when has_number is set
 *   has_number   MGET only: 0 = no limit
 * Numbers go on the wire as canonical decimal text.
 */
typedef struct gb_request {
    int opcode;
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
    int64_t number;
    int has_number;
} gb_request;

/*
 * Validate req against limits and append one complete frame to out: the
 * 4-byte length, the opcode and the payload, contiguous, so that the caller
 * can hand it to the kernel in one write (§8.1). On any refusal out->len is
 * unchanged, err says why, and the status is one of the argument errors (or
 * GB_ERR_NOMEM).
 */
gb_status gb_encode(gb_buffer *out, const gb_request *req, const gb_limits *limits,
                    gb_error *err); /* limits NULL: gb_limits_default */

/*
 * gb_encode of a request that is an opcode and a key alone, without filling
 * a gb_request: the same frame, checks and errors. Meant for the commonest
 * requests (GET, DEL, INC, DEC, UNLOCK, MDEL, MINC, MDEC, MUNLOCK, COUNT,
 * KEYS, MGET without a limit), which it encodes in one pass; any other
 * opcode is refused as gb_encode would refuse it with only the key given.
 */
gb_status gb_encode_key(gb_buffer *out, int opcode, const void *key, size_t key_len,
                        const gb_limits *limits, gb_error *err);

/* ---- Protocol: parsing replies (protocol.c) ------------------------------ */

typedef struct gb_reply {
    int code;                  /* gb_reply_code */
    int encoding;              /* GB_ENC_PLAIN or GB_ENC_NUMBER */
    const unsigned char *data; /* payload; see gb_reader_next for its lifetime */
    size_t size;
    int64_t number;            /* the decoded value when encoding is NUMBER */
} gb_reply;

/*
 * Accumulates received bytes and cuts them into replies. Bytes may arrive in
 * any split, one at a time included. Replies stay contiguous in `buf`, so a
 * caller can receive straight into gb_reader_space() and build its result
 * from reply.data with a single copy.
 */
typedef struct gb_reader {
    gb_buffer buf;         /* received bytes; buf.data[pos..buf.len) unconsumed */
    size_t pos;
    size_t max_reply_size; /* size fields above this are a protocol error */
} gb_reader;

/* max_reply_size 0 means GB_DEFAULT_MAX_REPLY_SIZE. */
void gb_reader_init(gb_reader *r, size_t max_reply_size);
void gb_reader_free(gb_reader *r);
/* Forget every buffered byte (after a broken connection). */
void gb_reader_reset(gb_reader *r);
/* Number of received bytes not yet returned as replies. */
size_t gb_reader_buffered(const gb_reader *r);

/* Copy bytes in (for callers that received them elsewhere). */
gb_status gb_reader_feed(gb_reader *r, const void *data, size_t len, gb_error *err);
/*
 * Writable room at the end of the buffer, for recv() to fill; *room is set to
 * its size (at least 1). When the current reply's header is known, the room
 * is grown to hold the whole reply, so a large payload needs no further copy.
 * Returns NULL with GB_ERR_NOMEM in err on allocation failure.
 */
unsigned char *gb_reader_space(gb_reader *r, size_t *room, gb_error *err);
/* Declare that n bytes were written into the room just returned. */
void gb_reader_commit(gb_reader *r, size_t n);

/*
 * Take the next complete reply. Returns 1 and fills *reply, 0 when more bytes
 * are needed, -1 on a malformed reply (err: GB_ERR_PROTOCOL or
 * GB_ERR_REPLY_TOO_LARGE; the reader is then unusable until reset).
 * The header is checked as soon as its 7 bytes are here, so an oversized or
 * garbled reply is refused before anything is allocated for it.
 * reply->data stays valid until the next gb_reader_feed, gb_reader_space,
 * gb_reader_reset or gb_reader_free on r; gb_reader_next may be called
 * repeatedly to take several buffered replies, each staying valid.
 */
int gb_reader_next(gb_reader *r, gb_reply *reply, gb_error *err);

/* A reply's header, known before its payload has arrived. */
typedef struct gb_reply_head {
    int code;      /* gb_reply_code */
    int encoding;  /* GB_ENC_PLAIN or GB_ENC_NUMBER */
    size_t size;   /* of the payload */
    int complete;  /* the whole payload is buffered too */
} gb_reply_head;

/*
 * Look at the next reply's header without taking anything: 1 when its 7
 * bytes are buffered and valid (checked as gb_reader_next checks them), 0
 * when more bytes are needed, -1 on a malformed header (err set).
 */
int gb_reader_peek(const gb_reader *r, gb_reply_head *head, gb_error *err);

/*
 * Take the next reply, whose header gb_reader_peek just returned in head,
 * into a buffer of the caller's: copies the part of its payload that is
 * buffered (at most head->size bytes) into dst and consumes the header and
 * that part. Returns the count copied; the remaining head->size - count
 * bytes are the next bytes of the stream, for the caller to receive
 * straight into dst + count before anything else is read. This is how a
 * large value reaches its final buffer (a Python bytes, say) with no copy
 * but the part that arrived with the header.
 */
size_t gb_reader_take_payload(gb_reader *r, const gb_reply_head *head, unsigned char *dst);

/* Take the next reply, whose header gb_reader_peek just returned with
 * head->complete set, as gb_reader_next would, without checking the header
 * again. */
void gb_reader_take(gb_reader *r, const gb_reply_head *head, gb_reply *reply);

/* Decode a NUMBER of 1, 2, 4 or 8 bytes, signed little-endian (§3.3).
 * Returns 0, or -1 for any other width. */
int gb_decode_number(const unsigned char *data, size_t size, int64_t *out);

/* ---- Protocol: key-value sets (MGET, KEYS, STATS; §3.4) ------------------ */

typedef struct gb_kv_pair {
    const unsigned char *key;
    size_t key_len;
    int encoding;              /* GB_ENC_PLAIN or GB_ENC_NUMBER */
    const unsigned char *value;
    size_t value_len;
    int64_t number;            /* the decoded value when encoding is NUMBER */
} gb_kv_pair;

typedef struct gb_kv_iter {
    const unsigned char *p;
    const unsigned char *end;
    uint32_t count;            /* pairs the reply announces */
    uint32_t taken;            /* pairs returned so far */
} gb_kv_iter;

/* Start iterating over a KVAL payload. 0, or -1 (GB_ERR_PROTOCOL) when the
 * payload is shorter than its 4-byte count. */
int gb_kv_begin(gb_kv_iter *it, const unsigned char *payload, size_t size, gb_error *err);
/*
 * 1 and *pair filled; 0 at the end, which is when `count` pairs were read or
 * when the payload ends cleanly between pairs (the server's MGET may announce
 * more pairs than it sends, §3.4: then `taken < count` at the end, and the
 * caller decides; pygibson asks again once, then raises); -1
 * (GB_ERR_PROTOCOL) when a pair is cut short, has a bad encoding or bad
 * number width, or bytes follow the last pair.
 */
int gb_kv_next(gb_kv_iter *it, gb_kv_pair *pair, gb_error *err);

/* ---- Transport (transport.c) ------------------------------------------- */

/*
 * What a blocking call does when a signal interrupts its wait (poll() or
 * recv() fails with EINTR: a handler installed without SA_RESTART ran).
 * `fn` is called on the waiting thread with `arg`: 0 resumes the wait with
 * the same deadline, nothing lost; nonzero ends the call with
 * GB_ERR_INTERRUPTED. A NULL gb_interrupt, or a NULL fn, always resumes, so
 * that signals neither cut a deadline short nor stretch it.
 *
 * A language runtime uses it to run its own signal handlers: pygibson's hook
 * takes the GIL, runs PyErr_CheckSignals() and stops when a handler raised
 * (Ctrl-C's KeyboardInterrupt).
 */
typedef int (*gb_interrupt_fn)(void *arg);
typedef struct gb_interrupt {
    gb_interrupt_fn fn;
    void *arg;
} gb_interrupt;

/* Monotonic clock in milliseconds, for deadlines. */
int64_t gb_clock_ms(void);
/* The deadline `timeout_ms` from now, or -1 (none) when timeout_ms < 0. */
int64_t gb_deadline_after(int timeout_ms);

/*
 * Connect and return a non-negative file descriptor, or -1 with err set.
 * TCP resolves `host` with getaddrinfo (IPv4 and IPv6, each address tried in
 * turn), sets TCP_NODELAY. timeout_ms < 0 waits as long as the system does.
 * The socket is close-on-exec. `io_timeout_ms` (< 0: none) bounds each later
 * blocking send or receive as a backstop under the request deadline. intr
 * (may be NULL) decides whether a signal ends the wait for the connection.
 */
int gb_connect_tcp(const char *host, int port, int timeout_ms, int io_timeout_ms,
                   const gb_interrupt *intr, gb_error *err);
int gb_connect_unix(const char *path, int timeout_ms, int io_timeout_ms,
                    const gb_interrupt *intr, gb_error *err);

/* Close, first telling the peer (shutdown). */
void gb_socket_close(int fd);

/*
 * The functions below that wait take an optional gb_interrupt (NULL: signals
 * never end the wait). After GB_ERR_INTERRUPTED their progress counts
 * (*written, *got) are exact, so a caller may also call again to go on.
 */

/* Write all of buf before the deadline (-1: none). Never raises SIGPIPE.
 * *written (may be NULL) says how many bytes left before an error. */
gb_status gb_socket_send_all(int fd, const void *buf, size_t len, int64_t deadline_ms,
                             const gb_interrupt *intr, size_t *written, gb_error *err);
/* Receive at least one byte (at most cap) before the deadline. EOF and
 * connection resets give GB_ERR_CLOSED, never a zero-byte success. */
gb_status gb_socket_recv_some(int fd, void *buf, size_t cap, size_t *got,
                              int64_t deadline_ms, const gb_interrupt *intr, gb_error *err);
/* Like gb_socket_recv_some, but the first wait is a plain blocking recv()
 * (one syscall, no poll) bounded by the SO_RCVTIMEO set at connect. Use it
 * only when that bound does not overshoot the deadline by much; if the
 * socket timeout ends early, or a signal comes (and intr says go on), it
 * goes on with poll(). */
gb_status gb_socket_recv_blocking(int fd, void *buf, size_t cap, size_t *got,
                                  int64_t deadline_ms, const gb_interrupt *intr,
                                  gb_error *err);
/* Whether a connection with no request under way is fit for the next one,
 * without waiting or consuming anything: GB_OK when nothing is waiting to be
 * read; GB_ERR_PROTOCOL when bytes are (a reply nobody asked for: the
 * stream is out of step), GB_ERR_CLOSED on EOF or a reset, GB_ERR_IO on
 * another socket error. */
gb_status gb_socket_check_idle(int fd, gb_error *err);
/* How many bytes a write right after poll() reports POLLOUT will very likely
 * take whole (from the socket's send buffer size; at least 4096). */
size_t gb_socket_send_chunk_hint(int fd);

/*
 * One step of a pipelined exchange: wait (poll) until the socket can take
 * output (while out has bytes left) or has input, then write as much of out
 * as the kernel takes and read what has arrived into in. Sets *written and
 * *got (either may be 0, not both). Reads are never held back by pending
 * writes: the server stops reading while it writes (§8.1). The transport
 * knows nothing of frames: client.c passes an out_len that ends on a frame
 * boundary, so that no write ends inside a 4-byte length prefix.
 */
gb_status gb_socket_exchange(int fd, const void *out, size_t out_len, size_t *written,
                             void *in, size_t in_cap, size_t *got, int64_t deadline_ms,
                             const gb_interrupt *intr, gb_error *err);

/* ---- Client: one connection (client.c) ----------------------------------- */

typedef struct gb_client_config {
    const char *host;          /* TCP host name or address (copied) */
    int port;
    const char *unix_path;     /* if not NULL, a unix socket is used (copied) */
    int timeout_ms;            /* deadline of each whole request; < 0: none */
    int connect_timeout_ms;    /* < 0: none */
    size_t max_reply_size;     /* GB_DEFAULT_MAX_REPLY_SIZE */
    gb_limits limits;
} gb_client_config;

void gb_client_config_default(gb_client_config *config);

typedef struct gb_client {
    int fd;                    /* -1 while not connected */
    char *host;
    int port;
    char *unix_path;
    int timeout_ms;
    int connect_timeout_ms;
    gb_limits limits;
    gb_buffer out;             /* the frame(s) being sent */
    gb_reader reader;
    size_t pipe_mark;          /* gb_client_pump: start of the frame being sent */
    int64_t deadline_ms;       /* of the call under way */
    int opcode;                /* of the call under way */
    int64_t last_request_ms;   /* when the previous request started */
    int check_next;            /* look for stray bytes before the next request */
    gb_interrupt intr;         /* gb_client_set_interrupt */
    /* gb_client_cancel, the one function another thread may call: fd
       changes and the two fields below are guarded by `guard`, held only
       for a few instructions. */
    pthread_mutex_t guard;
    int cancelled;             /* the connection (or the connect under way)
                                  was cancelled; cleared when it closes */
    int connecting;            /* gb_client_connect is waiting */
} gb_client;

/* Copy the configuration; does not connect. */
gb_status gb_client_init(gb_client *c, const gb_client_config *config, gb_error *err);
/*
 * Let signals end the client's calls: every wait of every later call
 * (connecting, sending, receiving, pumping a pipeline) asks fn(arg) after a
 * signal, as gb_interrupt describes. When fn asks to stop, the call fails
 * with GB_ERR_INTERRUPTED and the connection is closed, since how much of
 * the request or its reply went through is unknown; the next call
 * reconnects. fn NULL (the default) restores the plain behaviour: waits go
 * on across signals. arg may be changed between calls (pygibson passes the
 * calling thread's state in it).
 */
void gb_client_set_interrupt(gb_client *c, gb_interrupt_fn fn, void *arg);
/* Close the connection and free everything. */
void gb_client_free(gb_client *c);
/*
 * End the connection from another thread, at once: the one call that may
 * be made on c while another thread uses it. The connection is shut down
 * (not closed: the descriptor stays the calling thread's), which wakes a
 * call waiting to send or receive; that call, or, if none is under way, the
 * next call that would use the connection, fails with GB_ERR_CANCELLED
 * (err->request_sent as usual) and closes it; the call after reconnects. A
 * connect under way is not woken: it fails with GB_ERR_CANCELLED when it
 * ends. With no connection and no connect under way it does nothing. c
 * must stay valid (not freed) until it returns.
 */
void gb_client_cancel(gb_client *c);

int gb_client_connected(const gb_client *c);
/* Connect now if not connected. */
gb_status gb_client_connect(gb_client *c, gb_error *err);
/* Close the connection; the next request reconnects. */
void gb_client_close(gb_client *c);
/* In a forked child: drop the inherited socket without shutdown(), which
 * would also end the parent's connection; the next request reconnects. */
void gb_client_abandon(gb_client *c);

/*
 * One request and its reply, within the client's timeout. Connects first if
 * needed. The request is encoded (and refused, with nothing sent, if its
 * arguments are bad), written in one send, and its reply read.
 * On success *reply is the server's reply, whatever its code; its payload
 * stays valid until the next call on c. On a transport or protocol error the
 * connection is closed, err->request_sent says whether the server may have
 * executed the request, and the next call reconnects: a reply is never taken
 * from a connection that has failed. After END's reply the client closes
 * the connection itself (the server hangs up), so the next call reconnects.
 * Before sending on a connection that may have been idle (the ms clock
 * moved since the previous request; always the first request on a new
 * connection and the first after a pipeline), gb_socket_check_idle looks
 * for bytes that answer no request, or EOF: then the connection is
 * replaced before anything is sent, and the request goes out once, on the
 * new one. Bytes already buffered are always seen. A signal during a wait:
 * gb_client_set_interrupt; another thread ending the call:
 * gb_client_cancel.
 * The first wait for the reply is a blocking recv() bounded by SO_RCVTIMEO
 * (set at connect to 7/8 of timeout_ms), then poll() for what is left: in
 * the common case a call costs one send() and one recv().
 */
gb_status gb_client_call(gb_client *c, const gb_request *req, gb_reply *reply, gb_error *err);

/*
 * The checks gb_client_call makes of req before any I/O (gb_encode against
 * the client's limits), alone: GB_OK, or the argument error it would give.
 * For a caller that connects on its own before calling (to retry refused
 * connects), so that a bad argument is reported as such and not as the
 * connect failure. The frame is left in the client's output buffer, which
 * the next call overwrites.
 */
gb_status gb_client_check(gb_client *c, const gb_request *req, gb_error *err);

/*
 * gb_client_call in two steps, for callers that want a large payload in a
 * buffer of their own: gb_client_call_head sends the request (as
 * gb_client_call does) and reads until the reply's header is in, reading at
 * most first_read bytes in its first receive (GB_CALL_HEAD_READ leaves most
 * of a large payload in the socket; SIZE_MAX takes all that has arrived, for
 * a reply that will go through the reader anyway); then exactly one of
 *   - gb_client_call_finish: the rest into the reader, *reply as
 *     gb_client_call gives it (no I/O at all when head->complete);
 *   - gb_client_call_finish_into: the payload into dst, which has room for
 *     head->size bytes, received there directly.
 * Both keep the call's deadline and its failure policy. After a failure of
 * gb_client_call_head there is nothing to finish.
 */
gb_status gb_client_call_head(gb_client *c, const gb_request *req, size_t first_read,
                              gb_reply_head *head, gb_error *err);
/* first_read for gb_client_call_head when a large payload may go to the
   caller's buffer: small replies still arrive whole in one receive. */
#define GB_CALL_HEAD_READ (16u * 1024u)
gb_status gb_client_call_finish(gb_client *c, const gb_reply_head *head, gb_reply *reply,
                                gb_error *err);
gb_status gb_client_call_finish_into(gb_client *c, const gb_reply_head *head,
                                     unsigned char *dst, gb_error *err);

/*
 * Pipelining: the caller encodes many frames into a buffer with gb_encode,
 * then calls gb_client_pipeline_begin once and gb_client_pump until all
 * replies are taken, taking the replies that have arrived after each pump with
 * gb_reader_next(&c->reader, ...). Writes and reads progress together, so a
 * pipeline of any size cannot deadlock (§8.1). gb_client_pipeline_begin
 * always checks a reused connection as gb_client_call may (one recv), and
 * the first call after the pipeline checks again. On any error the connection is
 * closed; replies that arrived before it can still be taken from c->reader
 * (it is reset when the next connection opens). `*written` is the count of
 * bytes of frames sent so far: start it at 0 and pass the same frames buffer
 * to every pump of one pipeline. deadline_ms (-1: none) bounds this pump.
 * Frames that do not parse as whole frames give GB_ERR_PROTOCOL.
 */
gb_status gb_client_pipeline_begin(gb_client *c, gb_error *err);
gb_status gb_client_pump(gb_client *c, const unsigned char *frames, size_t frames_len,
                         size_t *written, int64_t deadline_ms, gb_error *err);

#ifdef __cplusplus
}
#endif

#endif /* GIBSON_H */
