/*
 * libFuzzer harness for gb_encode.
 *
 * Input layout (short inputs are padded with zeros):
 *   0      opcode: one of the 22, or (values 22..27) one that is not
 *   1      flags: 1 has_number, 2 strict_ttl off, 4 small max_key_size,
 *          8 max_value_size set, 16 small max_request_size, 32 key NULL,
 *          64 value NULL
 *   2      the size used by flags 4, 8, 16
 *   3..10  number, int64 little-endian
 *   11     key length (taken from the bytes after byte 11)
 *   12..   key, then value
 *
 * Every frame produced is parsed back the way the server splits payloads
 * (§2.2) and must give exactly the request's key, value and number; every
 * refusal must leave the buffer as it was and must match an independent
 * judgement of the request. gb_encode_key must agree with gb_encode on the
 * opcode and key alone.
 */
#include "gibson.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(cond)                                                                  \
    do {                                                                               \
        if (!(cond))                                                                   \
            abort();                                                                   \
    } while (0)

/* The 22 opcodes of operations.def, in its order, then some that are not. */
static const int OPCODES[] = {
#define GB_OPERATION(NAME, OPCODE, ...) OPCODE,
#define GB_ALIAS(...)
#include "operations.def"
#undef GB_OPERATION
#undef GB_ALIAS
    0, 22, 254, 256, -1, 1000};

/* The payload shapes, judged here on their own by opcode number: the
 * fuzzer's oracle must not share the encoder's table. */
enum { NONE, KEY, KEY_NUMBER, KEY_VALUE, KEY_LIMIT, SET };

static int shape_of(int op)
{
    switch (op) {
    case 1: return SET;
    case 2: case 7: case 10: case 15: return KEY_NUMBER;
    case 9: case 20: return KEY_VALUE;
    case 11: return KEY_LIMIT;
    case 18: case 19: case 255: return NONE;
    default: return KEY;
    }
}

static size_t decimal_len(int64_t v)
{
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    size_t n = v < 0 ? 2 : 1;

    while (m >= 10) {
        m /= 10;
        n++;
    }
    return n;
}

/* Canonical decimal only: what the server's parser reads back exactly. */
static int parse_canonical(const unsigned char *p, size_t n, int64_t *out)
{
    int neg = n > 0 && p[0] == '-';
    uint64_t m = 0;
    size_t i = (size_t)neg;

    if (n == i || n - i > 19 || (p[i] == '0' && n - i > 1) || (neg && p[i] == '0'))
        return -1;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        m = m * 10 + (uint64_t)(p[i] - '0');
    }
    *out = neg ? -(int64_t)(m - 1) - 1 : (int64_t)m;
    return 0;
}

static int is_meta_field(const unsigned char *v, size_t n)
{
    static const char *const f[] = {"size", "encoding", "access", "created",
                                    "ttl",  "left",     "lock"};
    size_t i;

    for (i = 0; i < 7; i++)
        if (strlen(f[i]) == n && memcmp(f[i], v, n) == 0)
            return 1;
    return 0;
}

/* An independent judgement: may this request be sent? */
static int acceptable(const gb_request *q, const gb_limits *l)
{
    int shape = shape_of(q->opcode);
    size_t i, key_budget = l->max_key_size, frame = 2;
    int has_value = shape == SET || shape == KEY_VALUE;
    int ttl = q->opcode == 1 || q->opcode == 2 || q->opcode == 10;

    for (i = 0; i < sizeof OPCODES / sizeof OPCODES[0] - 6; i++)
        if (OPCODES[i] == q->opcode)
            break;
    if (i == sizeof OPCODES / sizeof OPCODES[0] - 6)
        return 0;
    if (shape == NONE)
        return 1;
    if (q->key == NULL || q->key_len == 0 || memchr(q->key, ' ', q->key_len) != NULL)
        return 0;
    if (shape == SET && key_budget != 0)
        key_budget = key_budget > decimal_len(q->number) + 1
                         ? key_budget - decimal_len(q->number) - 1 : 0;
    if (l->max_key_size != 0 && q->key_len > key_budget)
        return 0;
    if (ttl && l->strict_ttl && (q->number < 0 || q->number > GB_TTL_MAX))
        return 0;
    if ((q->opcode == 7 || q->opcode == 15) && q->number < -1)
        return 0;
    if (q->opcode == 11 && q->has_number && q->number < 1)
        return 0;
    if (has_value && (q->value == NULL || q->value_len == 0))
        return 0;
    if (q->opcode == 20 && !is_meta_field(q->value, q->value_len))
        return 0;
    if ((q->opcode == 1 || q->opcode == 9) && l->max_value_size != 0 &&
        q->value_len > l->max_value_size)
        return 0;
    frame += q->key_len;
    if (shape == SET)
        frame += decimal_len(q->number) + 2 + q->value_len;
    else if (shape == KEY_VALUE)
        frame += 1 + q->value_len;
    else if (shape == KEY_NUMBER || (shape == KEY_LIMIT && q->has_number))
        frame += 1 + decimal_len(q->number);
    return l->max_request_size == 0 || frame <= l->max_request_size;
}

/* Split one part off the payload at the first space, as the server does. */
static const unsigned char *take(const unsigned char **p, const unsigned char *end,
                                 size_t *len)
{
    const unsigned char *start = *p, *sp = memchr(start, ' ', (size_t)(end - start));

    *len = (size_t)((sp != NULL ? sp : end) - start);
    *p = sp != NULL ? sp + 1 : end;
    return start;
}

/* Read the frame back as the server would and compare with the request. */
static void check_frame(const unsigned char *f, size_t n, const gb_request *q,
                        const gb_limits *l)
{
    uint32_t length = (uint32_t)f[0] | ((uint32_t)f[1] << 8) | ((uint32_t)f[2] << 16) |
                      ((uint32_t)f[3] << 24);
    const unsigned char *p = f + 6, *end = f + n, *part;
    int shape = shape_of(q->opcode);
    size_t len;
    int64_t num;

    REQUIRE(n >= 6 && length == n - 4 && length >= 2);
    REQUIRE(l->max_request_size == 0 || length <= l->max_request_size);
    REQUIRE((f[4] | (f[5] << 8)) == q->opcode);
    if (shape == NONE) {
        REQUIRE(p == end);
        return;
    }
    if (shape == SET) {
        part = take(&p, end, &len);
        REQUIRE(parse_canonical(part, len, &num) == 0 && num == q->number);
        REQUIRE(l->max_key_size == 0 || len + 1 + q->key_len <= l->max_key_size);
    }
    part = take(&p, end, &len);
    REQUIRE(len > 0 && len == q->key_len && memcmp(part, q->key, len) == 0);
    REQUIRE(shape == SET || l->max_key_size == 0 || len <= l->max_key_size);
    if (shape == KEY) {
        REQUIRE(p == end);
    } else if (shape == KEY_NUMBER || (shape == KEY_LIMIT && q->has_number)) {
        REQUIRE(parse_canonical(p, (size_t)(end - p), &num) == 0 && num == q->number);
    } else if (shape == KEY_LIMIT) {
        REQUIRE(p == end);
    } else {
        /* The value is every remaining byte, spaces included. */
        REQUIRE((size_t)(end - p) == q->value_len && q->value_len > 0);
        REQUIRE(memcmp(p, q->value, q->value_len) == 0);
    }
}

/* gb_encode_key must give what gb_encode gives for the same opcode and key
   alone: status and bytes, with room in the buffer and without. */
static void check_encode_key(const gb_request *q, const gb_limits *limits)
{
    gb_request alone;
    gb_buffer a, b;
    gb_status sa, sb;
    int roomy;

    memset(&alone, 0, sizeof alone);
    alone.opcode = q->opcode;
    alone.key = q->key;
    alone.key_len = q->key_len;
    for (roomy = 0; roomy < 2; roomy++) {
        gb_buffer_init(&a);
        gb_buffer_init(&b);
        if (roomy) {
            REQUIRE(gb_buffer_reserve(&a, 4096) == GB_OK);
            REQUIRE(gb_buffer_reserve(&b, 4096) == GB_OK);
        }
        sa = gb_encode(&a, &alone, limits, NULL);
        sb = gb_encode_key(&b, q->opcode, q->key, q->key_len, limits, NULL);
        REQUIRE(sa == sb && a.len == b.len);
        REQUIRE(a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
        gb_buffer_free(&a);
        gb_buffer_free(&b);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char head[12];
    gb_limits limits;
    gb_request q;
    gb_buffer out;
    gb_error err;
    gb_status st;
    uint64_t u = 0;
    size_t rest, i;
    int ok;

    memset(head, 0, sizeof head);
    memcpy(head, data, size < sizeof head ? size : sizeof head);
    rest = size > sizeof head ? size - sizeof head : 0;
    gb_limits_default(&limits);
    if (head[1] & 2)
        limits.strict_ttl = 0;
    if (head[1] & 4)
        limits.max_key_size = head[2] % 32;
    if (head[1] & 8)
        limits.max_value_size = head[2] % 64;
    if (head[1] & 16)
        limits.max_request_size = 16u + head[2];
    memset(&q, 0, sizeof q);
    q.opcode = OPCODES[head[0] % (sizeof OPCODES / sizeof OPCODES[0])];
    q.has_number = head[1] & 1;
    for (i = 0; i < 8; i++)
        u |= (uint64_t)head[3 + i] << (8 * i);
    memcpy(&q.number, &u, sizeof q.number);
    q.key_len = head[11] < rest ? head[11] : rest;
    q.key = (head[1] & 32) ? NULL : data + sizeof head;
    q.value_len = rest - q.key_len;
    q.value = (head[1] & 64) ? NULL : data + sizeof head + q.key_len;
    if (q.key == NULL)
        q.key_len = 0;
    if (q.value == NULL)
        q.value_len = 0;

    /* Earlier frames in the buffer must survive anything. */
    gb_buffer_init(&out);
    REQUIRE(gb_buffer_reserve(&out, 5) == GB_OK);
    memcpy(out.data, "prev!", 5);
    out.len = 5;
    st = gb_encode(&out, &q, &limits, &err);
    ok = acceptable(&q, &limits);
    REQUIRE(memcmp(out.data, "prev!", 5) == 0);
    if (st == GB_OK) {
        REQUIRE(ok);
        check_frame(out.data + 5, out.len - 5, &q, &limits);
    } else {
        REQUIRE(!ok && out.len == 5);
        REQUIRE(gb_status_is_argument_error(st) && err.status == st);
        REQUIRE(err.message[0] != '\0');
    }
    gb_buffer_free(&out);
    check_encode_key(&q, &limits);
    return 0;
}
