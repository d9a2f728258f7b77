/*
 * A tiny test harness: CHECK macros count failed checks, RUN counts a test
 * as passed when none of its checks failed. Test programs only; the library
 * itself keeps no global state.
 */
#ifndef GB_TEST_H
#define GB_TEST_H

#include <stdio.h>
#include <string.h>

#include "gibson.h"

extern long gb_test_checks;
extern long gb_test_check_failures;

void gb_test_run(const char *name, void (*fn)(void));
/* Hex dump of n bytes into a static buffer, for failure messages. */
const char *gb_test_hex(const void *p, size_t n);
/* Parse "0a 00 ..." (spaces ignored) into out; returns the byte count. */
size_t gb_test_unhex(const char *hex, unsigned char *out, size_t cap);

#define RUN(fn) gb_test_run(#fn, fn)

/*
 * Elapsed-time checks. The lower bound always counts: a deadline must never
 * be cut short. The upper bound counts unless GB_TEST_NO_TIMING is set
 * (valgrind, where the forked peers crawl too) or, when it is missed, the
 * machine turns out to be too busy to tell: gb_test_within then measures how
 * late short sleeps wake up, and forgives a miss smaller than that lag.
 */
int gb_test_within(long long ms, long long lo, long long hi, const char *file, int line);
#define CHECK_WITHIN(ms, lo, hi)                                                       \
    do {                                                                               \
        gb_test_checks++;                                                              \
        if (!gb_test_within((ms), (lo), (hi), __FILE__, __LINE__))                     \
            gb_test_check_failures++;                                                  \
    } while (0)

#define CHECK(cond)                                                                    \
    do {                                                                               \
        gb_test_checks++;                                                              \
        if (!(cond)) {                                                                 \
            gb_test_check_failures++;                                                  \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);   \
        }                                                                              \
    } while (0)

#define CHECK_INT(a, b)                                                                \
    do {                                                                               \
        long long a_ = (long long)(a), b_ = (long long)(b);                            \
        gb_test_checks++;                                                              \
        if (a_ != b_) {                                                                \
            gb_test_check_failures++;                                                  \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__,      \
                    __LINE__, #a, a_, #b, b_);                                         \
        }                                                                              \
    } while (0)

#define CHECK_STATUS(st, want)                                                         \
    do {                                                                               \
        gb_status st_ = (st), want_ = (want);                                          \
        gb_test_checks++;                                                              \
        if (st_ != want_) {                                                            \
            gb_test_check_failures++;                                                  \
            fprintf(stderr, "%s:%d: %s gave %s, expected %s\n", __FILE__, __LINE__, #st, \
                    gb_status_name(st_), gb_status_name(want_));                       \
        }                                                                              \
    } while (0)

#define CHECK_MEM(got, got_len, want, want_len)                                        \
    do {                                                                               \
        size_t gl_ = (got_len), wl_ = (want_len);                                      \
        gb_test_checks++;                                                              \
        if (gl_ != wl_ || (wl_ > 0 && memcmp((got), (want), wl_) != 0)) {              \
            gb_test_check_failures++;                                                  \
            fprintf(stderr, "%s:%d: %s differs: got %s", __FILE__, __LINE__, #got,     \
                    gb_test_hex((got), gl_));                                          \
            fprintf(stderr, " want %s\n", gb_test_hex((want), wl_));                   \
        }                                                                              \
    } while (0)

/* Test groups, one per file. */
void test_encode(void);
void test_reader(void);
void test_kv(void);
void test_transport(void);
void test_client(void);
void test_signals(void);
void test_cancel(void);

#endif /* GB_TEST_H */
