/*
 * The Gibson wire protocol: request encoding, reply parsing, key-value sets.
 * No I/O happens here, so the same code serves blocking and event-driven
 * callers and can be fuzzed on its own. Section numbers refer to docs/protocol.md.
 */
#include "gb_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Status and errors ------------------------------------------------- */

const char *gb_status_name(gb_status status)
{
    switch (status) {
    case GB_OK: return "GB_OK";
    case GB_ERR_EMPTY_KEY: return "GB_ERR_EMPTY_KEY";
    case GB_ERR_KEY_SPACE: return "GB_ERR_KEY_SPACE";
    case GB_ERR_KEY_TOO_LONG: return "GB_ERR_KEY_TOO_LONG";
    case GB_ERR_EMPTY_VALUE: return "GB_ERR_EMPTY_VALUE";
    case GB_ERR_VALUE_TOO_LONG: return "GB_ERR_VALUE_TOO_LONG";
    case GB_ERR_BAD_TTL: return "GB_ERR_BAD_TTL";
    case GB_ERR_BAD_LOCK: return "GB_ERR_BAD_LOCK";
    case GB_ERR_BAD_LIMIT: return "GB_ERR_BAD_LIMIT";
    case GB_ERR_BAD_FIELD: return "GB_ERR_BAD_FIELD";
    case GB_ERR_BAD_OPCODE: return "GB_ERR_BAD_OPCODE";
    case GB_ERR_FRAME_TOO_LARGE: return "GB_ERR_FRAME_TOO_LARGE";
    case GB_ERR_PROTOCOL: return "GB_ERR_PROTOCOL";
    case GB_ERR_REPLY_TOO_LARGE: return "GB_ERR_REPLY_TOO_LARGE";
    case GB_ERR_RESOLVE: return "GB_ERR_RESOLVE";
    case GB_ERR_CONNECT: return "GB_ERR_CONNECT";
    case GB_ERR_TIMEOUT: return "GB_ERR_TIMEOUT";
    case GB_ERR_CLOSED: return "GB_ERR_CLOSED";
    case GB_ERR_IO: return "GB_ERR_IO";
    case GB_ERR_NOT_CONNECTED: return "GB_ERR_NOT_CONNECTED";
    case GB_ERR_INTERRUPTED: return "GB_ERR_INTERRUPTED";
    case GB_ERR_CANCELLED: return "GB_ERR_CANCELLED";
    case GB_ERR_NOMEM: return "GB_ERR_NOMEM";
    }
    return "GB_ERR_UNKNOWN";
}

void gb_error_clear(gb_error *err)
{
    if (err == NULL)
        return;
    err->status = GB_OK;
    err->sys_errno = 0;
    err->request_sent = 0;
    err->message[0] = '\0';
}

int gb_status_is_argument_error(gb_status status)
{
    return status >= GB_ERR_EMPTY_KEY && status <= GB_ERR_FRAME_TOO_LARGE;
}

int gb_status_breaks_connection(gb_status status)
{
    return status >= GB_ERR_PROTOCOL && status <= GB_ERR_CANCELLED;
}

gb_status gb_fail(gb_error *err, gb_status status, int sys_errno, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return status;
    err->status = status;
    err->sys_errno = sys_errno;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return status;
}

/* ---- Growable byte buffer ---------------------------------------------- */

void gb_buffer_init(gb_buffer *buf)
{
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
}

void gb_buffer_free(gb_buffer *buf)
{
    free(buf->data);
    gb_buffer_init(buf);
}

gb_status gb_buffer_reserve(gb_buffer *buf, size_t extra)
{
    size_t need, cap;
    unsigned char *data;

    if (buf->cap - buf->len >= extra)
        return GB_OK;
    if (extra > SIZE_MAX - buf->len)
        return GB_ERR_NOMEM;
    need = buf->len + extra;
    /* Doubling keeps a long run of small appends linear overall. */
    cap = buf->cap < 256 ? 256 : buf->cap;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    data = realloc(buf->data, cap);
    if (data == NULL)
        return GB_ERR_NOMEM;
    buf->data = data;
    buf->cap = cap;
    return GB_OK;
}

/* ---- Little-endian helpers --------------------------------------------- */

static void put_u32le(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v & 0xff);
    p[1] = (unsigned char)((v >> 8) & 0xff);
    p[2] = (unsigned char)((v >> 16) & 0xff);
    p[3] = (unsigned char)((v >> 24) & 0xff);
}

static uint64_t get_uint_le(const unsigned char *p, size_t n)
{
    uint64_t v = 0;

    while (n-- > 0)
        v = (v << 8) | p[n];
    return v;
}

/* ---- Encoding requests --------------------------------------------------- */

void gb_limits_default(gb_limits *limits)
{
    limits->max_key_size = GB_DEFAULT_MAX_KEY_SIZE;
    limits->max_request_size = GB_DEFAULT_MAX_REQUEST_SIZE;
    limits->max_value_size = 0;
    limits->strict_ttl = 1;
}

/* How the server splits each opcode's payload (§2.2). */
typedef enum payload_shape {
    SHAPE_EMPTY,      /* STATS, PING, END */
    SHAPE_KEY,        /* key */
    SHAPE_KEY_NUMBER, /* key SP number */
    SHAPE_KEY_VALUE,  /* key SP value */
    SHAPE_KEY_LIMIT,  /* key [SP limit] */
    SHAPE_SET         /* ttl SP key SP value */
} payload_shape;

/* What the number means, which decides how it is checked. */
typedef enum number_kind { NUMBER_NONE, NUMBER_TTL, NUMBER_LOCK, NUMBER_LIMIT } number_kind;

typedef struct op_info {
    int opcode;
    const char *name;
    payload_shape shape;
    number_kind number;
    int is_prefix; /* the key is a prefix: only changes the wording of errors */
} op_info;

/* operations.def's SHAPE column: the payload layout and the number's meaning. */
#define SHAPE_OF_EMPTY SHAPE_EMPTY, NUMBER_NONE
#define SHAPE_OF_KEY SHAPE_KEY, NUMBER_NONE
#define SHAPE_OF_KEY_TTL SHAPE_KEY_NUMBER, NUMBER_TTL
#define SHAPE_OF_KEY_LOCK SHAPE_KEY_NUMBER, NUMBER_LOCK
#define SHAPE_OF_KEY_VALUE SHAPE_KEY_VALUE, NUMBER_NONE
#define SHAPE_OF_KEY_FIELD SHAPE_KEY_VALUE, NUMBER_NONE
#define SHAPE_OF_KEY_LIMIT SHAPE_KEY_LIMIT, NUMBER_LIMIT
#define SHAPE_OF_SET SHAPE_SET, NUMBER_TTL

static const op_info OPS[] = {
#define GB_OPERATION(NAME, OPCODE, SHAPE, PREFIX, ...) \
    {GB_OP_##NAME, #NAME, SHAPE_OF_##SHAPE, PREFIX},
#define GB_ALIAS(...)
#include "operations.def"
#undef GB_OPERATION
#undef GB_ALIAS
};

/* The server matches META fields by prefix (§6), so only full names are safe. */
static const char *const META_FIELDS[] = {"size", "encoding", "access", "created",
                                          "ttl",  "left",     "lock"};

#define INT64_TEXT_MAX 20 /* "-9223372036854775808" */

/* OPS holds opcodes 1..21 in order, then END: an index, not a search, on
   the path of every request. */
static const op_info *find_op(int opcode)
{
    if (opcode >= GB_OP_SET && opcode <= GB_OP_KEYS)
        return &OPS[opcode - GB_OP_SET];
    if (opcode == GB_OP_END)
        return &OPS[GB_OP_KEYS];
    return NULL;
}

/* Canonical decimal: the server's parser reads "012" as 0 (§2.3). */
static size_t format_int64(char *dst, int64_t v)
{
    char digits[INT64_TEXT_MAX];
    size_t n = 0, len = 0;
    /* Unsigned negation: INT64_MIN has no positive int64 counterpart. */
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    do {
        digits[n++] = (char)('0' + (int)(mag % 10));
        mag /= 10;
    } while (mag != 0);
    if (v < 0)
        dst[len++] = '-';
    while (n > 0)
        dst[len++] = digits[--n];
    return len;
}

/* Caller bytes made safe to quote in a message. */
static void printable(char *dst, size_t cap, const unsigned char *src, size_t len)
{
    size_t i, n = len < cap - 1 ? len : cap - 1;

    for (i = 0; i < n; i++)
        dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? (char)src[i] : '?';
    dst[n] = '\0';
}

static int add_size(size_t *acc, size_t n)
{
    if (n > SIZE_MAX - *acc)
        return -1;
    *acc += n;
    return 0;
}

static gb_status check_key(const op_info *op, const gb_request *req, const gb_limits *limits,
                           size_t ttl_text_len, gb_error *err)
{
    const char *what = op->is_prefix ? "prefix" : "key";
    const unsigned char *space;
    size_t budget = limits->max_key_size;

    if (req->key == NULL || req->key_len == 0)
        return gb_fail(err, GB_ERR_EMPTY_KEY, 0,
                       "%s needs a non-empty %s; the server refuses an empty one%s", op->name,
                       what, op->is_prefix ? " (there is no 'match everything' prefix)" : "");
    space = memchr(req->key, ' ', req->key_len);
    if (space != NULL)
        return gb_fail(err, GB_ERR_KEY_SPACE, 0,
                       "%s contains a space (0x20) at byte %zu, which the server treats as a "
                       "separator; %ss cannot contain spaces",
                       what, (size_t)(space - (const unsigned char *)req->key), what);
    if (budget == 0)
        return GB_OK;
    if (op->shape == SHAPE_SET) {
        /* The TTL text and its space share the key's scan budget (§2.2). */
        budget = budget > ttl_text_len + 1 ? budget - ttl_text_len - 1 : 0;
        if (req->key_len > budget)
            return gb_fail(err, GB_ERR_KEY_TOO_LONG, 0,
                           "key is %zu bytes; with this TTL SET allows at most %zu "
                           "(max_key_size %zu less the %zu-byte TTL and its space), and the "
                           "server would silently cut a longer key; use a shorter key",
                           req->key_len, budget, limits->max_key_size, ttl_text_len);
    } else if (req->key_len > budget) {
        return gb_fail(err, GB_ERR_KEY_TOO_LONG, 0,
                       "%s is %zu bytes, over max_key_size %zu; the server would silently cut "
                       "it, so use a shorter %s (or raise max_key_size to match the server)",
                       what, req->key_len, budget, what);
    }
    return GB_OK;
}

static gb_status check_number(const op_info *op, const gb_request *req, const gb_limits *limits,
                              gb_error *err)
{
    switch (op->number) {
    case NUMBER_TTL:
        if (limits->strict_ttl && (req->number < 0 || req->number > GB_TTL_MAX))
            return gb_fail(err, GB_ERR_BAD_TTL, 0,
                           "TTL %" PRId64 " is outside 0..%d: the server keeps TTLs in 16 "
                           "bits, so larger values wrap (65537 expires after 1 s) and negative "
                           "ones never expire; use 0 for no expiry, or turn strict_ttl off to "
                           "send it anyway",
                           req->number, GB_TTL_MAX);
        break;
    case NUMBER_LOCK:
        if (req->number < -1)
            return gb_fail(err, GB_ERR_BAD_LOCK, 0,
                           "lock time %" PRId64 " is below -1, which the server stores as a "
                           "lock that does nothing; use -1 to lock until UNLOCK, or seconds",
                           req->number);
        break;
    case NUMBER_LIMIT:
        if (req->has_number && req->number < 1)
            return gb_fail(err, GB_ERR_BAD_LIMIT, 0,
                           "MGET limit %" PRId64 " is below 1; leave the limit out to get "
                           "every match",
                           req->number);
        break;
    case NUMBER_NONE:
        break;
    }
    return GB_OK;
}

static int is_meta_field(const unsigned char *field, size_t len)
{
    size_t i;

    for (i = 0; i < sizeof META_FIELDS / sizeof META_FIELDS[0]; i++)
        if (strlen(META_FIELDS[i]) == len && memcmp(META_FIELDS[i], field, len) == 0)
            return 1;
    return 0;
}

static gb_status check_value(const op_info *op, const gb_request *req, const gb_limits *limits,
                             gb_error *err)
{
    char shown[40];
    int is_meta = op->opcode == GB_OP_META;

    if (op->shape != SHAPE_SET && op->shape != SHAPE_KEY_VALUE)
        return GB_OK;
    if ((req->value == NULL || req->value_len == 0) && is_meta)
        return gb_fail(err, GB_ERR_EMPTY_VALUE, 0,
                       "META needs a field: one of size, encoding, access, created, ttl, "
                       "left, lock");
    if (req->value == NULL || req->value_len == 0)
        return gb_fail(err, GB_ERR_EMPTY_VALUE, 0,
                       "%s needs a non-empty value; the server cannot store an empty one",
                       op->name);
    if (is_meta) {
        if (is_meta_field(req->value, req->value_len))
            return GB_OK;
        printable(shown, sizeof shown, req->value, req->value_len);
        return gb_fail(err, GB_ERR_BAD_FIELD, 0,
                       "META field '%s' is not one of size, encoding, access, created, ttl, "
                       "left, lock; the server matches prefixes, so anything else may select "
                       "the wrong field",
                       shown);
    }
    if (limits->max_value_size != 0 && req->value_len > limits->max_value_size)
        return gb_fail(err, GB_ERR_VALUE_TOO_LONG, 0,
                       "value is %zu bytes, over max_value_size %zu; the server would "
                       "silently truncate it",
                       req->value_len, limits->max_value_size);
    return GB_OK;
}

/* Payload bytes for op, or -1 when the sum cannot be represented. */
static int payload_size(const op_info *op, const gb_request *req, size_t num_len, size_t *out)
{
    size_t n = 0;
    int bad = 0;

    switch (op->shape) {
    case SHAPE_EMPTY:
        break;
    case SHAPE_KEY:
        n = req->key_len;
        break;
    case SHAPE_KEY_LIMIT:
        n = req->key_len;
        if (req->has_number)
            bad |= add_size(&n, 1 + num_len);
        break;
    case SHAPE_KEY_NUMBER:
        n = req->key_len;
        bad |= add_size(&n, 1 + num_len);
        break;
    case SHAPE_KEY_VALUE:
        n = req->key_len;
        bad |= add_size(&n, 1);
        bad |= add_size(&n, req->value_len);
        break;
    case SHAPE_SET:
        n = num_len + 2;
        bad |= add_size(&n, req->key_len);
        bad |= add_size(&n, req->value_len);
        break;
    }
    *out = n;
    return bad ? -1 : 0;
}

static unsigned char *put_bytes(unsigned char *p, const void *src, size_t len)
{
    if (len > 0)
        memcpy(p, src, len);
    return p + len;
}

static void write_payload(unsigned char *p, const op_info *op, const gb_request *req,
                          const char *num, size_t num_len)
{
    switch (op->shape) {
    case SHAPE_EMPTY:
        break;
    case SHAPE_KEY:
        put_bytes(p, req->key, req->key_len);
        break;
    case SHAPE_KEY_LIMIT:
        p = put_bytes(p, req->key, req->key_len);
        if (req->has_number) {
            *p++ = ' ';
            put_bytes(p, num, num_len);
        }
        break;
    case SHAPE_KEY_NUMBER:
        p = put_bytes(p, req->key, req->key_len);
        *p++ = ' ';
        put_bytes(p, num, num_len);
        break;
    case SHAPE_KEY_VALUE:
        p = put_bytes(p, req->key, req->key_len);
        *p++ = ' ';
        put_bytes(p, req->value, req->value_len);
        break;
    case SHAPE_SET:
        p = put_bytes(p, num, num_len);
        *p++ = ' ';
        p = put_bytes(p, req->key, req->key_len);
        *p++ = ' ';
        put_bytes(p, req->value, req->value_len);
        break;
    }
}

/* Keys up to this long take the lone-key path; longer ones are rare, and
   memchr and memcpy serve them better. */
#define LONE_KEY_MAX 64

/* Whether any of the 8 bytes in `word` is a space: a byte is zero after the
   XOR exactly where it was 0x20, and the classic test finds a zero byte. */
static int word_has_space(uint64_t word)
{
    const uint64_t ones = UINT64_C(0x0101010101010101);
    uint64_t x = word ^ (ones * ' ');

    return ((x - ones) & ~x & (ones << 7)) != 0;
}

/* The commonest request, an operation on one key (GET, INC, DEL, ...), in
   one pass that copies the key and looks for a space at once. Returns 1
   when the frame was appended; 0 when the request must take the general
   path, which refuses exactly what this one does not accept and words the
   error, so that the two can never disagree on what is sent. */
static inline int encode_lone_key(gb_buffer *out, const op_info *op, const unsigned char *key,
                                  size_t n, const gb_limits *limits)
{
    size_t frame = 2 + n, i = 0;
    unsigned char *p;
    uint64_t word;
    int space = 0;

    if (key == NULL || n == 0 || n > LONE_KEY_MAX ||
        (limits->max_key_size != 0 && n > limits->max_key_size) ||
        (limits->max_request_size != 0 && frame > limits->max_request_size))
        return 0;
    /* Growing is left to the general path, which checks before it
       allocates: a refused request leaves the buffer as it was. */
    if (out->cap - out->len < 4 + frame)
        return 0;
    p = out->data + out->len;
    put_u32le(p, (uint32_t)frame);
    p[4] = (unsigned char)(op->opcode & 0xff);
    p[5] = (unsigned char)((op->opcode >> 8) & 0xff);
    p += GB_FRAME_HEADER_SIZE;
    if (n >= 8) {
        for (; i + 8 < n; i += 8) {
            memcpy(&word, key + i, 8);
            memcpy(p + i, &word, 8);
            space |= word_has_space(word);
        }
        /* The last 8 bytes, overlapping the word before if need be: no
           byte-by-byte tail. */
        memcpy(&word, key + n - 8, 8);
        memcpy(p + n - 8, &word, 8);
        space |= word_has_space(word);
    } else {
        for (; i < n; i++) {
            p[i] = key[i];
            space |= key[i] == ' ';
        }
    }
    if (space)
        return 0;
    out->len += 4 + frame;
    return 1;
}

/* Every check, then the frame: any request. Kept out of line so that the
   lone-key path does not pay for this one's stack frame. */
static GB_NOINLINE gb_status encode_checked(gb_buffer *out, const op_info *op,
                                            const gb_request *req, const gb_limits *limits,
                                            gb_error *err)
{
    char num[INT64_TEXT_MAX];
    size_t num_len = 0, payload, frame;
    gb_status st;
    unsigned char *p;

    if (op == NULL)
        return gb_fail(err, GB_ERR_BAD_OPCODE, 0,
                       "opcode %d is not a Gibson operation; the server would drop the "
                       "connection",
                       req->opcode);
    if (op->number != NUMBER_NONE)
        num_len = format_int64(num, req->number);
    if (op->shape != SHAPE_EMPTY) {
        st = check_key(op, req, limits, num_len, err);
        if (st != GB_OK)
            return st;
    }
    st = check_number(op, req, limits, err);
    if (st == GB_OK)
        st = check_value(op, req, limits, err);
    if (st != GB_OK)
        return st;

    frame = 2;
    if (payload_size(op, req, num_len, &payload) != 0 || add_size(&frame, payload) != 0 ||
        frame > UINT32_MAX ||
        (limits->max_request_size != 0 && frame > limits->max_request_size))
        return gb_fail(err, GB_ERR_FRAME_TOO_LARGE, 0,
                       "%s request is too large for one frame (max_request_size %zu); the "
                       "server would drop the connection, so send a smaller value",
                       op->name, limits->max_request_size);
    if (gb_buffer_reserve(out, 4 + frame) != GB_OK)
        return gb_fail(err, GB_ERR_NOMEM, 0, "out of memory encoding a %zu-byte %s request",
                       frame + 4, op->name);

    p = out->data + out->len;
    put_u32le(p, (uint32_t)frame);
    /* The opcode is an int16 on the wire: END (255) is ff 00. */
    p[4] = (unsigned char)(op->opcode & 0xff);
    p[5] = (unsigned char)((op->opcode >> 8) & 0xff);
    write_payload(p + GB_FRAME_HEADER_SIZE, op, req, num, num_len);
    out->len += 4 + frame;
    return GB_OK;
}

gb_status gb_encode(gb_buffer *out, const gb_request *req, const gb_limits *limits,
                    gb_error *err)
{
    gb_limits defaults;
    const op_info *op = find_op(req->opcode);

    if (limits == NULL) {
        gb_limits_default(&defaults);
        limits = &defaults;
    }
    if (op != NULL &&
        (op->shape == SHAPE_KEY || (op->shape == SHAPE_KEY_LIMIT && !req->has_number)) &&
        encode_lone_key(out, op, req->key, req->key_len, limits))
        return GB_OK;
    return encode_checked(out, op, req, limits, err);
}

/* gb_encode_key's general path, out of line for the same reason. */
static GB_NOINLINE gb_status encode_key_checked(gb_buffer *out, int opcode, const void *key,
                                                size_t key_len, const gb_limits *limits,
                                                gb_error *err)
{
    gb_request req;

    memset(&req, 0, sizeof req);
    req.opcode = opcode;
    req.key = key;
    req.key_len = key_len;
    return gb_encode(out, &req, limits, err);
}

gb_status gb_encode_key(gb_buffer *out, int opcode, const void *key, size_t key_len,
                        const gb_limits *limits, gb_error *err)
{
    const op_info *op = find_op(opcode);

    if (limits != NULL && op != NULL &&
        (op->shape == SHAPE_KEY || op->shape == SHAPE_KEY_LIMIT) &&
        encode_lone_key(out, op, key, key_len, limits))
        return GB_OK;
    return encode_key_checked(out, opcode, key, key_len, limits, err);
}

/* ---- Parsing replies ----------------------------------------------------- */

int gb_decode_number(const unsigned char *data, size_t size, int64_t *out)
{
    uint64_t u, sign;

    if (size != 1 && size != 2 && size != 4 && size != 8)
        return -1;
    u = get_uint_le(data, size);
    sign = (uint64_t)1 << (size * 8 - 1);
    if (u & sign) {
        /* Sign-extend, then negate in unsigned space: no overflow, no
           implementation-defined conversion. */
        if (size < 8)
            u |= ~((sign << 1) - 1);
        *out = -(int64_t)(~u) - 1;
    } else {
        *out = (int64_t)u;
    }
    return 0;
}

/* Readers that do not say get our own cap. */
static size_t reply_cap(const gb_reader *r)
{
    return r->max_reply_size != 0 ? r->max_reply_size : GB_DEFAULT_MAX_REPLY_SIZE;
}

typedef struct reply_header {
    unsigned code;
    unsigned encoding;
    size_t size;
} reply_header;

/* Every check of a 7-byte header, in order, each with its message. */
static GB_NOINLINE int check_header_fully(unsigned code, unsigned encoding, size_t size,
                                          size_t cap, gb_error *err)
{
    if (code > GB_REPL_KVAL) {
        gb_fail(err, GB_ERR_PROTOCOL, 0,
                "reply code %u is not a Gibson reply (0..7): the connection is out of step or "
                "the peer is not a Gibson server",
                code);
        return -1;
    }
    if (encoding != GB_ENC_PLAIN && encoding != GB_ENC_NUMBER) {
        gb_fail(err, GB_ERR_PROTOCOL, 0,
                "reply encoding %u is invalid on the wire (only 0 plain and 2 number; the "
                "server always decompresses LZF)",
                encoding);
        return -1;
    }
    if (code == GB_REPL_KVAL && encoding != GB_ENC_PLAIN) {
        gb_fail(err, GB_ERR_PROTOCOL, 0, "key-value reply with encoding %u instead of 0",
                encoding);
        return -1;
    }
    if (size > cap) {
        gb_fail(err, GB_ERR_REPLY_TOO_LARGE, 0,
                "reply announces %zu bytes, over max_reply_size %zu; raise "
                "max_reply_size if values are really this large, or use an MGET limit",
                size, cap);
        return -1;
    }
    if (code == GB_REPL_VAL && encoding == GB_ENC_NUMBER && size != 1 &&
        size != 2 && size != 4 && size != 8) {
        gb_fail(err, GB_ERR_PROTOCOL, 0,
                "number reply of %zu bytes; only 1, 2, 4 or 8 are valid", size);
        return -1;
    }
    return 0;
}

/* Check a 7-byte header before anything is allocated for its payload. Small
   enough to inline into every reply's path: the usual headers (a plain
   reply, or a number of a valid width) pass one test, and only the rest
   see every check. The quick test accepts nothing the full one refuses. */
static inline int check_header(const gb_reader *r, const unsigned char *p, reply_header *h,
                               gb_error *err)
{
    size_t cap = reply_cap(r);

    /* Keeps header + size representable on 32-bit hosts. */
    if (cap > SIZE_MAX - GB_REPLY_HEADER_SIZE)
        cap = SIZE_MAX - GB_REPLY_HEADER_SIZE;
    h->code = (unsigned)p[0] | ((unsigned)p[1] << 8);
    h->encoding = p[2];
    h->size = gb_get_u32le(p + 3);
    if (h->code <= GB_REPL_KVAL && h->size <= cap &&
        (h->encoding == GB_ENC_PLAIN ||
         (h->encoding == GB_ENC_NUMBER && h->code == GB_REPL_VAL &&
          (h->size == 8 || h->size == 4 || h->size == 2 || h->size == 1))))
        return 0;
    return check_header_fully(h->code, h->encoding, h->size, cap, err);
}

void gb_reader_init(gb_reader *r, size_t max_reply_size)
{
    gb_buffer_init(&r->buf);
    r->pos = 0;
    r->max_reply_size = max_reply_size;
}

void gb_reader_free(gb_reader *r)
{
    gb_buffer_free(&r->buf);
    r->pos = 0;
}

/* Capacity beyond which an empty reader gives its memory back. */
#define GB_READER_KEEP_CAP (8u * 1024u * 1024u)

void gb_reader_reset(gb_reader *r)
{
    r->buf.len = 0;
    r->pos = 0;
    if (r->buf.cap > GB_READER_KEEP_CAP)
        gb_buffer_free(&r->buf);
}

size_t gb_reader_buffered(const gb_reader *r)
{
    return r->buf.len - r->pos;
}

/* Move the unconsumed tail to the front. Only feed, space and reset may do
   this: replies already returned point into the buffer. */
static void compact(gb_reader *r)
{
    size_t left = r->buf.len - r->pos;

    if (r->pos == 0)
        return;
    if (left == 0) {
        gb_reader_reset(r);
        return;
    }
    memmove(r->buf.data, r->buf.data + r->pos, left);
    r->buf.len = left;
    r->pos = 0;
}

gb_status gb_reader_feed(gb_reader *r, const void *data, size_t len, gb_error *err)
{
    compact(r);
    if (len == 0)
        return GB_OK;
    if (gb_buffer_reserve(&r->buf, len) != GB_OK)
        return gb_fail(err, GB_ERR_NOMEM, 0, "out of memory buffering %zu reply bytes", len);
    memcpy(r->buf.data + r->buf.len, data, len);
    r->buf.len += len;
    return GB_OK;
}

unsigned char *gb_reader_space(gb_reader *r, size_t *room, gb_error *err)
{
    size_t want = GB_READER_MIN_ROOM, have;
    reply_header h;

    compact(r);
    have = r->buf.len - r->pos;
    /* Room for the whole reply lets recv() write its payload in place. A bad
       header is left for gb_reader_next to report. */
    if (have >= GB_REPLY_HEADER_SIZE &&
        check_header(r, r->buf.data + r->pos, &h, NULL) == 0 &&
        GB_REPLY_HEADER_SIZE + h.size > have &&
        GB_REPLY_HEADER_SIZE + h.size - have > want)
        want = GB_REPLY_HEADER_SIZE + h.size - have;
    if (gb_buffer_reserve(&r->buf, want) != GB_OK) {
        *room = 0;
        gb_fail(err, GB_ERR_NOMEM, 0, "out of memory making room for %zu reply bytes", want);
        return NULL;
    }
    *room = r->buf.cap - r->buf.len;
    return r->buf.data + r->buf.len;
}

void gb_reader_commit(gb_reader *r, size_t n)
{
    size_t room = r->buf.cap - r->buf.len;

    r->buf.len += n < room ? n : room;
}

/* The reply at the front, whose header was checked and whose payload is
   all buffered, out of the reader. */
static void take_reply(gb_reader *r, unsigned code, unsigned encoding, size_t size,
                       gb_reply *reply)
{
    reply->code = (int)code;
    reply->encoding = (int)encoding;
    reply->data = r->buf.data + r->pos + GB_REPLY_HEADER_SIZE;
    reply->size = size;
    reply->number = 0;
    if (code == GB_REPL_VAL && encoding == GB_ENC_NUMBER)
        gb_decode_number(reply->data, size, &reply->number); /* width checked */
    r->pos += GB_REPLY_HEADER_SIZE + size;
}

int gb_reader_next(gb_reader *r, gb_reply *reply, gb_error *err)
{
    const unsigned char *p = r->buf.data + r->pos;
    size_t have = r->buf.len - r->pos;
    reply_header h;

    if (have < GB_REPLY_HEADER_SIZE)
        return 0;
    if (check_header(r, p, &h, err) != 0)
        return -1;
    if (have - GB_REPLY_HEADER_SIZE < h.size)
        return 0;
    take_reply(r, h.code, h.encoding, h.size, reply);
    return 1;
}

void gb_reader_take(gb_reader *r, const gb_reply_head *head, gb_reply *reply)
{
    take_reply(r, (unsigned)head->code, (unsigned)head->encoding, head->size, reply);
}

int gb_reader_peek(const gb_reader *r, gb_reply_head *head, gb_error *err)
{
    size_t have = r->buf.len - r->pos;
    reply_header h;

    if (have < GB_REPLY_HEADER_SIZE)
        return 0;
    if (check_header(r, r->buf.data + r->pos, &h, err) != 0)
        return -1;
    head->code = (int)h.code;
    head->encoding = (int)h.encoding;
    head->size = h.size;
    head->complete = have - GB_REPLY_HEADER_SIZE >= h.size;
    return 1;
}

size_t gb_reader_take_payload(gb_reader *r, const gb_reply_head *head, unsigned char *dst)
{
    size_t have = r->buf.len - r->pos - GB_REPLY_HEADER_SIZE;
    size_t n = have < head->size ? have : head->size;

    if (n > 0)
        memcpy(dst, r->buf.data + r->pos + GB_REPLY_HEADER_SIZE, n);
    r->pos += GB_REPLY_HEADER_SIZE + n;
    return n;
}

/* ---- Key-value sets ------------------------------------------------------ */

int gb_kv_begin(gb_kv_iter *it, const unsigned char *payload, size_t size, gb_error *err)
{
    if (size < 4 || payload == NULL) {
        gb_fail(err, GB_ERR_PROTOCOL, 0,
                "key-value reply of %zu bytes is too short for its 4-byte count", size);
        return -1;
    }
    it->count = gb_get_u32le(payload);
    it->p = payload + 4;
    it->end = payload + size;
    it->taken = 0;
    return 0;
}

static int kv_cut_short(gb_error *err, uint32_t index, const char *part)
{
    gb_fail(err, GB_ERR_PROTOCOL, 0, "key-value pair %" PRIu32 " is cut short in its %s",
            index, part);
    return -1;
}

int gb_kv_next(gb_kv_iter *it, gb_kv_pair *pair, gb_error *err)
{
    const unsigned char *p = it->p;
    size_t left = (size_t)(it->end - p);
    uint32_t key_len, value_len;
    unsigned encoding;

    if (it->taken >= it->count) {
        if (left == 0)
            return 0;
        gb_fail(err, GB_ERR_PROTOCOL, 0,
                "%zu bytes follow the %" PRIu32 " key-value pairs the reply announced", left,
                it->count);
        return -1;
    }
    /* The server's MGET may announce pairs it then leaves out (§3.4). */
    if (left == 0)
        return 0;
    if (left < 4)
        return kv_cut_short(err, it->taken, "key length");
    key_len = gb_get_u32le(p);
    p += 4;
    left -= 4;
    if (left < key_len)
        return kv_cut_short(err, it->taken, "key");
    pair->key = p;
    pair->key_len = key_len;
    p += key_len;
    left -= key_len;
    if (left < 5)
        return kv_cut_short(err, it->taken, "value header");
    encoding = p[0];
    value_len = gb_get_u32le(p + 1);
    p += 5;
    left -= 5;
    if (left < value_len)
        return kv_cut_short(err, it->taken, "value");
    if (encoding != GB_ENC_PLAIN && encoding != GB_ENC_NUMBER) {
        gb_fail(err, GB_ERR_PROTOCOL, 0, "key-value pair %" PRIu32 " has encoding %u",
                it->taken, encoding);
        return -1;
    }
    pair->encoding = (int)encoding;
    pair->value = p;
    pair->value_len = value_len;
    pair->number = 0;
    if (encoding == GB_ENC_NUMBER && gb_decode_number(p, value_len, &pair->number) != 0) {
        gb_fail(err, GB_ERR_PROTOCOL, 0,
                "key-value pair %" PRIu32 " holds a %" PRIu32 "-byte number; only 1, 2, 4 "
                "or 8 are valid",
                it->taken, value_len);
        return -1;
    }
    it->p = p + value_len;
    it->taken++;
    return 1;
}
