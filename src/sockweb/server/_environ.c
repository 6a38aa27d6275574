/* sockweb.server._environ: the header-field loop of `head_environ` (wsgi.py), in C.
 *
 * One responsibility: `fill_header_environ(env, keys, headers, forwarding_keys, max_cached)` does what the
 * pure-Python reference loop in `head_environ` does, field by field:
 *   - the environ key of a name comes from the `keys` cache (bytes -> str); a name not in it gets
 *     "HTTP_" + name decoded latin-1, upper-cased, "-" -> "_";
 *   - a new key that is in `forwarding_keys` is never cached and makes the result True; any other new key
 *     is cached while the cache holds fewer than `max_cached` entries;
 *   - the value is decoded latin-1; a key already in `env` gets the old value + ", " + the new one
 *     (RFC 9110 §5.3), or + "; " for HTTP_COOKIE (RFC 6265 §5.4).
 * It returns whether a forwarding key was seen. Names that are not ASCII take the reference's own str
 * methods (str.upper of latin-1 text can leave latin-1), so the keys are the same by construction.
 *
 * `head_environ(template, keys, req, forwarding_keys, max_cached)` does what the reference
 * `wsgi._head_environ_py` does for a request whose target is not in absolute form (for one in absolute
 * form it returns None, and the reference builds the environ): a copy of the template, REQUEST_METHOD,
 * RAW_URI, PATH_INFO (percent-decoded as urllib.parse.unquote_to_bytes does, then latin-1), QUERY_STRING,
 * SERVER_PROTOCOL, the header fields as above, wsgi.input_terminated or CONTENT_LENGTH; it returns
 * (environ, forwarded). One C call from the parsed head to its environ, instead of a Python function
 * around the header loop. `EnvironBuilder` binds its last two arguments and the reference for the
 * absolute form, so that the server calls it as head_environ(template, keys, req) with no Python frame.
 * tests/server/test_environ_speedups.py holds the two paths equal.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

static PyObject *COOKIE_KEY;  /* "HTTP_COOKIE" */
/* The keys and attribute names head_environ uses, interned once. */
static PyObject *S_TARGET, *S_METHOD, *S_VERSION, *S_HEADERS, *S_FIELDS, *S_CHUNKED, *S_LENGTH, *S_V11, *S_HTTP10;
static PyObject *K_METHOD, *K_RAW_URI, *K_PATH, *K_QUERY, *K_PROTOCOL, *K_TERMINATED, *K_LENGTH;
static PyObject *COMMA_SEP;   /* ", " */
static PyObject *COOKIE_SEP;  /* "; " */

/* The environ key of a header name that is not cached: a new reference, or NULL with an exception. */
static PyObject *
make_key(PyObject *name)
{
    if (!PyBytes_Check(name)) {
        PyErr_SetString(PyExc_TypeError, "header names must be bytes");
        return NULL;
    }
    const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(name);
    Py_ssize_t n = PyBytes_GET_SIZE(name);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (s[i] >= 128) {
            /* The reference's way, word for word: "HTTP_" + name.decode("latin-1").upper().replace("-", "_") */
            PyObject *text = PyUnicode_DecodeLatin1((const char *)s, n, NULL);
            if (text == NULL) return NULL;
            PyObject *upper = PyObject_CallMethod(text, "upper", NULL);
            Py_DECREF(text);
            if (upper == NULL) return NULL;
            PyObject *replaced = PyObject_CallMethod(upper, "replace", "ss", "-", "_");
            Py_DECREF(upper);
            if (replaced == NULL) return NULL;
            PyObject *prefix = PyUnicode_FromString("HTTP_");
            if (prefix == NULL) {
                Py_DECREF(replaced);
                return NULL;
            }
            PyObject *key = PyUnicode_Concat(prefix, replaced);
            Py_DECREF(prefix);
            Py_DECREF(replaced);
            return key;
        }
    }
    PyObject *key = PyUnicode_New(5 + n, 127);
    if (key == NULL) return NULL;
    Py_UCS1 *out = PyUnicode_1BYTE_DATA(key);
    memcpy(out, "HTTP_", 5);
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 'a' && c <= 'z') c -= 'a' - 'A';
        else if (c == '-') c = '_';
        out[5 + i] = c;
    }
    return key;
}

/* env[key] + sep + value, as the reference computes it (left to right). */
static PyObject *
combine(PyObject *old, PyObject *key, PyObject *value)
{
    int cookie = PyObject_RichCompareBool(key, COOKIE_KEY, Py_EQ);
    if (cookie < 0) return NULL;
    PyObject *sep = cookie ? COOKIE_SEP : COMMA_SEP;
    PyObject *head = PyNumber_Add(old, sep);
    if (head == NULL) return NULL;
    PyObject *joined = PyNumber_Add(head, value);
    Py_DECREF(head);
    return joined;
}

/* One field, its value the `n` bytes at `raw`: 0 on success, -1 with an exception. Sets *forwarded when
 * its key is a forwarding one. */
static int
fill_one(PyObject *env, PyObject *keys, PyObject *name, const char *raw, Py_ssize_t n, PyObject *forwarding,
         Py_ssize_t max_cached, int *forwarded)
{
    PyObject *key = PyDict_GetItemWithError(keys, name);  /* borrowed */
    if (key != NULL) {
        Py_INCREF(key);
    }
    else {
        if (PyErr_Occurred()) return -1;
        key = make_key(name);
        if (key == NULL) return -1;
        int is_forwarding = PySet_Contains(forwarding, key);
        if (is_forwarding < 0) goto fail;
        if (is_forwarding) {
            *forwarded = 1;
        }
        else if (PyDict_GET_SIZE(keys) < max_cached) {
            if (PyDict_SetItem(keys, name, key) < 0) goto fail;
        }
    }
    PyObject *value = PyUnicode_DecodeLatin1(raw, n, NULL);
    if (value == NULL) goto fail;
    /* One lookup for the common case, a key not there yet: setdefault inserts the value. The size says
     * whether it did (an equal one-character value may be the very object already there). */
    Py_ssize_t size = PyDict_GET_SIZE(env);
    PyObject *old = PyDict_SetDefault(env, key, value);  /* borrowed */
    if (old == NULL) {
        Py_DECREF(value);
        goto fail;
    }
    int rc = 0;
    if (PyDict_GET_SIZE(env) == size) {
        Py_INCREF(old);
        PyObject *joined = combine(old, key, value);
        Py_DECREF(old);
        Py_DECREF(value);
        if (joined == NULL) goto fail;
        value = joined;
        rc = PyDict_SetItem(env, key, value);
    }
    Py_DECREF(value);
    Py_DECREF(key);
    return rc;
fail:
    Py_DECREF(key);
    return -1;
}

/* One (name, value) pair of a header list. */
static int
fill_pair(PyObject *env, PyObject *keys, PyObject *field, PyObject *forwarding, Py_ssize_t max_cached,
          int *forwarded)
{
    if (!PyTuple_Check(field) || PyTuple_GET_SIZE(field) != 2) {
        PyErr_SetString(PyExc_TypeError, "headers must be (name, value) tuples");
        return -1;
    }
    PyObject *raw = PyTuple_GET_ITEM(field, 1);
    if (!PyBytes_Check(raw)) {
        PyErr_SetString(PyExc_TypeError, "header values must be bytes");
        return -1;
    }
    return fill_one(env, keys, PyTuple_GET_ITEM(field, 0), PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw),
                    forwarding, max_cached, forwarded);
}

/* The field lines a Request holds packed (sockweb.http.events.unpack_fields): (section, offsets, names...),
 * each value read straight from the section, as unpack_fields would cut it. */
static int
fill_packed(PyObject *env, PyObject *keys, PyObject *packed, PyObject *forwarding, Py_ssize_t max_cached,
            int *forwarded)
{
    Py_ssize_t count = PyTuple_Check(packed) ? PyTuple_GET_SIZE(packed) - 2 : -1;
    if (count < 0 || !PyBytes_Check(PyTuple_GET_ITEM(packed, 0)) || !PyBytes_Check(PyTuple_GET_ITEM(packed, 1)) ||
        PyBytes_GET_SIZE(PyTuple_GET_ITEM(packed, 1)) != (Py_ssize_t)(2 * count * sizeof(uint32_t))) {
        PyErr_SetString(PyExc_TypeError, "packed fields must be (bytes, offsets, names...)");
        return -1;
    }
    /* Both held by the tuple, which the request holds, which the caller holds: no reference needed. */
    PyObject *section = PyTuple_GET_ITEM(packed, 0);
    const char *raw = PyBytes_AS_STRING(section);
    Py_ssize_t size = PyBytes_GET_SIZE(section);
    uint32_t spans[2];
    for (Py_ssize_t i = 0; i < count; i++) {
        memcpy(spans, PyBytes_AS_STRING(PyTuple_GET_ITEM(packed, 1)) + 2 * i * sizeof(uint32_t), sizeof(spans));
        if (spans[0] > spans[1] || (Py_ssize_t)spans[1] > size) {
            PyErr_SetString(PyExc_ValueError, "packed field offsets out of range");
            return -1;
        }
        if (fill_one(env, keys, PyTuple_GET_ITEM(packed, 2 + i), raw + spans[0], spans[1] - spans[0], forwarding,
                     max_cached, forwarded) < 0) {
            return -1;
        }
    }
    return 0;
}

/* fill_pair over every field of the list `headers`; 0, or -1 with an exception. */
static int
fill_fields(PyObject *env, PyObject *keys, PyObject *headers, PyObject *forwarding, Py_ssize_t max_cached,
            int *forwarded)
{
    /* The list may change size under us only through the dict operations' __eq__/__hash__ of foreign
     * objects; index on every turn, never a stale pointer. */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(headers); i++) {
        PyObject *field = PyList_GET_ITEM(headers, i);
        Py_INCREF(field);
        int rc = fill_pair(env, keys, field, forwarding, max_cached, forwarded);
        Py_DECREF(field);
        if (rc < 0) return -1;
    }
    return 0;
}

static PyObject *
fill_header_environ(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "fill_header_environ takes 5 arguments");
        return NULL;
    }
    PyObject *env = args[0], *keys = args[1], *headers = args[2], *forwarding = args[3];
    if (!PyDict_Check(env) || !PyDict_Check(keys)) {
        PyErr_SetString(PyExc_TypeError, "env and keys must be dicts");
        return NULL;
    }
    if (!PyList_Check(headers)) {
        PyErr_SetString(PyExc_TypeError, "headers must be a list");
        return NULL;
    }
    if (!PyAnySet_Check(forwarding)) {
        PyErr_SetString(PyExc_TypeError, "forwarding_keys must be a set or frozenset");
        return NULL;
    }
    Py_ssize_t max_cached = PyLong_AsSsize_t(args[4]);
    if (max_cached == -1 && PyErr_Occurred()) return NULL;
    int forwarded = 0;
    if (fill_fields(env, keys, headers, forwarding, max_cached, &forwarded) < 0) return NULL;
    return PyBool_FromLong(forwarded);
}

static int
hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* PATH_INFO of the path s[0:n] that holds a "%": each "%" and two hex digits is that byte (a "%" without
 * them stays as it is), as urllib.parse.unquote_to_bytes; then latin-1 text. */
static PyObject *
unquoted_path(const unsigned char *s, Py_ssize_t n)
{
    unsigned char *buf = PyMem_Malloc(n > 0 ? (size_t)n : 1);
    Py_ssize_t i, j = 0;
    if (buf == NULL) return PyErr_NoMemory();
    for (i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hex_value(s[i + 1])) >= 0 && (lo = hex_value(s[i + 2])) >= 0) {
            buf[j++] = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        else {
            buf[j++] = s[i];
        }
    }
    PyObject *text = PyUnicode_DecodeLatin1((const char *)buf, j, NULL);
    PyMem_Free(buf);
    return text;
}

static int
set_new(PyObject *env, PyObject *key, PyObject *value)
{
    if (value == NULL) return -1;
    int rc = PyDict_SetItem(env, key, value);
    Py_DECREF(value);
    return rc;
}

/* The request attributes build() reads, in the order of SlotCache.offsets. */
enum { A_TARGET, A_METHOD, A_VERSION, A_HEADERS, A_FIELDS, A_CHUNKED, A_LENGTH, N_ATTRS };
static PyObject **ATTR_NAMES[N_ATTRS] = {&S_TARGET, &S_METHOD, &S_VERSION, &S_HEADERS, &S_FIELDS, &S_CHUNKED,
                                         &S_LENGTH};

/* A cache of where one request type keeps the attributes build() reads (an EnvironBuilder's):
 *   bound: one type, the last one that had all of them as plain slots (sockweb.http.Request);
 *   invalidation: the type's version tag, which CPython changes whenever the type or a base is modified
 *     (an attribute assigned on the class); a type whose attributes are not all plain slots (a property in
 *     a subclass) is never cached and read with getattr;
 *   why: a getattr by name costs a type lookup and a descriptor call, seven times per request. */
typedef struct {
    PyTypeObject *type; /* a strong reference, or NULL */
    unsigned int version;
    Py_ssize_t offsets[N_ATTRS];
} SlotCache;

/* Learn where Py_TYPE(req) keeps the attributes; leaves the cache empty if it does not hold them all. */
static void
learn_slots(SlotCache *cache, PyObject *req)
{
    PyTypeObject *type = Py_TYPE(req);
    Py_CLEAR(cache->type);
    for (int i = 0; i < N_ATTRS; i++) {
        PyObject *descr = _PyType_Lookup(type, *ATTR_NAMES[i]); /* borrowed */
        if (descr == NULL || !Py_IS_TYPE(descr, &PyMemberDescr_Type)) return;
        PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
        if (member->type != T_OBJECT_EX || member->offset <= 0) return;
        cache->offsets[i] = member->offset;
    }
    if (!PyType_HasFeature(type, Py_TPFLAGS_VALID_VERSION_TAG)) return; /* no tag to check it by */
    cache->version = type->tp_version_tag;
    cache->type = (PyTypeObject *)Py_NewRef(type);
}

/* req.<attribute `which`>: a new reference, or NULL with an exception (read from the slot when the cache
 * holds req's type, else by getattr; an unset slot takes getattr too, for its AttributeError). */
static PyObject *
get_attr(PyObject *req, int which, SlotCache *cache)
{
    if (cache != NULL) {
        PyTypeObject *type = Py_TYPE(req);
        if (cache->type != type || cache->version != type->tp_version_tag ||
            !PyType_HasFeature(type, Py_TPFLAGS_VALID_VERSION_TAG)) {
            learn_slots(cache, req);
        }
        if (cache->type != NULL) {
            PyObject *value = *(PyObject **)((char *)req + cache->offsets[which]);
            if (value != NULL) return Py_NewRef(value);
        }
    }
    return PyObject_GetAttr(req, *ATTR_NAMES[which]);
}

/* The environ of `req` as (environ, forwarded), or None (a new reference) for an absolute-form target. */
static PyObject *
build(PyObject *template, PyObject *keys, PyObject *req, PyObject *forwarding, Py_ssize_t max_cached,
      SlotCache *cache)
{
    if (!PyDict_Check(template) || !PyDict_Check(keys)) {
        PyErr_SetString(PyExc_TypeError, "template and keys must be dicts");
        return NULL;
    }
    PyObject *target = get_attr(req, A_TARGET, cache);
    if (target == NULL) return NULL;
    if (!PyBytes_Check(target) || PyBytes_GET_SIZE(target) == 0) {
        Py_DECREF(target);
        PyErr_SetString(PyExc_TypeError, "the request target must be non-empty bytes");
        return NULL;
    }
    const unsigned char *t = (const unsigned char *)PyBytes_AS_STRING(target);
    Py_ssize_t n = PyBytes_GET_SIZE(target);
    PyObject *env = NULL, *headers = NULL, *result = NULL, *raw_uri;
    Py_ssize_t i;
    if (t[0] != '/') {
        for (i = 0; i + 2 < n; i++) {
            if (t[i] == ':' && t[i + 1] == '/' && t[i + 2] == '/') {
                Py_DECREF(target);
                Py_RETURN_NONE; /* absolute form: the reference's case */
            }
        }
    }
    env = PyDict_Copy(template);
    if (env == NULL) goto done;
    if (set_new(env, K_METHOD, get_attr(req, A_METHOD, cache)) < 0) goto done;
    raw_uri = PyUnicode_DecodeLatin1((const char *)t, n, NULL);
    if (raw_uri == NULL) goto done;
    if (PyDict_SetItem(env, K_RAW_URI, raw_uri) < 0) {
        Py_DECREF(raw_uri);
        goto done;
    }
    const unsigned char *question = memchr(t, '?', (size_t)n);
    Py_ssize_t path_len = question == NULL ? n : question - t;
    if (question != NULL &&
        set_new(env, K_QUERY, PyUnicode_DecodeLatin1((const char *)question + 1, n - path_len - 1, NULL)) < 0) {
        Py_DECREF(raw_uri);
        goto done;
    }
    PyObject *path;
    if (memchr(t, '%', (size_t)path_len) != NULL) {
        path = unquoted_path(t, path_len);
    }
    else if (question == NULL) {
        path = Py_NewRef(raw_uri);
    }
    else {
        path = PyUnicode_DecodeLatin1((const char *)t, path_len, NULL);
    }
    Py_DECREF(raw_uri);
    if (set_new(env, K_PATH, path) < 0) goto done;
    PyObject *version = get_attr(req, A_VERSION, cache);
    if (version == NULL) goto done;
    int is_11 = PyObject_RichCompareBool(version, S_V11, Py_EQ);
    Py_DECREF(version);
    if (is_11 < 0) goto done;
    if (!is_11 && PyDict_SetItem(env, K_PROTOCOL, S_HTTP10) < 0) goto done; /* the template holds 1.1 */
    /* The header list if the request holds one, else its packed field lines (a Request from the C
     * scanner): read as they are, never unpacked into a list. */
    headers = get_attr(req, A_HEADERS, cache);
    if (headers == NULL) goto done;
    int forwarded = 0;
    if (headers == Py_None) {
        Py_SETREF(headers, get_attr(req, A_FIELDS, cache));
        if (headers == NULL) goto done;
        if (fill_packed(env, keys, headers, forwarding, max_cached, &forwarded) < 0) goto done;
    }
    else if (!PyList_Check(headers)) {
        PyErr_SetString(PyExc_TypeError, "headers must be a list");
        goto done;
    }
    else if (fill_fields(env, keys, headers, forwarding, max_cached, &forwarded) < 0) goto done;
    PyObject *chunked = get_attr(req, A_CHUNKED, cache);
    if (chunked == NULL) goto done;
    int is_chunked = PyObject_IsTrue(chunked);
    Py_DECREF(chunked);
    if (is_chunked < 0) goto done;
    if (is_chunked) {
        if (PyDict_SetItem(env, K_TERMINATED, Py_True) < 0) goto done;
    }
    else {
        int has_length = PyDict_Contains(env, K_LENGTH);
        if (has_length < 0) goto done;
        if (has_length) {
            /* RFC 9110 §8.6: repeated equal lengths were accepted as one; the application sees that one. */
            PyObject *length = get_attr(req, A_LENGTH, cache);
            if (length == NULL) goto done;
            int rc = set_new(env, K_LENGTH, PyObject_Str(length));
            Py_DECREF(length);
            if (rc < 0) goto done;
        }
    }
    result = PyTuple_Pack(2, env, forwarded ? Py_True : Py_False);
done:
    Py_DECREF(target);
    Py_XDECREF(env);
    Py_XDECREF(headers);
    return result;
}

static PyObject *
head_environ(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "head_environ takes 5 arguments");
        return NULL;
    }
    if (!PyAnySet_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "forwarding_keys must be a set or frozenset");
        return NULL;
    }
    Py_ssize_t max_cached = PyLong_AsSsize_t(args[4]);
    if (max_cached == -1 && PyErr_Occurred()) return NULL;
    return build(args[0], args[1], args[2], args[3], max_cached, NULL);
}

/* EnvironBuilder(forwarding_keys, max_cached, fallback): head_environ with its two fixed arguments bound,
 * called as builder(template, keys, req) straight from the server's hot path (a vectorcall: no Python
 * frame in between); `fallback(template, keys, req)` builds the environ of an absolute-form target. */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *forwarding;
    Py_ssize_t max_cached;
    PyObject *fallback;
    SlotCache slots;
} Builder;

static PyObject *
Builder_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Builder *self = (Builder *)callable;
    if (PyVectorcall_NARGS(nargsf) != 3 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0)) {
        PyErr_SetString(PyExc_TypeError, "EnvironBuilder takes 3 positional arguments (template, keys, req)");
        return NULL;
    }
    PyObject *result = build(args[0], args[1], args[2], self->forwarding, self->max_cached, &self->slots);
    if (result == Py_None) {
        Py_DECREF(result);
        return PyObject_Vectorcall(self->fallback, args, 3, NULL);
    }
    return result;
}

static PyObject *
Builder_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"forwarding_keys", "max_cached", "fallback", NULL};
    PyObject *forwarding, *fallback;
    Py_ssize_t max_cached;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OnO:EnvironBuilder", kwlist, &forwarding, &max_cached,
                                     &fallback)) {
        return NULL;
    }
    if (!PyAnySet_Check(forwarding)) {
        PyErr_SetString(PyExc_TypeError, "forwarding_keys must be a set or frozenset");
        return NULL;
    }
    if (!PyCallable_Check(fallback)) {
        PyErr_SetString(PyExc_TypeError, "fallback must be callable");
        return NULL;
    }
    Builder *self = (Builder *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->vectorcall = Builder_vectorcall;
    self->forwarding = Py_NewRef(forwarding);
    self->max_cached = max_cached;
    self->fallback = Py_NewRef(fallback);
    return (PyObject *)self;
}

static int
Builder_traverse(Builder *self, visitproc visit, void *arg)
{
    Py_VISIT(self->forwarding);
    Py_VISIT(self->fallback);
    Py_VISIT(self->slots.type);
    return 0;
}

static int
Builder_clear(Builder *self)
{
    Py_CLEAR(self->forwarding);
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->slots.type);
    return 0;
}

static void
Builder_dealloc(Builder *self)
{
    PyObject_GC_UnTrack(self);
    Builder_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject BuilderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sockweb.server._environ.EnvironBuilder",
    .tp_basicsize = sizeof(Builder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "EnvironBuilder(forwarding_keys, max_cached, fallback)(template, keys, req) -> (environ, "
              "forwarded): head_environ with two arguments bound; fallback for an absolute-form target.",
    .tp_new = Builder_new,
    .tp_vectorcall_offset = offsetof(Builder, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_dealloc = (destructor)Builder_dealloc,
    .tp_traverse = (traverseproc)Builder_traverse,
    .tp_clear = (inquiry)Builder_clear,
};

static PyMethodDef environ_methods[] = {
    {"head_environ", (PyCFunction)(void (*)(void))head_environ, METH_FASTCALL,
     "head_environ(template, keys, req, forwarding_keys, max_cached) -> (environ, forwarded) | None\n\n"
     "The environ of a request as wsgi._head_environ_py builds it; None for an absolute-form target."},
    {"fill_header_environ", (PyCFunction)(void (*)(void))fill_header_environ, METH_FASTCALL,
     "fill_header_environ(env, keys, headers, forwarding_keys, max_cached) -> bool\n\n"
     "Add the header fields to the WSGI environ as head_environ's loop does; True when a forwarding key "
     "was seen."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef environ_module = {
    PyModuleDef_HEAD_INIT,
    "sockweb.server._environ",
    "The header-field loop of the WSGI environ, in C (see wsgi.head_environ for the reference).",
    -1,
    environ_methods,
};

PyMODINIT_FUNC
PyInit__environ(void)
{
    COOKIE_KEY = PyUnicode_InternFromString("HTTP_COOKIE");
    COMMA_SEP = PyUnicode_InternFromString(", ");
    COOKIE_SEP = PyUnicode_InternFromString("; ");
    if (COOKIE_KEY == NULL || COMMA_SEP == NULL || COOKIE_SEP == NULL) return NULL;
    struct { PyObject **slot; const char *text; } names[] = {
        {&S_TARGET, "target"}, {&S_METHOD, "method"}, {&S_VERSION, "http_version"},
        {&S_HEADERS, "_headers"}, {&S_FIELDS, "_fields"}, {&S_CHUNKED, "chunked"}, {&S_LENGTH, "content_length"},
        {&S_V11, "1.1"}, {&S_HTTP10, "HTTP/1.0"}, {&K_METHOD, "REQUEST_METHOD"}, {&K_RAW_URI, "RAW_URI"},
        {&K_PATH, "PATH_INFO"}, {&K_QUERY, "QUERY_STRING"}, {&K_PROTOCOL, "SERVER_PROTOCOL"},
        {&K_TERMINATED, "wsgi.input_terminated"}, {&K_LENGTH, "CONTENT_LENGTH"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        *names[i].slot = PyUnicode_InternFromString(names[i].text);
        if (*names[i].slot == NULL) return NULL;
    }
    if (PyType_Ready(&BuilderType) < 0) return NULL;
    PyObject *module = PyModule_Create(&environ_module);
    if (module == NULL) return NULL;
    Py_INCREF(&BuilderType);
    if (PyModule_AddObject(module, "EnvironBuilder", (PyObject *)&BuilderType) < 0) {
        Py_DECREF(&BuilderType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
