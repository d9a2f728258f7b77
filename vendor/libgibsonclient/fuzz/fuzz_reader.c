/*
 * libFuzzer harness for the reply reader and the key-value iterator.
 *
 * Input: byte 0 picks the reply cap and how the stream is cut, byte 1 seeds
 * the cut lengths, the rest is the byte stream from the "server". The stream
 * goes in through gb_reader_feed and through gb_reader_space/commit in
 * turns, and every reply that comes out is checked against the wire format.
 * gb_reader_peek must agree with gb_reader_next on every header (and a
 * complete reply is sometimes taken with gb_reader_take instead); when byte
 * 0's bit 4 is set, a value whose payload has not all arrived is taken with
 * gb_reader_take_payload and the rest of it skipped in the stream, as a
 * client receiving straight into its own buffer does.
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

static void check_kv(const gb_reply *r)
{
    gb_kv_iter it;
    gb_kv_pair pair;
    gb_error err;
    uint32_t pairs = 0;
    int rc;

    if (gb_kv_begin(&it, r->data, r->size, &err) != 0) {
        REQUIRE(r->size < 4 && err.status == GB_ERR_PROTOCOL);
        return;
    }
    while ((rc = gb_kv_next(&it, &pair, &err)) == 1) {
        int64_t n;

        pairs++;
        REQUIRE(pair.key >= r->data && pair.key + pair.key_len <= r->data + r->size);
        REQUIRE(pair.value >= pair.key + pair.key_len);
        REQUIRE(pair.value + pair.value_len <= r->data + r->size);
        REQUIRE(pair.encoding == GB_ENC_PLAIN || pair.encoding == GB_ENC_NUMBER);
        if (pair.encoding == GB_ENC_NUMBER) {
            REQUIRE(gb_decode_number(pair.value, pair.value_len, &n) == 0);
            REQUIRE(n == pair.number);
        }
    }
    REQUIRE(pairs <= it.count);
    if (rc < 0)
        REQUIRE(err.status == GB_ERR_PROTOCOL && err.message[0] != '\0');
    else
        REQUIRE(gb_kv_next(&it, &pair, &err) == 0);
}

static void check_reply(const gb_reader *rd, const gb_reply *r)
{
    int64_t n;

    REQUIRE(r->code >= GB_REPL_ERR && r->code <= GB_REPL_KVAL);
    REQUIRE(r->encoding == GB_ENC_PLAIN || r->encoding == GB_ENC_NUMBER);
    REQUIRE(r->size <= rd->max_reply_size || rd->max_reply_size == 0);
    REQUIRE(r->data >= rd->buf.data && r->data + r->size <= rd->buf.data + rd->buf.len);
    if (r->code == GB_REPL_VAL && r->encoding == GB_ENC_NUMBER) {
        REQUIRE(gb_decode_number(r->data, r->size, &n) == 0 && n == r->number);
    }
    if (r->code == GB_REPL_KVAL) {
        REQUIRE(r->encoding == GB_ENC_PLAIN);
        check_kv(r);
    }
}

/* Take every complete reply; returns -1 once the stream is refused.
   `input` bounds what the buffer may legitimately have grown to. */
static int drain(gb_reader *rd, size_t input)
{
    gb_reply r;
    gb_error err;
    int rc;

    for (;;) {
        gb_reply_head head;
        int peeked = gb_reader_peek(rd, &head, &err);

        if (peeked == 1 && head.complete && (rd->buf.len & 1)) {
            /* Taken on the peeked header, as a client does. */
            gb_reader_take(rd, &head, &r);
            rc = 1;
        } else {
            rc = gb_reader_next(rd, &r, &err);
        }
        REQUIRE(peeked == rc || (peeked == 1 && rc == 0 && !head.complete));
        if (rc != 1)
            break;
        REQUIRE(head.complete && head.code == r.code && head.encoding == r.encoding &&
                head.size == r.size);
        check_reply(rd, &r);
    }
    if (rc < 0) {
        REQUIRE(err.status == GB_ERR_PROTOCOL || err.status == GB_ERR_REPLY_TOO_LARGE);
        /* The reader stays refused, and never allocates for a refused size
           field (which may say 4 GB). */
        REQUIRE(gb_reader_next(rd, &r, &err) == -1);
        REQUIRE(rd->buf.cap <= 2 * (input + (1 << 16) + (1 << 14)));
        return -1;
    }
    return 0;
}

/* A value still arriving: its buffered part into a buffer of our own, the
   rest skipped in the stream as if received there. Returns the new stream
   position. */
static size_t take_direct(gb_reader *rd, const uint8_t *data, size_t size, size_t pos)
{
    gb_reply_head head;
    gb_error err;
    size_t at = pos - gb_reader_buffered(rd), n, rest;
    unsigned char *dst;

    if (gb_reader_peek(rd, &head, &err) != 1 || head.complete || head.code != GB_REPL_VAL ||
        head.encoding != GB_ENC_PLAIN)
        return pos;
    dst = malloc(head.size + 1);
    REQUIRE(dst != NULL);
    n = gb_reader_take_payload(rd, &head, dst);
    REQUIRE(n < head.size && gb_reader_buffered(rd) == 0);
    REQUIRE(memcmp(dst, data + at + GB_REPLY_HEADER_SIZE, n) == 0);
    free(dst);
    rest = head.size - n;
    return rest < size - pos ? pos + rest : size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t caps[] = {1 << 20, 16, 300, 1 << 12};
    static const size_t max_cut[] = {1, 3, 17, 4096};
    gb_reader rd;
    gb_error err;
    uint32_t seed;
    size_t pos = 2, turn = 0;

    if (size < 2)
        return 0;
    gb_reader_init(&rd, caps[data[0] & 3]);
    seed = (uint32_t)data[1] * 2654435761u + 1;
    while (pos < size) {
        size_t cut, room;
        unsigned char *p;

        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        cut = 1 + seed % max_cut[(data[0] >> 2) & 3];
        if (cut > size - pos)
            cut = size - pos;
        if (turn++ % 2 == 0) {
            REQUIRE(gb_reader_feed(&rd, data + pos, cut, &err) == GB_OK);
        } else {
            p = gb_reader_space(&rd, &room, &err);
            REQUIRE(p != NULL && room >= 1);
            if (cut > room)
                cut = room;
            memcpy(p, data + pos, cut);
            gb_reader_commit(&rd, cut);
        }
        pos += cut;
        if (drain(&rd, size) < 0)
            break;
        if (data[0] & 16)
            pos = take_direct(&rd, data, size, pos);
    }
    gb_reader_free(&rd);

    /* The iterator on its own, over the raw bytes as a KVAL payload. */
    {
        gb_reply raw;

        memset(&raw, 0, sizeof raw);
        raw.code = GB_REPL_KVAL;
        raw.data = data + 2;
        raw.size = size - 2;
        check_kv(&raw);
    }
    return 0;
}
