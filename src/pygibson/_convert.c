/*
 * Arguments in, replies out. Keys and values are borrowed without copying
 * wherever the object allows it (bytes, buffers, the UTF-8 cache of a str);
 * replies become Python objects with one copy from the reader's buffer.
 */
#include "_module.h"

/* A str becomes UTF-8. Lone surrogates in U+DC80..U+DCFF stand for the bytes
 * 0x80..0xFF (surrogateescape), so that keys read back from mget() as str
 * round-trip; any other lone surrogate is refused. */
static int
str_bytes(gibson_state *st, PyObject *obj, const char *name, arg_bytes *out)
{
    Py_ssize_t len;
    const char *data = PyUnicode_AsUTF8AndSize(obj, &len);
    if (data != NULL) {
        out->data = data;
        out->len = len;
        return 0;
    }
    if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
        return -1;
    }
    PyErr_Clear();
    PyObject *encoded = PyUnicode_AsEncodedString(obj, "utf-8", "surrogateescape");
    if (encoded == NULL) {
        PyErr_Clear();
        PyErr_Format(st->ArgumentError,
                     "%s holds a lone surrogate, which has no UTF-8 encoding; pass "
                     "bytes, or a str that encodes to UTF-8",
                     name);
        return -1;
    }
    out->owner = encoded;
    out->data = PyBytes_AS_STRING(encoded);
    out->len = PyBytes_GET_SIZE(encoded);
    return 0;
}

static int
buffer_bytes(PyObject *obj, const char *name, const char *accepted, arg_bytes *out)
{
    if (!PyObject_CheckBuffer(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be %s, not %.100s", name, accepted,
                     TYPE_NAME(Py_TYPE(obj)));
        return -1;
    }
    if (PyObject_GetBuffer(obj, &out->view, PyBUF_SIMPLE) < 0) {
        if (PyErr_ExceptionMatches(PyExc_BufferError)) {
            /* A strided view: the documented TypeError, saying what to do. */
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError,
                         "%s must be a contiguous bytes-like object; this %.100s has no "
                         "single run of bytes (a strided view such as m[::2]): pass "
                         "bytes(...) of it",
                         name, TYPE_NAME(Py_TYPE(obj)));
        }
        return -1;
    }
    out->has_view = 1;
    out->data = out->view.buf;
    out->len = out->view.len;
    return 0;
}

int
arg_key(gibson_state *st, PyObject *obj, const char *name, arg_bytes *out)
{
    arg_init(out);
    if (arg_key_as_is(obj, &out->data, &out->len)) {
        return 0;
    }
    if (PyUnicode_Check(obj)) {
        return str_bytes(st, obj, name, out);
    }
    return buffer_bytes(obj, name, "str or bytes-like", out);
}

int
arg_value(gibson_state *st, PyObject *obj, const char *name, arg_bytes *out)
{
    if (PyBytes_CheckExact(obj) || PyUnicode_Check(obj)) {
        return arg_key(st, obj, name, out);
    }
    arg_init(out);
    if (PyBool_Check(obj)) {
        PyErr_Format(PyExc_TypeError,
                     "%s must be str, bytes-like, int or float, not bool; store "
                     "b'1'/b'0' or an int explicitly",
                     name);
        return -1;
    }
    if (PyLong_Check(obj) || PyFloat_Check(obj)) {
        /* The decimal text, as the server stores numbers (§6 SET). A
         * subclass's own __str__ is not the number: int.__repr__ or
         * float.__repr__ of it is. */
        PyObject *text;
        if (PyLong_CheckExact(obj) || PyFloat_CheckExact(obj)) {
            text = PyObject_Str(obj);
        } else {
            PyObject *base_repr = PyObject_GetAttrString(
                PyLong_Check(obj) ? (PyObject *)&PyLong_Type : (PyObject *)&PyFloat_Type,
                "__repr__");
            if (base_repr == NULL) {
                return -1;
            }
            text = PyObject_CallOneArg(base_repr, obj);
            Py_DECREF(base_repr);
        }
        if (text == NULL) {
            return -1;
        }
        out->owner = PyUnicode_AsUTF8String(text);
        Py_DECREF(text);
        if (out->owner == NULL) {
            return -1;
        }
        out->data = PyBytes_AS_STRING(out->owner);
        out->len = PyBytes_GET_SIZE(out->owner);
        return 0;
    }
    return buffer_bytes(obj, name, "str, bytes-like, int or float", out);
}

int
arg_int64(gibson_state *st, PyObject *obj, const char *name, int64_t *out)
{
    if (PyBool_Check(obj) || !PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", name,
                     TYPE_NAME(Py_TYPE(obj)));
        return -1;
    }
    int overflow = 0;
    long long value = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (overflow != 0) {
        PyErr_Format(st->ArgumentError, "%s is out of range: it must fit in 64 bits",
                     name);
        return -1;
    }
    if (value == -1 && PyErr_Occurred()) {
        return -1;
    }
    *out = (int64_t)value;
    return 0;
}

int
arg_timeout_ms(gibson_state *st, PyObject *obj, const char *name, int *out)
{
    if (obj == Py_None) {
        *out = -1;
        return 0;
    }
    if (PyBool_Check(obj) || !(PyLong_Check(obj) || PyFloat_Check(obj))) {
        PyErr_Format(PyExc_TypeError,
                     "%s must be a number of milliseconds or None, not %.100s", name,
                     TYPE_NAME(Py_TYPE(obj)));
        return -1;
    }
    double ms = PyFloat_AsDouble(obj);
    if (ms == -1.0 && PyErr_Occurred()) {
        return -1;
    }
    /* ms != ms is NaN. */
    if (!(ms > 0) || ms != ms || ms > 2147483647.0) {
        PyErr_Format(st->ArgumentError,
                     "%s must be a positive number of milliseconds (at most "
                     "2147483647), or None to wait forever",
                     name);
        return -1;
    }
    /* A fraction is most likely seconds meant (redis-py's and this
     * project's pools take seconds): refused, not cut to whole ms. */
    if (ms != (double)(int)ms) {
        PyErr_Format(st->ArgumentError,
                     "%s is in whole milliseconds, and %R is not one: for %R seconds pass "
                     "%lld (the pools' acquire_timeout and idle_timeout are in seconds; "
                     "the client's timeouts are in ms)",
                     name, obj, obj, (long long)(ms * 1000.0 + 0.5));
        return -1;
    }
    *out = (int)ms;
    return 0;
}

static PyObject *
pair_value(const gb_kv_pair *pair, PyObject *encoding)
{
    if (pair->encoding == GB_ENC_NUMBER) {
        return PyLong_FromLongLong((long long)pair->number);
    }
    return value_from_bytes(pair->value, pair->value_len, encoding);
}

enum kv_shape {
    KV_DICT,   /* key -> value, keys str (MGET, STATS) */
    KV_VALUES, /* the values alone (KEYS, whose keys are just "0", "1", ...) */
    KV_PAIRS   /* key, value, key, value, ...: keys bytes, or str with an encoding */
};

/* The pairs of a KVAL payload as a dict or a list. */
static PyObject *
collect_kv(gibson_state *st, const gb_reply *reply, PyObject *encoding, enum kv_shape shape,
           kv_counts *counts)
{
    int as_dict = shape == KV_DICT;
    gb_kv_iter it;
    gb_kv_pair pair;
    gb_error err;
    gb_error_clear(&err);
    if (gb_kv_begin(&it, reply->data, reply->size, &err) < 0) {
        raise_gb_error(st, &err);
        return NULL;
    }
    PyObject *result = as_dict ? PyDict_New() : PyList_New(0);
    if (result == NULL) {
        return NULL;
    }
    int more;
    while ((more = gb_kv_next(&it, &pair, &err)) == 1) {
        /* KEYS lists key names: like mget()'s keys, they must survive
         * bytes the encoding cannot decode. */
        PyObject *value =
            as_dict || encoding == NULL || pair.encoding == GB_ENC_NUMBER
                ? pair_value(&pair, encoding)
                : PyUnicode_Decode((const char *)pair.value, (Py_ssize_t)pair.value_len,
                                   PyUnicode_AsUTF8(encoding), "surrogateescape");
        if (value == NULL) {
            goto error;
        }
        int failed;
        if (shape == KV_PAIRS) {
            PyObject *key = value_from_bytes(pair.key, pair.key_len, encoding);
            failed = key == NULL || PyList_Append(result, key) < 0 ||
                     PyList_Append(result, value) < 0;
            Py_XDECREF(key);
        }
        else if (as_dict) {
            /* Keys as str, as the old pygibson gave them; bytes that are not
             * UTF-8 survive as surrogates and encode back to the same key. */
            PyObject *key = PyUnicode_DecodeUTF8(
                (const char *)pair.key, (Py_ssize_t)pair.key_len, "surrogateescape");
            failed = key == NULL || PyDict_SetItem(result, key, value) < 0;
            Py_XDECREF(key);
        }
        else {
            failed = PyList_Append(result, value) < 0;
        }
        Py_DECREF(value);
        if (failed) {
            goto error;
        }
    }
    if (more < 0) {
        raise_gb_error(st, &err);
        goto error;
    }
    /* The library stops where the payload ends, even short of the count. */
    counts->announced = it.count;
    counts->received = it.taken;
    return result;
error:
    Py_DECREF(result);
    return NULL;
}

PyObject *
dict_from_kv(gibson_state *st, const gb_reply *reply, PyObject *encoding, kv_counts *counts)
{
    return collect_kv(st, reply, encoding, KV_DICT, counts);
}

PyObject *
list_from_kv(gibson_state *st, const gb_reply *reply, PyObject *encoding, kv_counts *counts)
{
    return collect_kv(st, reply, encoding, KV_VALUES, counts);
}

PyObject *
pairs_from_kv(gibson_state *st, const gb_reply *reply, PyObject *encoding, kv_counts *counts)
{
    return collect_kv(st, reply, encoding, KV_PAIRS, counts);
}

int
arg_encoding(gibson_state *st, PyObject *obj, PyObject **out)
{
    if (obj == Py_None) {
        *out = NULL;
        return 0;
    }
    if (!PyUnicode_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "encoding must be a str or None, not %.100s",
                     TYPE_NAME(Py_TYPE(obj)));
        return -1;
    }
    const char *name = PyUnicode_AsUTF8(obj);
    if (name == NULL) {
        return -1;
    }
    if (!PyCodec_KnownEncoding(name)) {
        PyErr_Format(st->ArgumentError, "unknown encoding %R", obj);
        return -1;
    }
    *out = obj;
    return 0;
}
