/*
 * The Client object, shared with the Pipeline type, which borrows its
 * connection.
 */
#ifndef PYGIBSON_CLIENT_H
#define PYGIBSON_CLIENT_H

#include "_module.h"
#include "pythread.h"

typedef struct {
    PyObject_HEAD
    /* The defining module's state, kept here so that per-operation methods
     * need not be METH_METHOD: CPython's call specialisation skips those.
     * The object holds its type, and the type its module, so it stays valid. */
    gibson_state *state;
    gb_client conn;
    int conn_ready;          /* conn was initialised and must be freed */
    PyThread_type_lock lock; /* one request at a time on conn */
    unsigned long generation; /* forks seen when conn was made ours */
    PyObject *encoding;      /* str, or NULL for bytes */
    int retry_reads;
    int connect_retries;     /* further attempts after a refused connect */
    int connect_backoff_ms;  /* wait before the first retry; doubles after */
    PyObject *weakreflist;
} ClientObject;

/*
 * Take the client's lock, releasing the GIL while waiting, and make sure the
 * connection belongs to this process: after fork() the child drops the
 * inherited socket (and a lock a vanished thread may hold) and reconnects.
 * Returns -1 with an exception set if the client was never initialised.
 */
int client_acquire(ClientObject *self);
void client_release(ClientObject *self);
/* Connect if not connected, retrying refused connects with backoff (nothing
 * was sent, so even writes may retry). With the lock held; -1 with an
 * exception. */
int client_ensure_connected(ClientObject *self, gibson_state *st);
/* True in a forked child for a client made before the fork. */
int client_is_inherited(const ClientObject *self);

#endif /* PYGIBSON_CLIENT_H */
