/*
 * What the Limited API (Py_LIMITED_API, the stable ABI of abi3 wheels) lacks,
 * rebuilt from what it has. Without Py_LIMITED_API this header does nothing
 * but give TYPE_NAME its usual meaning, so the per-version build is unchanged.
 *
 * The minimum is 3.11 (0x030B0000): the buffer protocol (PyObject_GetBuffer,
 * Py_buffer) is in the Limited API from 3.11 on; METH_FASTCALL|METH_KEYWORDS
 * and PyType_FromModuleAndSpec from 3.10.
 */
#ifndef PYGIBSON_LIMITED_H
#define PYGIBSON_LIMITED_H

#include <string.h>

#ifndef Py_LIMITED_API

#define TYPE_NAME(type) ((type)->tp_name)

#else /* Py_LIMITED_API */

#if Py_LIMITED_API + 0 < 0x030B0000
#error "pygibson needs Py_LIMITED_API >= 0x030B0000 (the buffer protocol)"
#endif

/* The access macros read object internals: their function forms check the
 * type and cost a call each. */
#define PyBytes_AS_STRING(op) PyBytes_AsString(op)
#define PyBytes_GET_SIZE(op) PyBytes_Size(op)
#define PyTuple_GET_SIZE(op) PyTuple_Size(op)
#define PyTuple_GET_ITEM(op, i) PyTuple_GetItem((op), (i))
#define PyList_GET_SIZE(op) PyList_Size(op)
#define PyList_GET_ITEM(op, i) PyList_GetItem((op), (i))
/* Only ever used on a fresh list's empty slots, where SetItem is the same. */
#define PyList_SET_ITEM(op, i, v) ((void)PyList_SetItem((op), (i), (v)))

/* PyUnicode_AsUTF8 joins the Limited API in 3.13. */
#define PyUnicode_AsUTF8(op) PyUnicode_AsUTF8AndSize((op), NULL)
/* PyObject_CallOneArg joins the Limited API in 3.13 (PyObject_Vectorcall
 * in 3.12). Used off the per-operation path only. */
#define PyObject_CallOneArg(func, arg) PyObject_CallFunctionObjArgs((func), (arg), NULL)

#ifndef Py_SETREF
/* Replace what dst holds by src, then release the old value with DECREF. */
#define PYGIBSON_SETREF(dst, src, DECREF)      \
    do {                                       \
        PyObject **_dst = (PyObject **)&(dst); \
        PyObject *_tmp = *_dst;                \
        *_dst = (PyObject *)(src);             \
        DECREF(_tmp);                          \
    } while (0)
#define Py_SETREF(dst, src) PYGIBSON_SETREF(dst, src, Py_DECREF)
#define Py_XSETREF(dst, src) PYGIBSON_SETREF(dst, src, Py_XDECREF)
#endif

/* PyTypeObject is opaque: tp_name is out of reach. For messages, what it
 * would say, copied into a per-thread buffer that lives until the next
 * call: each message uses one. */
static inline const char *
pygibson_type_name(PyTypeObject *type)
{
    static _Thread_local char buffer[200];
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    /* tp_name is a class statement's bare __name__, and "module.qualname"
     * for a static type (builtins' without the module) or one made from a
     * spec by a module (ours). */
    int heap = (PyType_GetFlags(type) & Py_TPFLAGS_HEAPTYPE) != 0;
    if (heap && PyType_GetModule(type) != NULL) {
        heap = 0;
    }
    PyErr_Clear(); /* PyType_GetModule's TypeError for a class statement's type */
    PyObject *module = heap ? NULL : PyObject_GetAttrString((PyObject *)type, "__module__");
    PyObject *qualname = heap ? PyType_GetName(type) : PyType_GetQualName(type);
    const char *m = module != NULL && PyUnicode_Check(module)
                        ? PyUnicode_AsUTF8AndSize(module, NULL)
                        : NULL;
    const char *q = qualname != NULL ? PyUnicode_AsUTF8AndSize(qualname, NULL) : NULL;
    if (q == NULL) {
        q = "?";
    }
    if (m == NULL || strcmp(m, "builtins") == 0) {
        PyOS_snprintf(buffer, sizeof(buffer), "%s", q);
    }
    else {
        PyOS_snprintf(buffer, sizeof(buffer), "%s.%s", m, q);
    }
    Py_XDECREF(module);
    Py_XDECREF(qualname);
    PyErr_Restore(exc_type, exc_value, exc_tb);
    return buffer;
}
#define TYPE_NAME(type) pygibson_type_name(type)

#endif /* Py_LIMITED_API */

/* tp_alloc and tp_free, read through PyType_GetSlot in the Limited API. */
#ifdef Py_LIMITED_API
#define TYPE_ALLOC(type) ((allocfunc)PyType_GetSlot((type), Py_tp_alloc))
#define TYPE_FREE(type) ((freefunc)PyType_GetSlot((type), Py_tp_free))
#else
#define TYPE_ALLOC(type) ((type)->tp_alloc)
#define TYPE_FREE(type) ((type)->tp_free)
#endif

#endif /* PYGIBSON_LIMITED_H */
