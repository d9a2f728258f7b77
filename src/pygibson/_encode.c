/*
 * pygibson.encode_command(command, *args): one request frame as bytes, for
 * callers that do their own I/O. Arguments come in wire order, as
 * aiogibson's encode_command takes them, and are checked as Client checks
 * them (the library's default limits), so the frame is one the server reads
 * as meant.
 */
#include "_ops.h"

const char encode_command_doc[] =
    "encode_command(command, *args)\n--\n\n"
    "The request frame for command (a name such as b'set' or 'get', or an opcode) "
    "with args in the order the server reads them (SET: ttl, key, value), as bytes. "
    "Arguments are checked as Client checks them, with its default limits.";

/* The method-order slots of args given in wire order: only SET differs, its
 * TTL going first on the wire (§2.2). */
static int
method_order(const op_spec *op, PyObject *const *args, Py_ssize_t given, PyObject **slots)
{
    int wanted_min = op->opcode == GB_OP_SET ? op->nparams : op->required;
    if (given < wanted_min || given > op->nparams) {
        /* The parameters as the server reads them: SET's TTL first. */
        const char *const *p = op->params;
        const char *names[OP_MAX_ARGS] = {p[0], p[1], p[2]};
        if (op->opcode == GB_OP_SET) {
            names[0] = p[2];
            names[1] = p[0];
            names[2] = p[1];
        }
        char listed[64] = "";
        for (int i = 0; i < op->nparams; i++) {
            size_t used = strlen(listed);
            PyOS_snprintf(listed + used, sizeof(listed) - used, "%s%s", i ? ", " : " (",
                          names[i]);
        }
        if (op->nparams > 0) {
            size_t used = strlen(listed);
            PyOS_snprintf(listed + used, sizeof(listed) - used, ")");
        }
        if (wanted_min == op->nparams) {
            PyErr_Format(PyExc_TypeError,
                         "encode_command(%s) takes %d argument%s in wire order%s, %zd given",
                         op->command, wanted_min, wanted_min == 1 ? "" : "s", listed, given);
        }
        else {
            PyErr_Format(PyExc_TypeError,
                         "encode_command(%s) takes %d to %d arguments in wire order%s, %zd "
                         "given",
                         op->command, wanted_min, op->nparams, listed, given);
        }
        return -1;
    }
    if (op->opcode == GB_OP_SET) {
        slots[0] = args[1]; /* key */
        slots[1] = args[2]; /* value */
        slots[2] = args[0]; /* ttl */
        return 0;
    }
    for (Py_ssize_t i = 0; i < given; i++) {
        slots[i] = args[i];
    }
    return 0;
}

PyObject *
encode_command(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    gibson_state *st = PyModule_GetState(module);
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "encode_command() needs a command");
        return NULL;
    }
    const op_spec *op = op_lookup(args[0]);
    if (op == NULL) {
        return NULL;
    }
    PyObject *slots[OP_MAX_ARGS];
    Py_ssize_t given = nargs - 1;
    if (method_order(op, args + 1, given, slots) < 0) {
        return NULL;
    }
    prepared_request p;
    if (prepare_request(st, op, slots, given, NULL, &p) < 0) {
        return NULL;
    }
    gb_buffer out;
    gb_error err;
    gb_buffer_init(&out);
    gb_error_clear(&err);
    PyObject *frame = NULL;
    if (gb_encode(&out, &p.req, NULL, &err) == GB_OK) {
        frame = PyBytes_FromStringAndSize((const char *)out.data, (Py_ssize_t)out.len);
    }
    else {
        raise_gb_error(st, &err);
    }
    gb_buffer_free(&out);
    prepared_release(&p);
    return frame;
}
