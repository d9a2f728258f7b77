/* Runs every test group and prints the summary line `N passed, M failed`. */
#define _POSIX_C_SOURCE 200809L

#include "test.h"
#include "vectors.h"

#include <ctype.h>
#include <poll.h>
#include <stdlib.h>

long gb_test_checks;
long gb_test_check_failures;
static int tests_passed;
static int tests_failed;

void gb_test_run(const char *name, void (*fn)(void))
{
    long before = gb_test_check_failures;

    fn();
    if (gb_test_check_failures == before) {
        tests_passed++;
    } else {
        tests_failed++;
        fprintf(stderr, "FAILED: %s\n", name);
    }
}

const char *gb_test_hex(const void *p, size_t n)
{
    static char out[200];
    const unsigned char *b = p;
    size_t i, used = 0;

    out[0] = '\0';
    for (i = 0; i < n && used + 4 < sizeof out; i++)
        used += (size_t)snprintf(out + used, sizeof out - used, "%02x", b[i]);
    if (i < n)
        snprintf(out + used, sizeof out - used, "...");
    return out;
}

size_t gb_test_unhex(const char *hex, unsigned char *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;

    for (; *hex != '\0'; hex++) {
        int v;

        if (isspace((unsigned char)*hex))
            continue;
        v = isdigit((unsigned char)*hex) ? *hex - '0' : tolower((unsigned char)*hex) - 'a' + 10;
        if (hi < 0) {
            hi = v;
        } else {
            if (n < cap)
                out[n] = (unsigned char)(hi * 16 + v);
            n++;
            hi = -1;
        }
    }
    return n;
}

/* How late, at worst, a few 10 ms sleeps wake up right now. */
static long long scheduling_lag_ms(void)
{
    long long worst = 0;
    int i;

    for (i = 0; i < 5; i++) {
        int64_t start = gb_clock_ms();
        long long lag;

        poll(NULL, 0, 10);
        lag = (long long)(gb_clock_ms() - start) - 10;
        if (lag > worst)
            worst = lag;
    }
    return worst;
}

int gb_test_within(long long ms, long long lo, long long hi, const char *file, int line)
{
    const char *no_timing = getenv("GB_TEST_NO_TIMING");
    long long lag;

    if (ms < lo) {
        fprintf(stderr, "%s:%d: took %lld ms, under the %lld ms it must wait\n", file, line,
                ms, lo);
        return 0;
    }
    if (ms <= hi || (no_timing != NULL && *no_timing != '\0' && *no_timing != '0'))
        return 1;
    lag = scheduling_lag_ms();
    if (ms - hi <= lag) {
        fprintf(stderr, "%s:%d: note: took %lld ms (bound %lld), but sleeps wake up %lld ms "
                "late on this busy machine; not counted\n", file, line, ms, hi, lag);
        return 1;
    }
    fprintf(stderr, "%s:%d: took %lld ms, over the %lld ms bound (scheduling lag %lld ms)\n",
            file, line, ms, hi, lag);
    return 0;
}

int main(void)
{
    /* SIGPIPE keeps its default action on purpose: should the library ever
       write to a closed socket without MSG_NOSIGNAL, this process dies. */
    /* First: the protocol vectors the groups below check against. A missing
       or broken file fails the run here, and again in every group that
       counts the vectors it expected. */
    RUN(test_vectors_file);
    test_encode();
    test_reader();
    test_kv();
    test_transport();
    test_client();
    test_signals();
    test_cancel();
    printf("(%ld checks)\n", gb_test_checks);
    printf("%d passed, %d failed\n", tests_passed, tests_failed);
    return tests_failed == 0 ? 0 : 1;
}
