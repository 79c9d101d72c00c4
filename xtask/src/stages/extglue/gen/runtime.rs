//! The fixed C helpers of generated modules. Each piece is emitted only when used (an
//! unused `static` function fails `-Wall -Werror`), in this table's order, with the
//! pieces it depends on.

/// (name, dependencies, C code).
pub const PIECES: &[(&str, &[&str], &str)] = &[
    ("ctx", &[], CTX),
    ("account", &["ctx"], ACCOUNT),
    ("type_error", &["ctx"], TYPE_ERROR),
    ("nargs_error", &[], NARGS_ERROR),
    ("calloc", &["ctx", "account"], CALLOC),
    ("tuple_of", &["ctx", "type_error"], TUPLE_OF),
    ("len_error", &["ctx"], LEN_ERROR),
    ("fields", &["ctx"], FIELDS),
    ("bool", &["ctx"], BOOL),
    ("int", &["ctx", "type_error"], INT),
    ("range_error", &["ctx"], RANGE_ERROR),
    ("f64", &["ctx", "type_error"], F64),
    ("f32", &["f64"], F32),
    ("char", &["ctx", "type_error"], CHAR),
    ("string", &["ctx", "type_error", "account"], STRING),
    ("bytes", &["ctx", "type_error", "account"], BYTES),
    ("enum", &["int"], ENUM),
    ("flags", &["int"], FLAGS),
    ("case", &["tuple_of"], CASE),
    ("no_payload", &["ctx"], NO_PAYLOAD),
    ("case_new", &[], CASE_NEW),
    ("res", &[], RES),
    ("handle", &["res", "ctx", "type_error"], HANDLE),
    ("wit_error", &[], WIT_ERROR),
    ("raise", &["wit_error"], RAISE),
];

const CTX: &str = r#"
/* What converting one call's arguments holds until the import returns: new references,
   memory, buffers (released in reverse order), and the resource objects passed (the own
   ones are closed once the call is made). */
typedef struct {
    char kind;
    void *p;
} pylon_hold;

typedef struct {
    const char *fn;  /* the function, for messages */
    const char *arg; /* the argument being converted */
    pylon_hold *holds;
    Py_ssize_t n, cap;
    size_t bytes;    /* what the arguments copy into the callee so far */
} pylon_ctx;

#define PYLON_REF 'r'
#define PYLON_MEM 'm'
#define PYLON_BUF 'b'
#define PYLON_OWN 'o'
#define PYLON_BORROW 'g'

static void
pylon_hold_release(pylon_hold *h)
{
    switch (h->kind) {
    case PYLON_REF:
        Py_DECREF((PyObject *)h->p);
        break;
    case PYLON_MEM:
        PyMem_Free(h->p);
        break;
    case PYLON_BUF:
        PyBuffer_Release((Py_buffer *)h->p);
        PyMem_Free(h->p);
        break;
    default:
        break;
    }
}

/* Holds p until the call returns; on failure releases it at once. */
static int
pylon_ctx_push(pylon_ctx *ctx, char kind, void *p)
{
    if (ctx->n == ctx->cap) {
        Py_ssize_t cap = ctx->cap ? ctx->cap * 2 : 8;
        pylon_hold *holds = PyMem_Realloc(ctx->holds, (size_t)cap * sizeof(pylon_hold));
        if (holds == NULL) {
            pylon_hold h = {kind, p};
            pylon_hold_release(&h);
            PyErr_NoMemory();
            return -1;
        }
        ctx->holds = holds;
        ctx->cap = cap;
    }
    ctx->holds[ctx->n].kind = kind;
    ctx->holds[ctx->n].p = p;
    ctx->n++;
    return 0;
}

static void
pylon_ctx_release(pylon_ctx *ctx)
{
    for (Py_ssize_t i = ctx->n; i > 0; i--) {
        pylon_hold_release(&ctx->holds[i - 1]);
    }
    PyMem_Free(ctx->holds);
    ctx->holds = NULL;
    ctx->n = ctx->cap = 0;
}
"#;

const ACCOUNT: &str = r#"
/* The most one call's arguments may copy into the callee (strings, bytes, list arrays):
   the canonical ABI allocates them in the callee's 32-bit memory with no way to fail but a
   trap, and a list repeating one large object costs nothing here but its full size there. */
#define PYLON_MAX_CALL_BYTES ((size_t)1 << 30)

/* Counts n items of size bytes towards PYLON_MAX_CALL_BYTES; MemoryError beyond it. */
static int
pylon_ctx_account(pylon_ctx *ctx, size_t n, size_t size)
{
    size_t left = PYLON_MAX_CALL_BYTES - ctx->bytes;
    if (size != 0 && n > left / size) {
        PyErr_Format(PyExc_MemoryError,
                     "%s(): the arguments copy more than %zu MiB into the cap (the most one call takes)",
                     ctx->fn, PYLON_MAX_CALL_BYTES >> 20);
        return -1;
    }
    ctx->bytes += n * size;
    return 0;
}
"#;

const TYPE_ERROR: &str = r#"
static int
pylon_type_error(pylon_ctx *ctx, const char *expected, PyObject *o)
{
    PyErr_Format(PyExc_TypeError, "%s(): argument '%s' must be %s, not %.200s",
                 ctx->fn, ctx->arg, expected, Py_TYPE(o)->tp_name);
    return -1;
}
"#;

const NARGS_ERROR: &str = r#"
static PyObject *
pylon_nargs_error(const char *fn, Py_ssize_t expected, Py_ssize_t given)
{
    PyErr_Format(PyExc_TypeError, "%s() takes exactly %zd argument%s (%zd given)",
                 fn, expected, expected == 1 ? "" : "s", given);
    return NULL;
}
"#;

const CALLOC: &str = r#"
/* Zeroed memory for n items, freed when the call returns (NULL for none). */
static int
pylon_ctx_calloc(pylon_ctx *ctx, Py_ssize_t n, size_t size, void **out)
{
    *out = NULL;
    if (n == 0) {
        return 0;
    }
    if (pylon_ctx_account(ctx, (size_t)n, size) < 0) {
        return -1;
    }
    void *p = PyMem_Calloc((size_t)n, size);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (pylon_ctx_push(ctx, PYLON_MEM, p) < 0) {
        return -1;
    }
    *out = p;
    return 0;
}
"#;

const TUPLE_OF: &str = r#"
/* o (any iterable but str) as a tuple held until the call returns: a tuple cannot change
   while its items are converted. */
static PyObject *
pylon_tuple_of(pylon_ctx *ctx, PyObject *o, const char *expected)
{
    if (PyUnicode_Check(o) || (!PySequence_Check(o) && Py_TYPE(o)->tp_iter == NULL)) {
        pylon_type_error(ctx, expected, o);
        return NULL;
    }
    PyObject *t = PySequence_Tuple(o);
    if (t == NULL || pylon_ctx_push(ctx, PYLON_REF, t) < 0) {
        return NULL;
    }
    return t;
}
"#;

const LEN_ERROR: &str = r#"
static int
pylon_len_error(pylon_ctx *ctx, const char *expected, Py_ssize_t len, Py_ssize_t given)
{
    PyErr_Format(PyExc_TypeError, "%s(): argument '%s' must be %s of length %zd, not %zd",
                 ctx->fn, ctx->arg, expected, len, given);
    return -1;
}
"#;

const FIELDS: &str = r#"
/* A record's fields taken from o: a tuple in field order, or attributes. */
static int
pylon_fields(pylon_ctx *ctx, PyObject *o, const char *record,
             const PyStructSequence_Field *fields, Py_ssize_t n, PyObject **out)
{
    if (PyTuple_Check(o)) {
        if (PyTuple_GET_SIZE(o) != n) {
            PyErr_Format(PyExc_TypeError,
                         "%s(): argument '%s' must be a %s or a tuple of length %zd, not %zd",
                         ctx->fn, ctx->arg, record, n, PyTuple_GET_SIZE(o));
            return -1;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            out[i] = PyTuple_GET_ITEM(o, i);
        }
        return 0;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyObject_GetAttrString(o, fields[i].name);
        if (v == NULL) {
            if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
                PyErr_Clear();
                PyErr_Format(PyExc_TypeError,
                             "%s(): argument '%s' must be a %s, a tuple or an object with "
                             "attribute '%s', not %.200s",
                             ctx->fn, ctx->arg, record, fields[i].name, Py_TYPE(o)->tp_name);
            }
            return -1;
        }
        if (pylon_ctx_push(ctx, PYLON_REF, v) < 0) {
            return -1;
        }
        out[i] = v;
    }
    return 0;
}
"#;

const BOOL: &str = r#"
static int
pylon_lower_bool(pylon_ctx *ctx, PyObject *o, bool *dst)
{
    (void)ctx;
    int t = PyObject_IsTrue(o);
    if (t < 0) {
        return -1;
    }
    *dst = t != 0;
    return 0;
}
"#;

const INT: &str = r#"
/* o (via __index__) as a long long; *overflow when it does not fit. */
static int
pylon_int_s64(pylon_ctx *ctx, PyObject *o, long long *v, int *overflow)
{
    if (!PyIndex_Check(o)) {
        return pylon_type_error(ctx, "int", o);
    }
    PyObject *i = PyNumber_Index(o);
    if (i == NULL) {
        return -1;
    }
    *v = PyLong_AsLongLongAndOverflow(i, overflow);
    Py_DECREF(i);
    if (*v == -1 && PyErr_Occurred()) {
        return -1;
    }
    return 0;
}

/* o (via __index__) as an unsigned long long; *overflow when negative or too large. */
static int
pylon_int_u64(pylon_ctx *ctx, PyObject *o, unsigned long long *v, int *overflow)
{
    if (!PyIndex_Check(o)) {
        return pylon_type_error(ctx, "int", o);
    }
    PyObject *i = PyNumber_Index(o);
    if (i == NULL) {
        return -1;
    }
    *overflow = 0;
    *v = PyLong_AsUnsignedLongLong(i);
    Py_DECREF(i);
    if (*v == (unsigned long long)-1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) {
            return -1;
        }
        PyErr_Clear();
        *overflow = 1;
    }
    return 0;
}
"#;

const RANGE_ERROR: &str = r#"
static int
pylon_range_error(pylon_ctx *ctx, const char *type, const char *range)
{
    PyErr_Format(PyExc_OverflowError, "%s(): argument '%s' is out of range for %s (%s)",
                 ctx->fn, ctx->arg, type, range);
    return -1;
}
"#;

const F64: &str = r#"
static int
pylon_lower_f64(pylon_ctx *ctx, PyObject *o, double *dst)
{
    double d = PyFloat_AsDouble(o);
    if (d == -1.0 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            return pylon_type_error(ctx, "float", o);
        }
        return -1;
    }
    *dst = d;
    return 0;
}
"#;

const F32: &str = r#"
static int
pylon_lower_f32(pylon_ctx *ctx, PyObject *o, float *dst)
{
    double d;
    if (pylon_lower_f64(ctx, o, &d) < 0) {
        return -1;
    }
    float f = (float)d;
    if (isinf(f) && !isinf(d)) {
        PyErr_Format(PyExc_OverflowError, "%s(): argument '%s' is out of range for f32",
                     ctx->fn, ctx->arg);
        return -1;
    }
    *dst = f;
    return 0;
}
"#;

const CHAR: &str = r#"
static int
pylon_lower_char(pylon_ctx *ctx, PyObject *o, uint32_t *dst)
{
    if (!PyUnicode_Check(o)) {
        return pylon_type_error(ctx, "a str of length 1", o);
    }
    if (PyUnicode_GET_LENGTH(o) != 1) {
        PyErr_Format(PyExc_TypeError, "%s(): argument '%s' must be a str of length 1, not %zd",
                     ctx->fn, ctx->arg, PyUnicode_GET_LENGTH(o));
        return -1;
    }
    Py_UCS4 c = PyUnicode_READ_CHAR(o, 0);
    if (c >= 0xD800 && c <= 0xDFFF) {
        PyErr_Format(PyExc_ValueError, "%s(): argument '%s' must not be a surrogate",
                     ctx->fn, ctx->arg);
        return -1;
    }
    *dst = (uint32_t)c;
    return 0;
}
"#;

const STRING: &str = r#"
/* Borrows o's UTF-8 (o outlives the call). */
static int
pylon_lower_string(pylon_ctx *ctx, PyObject *o, uint8_t **ptr, size_t *len)
{
    if (!PyUnicode_Check(o)) {
        return pylon_type_error(ctx, "str", o);
    }
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(o, &n);
    if (s == NULL || pylon_ctx_account(ctx, (size_t)n, 1) < 0) {
        return -1;
    }
    *ptr = (uint8_t *)(uintptr_t)s; /* the bindings take a non-const pointer; never written */
    *len = (size_t)n;
    return 0;
}
"#;

const BYTES: &str = r#"
/* Borrows o's bytes through the buffer protocol, released when the call returns. */
static int
pylon_lower_bytes(pylon_ctx *ctx, PyObject *o, uint8_t **ptr, size_t *len)
{
    if (!PyObject_CheckBuffer(o)) {
        return pylon_type_error(ctx, "a bytes-like object", o);
    }
    Py_buffer *view = PyMem_Malloc(sizeof(Py_buffer));
    if (view == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (PyObject_GetBuffer(o, view, PyBUF_SIMPLE) < 0) {
        PyMem_Free(view);
        return -1;
    }
    if (pylon_ctx_push(ctx, PYLON_BUF, view) < 0 || pylon_ctx_account(ctx, (size_t)view->len, 1) < 0) {
        return -1;
    }
    *ptr = (uint8_t *)view->buf;
    *len = (size_t)view->len;
    return 0;
}
"#;

const ENUM: &str = r#"
/* o as the case index of an enum with n cases. */
static int
pylon_lower_enum(pylon_ctx *ctx, PyObject *o, const char *name, unsigned long long n,
                 unsigned long long *dst)
{
    int overflow;
    if (pylon_int_u64(ctx, o, dst, &overflow) < 0) {
        return -1;
    }
    if (overflow || *dst >= n) {
        PyErr_Format(PyExc_ValueError, "%s(): argument '%s' is not a case of %s (0..%llu)",
                     ctx->fn, ctx->arg, name, n - 1);
        return -1;
    }
    return 0;
}
"#;

const FLAGS: &str = r#"
/* o as a bitmask of the flags in mask. */
static int
pylon_lower_flags(pylon_ctx *ctx, PyObject *o, const char *name, unsigned long long mask,
                  unsigned long long *dst)
{
    int overflow;
    if (pylon_int_u64(ctx, o, dst, &overflow) < 0) {
        return -1;
    }
    if (overflow || (*dst & ~mask) != 0) {
        PyErr_Format(PyExc_ValueError, "%s(): argument '%s' is not a set of %s flags (mask 0x%llx)",
                     ctx->fn, ctx->arg, name, mask);
        return -1;
    }
    return 0;
}
"#;

const CASE: &str = r#"
/* o as a (case name, payload) pair. */
static int
pylon_case(pylon_ctx *ctx, PyObject *o, const char *expected, PyObject **name, PyObject **payload)
{
    PyObject *t = pylon_tuple_of(ctx, o, expected);
    if (t == NULL) {
        return -1;
    }
    if (PyTuple_GET_SIZE(t) != 2 || !PyUnicode_Check(PyTuple_GET_ITEM(t, 0))) {
        return pylon_type_error(ctx, expected, o);
    }
    *name = PyTuple_GET_ITEM(t, 0);
    *payload = PyTuple_GET_ITEM(t, 1);
    return 0;
}

static int
pylon_case_is(PyObject *name, const char *case_name)
{
    return PyUnicode_CompareWithASCIIString(name, case_name) == 0;
}

static int
pylon_case_error(pylon_ctx *ctx, PyObject *name, const char *type)
{
    PyErr_Format(PyExc_ValueError, "%s(): argument '%s': %R is not a case of %s",
                 ctx->fn, ctx->arg, name, type);
    return -1;
}
"#;

const NO_PAYLOAD: &str = r#"
static int
pylon_no_payload(pylon_ctx *ctx, PyObject *payload, const char *case_name)
{
    if (payload != Py_None) {
        PyErr_Format(PyExc_TypeError, "%s(): argument '%s': case '%s' takes None, not %.200s",
                     ctx->fn, ctx->arg, case_name, Py_TYPE(payload)->tp_name);
        return -1;
    }
    return 0;
}
"#;

const CASE_NEW: &str = r#"
/* (name, payload), taking payload's reference (NULL: an error is set). */
static PyObject *
pylon_case_new(const char *name, PyObject *payload)
{
    if (payload == NULL) {
        return NULL;
    }
    PyObject *t = PyTuple_New(2);
    PyObject *n = PyUnicode_InternFromString(name);
    if (t == NULL || n == NULL) {
        Py_XDECREF(t);
        Py_XDECREF(n);
        Py_DECREF(payload);
        return NULL;
    }
    PyTuple_SET_ITEM(t, 0, n);
    PyTuple_SET_ITEM(t, 1, payload);
    return t;
}
"#;

const RES: &str = r#"
/* The head of every resource object: `live` while it holds its handle. */
typedef struct {
    PyObject_HEAD
    int live;
} pylon_res;

static PyObject *
pylon_closed_error(PyObject *o)
{
    PyErr_Format(PyExc_ValueError, "%.200s object is closed", Py_TYPE(o)->tp_name);
    return NULL;
}
"#;

const HANDLE: &str = r#"
/* Checks a resource argument (kind PYLON_OWN or PYLON_BORROW) and holds it for the call: a
   handle cannot be both moved and lent, or moved twice, in one call. */
static int
pylon_ctx_handle(pylon_ctx *ctx, PyObject *o, PyTypeObject *type, char kind)
{
    if (!PyObject_TypeCheck(o, type)) {
        return pylon_type_error(ctx, type->tp_name, o);
    }
    if (!((pylon_res *)o)->live) {
        if (strcmp(ctx->arg, "self") == 0) {
            PyErr_Format(PyExc_ValueError, "%s(): the %.200s object is closed", ctx->fn, type->tp_name);
        } else {
            PyErr_Format(PyExc_ValueError, "%s(): argument '%s' is a closed %.200s object",
                         ctx->fn, ctx->arg, type->tp_name);
        }
        return -1;
    }
    for (Py_ssize_t i = 0; i < ctx->n; i++) {
        pylon_hold *h = &ctx->holds[i];
        if (h->p == o && (h->kind == PYLON_OWN || (kind == PYLON_OWN && h->kind == PYLON_BORROW))) {
            PyErr_Format(PyExc_ValueError,
                         "%s(): argument '%s': this %.200s object is already passed to the "
                         "call (an owned handle must be passed alone)",
                         ctx->fn, ctx->arg, type->tp_name);
            return -1;
        }
    }
    return pylon_ctx_push(ctx, kind, o);
}

/* Just before the call: converting later arguments ran Python code, so check that no
   resource argument was closed meanwhile, then close the objects whose handle moves. */
static int
pylon_ctx_commit(pylon_ctx *ctx)
{
    for (Py_ssize_t i = 0; i < ctx->n; i++) {
        pylon_hold *h = &ctx->holds[i];
        if ((h->kind == PYLON_OWN || h->kind == PYLON_BORROW) && !((pylon_res *)h->p)->live) {
            PyErr_Format(PyExc_ValueError, "%s(): a %.200s argument was closed during the call",
                         ctx->fn, Py_TYPE((PyObject *)h->p)->tp_name);
            return -1;
        }
    }
    for (Py_ssize_t i = 0; i < ctx->n; i++) {
        if (ctx->holds[i].kind == PYLON_OWN) {
            ((pylon_res *)ctx->holds[i].p)->live = 0;
        }
    }
    return 0;
}
"#;

const WIT_ERROR: &str = r#"
/* WitError(value): raised for the `err` of a function's `result`. */
static PyObject *pylon_WitError;

static PyObject *
pylon_WitError_value(PyObject *self, void *Py_UNUSED(closure))
{
    PyObject *args = PyException_GetArgs(self);
    if (args == NULL) {
        return NULL;
    }
    PyObject *v = PyTuple_GET_SIZE(args) > 0 ? PyTuple_GET_ITEM(args, 0) : Py_None;
    Py_INCREF(v);
    Py_DECREF(args);
    return v;
}

static PyGetSetDef pylon_WitError_getset[] = {
    {"value", pylon_WitError_value, NULL, "The error value (also args[0]).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
"#;

const RAISE: &str = r#"
/* Raises WitError(value), taking value's reference (NULL: an error is set). */
static PyObject *
pylon_raise_wit_error(PyObject *value)
{
    if (value == NULL) {
        return NULL;
    }
    PyObject *exc = PyObject_CallOneArg(pylon_WitError, value);
    Py_DECREF(value);
    if (exc != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}
"#;
