/* The reply reader: the reply vectors of tests/vectors.txt (§12.2 and
   extras) in every split, and every malformed header. */
#include "test.h"
#include "vectors.h"

#include <stdint.h>
#include <stdlib.h>

static size_t unhex(const char *hex, unsigned char *out)
{
    return gb_test_unhex(hex, out, 512);
}

/* The reply as read against the vector's meaning. The payload must be the
   bytes after the 7-byte header, whatever the reply; a VAL's value or
   number is also checked against the file's value= or number=. */
static void check_reply(const gb_reply *r, const gb_vector *v)
{
    CHECK_INT(r->code, v->code);
    CHECK_INT(r->encoding, v->encoding);
    CHECK_INT(r->size, v->wire_len - GB_REPLY_HEADER_SIZE);
    CHECK_MEM(r->data, r->size, v->wire + GB_REPLY_HEADER_SIZE,
              v->wire_len - GB_REPLY_HEADER_SIZE);
    if (v->code == GB_REPL_VAL && v->encoding == GB_ENC_PLAIN)
        CHECK_MEM(r->data, r->size, v->value.b, v->value.len);
    if (v->code == GB_REPL_VAL && v->encoding == GB_ENC_NUMBER)
        CHECK_INT(r->number, v->number);
}

/* The index of the next reply vector from i on, or gb_vectors_n. */
static size_t next_reply(size_t i)
{
    while (i < gb_vectors_n && gb_vectors[i].kind != GB_VEC_REPLY)
        i++;
    return i;
}

static void test_vectors_whole(void)
{
    size_t i, n = 0;

    for (i = next_reply(0); i < gb_vectors_n; i = next_reply(i + 1)) {
        const gb_vector *v = &gb_vectors[i];
        long before = gb_test_check_failures;
        gb_reader rd;
        gb_reply reply;
        gb_error err;

        n++;
        gb_reader_init(&rd, 0);
        CHECK_STATUS(gb_reader_feed(&rd, v->wire, v->wire_len, &err), GB_OK);
        CHECK_INT(gb_reader_next(&rd, &reply, &err), 1);
        check_reply(&reply, v);
        CHECK_INT(gb_reader_next(&rd, &reply, &err), 0);
        CHECK_INT(gb_reader_buffered(&rd), 0);
        gb_reader_free(&rd);
        gb_vector_blame(v, before);
    }
    gb_vectors_check_count(GB_VEC_REPLY, n);
}

/* Two feeds, split at every position: nothing comes out early. */
static void test_vectors_split(void)
{
    size_t i, cut, n = 0;

    for (i = next_reply(0); i < gb_vectors_n; i = next_reply(i + 1)) {
        const gb_vector *v = &gb_vectors[i];
        long before = gb_test_check_failures;

        n++;
        for (cut = 0; cut <= v->wire_len; cut++) {
            gb_reader rd;
            gb_reply reply;
            gb_error err;

            gb_reader_init(&rd, 0);
            CHECK_STATUS(gb_reader_feed(&rd, v->wire, cut, &err), GB_OK);
            CHECK_INT(gb_reader_next(&rd, &reply, &err), cut == v->wire_len ? 1 : 0);
            if (cut < v->wire_len) {
                CHECK_STATUS(gb_reader_feed(&rd, v->wire + cut, v->wire_len - cut, &err),
                             GB_OK);
                CHECK_INT(gb_reader_next(&rd, &reply, &err), 1);
            }
            check_reply(&reply, v);
            CHECK_INT(gb_reader_next(&rd, &reply, &err), 0);
            gb_reader_free(&rd);
        }
        gb_vector_blame(v, before);
    }
    gb_vectors_check_count(GB_VEC_REPLY, n);
}

/* One byte at a time through space/commit, the path recv() uses. */
static void test_vectors_bytewise(void)
{
    size_t i, k, n = 0;

    for (i = next_reply(0); i < gb_vectors_n; i = next_reply(i + 1)) {
        const gb_vector *v = &gb_vectors[i];
        long before = gb_test_check_failures;
        gb_reader rd;
        gb_reply reply;
        gb_error err;
        int got = 0;

        n++;
        gb_reader_init(&rd, 0);
        for (k = 0; k < v->wire_len; k++) {
            size_t room = 0;
            unsigned char *p = gb_reader_space(&rd, &room, &err);

            CHECK(p != NULL && room >= 1);
            if (p == NULL)
                break;
            *p = v->wire[k];
            gb_reader_commit(&rd, 1);
            got = gb_reader_next(&rd, &reply, &err);
            CHECK_INT(got, k + 1 == v->wire_len ? 1 : 0);
        }
        if (got == 1)
            check_reply(&reply, v);
        gb_reader_free(&rd);
        gb_vector_blame(v, before);
    }
    gb_vectors_check_count(GB_VEC_REPLY, n);
}

/* Every reply vector in one feed; each reply stays valid while later ones
   are taken, because next() never moves the buffer. */
static void test_many_in_one_feed(void)
{
    static unsigned char wire[GB_VEC_MAX * GB_VEC_WIRE];
    static gb_reply replies[GB_VEC_MAX];
    const gb_vector *which[GB_VEC_MAX];
    const gb_vector *r1 = gb_vector_named("R1"), *r2 = gb_vector_named("R2");
    size_t i, n = 0, count = 0;
    gb_reader rd;
    gb_error err;

    for (i = next_reply(0); i < gb_vectors_n; i = next_reply(i + 1)) {
        which[count++] = &gb_vectors[i];
        memcpy(wire + n, gb_vectors[i].wire, gb_vectors[i].wire_len);
        n += gb_vectors[i].wire_len;
    }
    gb_vectors_check_count(GB_VEC_REPLY, count);
    gb_reader_init(&rd, 0);
    CHECK_STATUS(gb_reader_feed(&rd, wire, n, &err), GB_OK);
    for (i = 0; i < count; i++)
        CHECK_INT(gb_reader_next(&rd, &replies[i], &err), 1);
    for (i = 0; i < count; i++)
        check_reply(&replies[i], which[i]);
    CHECK_INT(gb_reader_next(&rd, &replies[0], &err), 0);

    /* A half reply left over is kept across the compaction of a new feed:
       R1 and 2 bytes of R2, then the rest of R2. */
    CHECK(r1 != NULL && r2 != NULL);
    if (r1 != NULL && r2 != NULL) {
        memcpy(wire, r1->wire, r1->wire_len);
        memcpy(wire + r1->wire_len, r2->wire, r2->wire_len);
        n = r1->wire_len + r2->wire_len;
        CHECK_STATUS(gb_reader_feed(&rd, wire, r1->wire_len + 2, &err), GB_OK);
        CHECK_INT(gb_reader_next(&rd, &replies[0], &err), 1);
        CHECK_INT(gb_reader_next(&rd, &replies[1], &err), 0);
        CHECK_INT(gb_reader_buffered(&rd), 2);
        CHECK_STATUS(gb_reader_feed(&rd, wire + r1->wire_len + 2, n - r1->wire_len - 2, &err),
                     GB_OK);
        CHECK_INT(gb_reader_next(&rd, &replies[1], &err), 1);
        check_reply(&replies[1], r2);
    }
    gb_reader_reset(&rd);
    CHECK_INT(gb_reader_buffered(&rd), 0);
    gb_reader_free(&rd);
}

/* Feed a reply; expect -1 with status want as soon as the header is in. */
static void refuse_reply_bytes(const unsigned char *wire, size_t n, size_t max_reply,
                               gb_status want)
{
    size_t room;
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

static void refuse_reply(const char *hex, size_t max_reply, gb_status want)
{
    unsigned char wire[64];
    size_t n = unhex(hex, wire);

    refuse_reply_bytes(wire, n, max_reply, want);
}

/* The file's refused replies (LZF, code 8, a 4 GB size), then the other
   malformed headers this reader must refuse. */
static void test_malformed_headers(void)
{
    size_t i, n = 0;

    for (i = 0; i < gb_vectors_n; i++) {
        const gb_vector *v = &gb_vectors[i];
        long before = gb_test_check_failures;

        if (v->kind != GB_VEC_REFUSED_REPLY)
            continue;
        n++;
        refuse_reply_bytes(v->wire, v->wire_len, 0, v->status);
        gb_vector_blame(v, before);
    }
    gb_vectors_check_count(GB_VEC_REFUSED_REPLY, n);
    refuse_reply("0600 03 01000000 41", 0, GB_ERR_PROTOCOL);          /* encoding 3 */
    refuse_reply("0600 ff 01000000 41", 0, GB_ERR_PROTOCOL);
    refuse_reply("0001 00 01000000 00", 0, GB_ERR_PROTOCOL);          /* code 256 */
    refuse_reply("ffff 00 01000000 00", 0, GB_ERR_PROTOCOL);
    refuse_reply("0700 02 04000000 00000000", 0, GB_ERR_PROTOCOL);    /* KVAL number */
    refuse_reply("0600 02 00000000", 0, GB_ERR_PROTOCOL);             /* width 0 */
    refuse_reply("0600 02 03000000 010203", 0, GB_ERR_PROTOCOL);      /* width 3 */
    refuse_reply("0600 02 05000000 0102030405", 0, GB_ERR_PROTOCOL);  /* width 5 */
    refuse_reply("0600 02 10000000 00", 0, GB_ERR_PROTOCOL);          /* width 16 */
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
