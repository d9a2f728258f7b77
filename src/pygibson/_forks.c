/*
 * The pthread_atfork() handler behind fork_generation, installed once.
 *
 * Not with pthread_once(): since glibc 2.34 moved libpthread into libc, a
 * build links it as pthread_once@GLIBC_2.34, and that one symbol made every
 * Linux wheel require glibc 2.34 (manylinux_2_34). pthread_atfork() itself
 * costs nothing: glibc links it statically from libc_nonshared.a over
 * __register_atfork@GLIBC_2.3.2. So the once-only logic is a flag of our own,
 * changed with the compiler's atomic builtins (GCC and Clang, on every
 * platform we build for).
 */
#include "_forks.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

volatile unsigned long fork_generation = 0;

/* Three states: no handler, handler installed, or being installed, in which
 * case the flag holds the installing process's id (always > 0). The id is
 * there for a fork() that lands mid-install: the child inherits "being
 * installed" with no thread left to finish, and tells so by the id not
 * being its own. */
#define HOOK_ABSENT 0L
#define HOOK_INSTALLED (-1L)
static long hook_state = HOOK_ABSENT;

static void
count_fork_in_child(void)
{
    /* The child has one thread at this point: plain updates are safe. */
    fork_generation++;
    /* This handler running proves it is installed here, even if the fork
     * came before the parent's installing thread could record it. */
    __atomic_store_n(&hook_state, HOOK_INSTALLED, __ATOMIC_RELAXED);
}

int
watch_forks(void)
{
    for (;;) {
        long state = __atomic_load_n(&hook_state, __ATOMIC_ACQUIRE);
        if (state == HOOK_INSTALLED) {
            return 0;
        }
        if (state != HOOK_ABSENT && state != (long)getpid()) {
            /* Left over from a parent that forked mid-install, before its
             * pthread_atfork() call (after it, count_fork_in_child would
             * have said INSTALLED): nobody will finish it here. */
            __atomic_compare_exchange_n(&hook_state, &state, HOOK_ABSENT, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
            continue;
        }
        if (state != HOOK_ABSENT) {
            /* Another thread of this process is installing it (free-threaded
             * builds, or interpreters with a GIL each); that takes
             * microseconds. */
            sched_yield();
            continue;
        }
        long mine = (long)getpid();
        if (!__atomic_compare_exchange_n(&hook_state, &state, mine, 0,
                                         __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            continue; /* lost the race: look at the new state */
        }
        int err = pthread_atfork(NULL, NULL, count_fork_in_child);
        /* On failure (ENOMEM) back to absent, so that a later import may try
         * again instead of waiting for ever. */
        __atomic_store_n(&hook_state, err == 0 ? HOOK_INSTALLED : HOOK_ABSENT,
                         __ATOMIC_RELEASE);
        if (err != 0) {
            errno = err;
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        return 0;
    }
}
