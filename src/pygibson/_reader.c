/*
 * pygibson.Reader: replies from bytes, with no I/O, over the library's
 * incremental parser (gb_reader), for callers that do their own I/O (an
 * asyncio protocol, a test feeding bytes).
 *
 * Gibson replies do not say what they answer: a GET's value, an MGET's
 * key-value set and a KEYS list need the operation to be decoded. So a
 * typed Reader keeps the queue of operations whose replies are due
 * (expect()), and decodes each reply exactly as Client does, through the
 * same result_or_exception(). An untyped Reader (aiogibson's) decodes each
 * reply by its code and encoding alone.
 */
#include "_ops.h"

/* One reply that is due: its operation, and what messages and SET's
 * truncation check need of the request. */
typedef struct {
    const op_spec *op;
    PyObject *key; /* bytes, or NULL */
    size_t value_len;
} expectation;

typedef struct {
    PyObject_HEAD
    gibson_state *state;
    gb_reader reader;
    PyObject *encoding; /* str, or NULL for bytes */
    int typed;
    int empty_when_no_match; /* as Client's option */
    int broken; /* a garbled reply was met: unusable until reset() */
    expectation *due; /* due[head..tail) in order */
    size_t head;
    size_t tail;
    size_t capacity;
} ReaderObject;

static void
forget_expectations(ReaderObject *self)
{
    for (size_t i = self->head; i < self->tail; i++) {
        Py_CLEAR(self->due[i].key);
    }
    self->head = self->tail = 0;
}

/* Room for one more at the tail: move the queue down, or grow it. */
static int
make_room(ReaderObject *self)
{
    if (self->head > 0) {
        memmove(self->due, self->due + self->head,
                (self->tail - self->head) * sizeof(expectation));
        self->tail -= self->head;
        self->head = 0;
        if (self->tail < self->capacity) {
            return 0;
        }
    }
    size_t capacity = self->capacity ? self->capacity * 2 : 16;
    expectation *due = PyMem_Realloc(self->due, capacity * sizeof(expectation));
    if (due == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->due = due;
    self->capacity = capacity;
    return 0;
}

static PyObject *
reader_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"encoding", "typed", "max_reply_size", "empty_when_no_match",
                               NULL};
    PyObject *encoding_arg = Py_None;
    int typed = 1, empty_when_no_match = 0;
    Py_ssize_t max_reply_size = GB_DEFAULT_MAX_REPLY_SIZE;
    gibson_state *st = gibson_state_from_type(type);
    if (st == NULL || !PyArg_ParseTupleAndKeywords(args, kwargs, "|O$pnp:Reader", keywords,
                                                   &encoding_arg, &typed, &max_reply_size,
                                                   &empty_when_no_match)) {
        return NULL;
    }
    PyObject *encoding;
    if (arg_encoding(st, encoding_arg, &encoding) < 0) {
        return NULL;
    }
    if (max_reply_size < 1) {
        PyErr_Format(st->ArgumentError, "max_reply_size must be at least 1, not %zd",
                     max_reply_size);
        return NULL;
    }
    ReaderObject *self = (ReaderObject *)TYPE_ALLOC(type)(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->state = st;
    gb_reader_init(&self->reader, (size_t)max_reply_size);
    self->encoding = encoding == NULL ? NULL : Py_NewRef(encoding);
    self->typed = typed;
    self->empty_when_no_match = empty_when_no_match;
    self->broken = 0;
    self->due = NULL;
    self->head = self->tail = self->capacity = 0;
    return (PyObject *)self;
}

static void
reader_dealloc(PyObject *op)
{
    ReaderObject *self = (ReaderObject *)op;
    PyTypeObject *type = Py_TYPE(op);
    forget_expectations(self);
    PyMem_Free(self->due);
    gb_reader_free(&self->reader);
    Py_CLEAR(self->encoding);
    TYPE_FREE(type)(op);
    Py_DECREF(type);
}

static PyObject *
reader_feed(PyObject *op, PyObject *data)
{
    ReaderObject *self = (ReaderObject *)op;
    gb_error err;
    gb_status status;
    if (PyBytes_CheckExact(data)) {
        status = gb_reader_feed(&self->reader, PyBytes_AS_STRING(data),
                                (size_t)PyBytes_GET_SIZE(data), &err);
    }
    else {
        Py_buffer view;
        if (!PyObject_CheckBuffer(data)) {
            PyErr_Format(PyExc_TypeError, "feed() takes a bytes-like object, not %.100s",
                         TYPE_NAME(Py_TYPE(data)));
            return NULL;
        }
        if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
            return NULL;
        }
        status = gb_reader_feed(&self->reader, view.buf, (size_t)view.len, &err);
        PyBuffer_Release(&view);
    }
    if (status != GB_OK) {
        raise_gb_error(self->state, &err);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
reader_expect(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    ReaderObject *self = (ReaderObject *)op;
    static const char *const names[] = {"operation", "key", "value_size"};
    PyObject *slots[3] = {NULL, NULL, NULL};
    if (nargs > 3) {
        PyErr_Format(PyExc_TypeError, "expect() takes at most 3 arguments (%zd given)", nargs);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        slots[i] = args[i];
    }
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, k);
        int found = -1;
        for (int i = 0; i < 3; i++) {
            if (PyUnicode_CompareWithASCIIString(name, names[i]) == 0) {
                found = i;
            }
        }
        if (found < 0 || slots[found] != NULL) {
            PyErr_Format(PyExc_TypeError, "expect() got an unexpected or repeated argument %R",
                         name);
            return NULL;
        }
        slots[found] = args[nargs + k];
    }
    if (!self->typed) {
        PyErr_SetString(PyExc_TypeError,
                        "expect() is for a typed Reader; an untyped one (typed=False) "
                        "decodes each reply by its code alone");
        return NULL;
    }
    if (slots[0] == NULL) {
        PyErr_SetString(PyExc_TypeError, "expect() missing required argument 'operation'");
        return NULL;
    }
    const op_spec *spec = op_lookup(slots[0]);
    if (spec == NULL) {
        return NULL;
    }
    PyObject *key = NULL;
    if (slots[1] != NULL && slots[1] != Py_None) {
        arg_bytes bytes;
        if (arg_key(self->state, slots[1], "key", &bytes) < 0) {
            return NULL;
        }
        key = PyBytes_FromStringAndSize(bytes.data, bytes.len);
        arg_release(&bytes);
        if (key == NULL) {
            return NULL;
        }
    }
    int64_t value_len = 0;
    if (slots[2] != NULL && (arg_int64(self->state, slots[2], "value_size", &value_len) < 0 ||
                             value_len < 0)) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(self->state->ArgumentError, "value_size must not be negative");
        }
        Py_XDECREF(key);
        return NULL;
    }
    if (self->tail == self->capacity && make_room(self) < 0) {
        Py_XDECREF(key);
        return NULL;
    }
    expectation *e = &self->due[self->tail++];
    e->op = spec;
    e->key = key;
    e->value_len = (size_t)value_len;
    Py_RETURN_NONE;
}

static NOINLINE PyObject *
broken_reader(ReaderObject *self)
{
    PyErr_SetString(self->state->ProtocolError,
                    "this Reader met a garbled reply and cannot tell where the next one "
                    "starts; call reset() (and drop the connection it read from)");
    return NULL;
}

/* A reply decoded by its code and encoding alone, as aiogibson's Reader
 * does: OK is True, NOT_FOUND None, the other refusals exception
 * instances, a key-value set a flat list. */
static PyObject *
untyped_result(ReaderObject *self, const gb_reply *reply)
{
    switch (reply->code) {
    case GB_REPL_OK:
        Py_RETURN_TRUE;
    case GB_REPL_ERR_NOT_FOUND:
        Py_RETURN_NONE;
    case GB_REPL_VAL:
        return reply->encoding == GB_ENC_NUMBER
                   ? PyLong_FromLongLong((long long)reply->number)
                   : value_from_bytes(reply->data, reply->size, self->encoding);
    case GB_REPL_KVAL: {
        /* Raw, as aiogibson's: the pairs that arrived, however many the
         * reply announced (§3.4); the typed Reader is the one that judges. */
        kv_counts counts;
        return pairs_from_kv(self->state, reply, self->encoding, &counts);
    }
    default: /* ERR, NAN, MEM, LOCKED: the reader checked the code */
        return reply_code_exception(self->state, reply->code, 0, NULL, 0);
    }
}

static PyObject *
typed_result(ReaderObject *self, const gb_reply *reply, int raise_on_error)
{
    gibson_state *st = self->state;
    if (self->head == self->tail) {
        self->broken = 1;
        PyErr_Format(st->ProtocolError,
                     "a reply arrived that no request expects (code %d, %zu bytes): the "
                     "stream is out of step; call expect() before each request is sent",
                     reply->code, reply->size);
        return NULL;
    }
    expectation e = self->due[self->head++];
    if (self->head == self->tail) {
        self->head = self->tail = 0;
    }
    int broken = 0;
    PyObject *result = queued_result(
        st, e.op, e.key == NULL ? NULL : PyBytes_AS_STRING(e.key),
        e.key == NULL ? 0 : (size_t)PyBytes_GET_SIZE(e.key), e.value_len, reply,
        self->encoding, self->empty_when_no_match, &broken);
    if (result == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        /* As Client says it: which operation and key the value came for. */
        name_key_in_decode_error(e.op, e.key == NULL ? NULL : PyBytes_AS_STRING(e.key),
                                 e.key == NULL ? 0 : (size_t)PyBytes_GET_SIZE(e.key));
    }
    Py_XDECREF(e.key);
    if (result == NULL) {
        /* A reply that does not fit its operation, or a garbled key-value
         * set: where the next reply starts can no longer be trusted. */
        self->broken |= broken || PyErr_ExceptionMatches(st->ProtocolError);
        return NULL;
    }
    if (raise_on_error && PyExceptionInstance_Check(result)) {
        PyErr_SetObject((PyObject *)Py_TYPE(result), result);
        Py_DECREF(result);
        return NULL;
    }
    return result;
}

static PyObject *
reader_gets(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    ReaderObject *self = (ReaderObject *)op;
    int raise_on_error = 1;
    if (nargs != 0 || kwnames != NULL) {
        if (nargs + (kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames)) > 1 ||
            (kwnames != NULL &&
             PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0),
                                              "raise_on_error") != 0)) {
            PyErr_SetString(PyExc_TypeError, "gets() takes one argument, raise_on_error");
            return NULL;
        }
        raise_on_error = PyObject_IsTrue(args[0]);
        if (raise_on_error < 0) {
            return NULL;
        }
    }
    if (self->broken) {
        return broken_reader(self);
    }
    gb_reply reply;
    gb_error err;
    int got = gb_reader_next(&self->reader, &reply, &err);
    if (got == 0) {
        Py_RETURN_FALSE;
    }
    if (got < 0) {
        self->broken = 1;
        raise_gb_error(self->state, &err);
        return NULL;
    }
    if (self->typed) {
        return typed_result(self, &reply, raise_on_error);
    }
    PyObject *result = untyped_result(self, &reply);
    if (result == NULL && PyErr_ExceptionMatches(self->state->ProtocolError)) {
        self->broken = 1; /* a garbled key-value set */
    }
    return result;
}

static PyObject *
reader_reset(PyObject *op, PyObject *unused)
{
    (void)unused;
    ReaderObject *self = (ReaderObject *)op;
    gb_reader_reset(&self->reader);
    forget_expectations(self);
    self->broken = 0;
    Py_RETURN_NONE;
}

static PyObject *
reader_get_buffered(PyObject *op, void *closure)
{
    (void)closure;
    return PyLong_FromSize_t(gb_reader_buffered(&((ReaderObject *)op)->reader));
}

static PyObject *
reader_get_expected(PyObject *op, void *closure)
{
    (void)closure;
    ReaderObject *self = (ReaderObject *)op;
    return PyLong_FromSize_t(self->tail - self->head);
}

static PyObject *
reader_get_typed(PyObject *op, void *closure)
{
    (void)closure;
    return PyBool_FromLong(((ReaderObject *)op)->typed);
}

static PyObject *
reader_get_encoding(PyObject *op, void *closure)
{
    (void)closure;
    PyObject *encoding = ((ReaderObject *)op)->encoding;
    return Py_NewRef(encoding == NULL ? Py_None : encoding);
}

static PyObject *
reader_get_empty_when_no_match(PyObject *op, void *closure)
{
    (void)closure;
    return PyBool_FromLong(((ReaderObject *)op)->empty_when_no_match);
}

static PyMethodDef reader_methods[] = {
    {"feed", reader_feed, METH_O,
     "feed($self, data, /)\n--\n\nAdd received bytes (any bytes-like object, any split)."},
    {"expect", (PyCFunction)(void (*)(void))reader_expect, METH_FASTCALL | METH_KEYWORDS,
     "expect($self, operation, key=None, value_size=0)\n--\n\n"
     "Queue the operation whose reply comes next after those already expected: a "
     "name (b'get', 'dl', 'DEL') or an opcode. key is the request's key, for error "
     "messages; value_size the length of a SET's value, to detect truncation."},
    {"gets", (PyCFunction)(void (*)(void))reader_gets, METH_FASTCALL | METH_KEYWORDS,
     "gets($self, raise_on_error=True)\n--\n\n"
     "The next reply, decoded as Client would return it, or False when more bytes "
     "are needed. A refusal raises its exception (returned instead with "
     "raise_on_error=False); a garbled reply raises ProtocolError and leaves the "
     "reader unusable until reset()."},
    {"reset", reader_reset, METH_NOARGS,
     "reset($self, /)\n--\n\nForget buffered bytes and expected operations."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef reader_getset[] = {
    {"buffered", reader_get_buffered, NULL, "Bytes fed but not yet returned as replies.",
     NULL},
    {"expected", reader_get_expected, NULL, "Operations whose replies are still due.", NULL},
    {"typed", reader_get_typed, NULL, "Whether replies are decoded by their operation.",
     NULL},
    {"encoding", reader_get_encoding, NULL, "The encoding values are decoded with.", NULL},
    {"empty_when_no_match", reader_get_empty_when_no_match, NULL,
     "Whether a typed Reader gives prefix operations that match nothing {}, [] or 0 "
     "instead of NotFoundError.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(reader_doc,
"Reader(encoding=None, *, typed=True, max_reply_size=67108864,\n"
"       empty_when_no_match=False)\n"
"--\n\n"
"Decodes Gibson replies from bytes you feed it; does no I/O.\n\n"
"A typed Reader decodes each reply as the operation expect()ed for it, with\n"
"the same results and exceptions as Client (empty_when_no_match as Client's\n"
"option). typed=False decodes by code\n"
"alone, as aiogibson's Reader: OK is True, not found None, other refusals\n"
"exception instances, values bytes (str with an encoding) or int, key-value\n"
"sets a flat list [key, value, ...].");

static PyType_Slot reader_slots[] = {
    {Py_tp_doc, (void *)reader_doc},
    {Py_tp_new, reader_new},
    {Py_tp_dealloc, reader_dealloc},
    {Py_tp_methods, reader_methods},
    {Py_tp_getset, reader_getset},
    {0, NULL},
};

PyType_Spec reader_type_spec = {
    .name = "pygibson.Reader",
    .basicsize = sizeof(ReaderObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .slots = reader_slots,
};
