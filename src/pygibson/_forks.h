/*
 * Fork detection for the extension: a process-wide count of the forks this
 * process descends from, so that a Client made before a fork() knows, in the
 * child, that its socket and lock are the parent's.
 */
#ifndef PYGIBSON_FORKS_H
#define PYGIBSON_FORKS_H

#include "_module.h"

/* Bumped in every child by a pthread_atfork() handler and compared on every
 * request: a memory load, where getpid() would cost a system call. Counts
 * only once watch_forks() has succeeded. */
extern volatile unsigned long fork_generation;

/* Installs the handler, once per process however often it is called (each
 * interpreter that imports the extension calls it), from any thread.
 * 0, or -1 with OSError set; a failed call may be retried. */
int watch_forks(void);

#endif /* PYGIBSON_FORKS_H */
