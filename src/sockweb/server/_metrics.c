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
#include <structmember.h>
#include <time.h>

#define MAX_BUCKETS 64

static PyObject *clock_func;      /* time.perf_counter */
static PyObject *method_index;    /* dict: method -> index; others take `n_methods_known` */
#define MAX_METHODS 16
static PyObject *method_keys[MAX_METHODS];  /* its keys (interned, as the parser's methods), by index */
static Py_ssize_t n_method_keys;
static int clock_is_monotonic;    /* the clock reads CLOCK_MONOTONIC: read it here, without a call */
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
    if (nargs != 12) {
        PyErr_SetString(PyExc_TypeError, "configure() takes 12 arguments");
        return NULL;
    }
    if (!PyCallable_Check(args[0]) || !PyDict_Check(args[2]) || !PyTuple_Check(args[5])) {
        PyErr_SetString(PyExc_TypeError, "configure(clock, requests_at, method_index: dict, n_classes, "
                                         "buckets_at, bounds: tuple, duration_at, bytes_out_at, inline_at, pool_at, bytes_in_at, "
                                         "clock_is_monotonic: bool)");
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
    Py_ssize_t n_keys = PyDict_Size(args[2]);
    if (n_keys > MAX_METHODS) {
        PyErr_SetString(PyExc_ValueError, "too many methods");
        return NULL;
    }
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(args[2], &pos, &key, &value)) {
        Py_ssize_t k = PyLong_AsSsize_t(value);
        if (k == -1 && PyErr_Occurred()) return NULL;
        if (k < 0 || k >= n_keys) {
            PyErr_SetString(PyExc_ValueError, "method indices must be 0..len-1");
            return NULL;
        }
        Py_INCREF(key);
        Py_XSETREF(method_keys[k], key);
    }
    n_method_keys = n_keys;
    int monotonic = PyObject_IsTrue(args[11]);
    if (monotonic < 0) return NULL;
#ifdef CLOCK_MONOTONIC
    clock_is_monotonic = monotonic;
#else
    clock_is_monotonic = 0;
#endif
    Py_INCREF(args[2]);
    Py_XSETREF(method_index, args[2]);
    Py_RETURN_NONE;
}

/* A read of one attribute with an inline cache, as the interpreter's own LOAD_ATTR_SLOT: the first read
 * of a type looks the name up on the type; when it is a __slots__ member (an object slot) of a type that
 * keeps the generic attribute lookup, the slot's offset is kept with the type and its version tag, and
 * the next reads of an object of that type load the slot directly. Any other type, or a type changed
 * since (its version tag moves on every change to it or its bases), takes PyObject_GetAttr. An unset
 * slot falls back too, so the error is Python's own AttributeError. New reference, or NULL. */
typedef struct {
    PyTypeObject *type;        /* strong reference, or NULL */
    unsigned int version;      /* type->tp_version_tag when the offset was taken */
    Py_ssize_t offset;         /* of the slot in the object */
} SlotCache;

static PyObject *
get_cached(PyObject *obj, PyObject *name, SlotCache *cache)
{
    PyTypeObject *type = Py_TYPE(obj);
    if (type == cache->type && type->tp_version_tag == cache->version) {
        PyObject *value = *(PyObject **)((char *)obj + cache->offset);
        if (value != NULL) return Py_NewRef(value);
        return PyObject_GetAttr(obj, name);
    }
    PyObject *descr = _PyType_Lookup(type, name);  /* borrowed; assigns the version tag */
    if (descr != NULL && Py_IS_TYPE(descr, &PyMemberDescr_Type) && type->tp_getattro == PyObject_GenericGetAttr
        && PyType_HasFeature(type, Py_TPFLAGS_VALID_VERSION_TAG) && type->tp_version_tag != 0) {
        PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
        if (member->type == T_OBJECT_EX && !(member->flags & READ_RESTRICTED)) {
            Py_INCREF(type);
            Py_XSETREF(cache->type, type);
            cache->version = type->tp_version_tag;
            cache->offset = member->offset;
        }
    }
    return PyObject_GetAttr(obj, name);
}

static SlotCache c_status, c_request, c_method, c_started, c_plan, c_head, c_sent, c_threaded;

/* The exchange's six fields that count reads, by name, and their slots in the last exchange type seen
 * (one check of the type and its version for all six, where each SlotCache checks its own). */
enum { F_STATUS, F_REQUEST, F_STARTED, F_SENT, F_PLAN, F_THREADED, N_FIELDS };
static PyObject **field_names[N_FIELDS] = {&s_status, &s_request, &s_started, &s_sent, &s_plan, &s_threaded};
static SlotCache *field_caches[N_FIELDS] = {&c_status, &c_request, &c_started, &c_sent, &c_plan, &c_threaded};
static struct {
    PyTypeObject *type;  /* strong reference, or NULL */
    unsigned int version;
    Py_ssize_t offsets[N_FIELDS];
} layout;

/* The six fields of `ex` as new references in `out`; 0, or -1 with an exception (none is then held). */
static int
read_exchange(PyObject *ex, PyObject *out[N_FIELDS])
{
    PyTypeObject *type = Py_TYPE(ex);
    if (type == layout.type && type->tp_version_tag == layout.version) {
        int k = 0;
        for (; k < N_FIELDS; k++) {
            PyObject *value = *(PyObject **)((char *)ex + layout.offsets[k]);
            if (value == NULL) break;  /* unset: the generic path raises Python's own error */
            out[k] = value;
        }
        if (k == N_FIELDS) {
            for (k = 0; k < N_FIELDS; k++) Py_INCREF(out[k]);
            return 0;
        }
    }
    for (int k = 0; k < N_FIELDS; k++) {
        out[k] = get_cached(ex, *field_names[k], field_caches[k]);
        if (out[k] == NULL) {
            while (k > 0) Py_DECREF(out[--k]);
            return -1;
        }
    }
    /* every field read: if each came from a slot of this very type, keep the six offsets together */
    int all = 1;
    for (int k = 0; k < N_FIELDS; k++) {
        SlotCache *c = field_caches[k];
        if (c->type != type || c->version != type->tp_version_tag) all = 0;
    }
    if (all) {
        Py_INCREF(type);
        Py_XSETREF(layout.type, type);
        layout.version = type->tp_version_tag;
        for (int k = 0; k < N_FIELDS; k++) layout.offsets[k] = field_caches[k]->offset;
    }
    return 0;
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
    PyObject *f[N_FIELDS];
    if (read_exchange(ex, f) < 0) return NULL;
    PyObject *result = NULL;
    Py_ssize_t cls = status_class(f[F_STATUS]);

    PyObject *method = get_cached(f[F_REQUEST], s_method, &c_method);
    if (method == NULL) goto done;
    /* The method's index: the parser's methods are the interned keys themselves, so compare pointers
     * first; other strings (another parser, a test) take the dict. "other" follows the known methods. */
    Py_ssize_t m = 0;
    while (m < n_method_keys && method_keys[m] != method) m++;
    if (m == n_method_keys) {
        PyObject *found = PyDict_GetItemWithError(method_index, method);  /* borrowed */
        if (found != NULL) {
            m = PyLong_AsSsize_t(found);
            if (m == -1 && PyErr_Occurred()) {
                Py_DECREF(method);
                goto done;
            }
        } else if (PyErr_Occurred()) {
            Py_DECREF(method);
            goto done;
        }
    }
    Py_DECREF(method);
    if (add(counts, requests_at + m * n_classes + cls, 1) < 0) goto done;

    PyObject *started = f[F_STARTED];
    double since = PyFloat_CheckExact(started) ? PyFloat_AS_DOUBLE(started) : PyFloat_AsDouble(started);
    if (since == -1.0 && PyErr_Occurred()) goto done;
    double now;
#ifdef CLOCK_MONOTONIC
    if (clock_is_monotonic) {
        /* what time.perf_counter returns here (time.get_clock_info says so), without the call */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        now = (double)((long long)ts.tv_sec * 1000000000LL + ts.tv_nsec) / 1e9;
    } else
#endif
    {
        PyObject *now_obj = PyObject_CallNoArgs(clock_func);
        if (now_obj == NULL) goto done;
        now = PyFloat_AsDouble(now_obj);
        Py_DECREF(now_obj);
        if (now == -1.0 && PyErr_Occurred()) goto done;
    }
    /* int((now - since) * 1e6): truncated toward zero, as Python's int() of a float */
    long long elapsed = (long long)((now - since) * 1e6);
    Py_ssize_t bucket = 0;  /* bisect_left(bounds, elapsed) */
    while (bucket < n_bounds && bucket_bounds[bucket] < elapsed) bucket++;
    if (add(counts, buckets_at + bucket, 1) < 0 || add(counts, duration_at, elapsed) < 0) goto done;

    long long out = PyLong_AsLongLong(f[F_SENT]);
    if (out == -1 && PyErr_Occurred()) goto done;
    PyObject *plan = f[F_PLAN];
    if (plan != Py_None) {
        PyObject *head = get_cached(plan, s_head, &c_head);
        if (head == NULL) goto done;
        Py_ssize_t size = PyBytes_CheckExact(head) ? PyBytes_GET_SIZE(head) : PyObject_Length(head);
        Py_DECREF(head);
        if (size < 0) goto done;
        out += size;
    }
    if (add(counts, bytes_out_at, out) < 0) goto done;

    PyObject *threaded = f[F_THREADED];
    int in_pool = threaded == Py_True ? 1 : threaded == Py_False ? 0 : PyObject_IsTrue(threaded);
    if (in_pool < 0 || add(counts, in_pool ? pool_at : inline_at, 1) < 0) goto done;
    result = PyBool_FromLong(cls == 4);
done:
    for (int k = 0; k < N_FIELDS; k++) Py_DECREF(f[k]);
    return result;
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
tally_received(Tally *t, PyObject *data)
{
    Py_ssize_t n = PyBytes_CheckExact(data) ? PyBytes_GET_SIZE(data) : PyObject_Length(data);
    if (n < 0) return NULL;
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
    {"received", (PyCFunction)tally_received, METH_O, "received(data): data arrived on a connection (its length counts)."},
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

#ifdef CLOCK_MONOTONIC
/* CLOCK_MONOTONIC in seconds, converted as time.perf_counter converts it (nanoseconds / 1e9): where
 * perf_counter reads this clock (sockweb.server.clock checks time.get_clock_info), the same values at
 * about a third of its cost, for the reads the server makes per request. */
static PyObject *
monotonic_seconds(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return PyErr_SetFromErrno(PyExc_OSError);
    return PyFloat_FromDouble((double)((long long)ts.tv_sec * 1000000000LL + ts.tv_nsec) / 1e9);
}
#endif

static PyMethodDef metrics_methods[] = {
#ifdef CLOCK_MONOTONIC
    {"monotonic_seconds", monotonic_seconds, METH_NOARGS,
     "monotonic_seconds() -> float\n\nCLOCK_MONOTONIC in seconds, as time.perf_counter reads it on Linux."},
#endif
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
