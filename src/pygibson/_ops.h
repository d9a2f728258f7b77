/*
 * The 22 operations as data: their arguments and what their replies become.
 * Client methods and Pipeline methods are both generated from this table, so
 * that one request behaves the same whichever way it is sent.
 */
#ifndef PYGIBSON_OPS_H
#define PYGIBSON_OPS_H

#include "_module.h"

enum arg_kind {
    ARG_KEY,     /* key or prefix: str or bytes-like */
    ARG_VALUE,   /* value: str, bytes-like, int or float */
    ARG_FIELD,   /* META field name: str or bytes-like */
    ARG_TTL,     /* int seconds */
    ARG_SECONDS, /* int seconds, -1 for until unlocked */
    ARG_LIMIT    /* int or None */
};

enum result_kind {
    RES_NONE,   /* REPL_OK -> None */
    RES_SET,    /* the echoed value: checked for truncation, then None */
    RES_VALUE,  /* bytes (str with an encoding) or int */
    RES_NUMBER, /* int */
    RES_COUNT,  /* int; "no match" is 0 */
    RES_DICT,   /* dict; "no match" is {} */
    RES_LIST,   /* list; "no match" is [] */
    RES_QUIT    /* REPL_OK, then the connection ends */
};

#define OP_MAX_ARGS 3

typedef struct {
    int opcode;
    const char *command;              /* the name on the wire, "DEL" */
    const char *method;               /* the Client method, "dl" */
    int required;                     /* the first `required` params */
    int nparams;
    const char *params[OP_MAX_ARGS];
    unsigned char kinds[OP_MAX_ARGS];
    unsigned char result;
    unsigned char idempotent;         /* may be retried after a broken connection */
    unsigned char prefix;             /* the key is a prefix */
} op_spec;

/* The UnicodeDecodeError being raised for a reply to `op` on `key` says
 * which value failed and what to do (its class and fields unchanged). */
void name_key_in_decode_error(const op_spec *op, const char *key, size_t key_len);

/* raise_gb_error for a failed call of `op`, adding what the server's
 * silence after a key-value request may mean (§8.4). */
void raise_call_error(gibson_state *st, const gb_error *err, const op_spec *op);
/* The same with the message `text` (err's, or a longer one), where `due`
 * is the operation whose reply was awaited (NULL: none). */
void raise_error_with_hint(gibson_state *st, const gb_error *err, const char *text,
                           const op_spec *due);

/* OP_SET, OP_TTL, ... OP_END, one per line of operations.def. */
#define GB_OPERATION(NAME, ...) extern const op_spec OP_##NAME;
#define GB_ALIAS(...)
#include "operations.def"
#undef GB_OPERATION
#undef GB_ALIAS

/* Every operation in opcode order, END last, and how many there are. */
extern const op_spec *const OP_TABLE[];
extern const int OP_TABLE_SIZE;

/* The operation with this opcode, or NULL. */
static inline const op_spec *
op_by_opcode(int opcode)
{
    if (opcode >= GB_OP_SET && opcode <= GB_OP_KEYS) {
        return OP_TABLE[opcode - GB_OP_SET];
    }
    return opcode == GB_OP_END ? &OP_END : NULL;
}

/* The operation named by obj: an opcode, or a wire name (any case), method
 * name or alias as str or bytes. NULL with ValueError/TypeError otherwise. */
const op_spec *op_lookup(PyObject *obj);

/* Whether a call with one positional argument gives this op just a key
 * (get, inc, mget without a limit, ...). */
static inline int
op_takes_lone_key(const op_spec *op)
{
    return op->required == 1 && op->kinds[0] == ARG_KEY;
}

/* A request being prepared from Python arguments: the views it borrows. */
typedef struct {
    gb_request req;
    arg_bytes key;
    arg_bytes value;
} prepared_request;

/* Bind fastcall arguments to the op's parameters and convert them into
 * `out`. On success the caller must call prepared_release. */
int prepare_request(gibson_state *st, const op_spec *op, PyObject *const *args,
                    Py_ssize_t nargs, PyObject *kwnames, prepared_request *out);

static inline void
prepared_release(prepared_request *p)
{
    arg_release(&p->key);
    arg_release(&p->value);
}

/* The commonest reply, a value where one was expected (GET), made at once:
 * 1 with *result set (NULL with an exception if it could not be made), or 0
 * when the reply needs result_or_exception. Inline, for every GET. */
static inline int
value_result(const op_spec *op, const gb_reply *reply, PyObject *encoding, PyObject **result)
{
    if (reply->code != GB_REPL_VAL || op->result != RES_VALUE) {
        return 0;
    }
    *result = reply->encoding == GB_ENC_NUMBER
                  ? PyLong_FromLongLong((long long)reply->number)
                  : value_from_bytes(reply->data, reply->size, encoding);
    return 1;
}

/*
 * The Python result of a reply to `op`. Returns a new reference, or NULL with
 * an exception set; *broken is set to 1 when the reply does not fit the
 * operation (the stream can no longer be trusted).
 * `sent_value_len` is the length of the value sent (for RES_SET).
 * With `empty_when_no_match`, a prefix operation's "not found" is its empty
 * result ({}, [] or 0) instead of NotFoundError.
 */
PyObject *result_from_reply(gibson_state *st, const op_spec *op, const gb_request *req,
                            const gb_reply *reply, PyObject *encoding,
                            int empty_when_no_match, int *broken);

/* As result_from_reply, but a server refusal becomes the exception instance,
 * returned instead of raised (for pipelines run with raise_on_error=False). */
PyObject *result_or_exception(gibson_state *st, const op_spec *op, const gb_request *req,
                              const gb_reply *reply, PyObject *encoding,
                              int empty_when_no_match, int *broken);

/* result_or_exception for a reply whose request is known only by what a
 * queue keeps of it (Pipeline, Reader): its key, for messages, and the
 * length of the value it sent, for SET's truncation check. */
static inline PyObject *
queued_result(gibson_state *st, const op_spec *op, const void *key, size_t key_len,
              size_t value_len, const gb_reply *reply, PyObject *encoding,
              int empty_when_no_match, int *broken)
{
    gb_request req;
    memset(&req, 0, sizeof(req));
    req.opcode = op->opcode;
    req.key = key;
    req.key_len = key_len;
    req.value_len = value_len;
    return result_or_exception(st, op, &req, reply, encoding, empty_when_no_match, broken);
}

#endif /* PYGIBSON_OPS_H */
