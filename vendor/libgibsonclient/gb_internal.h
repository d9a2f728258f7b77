/*
 * Private to libgibsonclient: shared by protocol.c, transport.c and client.c,
 * never installed. Nothing here is part of the contract in gibson.h.
 */
#ifndef GB_INTERNAL_H
#define GB_INTERNAL_H

#include "gibson.h"

#if defined(__GNUC__) || defined(__clang__)
#define GB_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define GB_NOINLINE __attribute__((noinline))
#else
#define GB_PRINTF(fmt, args)
#define GB_NOINLINE
#endif

/*
 * Record a failure in err (which may be NULL) and return its status, so a
 * failing path can end with `return gb_fail(err, ...)`. request_sent is left
 * alone: only client.c knows whether bytes reached the socket.
 */
gb_status gb_fail(gb_error *err, gb_status status, int sys_errno, const char *fmt, ...)
    GB_PRINTF(4, 5);

/* A little-endian uint32 from 4 bytes: frame lengths, reply sizes. Inline:
   it runs for every frame and reply. */
static inline uint32_t gb_get_u32le(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

/* The smallest room gb_reader_space offers when it cannot size the reply. */
#define GB_READER_MIN_ROOM (16u * 1024u)

#endif /* GB_INTERNAL_H */
