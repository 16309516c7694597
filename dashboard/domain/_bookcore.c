/* dashboard.domain._bookcore: the state-only compiled base class of OrderBook (see _bookcore.h). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include "_bookcore.h"

static int
bookcore_traverse(BookCoreObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->bids);
    Py_VISIT(self->asks);
    Py_VISIT(self->bid_heap);
    Py_VISIT(self->ask_heap);
    return 0;
}

static int
bookcore_clear(BookCoreObject *self)
{
    Py_CLEAR(self->bids);
    Py_CLEAR(self->asks);
    Py_CLEAR(self->bid_heap);
    Py_CLEAR(self->ask_heap);
    return 0;
}

static void
bookcore_dealloc(BookCoreObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    bookcore_clear(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyMemberDef bookcore_members[] = {
    {"_bids", T_OBJECT_EX, offsetof(BookCoreObject, bids), 0, "bid levels: tick -> size string"},
    {"_asks", T_OBJECT_EX, offsetof(BookCoreObject, asks), 0, "ask levels: tick -> size string"},
    {"_bid_heap", T_OBJECT_EX, offsetof(BookCoreObject, bid_heap), 0, "negated bid ticks (heap)"},
    {"_ask_heap", T_OBJECT_EX, offsetof(BookCoreObject, ask_heap), 0, "ask ticks (heap)"},
    {"sequence", T_LONGLONG, offsetof(BookCoreObject, sequence), 0, "sequence of the last applied change"},
    {"_scale", T_INT, offsetof(BookCoreObject, scale), 0, "decimal places of one tick"},
    {NULL}
};

static PyType_Slot bookcore_slots[] = {
    {Py_tp_doc, "State of an OrderBook in C struct fields (methods live in Python)."},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_dealloc, bookcore_dealloc},
    {Py_tp_traverse, bookcore_traverse},
    {Py_tp_clear, bookcore_clear},
    {Py_tp_members, bookcore_members},
    {0, NULL},
};

static PyType_Spec bookcore_spec = {
    .name = "dashboard.domain._bookcore.BookCore",
    .basicsize = sizeof(BookCoreObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = bookcore_slots,
};

static int
bookcore_exec(PyObject *module)
{
    PyObject *type = PyType_FromModuleAndSpec(module, &bookcore_spec, NULL);
    if (type == NULL)
        return -1;
    if (PyModule_AddObject(module, "BookCore", type) < 0) {
        Py_DECREF(type);
        return -1;
    }
    return 0;
}

static PyModuleDef_Slot bookcore_module_slots[] = {
    {Py_mod_exec, bookcore_exec},
    {0, NULL},
};

static struct PyModuleDef bookcore_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "dashboard.domain._bookcore",
    .m_doc = "Compiled state holder for dashboard.domain.book.OrderBook.",
    .m_size = 0,
    .m_slots = bookcore_module_slots,
};

PyMODINIT_FUNC
PyInit__bookcore(void)
{
    return PyModuleDef_Init(&bookcore_module);
}
