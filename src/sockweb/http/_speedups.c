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
 *
 * Speed (instructions per request, counted by bench/bench_request_path.py under callgrind): field values
 * are scanned eight bytes at a time; the names a client sends come from a table of names seen before (see
 * NameSlot), so a name costs a hash and a compare, not a new bytes object; and the Request is built by
 * filling its slots (see Scanner.slots), without a call of its Python __init__, with its field lines
 * packed: one bytes object of the field section, one of the values' offsets, and the name objects, in
 * one tuple (`_fields`; the header list is made from it when `Request.headers` is first read, see
 * sockweb.http.events), instead of a list of a tuple and a value object per field. A request type
 * without those slots is called with the header list.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
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

/* What a field name means to the scanner. */
enum { NAME_OTHER, NAME_HOST, NAME_LENGTH, NAME_CONNECTION, NAME_REFUSED /* Transfer-Encoding, Expect */ };

/* The table of field names: a cache of the lowercased name object of a name as a client spells it.
 *   bound: NAME_SLOTS slots in sets of NAME_WAYS, the set chosen by a hash of the raw name (its length
 *     and its first and last eight bytes); names up to MAX_CACHED_NAME bytes;
 *   invalidation: none needed, an entry is a pure function of its raw bytes and of the scanner's limits
 *     (the scanner is built for one set of Limits); a new name goes first in its set and the set's last
 *     entry leaves (two ways: with one, two names of one client that share a slot, as Cookie and
 *     Accept-Encoding did, evicted each other on every request, and a dozen names in 128 slots share
 *     one about half the time);
 *   why: clients send the same names on every request (a browser's dozen), so the name costs a hash and a
 *     compare instead of a validation, a lowercasing copy and a new bytes object; and the name object
 *     keeps its hash, so the environ's header-key lookup (sockweb.server._environ) hashes nothing.
 * A slot holds only names that passed the token check, so a hit is a valid name. One scanner (and its
 * table) serves every parser with the same Limits in the process (_accel.shared_scanner). */
#define NAME_SLOTS 128
#define NAME_WAYS 2
#define MAX_CACHED_NAME 40

typedef struct {
    Py_ssize_t len; /* 0: an empty slot */
    unsigned char raw[MAX_CACHED_NAME];
    PyObject *lowered;
    int kind;
} NameSlot;

/* The Request's slots: the first eight in the order of its __init__'s parameters (with `_headers` for
 * `headers`), then `_fields`, where the field lines stay packed until `headers` is read (see
 * sockweb.http.events.Request and unpack_fields). */
static const char *const SLOT_NAMES[] = {"method",     "target",          "http_version",   "_headers", "keep_alive",
                                         "expect_continue", "content_length", "chunked", "_fields"};
#define N_SLOTS 9
#define N_ARGS 8 /* the arguments of a call of the type: no `_fields` */
#define HEADERS 3
#define FIELDS 8

typedef struct {
    PyObject_HEAD
    NameSlot *names;
    Py_ssize_t slots[N_SLOTS]; /* offsets of the request type's slots; slots[0] == 0: call the type */
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

/* The offsets of the request type's eight slots, when it is a plain class with exactly those __slots__
 * (as sockweb.http.events.Request is): the scan then builds a request by filling them, which is what
 * Request.__init__ does, without the call. Any other type is called with the eight values instead. */
static int
find_slots(Scanner *self)
{
    PyTypeObject *type = (PyTypeObject *)self->request_type;
    int i;
    self->slots[0] = 0;
    if (!PyType_Check(self->request_type) || type->tp_dictoffset != 0 || type->tp_new != PyBaseObject_Type.tp_new) {
        return 0;
    }
    for (i = 0; i < N_SLOTS; i++) {
        PyObject *descr = PyDict_GetItemString(type->tp_dict, SLOT_NAMES[i]); /* borrowed */
        PyMemberDef *member;
        if (descr == NULL || !Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
            self->slots[0] = 0;
            return 0;
        }
        member = ((PyMemberDescrObject *)descr)->d_member;
        if (member->type != T_OBJECT_EX || (member->flags & READONLY) || member->offset <= 0) {
            self->slots[0] = 0;
            return 0;
        }
        self->slots[i] = member->offset;
    }
    return 0;
}

static void
clear_names(Scanner *self)
{
    int i;
    if (self->names == NULL) {
        return;
    }
    for (i = 0; i < NAME_SLOTS; i++) {
        self->names[i].len = 0;
        Py_CLEAR(self->names[i].lowered);
    }
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
    if (find_slots(self) < 0) {
        return -1;
    }
    if (self->names == NULL && (self->names = PyMem_Calloc(NAME_SLOTS, sizeof(NameSlot))) == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    clear_names(self);
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
    clear_names(self);
    return 0;
}

static void
Scanner_dealloc(Scanner *self)
{
    PyObject_GC_UnTrack(self);
    Scanner_clear(self);
    PyMem_Free(self->names);
    self->names = NULL;
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
    Py_ssize_t value, value_len;
    PyObject *name; /* the lowercased name: a new reference */
    int kind;
} Field;

/* The offset of the first byte in s[pos:stop] that can end a field value: a CTL but HTAB (RFC 9110
 * §5.5), CR among them; stop if none. Eight bytes at a time while no byte of the word is below 0x20 or
 * equal to 0x7F (a word with an HTAB is looked at byte by byte, from there on). */
static Py_ssize_t
find_ctl(const unsigned char *s, Py_ssize_t pos, Py_ssize_t stop)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    while (pos + 8 <= stop) {
        uint64_t word, del;
        memcpy(&word, s + pos, 8);
        del = word ^ (ones * 0x7f);
        /* nonzero when some byte is below 0x20, or some byte of `del` is zero (a 0x7F) */
        if (((word - ones * 0x20) & ~word & highs) | ((del - ones) & ~del & highs)) {
            break;
        }
        pos += 8;
    }
    while (pos < stop && !(byte_class[s[pos]] & CTL)) {
        pos++;
    }
    return pos;
}

static int
name_is(const unsigned char *name, Py_ssize_t len, const char *lowered)
{
    return (size_t)len == strlen(lowered) && memcmp(name, lowered, (size_t)len) == 0;
}

/* The lowercased name object of the field name s[0:n] and its kind, from the table or made now (and
 * kept); NULL without an exception when the name is not a valid token here. */
static PyObject *
field_name(Scanner *self, const unsigned char *s, Py_ssize_t n, int *kind)
{
    uint64_t hash = (uint64_t)n * 0x9E3779B97F4A7C15ULL;
    Py_ssize_t i;
    NameSlot *set, *slot;
    PyObject *lowered;
    unsigned char *dst;
    if (n >= 8) {
        /* the first and the last eight bytes: names that share a prefix (Sec-Fetch-*, Accept-*) differ
         * at their end, and the memcmp below decides anyway */
        uint64_t first, last;
        memcpy(&first, s, 8);
        memcpy(&last, s + n - 8, 8);
        hash ^= first * 0xBF58476D1CE4E5B9ULL;
        hash ^= (last ^ (last >> 29)) * 0x94D049BB133111EBULL;
    }
    else {
        for (i = 0; i < n; i++) {
            hash = (hash ^ s[i]) * 0x100000001B3ULL;
        }
    }
    hash ^= hash >> 32;
    hash ^= hash >> 15;
    set = &self->names[(hash & (NAME_SLOTS / NAME_WAYS - 1)) * NAME_WAYS];
    for (i = 0; i < NAME_WAYS; i++) {
        slot = &set[i];
        if (slot->len == n && memcmp(slot->raw, s, (size_t)n) == 0) {
            *kind = slot->kind;
            Py_INCREF(slot->lowered);
            return slot->lowered;
        }
    }
    /* RFC 9110 §5.1: field-name = token (and "_" only when the limits allow it) */
    for (i = 0; i < n; i++) {
        if (!(byte_class[s[i]] & TCHAR) || (s[i] == '_' && !self->underscore)) {
            return NULL;
        }
    }
    lowered = PyBytes_FromStringAndSize(NULL, n);
    if (lowered == NULL) {
        return NULL;
    }
    dst = (unsigned char *)PyBytes_AS_STRING(lowered);
    for (i = 0; i < n; i++) {
        dst[i] = (s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i];
    }
    if (PyObject_Hash(lowered) == -1) { /* kept in the object: every later lookup of it is free */
        Py_DECREF(lowered);
        return NULL;
    }
    if (name_is(dst, n, "host")) {
        *kind = NAME_HOST;
    }
    else if (name_is(dst, n, "content-length")) {
        *kind = NAME_LENGTH;
    }
    else if (name_is(dst, n, "connection")) {
        *kind = NAME_CONNECTION;
    }
    else if (name_is(dst, n, "transfer-encoding") || name_is(dst, n, "expect")) {
        *kind = NAME_REFUSED;
    }
    else {
        *kind = NAME_OTHER;
    }
    if (n <= MAX_CACHED_NAME) {
        /* the new name goes first in its set; the set's last entry leaves */
        Py_XDECREF(set[NAME_WAYS - 1].lowered);
        memmove(&set[1], &set[0], (NAME_WAYS - 1) * sizeof(NameSlot));
        Py_INCREF(lowered);
        set[0].lowered = lowered;
        memcpy(set[0].raw, s, (size_t)n);
        set[0].len = n;
        set[0].kind = *kind;
    }
    return lowered;
}

/* The scan proper: fills `fields` (each with a new reference to its name, `*count` of them); returns 0,
 * or -1 for "not taken" (with an exception set if one occurred). */
static int
scan_fields(Scanner *self, const unsigned char *s, Py_ssize_t pos, Py_ssize_t stop, Field *fields,
            Py_ssize_t *count)
{
    *count = 0;
    while (pos < stop) {
        Py_ssize_t start = pos, i;
        const unsigned char *colon;
        Field *f;
        if (*count == MAX_FIELDS || *count == self->max_header_count) {
            return -1;
        }
        f = &fields[*count];
        /* RFC 9110 §5.1: field-name = token; the name ends at the colon (a colon found past this line's
         * end gives a name with a CR in it, which no table entry holds and the token check refuses) */
        colon = memchr(s + pos, ':', (size_t)(stop - pos));
        if (colon == NULL || colon == s + pos) {
            return -1;
        }
        f->name = field_name(self, s + pos, colon - (s + pos), &f->kind);
        if (f->name == NULL) {
            return -1;
        }
        (*count)++;
        pos = colon - s + 1;
        /* RFC 9112 §5.1: OWS before the value is not part of it */
        while (pos < stop && (s[pos] == ' ' || s[pos] == '\t')) {
            pos++;
        }
        f->value = pos;
        /* RFC 9110 §5.5: no CTL but HTAB in a value; the line ends at its CRLF (RFC 9112 §2.2) */
        i = find_ctl(s, pos, stop);
        if (i + 1 >= stop || s[i] != '\r' || s[i + 1] != '\n') {
            return -1;
        }
        /* OWS after the value: left to parse_head, which strips it */
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
    return 0;
}

/* A new request with the values (references stolen from `values`, all set to NULL on return): the nine
 * slots filled, or the type called with the first eight. */
static PyObject *
new_request(Scanner *self, PyObject **values)
{
    PyObject *request;
    int i;
    if (self->slots[0] == 0) {
        request = PyObject_Vectorcall(self->request_type, values, N_ARGS, NULL);
        for (i = 0; i < N_SLOTS; i++) {
            Py_CLEAR(values[i]);
        }
        return request;
    }
    request = ((PyTypeObject *)self->request_type)->tp_alloc((PyTypeObject *)self->request_type, 0);
    for (i = 0; i < N_SLOTS; i++) {
        if (request != NULL) {
            *(PyObject **)((char *)request + self->slots[i]) = values[i];
        }
        else {
            Py_DECREF(values[i]);
        }
        values[i] = NULL;
    }
    return request;
}

/* The bytes of `obj` in `view`: bytes and bytearray (a piece the parser kept as it came, or its buffer) are
 * read in place with no export (view->obj stays NULL); any other buffer is exported, so it cannot be
 * resized, until the caller's PyBuffer_Release (when view->obj is set). */
static int
read_bytes(PyObject *obj, Py_buffer *view)
{
    if (PyBytes_CheckExact(obj)) {
        view->buf = PyBytes_AS_STRING(obj);
        view->len = PyBytes_GET_SIZE(obj);
        view->obj = NULL;
        return 0;
    }
    if (PyByteArray_CheckExact(obj)) {
        view->buf = PyByteArray_AS_STRING(obj);
        view->len = PyByteArray_GET_SIZE(obj);
        view->obj = NULL;
        return 0;
    }
    return PyObject_GetBuffer(obj, view, PyBUF_SIMPLE);
}

static PyObject *
Scanner_scan(Scanner *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    const unsigned char *s;
    Py_ssize_t end, stop, pos, i, j, count = 0;
    Py_ssize_t target_start, target_end;
    int method, minor, keep_alive;
    Py_ssize_t host = -1, length_field = -1, connection = -1;
    long long length = -1;
    Field fields[MAX_FIELDS];
    PyObject *headers = NULL, *result = NULL;
    PyObject *values[N_SLOTS] = {NULL};

    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "scan(buf, end) takes 2 arguments");
        return NULL;
    }
    end = PyLong_AsSsize_t(args[1]);
    if (end == -1 && PyErr_Occurred()) {
        return NULL;
    }
    /* A bytearray (the parser's own buffer) is read in place: nothing below runs code that could resize it
     * before the last read of `s` (the values are copied out before a Request type without slots is
     * called). */
    if (read_bytes(args[0], &view) < 0) {
        return NULL;
    }
    s = (const unsigned char *)view.buf;
    if (end < 0 || end + 4 > view.len) {
        if (view.obj != NULL) { /* exported by PyObject_GetBuffer */
            PyBuffer_Release(&view);
        }
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
    if (scan_fields(self, s, pos + 11, stop, fields, &count) < 0) {
        goto not_taken_objects;
    }
    keep_alive = minor == 1;
    for (i = 0; i < count; i++) {
        PyObject *name = fields[i].name;
        Py_ssize_t n = PyBytes_GET_SIZE(name);
        for (j = 0; j < i; j++) {
            PyObject *other = fields[j].name;
            if (other == name ||
                (PyBytes_GET_SIZE(other) == n && memcmp(PyBytes_AS_STRING(other), PyBytes_AS_STRING(name), (size_t)n) == 0)) {
                goto not_taken_objects; /* a repeated name: the reference merges or refuses it */
            }
        }
        switch (fields[i].kind) {
        case NAME_HOST:
            host = i;
            break;
        case NAME_LENGTH:
            length_field = i;
            break;
        case NAME_CONNECTION:
            connection = i;
            break;
        case NAME_REFUSED:
            goto not_taken_objects;
        default:
            break;
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
    if (self->slots[0] != 0) {
        /* The field lines packed: (the field section, the values' offsets in it, the names...); the
         * header list is made from them only if someone reads Request.headers. */
        Py_ssize_t base = pos + 11;
        uint32_t *spans;
        PyObject *packed = PyTuple_New(2 + count);
        if (packed == NULL) {
            goto error;
        }
        values[FIELDS] = packed;
        if ((headers = PyBytes_FromStringAndSize((const char *)s + base, stop - base)) == NULL) {
            goto error;
        }
        PyTuple_SET_ITEM(packed, 0, headers);
        headers = NULL;
        if ((headers = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(2 * count * sizeof(uint32_t)))) == NULL) {
            goto error;
        }
        spans = (uint32_t *)PyBytes_AS_STRING(headers);
        PyTuple_SET_ITEM(packed, 1, headers);
        headers = NULL;
        for (i = 0; i < count; i++) {
            spans[2 * i] = (uint32_t)(fields[i].value - base);
            spans[2 * i + 1] = (uint32_t)(fields[i].value + fields[i].value_len - base);
            PyTuple_SET_ITEM(packed, 2 + i, fields[i].name);
            fields[i].name = NULL; /* the tuple owns it now */
        }
        headers = Py_NewRef(Py_None);
        goto built;
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
        PyTuple_SET_ITEM(pair, 0, fields[i].name);
        PyTuple_SET_ITEM(pair, 1, value);
        fields[i].name = NULL; /* the tuple owns it now */
        PyList_SET_ITEM(headers, i, pair);
    }
built:
    values[1] = PyBytes_FromStringAndSize((const char *)s + target_start, target_end - target_start);
    if (values[1] == NULL) {
        goto error;
    }
    if (length >= 0 && (values[6] = PyLong_FromLongLong(length)) == NULL) {
        goto error;
    }
    values[0] = Py_NewRef(self->methods[method]);
    values[2] = Py_NewRef(minor ? self->v11 : self->v10);
    values[HEADERS] = headers;
    headers = NULL;
    values[4] = Py_NewRef(keep_alive ? Py_True : Py_False);
    values[5] = Py_NewRef(Py_False);
    if (values[6] == NULL) {
        values[6] = Py_NewRef(Py_None);
    }
    values[7] = Py_NewRef(Py_False);
    result = new_request(self, values);
error:
    for (i = 0; i < count; i++) {
        Py_XDECREF(fields[i].name);
    }
    for (i = 0; i < N_SLOTS; i++) {
        Py_XDECREF(values[i]);
    }
    Py_XDECREF(headers);
    if (view.obj != NULL) { /* exported by PyObject_GetBuffer */
        PyBuffer_Release(&view);
    }
    return result;

not_taken_objects:
    for (i = 0; i < count; i++) {
        Py_DECREF(fields[i].name);
    }
not_taken:
    if (view.obj != NULL) { /* exported by PyObject_GetBuffer */
        PyBuffer_Release(&view);
    }
    if (PyErr_Occurred()) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* find_head_end(buf, start) -> int: buf.find(b"\r\n\r\n", start), without find's argument parsing and
 * by the CRs alone (in a valid head a CR only ends a line, so there are a dozen of them to look at). */
static PyObject *
find_head_end(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    const unsigned char *s, *p, *stop, *cr;
    Py_ssize_t start, found = -1;
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "find_head_end(buf, start) takes 2 arguments");
        return NULL;
    }
    start = PyLong_AsSsize_t(args[1]);
    if (start == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (read_bytes(args[0], &view) < 0) {
        return NULL;
    }
    if (start < 0) { /* as find: counted from the end */
        start += view.len;
        if (start < 0) {
            start = 0;
        }
    }
    s = (const unsigned char *)view.buf;
    p = s + start;
    stop = s + view.len; /* a match starts at most 4 bytes before it */
    while (view.len - (p - s) >= 4) {
        cr = memchr(p, '\r', (size_t)(stop - 3 - p));
        if (cr == NULL) {
            break;
        }
        if (cr[1] == '\n' && cr[2] == '\r' && cr[3] == '\n') {
            found = cr - s;
            break;
        }
        p = cr + 1;
    }
    if (view.obj != NULL) {
        PyBuffer_Release(&view);
    }
    return PyLong_FromSsize_t(found);
}

static PyMethodDef module_methods[] = {
    {"find_head_end", (PyCFunction)(void (*)(void))find_head_end, METH_FASTCALL,
     "find_head_end(buf, start) -> int: buf.find(b'\\r\\n\\r\\n', start), faster on request heads."},
    {NULL, NULL, 0, NULL},
};

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
    .m_methods = module_methods,
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
