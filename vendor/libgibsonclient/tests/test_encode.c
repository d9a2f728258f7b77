/* Request encoding: the §12.1 vectors byte for byte, and every refusal. */
#include "test.h"

#include <stdint.h>

#define S(lit) lit, sizeof(lit) - 1 /* a literal and its length, NULs included */
#define NONE NULL, 0

typedef struct request_vector {
    const char *name;
    int opcode;
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
    int64_t number;
    int has_number;
    const char *frame_hex;
} request_vector;

static const request_vector VECTORS[] = {
    {"Q1 PING", GB_OP_PING, NONE, NONE, 0, 0, "02000000 1300"},
    {"Q2 STATS", GB_OP_STATS, NONE, NONE, 0, 0, "02000000 1200"},
    {"Q3 END", GB_OP_END, NONE, NONE, 0, 0, "02000000 ff00"},
    {"Q4 GET", GB_OP_GET, S("foo"), NONE, 0, 0, "05000000 0300 666f6f"},
    {"Q5 SET", GB_OP_SET, S("foo"), S("bar"), 0, 0, "0b000000 0100 3020666f6f20626172"},
    {"Q6 SET ttl", GB_OP_SET, S("foo"), S("3.14"), 3600, 0,
     "0f000000 0100 3336303020666f6f20332e3134"},
    {"Q7 SET binary", GB_OP_SET, S("bin"), S("a b\0c"), 0, 0,
     "0d000000 0100 302062696e206120620063"},
    {"Q8 TTL", GB_OP_TTL, S("foo"), NONE, 10, 0, "08000000 0200 666f6f203130"},
    {"Q9 DEL", GB_OP_DEL, S("foo"), NONE, 0, 0, "05000000 0400 666f6f"},
    {"Q10 INC", GB_OP_INC, S("cnt"), NONE, 0, 0, "05000000 0500 636e74"},
    {"Q11 DEC", GB_OP_DEC, S("cnt"), NONE, 0, 0, "05000000 0600 636e74"},
    {"Q12 LOCK", GB_OP_LOCK, S("foo"), NONE, -1, 0, "08000000 0700 666f6f202d31"},
    {"Q13 UNLOCK", GB_OP_UNLOCK, S("foo"), NONE, 0, 0, "05000000 0800 666f6f"},
    {"Q14 MSET", GB_OP_MSET, S("f"), S("baz"), 0, 0, "07000000 0900 662062617a"},
    {"Q15 MTTL", GB_OP_MTTL, S("f"), NONE, 10, 0, "06000000 0a00 66203130"},
    {"Q16 MGET", GB_OP_MGET, S("f"), NONE, 0, 0, "03000000 0b00 66"},
    {"Q17 MGET limit", GB_OP_MGET, S("f"), NONE, 1, 1, "05000000 0b00 662031"},
    {"Q18 MDEL", GB_OP_MDEL, S("f"), NONE, 0, 0, "03000000 0c00 66"},
    {"Q19 MINC", GB_OP_MINC, S("fu"), NONE, 0, 0, "04000000 0d00 6675"},
    {"Q20 MDEC", GB_OP_MDEC, S("f"), NONE, 0, 0, "03000000 0e00 66"},
    {"Q21 MLOCK", GB_OP_MLOCK, S("f"), NONE, 30, 0, "06000000 0f00 66203330"},
    {"Q22 MUNLOCK", GB_OP_MUNLOCK, S("f"), NONE, 0, 0, "03000000 1000 66"},
    {"Q23 COUNT", GB_OP_COUNT, S("f"), NONE, 0, 0, "03000000 1100 66"},
    {"Q24 META", GB_OP_META, S("foo"), S("size"), 0, 0, "0a000000 1400 666f6f2073697a65"},
    {"Q25 KEYS", GB_OP_KEYS, S("f"), NONE, 0, 0, "03000000 1500 66"},
    /* Not in §12: a NUL inside a key travels as is. */
    {"NUL key", GB_OP_GET, S("a\0b"), NONE, 0, 0, "05000000 0300 610062"},
    /* MGET ignores `number` unless has_number is set. */
    {"MGET no limit", GB_OP_MGET, S("f"), NONE, -5, 0, "03000000 0b00 66"},
    {"LOCK 0", GB_OP_LOCK, S("k"), NONE, 0, 0, "05000000 0700 6b2030"},
};

static gb_request make(const request_vector *v)
{
    gb_request req;

    memset(&req, 0, sizeof req);
    req.opcode = v->opcode;
    req.key = v->key;
    req.key_len = v->key_len;
    req.value = v->value;
    req.value_len = v->value_len;
    req.number = v->number;
    req.has_number = v->has_number;
    return req;
}

static void test_request_vectors(void)
{
    size_t i;

    for (i = 0; i < sizeof VECTORS / sizeof VECTORS[0]; i++) {
        unsigned char want[256];
        size_t want_len = gb_test_unhex(VECTORS[i].frame_hex, want, sizeof want);
        gb_request req = make(&VECTORS[i]);
        gb_buffer out;
        gb_error err;

        gb_buffer_init(&out);
        CHECK_STATUS(gb_encode(&out, &req, NULL, &err), GB_OK);
        CHECK_MEM(out.data, out.len, want, want_len);
        if (out.len != want_len)
            fprintf(stderr, "  in vector %s\n", VECTORS[i].name);
        gb_buffer_free(&out);
    }
}

/* Frames append: several requests make one contiguous pipeline buffer. */
static void test_frames_append(void)
{
    unsigned char want[64];
    size_t want_len = gb_test_unhex("02000000 1300 05000000 0300 666f6f", want, sizeof want);
    gb_request ping = make(&VECTORS[0]), get = make(&VECTORS[3]);
    gb_buffer out;

    gb_buffer_init(&out);
    CHECK_STATUS(gb_encode(&out, &ping, NULL, NULL), GB_OK);
    CHECK_STATUS(gb_encode(&out, &get, NULL, NULL), GB_OK);
    CHECK_MEM(out.data, out.len, want, want_len);
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
