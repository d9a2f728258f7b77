/* The reply reader: §12.2 vectors in every split, and every malformed header. */
#include "test.h"

#include <stdint.h>
#include <stdlib.h>

typedef struct reply_vector {
    const char *name;
    const char *hex;
    int code;
    int encoding;
    const char *payload_hex; /* NULL: not checked (long payloads) */
    int64_t number;
} reply_vector;

static const reply_vector VECTORS[] = {
    {"R1", "0500 00 01000000 00", 5, 0, "00", 0},
    {"R2", "0000 00 01000000 00", 0, 0, "00", 0},
    {"R3", "0100 00 01000000 00", 1, 0, "00", 0},
    {"R4", "0200 00 01000000 00", 2, 0, "00", 0},
    {"R5", "0300 00 01000000 00", 3, 0, "00", 0},
    {"R6", "0400 00 01000000 00", 4, 0, "00", 0},
    {"R7", "0600 00 03000000 626172", 6, 0, "626172", 0},
    {"R8", "0600 00 04000000 332e3134", 6, 0, "332e3134", 0},
    {"R9", "0600 00 05000000 6120620063", 6, 0, "6120620063", 0},
    {"R10", "0600 02 08000000 0100000000000000", 6, 2, "0100000000000000", 1},
    {"R11", "0600 02 08000000 ffffffffffffffff", 6, 2, "ffffffffffffffff", -1},
    {"R12", "0600 02 08000000 0200000000000000", 6, 2, "0200000000000000", 2},
    {"R13", "0600 02 08000000 0000000000000000", 6, 2, "0000000000000000", 0},
    {"R14", "0600 02 08000000 0200000000000000", 6, 2, "0200000000000000", 2},
    {"R15", "0700 00 13000000 01000000 03000000 666f6f 00 03000000 626172", 7, 0,
     "01000000 03000000 666f6f 00 03000000 626172", 0},
    {"R16",
     "0700 00 20000000 02000000 03000000 666f6f 00 03000000 626172 03000000 667575 00 "
     "01000000 37",
     7, 0, NULL, 0},
    {"R17", "0700 00 18000000 01000000 03000000 667575 02 08000000 0800000000000000", 7, 0,
     NULL, 0},
    {"R18",
     "0700 00 1e000000 02000000 01000000 30 00 03000000 666f6f 01000000 31 00 03000000 "
     "667575",
     7, 0, NULL, 0},
    {"R19", "0700 00 04000000 01000000", 7, 0, "01000000", 0},
    {"R20",
     "0600 00 28000000 41414141414141414141414141414141414141414141414141414141414141414141"
     "414141414141",
     6, 0, "41414141414141414141414141414141414141414141414141414141414141414141414141414141",
     0},
    {"R21", "0700 00 04000000 00000000", 7, 0, "00000000", 0},
    {"R22", "0600 00 00000000", 6, 0, "", 0},
    {"R23", "0600 02 04000000 01000000", 6, 2, "01000000", 1},
    /* Not in §12: narrower numbers, and code-only replies of unusual sizes. */
    {"1-byte number", "0600 02 01000000 ff", 6, 2, "ff", -1},
    {"2-byte number", "0600 02 02000000 0080", 6, 2, "0080", -32768},
    {"4-byte negative", "0600 02 04000000 feffffff", 6, 2, "feffffff", -2},
    {"INT64_MIN", "0600 02 08000000 0000000000000080", 6, 2, "0000000000000080", INT64_MIN},
    {"INT64_MAX", "0600 02 08000000 ffffffffffffff7f", 6, 2, "ffffffffffffff7f", INT64_MAX},
    {"OK size 0", "0500 00 00000000", 5, 0, "", 0},
    {"OK size 3", "0500 00 03000000 010203", 5, 0, "010203", 0},
    {"NOT_FOUND encoding 2", "0100 02 01000000 00", 1, 2, "00", 0},
};

#define NVEC (sizeof VECTORS / sizeof VECTORS[0])

static size_t unhex(const char *hex, unsigned char *out)
{
    return gb_test_unhex(hex, out, 512);
}

static void check_reply(const gb_reply *r, const reply_vector *v, size_t wire_len)
{
    unsigned char payload[512];

    CHECK_INT(r->code, v->code);
    CHECK_INT(r->encoding, v->encoding);
    CHECK_INT(r->size, wire_len - GB_REPLY_HEADER_SIZE);
    if (v->payload_hex != NULL) {
        size_t n = unhex(v->payload_hex, payload);
        CHECK_MEM(r->data, r->size, payload, n);
    }
    if (v->code == GB_REPL_VAL && v->encoding == GB_ENC_NUMBER)
        CHECK_INT(r->number, v->number);
}

static void test_vectors_whole(void)
{
    size_t i;

    for (i = 0; i < NVEC; i++) {
        unsigned char wire[512];
        size_t n = unhex(VECTORS[i].hex, wire);
        gb_reader rd;
        gb_reply reply;
        gb_error err;

        gb_reader_init(&rd, 0);
        CHECK_STATUS(gb_reader_feed(&rd, wire, n, &err), GB_OK);
        CHECK_INT(gb_reader_next(&rd, &reply, &err), 1);
        check_reply(&reply, &VECTORS[i], n);
        CHECK_INT(gb_reader_next(&rd, &reply, &err), 0);
        CHECK_INT(gb_reader_buffered(&rd), 0);
        gb_reader_free(&rd);
    }
}

/* Two feeds, split at every position: nothing comes out early. */
static void test_vectors_split(void)
{
    size_t i, cut;

    for (i = 0; i < NVEC; i++) {
        unsigned char wire[512];
        size_t n = unhex(VECTORS[i].hex, wire);

        for (cut = 0; cut <= n; cut++) {
            gb_reader rd;
            gb_reply reply;
            gb_error err;

            gb_reader_init(&rd, 0);
            CHECK_STATUS(gb_reader_feed(&rd, wire, cut, &err), GB_OK);
            CHECK_INT(gb_reader_next(&rd, &reply, &err), cut == n ? 1 : 0);
            if (cut < n) {
                CHECK_STATUS(gb_reader_feed(&rd, wire + cut, n - cut, &err), GB_OK);
                CHECK_INT(gb_reader_next(&rd, &reply, &err), 1);
            }
            check_reply(&reply, &VECTORS[i], n);
            CHECK_INT(gb_reader_next(&rd, &reply, &err), 0);
            gb_reader_free(&rd);
        }
    }
}

/* One byte at a time through space/commit, the path recv() uses. */
static void test_vectors_bytewise(void)
{
    size_t i, k;

    for (i = 0; i < NVEC; i++) {
        unsigned char wire[512];
        size_t n = unhex(VECTORS[i].hex, wire);
        gb_reader rd;
        gb_reply reply;
        gb_error err;
        int got = 0;

        gb_reader_init(&rd, 0);
        for (k = 0; k < n; k++) {
            size_t room = 0;
            unsigned char *p = gb_reader_space(&rd, &room, &err);

            CHECK(p != NULL && room >= 1);
            if (p == NULL)
                break;
            *p = wire[k];
            gb_reader_commit(&rd, 1);
            got = gb_reader_next(&rd, &reply, &err);
            CHECK_INT(got, k + 1 == n ? 1 : 0);
        }
        if (got == 1)
            check_reply(&reply, &VECTORS[i], n);
        gb_reader_free(&rd);
    }
}

/* Every vector in one feed; each reply stays valid while later ones are
   taken, because next() never moves the buffer. */
static void test_many_in_one_feed(void)
{
    static unsigned char wire[8192];
    size_t offsets[NVEC + 1], i, n = 0;
    gb_reply replies[NVEC];
    gb_reader rd;
    gb_error err;

    for (i = 0; i < NVEC; i++) {
        offsets[i] = n;
        n += unhex(VECTORS[i].hex, wire + n);
    }
    offsets[NVEC] = n;
    gb_reader_init(&rd, 0);
    CHECK_STATUS(gb_reader_feed(&rd, wire, n, &err), GB_OK);
    for (i = 0; i < NVEC; i++)
        CHECK_INT(gb_reader_next(&rd, &replies[i], &err), 1);
    for (i = 0; i < NVEC; i++)
        check_reply(&replies[i], &VECTORS[i], offsets[i + 1] - offsets[i]);
    CHECK_INT(gb_reader_next(&rd, &replies[0], &err), 0);

    /* A half reply left over is kept across the compaction of a new feed. */
    CHECK_STATUS(gb_reader_feed(&rd, wire, 10, &err), GB_OK);
    CHECK_INT(gb_reader_next(&rd, &replies[0], &err), 1);
    CHECK_INT(gb_reader_next(&rd, &replies[1], &err), 0);
    CHECK_INT(gb_reader_buffered(&rd), 2);
    CHECK_STATUS(gb_reader_feed(&rd, wire + 10, 6, &err), GB_OK);
    CHECK_INT(gb_reader_next(&rd, &replies[1], &err), 1);
    check_reply(&replies[1], &VECTORS[1], 8);
    gb_reader_reset(&rd);
    CHECK_INT(gb_reader_buffered(&rd), 0);
    gb_reader_free(&rd);
}

/* Feed hex; expect -1 with status want as soon as the header is in. */
static void refuse_reply(const char *hex, size_t max_reply, gb_status want)
{
    unsigned char wire[64];
    size_t n = unhex(hex, wire), room;
    gb_reader rd;
    gb_reply reply;
    gb_error err;

    gb_reader_init(&rd, max_reply);
    CHECK_STATUS(gb_reader_feed(&rd, wire, GB_REPLY_HEADER_SIZE, &err), GB_OK);
    gb_error_clear(&err);
    CHECK_INT(gb_reader_next(&rd, &reply, &err), -1);
    CHECK_STATUS(err.status, want);
    CHECK(err.message[0] != '\0');
    CHECK(gb_status_breaks_connection(want));
    /* Nothing is allocated for the announced payload, even on request. */
    CHECK(gb_reader_space(&rd, &room, &err) != NULL);
    CHECK(rd.buf.cap <= 64 * 1024);
    CHECK_STATUS(gb_reader_feed(&rd, wire + GB_REPLY_HEADER_SIZE, n - GB_REPLY_HEADER_SIZE,
                                &err),
                 GB_OK);
    /* The reader stays refused until reset. */
    CHECK_INT(gb_reader_next(&rd, &reply, &err), -1);
    gb_reader_reset(&rd);
    CHECK_STATUS(gb_reader_feed(&rd, "\x05\0\0\x01\0\0\0\0", 8, &err), GB_OK);
    CHECK_INT(gb_reader_next(&rd, &reply, &err), 1);
    CHECK_INT(reply.code, GB_REPL_OK);
    gb_reader_free(&rd);
}

static void test_malformed_headers(void)
{
    refuse_reply("0600 01 01000000 41", 0, GB_ERR_PROTOCOL);          /* LZF */
    refuse_reply("0600 03 01000000 41", 0, GB_ERR_PROTOCOL);          /* encoding 3 */
    refuse_reply("0600 ff 01000000 41", 0, GB_ERR_PROTOCOL);
    refuse_reply("0800 00 01000000 00", 0, GB_ERR_PROTOCOL);          /* code 8 */
    refuse_reply("0001 00 01000000 00", 0, GB_ERR_PROTOCOL);          /* code 256 */
    refuse_reply("ffff 00 01000000 00", 0, GB_ERR_PROTOCOL);
    refuse_reply("0700 02 04000000 00000000", 0, GB_ERR_PROTOCOL);    /* KVAL number */
    refuse_reply("0600 02 00000000", 0, GB_ERR_PROTOCOL);             /* width 0 */
    refuse_reply("0600 02 03000000 010203", 0, GB_ERR_PROTOCOL);      /* width 3 */
    refuse_reply("0600 02 05000000 0102030405", 0, GB_ERR_PROTOCOL);  /* width 5 */
    refuse_reply("0600 02 10000000 00", 0, GB_ERR_PROTOCOL);          /* width 16 */
    refuse_reply("0600 00 ffffffff", 0, GB_ERR_REPLY_TOO_LARGE);      /* 4 GB */
    refuse_reply("0600 00 01000004", 0, GB_ERR_REPLY_TOO_LARGE);      /* 64 MiB + 1 */
    refuse_reply("0500 00 ffffffff", 0, GB_ERR_REPLY_TOO_LARGE);
    refuse_reply("0600 00 0b000000", 10, GB_ERR_REPLY_TOO_LARGE);
}

static void test_custom_cap(void)
{
    unsigned char wire[32];
    size_t n = unhex("0600 00 0a000000 30313233343536373839", wire);
    gb_reader rd;
    gb_reply reply;

    gb_reader_init(&rd, 10);
    CHECK_STATUS(gb_reader_feed(&rd, wire, n, NULL), GB_OK);
    CHECK_INT(gb_reader_next(&rd, &reply, NULL), 1);
    CHECK_MEM(reply.data, reply.size, "0123456789", 10);
    gb_reader_free(&rd);
}

/* A large reply: once its header is in, space() offers room for all of it,
   so recv() writes the payload where the reply will be read. */
static void test_space_fits_whole_reply(void)
{
    const size_t size = 100 * 1000;
    unsigned char header[7] = {6, 0, 0, 0, 0, 0, 0};
    unsigned char *p, *payload_at;
    size_t room;
    gb_reader rd;
    gb_reply reply;
    gb_error err;

    header[3] = (unsigned char)(size & 0xff);
    header[4] = (unsigned char)((size >> 8) & 0xff);
    header[5] = (unsigned char)((size >> 16) & 0xff);
    gb_reader_init(&rd, 0);
    p = gb_reader_space(&rd, &room, &err);
    CHECK(p != NULL && room >= 16 * 1024);
    if (p == NULL)
        return;
    memcpy(p, header, 7);
    memset(p + 7, 'x', 1000);
    gb_reader_commit(&rd, 1007);
    CHECK_INT(gb_reader_next(&rd, &reply, &err), 0);
    p = gb_reader_space(&rd, &room, &err);
    CHECK(p != NULL && room >= size - 1000);
    if (p == NULL || room < size - 1000)
        return;
    payload_at = p - 1000;
    memset(p, 'y', size - 1000);
    gb_reader_commit(&rd, size - 1000);
    CHECK_INT(gb_reader_next(&rd, &reply, &err), 1);
    CHECK(reply.data == payload_at);
    CHECK_INT(reply.size, size);
    CHECK(reply.data[999] == 'x' && reply.data[1000] == 'y' && reply.data[size - 1] == 'y');
    gb_reader_free(&rd);
}

/* A 1 MiB reply trickling in byte by byte, through feed() or through
   space()/commit(), grows the buffer a few times, not once per byte. */
static void trickle(int use_feed)
{
    const size_t size = 1u << 20, payload = size - 7;
    unsigned char header[7] = {6, 0, 0, 0, 0, 0, 0}, byte;
    size_t k, room, grows = 0, last_cap = 0;
    unsigned char *p;
    gb_reader rd;
    gb_reply reply;
    gb_error err;

    header[3] = (unsigned char)(payload & 0xff);
    header[4] = (unsigned char)((payload >> 8) & 0xff);
    header[5] = (unsigned char)((payload >> 16) & 0xff);
    gb_reader_init(&rd, 0);
    for (k = 0; k < size; k++) {
        byte = k < 7 ? header[k] : 'z';
        if (use_feed) {
            if (gb_reader_feed(&rd, &byte, 1, &err) != GB_OK)
                break;
        } else {
            p = gb_reader_space(&rd, &room, &err);
            if (p == NULL)
                break;
            *p = byte;
            gb_reader_commit(&rd, 1);
        }
        if (rd.buf.cap != last_cap) {
            grows++;
            last_cap = rd.buf.cap;
        }
        if (k + 1 < size && gb_reader_next(&rd, &reply, &err) != 0)
            break;
    }
    CHECK_INT(k, size);
    CHECK(grows <= 20);
    CHECK_INT(gb_reader_next(&rd, &reply, &err), 1);
    CHECK_INT(reply.size, payload);
    gb_reader_free(&rd);
}

static void test_growth_is_geometric(void)
{
    trickle(1);
    trickle(0);
}

static void test_decode_number(void)
{
    unsigned char b[8];
    int64_t v = 0;

    memset(b, 0xff, sizeof b);
    CHECK_INT(gb_decode_number(b, 1, &v), 0);
    CHECK_INT(v, -1);
    CHECK_INT(gb_decode_number(b, 2, &v), 0);
    CHECK_INT(v, -1);
    CHECK_INT(gb_decode_number(b, 4, &v), 0);
    CHECK_INT(v, -1);
    CHECK_INT(gb_decode_number(b, 8, &v), 0);
    CHECK_INT(v, -1);
    b[0] = 0x7f;
    CHECK_INT(gb_decode_number(b, 1, &v), 0);
    CHECK_INT(v, 127);
    b[0] = 0x80;
    CHECK_INT(gb_decode_number(b, 1, &v), 0);
    CHECK_INT(v, -128);
    memcpy(b, "\x00\x00\x00\x80", 4);
    CHECK_INT(gb_decode_number(b, 4, &v), 0);
    CHECK_INT(v, INT32_MIN);
    memcpy(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    CHECK_INT(gb_decode_number(b, 8, &v), 0);
    CHECK_INT(v, 0x0807060504030201LL);
    CHECK_INT(gb_decode_number(b, 0, &v), -1);
    CHECK_INT(gb_decode_number(b, 3, &v), -1);
    CHECK_INT(gb_decode_number(b, 16, &v), -1);
}

/* peek sees a header without consuming it; take_payload hands the buffered
   part of the payload to the caller and leaves the next reply intact. */
static void test_peek_and_take_payload(void)
{
    static const unsigned char two[] = {6, 0, 0, 5, 0, 0, 0, 'h', 'e', 'l', 'l', 'o',
                                        0, 0, 0, 0, 0, 0, 0};
    unsigned char garbled[7] = {9, 0, 0, 0, 0, 0, 0};
    unsigned char dst[5];
    gb_reply_head head;
    gb_reader rd;
    gb_reply reply;
    gb_error err;

    gb_reader_init(&rd, 0);
    CHECK_INT(gb_reader_peek(&rd, &head, &err), 0);
    CHECK_STATUS(gb_reader_feed(&rd, two, 6, &err), GB_OK);
    CHECK_INT(gb_reader_peek(&rd, &head, &err), 0);
    CHECK_STATUS(gb_reader_feed(&rd, two + 6, 3, &err), GB_OK);
    CHECK_INT(gb_reader_peek(&rd, &head, &err), 1);
    CHECK_INT(head.code, GB_REPL_VAL);
    CHECK_INT(head.encoding, GB_ENC_PLAIN);
    CHECK_INT(head.size, 5);
    CHECK_INT(head.complete, 0);
    CHECK_INT(gb_reader_buffered(&rd), 9);
    /* Two payload bytes are buffered: the caller receives the other three. */
    CHECK_INT(gb_reader_take_payload(&rd, &head, dst), 2);
    CHECK_INT(gb_reader_buffered(&rd), 0);
    memcpy(dst + 2, "llo", 3);
    CHECK_MEM(dst, 5, "hello", 5);
    /* A whole reply and the next one's start: only the first is taken. */
    CHECK_STATUS(gb_reader_feed(&rd, two, sizeof two, &err), GB_OK);
    CHECK_INT(gb_reader_peek(&rd, &head, &err), 1);
    CHECK_INT(head.complete, 1);
    CHECK_INT(gb_reader_take_payload(&rd, &head, dst), 5);
    CHECK_MEM(dst, 5, "hello", 5);
    CHECK_INT(gb_reader_next(&rd, &reply, &err), 1);
    CHECK_INT(reply.code, GB_REPL_ERR);
    CHECK_INT(reply.size, 0);
    /* A complete reply taken on its peeked header, a number decoded. */
    {
        static const unsigned char num[] = {6, 0, 2, 2, 0, 0, 0, 0xfe, 0xff};

        CHECK_STATUS(gb_reader_feed(&rd, num, sizeof num, &err), GB_OK);
        CHECK_INT(gb_reader_peek(&rd, &head, &err), 1);
        CHECK_INT(head.complete, 1);
        gb_reader_take(&rd, &head, &reply);
        CHECK_INT(reply.encoding, GB_ENC_NUMBER);
        CHECK_INT(reply.number, -2);
        CHECK_INT(gb_reader_buffered(&rd), 0);
    }
    /* A bad header is refused by peek as by next. */
    CHECK_STATUS(gb_reader_feed(&rd, garbled, sizeof garbled, &err), GB_OK);
    CHECK_INT(gb_reader_peek(&rd, &head, &err), -1);
    CHECK_STATUS(err.status, GB_ERR_PROTOCOL);
    gb_reader_free(&rd);
}

void test_reader(void)
{
    RUN(test_vectors_whole);
    RUN(test_vectors_split);
    RUN(test_vectors_bytewise);
    RUN(test_many_in_one_feed);
    RUN(test_malformed_headers);
    RUN(test_custom_cap);
    RUN(test_space_fits_whole_reply);
    RUN(test_growth_is_geometric);
    RUN(test_decode_number);
    RUN(test_peek_and_take_payload);
}
