/*
 * The Client object, shared with the Pipeline type, which borrows its
 * connection.
 */
#ifndef PYGIBSON_CLIENT_H
#define PYGIBSON_CLIENT_H

#include "_module.h"
#include "_ops.h"
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
    /* pygibson._serializing.Serializing of the serializer= option, or NULL:
     * set/mset/get/mget go through it only when there is one. */
    PyObject *serializing;
    int retry_reads;
    int empty_when_no_match; /* prefix ops give {}/[]/0, not NotFoundError */
    int connect_retries;     /* further attempts after a refused connect */
    int connect_backoff_ms;  /* wait before the first retry; doubles after */
    /* While the lock's owner waits in the library (CLIENT_BLOCKING), its
     * thread state, for the interrupt hook to run signal handlers on. */
    PyThreadState *blocked;
    /* The thread running signal handlers from inside a call, or NULL: a
     * handler that calls into the same client would wait for its own lock. */
    PyThreadState *in_handlers;
    PyObject *weakreflist;
} ClientObject;

/*
 * Py_BEGIN/END_ALLOW_THREADS around a blocking library call on self->conn,
 * with the lock held. A signal during the wait runs Python's handlers
 * (client_interrupted, the library's interrupt hook); one that raises ends
 * the call with GB_ERR_INTERRUPTED and its exception set.
 */
#define CLIENT_BLOCKING_BEGIN(self) { (self)->blocked = PyEval_SaveThread();
#define CLIENT_BLOCKING_END(self) PyEval_RestoreThread((self)->blocked); }

/*
 * Take the client's lock, releasing the GIL while waiting, and make sure the
 * connection belongs to this process: after fork() the child drops the
 * inherited socket (and a lock a vanished thread may hold) and reconnects.
 * Signal handlers run while it waits. Returns -1 with an exception set if
 * the client was never initialised, a handler raised, or the caller is a
 * signal handler interrupting a call on this same client.
 */
int client_acquire(ClientObject *self);
void client_release(ClientObject *self);
/* Connect if not connected, retrying refused connects with backoff (nothing
 * was sent, so even writes may retry). With the lock held; -1 with an
 * exception. */
int client_ensure_connected(ClientObject *self, gibson_state *st);
/* The operations a client's serializer applies to: the values of set and
 * mset go out through its dump(), those of get and mget come back through
 * load()/load_all(). */
static inline int
op_serialized(const op_spec *op)
{
    return op == &OP_SET || op == &OP_MSET || op == &OP_GET || op == &OP_MGET;
}
/* The fastcall arguments of set/mset to send: in `copy` (room for
 * OP_MAX_ARGS) with the value replaced by what the serializer's dump()
 * makes of it, whose reference *dumped holds until the call is made; or
 * `args` as they are, *dumped NULL, when there is no value to replace
 * (binding the arguments will say what is wrong). NULL with an exception
 * if dump() failed. */
PyObject *const *client_dump_value(ClientObject *self, const op_spec *op,
                                   PyObject *const *args, Py_ssize_t nargs,
                                   PyObject *kwnames, PyObject **copy, PyObject **dumped);
/* Through the client's serializer: the reply `result` (stolen) to `op` on
 * `key`, bytes loaded and ints left as they are; NULL with an exception. */
PyObject *client_load_value(ClientObject *self, const op_spec *op, PyObject *result,
                            PyObject *key);

/* True in a forked child for a client made before the fork. */
int client_is_inherited(const ClientObject *self);

#endif /* PYGIBSON_CLIENT_H */
