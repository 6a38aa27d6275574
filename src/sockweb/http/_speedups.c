/* sockweb.http._speedups: the common-head scanner of RequestParser, in C.
 *
 * One responsibility: `HeadScanner(limits, Request).scan(buf, end)` does what the pure-Python reference
 * `RequestParser._common_head` (parser.py) does for a complete head buf[:end + 4], in one pass over the
 * bytes instead of regex matches, translates and dict building. It returns the same Request, or None for
 * every head it does not take, valid or not; None sends the head to `_head.parse_head`, which gives the
 * verdict and the diagnosis (status and message). So this file never raises a ProtocolError and never
 * decides an error: it only has to accept a subset of what the reference accepts, and build the very same
 * Request for it. tests/http/test_http_speedups.py holds the two paths equal, event for event.
 *
 * Taken here (everything else is None):
 *   - RFC 9112 §3, §3.2.1: request-line = one of the usual methods (not CONNECT) SP origin-form target
 *     (a "/" then visible ASCII but "#") SP "HTTP/1.1" or "HTTP/1.0" CRLF;
 *   - RFC 9112 §5 / RFC 9110 §5.5: field lines `token ":" OWS field-value CRLF` with no OWS after the
 *     value and no CTL but HTAB inside it (the name without "_" unless the limits allow it);
 *   - within the limits: the head within the request-line limit and the head limit (`common_end`), at most
 *     `max_header_count` fields and at most 32 (more goes to the reference, so that the repeated-name
 *     check below stays a small constant), each line within `max_field_size`;
 *   - no repeated field name, no Transfer-Encoding or Expect, a valid Host (required in 1.1),
 *     Content-Length as 1 to 18 digits within `max_body_size`, Connection exactly "close" or "keep-alive"
 *     (any case).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#define MAX_FIELDS 32

/* Byte classes, one bit each. */
enum {
    TCHAR = 1,        /* RFC 9110 §5.6.2 tchar */
    TARGET = 2,       /* request-target byte: %x21-7E but "#" (RFC 9112 §3.2) */
    CTL = 4,          /* never allowed in a field value: %x00-1F but HTAB, and %x7F (RFC 9110 §5.5) */
    REG_NAME = 8,     /* RFC 3986 §3.2.2 reg-name byte, as _abnf._HOST spells it */
    IP_LITERAL = 16,  /* inside [...]: 0-9 A-Z a-z : . (as _abnf._HOST spells it) */
    DIGIT = 32,
};

static unsigned char byte_class[256];

static void
init_classes(void)
{
    int c;
    const char *p;
    for (c = 0x21; c <= 0x7e; c++) {
        if (c != '#') {
            byte_class[c] |= TARGET;
        }
    }
    for (c = 0; c < 0x20; c++) {
        if (c != '\t') {
            byte_class[c] |= CTL;
        }
    }
    byte_class[0x7f] |= CTL;
    for (c = '0'; c <= '9'; c++) {
        byte_class[c] |= TCHAR | REG_NAME | IP_LITERAL | DIGIT;
    }
    for (c = 'A'; c <= 'Z'; c++) {
        byte_class[c] |= TCHAR | REG_NAME | IP_LITERAL;
        byte_class[c + 32] |= TCHAR | REG_NAME | IP_LITERAL;
    }
    for (p = "!#$%&'*+-.^_`|~"; *p; p++) {
        byte_class[(unsigned char)*p] |= TCHAR;
    }
    for (p = "-._~!$&'()*+,;=%"; *p; p++) {
        byte_class[(unsigned char)*p] |= REG_NAME;
    }
    byte_class[':'] |= IP_LITERAL;
    byte_class['.'] |= IP_LITERAL;
}

static const char *const METHOD_NAMES[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"};
#define N_METHODS 7

typedef struct {
    PyObject_HEAD
    Py_ssize_t common_end;
    Py_ssize_t max_header_count;
    Py_ssize_t max_field_size;
    long long max_body_size; /* -1: no limit */
    int underscore;          /* "_" allowed in field names */
    PyObject *request_type;
    PyObject *methods[N_METHODS];
    PyObject *v10;
    PyObject *v11;
} Scanner;

static int
get_size(PyObject *limits, const char *name, Py_ssize_t *out)
{
    PyObject *value = PyObject_GetAttrString(limits, name);
    if (value == NULL) {
        return -1;
    }
    *out = PyLong_AsSsize_t(value);
    Py_DECREF(value);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

static int
Scanner_init(Scanner *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"limits", "request_type", NULL};
    PyObject *limits, *request_type, *value;
    Py_ssize_t max_request_line, max_head_size;
    int i;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO:HeadScanner", kwlist, &limits, &request_type)) {
        return -1;
    }
    if (get_size(limits, "max_request_line", &max_request_line) < 0 ||
        get_size(limits, "max_head_size", &max_head_size) < 0 ||
        get_size(limits, "max_header_count", &self->max_header_count) < 0 ||
        get_size(limits, "max_field_size", &self->max_field_size) < 0) {
        return -1;
    }
    /* The same bound as RequestParser._common_end: heads within both head limits. */
    self->common_end = max_request_line < max_head_size - 4 ? max_request_line : max_head_size - 4;
    value = PyObject_GetAttrString(limits, "max_body_size");
    if (value == NULL) {
        return -1;
    }
    if (value == Py_None) {
        self->max_body_size = -1;
    }
    else {
        self->max_body_size = PyLong_AsLongLong(value);
        if (self->max_body_size == -1 && PyErr_Occurred()) {
            Py_DECREF(value);
            return -1;
        }
    }
    Py_DECREF(value);
    value = PyObject_GetAttrString(limits, "allow_underscore_in_names");
    if (value == NULL) {
        return -1;
    }
    self->underscore = PyObject_IsTrue(value);
    Py_DECREF(value);
    if (self->underscore < 0) {
        return -1;
    }
    Py_INCREF(request_type);
    Py_XSETREF(self->request_type, request_type);
    for (i = 0; i < N_METHODS; i++) {
        if (self->methods[i] == NULL) {
            self->methods[i] = PyUnicode_InternFromString(METHOD_NAMES[i]);
            if (self->methods[i] == NULL) {
                return -1;
            }
        }
    }
    if (self->v10 == NULL && (self->v10 = PyUnicode_InternFromString("1.0")) == NULL) {
        return -1;
    }
    if (self->v11 == NULL && (self->v11 = PyUnicode_InternFromString("1.1")) == NULL) {
        return -1;
    }
    return 0;
}

static int
Scanner_traverse(Scanner *self, visitproc visit, void *arg)
{
    Py_VISIT(self->request_type);
    return 0;
}

static int
Scanner_clear(Scanner *self)
{
    int i;
    Py_CLEAR(self->request_type);
    for (i = 0; i < N_METHODS; i++) {
        Py_CLEAR(self->methods[i]);
    }
    Py_CLEAR(self->v10);
    Py_CLEAR(self->v11);
    return 0;
}

static void
Scanner_dealloc(Scanner *self)
{
    PyObject_GC_UnTrack(self);
    Scanner_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* The method at the start of the line (followed by SP), as an index into METHOD_NAMES, or -1. */
static int
match_method(const unsigned char *s, Py_ssize_t n)
{
    int i;
    for (i = 0; i < N_METHODS; i++) {
        size_t len = strlen(METHOD_NAMES[i]);
        if ((Py_ssize_t)len < n && memcmp(s, METHOD_NAMES[i], len) == 0 && s[len] == ' ') {
            return i;
        }
    }
    return -1;
}

/* RFC 3986 §3.2.2/§3.2.3 as _abnf.HOST_VALUE: [ IP-literal / reg-name ] [ ":" *DIGIT ], the whole value. */
static int
valid_host(const unsigned char *s, Py_ssize_t n)
{
    Py_ssize_t i = 0;
    if (n > 0 && s[0] == '[') {
        i = 1;
        while (i < n && (byte_class[s[i]] & IP_LITERAL)) {
            i++;
        }
        if (i == 1 || i >= n || s[i] != ']') {
            return 0;
        }
        i++;
    }
    else {
        while (i < n && (byte_class[s[i]] & REG_NAME)) {
            i++;
        }
    }
    if (i < n) {
        if (s[i] != ':') {
            return 0;
        }
        for (i++; i < n; i++) {
            if (!(byte_class[s[i]] & DIGIT)) {
                return 0;
            }
        }
    }
    return 1;
}

static int
name_is(const unsigned char *name, Py_ssize_t len, const char *lowered)
{
    return (size_t)len == strlen(lowered) && memcmp(name, lowered, (size_t)len) == 0;
}

/* `close` -> 0, `keep-alive` -> 1 (ASCII case-insensitive, as bytes.lower() compares), else -1. */
static int
connection_token(const unsigned char *s, Py_ssize_t n)
{
    static const char *const words[] = {"close", "keep-alive"};
    int w;
    Py_ssize_t i;
    for (w = 0; w < 2; w++) {
        if ((size_t)n != strlen(words[w])) {
            continue;
        }
        for (i = 0; i < n; i++) {
            unsigned char c = s[i];
            if (c >= 'A' && c <= 'Z') {
                c += 32;
            }
            if (c != (unsigned char)words[w][i]) {
                break;
            }
        }
        if (i == n) {
            return w;
        }
    }
    return -1;
}

typedef struct {
    Py_ssize_t name, name_len, value, value_len;
} Field;

/* The scan proper: fills `fields`; returns the number of fields, or -1 for "not taken". */
static Py_ssize_t
scan_fields(Scanner *self, const unsigned char *s, Py_ssize_t pos, Py_ssize_t stop, Field *fields)
{
    Py_ssize_t count = 0;
    unsigned char name_class = TCHAR;
    while (pos < stop) {
        Py_ssize_t start = pos, i;
        Field *f;
        if (count == MAX_FIELDS || count == self->max_header_count) {
            return -1;
        }
        f = &fields[count++];
        /* RFC 9110 §5.1: field-name = token (and "_" only when the limits allow it) */
        while (pos < stop && (byte_class[s[pos]] & name_class) && (s[pos] != '_' || self->underscore)) {
            pos++;
        }
        if (pos == start || pos >= stop || s[pos] != ':') {
            return -1;
        }
        f->name = start;
        f->name_len = pos - start;
        pos++;
        /* RFC 9112 §5.1: OWS before the value is not part of it */
        while (pos < stop && (s[pos] == ' ' || s[pos] == '\t')) {
            pos++;
        }
        f->value = pos;
        /* RFC 9110 §5.5: no CTL but HTAB in a value; the line ends at its CRLF (RFC 9112 §2.2) */
        for (i = pos; i < stop && !(byte_class[s[i]] & CTL); i++) {
        }
        if (i + 1 >= stop || s[i] != '\r' || s[i + 1] != '\n') {
            return -1;
        }
        /* OWS after the value: left to the reference, which strips it */
        if (s[i - 1] == ' ' || s[i - 1] == '\t') {
            return -1;
        }
        /* RFC 9110 §5.4: a field line over its limit -> the reference answers 431 */
        if (i - start > self->max_field_size) {
            return -1;
        }
        f->value_len = i - pos;
        pos = i + 2;
    }
    return count;
}

static PyObject *
Scanner_scan(Scanner *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    const unsigned char *s;
    Py_ssize_t end, stop, pos, i, j, count;
    Py_ssize_t target_start, target_end;
    int method, minor, keep_alive;
    Py_ssize_t host = -1, length_field = -1, connection = -1;
    long long length = -1;
    Field fields[MAX_FIELDS];
    PyObject *lowered[MAX_FIELDS];
    PyObject *headers = NULL, *target = NULL, *result = NULL, *length_obj = NULL;

    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "scan(buf, end) takes 2 arguments");
        return NULL;
    }
    end = PyLong_AsSsize_t(args[1]);
    if (end == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    /* The buffer stays exported (and so cannot be resized) until PyBuffer_Release. */
    s = (const unsigned char *)view.buf;
    if (end < 0 || end + 4 > view.len) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "end is not the offset of a CRLF CRLF in buf");
        return NULL;
    }
    stop = end + 2;
    if (end > self->common_end) {
        goto not_taken;
    }
    /* RFC 9112 §3: method SP request-target SP HTTP-version CRLF (the common forms only) */
    method = match_method(s, stop);
    if (method < 0) {
        goto not_taken;
    }
    pos = (Py_ssize_t)strlen(METHOD_NAMES[method]) + 1;
    /* RFC 9112 §3.2.1: origin-form starts with "/" */
    if (pos >= stop || s[pos] != '/') {
        goto not_taken;
    }
    target_start = pos;
    while (pos < stop && (byte_class[s[pos]] & TARGET)) {
        pos++;
    }
    target_end = pos;
    /* RFC 9112 §2.3: HTTP-version is case-sensitive; 1.0 and 1.1 only here */
    if (stop - pos < 11 || memcmp(s + pos, " HTTP/1.", 8) != 0 || (s[pos + 8] != '0' && s[pos + 8] != '1') ||
        s[pos + 9] != '\r' || s[pos + 10] != '\n') {
        goto not_taken;
    }
    minor = s[pos + 8] - '0';
    count = scan_fields(self, s, pos + 11, stop, fields);
    if (count < 0) {
        goto not_taken;
    }
    keep_alive = minor == 1;
    for (i = 0; i < count; i++) {
        lowered[i] = PyBytes_FromStringAndSize(NULL, fields[i].name_len);
        if (lowered[i] == NULL) {
            count = i;
            goto error;
        }
        {
            unsigned char *dst = (unsigned char *)PyBytes_AS_STRING(lowered[i]);
            const unsigned char *src = s + fields[i].name;
            Py_ssize_t k, n = fields[i].name_len;
            for (k = 0; k < n; k++) {
                unsigned char c = src[k];
                dst[k] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
            }
        }
    }
    for (i = 0; i < count; i++) {
        const unsigned char *name = (const unsigned char *)PyBytes_AS_STRING(lowered[i]);
        Py_ssize_t n = fields[i].name_len;
        for (j = 0; j < i; j++) {
            if (fields[j].name_len == n && memcmp(PyBytes_AS_STRING(lowered[j]), name, (size_t)n) == 0) {
                goto not_taken_objects; /* a repeated name: the reference merges or refuses it */
            }
        }
        if (name_is(name, n, "host")) {
            host = i;
        }
        else if (name_is(name, n, "content-length")) {
            length_field = i;
        }
        else if (name_is(name, n, "connection")) {
            connection = i;
        }
        else if (name_is(name, n, "transfer-encoding") || name_is(name, n, "expect")) {
            goto not_taken_objects;
        }
    }
    /* RFC 9112 §3.2: an HTTP/1.1 request without Host, or with an invalid one, is the reference's case */
    if (host < 0 ? minor == 1 : !valid_host(s + fields[host].value, fields[host].value_len)) {
        goto not_taken_objects;
    }
    if (length_field >= 0) {
        /* RFC 9110 §8.6: Content-Length = 1*DIGIT, here at most 18 of them (no overflow) */
        const unsigned char *d = s + fields[length_field].value;
        Py_ssize_t n = fields[length_field].value_len;
        if (n == 0 || n > 18) {
            goto not_taken_objects;
        }
        length = 0;
        for (j = 0; j < n; j++) {
            if (!(byte_class[d[j]] & DIGIT)) {
                goto not_taken_objects;
            }
            length = length * 10 + (d[j] - '0');
        }
        if (self->max_body_size >= 0 && length > self->max_body_size) {
            goto not_taken_objects;
        }
    }
    if (connection >= 0) {
        /* RFC 9112 §9.3 / §C.2.2: 1.1 is persistent unless "close"; 1.0 only with "keep-alive" */
        int token = connection_token(s + fields[connection].value, fields[connection].value_len);
        if (token < 0) {
            goto not_taken_objects;
        }
        keep_alive = token;
    }
    headers = PyList_New(count);
    if (headers == NULL) {
        goto error;
    }
    for (i = 0; i < count; i++) {
        PyObject *value = PyBytes_FromStringAndSize((const char *)s + fields[i].value, fields[i].value_len);
        PyObject *pair;
        if (value == NULL) {
            goto error;
        }
        pair = PyTuple_New(2);
        if (pair == NULL) {
            Py_DECREF(value);
            goto error;
        }
        PyTuple_SET_ITEM(pair, 0, lowered[i]);
        PyTuple_SET_ITEM(pair, 1, value);
        lowered[i] = NULL; /* the tuple owns it now */
        PyList_SET_ITEM(headers, i, pair);
    }
    count = 0;
    target = PyBytes_FromStringAndSize((const char *)s + target_start, target_end - target_start);
    if (target == NULL) {
        goto error;
    }
    if (length >= 0) {
        length_obj = PyLong_FromLongLong(length);
        if (length_obj == NULL) {
            goto error;
        }
    }
    {
        PyObject *call_args[8] = {
            self->methods[method],
            target,
            minor ? self->v11 : self->v10,
            headers,
            keep_alive ? Py_True : Py_False,
            Py_False,
            length_obj == NULL ? Py_None : length_obj,
            Py_False,
        };
        result = PyObject_Vectorcall(self->request_type, call_args, 8, NULL);
    }
error:
    for (i = 0; i < count; i++) {
        Py_XDECREF(lowered[i]);
    }
    Py_XDECREF(headers);
    Py_XDECREF(target);
    Py_XDECREF(length_obj);
    PyBuffer_Release(&view);
    return result;

not_taken_objects:
    for (i = 0; i < count; i++) {
        Py_DECREF(lowered[i]);
    }
not_taken:
    PyBuffer_Release(&view);
    Py_RETURN_NONE;
}

static PyMethodDef Scanner_methods[] = {
    {"scan", (PyCFunction)(void (*)(void))Scanner_scan, METH_FASTCALL,
     "scan(buf, end) -> Request | None: the common head buf[:end + 4] as RequestParser._common_head "
     "parses it, or None to leave it to the reference parser."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "sockweb.http._speedups.HeadScanner",
    .tp_basicsize = sizeof(Scanner),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "HeadScanner(limits, request_type): the common-head scanner for one set of Limits.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Scanner_init,
    .tp_dealloc = (destructor)Scanner_dealloc,
    .tp_traverse = (traverseproc)Scanner_traverse,
    .tp_clear = (inquiry)Scanner_clear,
    .tp_methods = Scanner_methods,
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "sockweb.http._speedups",
    .m_doc = "The common-head scanner of sockweb.http.RequestParser, in C (see parser.py for the reference).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    PyObject *module;
    init_classes();
    if (PyType_Ready(&ScannerType) < 0) {
        return NULL;
    }
    module = PyModule_Create(&speedups_module);
    if (module == NULL) {
        return NULL;
    }
    Py_INCREF(&ScannerType);
    if (PyModule_AddObject(module, "HeadScanner", (PyObject *)&ScannerType) < 0) {
        Py_DECREF(&ScannerType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
