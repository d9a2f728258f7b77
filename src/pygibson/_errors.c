/*
 * From the library's statuses and the server's reply codes to exceptions:
 * one switch each, so that every message is written in one place.
 */
#include "_ops.h"

const char *
opcode_name(int opcode)
{
    const op_spec *op = op_by_opcode(opcode);
    return op == NULL ? "?" : op->command;
}

static PyObject *
exception_class_for_status(gibson_state *st, gb_status status)
{
    switch (status) {
    case GB_ERR_EMPTY_KEY:
    case GB_ERR_KEY_SPACE:
    case GB_ERR_KEY_TOO_LONG:
    case GB_ERR_EMPTY_VALUE:
    case GB_ERR_VALUE_TOO_LONG:
    case GB_ERR_BAD_TTL:
    case GB_ERR_BAD_LOCK:
    case GB_ERR_BAD_LIMIT:
    case GB_ERR_BAD_FIELD:
    case GB_ERR_BAD_OPCODE:
    case GB_ERR_FRAME_TOO_LARGE:
        return st->ArgumentError;
    case GB_ERR_PROTOCOL:
    case GB_ERR_REPLY_TOO_LARGE:
        return st->ProtocolError;
    case GB_ERR_TIMEOUT:
        return st->TimeoutError;
    case GB_ERR_RESOLVE:
    case GB_ERR_CONNECT:
    case GB_ERR_CLOSED:
    case GB_ERR_IO:
    case GB_ERR_NOT_CONNECTED:
    case GB_ERR_INTERRUPTED: /* normally a signal handler's exception is raised instead */
    case GB_ERR_CANCELLED:
        return st->ConnectionError;
    case GB_ERR_NOMEM:
        return PyExc_MemoryError;
    case GB_OK:
        break;
    }
    return st->PyGibsonError;
}

const char *
gb_error_text(const gb_error *err)
{
    if (err->status == GB_ERR_CANCELLED) {
        /* The library names its own function; say it in Python's terms. */
        return "the client was closed (close() from another thread or a signal handler) "
               "while this call was under way; the next call reconnects";
    }
    return err->message[0] ? err->message : gb_status_name(err->status);
}

static void
raise_gb_error_saying(gibson_state *st, const gb_error *err, const char *message)
{
    if (err->status == GB_ERR_NOMEM) {
        PyErr_NoMemory();
        return;
    }
    PyObject *cls = exception_class_for_status(st, err->status);
    PyObject *exc = PyObject_CallFunction(cls, "s", message);
    if (exc == NULL) {
        return;
    }
    if (cls == st->ConnectionError || cls == st->TimeoutError) {
        PyObject *sent = PyBool_FromLong(err->request_sent);
        int failed = PyObject_SetAttrString(exc, "request_sent", sent);
        Py_DECREF(sent);
        if (failed < 0) {
            Py_DECREF(exc);
            return;
        }
    }
    PyErr_SetObject(cls, exc);
    Py_DECREF(exc);
}

void
raise_gb_error(gibson_state *st, const gb_error *err)
{
    raise_gb_error_saying(st, err, gb_error_text(err));
}

void
raise_error_with_hint(gibson_state *st, const gb_error *err, const char *text,
                      const op_spec *due)
{
    /* The server answers a key-value reply larger than its
     * max_response_size by closing the connection, without a word (§8.4):
     * after MGET, KEYS or STATS that is as likely a cause as the ones the
     * library names, and the one the user can do something about. */
    if (due != NULL && err->status == GB_ERR_CLOSED && err->request_sent &&
        (due->result == RES_DICT || due->result == RES_LIST)) {
        char message[2 * GB_ERROR_MESSAGE_SIZE + 512];
        PyOS_snprintf(message, sizeof message,
                      "%s; the reply to this %s may also have been larger than the "
                      "server's max_response_size, which closes the connection instead "
                      "of answering: %s",
                      text, due->command,
                      due->prefix ? "match fewer keys (a longer prefix, or mget's limit) "
                                    "or raise max_response_size on the server"
                                  : "raise max_response_size on the server");
        raise_gb_error_saying(st, err, message);
        return;
    }
    raise_gb_error_saying(st, err, text);
}

void
raise_call_error(gibson_state *st, const gb_error *err, const op_spec *op)
{
    raise_error_with_hint(st, err, gb_error_text(err), op);
}

/* The key as Python shows bytes, shortened: messages stay one line. */
static PyObject *
key_repr(const char *key, size_t key_len)
{
    enum { SHOWN = 60 };
    if (key == NULL) {
        return PyUnicode_FromString("");
    }
    size_t shown = key_len > SHOWN ? SHOWN : key_len;
    PyObject *bytes = PyBytes_FromStringAndSize(key, (Py_ssize_t)shown);
    if (bytes == NULL) {
        return NULL;
    }
    PyObject *repr = PyObject_Repr(bytes);
    Py_DECREF(bytes);
    if (repr == NULL || shown == key_len) {
        return repr;
    }
    PyObject *longer = PyUnicode_FromFormat("%U... (%zu bytes)", repr, key_len);
    Py_DECREF(repr);
    return longer;
}

PyObject *
reply_code_exception(gibson_state *st, int code, int opcode, const char *key,
                     size_t key_len)
{
    PyObject *cls;
    const char *what;
    const op_spec *op = op_by_opcode(opcode);
    int prefix = op != NULL && op->prefix;
    switch (code) {
    case GB_REPL_ERR_NOT_FOUND:
        cls = st->NotFoundError;
        what = prefix ? "no key matches this prefix, or none the operation could apply "
                        "to (locked, expired or not a number); make the client with "
                        "empty_when_no_match=True to get an empty result instead"
                      : "no such key (it is missing or has expired)";
        break;
    case GB_REPL_ERR_NAN:
        cls = st->NaNError;
        what = "a number was expected: the stored value (or the argument) is not an "
               "integer";
        break;
    case GB_REPL_ERR_MEM:
        cls = st->NoMemoryError;
        what = "the server is over its max_memory and refuses to store more; free "
               "some keys or raise max_memory";
        break;
    case GB_REPL_ERR_LOCKED:
        cls = st->LockedError;
        what = "the item is locked; unlock it or wait for the lock to expire";
        break;
    default:
        cls = st->ServerError;
        what = "the server refused the request (REPL_ERR)";
        break;
    }
    PyObject *shown = key_repr(key, key_len);
    if (shown == NULL) {
        return NULL;
    }
    /* No operation: a reply decoded on its own (an untyped Reader). */
    PyObject *message =
        op == NULL    ? PyUnicode_FromFormat("the server answered %d: %s", code, what)
        : key == NULL ? PyUnicode_FromFormat("%s: %s", op->command, what)
                      : PyUnicode_FromFormat("%s %U: %s", op->command, shown, what);
    Py_DECREF(shown);
    if (message == NULL) {
        return NULL;
    }
    PyObject *exc = PyObject_CallOneArg(cls, message);
    Py_DECREF(message);
    return exc;
}

PyObject *
partial_result_exception(gibson_state *st, int opcode, const char *key, size_t key_len,
                         PyObject *partial, const kv_counts *counts)
{
    const op_spec *op = op_by_opcode(opcode);
    PyObject *exc = NULL;
    PyObject *shown = key_repr(key, key_len);
    if (shown == NULL) {
        Py_DECREF(partial);
        return NULL;
    }
    PyObject *message = PyUnicode_FromFormat(
        "%s%s%U: the server announced %zu pairs but sent %zu; Gibson 1.2.1 stops at an "
        "expired item it has not freed yet (section 3.4 of docs/protocol.md). .partial "
        "holds the pairs that arrived",
        op->command, key == NULL ? "" : " ", shown,
        counts->announced, counts->received);
    Py_DECREF(shown);
    if (message != NULL) {
        exc = PyObject_CallFunction(st->PartialResultError, "(OOnn)", message, partial,
                                    (Py_ssize_t)counts->announced,
                                    (Py_ssize_t)counts->received);
        Py_DECREF(message);
    }
    Py_DECREF(partial);
    return exc;
}

void
raise_reply_code(gibson_state *st, int code, int opcode, const char *key, size_t key_len)
{
    PyObject *exc = reply_code_exception(st, code, opcode, key, key_len);
    if (exc != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
}

void
raise_unexpected_reply(gibson_state *st, int opcode, const gb_reply *reply)
{
    PyErr_Format(st->ProtocolError,
                 "%s: unexpected reply (code %d, encoding %d, %zu bytes); the "
                 "connection was closed",
                 opcode_name(opcode), reply->code, reply->encoding, reply->size);
}

void
name_key_in_decode_error(const op_spec *op, const char *key, size_t key_len)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject *reason = value == NULL ? NULL : PyUnicodeDecodeError_GetReason(value);
    PyObject *shown = reason == NULL ? NULL : key_repr(key, key_len);
    PyObject *longer =
        shown == NULL ? NULL
        : PyUnicode_FromFormat("%U, in the reply to %s%s%U; make the client with "
                               "encoding=None to get bytes",
                               reason, op->command, key == NULL ? "" : " ", shown);
    if (longer == NULL || PyUnicodeDecodeError_SetReason(value, PyUnicode_AsUTF8(longer)) < 0) {
        /* The original error is worth more than this one. */
        PyErr_Clear();
    }
    Py_XDECREF(longer);
    Py_XDECREF(shown);
    Py_XDECREF(reason);
    PyErr_Restore(type, value, tb);
}
