/*
 * Declarations shared by the files of the _pygibson extension: the module
 * state (every type and exception class lives there, never in a global) and
 * the helpers each file offers the others.
 */
#ifndef PYGIBSON_MODULE_H
#define PYGIBSON_MODULE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sys/types.h>

#include "_limited.h"

#include "gibson.h"

/* For a function's rare path, kept out of the caller so that the usual
 * path does not pay for its stack frame. */
#if defined(__GNUC__) || defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *
Py_NewRef(PyObject *obj)
{
    Py_INCREF(obj);
    return obj;
}
#endif

typedef struct {
    PyTypeObject *client_type;
    PyTypeObject *pipeline_type;
    PyTypeObject *reader_type;
    /* pygibson.exceptions, imported once at module execution. */
    PyObject *PyGibsonError;
    PyObject *ServerError;
    PyObject *NotFoundError;
    PyObject *NaNError;
    PyObject *NoMemoryError;
    PyObject *LockedError;
    PyObject *ValueTruncatedError;
    PyObject *PartialResultError;
    PyObject *ProtocolError;
    PyObject *ConnectionError;
    PyObject *TimeoutError;
    PyObject *ArgumentError;
} gibson_state;

extern PyModuleDef pygibson_module_def;

/* The state of the module that defined `type` or one of its bases. */
gibson_state *gibson_state_from_type(PyTypeObject *type);

/* ---- _convert.c: Python objects <-> bytes on the wire ------------------- */

/* A borrowed view of an argument's bytes, with whatever keeps them alive. */
typedef struct {
    const char *data;
    Py_ssize_t len;
    Py_buffer view; /* filled when the argument exported a buffer */
    PyObject *owner; /* a new reference when bytes had to be made (str, int) */
    int has_view;
} arg_bytes;

/* Empty and owning nothing (the Py_buffer is left alone until filled). */
static inline void
arg_init(arg_bytes *arg)
{
    arg->data = NULL;
    arg->len = 0;
    arg->owner = NULL;
    arg->has_view = 0;
}

/* Give back what the argument held; inline, as most hold nothing. */
static inline void
arg_release(arg_bytes *arg)
{
    if (arg->has_view) {
        PyBuffer_Release(&arg->view);
        arg->has_view = 0;
    }
    Py_CLEAR(arg->owner);
}

/* The bytes of a key that lends them as they are, holding nothing: an exact
 * bytes, or (outside the Limited API) an ASCII str, whose UTF-8 is its own
 * data. 0 for any other object, which arg_key must convert. */
static inline int
arg_key_as_is(PyObject *obj, const char **data, Py_ssize_t *len)
{
    if (PyBytes_CheckExact(obj)) {
        *data = PyBytes_AS_STRING(obj);
        *len = PyBytes_GET_SIZE(obj);
        return 1;
    }
#ifndef Py_LIMITED_API
    if (PyUnicode_CheckExact(obj) && PyUnicode_IS_COMPACT_ASCII(obj)) {
        *data = (const char *)PyUnicode_DATA(obj);
        *len = PyUnicode_GET_LENGTH(obj);
        return 1;
    }
#endif
    return 0;
}

/* A key or prefix: str (UTF-8) or any object exporting a buffer. */
int arg_key(gibson_state *st, PyObject *obj, const char *name, arg_bytes *out);
/* A value: as a key, plus int and float (their decimal text). */
int arg_value(gibson_state *st, PyObject *obj, const char *name, arg_bytes *out);
/* An integer argument (TTL, seconds, limit). bool and float are refused. */
int arg_int64(gibson_state *st, PyObject *obj, const char *name, int64_t *out);
/* A timeout in milliseconds: None (-1, no deadline) or a positive number. */
int arg_timeout_ms(gibson_state *st, PyObject *obj, const char *name, int *out);

/* A PLAIN value as bytes, or str when `encoding` is not NULL. Inline: it is
 * on the path of every GET. */
static inline PyObject *
value_from_bytes(const unsigned char *data, size_t size, PyObject *encoding)
{
    if (encoding == NULL) {
        return PyBytes_FromStringAndSize((const char *)data, (Py_ssize_t)size);
    }
    return PyUnicode_Decode((const char *)data, (Py_ssize_t)size,
                            PyUnicode_AsUTF8(encoding), "strict");
}
/* The pairs a KVAL payload announced, and those it carried: the server's MGET
 * may send fewer (§3.4). */
typedef struct {
    size_t announced;
    size_t received;
} kv_counts;

/* The dict of a KVAL payload (MGET, STATS): str keys, bytes/str/int values. */
PyObject *dict_from_kv(gibson_state *st, const gb_reply *reply, PyObject *encoding,
                       kv_counts *counts);
/* The list of KEYS: the values of its KVAL payload, in order. */
PyObject *list_from_kv(gibson_state *st, const gb_reply *reply, PyObject *encoding,
                       kv_counts *counts);
/* A KVAL payload as one flat list: key, value, key, value, ... */
PyObject *pairs_from_kv(gibson_state *st, const gb_reply *reply, PyObject *encoding,
                        kv_counts *counts);
/* An encoding option: None (*out = NULL) or the name of a known codec
 * (*out borrowed from obj). */
int arg_encoding(gibson_state *st, PyObject *obj, PyObject **out);

/* ---- _errors.c: the library's statuses and server codes as exceptions ----- */

/* Raise for a library status (argument, protocol or transport error). */
void raise_gb_error(gibson_state *st, const gb_error *err);
/* The message raise_gb_error gives err. */
const char *gb_error_text(const gb_error *err);
/* Raise for a server refusal code (0..4), naming the operation and key. */
void raise_reply_code(gibson_state *st, int code, int opcode, const char *key,
                      size_t key_len);
/* The exception instance (not raised) for a server refusal code. */
PyObject *reply_code_exception(gibson_state *st, int code, int opcode, const char *key,
                               size_t key_len);
/* The PartialResultError instance (not raised) for a key-value reply that
 * carried fewer pairs than it announced, holding `partial` (a reference is
 * stolen). NULL with an exception if it cannot be made. */
PyObject *partial_result_exception(gibson_state *st, int opcode, const char *key,
                                   size_t key_len, PyObject *partial, const kv_counts *counts);
/* Raise ProtocolError for a reply whose code does not fit the operation. */
void raise_unexpected_reply(gibson_state *st, int opcode, const gb_reply *reply);
const char *opcode_name(int opcode);

/* ---- _client.c / _pipeline.c -------------------------------------------- */

extern PyType_Spec client_type_spec;
extern PyType_Spec pipeline_type_spec;
extern PyType_Spec reader_type_spec;

/* ---- _encode.c ---------------------------------------------------------- */

PyObject *encode_command(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
extern const char encode_command_doc[];

#endif /* PYGIBSON_MODULE_H */
