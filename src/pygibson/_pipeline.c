/*
 * pygibson.Pipeline: queue operations, send them as one stream, collect the
 * replies in order.
 *
 * Each operation is validated and encoded when it is queued, so a bad
 * argument raises at once and nothing of it is ever sent. execute() writes
 * and reads together under one poll loop: the server stops reading while it
 * writes a reply, so writing everything first would deadlock once both socket
 * buffers filled.
 */
#include "_client.h"
#include "_ops.h"

typedef struct {
    const op_spec *op;
    size_t offset;     /* of its frame in `frames` */
    size_t key_offset; /* of its key in `frames`, for messages */
    size_t key_len;
    size_t value_len;  /* SET: to detect truncation */
} queued_op;

typedef struct {
    PyObject_HEAD
    ClientObject *client;
    gb_buffer frames;
    queued_op *queue;
    Py_ssize_t count;
    Py_ssize_t capacity;
} PipelineObject;

static int
queue_grow(PipelineObject *self)
{
    Py_ssize_t capacity = self->capacity ? self->capacity * 2 : 16;
    queued_op *queue = PyMem_Realloc(self->queue, (size_t)capacity * sizeof(queued_op));
    if (queue == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->queue = queue;
    self->capacity = capacity;
    return 0;
}

/* Record the frame just encoded at `offset`; the queue has room. The key
 * opens every payload but SET's, which is "ttl key value" (§2.2): there it
 * ends one space before the value, which ends the frame. */
static inline PyObject *
queue_append(PipelineObject *self, const op_spec *op, size_t offset, size_t key_len,
             size_t value_len)
{
    queued_op *q = &self->queue[self->count++];
    q->op = op;
    q->offset = offset;
    q->key_offset = op->opcode == GB_OP_SET
                        ? self->frames.len - value_len - 1 - key_len
                        : offset + GB_FRAME_HEADER_SIZE;
    q->key_len = key_len;
    q->value_len = value_len;
    return Py_NewRef((PyObject *)self);
}

/* Any call: bind and convert the arguments, encode, or raise saying why. */
static NOINLINE PyObject *
queue_any(PipelineObject *self, const op_spec *op, PyObject *const *args, Py_ssize_t nargs,
          PyObject *kwnames)
{
    gibson_state *st = self->client->state;
    if (self->count == self->capacity && queue_grow(self) < 0) {
        return NULL;
    }
    size_t offset = self->frames.len;
    prepared_request p;
    if (prepare_request(st, op, args, nargs, kwnames, &p) < 0) {
        return NULL;
    }
    gb_error err;
    /* The limits never change after the client's __init__. */
    gb_status status = gb_encode(&self->frames, &p.req, &self->client->conn.limits, &err);
    size_t key_len = p.req.key_len;
    size_t value_len = p.req.value_len;
    prepared_release(&p);
    if (status != GB_OK) {
        raise_gb_error(st, &err);
        return NULL;
    }
    return queue_append(self, op, offset, key_len, value_len);
}

/* set/mset queued by a client with a serializer: the value as its dump()
 * makes it, as the client sends it. */
static NOINLINE PyObject *
queue_serialized(PipelineObject *self, const op_spec *op, PyObject *const *args,
                 Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *copy[OP_MAX_ARGS];
    PyObject *dumped;
    PyObject *const *sent =
        client_dump_value(self->client, op, args, nargs, kwnames, copy, &dumped);
    PyObject *queued = sent == NULL ? NULL : queue_any(self, op, sent, nargs, kwnames);
    Py_XDECREF(dumped);
    return queued;
}

static PyObject *
pipeline_queue(PipelineObject *self, const op_spec *op, PyObject *const *args,
               Py_ssize_t nargs, PyObject *kwnames)
{
    const char *key;
    Py_ssize_t key_len;
    if (self->client->serializing != NULL && (op == &OP_SET || op == &OP_MSET)) {
        return queue_serialized(self, op, args, nargs, kwnames);
    }
    /* get(key) and its kind with a key that needs no conversion: most of
     * what is ever queued, so without the general binding. Anything it
     * does not take, a refusal included, goes to queue_any, which encodes
     * it again to say why. */
    if (self->count < self->capacity && nargs == 1 && kwnames == NULL &&
        op_takes_lone_key(op) && arg_key_as_is(args[0], &key, &key_len)) {
        size_t offset = self->frames.len;
        if (gb_encode_key(&self->frames, op->opcode, key, (size_t)key_len,
                          &self->client->conn.limits, NULL) == GB_OK) {
            return queue_append(self, op, offset, (size_t)key_len, 0);
        }
    }
    return queue_any(self, op, args, nargs, kwnames);
}

#define PIPELINE_METHOD(NAME, SPEC)                                                  \
    static PyObject *pipeline_##NAME(PyObject *self, PyObject *const *args,          \
                                     Py_ssize_t nargs, PyObject *kwnames)             \
    {                                                                                \
        return pipeline_queue((PipelineObject *)self, &SPEC, args, nargs, kwnames);  \
    }

#define GB_OPERATION(NAME, OPCODE, SHAPE, PREFIX, METHOD, ...) PIPELINE_METHOD(METHOD, OP_##NAME)
#define GB_ALIAS(...)
#include "operations.def"
#undef GB_OPERATION
#undef GB_ALIAS

static void
pipeline_clear_queue(PipelineObject *self)
{
    self->frames.len = 0;
    self->count = 0;
}

/* How many whole frames are in the first `written` bytes. */
static Py_ssize_t
frames_sent(const PipelineObject *self, size_t written)
{
    Py_ssize_t n = 0;
    while (n < self->count) {
        size_t end = n + 1 < self->count ? self->queue[n + 1].offset : self->frames.len;
        if (end > written) {
            break;
        }
        n++;
    }
    return n;
}

static void
raise_pipeline_failure(gibson_state *st, const PipelineObject *self, const gb_error *err,
                       size_t written, Py_ssize_t received)
{
    Py_ssize_t sent = frames_sent(self, written);
    /* Beside the library's message, not in its buffer: the counts and what
     * they mean must not be clipped. */
    char text[GB_ERROR_MESSAGE_SIZE + 192];
    PyOS_snprintf(text, sizeof text,
                  "%s (pipeline of %zd operations: %zd sent, %zd replies received; "
                  "the rest were not executed or their outcome is unknown)",
                  gb_error_text(err), self->count, sent, received);
    /* The reply awaited when the server hung up: an MGET's, KEYS' or
     * STATS' may have been over its max_response_size, as for a call. */
    const op_spec *due = received < sent ? self->queue[received].op : NULL;
    raise_error_with_hint(st, err, text, due);
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value != NULL) {
        PyObject *n_sent = PyLong_FromSsize_t(sent);
        PyObject *n_received = PyLong_FromSsize_t(received);
        if (n_sent == NULL || n_received == NULL ||
            PyObject_SetAttrString(value, "sent", n_sent) < 0 ||
            PyObject_SetAttrString(value, "received", n_received) < 0) {
            PyErr_Clear();
        }
        Py_XDECREF(n_sent);
        Py_XDECREF(n_received);
    }
    PyErr_Restore(type, value, tb);
}

/* The exception just raised, as an instance to stand in a result's place
 * (a value the encoding cannot decode, say: the server did run that
 * operation, and the others' results must not be lost). NULL, with the
 * exception still set, for one that must propagate (MemoryError,
 * KeyboardInterrupt, ...). */
static PyObject *
caught_exception(void)
{
    if (!PyErr_ExceptionMatches(PyExc_Exception) || PyErr_ExceptionMatches(PyExc_MemoryError)) {
        return NULL;
    }
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value != NULL && tb != NULL) {
        (void)PyException_SetTraceback(value, tb);
    }
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
}

/* The result of any reply but a value (value_result's): a refusal's
 * exception instance, a number, a dict... decoded as Reader decodes it. */
static PyObject *
other_result(PipelineObject *self, gibson_state *st, const queued_op *q, const gb_reply *reply,
             int *broken)
{
    return queued_result(st, q->op, self->frames.data + q->key_offset, q->key_len,
                         q->value_len, reply, self->client->encoding,
                         self->client->empty_when_no_match, broken);
}

/* Send the queue and fill `results`; with the client's lock held.
 * *maybe_refused is set when a result may be an exception instance. */
static int
pipeline_exchange(PipelineObject *self, gibson_state *st, PyObject *results,
                  int *maybe_refused)
{
    gb_client *conn = &self->client->conn;
    gb_error err;
    gb_status status;
    if (client_ensure_connected(self->client, st) < 0) {
        /* Nothing was sent: add the pipeline's counts to the error. */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        if (value != NULL && PyErr_GivenExceptionMatches(value, st->PyGibsonError)) {
            PyObject *zero = PyLong_FromLong(0);
            if (zero == NULL || PyObject_SetAttrString(value, "sent", zero) < 0 ||
                PyObject_SetAttrString(value, "received", zero) < 0) {
                PyErr_Clear();
            }
            Py_XDECREF(zero);
        }
        PyErr_Restore(type, value, tb);
        return -1;
    }
    gb_error_clear(&err);
    CLIENT_BLOCKING_BEGIN(self->client)
    status = gb_client_pipeline_begin(conn, &err);
    CLIENT_BLOCKING_END(self->client)
    if (status != GB_OK) {
        if (!PyErr_Occurred()) {
            raise_pipeline_failure(st, self, &err, 0, 0);
        }
        return -1;
    }
    size_t written = 0;
    Py_ssize_t received = 0;
    int ended = 0;
    int distrusted = 0;
    int got = 0;
    while (received < self->count) {
        /* The deadline bounds a wait with no progress, not the whole batch:
         * a large pipeline may rightly take longer than one request. */
        int64_t deadline = gb_deadline_after(conn->timeout_ms);
        CLIENT_BLOCKING_BEGIN(self->client)
        status = gb_client_pump(conn, self->frames.data, self->frames.len, &written,
                                deadline, &err);
        CLIENT_BLOCKING_END(self->client)
        if (status != GB_OK) {
            /* A signal handler's exception (Ctrl-C) goes as it is. */
            if (!PyErr_Occurred()) {
                raise_pipeline_failure(st, self, &err, written, received);
            }
            return -1;
        }
        gb_reply reply;
        while (received < self->count &&
               (got = gb_reader_next(&conn->reader, &reply, &err)) == 1) {
            const queued_op *q = &self->queue[received];
            int broken = 0;
            PyObject *result;
            if (!value_result(q->op, &reply, self->client->encoding, &result)) {
                result = other_result(self, st, q, &reply, &broken);
                *maybe_refused = 1;
            }
            if (result == NULL) {
                /* A garbled key-value set kept the framing: it stands in
                 * its place and the replies after it are read, but a server
                 * that sends one is not trusted with the next request (the
                 * connection is closed at the end, as Client closes it). */
                distrusted |= PyErr_ExceptionMatches(st->ProtocolError);
                if (broken || (result = caught_exception()) == NULL) {
                    gb_client_close(conn);
                    return -1;
                }
                *maybe_refused = 1;
            }
            PyList_SET_ITEM(results, received, result);
            received++;
            ended |= q->op->result == RES_QUIT;
        }
        if (received < self->count && got < 0) {
            gb_client_close(conn);
            raise_pipeline_failure(st, self, &err, written, received);
            return -1;
        }
    }
    if (ended || distrusted) {
        gb_client_close(conn);
    }
    return 0;
}

/* The results of get and mget through the client's serializer, after the
 * exchange (the lock released: loads() may take its time). A value that
 * does not load stands in its place as SerializationError, as a value the
 * encoding cannot decode does; -1 only for an error that must propagate. */
static NOINLINE int
pipeline_load_values(PipelineObject *self, PyObject *results, int *maybe_refused)
{
    for (Py_ssize_t i = 0; i < self->count; i++) {
        const queued_op *q = &self->queue[i];
        PyObject *result = PyList_GET_ITEM(results, i);
        if ((q->op != &OP_GET && q->op != &OP_MGET) || PyExceptionInstance_Check(result)) {
            continue;
        }
        const char *key_start = (const char *)self->frames.data + q->key_offset;
        PyObject *key = PyBytes_FromStringAndSize(key_start, (Py_ssize_t)q->key_len);
        if (key == NULL) {
            return -1;
        }
        PyObject *loaded = client_load_value(self->client, q->op, Py_NewRef(result), key);
        Py_DECREF(key);
        if (loaded == NULL) {
            if ((loaded = caught_exception()) == NULL) {
                return -1;
            }
            *maybe_refused = 1;
        }
        PyList_SetItem(results, i, loaded); /* drops the old result */
    }
    return 0;
}

static PyObject *
first_exception(PyObject *results)
{
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(results); i++) {
        PyObject *item = PyList_GET_ITEM(results, i);
        if (PyExceptionInstance_Check(item)) {
            return item;
        }
    }
    return NULL;
}

static PyObject *
pipeline_execute(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PipelineObject *self = (PipelineObject *)op;
    gibson_state *st = self->client->state;
    int raise_on_error = 1;
    PyObject *flag = nargs > 0 ? args[0] : NULL;
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    if (nargs + nkw > 1 ||
        (nkw == 1 &&
         PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "raise_on_error"))) {
        PyErr_SetString(PyExc_TypeError, "execute() takes one argument, raise_on_error");
        return NULL;
    }
    if (nkw == 1) {
        flag = args[nargs];
    }
    if (flag != NULL && (raise_on_error = PyObject_IsTrue(flag)) < 0) {
        return NULL;
    }
    PyObject *results = PyList_New(self->count);
    if (results == NULL) {
        return NULL;
    }
    int maybe_refused = 0;
    if (self->count > 0) {
        if (client_acquire(self->client) < 0) {
            Py_DECREF(results);
            return NULL;
        }
        int failed = pipeline_exchange(self, st, results, &maybe_refused);
        client_release(self->client);
        if (!failed && self->client->serializing != NULL) {
            failed = pipeline_load_values(self, results, &maybe_refused);
        }
        if (failed) {
            pipeline_clear_queue(self);
            Py_DECREF(results);
            return NULL;
        }
    }
    pipeline_clear_queue(self);
    PyObject *error = raise_on_error && maybe_refused ? first_exception(results) : NULL;
    if (error != NULL) {
        /* Nothing is lost: the other results ride on the exception. */
        if (PyObject_SetAttrString(error, "results", results) < 0) {
            Py_DECREF(results);
            return NULL;
        }
        PyErr_SetObject((PyObject *)Py_TYPE(error), error);
        Py_DECREF(results);
        return NULL;
    }
    return results;
}

static PyObject *
pipeline_reset(PyObject *op, PyObject *unused)
{
    (void)unused;
    pipeline_clear_queue((PipelineObject *)op);
    Py_RETURN_NONE;
}

static PyObject *
pipeline_enter(PyObject *op, PyObject *unused)
{
    (void)unused;
    return Py_NewRef(op);
}

static PyObject *
pipeline_exit(PyObject *op, PyObject *const *args, Py_ssize_t nargs)
{
    (void)args;
    (void)nargs;
    return pipeline_reset(op, NULL);
}

static Py_ssize_t
pipeline_length(PyObject *op)
{
    return ((PipelineObject *)op)->count;
}

/* A pipeline is true even when empty, unlike what __len__ alone would make it. */
static int
pipeline_bool(PyObject *op)
{
    (void)op;
    return 1;
}

static PyObject *
pipeline_get_client(PyObject *op, void *closure)
{
    (void)closure;
    return Py_NewRef((PyObject *)((PipelineObject *)op)->client);
}

static PyObject *
pipeline_repr(PyObject *op)
{
    PipelineObject *self = (PipelineObject *)op;
    return PyUnicode_FromFormat("<%s of %zd operations on %R>", TYPE_NAME(Py_TYPE(op)),
                                self->count, (PyObject *)self->client);
}

static int
pipeline_traverse(PyObject *op, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(op));
    Py_VISIT((PyObject *)((PipelineObject *)op)->client);
    return 0;
}

static int
pipeline_clear(PyObject *op)
{
    Py_CLEAR(((PipelineObject *)op)->client);
    return 0;
}

static void
pipeline_dealloc(PyObject *op)
{
    PipelineObject *self = (PipelineObject *)op;
    PyTypeObject *type = Py_TYPE(op);
    PyObject_GC_UnTrack(op);
    (void)pipeline_clear(op);
    gb_buffer_free(&self->frames);
    PyMem_Free(self->queue);
    TYPE_FREE(type)(op);
    Py_DECREF(type);
}

static PyObject *
pipeline_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    gibson_state *st = gibson_state_from_type(type);
    PyObject *client = NULL;
    static char *keywords[] = {"client", NULL};
    if (st == NULL ||
        !PyArg_ParseTupleAndKeywords(args, kwargs, "O!:Pipeline", keywords,
                                     st->client_type, &client)) {
        return NULL;
    }
    PipelineObject *self = (PipelineObject *)TYPE_ALLOC(type)(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->client = (ClientObject *)Py_NewRef(client);
    gb_buffer_init(&self->frames);
    self->queue = NULL;
    self->count = 0;
    self->capacity = 0;
    return (PyObject *)self;
}

#define FASTMETHOD(NAME, FUNC, DOC) \
    {NAME, (PyCFunction)(void (*)(void))FUNC, METH_FASTCALL | METH_KEYWORDS, DOC}

static PyMethodDef pipeline_methods[] = {
    /* Each queues its operation and returns the pipeline, so calls chain. */
#define GB_OPERATION(NAME, OPCODE, SHAPE, PREFIX, METHOD, PARAMS, REQUIRED, SIGNATURE,  \
                     RESULT, IDEMPOTENT, DOC)                                           \
    FASTMETHOD(#METHOD, pipeline_##METHOD,                                              \
               #METHOD SIGNATURE "\n--\n\nQueue " #NAME " (see Client." #METHOD "); returns the pipeline."),
#define GB_ALIAS(ALIAS, NAME, METHOD, SIGNATURE)         \
    FASTMETHOD(#ALIAS, pipeline_##METHOD,                 \
               #ALIAS SIGNATURE "\n--\n\nAlias of " #METHOD "."),
#include "operations.def"
#undef GB_OPERATION
#undef GB_ALIAS
    {"execute", (PyCFunction)(void (*)(void))pipeline_execute, METH_FASTCALL | METH_KEYWORDS,
     "execute($self, raise_on_error=True)\n--\n\nSend the queued operations and return their "
     "results in order. With raise_on_error=False a refused operation's exception "
     "stands in its place."},
    {"reset", pipeline_reset, METH_NOARGS, "reset($self)\n--\n\nForget the queued operations."},
    {"__enter__", pipeline_enter, METH_NOARGS,
     "__enter__($self, /)\n--\n\nReturn the pipeline, for a with block."},
    /* Pipeline[str], as Client[str]. */
    {"__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS,
     "See PEP 585: Pipeline[bytes] or Pipeline[str], for annotations."},
    {"__exit__", (PyCFunction)(void (*)(void))pipeline_exit, METH_FASTCALL,
     "__exit__($self, /, *exc_info)\n--\n\nForget the operations not executed."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef pipeline_getset[] = {
    {"client", pipeline_get_client, NULL, "The client whose connection is used.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(pipeline_doc,
"Pipeline(client)\n"
"--\n\n"
"Queues operations (the Client's methods, each returning the pipeline) and\n"
"sends them together with execute(). Usually made by Client.pipeline().");

static PyType_Slot pipeline_slots[] = {
    {Py_tp_doc, (void *)pipeline_doc},
    {Py_tp_new, pipeline_new},
    {Py_tp_dealloc, pipeline_dealloc},
    {Py_tp_traverse, pipeline_traverse},
    {Py_tp_clear, pipeline_clear},
    {Py_tp_repr, pipeline_repr},
    {Py_tp_methods, pipeline_methods},
    {Py_tp_getset, pipeline_getset},
    {Py_mp_length, pipeline_length},
    {Py_sq_length, pipeline_length},
    {Py_nb_bool, pipeline_bool},
    {0, NULL},
};

PyType_Spec pipeline_type_spec = {
    .name = "pygibson.Pipeline",
    .basicsize = sizeof(PipelineObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = pipeline_slots,
};
