/*
 * pygibson.Client: a blocking connection with one method per operation.
 *
 * Every request runs with the client's lock held and the GIL released around
 * the library call, so threads sharing a Client never interleave frames and
 * other threads run while one waits on the server. A signal that comes
 * during the wait runs Python's handlers at once (client_interrupted).
 */
#include "_client.h"

#include <time.h>

#include "_forks.h"
#include "_ops.h"
#include "structmember.h"

int
client_is_inherited(const ClientObject *self)
{
    return self->generation != fork_generation;
}

/* The lock is taken: wait for it, as threading.Lock.acquire() does, running
 * signal handlers when a signal interrupts the wait. */
static NOINLINE int
client_wait_for_lock(ClientObject *self)
{
    if (self->in_handlers != NULL && self->in_handlers == PyThreadState_Get()) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this Client is busy with the call that the running signal handler "
                        "interrupted; a handler may close() it, or use another client");
        return -1;
    }
    for (;;) {
        PyLockStatus got;
        Py_BEGIN_ALLOW_THREADS
        got = PyThread_acquire_lock_timed(self->lock, -1, 1);
        Py_END_ALLOW_THREADS
        if (got == PY_LOCK_ACQUIRED) {
            return 0;
        }
        if (PyErr_CheckSignals() < 0) {
            return -1;
        }
    }
}

/* The library's interrupt hook (gb_interrupt): a signal came while the
 * lock's owner waited with the GIL released. Python runs its handlers on
 * the thread they were delivered to only when that thread executes Python
 * code, so run them now, on the waiting thread's state; a handler that
 * raised (Ctrl-C's KeyboardInterrupt) ends the call. Off the main thread,
 * PyErr_CheckSignals() does nothing and the wait goes on. */
static int
client_interrupted(void *arg)
{
    ClientObject *self = (ClientObject *)arg;
    PyThreadState *waiting = self->blocked;
    PyEval_RestoreThread(waiting);
    self->in_handlers = waiting;
    int stop = PyErr_CheckSignals() < 0;
    self->in_handlers = NULL;
    self->blocked = PyEval_SaveThread();
    return stop;
}

int
client_acquire(ClientObject *self)
{
    if (!self->conn_ready || self->lock == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Client.__init__() was not called");
        return -1;
    }
    if (client_is_inherited(self)) {
        /* A forked child. The lock may be held by a parent thread that does
         * not exist here; the socket is the parent's. */
        if (PyThread_acquire_lock(self->lock, NOWAIT_LOCK)) {
            PyThread_release_lock(self->lock);
        } else {
            PyThread_type_lock fresh = PyThread_allocate_lock();
            if (fresh == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            /* The old lock is left allocated: freeing a held lock is undefined. */
            self->lock = fresh;
        }
        gb_client_abandon(&self->conn);
        self->generation = fork_generation;
    }
    if (!PyThread_acquire_lock(self->lock, NOWAIT_LOCK)) {
        return client_wait_for_lock(self);
    }
    return 0;
}

void
client_release(ClientObject *self)
{
    PyThread_release_lock(self->lock);
}

static void
sleep_ms(int ms)
{
    struct timespec pause = {ms / 1000, (long)(ms % 1000) * 1000000L};
    /* An interrupted pause just ends early: the caller checks for signals. */
    (void)nanosleep(&pause, NULL);
}

int
client_ensure_connected(ClientObject *self, gibson_state *st)
{
    gb_error err;
    gb_status status;
    int backoff = self->connect_backoff_ms;
    for (int retries = self->connect_retries;; retries--) {
        if (gb_client_connected(&self->conn)) {
            return 0;
        }
        gb_error_clear(&err);
        int again;
        CLIENT_BLOCKING_BEGIN(self)
        status = gb_client_connect(&self->conn, &err);
        again = status == GB_ERR_CONNECT && retries > 0;
        if (again) {
            sleep_ms(backoff);
        }
        CLIENT_BLOCKING_END(self)
        if (status == GB_OK) {
            return 0;
        }
        if (PyErr_Occurred()) {
            return -1; /* a signal handler raised */
        }
        if (!again) {
            raise_gb_error(st, &err);
            return -1;
        }
        if (PyErr_CheckSignals() < 0) {
            return -1;
        }
        backoff = backoff > 1000000 ? backoff : backoff * 2;
    }
}

/* Whether op's reply, if a value, becomes bytes as it is (with an encoding
 * it is decoded out of a buffer, so it gains nothing from its own). */
static int
wants_own_bytes(const ClientObject *self, const op_spec *op)
{
    return op->result == RES_VALUE && self->encoding == NULL;
}

/* Whether a reply is a plain value still mostly in the socket, to be
 * received straight into the bytes object returned for it. */
static int
arrives_as_bytes(const ClientObject *self, const op_spec *op, const gb_reply_head *head)
{
    return wants_own_bytes(self, op) && !head->complete && head->code == GB_REPL_VAL &&
           head->encoding == GB_ENC_PLAIN && head->size <= (size_t)PY_SSIZE_T_MAX;
}

/* One request and its reply, once. A large plain value goes straight into
 * a bytes object made to its size as soon as the header is known, set in
 * *bytes: what arrived with the header (at most 16 KB) is the only part
 * copied. Anything else ends in *reply. Fails with err set, or with a
 * Python exception (MemoryError) when that bytes object cannot be made. */
static gb_status
client_call_once(ClientObject *self, const op_spec *op, const gb_request *req,
                 gb_reply *reply, PyObject **bytes, gb_error *err)
{
    gb_reply_head head;
    gb_status status;
    /* Only a value may be received into its own bytes: any other reply is
     * read as it comes, in as few receives as it takes. */
    size_t first_read = wants_own_bytes(self, op) ? GB_CALL_HEAD_READ : SIZE_MAX;
    CLIENT_BLOCKING_BEGIN(self)
    status = gb_client_call_head(&self->conn, req, first_read, &head, err);
    CLIENT_BLOCKING_END(self)
    if (status != GB_OK) {
        return status;
    }
    if (head.complete) {
        /* The common case: the reply came whole; no I/O is left. */
        return gb_client_call_finish(&self->conn, &head, reply, err);
    }
    if (!arrives_as_bytes(self, op, &head)) {
        CLIENT_BLOCKING_BEGIN(self)
        status = gb_client_call_finish(&self->conn, &head, reply, err);
        CLIENT_BLOCKING_END(self)
        return status;
    }
    PyObject *value = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)head.size);
    if (value == NULL) {
        /* The payload is still due on the socket: drop the connection, or
         * it would be read as the next reply. */
        gb_client_close(&self->conn);
        return GB_ERR_NOMEM;
    }
    unsigned char *dst = (unsigned char *)PyBytes_AS_STRING(value);
    CLIENT_BLOCKING_BEGIN(self)
    status = gb_client_call_finish_into(&self->conn, &head, dst, err);
    CLIENT_BLOCKING_END(self)
    if (status != GB_OK) {
        Py_DECREF(value);
        return status;
    }
    *bytes = value;
    return GB_OK;
}

/* One request, with the lock held: 0 with the reply in *reply (or a large
 * value in *bytes), or -1 with an exception. Reads are retried once on a
 * fresh connection when a connection that had served earlier requests
 * turns out to be dead (a server restart); writes never are. A connection
 * found dead or out of step before sending is replaced by the library
 * itself; when that reconnect is refused, the connect is tried again here,
 * with the connect retries, since nothing was sent. */
static int
client_roundtrip(ClientObject *self, gibson_state *st, const op_spec *op,
                 const gb_request *req, gb_reply *reply, PyObject **bytes)
{
    gb_error err;
    gb_status status;
    int attempts = (op->idempotent && self->retry_reads) ? 2 : 1;
    int reconnected = 0;
    for (;;) {
        int reused = gb_client_connected(&self->conn);
        if (!reused) {
            /* A bad argument is said as such, not as a refused connect:
             * the library checks before any I/O, but this connect comes
             * first (for its retries). Only here, off the path of a
             * connection in use. */
            if (!reconnected && gb_client_check(&self->conn, req, &err) != GB_OK) {
                break;
            }
            if (client_ensure_connected(self, st) < 0) {
                return -1;
            }
        }
        gb_error_clear(&err);
        status = client_call_once(self, op, req, reply, bytes, &err);
        if (status == GB_OK) {
            return 0;
        }
        if (PyErr_Occurred()) {
            return -1;
        }
        if (status == GB_ERR_CONNECT && reused && !reconnected) {
            reconnected = 1;
            continue;
        }
        attempts--;
        if (attempts == 0 || !reused ||
            (status != GB_ERR_CLOSED && status != GB_ERR_IO)) {
            break;
        }
    }
    raise_call_error(st, &err, op);
    return -1;
}

static PyObject *
client_call(ClientObject *self, const op_spec *op, PyObject *const *args, Py_ssize_t nargs,
            PyObject *kwnames)
{
    gibson_state *st = self->state;
    prepared_request p;
    if (prepare_request(st, op, args, nargs, kwnames, &p) < 0) {
        return NULL;
    }
    if (client_acquire(self) < 0) {
        prepared_release(&p);
        return NULL;
    }
    gb_reply reply;
    PyObject *result = NULL;
    for (int retried = 0;; retried = 1) {
        if (client_roundtrip(self, st, op, &p.req, &reply, &result) < 0 || result != NULL) {
            break;
        }
        int broken = 0;
        result = result_from_reply(st, op, &p.req, &reply, self->encoding,
                                   self->empty_when_no_match, &broken);
        if (result != NULL) {
            if (op->result == RES_QUIT) {
                gb_client_close(&self->conn);
            }
            break;
        }
        /* A key-value reply short of pairs (§3.4): the first one freed the
         * expired items that cut it, so the read, idempotent, is asked once
         * more before PartialResultError is raised. */
        if (!retried && op->idempotent && PyErr_ExceptionMatches(st->PartialResultError)) {
            PyErr_Clear();
            continue;
        }
        /* A garbled key-value set did not break the framing, but a server
         * that sends one is not to be trusted with the next request. */
        if (broken || PyErr_ExceptionMatches(st->ProtocolError) || op->result == RES_QUIT) {
            gb_client_close(&self->conn);
        }
        break;
    }
    client_release(self);
    if (result == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        name_key_in_decode_error(op, p.req.key, p.req.key_len);
    }
    prepared_release(&p);
    return result;
}

/* ---- the serializer (serializer=), for set, mset, get and mget ---------- */

PyObject *const *
client_dump_value(ClientObject *self, const op_spec *op, PyObject *const *args,
                  Py_ssize_t nargs, PyObject *kwnames, PyObject **copy, PyObject **dumped)
{
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    Py_ssize_t at = nargs >= 2 ? 1 : -1;
    *dumped = NULL;
    for (Py_ssize_t k = 0; at < 0 && k < nkw; k++) {
        if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, k), "value") == 0) {
            at = nargs + k;
        }
    }
    if (at < 0 || nargs + nkw > op->nparams) {
        return args; /* no value, or too many arguments: the binding says so */
    }
    PyObject *value = PyObject_CallMethod(self->serializing, "dump", "(O)", args[at]);
    if (value == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nargs + nkw; i++) {
        copy[i] = i == at ? value : args[i];
    }
    *dumped = value;
    return copy;
}

PyObject *
client_load_value(ClientObject *self, const op_spec *op, PyObject *result, PyObject *key)
{
    if (result == NULL) {
        return NULL;
    }
    PyObject *loaded = PyObject_CallMethod(self->serializing,
                                           op == &OP_GET ? "load" : "load_all", "OsO",
                                           result, op->command, key);
    Py_DECREF(result);
    return loaded;
}

/* The first parameter (key or prefix) of a call whose arguments bound. */
static PyObject *
first_argument(const op_spec *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    if (nargs > 0) {
        return args[0];
    }
    for (Py_ssize_t k = 0; kwnames != NULL && k < PyTuple_GET_SIZE(kwnames); k++) {
        if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, k),
                                             op->params[0]) == 0) {
            return args[k];
        }
    }
    return Py_None; /* not reached: the binding requires it */
}

/* client_call through the serializer. Out of line: only a client made with
 * a serializer comes here. */
static NOINLINE PyObject *
client_call_serialized(ClientObject *self, const op_spec *op, PyObject *const *args,
                       Py_ssize_t nargs, PyObject *kwnames)
{
    if (op == &OP_GET || op == &OP_MGET) {
        PyObject *result = client_call(self, op, args, nargs, kwnames);
        return client_load_value(self, op, result, first_argument(op, args, nargs, kwnames));
    }
    PyObject *copy[OP_MAX_ARGS];
    PyObject *dumped;
    PyObject *const *sent = client_dump_value(self, op, args, nargs, kwnames, copy, &dumped);
    PyObject *result = sent == NULL ? NULL : client_call(self, op, sent, nargs, kwnames);
    Py_XDECREF(dumped);
    return result;
}

/* One call of op: through the serializer when the client has one and op
 * is one of its four, straight to the server otherwise. */
static inline PyObject *
client_run(ClientObject *self, const op_spec *op, PyObject *const *args, Py_ssize_t nargs,
           PyObject *kwnames)
{
    if (self->serializing != NULL && op_serialized(op)) {
        return client_call_serialized(self, op, args, nargs, kwnames);
    }
    return client_call(self, op, args, nargs, kwnames);
}

/* get(key, default): the default for a missing or expired key (the server
 * answers not found), the value otherwise; the cache-aside idiom. Taken
 * apart here, so that the table's GET stays one parameter everywhere else
 * (pipelines, the Reader) and a plain get(key) never comes this way. */
static PyObject *
client_get_or_default(ClientObject *self, PyObject *const *args, Py_ssize_t nargs,
                      PyObject *kwnames)
{
    if (nargs > 2) {
        PyErr_Format(PyExc_TypeError, "get() takes at most 2 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *key = nargs >= 1 ? args[0] : NULL;
    PyObject *default_value = nargs >= 2 ? args[1] : NULL;
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i);
        PyObject **slot;
        if (PyUnicode_CompareWithASCIIString(name, "key") == 0) {
            slot = &key;
        } else if (PyUnicode_CompareWithASCIIString(name, "default") == 0) {
            slot = &default_value;
        } else {
            PyErr_Format(PyExc_TypeError, "get() got an unexpected keyword argument '%U'",
                         name);
            return NULL;
        }
        if (*slot != NULL) {
            PyErr_Format(PyExc_TypeError, "get() got multiple values for argument '%U'",
                         name);
            return NULL;
        }
        *slot = args[nargs + i];
    }
    if (key == NULL) {
        PyErr_SetString(PyExc_TypeError, "get() missing required argument 'key'");
        return NULL;
    }
    PyObject *result = client_run(self, &OP_GET, &key, 1, NULL);
    if (result == NULL && default_value != NULL &&
        PyErr_ExceptionMatches(self->state->NotFoundError)) {
        PyErr_Clear();
        return Py_NewRef(default_value);
    }
    return result;
}

/* &SPEC == &OP_GET is decided when compiling: only get() has the test. */
#define CLIENT_METHOD(NAME, SPEC)                                                    \
    static PyObject *client_##NAME(PyObject *self, PyObject *const *args,            \
                                   Py_ssize_t nargs, PyObject *kwnames)               \
    {                                                                                \
        if (&SPEC == &OP_GET && (nargs > 1 || kwnames != NULL)) {                    \
            return client_get_or_default((ClientObject *)self, args, nargs, kwnames); \
        }                                                                            \
        return client_run((ClientObject *)self, &SPEC, args, nargs, kwnames);        \
    }

#define GB_OPERATION(NAME, OPCODE, SHAPE, PREFIX, METHOD, ...) CLIENT_METHOD(METHOD, OP_##NAME)
#define GB_ALIAS(...)
#include "operations.def"
#undef GB_OPERATION
#undef GB_ALIAS

/* ---- construction ------------------------------------------------------- */

static int
size_option(gibson_state *st, PyObject *obj, const char *name, int none_ok, size_t *out)
{
    if (obj == NULL) {
        return 0;
    }
    if (obj == Py_None && none_ok) {
        *out = 0;
        return 0;
    }
    if (PyBool_Check(obj) || !PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int%s, not %.100s", name,
                     none_ok ? " or None" : "", TYPE_NAME(Py_TYPE(obj)));
        return -1;
    }
    Py_ssize_t value = PyLong_AsSsize_t(obj);
    if (value == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (value < 1 || (uint64_t)value > UINT32_MAX) {
        PyErr_Format(st->ArgumentError, "%s must be between 1 and %lu bytes", name,
                     (unsigned long)UINT32_MAX);
        return -1;
    }
    *out = (size_t)value;
    return 0;
}

/* pygibson._address.client_address(addr, port_given): a (host, port,
 * unix_path) tuple, or NULL with its exception (ArgumentError, TypeError). */
static PyObject *
client_address(PyObject *addr, int port_given)
{
    PyObject *module = PyImport_ImportModule("pygibson._address");
    if (module == NULL) {
        return NULL;
    }
    PyObject *split = PyObject_CallMethod(module, "client_address", "OO", addr,
                                          port_given ? Py_True : Py_False);
    Py_DECREF(module);
    if (split != NULL && !(PyTuple_Check(split) && PyTuple_GET_SIZE(split) == 3)) {
        Py_DECREF(split);
        PyErr_SetString(PyExc_SystemError, "client_address() must return a 3-tuple");
        return NULL;
    }
    return split;
}

/* pygibson._serializing.Serializing(serializer), which checks it; refused
 * with an encoding, since loads() takes the stored bytes. */
static PyObject *
make_serializing(gibson_state *st, PyObject *serializer, int has_encoding)
{
    if (has_encoding) {
        PyErr_SetString(st->ArgumentError,
                        "serializer and encoding exclude each other: the serializer's "
                        "loads() takes the stored bytes (JSON gives str back already)");
        return NULL;
    }
    PyObject *module = PyImport_ImportModule("pygibson._serializing");
    if (module == NULL) {
        return NULL;
    }
    PyObject *serializing = PyObject_CallMethod(module, "Serializing", "(O)", serializer);
    Py_DECREF(module);
    return serializing;
}

static int
client_init(PyObject *op, PyObject *args, PyObject *kwargs)
{
    ClientObject *self = (ClientObject *)op;
    static char *keywords[] = {"addr",           "port",           "unix_socket",
                               "timeout",        "host",           "connect_timeout",
                               "encoding",       "max_key_size",   "max_value_size",
                               "max_request_size", "max_reply_size", "strict_ttl",
                               "retry_reads",    "connect_retries", "connect_backoff",
                               "empty_when_no_match", "serializer", NULL};
    PyObject *addr = NULL, *host = NULL, *unix_socket = Py_None, *timeout = NULL;
    PyObject *port_arg = NULL;
    PyObject *connect_timeout = NULL, *encoding = Py_None;
    PyObject *max_key = NULL, *max_value = NULL, *max_request = NULL, *max_reply = NULL;
    int port = GB_DEFAULT_PORT, strict_ttl = 1, retry_reads = 1;
    int connect_retries = 2, connect_backoff = 50, empty_when_no_match = 0;
    PyObject *serializer = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OOOO$OOOOOOOppiipO:Client", keywords,
                                     &addr, &port_arg, &unix_socket, &timeout, &host,
                                     &connect_timeout, &encoding, &max_key, &max_value,
                                     &max_request, &max_reply, &strict_ttl,
                                     &retry_reads, &connect_retries, &connect_backoff,
                                     &empty_when_no_match, &serializer)) {
        return -1;
    }
    gibson_state *st = self->state;
    if (addr != NULL && host != NULL) {
        PyErr_SetString(PyExc_TypeError, "Client() takes addr or its alias host, not both");
        return -1;
    }
    if (addr == NULL) {
        addr = host;
    }
    if (connect_retries < 0 || connect_retries > 100 || connect_backoff < 0 ||
        connect_backoff > 60000) {
        PyErr_SetString(st->ArgumentError,
                        "connect_retries must be 0..100 and connect_backoff 0..60000 ms");
        return -1;
    }
    gb_client_config config;
    gb_client_config_default(&config);
    config.host = GB_DEFAULT_HOST;
    if (addr != NULL && addr != Py_None) {
        if (!PyUnicode_Check(addr)) {
            PyErr_Format(PyExc_TypeError, "addr must be a str, not %.100s",
                         TYPE_NAME(Py_TYPE(addr)));
            return -1;
        }
        config.host = PyUnicode_AsUTF8(addr);
        if (config.host == NULL) {
            return -1;
        }
    }
    if (port_arg != NULL) {
        /* Checked here rather than by the argument parser, whose TypeError
         * does not say which argument was wrong. */
        if (PyBool_Check(port_arg) || !PyLong_Check(port_arg)) {
            PyErr_Format(PyExc_TypeError,
                         "port must be an int between 1 and 65535, not %.100s",
                         TYPE_NAME(Py_TYPE(port_arg)));
            return -1;
        }
        int overflow = 0;
        long value = PyLong_AsLongAndOverflow(port_arg, &overflow);
        if (value == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (overflow || value < 1 || value > 65535) {
            PyErr_Format(st->ArgumentError, "port must be between 1 and 65535, not %R",
                         port_arg);
            return -1;
        }
        port = (int)value;
    }
    config.port = port;

    PyObject *serializing = NULL; /* owned until it is the client's */
    PyObject *path = NULL; /* keeps unix_path alive until gb_client_init copies it */
    PyObject *split = NULL; /* the same for a host taken out of addr */
    if (addr != NULL && addr != Py_None && unix_socket == Py_None &&
        strpbrk(config.host, ":/[") != NULL) {
        /* "host:port", "[v6]:port" or a unix socket path, read by the one
         * address parser (pygibson._address); a bare IPv6 literal comes
         * back as it is. Only for such an addr, so not on the usual path. */
        split = client_address(addr, port != GB_DEFAULT_PORT);
        if (split == NULL) {
            return -1;
        }
        PyObject *split_host = PyTuple_GET_ITEM(split, 0);
        PyObject *split_port = PyTuple_GET_ITEM(split, 1);
        if (split_host != Py_None) {
            config.host = PyUnicode_AsUTF8(split_host);
            if (config.host == NULL) {
                goto error;
            }
        }
        if (split_port != Py_None) {
            config.port = (int)PyLong_AsLong(split_port);
        }
        unix_socket = PyTuple_GET_ITEM(split, 2);
    }
    if (unix_socket != Py_None) {
        path = PyOS_FSPath(unix_socket);
        if (path == NULL) {
            return -1;
        }
        if (PyUnicode_Check(path)) {
            Py_SETREF(path, PyUnicode_EncodeFSDefault(path));
            if (path == NULL) {
                return -1;
            }
        }
        config.unix_path = PyBytes_AS_STRING(path);
        if (strlen(config.unix_path) != (size_t)PyBytes_GET_SIZE(path)) {
            PyErr_SetString(st->ArgumentError, "unix_socket must not contain a NUL byte");
            goto error;
        }
    }

    config.timeout_ms = 1000;
    if (timeout != NULL && arg_timeout_ms(st, timeout, "timeout", &config.timeout_ms) < 0) {
        goto error;
    }
    config.connect_timeout_ms = config.timeout_ms;
    if (connect_timeout != NULL &&
        arg_timeout_ms(st, connect_timeout, "connect_timeout", &config.connect_timeout_ms) <
            0) {
        goto error;
    }
    if (size_option(st, max_key, "max_key_size", 0, &config.limits.max_key_size) < 0 ||
        size_option(st, max_value, "max_value_size", 1, &config.limits.max_value_size) < 0 ||
        size_option(st, max_request, "max_request_size", 0,
                    &config.limits.max_request_size) < 0 ||
        size_option(st, max_reply, "max_reply_size", 0, &config.max_reply_size) < 0) {
        goto error;
    }
    config.limits.strict_ttl = strict_ttl;

    PyObject *known_encoding;
    if (arg_encoding(st, encoding, &known_encoding) < 0) {
        goto error;
    }
    if (serializer != Py_None) {
        serializing = make_serializing(st, serializer, known_encoding != NULL);
        if (serializing == NULL) {
            goto error;
        }
    }

    if (self->lock == NULL) {
        self->lock = PyThread_allocate_lock();
        if (self->lock == NULL) {
            PyErr_NoMemory();
            goto error;
        }
    }
    if (self->conn_ready) {
        gb_client_free(&self->conn);
        self->conn_ready = 0;
    }
    gb_error err;
    gb_error_clear(&err);
    if (gb_client_init(&self->conn, &config, &err) != GB_OK) {
        raise_gb_error(st, &err);
        goto error;
    }
    gb_client_set_interrupt(&self->conn, client_interrupted, self);
    self->conn_ready = 1;
    self->generation = fork_generation;
    self->retry_reads = retry_reads;
    self->empty_when_no_match = empty_when_no_match;
    self->connect_retries = connect_retries;
    self->connect_backoff_ms = connect_backoff;
    Py_XSETREF(self->encoding, known_encoding == NULL ? NULL : Py_NewRef(known_encoding));
    Py_XSETREF(self->serializing, serializing);
    Py_XDECREF(split);
    Py_XDECREF(path);
    return 0;
error:
    Py_XDECREF(serializing);
    Py_XDECREF(split);
    Py_XDECREF(path);
    return -1;
}

static PyObject *
client_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    (void)args;
    (void)kwargs;
    gibson_state *st = gibson_state_from_type(type);
    if (st == NULL) {
        return NULL;
    }
    ClientObject *self = (ClientObject *)TYPE_ALLOC(type)(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->state = st;
    self->conn.fd = -1;
    self->conn_ready = 0;
    self->lock = NULL;
    self->blocked = NULL;
    self->in_handlers = NULL;
    self->encoding = NULL;
    self->serializing = NULL;
    self->weakreflist = NULL;
    return (PyObject *)self;
}

static void
client_dealloc(PyObject *op)
{
    ClientObject *self = (ClientObject *)op;
    PyTypeObject *type = Py_TYPE(op);
    if (self->weakreflist != NULL) {
        PyObject_ClearWeakRefs(op);
    }
    if (self->conn_ready) {
        /* In a forked child the socket is the parent's: leave it open. */
        if (client_is_inherited(self)) {
            gb_client_abandon(&self->conn);
        }
        gb_client_free(&self->conn);
    }
    if (self->lock != NULL) {
        PyThread_free_lock(self->lock);
    }
    Py_CLEAR(self->encoding);
    Py_CLEAR(self->serializing);
    TYPE_FREE(type)(op);
    Py_DECREF(type);
}

/* ---- connection management ---------------------------------------------- */

/* How long close() waits for a call it cancelled to let go of the lock. */
#define CLOSE_WAIT_US 20000

/* close() while another call holds the lock: end that call's connection
 * at once (the call raises ConnectionError), then wait a moment for the
 * lock, so that the connection is closed here and later calls simply
 * reconnect. 1 with the lock taken, 0 if the call kept it (it will find
 * the connection ended). */
static NOINLINE int
client_cancel_call(ClientObject *self)
{
    gb_client_cancel(&self->conn);
    if (self->in_handlers != NULL && self->in_handlers == PyThreadState_Get()) {
        return 0; /* a signal handler inside that very call: it holds the lock */
    }
    PyLockStatus got;
    Py_BEGIN_ALLOW_THREADS
    got = PyThread_acquire_lock_timed(self->lock, CLOSE_WAIT_US, 0);
    Py_END_ALLOW_THREADS
    return got == PY_LOCK_ACQUIRED;
}

static PyObject *
client_close(PyObject *op, PyObject *unused)
{
    (void)unused;
    ClientObject *self = (ClientObject *)op;
    if (!self->conn_ready) {
        Py_RETURN_NONE;
    }
    if (client_is_inherited(self)) {
        /* A forked child: this sets the lock and the socket right. */
        if (client_acquire(self) < 0) {
            return NULL;
        }
    }
    else if (!PyThread_acquire_lock(self->lock, NOWAIT_LOCK) && !client_cancel_call(self)) {
        Py_RETURN_NONE;
    }
    gb_client_close(&self->conn);
    client_release(self);
    Py_RETURN_NONE;
}

static PyObject *
client_connect(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)args;
    ClientObject *self = (ClientObject *)op;
    if (nargs != 0 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0)) {
        PyErr_SetString(PyExc_TypeError, "connect() takes no arguments");
        return NULL;
    }
    gibson_state *st = self->state;
    if (client_acquire(self) < 0) {
        return NULL;
    }
    int failed = client_ensure_connected(self, st);
    client_release(self);
    if (failed) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
client_pipeline(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)args;
    if (nargs != 0 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0)) {
        PyErr_SetString(PyExc_TypeError, "pipeline() takes no arguments");
        return NULL;
    }
    gibson_state *st = ((ClientObject *)op)->state;
    return PyObject_CallOneArg((PyObject *)st->pipeline_type, op);
}

static PyObject *
client_enter(PyObject *op, PyObject *unused)
{
    (void)unused;
    return Py_NewRef(op);
}

static PyObject *
client_exit(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args;
    (void)nargs;
    return client_close(op, NULL);
}

static PyObject *
client_get_closed(PyObject *op, void *closure)
{
    (void)closure;
    ClientObject *self = (ClientObject *)op;
    return PyBool_FromLong(!self->conn_ready || !gb_client_connected(&self->conn) ||
                           client_is_inherited(self));
}

/* A configured string, decoded, or None when there is none. */
static PyObject *
text_or_none(const char *text, PyObject *(*decode)(const char *))
{
    if (text == NULL) {
        Py_RETURN_NONE;
    }
    return decode(text);
}

static PyObject *
client_get_addr(PyObject *op, void *closure)
{
    (void)closure;
    ClientObject *self = (ClientObject *)op;
    return text_or_none(self->conn_ready ? self->conn.host : NULL, PyUnicode_FromString);
}

static PyObject *
client_get_port(PyObject *op, void *closure)
{
    (void)closure;
    ClientObject *self = (ClientObject *)op;
    return PyLong_FromLong(self->conn_ready ? self->conn.port : 0);
}

static PyObject *
client_get_unix_socket(PyObject *op, void *closure)
{
    (void)closure;
    ClientObject *self = (ClientObject *)op;
    return text_or_none(self->conn_ready ? self->conn.unix_path : NULL,
                        PyUnicode_DecodeFSDefault);
}

static PyObject *
ms_or_none(int ms)
{
    if (ms < 0) {
        Py_RETURN_NONE;
    }
    return PyLong_FromLong(ms);
}

static PyObject *
client_get_timeout(PyObject *op, void *closure)
{
    (void)closure;
    ClientObject *self = (ClientObject *)op;
    return ms_or_none(self->conn_ready ? self->conn.timeout_ms : -1);
}

static PyObject *
client_get_connect_timeout(PyObject *op, void *closure)
{
    (void)closure;
    ClientObject *self = (ClientObject *)op;
    return ms_or_none(self->conn_ready ? self->conn.connect_timeout_ms : -1);
}

static PyObject *
client_get_encoding(PyObject *op, void *closure)
{
    (void)closure;
    ClientObject *self = (ClientObject *)op;
    if (self->encoding == NULL) {
        Py_RETURN_NONE;
    }
    return Py_NewRef(self->encoding);
}

static PyObject *
client_get_serializer(PyObject *op, void *closure)
{
    (void)closure;
    ClientObject *self = (ClientObject *)op;
    if (self->serializing == NULL) {
        Py_RETURN_NONE;
    }
    return PyObject_GetAttrString(self->serializing, "serializer");
}

static PyObject *
client_repr(PyObject *op)
{
    ClientObject *self = (ClientObject *)op;
    const char *state = (self->conn_ready && gb_client_connected(&self->conn) &&
                         !client_is_inherited(self))
                            ? "connected"
                            : "not connected";
    const char *name = TYPE_NAME(Py_TYPE(op));
    if (!self->conn_ready) {
        return PyUnicode_FromFormat("<%s (not initialised)>", name);
    }
    if (self->conn.unix_path != NULL) {
        return PyUnicode_FromFormat("<%s unix_socket='%s' %s>", name, self->conn.unix_path,
                                    state);
    }
    return PyUnicode_FromFormat("<%s addr='%s' port=%d %s>", name, self->conn.host,
                                self->conn.port, state);
}

#define FASTMETHOD(NAME, FUNC, DOC) \
    {NAME, (PyCFunction)(void (*)(void))FUNC, METH_FASTCALL | METH_KEYWORDS, DOC}

static PyMethodDef client_methods[] = {
    /* get() takes a default besides the table's key (client_get_or_default).
     * Listed before the table's entries: of two entries with one name, the
     * type keeps the first. */
    FASTMETHOD("get", client_get,
               "get($self, key, default=...)\n--\n\n"
               "The key's value: bytes, or str when the client has an encoding. A value "
               "the server holds as a number (a counter made by inc, dec, minc or mdec) "
               "comes back as int: int(client.get(key)) reads a counter either way. "
               "Raises NotFoundError for a missing or expired key unless default is "
               "given, which is then returned; ConnectionError or TimeoutError when the "
               "server cannot be reached in time."),
    /* One method per operation, and the aliases, from operations.def; the
     * signature line makes inspect.signature() and help() show the
     * parameters. */
#define GB_OPERATION(NAME, OPCODE, SHAPE, PREFIX, METHOD, PARAMS, REQUIRED, SIGNATURE,  \
                     RESULT, IDEMPOTENT, DOC)                                           \
    FASTMETHOD(#METHOD, client_##METHOD, #METHOD SIGNATURE "\n--\n\n" DOC),
#define GB_ALIAS(ALIAS, NAME, METHOD, SIGNATURE) \
    FASTMETHOD(#ALIAS, client_##METHOD, #ALIAS SIGNATURE "\n--\n\nAlias of " #METHOD "."),
#include "operations.def"
#undef GB_OPERATION
#undef GB_ALIAS
    FASTMETHOD("pipeline", client_pipeline,
               "pipeline($self)\n--\n\nA Pipeline that sends queued operations on this "
               "client's connection."),
    FASTMETHOD("connect", client_connect,
               "connect($self)\n--\n\nConnect now instead of at the first request."),
    {"close", client_close, METH_NOARGS,
     "close($self)\n--\n\nClose the connection; the next call reconnects. A call under way "
     "in another thread (or interrupted by the signal handler calling close()) ends "
     "at once with ConnectionError."},
    {"__enter__", client_enter, METH_NOARGS,
     "__enter__($self, /)\n--\n\nReturn the client, for a with block."},
    /* Client[str] (the stubs make Client generic in what values come back
     * as) must work at run time too, in annotations evaluated then. */
    {"__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS,
     "See PEP 585: Client[bytes] or Client[str], for annotations."},
    {"__exit__", (PyCFunction)(void (*)(void))client_exit, METH_FASTCALL,
     "__exit__($self, /, *exc_info)\n--\n\nClose the connection."},
    {NULL, NULL, 0, NULL},
};

static PyObject *
client_get_empty_when_no_match(PyObject *op, void *closure)
{
    (void)closure;
    return PyBool_FromLong(((ClientObject *)op)->empty_when_no_match);
}

static PyGetSetDef client_getset[] = {
    {"closed", client_get_closed, NULL, "True while no connection is open.", NULL},
    {"addr", client_get_addr, NULL, "The TCP host.", NULL},
    {"host", client_get_addr, NULL, "The TCP host (alias of addr).", NULL},
    {"port", client_get_port, NULL, "The TCP port.", NULL},
    {"unix_socket", client_get_unix_socket, NULL, "The unix socket path, or None.", NULL},
    {"timeout", client_get_timeout, NULL, "Request deadline in ms, or None.", NULL},
    {"connect_timeout", client_get_connect_timeout, NULL, "Connect deadline in ms.", NULL},
    {"encoding", client_get_encoding, NULL, "The encoding values are decoded with.", NULL},
    {"serializer", client_get_serializer, NULL,
     "The serializer values go through (see pygibson.serializers), or None.", NULL},
    {"empty_when_no_match", client_get_empty_when_no_match, NULL,
     "Whether prefix operations that match nothing return {}, [] or 0 instead of "
     "raising NotFoundError.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMemberDef client_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(ClientObject, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

PyDoc_STRVAR(client_doc,
"Client(addr='127.0.0.1', port=10128, unix_socket=None, timeout=1000, *, host=None,\n"
"       connect_timeout=None, encoding=None, max_key_size=512, max_value_size=None,\n"
"       max_request_size=4194304, max_reply_size=67108864, strict_ttl=True,\n"
"       retry_reads=True, connect_retries=2, connect_backoff=50,\n"
"       empty_when_no_match=False, serializer=None)\n"
"--\n\n"
"A blocking connection to a Gibson server, opened at the first request.\n\n"
"timeout is the deadline of each whole request in milliseconds (None: wait\n"
"forever); connect_timeout defaults to timeout. unix_socket, when given, is\n"
"used instead of addr and port. encoding decodes values to str.\n"
"max_key_size and max_request_size mirror the server's limits, so that a\n"
"request it would misread is refused before it is sent; max_value_size, if\n"
"set, refuses longer values. strict_ttl refuses TTLs the server would wrap\n"
"(outside 0..32767). retry_reads lets idempotent reads retry once on a fresh\n"
"connection when a reused one turns out to be dead. A refused connect is\n"
"retried connect_retries times, waiting connect_backoff ms, doubled each time.\n"
"A prefix operation that matches nothing (or whose matches are all locked)\n"
"raises NotFoundError, as the server answers and the old pygibson did; with\n"
"empty_when_no_match=True it returns {}, [] or 0 instead (count() always\n"
"returns 0). serializer (one per client: Gibson has no flags field to say\n"
"how a value was stored) stores Python objects: set/mset pass every value\n"
"but an int through its dumps(), get/mget every stored value but a number\n"
"through its loads(); see pygibson.serializers (JSON, PICKLE).");

static PyType_Slot client_slots[] = {
    {Py_tp_doc, (void *)client_doc},
    {Py_tp_new, client_new},
    {Py_tp_init, client_init},
    {Py_tp_dealloc, client_dealloc},
    {Py_tp_repr, client_repr},
    {Py_tp_methods, client_methods},
    {Py_tp_getset, client_getset},
    {Py_tp_members, client_members},
    {0, NULL},
};

PyType_Spec client_type_spec = {
    .name = "pygibson.Client",
    .basicsize = sizeof(ClientObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .slots = client_slots,
};
