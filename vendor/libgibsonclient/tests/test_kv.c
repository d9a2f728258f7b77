/* Key-value sets (§3.4): the §12.2 KVAL vectors, the MGET count bug, and
   every way a pair can be malformed. */
#include "test.h"

#include <stdint.h>

typedef struct expected_pair {
    const char *key;
    int encoding;
    const char *value; /* PLAIN */
    int64_t number;    /* NUMBER */
} expected_pair;

/* Iterate a KVAL payload (hex, without the reply header) and compare. */
static void expect_pairs(const char *payload_hex, const expected_pair *want, size_t n)
{
    unsigned char payload[512];
    size_t len = gb_test_unhex(payload_hex, payload, sizeof payload), i;
    gb_kv_iter it;
    gb_kv_pair pair;
    gb_error err;

    CHECK_INT(gb_kv_begin(&it, payload, len, &err), 0);
    for (i = 0; i < n; i++) {
        CHECK_INT(gb_kv_next(&it, &pair, &err), 1);
        CHECK_MEM(pair.key, pair.key_len, want[i].key, strlen(want[i].key));
        CHECK_INT(pair.encoding, want[i].encoding);
        if (want[i].encoding == GB_ENC_PLAIN)
            CHECK_MEM(pair.value, pair.value_len, want[i].value, strlen(want[i].value));
        else
            CHECK_INT(pair.number, want[i].number);
    }
    CHECK_INT(gb_kv_next(&it, &pair, &err), 0);
    CHECK_INT(gb_kv_next(&it, &pair, &err), 0); /* and stays at the end */
}

static void test_kv_vectors(void)
{
    static const expected_pair r15[] = {{"foo", 0, "bar", 0}};
    static const expected_pair r16[] = {{"foo", 0, "bar", 0}, {"fuu", 0, "7", 0}};
    static const expected_pair r17[] = {{"fuu", 2, NULL, 8}};
    static const expected_pair r18[] = {{"0", 0, "foo", 0}, {"1", 0, "fuu", 0}};
    static const expected_pair r24[] = {{"server_arch", 0, "64", 0}};

    expect_pairs("01000000 03000000 666f6f 00 03000000 626172", r15, 1);
    expect_pairs("02000000 03000000 666f6f 00 03000000 626172 03000000 667575 00 01000000 37",
                 r16, 2);
    expect_pairs("01000000 03000000 667575 02 08000000 0800000000000000", r17, 1);
    expect_pairs("02000000 01000000 30 00 03000000 666f6f 01000000 31 00 03000000 667575", r18,
                 2);
    /* R24: one STATS pair after a count of 1. */
    expect_pairs("01000000 0b000000 7365727665725f61726368 00 02000000 3634", r24, 1);
    expect_pairs("00000000", NULL, 0);  /* R21: empty set */
    expect_pairs("01000000", NULL, 0);  /* R19: count 1, no pairs (MGET bug) */
    expect_pairs("03000000 03000000 666f6f 00 03000000 626172", r15, 1); /* 1 of 3 */
}

static void test_kv_numbers(void)
{
    static const expected_pair narrow[] = {{"a", 2, NULL, 1}, {"b", 2, NULL, -2},
                                           {"c", 2, NULL, -1}, {"", 2, NULL, 127}};

    expect_pairs("04000000 01000000 61 02 04000000 01000000 01000000 62 02 02000000 feff "
                 "01000000 63 02 01000000 ff 00000000 02 08000000 7f00000000000000",
                 narrow, 4);
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
    RUN(test_kv_numbers);
    RUN(test_kv_malformed);
}
