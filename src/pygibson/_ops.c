/*
 * The operation table, argument binding and reply interpretation shared by
 * Client and Pipeline.
 */
#include "_ops.h"

/* operations.def's SHAPE column as argument kinds, in the method's order
 * (SET's method takes key, value, ttl; the wire puts the TTL first). */
#define KINDS_EMPTY {0, 0, 0}
#define KINDS_KEY {ARG_KEY, 0, 0}
#define KINDS_KEY_TTL {ARG_KEY, ARG_TTL, 0}
#define KINDS_KEY_LOCK {ARG_KEY, ARG_SECONDS, 0}
#define KINDS_KEY_VALUE {ARG_KEY, ARG_VALUE, 0}
#define KINDS_KEY_FIELD {ARG_KEY, ARG_FIELD, 0}
#define KINDS_KEY_LIMIT {ARG_KEY, ARG_LIMIT, 0}
#define KINDS_SET {ARG_KEY, ARG_VALUE, ARG_TTL}

/* The PARAMS column: how many, and their names. */
#define P0() 0, {NULL, NULL, NULL}
#define P1(A) 1, {#A, NULL, NULL}
#define P2(A, B) 2, {#A, #B, NULL}
#define P3(A, B, C) 3, {#A, #B, #C}

#define GB_OPERATION(NAME, OPCODE, SHAPE, PREFIX, METHOD, PARAMS, REQUIRED, SIGNATURE, \
                     RESULT, IDEMPOTENT, DOC)                                          \
    const op_spec OP_##NAME = {GB_OP_##NAME, #NAME, #METHOD, REQUIRED, PARAMS, KINDS_##SHAPE,   \
                               RES_##RESULT, IDEMPOTENT, PREFIX};
#define GB_ALIAS(...)
#include "operations.def"
#undef GB_OPERATION

#define GB_OPERATION(NAME, ...) &OP_##NAME,
const op_spec *const OP_TABLE[] = {
#include "operations.def"
};
#undef GB_OPERATION
#undef GB_ALIAS

const int OP_TABLE_SIZE = (int)(sizeof(OP_TABLE) / sizeof(OP_TABLE[0]));

static const struct {
    const char *alias;
    const op_spec *op;
} OP_ALIASES[] = {
#define GB_OPERATION(...)
#define GB_ALIAS(ALIAS, NAME, METHOD, SIGNATURE) {#ALIAS, &OP_##NAME},
#include "operations.def"
#undef GB_OPERATION
#undef GB_ALIAS
};

static int
same_name_ignoring_case(const char *name, Py_ssize_t len, const char *known)
{
    Py_ssize_t i = 0;
    for (; i < len && known[i] != '\0'; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        char k = known[i] >= 'A' && known[i] <= 'Z' ? (char)(known[i] - 'A' + 'a') : known[i];
        if (c != k) {
            return 0;
        }
    }
    return i == len && known[i] == '\0';
}

static NOINLINE const op_spec *
unknown_operation(PyObject *obj)
{
    /* The known names, from the table: "set, ttl, ..., end". */
    PyObject *names = PyUnicode_FromString("");
    for (int i = 0; names != NULL && i < OP_TABLE_SIZE; i++) {
        PyObject *more = PyUnicode_FromFormat("%U%s%s", names, i ? ", " : "",
                                              OP_TABLE[i]->command);
        Py_SETREF(names, more);
    }
    PyObject *lower = names == NULL ? NULL : PyObject_CallMethod(names, "lower", NULL);
    Py_XDECREF(names);
    if (lower != NULL) {
        PyErr_Format(PyExc_ValueError,
                     "%R is not a Gibson operation; known: %U (or a Client method name)",
                     obj, lower);
        Py_DECREF(lower);
    }
    return NULL;
}

const op_spec *
op_lookup(PyObject *obj)
{
    if (PyLong_Check(obj) && !PyBool_Check(obj)) {
        int overflow;
        long opcode = PyLong_AsLongAndOverflow(obj, &overflow);
        const op_spec *op = overflow || opcode < 0 || opcode > 255 ? NULL
                                                                    : op_by_opcode((int)opcode);
        return op != NULL ? op : unknown_operation(obj);
    }
    const char *name;
    Py_ssize_t len;
    if (PyBytes_Check(obj)) {
        name = PyBytes_AS_STRING(obj);
        len = PyBytes_GET_SIZE(obj);
    }
    else if (PyUnicode_Check(obj)) {
        name = PyUnicode_AsUTF8AndSize(obj, &len);
        if (name == NULL) {
            return NULL;
        }
    }
    else if (PyTuple_Check(obj) && PyObject_HasAttrString(obj, "opcode")) {
        /* An entry of pygibson.OPERATIONS. */
        PyObject *opcode = PyObject_GetAttrString(obj, "opcode");
        if (opcode == NULL) {
            return NULL;
        }
        const op_spec *op = PyLong_Check(opcode) ? op_lookup(opcode) : unknown_operation(obj);
        Py_DECREF(opcode);
        return op;
    }
    else {
        PyErr_Format(PyExc_TypeError,
                     "an operation is named by str, bytes, an int opcode or an entry "
                     "of pygibson.OPERATIONS, not %.100s",
                     TYPE_NAME(Py_TYPE(obj)));
        return NULL;
    }
    for (int i = 0; i < OP_TABLE_SIZE; i++) {
        const op_spec *op = OP_TABLE[i];
        if (same_name_ignoring_case(name, len, op->command) ||
            same_name_ignoring_case(name, len, op->method)) {
            return op;
        }
    }
    for (size_t i = 0; i < sizeof(OP_ALIASES) / sizeof(OP_ALIASES[0]); i++) {
        if (same_name_ignoring_case(name, len, OP_ALIASES[i].alias)) {
            return OP_ALIASES[i].op;
        }
    }
    return unknown_operation(obj);
}

/* Fastcall arguments into the op's parameter slots, by position or name. */
static int
bind_arguments(const op_spec *op, PyObject *const *args, Py_ssize_t nargs,
               PyObject *kwnames, PyObject **slots)
{
    for (int i = 0; i < OP_MAX_ARGS; i++) {
        slots[i] = NULL;
    }
    if (nargs > op->nparams) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d argument%s (%zd given)",
                     op->method, op->nparams, op->nparams == 1 ? "" : "s", nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        slots[i] = args[i];
    }
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, k);
        int found = -1;
        for (int i = 0; i < op->nparams; i++) {
            if (PyUnicode_CompareWithASCIIString(name, op->params[i]) == 0) {
                found = i;
                break;
            }
        }
        if (found < 0) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'",
                         op->method, name);
            return -1;
        }
        if (slots[found] != NULL) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'",
                         op->method, op->params[found]);
            return -1;
        }
        slots[found] = args[nargs + k];
    }
    for (int i = 0; i < op->required; i++) {
        if (slots[i] == NULL) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'",
                         op->method, op->params[i]);
            return -1;
        }
    }
    return 0;
}

static int
convert_argument(gibson_state *st, const op_spec *op, int i, PyObject *obj,
                 prepared_request *p)
{
    const char *name = op->params[i];
    switch (op->kinds[i]) {
    case ARG_KEY:
        if (arg_key(st, obj, name, &p->key) < 0) {
            return -1;
        }
        p->req.key = p->key.data;
        p->req.key_len = (size_t)p->key.len;
        return 0;
    case ARG_VALUE:
    case ARG_FIELD:
        if ((op->kinds[i] == ARG_VALUE ? arg_value : arg_key)(st, obj, name, &p->value) <
            0) {
            return -1;
        }
        p->req.value = p->value.data;
        p->req.value_len = (size_t)p->value.len;
        return 0;
    case ARG_TTL:
    case ARG_SECONDS:
        return arg_int64(st, obj, name, &p->req.number);
    case ARG_LIMIT:
        if (obj == Py_None) {
            return 0;
        }
        p->req.has_number = 1;
        return arg_int64(st, obj, name, &p->req.number);
    }
    return 0;
}

int
prepare_request(gibson_state *st, const op_spec *op, PyObject *const *args,
                Py_ssize_t nargs, PyObject *kwnames, prepared_request *out)
{
    PyObject *slots[OP_MAX_ARGS];
    /* Not a memset of the whole: the two Py_buffers are most of it, and
     * this runs for every operation queued. */
    memset(&out->req, 0, sizeof(out->req));
    arg_init(&out->key);
    arg_init(&out->value);
    out->req.opcode = op->opcode;
    if (nargs == 1 && kwnames == NULL && op_takes_lone_key(op)) {
        /* The common call, get(key) and its kind: nothing else to bind,
         * and usually nothing to convert. */
        if (arg_key_as_is(args[0], &out->key.data, &out->key.len)) {
            out->req.key = out->key.data;
            out->req.key_len = (size_t)out->key.len;
            return 0;
        }
        return convert_argument(st, op, 0, args[0], out);
    }
    if (bind_arguments(op, args, nargs, kwnames, slots) < 0) {
        return -1;
    }
    for (int i = 0; i < op->nparams; i++) {
        if (slots[i] != NULL && convert_argument(st, op, i, slots[i], out) < 0) {
            prepared_release(out);
            return -1;
        }
    }
    return 0;
}

static PyObject *
truncated_value_error(gibson_state *st, const gb_request *req, size_t stored)
{
    PyObject *key = PyBytes_FromStringAndSize(req->key, (Py_ssize_t)req->key_len);
    if (key == NULL) {
        return NULL;
    }
    PyObject *exc = PyObject_CallFunction(
        st->ValueTruncatedError, "(Nnn)",
        PyUnicode_FromFormat("SET %R: the server stored only %zu of the %zu bytes sent "
                             "(its max_value_size is smaller); the truncated value is "
                             "now in the cache: delete it, or raise max_value_size on "
                             "the server",
                             key, stored, req->value_len),
        (Py_ssize_t)req->value_len, (Py_ssize_t)stored);
    Py_DECREF(key);
    return exc;
}

/* "Nothing matched" as an empty result, for a client made with
 * empty_when_no_match=True; NULL (no exception) for ops that have none. */
static PyObject *
empty_result(const op_spec *op)
{
    switch (op->result) {
    case RES_COUNT:
        return PyLong_FromLong(0);
    case RES_DICT:
        return PyDict_New();
    case RES_LIST:
        return PyList_New(0);
    default:
        return NULL;
    }
}

/* The result for a reply of the expected shape; NULL and *broken when the
 * reply does not fit the operation. */
static PyObject *
expected_result(gibson_state *st, const op_spec *op, const gb_request *req,
                const gb_reply *reply, PyObject *encoding, int *broken)
{
    int code = reply->code;
    int number = reply->encoding == GB_ENC_NUMBER;
    switch (op->result) {
    case RES_NONE:
    case RES_QUIT:
        if (code == GB_REPL_OK) {
            Py_RETURN_NONE;
        }
        break;
    case RES_SET:
        if (code == GB_REPL_VAL && !number) {
            if (reply->size < req->value_len) {
                return truncated_value_error(st, req, reply->size);
            }
            Py_RETURN_NONE;
        }
        break;
    case RES_VALUE: /* a value came first, in value_result */
        break;
    case RES_NUMBER:
    case RES_COUNT:
        if (code == GB_REPL_VAL && number) {
            return PyLong_FromLongLong((long long)reply->number);
        }
        break;
    case RES_DICT:
    case RES_LIST:
        if (code == GB_REPL_KVAL) {
            kv_counts counts;
            PyObject *result = op->result == RES_DICT
                                   ? dict_from_kv(st, reply, encoding, &counts)
                                   : list_from_kv(st, reply, encoding, &counts);
            /* Never a short result in silence (§3.4). */
            if (result != NULL && counts.received < counts.announced) {
                return partial_result_exception(st, op->opcode, req->key, req->key_len,
                                                result, &counts);
            }
            return result;
        }
        break;
    }
    *broken = 1;
    raise_unexpected_reply(st, op->opcode, reply);
    return NULL;
}

PyObject *
result_or_exception(gibson_state *st, const op_spec *op, const gb_request *req,
                    const gb_reply *reply, PyObject *encoding, int empty_when_no_match,
                    int *broken)
{
    int code = reply->code;
    PyObject *result;
    if (value_result(op, reply, encoding, &result)) {
        return result;
    }
    if (code >= GB_REPL_ERR && code <= GB_REPL_ERR_LOCKED) {
        if (code == GB_REPL_ERR_NOT_FOUND && empty_when_no_match) {
            PyObject *empty = empty_result(op);
            if (empty != NULL || PyErr_Occurred()) {
                return empty;
            }
        }
        return reply_code_exception(st, code, op->opcode, req->key, req->key_len);
    }
    return expected_result(st, op, req, reply, encoding, broken);
}

PyObject *
result_from_reply(gibson_state *st, const op_spec *op, const gb_request *req,
                  const gb_reply *reply, PyObject *encoding, int empty_when_no_match,
                  int *broken)
{
    PyObject *result =
        result_or_exception(st, op, req, reply, encoding, empty_when_no_match, broken);
    if (result != NULL && PyExceptionInstance_Check(result)) {
        PyErr_SetObject((PyObject *)Py_TYPE(result), result);
        Py_DECREF(result);
        return NULL;
    }
    return result;
}
