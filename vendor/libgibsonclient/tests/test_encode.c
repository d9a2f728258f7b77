/* Request encoding: the request vectors of tests/vectors.txt (§12.1 and
   extras) byte for byte, and every refusal. */
#include "test.h"
#include "vectors.h"

#include <stdint.h>

#define S(lit) lit, sizeof(lit) - 1 /* a literal and its length, NULs included */
#define NONE NULL, 0

/* A vector's fields as gb_encode takes them: an absent key or value is NULL. */
static gb_request make(const gb_vector *v)
{
    gb_request req;

    memset(&req, 0, sizeof req);
    req.opcode = v->opcode;
    req.key = v->key.given ? v->key.b : NULL;
    req.key_len = v->key.len;
    req.value = v->value.given ? v->value.b : NULL;
    req.value_len = v->value.len;
    req.number = v->number;
    req.has_number = v->has_number;
    return req;
}

/* The file's request frames, byte for byte. */
static void test_request_vectors(void)
{
    size_t i, n = 0;

    for (i = 0; i < gb_vectors_n; i++) {
        const gb_vector *v = &gb_vectors[i];
        long before = gb_test_check_failures;
        gb_request req;
        gb_buffer out;
        gb_error err;

        if (v->kind != GB_VEC_REQUEST)
            continue;
        n++;
        req = make(v);
        gb_buffer_init(&out);
        CHECK_STATUS(gb_encode(&out, &req, NULL, &err), GB_OK);
        CHECK_MEM(out.data, out.len, v->wire, v->wire_len);
        gb_buffer_free(&out);
        gb_vector_blame(v, before);
    }
    gb_vectors_check_count(GB_VEC_REQUEST, n);
}

/* Frames append: several requests make one contiguous pipeline buffer. */
static void test_frames_append(void)
{
    const gb_vector *q1 = gb_vector_named("Q1"), *q4 = gb_vector_named("Q4");
    unsigned char want[2 * GB_VEC_WIRE];
    gb_request ping, get;
    gb_buffer out;

    CHECK(q1 != NULL && q4 != NULL);
    if (q1 == NULL || q4 == NULL)
        return;
    memcpy(want, q1->wire, q1->wire_len);
    memcpy(want + q1->wire_len, q4->wire, q4->wire_len);
    ping = make(q1);
    get = make(q4);
    gb_buffer_init(&out);
    CHECK_STATUS(gb_encode(&out, &ping, NULL, NULL), GB_OK);
    CHECK_STATUS(gb_encode(&out, &get, NULL, NULL), GB_OK);
    CHECK_MEM(out.data, out.len, want, q1->wire_len + q4->wire_len);
    gb_buffer_free(&out);
}

static void encode_number(int opcode, int64_t number, const char *text)
{
    gb_limits limits;
    gb_request req;
    gb_buffer out;
    char want[64];
    size_t want_len;

    gb_limits_default(&limits);
    limits.strict_ttl = 0;
    memset(&req, 0, sizeof req);
    req.opcode = opcode;
    req.key = "k";
    req.key_len = 1;
    req.value = "v";
    req.value_len = 1;
    req.number = number;
    req.has_number = 1;
    if (opcode == GB_OP_SET)
        want_len = (size_t)snprintf(want, sizeof want, "%s k v", text);
    else
        want_len = (size_t)snprintf(want, sizeof want, "k %s", text);
    gb_buffer_init(&out);
    CHECK_STATUS(gb_encode(&out, &req, &limits, NULL), GB_OK);
    CHECK_INT(out.len, want_len + 6);
    if (out.len == want_len + 6) {
        CHECK_INT(out.data[0], want_len + 2);
        CHECK_MEM(out.data + 6, out.len - 6, want, want_len);
    }
    gb_buffer_free(&out);
}

static void test_numbers_canonical(void)
{
    encode_number(GB_OP_SET, INT64_MIN, "-9223372036854775808");
    encode_number(GB_OP_SET, INT64_MAX, "9223372036854775807");
    encode_number(GB_OP_TTL, INT64_MIN, "-9223372036854775808");
    encode_number(GB_OP_TTL, -1, "-1");
    encode_number(GB_OP_MTTL, 100000, "100000");
    encode_number(GB_OP_LOCK, INT64_MAX, "9223372036854775807");
    encode_number(GB_OP_MLOCK, 7, "7");
    encode_number(GB_OP_MGET, INT64_MAX, "9223372036854775807");
    encode_number(GB_OP_MGET, 10, "10");
    encode_number(GB_OP_TTL, 0, "0");
}

/* Encode req; expect a refusal with status want, out untouched, and a
   message that says something. */
static void refuse(const gb_request *req, const gb_limits *limits, gb_status want)
{
    gb_buffer out;
    gb_error err;

    gb_buffer_init(&out);
    /* Earlier frames must survive a refusal unchanged. */
    CHECK_STATUS(gb_buffer_reserve(&out, 3), GB_OK);
    memcpy(out.data, "abc", 3);
    out.len = 3;
    gb_error_clear(&err);
    CHECK_STATUS(gb_encode(&out, req, limits, &err), want);
    CHECK_STATUS(err.status, want);
    CHECK(gb_status_is_argument_error(want) || want == GB_ERR_NOMEM);
    CHECK(!gb_status_breaks_connection(want));
    CHECK(strlen(err.message) > 20);
    CHECK_MEM(out.data, out.len, "abc", 3);
    gb_buffer_free(&out);
}

/* The file's frames that gb_encode must not make (Q26, Q27): each refused
   with its status. The server would answer them REPL_ERR. */
static void test_refused_request_vectors(void)
{
    size_t i, n = 0;

    for (i = 0; i < gb_vectors_n; i++) {
        const gb_vector *v = &gb_vectors[i];
        long before = gb_test_check_failures;
        gb_request req;

        if (v->kind != GB_VEC_REFUSED_REQUEST)
            continue;
        n++;
        req = make(v);
        refuse(&req, NULL, v->status);
        gb_vector_blame(v, before);
    }
    gb_vectors_check_count(GB_VEC_REFUSED_REQUEST, n);
}

static gb_request kv(int opcode, const char *key, size_t key_len, const char *value,
                     size_t value_len, int64_t number)
{
    gb_request req;

    memset(&req, 0, sizeof req);
    req.opcode = opcode;
    req.key = key;
    req.key_len = key_len;
    req.value = value;
    req.value_len = value_len;
    req.number = number;
    return req;
}

static void test_refuse_keys(void)
{
    static const int keyed[] = {GB_OP_SET,   GB_OP_TTL,  GB_OP_GET,   GB_OP_DEL,     GB_OP_INC,
                                GB_OP_DEC,   GB_OP_LOCK, GB_OP_UNLOCK, GB_OP_MSET,   GB_OP_MTTL,
                                GB_OP_MGET,  GB_OP_MDEL, GB_OP_MINC,  GB_OP_MDEC,    GB_OP_MLOCK,
                                GB_OP_MUNLOCK, GB_OP_COUNT, GB_OP_META, GB_OP_KEYS};
    size_t i;
    gb_request req;
    gb_buffer out;
    gb_error err;

    for (i = 0; i < sizeof keyed / sizeof keyed[0]; i++) {
        req = kv(keyed[i], S(""), S("size"), 1);
        refuse(&req, NULL, GB_ERR_EMPTY_KEY); /* Q26 for GET */
        req = kv(keyed[i], NULL, 3, S("size"), 1);
        refuse(&req, NULL, GB_ERR_EMPTY_KEY);
        req = kv(keyed[i], S("a b"), S("size"), 1);
        refuse(&req, NULL, GB_ERR_KEY_SPACE);
        req = kv(keyed[i], S(" "), S("size"), 1);
        refuse(&req, NULL, GB_ERR_KEY_SPACE);
    }
    req = kv(GB_OP_GET, S("a b"), NONE, 0);
    gb_buffer_init(&out);
    CHECK_STATUS(gb_encode(&out, &req, NULL, &err), GB_ERR_KEY_SPACE);
    CHECK(strstr(err.message, "space (0x20)") != NULL);
    CHECK(strstr(err.message, "keys cannot contain spaces") != NULL);
    CHECK(out.len == 0 && out.data == NULL);
    gb_buffer_free(&out);
}

/* A frame for a lone-key request, built by hand: the reference against
   which both encoding paths (short keys in a buffer with room, and the
   general one) are checked. */
static size_t lone_key_frame(int opcode, const unsigned char *key, size_t n, unsigned char *dst)
{
    dst[0] = (unsigned char)((n + 2) & 0xff);
    dst[1] = (unsigned char)((n + 2) >> 8);
    dst[2] = dst[3] = 0;
    dst[4] = (unsigned char)(opcode & 0xff);
    dst[5] = (unsigned char)(opcode >> 8);
    memcpy(dst + 6, key, n);
    return n + 6;
}

/* Every key length around the 8-byte words and the short-key limit, with
   every byte value but the space, as a first frame (empty buffer) and after
   another; then a space at each position, and the limits at their edges. */
static void test_lone_keys(void)
{
    static const int lone[] = {GB_OP_GET,  GB_OP_DEL,  GB_OP_INC,  GB_OP_DEC,
                               GB_OP_UNLOCK, GB_OP_MGET, GB_OP_MDEL, GB_OP_MINC,
                               GB_OP_MDEC, GB_OP_MUNLOCK, GB_OP_COUNT, GB_OP_KEYS};
    unsigned char key[80], want[128];
    size_t i, n, at, b = 0;
    gb_limits limits, limits_default;
    gb_request req;
    gb_buffer out;
    gb_error err;

    gb_limits_default(&limits_default);
    for (i = 0; i < sizeof lone / sizeof lone[0]; i++) {
        for (n = 1; n <= sizeof key; n++) {
            size_t k, want_len;
            for (k = 0; k < n; k++, b++)
                key[k] = (unsigned char)(b % 255 + (b % 255 >= 0x20)); /* never 0x20 */
            want_len = lone_key_frame(lone[i], key, n, want);
            req = kv(lone[i], (const char *)key, n, NONE, 0);
            gb_buffer_init(&out);
            CHECK_STATUS(gb_encode(&out, &req, NULL, NULL), GB_OK); /* grows */
            CHECK_MEM(out.data, out.len, want, want_len);
            CHECK_STATUS(gb_encode(&out, &req, NULL, NULL), GB_OK); /* has room */
            CHECK_STATUS(gb_encode_key(&out, lone[i], key, n, &limits_default, NULL), GB_OK);
            CHECK_INT(out.len, 3 * want_len);
            if (out.len == 3 * want_len) {
                CHECK_MEM(out.data + want_len, want_len, want, want_len);
                CHECK_MEM(out.data + 2 * want_len, want_len, want, want_len);
            }
            for (at = 0; at < n; at++) {
                unsigned char keep = key[at];
                key[at] = ' ';
                gb_error_clear(&err);
                CHECK_STATUS(gb_encode(&out, &req, NULL, &err), GB_ERR_KEY_SPACE);
                /* The message names the first space's byte. */
                snprintf((char *)want, sizeof want, "at byte %zu,", at);
                CHECK(strstr(err.message, (const char *)want) != NULL);
                gb_error_clear(&err);
                CHECK_STATUS(gb_encode_key(&out, lone[i], key, n, &limits_default, &err),
                             GB_ERR_KEY_SPACE);
                CHECK(strstr(err.message, (const char *)want) != NULL);
                CHECK_INT(out.len, 3 * want_len);
                key[at] = keep;
            }
            gb_buffer_free(&out);
        }
    }

    /* The limits, with room in the buffer so that the short path is asked. */
    memset(key, 'k', sizeof key);
    gb_limits_default(&limits);
    limits.max_key_size = 10;
    req = kv(GB_OP_GET, (const char *)key, 10, NONE, 0);
    gb_buffer_init(&out);
    CHECK_STATUS(gb_buffer_reserve(&out, 1024), GB_OK);
    CHECK_STATUS(gb_encode(&out, &req, &limits, NULL), GB_OK);
    req.key_len = 11;
    CHECK_STATUS(gb_encode(&out, &req, &limits, NULL), GB_ERR_KEY_TOO_LONG);
    gb_limits_default(&limits);
    limits.max_request_size = 2 + 10; /* the length field counts the opcode */
    req.key_len = 10;
    CHECK_STATUS(gb_encode(&out, &req, &limits, NULL), GB_OK);
    req.key_len = 11;
    CHECK_STATUS(gb_encode(&out, &req, &limits, NULL), GB_ERR_FRAME_TOO_LARGE);
    CHECK_INT(out.len, 2 * 16);
    CHECK_STATUS(gb_encode_key(&out, GB_OP_GET, key, 11, &limits, NULL),
                 GB_ERR_FRAME_TOO_LARGE);
    CHECK_INT(out.len, 2 * 16);
    /* gb_encode_key of an opcode that needs more than a key refuses as
       gb_encode would; NULL limits are the defaults. */
    CHECK_STATUS(gb_encode_key(&out, GB_OP_SET, key, 3, NULL, NULL), GB_ERR_EMPTY_VALUE);
    CHECK_STATUS(gb_encode_key(&out, 99, key, 3, NULL, NULL), GB_ERR_BAD_OPCODE);
    CHECK_STATUS(gb_encode_key(&out, GB_OP_GET, key, 0, NULL, NULL), GB_ERR_EMPTY_KEY);
    CHECK_STATUS(gb_encode_key(&out, GB_OP_GET, NULL, 0, &limits, NULL), GB_ERR_EMPTY_KEY);
    CHECK_INT(out.len, 2 * 16);
    CHECK_STATUS(gb_encode_key(&out, GB_OP_PING, key, 3, NULL, NULL), GB_OK); /* key unused */
    CHECK_INT(out.len, 2 * 16 + 6);
    out.len = 2 * 16;
    /* MGET with a limit is not a lone key. */
    req = kv(GB_OP_MGET, S("f"), NONE, 1);
    req.has_number = 1;
    CHECK_STATUS(gb_encode(&out, &req, NULL, NULL), GB_OK);
    CHECK_INT(out.len, 2 * 16 + 9);
    gb_buffer_free(&out);
}

static void test_refuse_key_length(void)
{
    char key[600];
    gb_limits limits;
    gb_request req;
    gb_buffer out;

    memset(key, 'k', sizeof key);
    gb_limits_default(&limits);
    gb_buffer_init(&out);
    /* Up to max_key_size is fine; one more would be cut by the server. */
    req = kv(GB_OP_GET, key, 512, NONE, 0);
    CHECK_STATUS(gb_encode(&out, &req, NULL, NULL), GB_OK);
    req.key_len = 513;
    refuse(&req, NULL, GB_ERR_KEY_TOO_LONG);
    req = kv(GB_OP_MGET, key, 513, NONE, 0);
    refuse(&req, NULL, GB_ERR_KEY_TOO_LONG);

    /* SET: the TTL text and its space share the budget (§2.2). With
       max_key_size 8 and TTL "0", 6 bytes are the most. */
    limits.max_key_size = 8;
    req = kv(GB_OP_SET, key, 6, S("v"), 0);
    CHECK_STATUS(gb_encode(&out, &req, &limits, NULL), GB_OK);
    req.key_len = 7;
    refuse(&req, &limits, GB_ERR_KEY_TOO_LONG);
    req.number = 3600; /* "3600 " leaves 3 */
    req.key_len = 3;
    CHECK_STATUS(gb_encode(&out, &req, &limits, NULL), GB_OK);
    req.key_len = 4;
    refuse(&req, &limits, GB_ERR_KEY_TOO_LONG);
    req = kv(GB_OP_TTL, key, 8, NONE, 5);
    CHECK_STATUS(gb_encode(&out, &req, &limits, NULL), GB_OK);
    req.key_len = 9;
    refuse(&req, &limits, GB_ERR_KEY_TOO_LONG);
    /* A budget the TTL alone uses up. */
    limits.max_key_size = 2;
    req = kv(GB_OP_SET, key, 1, S("v"), 10);
    refuse(&req, &limits, GB_ERR_KEY_TOO_LONG);
    /* 0 switches the check off. */
    limits.max_key_size = 0;
    req = kv(GB_OP_GET, key, sizeof key, NONE, 0);
    CHECK_STATUS(gb_encode(&out, &req, &limits, NULL), GB_OK);
    gb_buffer_free(&out);
}

static void test_refuse_values(void)
{
    gb_limits limits;
    gb_request req;
    gb_buffer out;

    gb_limits_default(&limits);
    gb_buffer_init(&out);
    req = kv(GB_OP_SET, S("e"), S(""), 0); /* Q27 */
    refuse(&req, NULL, GB_ERR_EMPTY_VALUE);
    req = kv(GB_OP_SET, S("e"), NULL, 4, 0);
    refuse(&req, NULL, GB_ERR_EMPTY_VALUE);
    req = kv(GB_OP_MSET, S("p"), S(""), 0);
    refuse(&req, NULL, GB_ERR_EMPTY_VALUE);
    req = kv(GB_OP_META, S("k"), S(""), 0);
    refuse(&req, NULL, GB_ERR_EMPTY_VALUE);

    limits.max_value_size = 4;
    req = kv(GB_OP_SET, S("k"), S("1234"), 0);
    CHECK_STATUS(gb_encode(&out, &req, &limits, NULL), GB_OK);
    req = kv(GB_OP_SET, S("k"), S("12345"), 0);
    refuse(&req, &limits, GB_ERR_VALUE_TOO_LONG);
    req = kv(GB_OP_MSET, S("k"), S("12345"), 0);
    refuse(&req, &limits, GB_ERR_VALUE_TOO_LONG);
    /* The META field is not a value. */
    req = kv(GB_OP_META, S("k"), S("encoding"), 0);
    CHECK_STATUS(gb_encode(&out, &req, &limits, NULL), GB_OK);
    /* Spaces inside a value are fine: the value is the rest of the payload. */
    req = kv(GB_OP_MSET, S("k"), S(" a "), 0);
    CHECK_STATUS(gb_encode(&out, &req, NULL, NULL), GB_OK);
    gb_buffer_free(&out);
}

static void test_refuse_numbers(void)
{
    static const int ttl_ops[] = {GB_OP_SET, GB_OP_TTL, GB_OP_MTTL};
    gb_limits lax;
    gb_request req;
    gb_buffer out;
    size_t i;

    gb_limits_default(&lax);
    lax.strict_ttl = 0;
    gb_buffer_init(&out);
    for (i = 0; i < 3; i++) {
        req = kv(ttl_ops[i], S("k"), S("v"), 0);
        CHECK_STATUS(gb_encode(&out, &req, NULL, NULL), GB_OK);
        req.number = GB_TTL_MAX;
        CHECK_STATUS(gb_encode(&out, &req, NULL, NULL), GB_OK);
        req.number = GB_TTL_MAX + 1;
        refuse(&req, NULL, GB_ERR_BAD_TTL);
        CHECK_STATUS(gb_encode(&out, &req, &lax, NULL), GB_OK);
        req.number = -1;
        refuse(&req, NULL, GB_ERR_BAD_TTL);
        CHECK_STATUS(gb_encode(&out, &req, &lax, NULL), GB_OK);
        req.number = INT64_MIN;
        refuse(&req, NULL, GB_ERR_BAD_TTL);
    }
    req = kv(GB_OP_LOCK, S("k"), NONE, -1);
    CHECK_STATUS(gb_encode(&out, &req, NULL, NULL), GB_OK);
    req.number = -2;
    refuse(&req, NULL, GB_ERR_BAD_LOCK);
    req = kv(GB_OP_MLOCK, S("k"), NONE, INT64_MIN);
    refuse(&req, NULL, GB_ERR_BAD_LOCK);

    req = kv(GB_OP_MGET, S("k"), NONE, 0);
    req.has_number = 1;
    refuse(&req, NULL, GB_ERR_BAD_LIMIT);
    req.number = -1;
    refuse(&req, NULL, GB_ERR_BAD_LIMIT);
    req.number = 1;
    CHECK_STATUS(gb_encode(&out, &req, NULL, NULL), GB_OK);
    gb_buffer_free(&out);
}

static void test_refuse_meta_fields(void)
{
    static const char *const good[] = {"size", "encoding", "access", "created",
                                       "ttl",  "left",     "lock"};
    static const char *const bad[] = {"l", "lo", "s", "sizeX", "SIZE", "size ", "bogus", "tt"};
    gb_request req;
    gb_buffer out;
    gb_error err;
    size_t i;

    gb_buffer_init(&out);
    for (i = 0; i < sizeof good / sizeof good[0]; i++) {
        req = kv(GB_OP_META, S("k"), good[i], strlen(good[i]), 0);
        CHECK_STATUS(gb_encode(&out, &req, NULL, NULL), GB_OK);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        req = kv(GB_OP_META, S("k"), bad[i], strlen(bad[i]), 0);
        refuse(&req, NULL, GB_ERR_BAD_FIELD);
    }
    req = kv(GB_OP_META, S("k"), S("si\0ze"), 0);
    refuse(&req, NULL, GB_ERR_BAD_FIELD);
    gb_encode(&out, &req, NULL, &err);
    CHECK(strstr(err.message, "'si?ze'") != NULL);
    gb_buffer_free(&out);
}

static void test_refuse_opcodes(void)
{
    static const int bad[] = {0, 22, 100, 254, 256, -1, 511, 0x7fffffff};
    gb_request req;
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        req = kv(bad[i], S("k"), S("v"), 0);
        refuse(&req, NULL, GB_ERR_BAD_OPCODE);
    }
}

static void test_refuse_frame_size(void)
{
    static char big[1000];
    gb_limits limits;
    gb_request req;
    gb_buffer out;

    gb_limits_default(&limits);
    memset(big, 'v', sizeof big);
    gb_buffer_init(&out);
    /* length field = 2 + "0 k " + value */
    limits.max_request_size = 2 + 4 + 100;
    req = kv(GB_OP_SET, S("k"), big, 100, 0);
    CHECK_STATUS(gb_encode(&out, &req, &limits, NULL), GB_OK);
    CHECK_INT(out.len, 4 + 2 + 4 + 100);
    req.value_len = 101;
    refuse(&req, &limits, GB_ERR_FRAME_TOO_LARGE);
    /* Lengths that overflow size_t arithmetic are refused, not wrapped. */
    req.value_len = SIZE_MAX - 2;
    refuse(&req, NULL, GB_ERR_FRAME_TOO_LARGE);
    limits.max_request_size = 0; /* only the 32-bit length field remains */
    req.value_len = (size_t)UINT32_MAX;
    refuse(&req, &limits, GB_ERR_FRAME_TOO_LARGE);
    gb_buffer_free(&out);
}

static void test_status_helpers(void)
{
    gb_error err;
    int s;

    for (s = GB_OK; s <= GB_ERR_NOMEM; s++)
        CHECK(strncmp(gb_status_name((gb_status)s), "GB_", 3) == 0);
    CHECK(strcmp(gb_status_name(GB_ERR_KEY_SPACE), "GB_ERR_KEY_SPACE") == 0);
    CHECK(strcmp(gb_status_name((gb_status)999), "GB_ERR_UNKNOWN") == 0);
    CHECK(!gb_status_is_argument_error(GB_OK));
    CHECK(gb_status_is_argument_error(GB_ERR_EMPTY_KEY));
    CHECK(gb_status_is_argument_error(GB_ERR_FRAME_TOO_LARGE));
    CHECK(!gb_status_is_argument_error(GB_ERR_PROTOCOL));
    CHECK(gb_status_breaks_connection(GB_ERR_PROTOCOL));
    CHECK(gb_status_breaks_connection(GB_ERR_TIMEOUT));
    CHECK(gb_status_breaks_connection(GB_ERR_CLOSED));
    CHECK(!gb_status_breaks_connection(GB_OK));
    CHECK(!gb_status_breaks_connection(GB_ERR_KEY_SPACE));
    err.status = GB_ERR_IO;
    err.sys_errno = 5;
    err.request_sent = 1;
    strcpy(err.message, "x");
    gb_error_clear(&err);
    CHECK(err.status == GB_OK && err.sys_errno == 0 && err.request_sent == 0);
    CHECK(err.message[0] == '\0');
    gb_error_clear(NULL);
}

void test_encode(void)
{
    RUN(test_request_vectors);
    RUN(test_refused_request_vectors);
    RUN(test_frames_append);
    RUN(test_numbers_canonical);
    RUN(test_refuse_keys);
    RUN(test_lone_keys);
    RUN(test_refuse_key_length);
    RUN(test_refuse_values);
    RUN(test_refuse_numbers);
    RUN(test_refuse_meta_fields);
    RUN(test_refuse_opcodes);
    RUN(test_refuse_frame_size);
    RUN(test_status_helpers);
}
