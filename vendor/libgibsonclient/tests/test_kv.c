/* Key-value sets (§3.4): the key-value vectors of tests/vectors.txt (the
   §12.2 KVAL replies, the MGET count bug, narrow numbers), and every way a
   pair can be malformed. */
#include "test.h"
#include "vectors.h"

#include <stdint.h>

/* Iterate a key-value set payload and compare with the vector's count and
   pairs: keys and values byte for byte, numbers decoded. */
static void expect_pairs(const unsigned char *payload, size_t len, const gb_vector *v,
                         long count)
{
    gb_kv_iter it;
    gb_kv_pair pair;
    gb_error err;
    size_t i;

    CHECK_INT(gb_kv_begin(&it, payload, len, &err), 0);
    CHECK_INT(it.count, count);
    for (i = 0; i < v->npairs; i++) {
        const gb_vec_pair *want = &v->pairs[i];

        CHECK_INT(gb_kv_next(&it, &pair, &err), 1);
        CHECK_MEM(pair.key, pair.key_len, want->key.b, want->key.len);
        CHECK_INT(pair.encoding, want->encoding);
        if (want->encoding == GB_ENC_PLAIN)
            CHECK_MEM(pair.value, pair.value_len, want->value.b, want->value.len);
        else
            CHECK_INT(pair.number, want->number);
    }
    CHECK_INT(gb_kv_next(&it, &pair, &err), 0);
    CHECK_INT(gb_kv_next(&it, &pair, &err), 0); /* and stays at the end */
}

/* Every key-value set of tests/vectors.txt: the KVAL replies' payloads
   (R15-R19, R21), the bare sets (kv), and each lone pair (R24, a STATS
   pair) behind a count of 1. */
static void test_kv_vectors(void)
{
    unsigned char buf[4 + GB_VEC_WIRE];
    size_t i, replies = 0, sets = 0, pairs = 0;

    for (i = 0; i < gb_vectors_n; i++) {
        const gb_vector *v = &gb_vectors[i];
        long before = gb_test_check_failures;

        if (v->kind == GB_VEC_REPLY && v->code == GB_REPL_KVAL) {
            replies++;
            expect_pairs(v->wire + GB_REPLY_HEADER_SIZE, v->wire_len - GB_REPLY_HEADER_SIZE,
                         v, v->count);
        } else if (v->kind == GB_VEC_KV) {
            sets++;
            expect_pairs(v->wire, v->wire_len, v, v->count);
        } else if (v->kind == GB_VEC_PAIR) {
            pairs++;
            memcpy(buf, "\x01\x00\x00\x00", 4);
            memcpy(buf + 4, v->wire, v->wire_len);
            expect_pairs(buf, 4 + v->wire_len, v, 1);
        }
        gb_vector_blame(v, before);
    }
    CHECK(replies >= 6); /* R15-R19, R21 */
    gb_vectors_check_count(GB_VEC_KV, sets);
    gb_vectors_check_count(GB_VEC_PAIR, pairs);
}

static void refuse_kv(const char *payload_hex, int pairs_before_error)
{
    unsigned char payload[512];
    size_t len = gb_test_unhex(payload_hex, payload, sizeof payload);
    gb_kv_iter it;
    gb_kv_pair pair;
    gb_error err;
    int i;

    if (gb_kv_begin(&it, payload, len, &err) != 0) {
        CHECK_INT(pairs_before_error, -1);
        CHECK_STATUS(err.status, GB_ERR_PROTOCOL);
        return;
    }
    for (i = 0; i < pairs_before_error; i++)
        CHECK_INT(gb_kv_next(&it, &pair, &err), 1);
    gb_error_clear(&err);
    CHECK_INT(gb_kv_next(&it, &pair, &err), -1);
    CHECK_STATUS(err.status, GB_ERR_PROTOCOL);
    CHECK(err.message[0] != '\0');
}

static void test_kv_malformed(void)
{
    static const char pair[] = "01000000 61 00 01000000 62"; /* a=b, 10 bytes */
    unsigned char bytes[16];
    char hex[64];
    size_t n = gb_test_unhex(pair, bytes, sizeof bytes), cut, i;

    refuse_kv("", -1);
    refuse_kv("010000", -1);
    /* A pair cut at every byte inside it (0 would be a clean end). */
    for (cut = 1; cut < n; cut++) {
        size_t used = (size_t)snprintf(hex, sizeof hex, "01000000");
        for (i = 0; i < cut; i++)
            used += (size_t)snprintf(hex + used, sizeof hex - used, "%02x", bytes[i]);
        refuse_kv(hex, 0);
    }
    refuse_kv("02000000 01000000 61 00 01000000 62 010000", 1);
    refuse_kv("01000000 01000000 61 01 01000000 62", 0);        /* LZF */
    refuse_kv("01000000 01000000 61 07 01000000 62", 0);        /* encoding 7 */
    refuse_kv("01000000 01000000 61 02 03000000 010203", 0);    /* width 3 */
    refuse_kv("01000000 01000000 61 02 00000000", 0);           /* width 0 */
    refuse_kv("01000000 01000000 61 00 01000000 62 00", 1);     /* trailing byte */
    refuse_kv("00000000 00", 0);                                /* bytes after none */
    refuse_kv("01000000 ffffffff 61", 0);                       /* key_len past end */
    refuse_kv("01000000 01000000 61 00 ffffffff 62", 0);        /* value_len past end */
}

void test_kv(void)
{
    RUN(test_kv_vectors);
    RUN(test_kv_malformed);
}
