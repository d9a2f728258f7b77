/*
 * pygibson._pygibson: the module itself. Multi-phase initialisation; the
 * types are heap types made per module, and the exception classes come from
 * pygibson.exceptions so that Python code and C raise the very same classes.
 */
#include "_client.h"
#include "_forks.h"

static int
load_exceptions(gibson_state *st)
{
    PyObject *mod = PyImport_ImportModule("pygibson.exceptions");
    if (mod == NULL) {
        return -1;
    }
    struct {
        PyObject **slot;
        const char *name;
    } wanted[] = {
        {&st->PyGibsonError, "PyGibsonError"},
        {&st->ServerError, "ServerError"},
        {&st->NotFoundError, "NotFoundError"},
        {&st->NaNError, "NaNError"},
        {&st->NoMemoryError, "NoMemoryError"},
        {&st->LockedError, "LockedError"},
        {&st->ValueTruncatedError, "ValueTruncatedError"},
        {&st->PartialResultError, "PartialResultError"},
        {&st->ProtocolError, "ProtocolError"},
        {&st->ConnectionError, "ConnectionError"},
        {&st->TimeoutError, "TimeoutError"},
        {&st->ArgumentError, "ArgumentError"},
    };
    for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
        *wanted[i].slot = PyObject_GetAttrString(mod, wanted[i].name);
        if (*wanted[i].slot == NULL) {
            Py_DECREF(mod);
            return -1;
        }
    }
    Py_DECREF(mod);
    return 0;
}

#if PY_VERSION_HEX < 0x030A0000
/* CPython 3.9's PyType_FromSpec keeps only the part of the doc after the
 * "Client(...)\n--\n\n" signature, so inspect.signature(Client) and help()
 * find none there (3.10 keeps it). tp_doc is what __text_signature__ is read
 * from, and is freed with PyObject_Free: the whole text is put back in a
 * block of that allocator. __doc__ was made from the short text already. */
static int
keep_text_signature(PyTypeObject *type, const PyType_Spec *spec)
{
    for (const PyType_Slot *s = spec->slots; s->slot != 0; s++) {
        if (s->slot == Py_tp_doc && s->pfunc != NULL) {
            size_t size = strlen((const char *)s->pfunc) + 1;
            char *doc = PyObject_Malloc(size);
            if (doc == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            memcpy(doc, s->pfunc, size);
            PyObject_Free((void *)type->tp_doc);
            type->tp_doc = doc;
            PyType_Modified(type);
        }
    }
    return 0;
}
#endif

static int
add_type(PyObject *module, PyType_Spec *spec, PyTypeObject **slot)
{
    *slot = (PyTypeObject *)PyType_FromModuleAndSpec(module, spec, NULL);
    if (*slot == NULL) {
        return -1;
    }
#if PY_VERSION_HEX < 0x030A0000
    if (keep_text_signature(*slot, spec) < 0) {
        return -1;
    }
#endif
    return PyModule_AddType(module, *slot);
}

static int
module_exec(PyObject *module)
{
    gibson_state *st = PyModule_GetState(module);
    if (watch_forks() < 0) {
        return -1;
    }
    if (load_exceptions(st) < 0) {
        return -1;
    }
    if (add_type(module, &client_type_spec, &st->client_type) < 0) {
        return -1;
    }
    if (add_type(module, &pipeline_type_spec, &st->pipeline_type) < 0) {
        return -1;
    }
    if (add_type(module, &reader_type_spec, &st->reader_type) < 0) {
        return -1;
    }
    if (PyModule_AddStringConstant(module, "LIBRARY_VERSION", GB_VERSION) < 0) {
        return -1;
    }
    /* from_url() and exists(), written once in Python for both Clients. */
    PyObject *extras = PyImport_ImportModule("pygibson._client_extras");
    if (extras == NULL) {
        return -1;
    }
    PyObject *installed = PyObject_CallMethod(extras, "install", "O", st->client_type);
    Py_DECREF(extras);
    if (installed == NULL) {
        return -1;
    }
    Py_DECREF(installed);
    if (PyModule_AddIntConstant(module, "DEFAULT_PORT", GB_DEFAULT_PORT) < 0 ||
        PyModule_AddIntConstant(module, "TTL_MAX", GB_TTL_MAX) < 0 ||
        PyModule_AddIntConstant(module, "DEFAULT_MAX_KEY_SIZE", GB_DEFAULT_MAX_KEY_SIZE) < 0 ||
        PyModule_AddIntConstant(module, "DEFAULT_MAX_REQUEST_SIZE",
                                GB_DEFAULT_MAX_REQUEST_SIZE) < 0 ||
        PyModule_AddIntConstant(module, "DEFAULT_MAX_REPLY_SIZE",
                                GB_DEFAULT_MAX_REPLY_SIZE) < 0) {
        return -1;
    }
    return 0;
}

#define STATE_FIELDS(X)                                                            \
    X(client_type) X(pipeline_type) X(reader_type) X(PyGibsonError) X(ServerError) X(NotFoundError) \
    X(NaNError) X(NoMemoryError) X(LockedError) X(ValueTruncatedError)           \
    X(PartialResultError) X(ProtocolError) X(ConnectionError) X(TimeoutError) X(ArgumentError)

static int
module_traverse(PyObject *module, visitproc visit, void *arg)
{
    gibson_state *st = PyModule_GetState(module);
    if (st == NULL) {
        return 0;
    }
#define VISIT(field) Py_VISIT(st->field);
    STATE_FIELDS(VISIT)
#undef VISIT
    return 0;
}

static int
module_clear(PyObject *module)
{
    gibson_state *st = PyModule_GetState(module);
    if (st == NULL) {
        return 0;
    }
#define CLEAR(field) Py_CLEAR(st->field);
    STATE_FIELDS(CLEAR)
#undef CLEAR
    return 0;
}

static void
module_free(void *module)
{
    (void)module_clear((PyObject *)module);
}

gibson_state *
gibson_state_from_type(PyTypeObject *type)
{
#if defined(Py_LIMITED_API)
    /* PyType_GetModuleByDef joins the Limited API in 3.13, and tp_mro is out
     * of reach: walk __mro__ for the first type made from our module. Only
     * constructors come here, not the per-operation path. */
    PyObject *mro = PyObject_GetAttrString((PyObject *)type, "__mro__");
    if (mro == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_Size(mro); i++) {
        PyTypeObject *base = (PyTypeObject *)PyTuple_GetItem(mro, i);
        if (!(PyType_GetFlags(base) & Py_TPFLAGS_HEAPTYPE)) {
            continue;
        }
        PyObject *module = PyType_GetModule(base);
        if (module == NULL) {
            PyErr_Clear(); /* a heap type of no module: a Python subclass */
            continue;
        }
        if (PyModule_GetDef(module) == &pygibson_module_def) {
            Py_DECREF(mro);
            return PyModule_GetState(module);
        }
    }
    Py_DECREF(mro);
    PyErr_Format(PyExc_TypeError, "%s is not a pygibson type", TYPE_NAME(type));
    return NULL;
#elif PY_VERSION_HEX >= 0x030B0000
    PyObject *module = PyType_GetModuleByDef(type, &pygibson_module_def);
    if (module == NULL) {
        return NULL;
    }
    return PyModule_GetState(module);
#else
    /* PyType_GetModuleByDef is 3.11+: walk the MRO for our own heap type. */
    PyObject *mro = type->tp_mro;
    for (Py_ssize_t i = 0; mro != NULL && i < PyTuple_GET_SIZE(mro); i++) {
        PyTypeObject *base = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        if (!(base->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
            continue;
        }
        PyObject *module = ((PyHeapTypeObject *)base)->ht_module;
        if (module != NULL && PyModule_GetDef(module) == &pygibson_module_def) {
            return PyModule_GetState(module);
        }
    }
    PyErr_Format(PyExc_TypeError, "%s is not a pygibson type", type->tp_name);
    return NULL;
#endif
}

/* An abi3 build gets only the slots of its minimum version, whatever the
 * interpreter it was compiled with. */
#ifdef Py_LIMITED_API
#define SLOTS_VERSION Py_LIMITED_API
#else
#define SLOTS_VERSION PY_VERSION_HEX
#endif

static PyMethodDef module_methods[] = {
    {"encode_command", (PyCFunction)(void (*)(void))encode_command, METH_FASTCALL,
     encode_command_doc},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, (void *)module_exec},
#if SLOTS_VERSION >= 0x030C0000
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#if SLOTS_VERSION >= 0x030D0000
    /* Each Client serialises its own requests with a lock of its own. */
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

PyModuleDef pygibson_module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pygibson._pygibson",
    .m_doc = "The C core of pygibson: Client, Pipeline and Reader over libgibsonclient.",
    .m_size = sizeof(gibson_state),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC
PyInit__pygibson(void)
{
    return PyModuleDef_Init(&pygibson_module_def);
}
