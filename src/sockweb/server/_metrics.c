/* sockweb.server._metrics: `Tally` of metrics.py, in C.
 *
 * One responsibility: the counters of one process as int64 slots (the `COUNTERS` layout), and `count`,
 * which counts one finished exchange into them as the pure-Python reference `sockweb.server.metrics.Tally`
 * does -- requests by method and status class, the
 * duration since the exchange's head in whole microseconds (histogram bucket and sum), the bytes sent,
 * inline or pool -- and say whether it was a 5xx. It is the only per-request cost of --metrics-bind, so
 * it reads the exchange's attributes and updates the list without running any bytecode.
 * `configure` hands over the layout and the clock once (the reference's own constants and
 * time.perf_counter, the clock Exchange.started was read from), so the two cannot disagree on either.
 * tests/server/test_metrics_units.py holds the two paths equal.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define MAX_BUCKETS 64

static PyObject *clock_func;      /* time.perf_counter */
static PyObject *method_index;    /* dict: method -> index; others take `n_methods_known` */
static Py_ssize_t requests_at, n_classes, buckets_at, duration_at, bytes_out_at, inline_at, pool_at, bytes_in_at;
static long long bucket_bounds[MAX_BUCKETS];
static Py_ssize_t n_bounds;
static PyObject *s_status, *s_request, *s_method, *s_started, *s_plan, *s_head, *s_sent, *s_threaded;

typedef struct {
    PyObject_HEAD
    Py_ssize_t size;
    long long *slots;
} Tally;

/* slots[i] += n; 0 or -1 with an exception. */
static int
add(Tally *t, Py_ssize_t i, long long n)
{
    if (i < 0 || i >= t->size) {
        PyErr_SetString(PyExc_IndexError, "counter index out of range");
        return -1;
    }
    t->slots[i] += n;
    return 0;
}

static PyObject *
configure(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 11) {
        PyErr_SetString(PyExc_TypeError, "configure() takes 11 arguments");
        return NULL;
    }
    if (!PyCallable_Check(args[0]) || !PyDict_Check(args[2]) || !PyTuple_Check(args[5])) {
        PyErr_SetString(PyExc_TypeError, "configure(clock, requests_at, method_index: dict, n_classes, "
                                         "buckets_at, bounds: tuple, duration_at, bytes_out_at, inline_at, pool_at, bytes_in_at)");
        return NULL;
    }
    Py_ssize_t values[8];
    const int at[8] = {1, 3, 4, 6, 7, 8, 9, 10};
    for (int k = 0; k < 8; k++) {
        values[k] = PyLong_AsSsize_t(args[at[k]]);
        if (values[k] == -1 && PyErr_Occurred()) return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(args[5]);
    if (n > MAX_BUCKETS) {
        PyErr_SetString(PyExc_ValueError, "too many histogram buckets");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        bucket_bounds[i] = PyLong_AsLongLong(PyTuple_GET_ITEM(args[5], i));
        if (bucket_bounds[i] == -1 && PyErr_Occurred()) return NULL;
    }
    n_bounds = n;
    requests_at = values[0];
    n_classes = values[1];
    buckets_at = values[2];
    duration_at = values[3];
    bytes_out_at = values[4];
    inline_at = values[5];
    pool_at = values[6];
    bytes_in_at = values[7];
    Py_INCREF(args[0]);
    Py_XSETREF(clock_func, args[0]);
    Py_INCREF(args[2]);
    Py_XSETREF(method_index, args[2]);
    Py_RETURN_NONE;
}

/* The status class 0..4 (1xx..5xx); anything that is not a status line counts as 5xx. */
static Py_ssize_t
status_class(PyObject *status)
{
    if (PyUnicode_CheckExact(status) && PyUnicode_GET_LENGTH(status) > 0) {
        Py_UCS4 c = PyUnicode_READ_CHAR(status, 0);
        if (c >= '1' && c <= '4') return (Py_ssize_t)(c - '1');
    }
    return 4;
}

static PyObject *
tally_count(Tally *counts, PyObject *ex)
{
    if (clock_func == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "count() before configure()");
        return NULL;
    }
    PyObject *status = PyObject_GetAttr(ex, s_status);
    if (status == NULL) return NULL;
    Py_ssize_t cls = status_class(status);
    Py_DECREF(status);

    PyObject *request = PyObject_GetAttr(ex, s_request);
    if (request == NULL) return NULL;
    PyObject *method = PyObject_GetAttr(request, s_method);
    Py_DECREF(request);
    if (method == NULL) return NULL;
    Py_ssize_t m = PyDict_Size(method_index);  /* "other" follows the known methods */
    PyObject *found = PyDict_GetItemWithError(method_index, method);  /* borrowed */
    Py_DECREF(method);
    if (found != NULL) {
        m = PyLong_AsSsize_t(found);
        if (m == -1 && PyErr_Occurred()) return NULL;
    } else if (PyErr_Occurred()) {
        return NULL;
    }
    if (add(counts, requests_at + m * n_classes + cls, 1) < 0) return NULL;

    PyObject *started = PyObject_GetAttr(ex, s_started);
    if (started == NULL) return NULL;
    double since = PyFloat_AsDouble(started);
    Py_DECREF(started);
    if (since == -1.0 && PyErr_Occurred()) return NULL;
    PyObject *now_obj = PyObject_CallNoArgs(clock_func);
    if (now_obj == NULL) return NULL;
    double now = PyFloat_AsDouble(now_obj);
    Py_DECREF(now_obj);
    if (now == -1.0 && PyErr_Occurred()) return NULL;
    /* int((now - since) * 1e6): truncated toward zero, as Python's int() of a float */
    long long elapsed = (long long)((now - since) * 1e6);
    Py_ssize_t bucket = 0;  /* bisect_left(bounds, elapsed) */
    while (bucket < n_bounds && bucket_bounds[bucket] < elapsed) bucket++;
    if (add(counts, buckets_at + bucket, 1) < 0 || add(counts, duration_at, elapsed) < 0) return NULL;

    long long out = 0;
    PyObject *sent = PyObject_GetAttr(ex, s_sent);
    if (sent == NULL) return NULL;
    out = PyLong_AsLongLong(sent);
    Py_DECREF(sent);
    if (out == -1 && PyErr_Occurred()) return NULL;
    PyObject *plan = PyObject_GetAttr(ex, s_plan);
    if (plan == NULL) return NULL;
    if (plan != Py_None) {
        PyObject *head = PyObject_GetAttr(plan, s_head);
        Py_DECREF(plan);
        if (head == NULL) return NULL;
        Py_ssize_t size = PyObject_Length(head);
        Py_DECREF(head);
        if (size < 0) return NULL;
        out += size;
    } else {
        Py_DECREF(plan);
    }
    if (add(counts, bytes_out_at, out) < 0) return NULL;

    PyObject *threaded = PyObject_GetAttr(ex, s_threaded);
    if (threaded == NULL) return NULL;
    int in_pool = PyObject_IsTrue(threaded);
    Py_DECREF(threaded);
    if (in_pool < 0 || add(counts, in_pool ? pool_at : inline_at, 1) < 0) return NULL;
    return PyBool_FromLong(cls == 4);
}

static PyObject *
tally_add(Tally *t, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "add(index, n)");
        return NULL;
    }
    Py_ssize_t i = PyLong_AsSsize_t(args[0]);
    if (i == -1 && PyErr_Occurred()) return NULL;
    long long n = PyLong_AsLongLong(args[1]);
    if (n == -1 && PyErr_Occurred()) return NULL;
    if (add(t, i, n) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *
tally_received(Tally *t, PyObject *n_obj)
{
    long long n = PyLong_AsLongLong(n_obj);
    if (n == -1 && PyErr_Occurred()) return NULL;
    if (add(t, bytes_in_at, n) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *
tally_values(Tally *t, PyObject *Py_UNUSED(ignored))
{
    PyObject *list = PyList_New(t->size);
    if (list == NULL) return NULL;
    for (Py_ssize_t i = 0; i < t->size; i++) {
        PyObject *v = PyLong_FromLongLong(t->slots[i]);
        if (v == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, v);
    }
    return list;
}

static PyObject *
tally_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    Py_ssize_t size;
    if (!PyArg_ParseTuple(args, "n:Tally", &size)) return NULL;
    if (size < 0) {
        PyErr_SetString(PyExc_ValueError, "size must be >= 0");
        return NULL;
    }
    Tally *t = (Tally *)type->tp_alloc(type, 0);
    if (t == NULL) return NULL;
    t->slots = PyMem_Calloc(size ? size : 1, sizeof(long long));
    if (t->slots == NULL) {
        Py_DECREF(t);
        return PyErr_NoMemory();
    }
    t->size = size;
    return (PyObject *)t;
}

static void
tally_dealloc(Tally *t)
{
    PyMem_Free(t->slots);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

static PyMethodDef tally_methods[] = {
    {"count", (PyCFunction)tally_count, METH_O,
     "count(exchange) -> bool\n\nCount a finished exchange as metrics.Tally.count does; True when it was a 5xx."},
    {"add", (PyCFunction)(void (*)(void))tally_add, METH_FASTCALL, "add(index, n): slot `index` grows by n."},
    {"received", (PyCFunction)tally_received, METH_O, "received(n): n bytes arrived on a connection."},
    {"values", (PyCFunction)tally_values, METH_NOARGS, "values() -> list[int]: the slots, a copy."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject TallyType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "sockweb.server._metrics.Tally",
    .tp_basicsize = sizeof(Tally),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Tally(size): the metrics' counters as int64 slots, and the per-request count().",
    .tp_new = tally_new,
    .tp_dealloc = (destructor)tally_dealloc,
    .tp_methods = tally_methods,
};

static PyMethodDef metrics_methods[] = {
    {"configure", (PyCFunction)(void (*)(void))configure, METH_FASTCALL,
     "configure(clock, requests_at, method_index, n_classes, buckets_at, bucket_bounds_us, duration_at, "
     "bytes_out_at, inline_at, pool_at, bytes_in_at) -> None\n\nThe counters' layout and the clock, from metrics.py."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef metrics_module = {
    PyModuleDef_HEAD_INIT,
    "sockweb.server._metrics",
    "The per-request counter of the metrics, in C (see metrics.count_exchange for the reference).",
    -1,
    metrics_methods,
};

PyMODINIT_FUNC
PyInit__metrics(void)
{
#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL
    INTERN(s_status, "status");
    INTERN(s_request, "request");
    INTERN(s_method, "method");
    INTERN(s_started, "started");
    INTERN(s_plan, "plan");
    INTERN(s_head, "head");
    INTERN(s_sent, "sent");
    INTERN(s_threaded, "threaded");
#undef INTERN
    if (PyType_Ready(&TallyType) < 0) return NULL;
    PyObject *module = PyModule_Create(&metrics_module);
    if (module == NULL) return NULL;
    Py_INCREF(&TallyType);
    if (PyModule_AddObject(module, "Tally", (PyObject *)&TallyType) < 0) {
        Py_DECREF(&TallyType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
