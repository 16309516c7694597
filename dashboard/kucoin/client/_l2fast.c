/* dashboard.kucoin.client._l2fast: the level-2 hot path in C.
 *
 * apply_frame(text, syncs) takes one raw /market/level2 WebSocket frame (protocol.md section 7.4) and the
 * router's {symbol: L2BookSync} map, and does in one call what L2Router.apply_frame does in Python for the
 * common case: decode, route by data.symbol, check the sequence against the live book, apply the changes
 * (price "0" bumps skipped, size 0 deletes), and check the book for a cross.
 *
 * It handles only frames it can handle exactly like the Python path, and it decides that before it touches
 * anything. For every other frame -- not the expected JSON shape, any escape or non-ASCII byte, a symbol not
 * yet live, a gap, a delta straddling the book's sequence, a price with more decimals than the book's scale,
 * a malformed price or size -- it returns FALLBACK having changed nothing, and the caller runs the Python
 * path, which owns all of those outcomes. Return values:
 *   None      the frame was applied (or was stale) -- nothing else to do;
 *   FALLBACK  nothing was done: run the Python path on this frame;
 *   the sync  the frame was applied and the book is now crossed: the caller starts the resync.
 *
 * The state it touches lives in C struct fields of the two compiled base classes: SyncCore (below; the base
 * of L2BookSync) and BookCore (dashboard/domain/_bookcore.c; the base of OrderBook). The heaps are updated
 * with the heapq module's own functions, so their layout is the same as the Python path's.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <string.h>
#include <time.h>

#include "_bookcore.h"

/* ------------------------------------------------------------------------------------------------ SyncCore */

typedef struct {
    PyObject_HEAD
    PyObject *book;       /* an OrderBook (BookCore subclass)     (Python: book)      */
    long long seq;        /* sequence of the live book, -1 when not live (_seq)       */
    long long messages;   /* (_messages) */
    long long applied;    /* (_applied)  */
    long long stale;      /* (_stale)    */
    long long price0;     /* (_price0)   */
    double last_rx;       /* time.monotonic() of the last frame handled here (_last_rx); 0 = none */
    double latency_ms;    /* EWMA of receive time - data.time, NaN until the first (_latency_ms) */
    char live;            /* (_live)     */
} SyncCoreObject;

static int
synccore_traverse(SyncCoreObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->book);
    return 0;
}

static int
synccore_clear(SyncCoreObject *self)
{
    Py_CLEAR(self->book);
    return 0;
}

static void
synccore_dealloc(SyncCoreObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    synccore_clear(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyMemberDef synccore_members[] = {
    {"book", T_OBJECT_EX, offsetof(SyncCoreObject, book), 0, "the OrderBook"},
    {"_seq", T_LONGLONG, offsetof(SyncCoreObject, seq), 0, "sequence of the live book"},
    {"_messages", T_LONGLONG, offsetof(SyncCoreObject, messages), 0, NULL},
    {"_applied", T_LONGLONG, offsetof(SyncCoreObject, applied), 0, NULL},
    {"_stale", T_LONGLONG, offsetof(SyncCoreObject, stale), 0, NULL},
    {"_price0", T_LONGLONG, offsetof(SyncCoreObject, price0), 0, NULL},
    {"_live", T_BOOL, offsetof(SyncCoreObject, live), 0, NULL},
    {"_last_rx", T_DOUBLE, offsetof(SyncCoreObject, last_rx), 0, "monotonic time of the last frame"},
    {"_latency_ms", T_DOUBLE, offsetof(SyncCoreObject, latency_ms), 0, "EWMA latency (NaN: none yet)"},
    {NULL}
};

static PyObject *
synccore_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    SyncCoreObject *self = (SyncCoreObject *)PyType_GenericNew(type, args, kwds);
    if (self != NULL) {
        self->seq = -1;
        self->latency_ms = Py_NAN;
    }
    return (PyObject *)self;
}

static PyType_Slot synccore_slots[] = {
    {Py_tp_doc, "Hot state of an L2BookSync in C struct fields (methods live in Python)."},
    {Py_tp_new, synccore_new},
    {Py_tp_dealloc, synccore_dealloc},
    {Py_tp_traverse, synccore_traverse},
    {Py_tp_clear, synccore_clear},
    {Py_tp_members, synccore_members},
    {0, NULL},
};

static PyType_Spec synccore_spec = {
    .name = "dashboard.kucoin.client._l2fast.SyncCore",
    .basicsize = sizeof(SyncCoreObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = synccore_slots,
};

/* Module-wide references (set once by the module's exec; the module is not meant for sub-interpreters). */
static PyTypeObject *SyncCoreType = NULL;
static PyTypeObject *BookCoreType = NULL;
static PyObject *FALLBACK = NULL;
static PyObject *heappush_fn = NULL;
static PyObject *heappop_fn = NULL;
static PyObject *heapify_fn = NULL;

/* ------------------------------------------------------------------------------------------ JSON scanning */

/* A strict scanner for the subset of JSON a level-2 frame uses. Anything it is not sure about makes the
 * whole frame fall back to the Python path (orjson), so it never has to agree with orjson on edge cases:
 * it only has to recognise frames that orjson parses to the same values. */

typedef struct {
    const char *p;
    const char *end;
    int depth;
} Cursor;

typedef struct {
    const char *s;
    Py_ssize_t n;
} Span;

typedef struct {
    Span price;
    Span size;
} RawChange;

#define MAX_DEPTH 32

static inline void
skip_ws(Cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t'))
        c->p++;
}

/* A string without escapes: fills out with its contents. 0 on success, -1 = fall back. */
static inline int
scan_string(Cursor *c, Span *out)
{
    if (c->p >= c->end || *c->p != '"')
        return -1;
    const char *s = ++c->p;
    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') {
            out->s = s;
            out->n = c->p - s;
            c->p++;
            return 0;
        }
        if (ch == '\\' || ch < 0x20 || ch >= 0x80)
            return -1;
        c->p++;
    }
    return -1;
}

/* A non-negative JSON integer of at most 18 digits (fits a long long). 0 on success, -1 = fall back. */
static inline int
scan_uint(Cursor *c, long long *out)
{
    const char *s = c->p;
    long long v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        v = v * 10 + (*c->p - '0');
        c->p++;
    }
    Py_ssize_t n = c->p - s;
    if (n == 0 || n > 18 || (n > 1 && *s == '0'))
        return -1;
    if (c->p < c->end && (*c->p == '.' || *c->p == 'e' || *c->p == 'E'))
        return -1; /* a float: the Python path refuses it */
    *out = v;
    return 0;
}

static int skip_value(Cursor *c);

static int
skip_number(Cursor *c)
{
    const char *token = c->p;
    if (c->p < c->end && *c->p == '-')
        c->p++;
    const char *s = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
        c->p++;
    Py_ssize_t n = c->p - s;
    if (n == 0 || (n > 1 && *s == '0'))
        return -1;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        s = c->p;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
            c->p++;
        if (c->p == s)
            return -1;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
            c->p++;
        s = c->p;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
            c->p++;
        if (c->p == s || c->p - s > 2)
            return -1; /* huge exponents: leave the corner cases (overflow) to orjson */
    }
    if (c->p - token > 24)
        return -1; /* very long numbers: likewise */
    return 0;
}

static int
skip_literal(Cursor *c, const char *lit, Py_ssize_t n)
{
    if (c->end - c->p < n || memcmp(c->p, lit, n) != 0)
        return -1;
    c->p += n;
    return 0;
}

/* Skips one object or array after its opening bracket. */
static int
skip_container(Cursor *c, char close, int is_object)
{
    if (++c->depth > MAX_DEPTH)
        return -1;
    skip_ws(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        c->depth--;
        return 0;
    }
    for (;;) {
        if (is_object) {
            Span key;
            if (scan_string(c, &key) < 0)
                return -1;
            skip_ws(c);
            if (c->p >= c->end || *c->p != ':')
                return -1;
            c->p++;
            skip_ws(c);
        }
        if (skip_value(c) < 0)
            return -1;
        skip_ws(c);
        if (c->p >= c->end)
            return -1;
        if (*c->p == ',') {
            c->p++;
            skip_ws(c);
            continue;
        }
        if (*c->p == close) {
            c->p++;
            c->depth--;
            return 0;
        }
        return -1;
    }
}

static int
skip_value(Cursor *c)
{
    if (c->p >= c->end)
        return -1;
    Span ignored;
    switch (*c->p) {
    case '"':
        return scan_string(c, &ignored);
    case '{':
        c->p++;
        return skip_container(c, '}', 1);
    case '[':
        c->p++;
        return skip_container(c, ']', 0);
    case 't':
        return skip_literal(c, "true", 4);
    case 'f':
        return skip_literal(c, "false", 5);
    case 'n':
        return skip_literal(c, "null", 4);
    default:
        return skip_number(c);
    }
}

static inline int
span_is(Span s, const char *lit, Py_ssize_t n)
{
    return s.n == n && memcmp(s.s, lit, n) == 0;
}

/* The opening bracket of a container (after whitespace): 1 when it is empty (the closing bracket is consumed
 * too), 0 when items follow (the cursor is on the first), -1 = fall back. */
static inline int
open_container(Cursor *c, char open, char close)
{
    skip_ws(c);
    if (c->p >= c->end || *c->p != open)
        return -1;
    c->p++;
    skip_ws(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return 1;
    }
    return 0;
}

/* Iterates the members of an object: call with the cursor on '{'; returns 1 with key set and the cursor on
 * the value, 0 at the end of the object, -1 = fall back. */
static inline int
object_next(Cursor *c, Span *key, int *first)
{
    if (*first) {
        int r = open_container(c, '{', '}');
        *first = 0;
        if (r != 0)
            return r < 0 ? -1 : 0;
    }
    else {
        skip_ws(c);
        if (c->p >= c->end)
            return -1;
        if (*c->p == '}') {
            c->p++;
            return 0;
        }
        if (*c->p != ',')
            return -1;
        c->p++;
        skip_ws(c);
    }
    if (scan_string(c, key) < 0)
        return -1;
    skip_ws(c);
    if (c->p >= c->end || *c->p != ':')
        return -1;
    c->p++;
    skip_ws(c);
    return 1;
}

/* The character ch (after whitespace), then whitespace: 0, or -1 = fall back. */
static inline int
expect(Cursor *c, char ch)
{
    skip_ws(c);
    if (c->p >= c->end || *c->p != ch)
        return -1;
    c->p++;
    skip_ws(c);
    return 0;
}

/* Growable scratch space for the changes of one frame (the GIL is held throughout). */
static RawChange *changes_buf = NULL;
static Py_ssize_t changes_cap = 0;

/* Room for n items of item_size in *buf (capacity *cap, doubled as needed): 0, or -1 out of memory. */
static int
grow(void **buf, Py_ssize_t *cap, Py_ssize_t n, size_t item_size)
{
    if (n <= *cap)
        return 0;
    Py_ssize_t want = *cap ? *cap : 64;
    while (want < n)
        want *= 2;
    void *fresh = PyMem_Realloc(*buf, want * item_size);
    if (fresh == NULL)
        return -1;
    *buf = fresh;
    *cap = want;
    return 0;
}

static int
ensure_changes(Py_ssize_t n)
{
    return grow((void **)&changes_buf, &changes_cap, n, sizeof(RawChange));
}

/* One side's array of [price, size, sequence] string triples, appended to changes_buf from index *count. */
static int
scan_changes(Cursor *c, Py_ssize_t *count)
{
    int r = open_container(c, '[', ']');
    if (r != 0)
        return r < 0 ? -1 : 0;
    for (;;) {
        Span seq;
        if (ensure_changes(*count + 1) < 0)
            return -2; /* out of memory: a real error */
        RawChange *ch = &changes_buf[*count];
        if (expect(c, '[') < 0 || scan_string(c, &ch->price) < 0 || expect(c, ',') < 0
            || scan_string(c, &ch->size) < 0 || expect(c, ',') < 0 || scan_string(c, &seq) < 0
            || expect(c, ']') < 0)
            return -1;
        (*count)++;
        skip_ws(c);
        if (c->p >= c->end)
            return -1;
        if (*c->p == ',') {
            c->p++;
            skip_ws(c);
            continue;
        }
        if (*c->p == ']') {
            c->p++;
            return 0;
        }
        return -1;
    }
}

typedef struct {
    Span symbol;
    long long start, end;
    long long time_ms; /* data.time, 0 when absent */
    Py_ssize_t n_asks, n_bids; /* changes_buf[0:n_asks] are asks, then n_bids bids */
} Frame;

/* The "data" object of a trade.l2update. 0 on success, -1 = fall back, -2 = error set. */
static int
scan_data(Cursor *c, Frame *f)
{
    int first = 1, r;
    int have_symbol = 0, have_start = 0, have_end = 0, have_changes = 0, have_time = 0;
    Span key;
    while ((r = object_next(c, &key, &first)) == 1) {
        if (span_is(key, "symbol", 6)) {
            if (have_symbol++ || scan_string(c, &f->symbol) < 0)
                return -1;
        }
        else if (span_is(key, "sequenceStart", 13)) {
            if (have_start++ || scan_uint(c, &f->start) < 0)
                return -1;
        }
        else if (span_is(key, "sequenceEnd", 11)) {
            if (have_end++ || scan_uint(c, &f->end) < 0)
                return -1;
        }
        else if (span_is(key, "time", 4)) {
            if (have_time++ || scan_uint(c, &f->time_ms) < 0)
                return -1;
        }
        else if (span_is(key, "changes", 7)) {
            int cfirst = 1, cr, have_asks = 0, have_bids = 0;
            Span ckey;
            Py_ssize_t count = 0;
            if (have_changes++)
                return -1;
            /* asks must come before bids in changes_buf: scan each side where it is, then order them */
            Cursor asks_at = {NULL, NULL, 0}, bids_at = {NULL, NULL, 0};
            while ((cr = object_next(c, &ckey, &cfirst)) == 1) {
                if (span_is(ckey, "asks", 4)) {
                    if (have_asks++)
                        return -1;
                    asks_at = *c;
                }
                else if (span_is(ckey, "bids", 4)) {
                    if (have_bids++)
                        return -1;
                    bids_at = *c;
                }
                if (skip_value(c) < 0)
                    return -1;
            }
            if (cr < 0 || !have_asks || !have_bids)
                return -1;
            if ((r = scan_changes(&asks_at, &count)) < 0)
                return r;
            f->n_asks = count;
            if ((r = scan_changes(&bids_at, &count)) < 0)
                return r;
            f->n_bids = count - f->n_asks;
        }
        else if (skip_value(c) < 0) {
            return -1;
        }
    }
    if (r < 0 || !have_symbol || !have_start || !have_end || !have_changes || f->start > f->end)
        return -1;
    return 0;
}

/* The whole frame. 1 = a trade.l2update in f, -1 = fall back, -2 = error set. */
static int
scan_frame(const char *buf, Py_ssize_t len, Frame *f)
{
    Cursor c = {buf, buf + len, 0};
    Cursor data_at = {NULL, NULL, 0};
    Span key, subject = {NULL, 0};
    int first = 1, r, have_subject = 0, have_data = 0;
    while ((r = object_next(&c, &key, &first)) == 1) {
        if (span_is(key, "subject", 7)) {
            if (have_subject++ || scan_string(&c, &subject) < 0)
                return -1;
            if (!span_is(subject, "trade.l2update", 14))
                return -1;
            continue;
        }
        if (span_is(key, "data", 4)) {
            if (have_data++)
                return -1;
            data_at = c;
        }
        if (skip_value(&c) < 0)
            return -1;
    }
    if (r < 0 || !have_subject || !have_data)
        return -1;
    skip_ws(&c);
    if (c.p != c.end)
        return -1;
    r = scan_data(&data_at, f);
    return r < 0 ? r : 1;
}

/* ---------------------------------------------------------------------------------------------- the book */

/* Integer tick of a plain decimal price ("242.649") at the book's scale, or -1 = fall back. */
static inline int
price_tick(Span s, int scale, long long *out)
{
    const char *p = s.s, *e = s.s + s.n;
    long long v = 0;
    int digits = 0, frac = 0, seen_dot = 0;
    const char *frac_end = e;
    if (s.n == 0 || *p < '0' || *p > '9')
        return -1; /* empty whole part and other rare forms: the Python path (Decimal) */
    /* trailing zeros of the fraction do not count ("1.50" has one decimal) */
    const char *dot = memchr(p, '.', s.n);
    if (dot != NULL) {
        while (frac_end > dot + 1 && frac_end[-1] == '0')
            frac_end--;
    }
    for (; p < frac_end; p++) {
        if (*p == '.') {
            if (seen_dot)
                return -1;
            seen_dot = 1;
            continue;
        }
        if (*p < '0' || *p > '9')
            return -1;
        if (seen_dot)
            frac++;
        if (v != 0 || *p != '0') {
            if (++digits > 18)
                return -1;
        }
        v = v * 10 + (*p - '0');
    }
    for (; p < e; p++) { /* the stripped zeros */
        if (*p != '0')
            return -1;
    }
    if (frac > scale)
        return -1; /* more decimals than the book's scale: the Python path rescales */
    for (int i = frac; i < scale; i++) {
        if (v > 922337203685477580LL)
            return -1;
        v *= 10;
    }
    *out = v;
    return 0;
}

/* Plain decimal size ("5", "0.013", ".5", "5."): 1 = zero, 0 = non-zero, -1 = fall back (malformed). */
static inline int
size_kind(Span s)
{
    int dots = 0, digits = 0, nonzero = 0;
    for (Py_ssize_t i = 0; i < s.n; i++) {
        char ch = s.s[i];
        if (ch == '.') {
            if (++dots > 1)
                return -1;
        }
        else if (ch >= '0' && ch <= '9') {
            digits++;
            if (ch != '0')
                nonzero = 1;
        }
        else {
            return -1;
        }
    }
    if (digits == 0)
        return -1;
    return nonzero ? 0 : 1;
}

typedef struct {
    long long tick;
    int kind; /* 0 = set, 1 = delete, 2 = price-"0" bump (skip) */
} Parsed;

static Parsed *parsed_buf = NULL;
static Py_ssize_t parsed_cap = 0;

/* One level write; mirrors OrderBook.set_bid / set_ask. 0 on success, -1 with an error set. */
static int
set_level(BookCoreObject *book, int is_bid, long long tick, Span size, int is_zero)
{
    PyObject *levels = is_bid ? book->bids : book->asks;
    PyObject *key = PyLong_FromLongLong(tick);
    if (key == NULL)
        return -1;
    if (is_zero) {
        int has = PyDict_Contains(levels, key);
        int rc = has < 0 ? -1 : (has ? PyDict_DelItem(levels, key) : 0);
        Py_DECREF(key);
        return rc;
    }
    PyObject *value = PyUnicode_New(size.n, 127);
    if (value == NULL) {
        Py_DECREF(key);
        return -1;
    }
    memcpy(PyUnicode_DATA(value), size.s, size.n);
    int existed = PyDict_Contains(levels, key);
    if (existed < 0 || PyDict_SetItem(levels, key, value) < 0) {
        Py_DECREF(key);
        Py_DECREF(value);
        return -1;
    }
    Py_DECREF(value);
    if (existed) {
        Py_DECREF(key);
        return 0;
    }
    PyObject *item = is_bid ? PyLong_FromLongLong(-tick) : Py_NewRef(key);
    Py_DECREF(key);
    if (item == NULL)
        return -1;
    PyObject *heap = is_bid ? book->bid_heap : book->ask_heap;
    PyObject *args[2] = {heap, item};
    PyObject *r = PyObject_Vectorcall(heappush_fn, args, 2, NULL);
    Py_DECREF(item);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    if (PyList_GET_SIZE(heap) > 2 * PyDict_GET_SIZE(levels) + 64) { /* _HEAP_SLACK in book.py */
        /* rebuild from the live levels, as OrderBook does: a new list, heapified */
        PyObject *fresh = PyList_New(0);
        if (fresh == NULL)
            return -1;
        PyObject *k, *v;
        Py_ssize_t pos = 0;
        while (PyDict_Next(levels, &pos, &k, &v)) {
            PyObject *t = is_bid ? PyNumber_Negative(k) : Py_NewRef(k);
            if (t == NULL || PyList_Append(fresh, t) < 0) {
                Py_XDECREF(t);
                Py_DECREF(fresh);
                return -1;
            }
            Py_DECREF(t);
        }
        r = PyObject_CallOneArg(heapify_fn, fresh);
        if (r == NULL) {
            Py_DECREF(fresh);
            return -1;
        }
        Py_DECREF(r);
        if (is_bid)
            Py_SETREF(book->bid_heap, fresh);
        else
            Py_SETREF(book->ask_heap, fresh);
    }
    return 0;
}

/* Best tick of one side after lazy deletion, as a new reference; NULL without error when the side is empty.
 * Mirrors OrderBook.best_bid_tick / best_ask_tick. */
static PyObject *
best_tick(BookCoreObject *book, int is_bid, int *err)
{
    PyObject *heap = is_bid ? book->bid_heap : book->ask_heap;
    PyObject *levels = is_bid ? book->bids : book->asks;
    *err = 0;
    while (PyList_GET_SIZE(heap) > 0) {
        PyObject *top = PyList_GET_ITEM(heap, 0);
        PyObject *tick = is_bid ? PyNumber_Negative(top) : Py_NewRef(top);
        if (tick == NULL) {
            *err = 1;
            return NULL;
        }
        int has = PyDict_Contains(levels, tick);
        if (has < 0) {
            Py_DECREF(tick);
            *err = 1;
            return NULL;
        }
        if (has)
            return tick;
        Py_DECREF(tick);
        PyObject *r = PyObject_CallOneArg(heappop_fn, heap);
        if (r == NULL) {
            *err = 1;
            return NULL;
        }
        Py_DECREF(r);
    }
    return NULL;
}

/* 1 when best bid >= best ask, 0 when not, -1 with an error set. Mirrors OrderBook.crossed. */
static int
book_crossed(BookCoreObject *book)
{
    int err;
    PyObject *bid = best_tick(book, 1, &err);
    if (bid == NULL)
        return err ? -1 : 0;
    PyObject *ask = best_tick(book, 0, &err);
    if (ask == NULL) {
        Py_DECREF(bid);
        return err ? -1 : 0;
    }
    int r = PyObject_RichCompareBool(bid, ask, Py_GE);
    Py_DECREF(bid);
    Py_DECREF(ask);
    return r;
}

/* ------------------------------------------------------------------------------------------- apply_frame */

/* Receive bookkeeping, as L2BookSync.note_receive does: the time of the frame (time.monotonic()'s clock) and
 * an EWMA of its latency (wall clock now - data.time, in ms), when the frame carries a time. */
static inline void
note_receive(SyncCoreObject *sync, long long time_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    sync->last_rx = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    if (time_ms) {
        clock_gettime(CLOCK_REALTIME, &ts);
        double lat = ((double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec * 1e-6) - (double)time_ms;
        sync->latency_ms = Py_IS_NAN(sync->latency_ms) ? lat : sync->latency_ms * 0.99 + lat * 0.01;
    }
}

static PyObject *
apply_frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "apply_frame(text, syncs) takes 2 arguments");
        return NULL;
    }
    PyObject *text = args[0], *syncs = args[1];
    const char *buf;
    Py_ssize_t len;
    if (PyUnicode_CheckExact(text)) {
        if (!PyUnicode_IS_ASCII(text))
            return Py_NewRef(FALLBACK);
        buf = (const char *)PyUnicode_DATA(text);
        len = PyUnicode_GET_LENGTH(text);
    }
    else if (PyBytes_CheckExact(text)) {
        buf = PyBytes_AS_STRING(text);
        len = PyBytes_GET_SIZE(text);
    }
    else {
        return Py_NewRef(FALLBACK);
    }
    if (!PyDict_CheckExact(syncs))
        return Py_NewRef(FALLBACK);

    Frame f = {{NULL, 0}, 0, 0, 0, 0, 0};
    int r = scan_frame(buf, len, &f);
    if (r == -2)
        return NULL;
    if (r < 0)
        return Py_NewRef(FALLBACK);

    PyObject *symbol = PyUnicode_New(f.symbol.n, 127);
    if (symbol == NULL)
        return NULL;
    memcpy(PyUnicode_DATA(symbol), f.symbol.s, f.symbol.n);
    PyObject *obj = PyDict_GetItemWithError(syncs, symbol); /* borrowed */
    Py_DECREF(symbol);
    if (obj == NULL) {
        if (PyErr_Occurred())
            return NULL;
        return Py_NewRef(FALLBACK); /* first sight of this symbol: the Python path creates its sync */
    }
    if (!PyObject_TypeCheck(obj, SyncCoreType))
        return Py_NewRef(FALLBACK);
    SyncCoreObject *sync = (SyncCoreObject *)obj;
    if (!sync->live || sync->book == NULL || !PyObject_TypeCheck(sync->book, BookCoreType))
        return Py_NewRef(FALLBACK);
    BookCoreObject *book = (BookCoreObject *)sync->book;
    if (book->bids == NULL || book->asks == NULL || book->bid_heap == NULL || book->ask_heap == NULL
        || !PyDict_CheckExact(book->bids) || !PyDict_CheckExact(book->asks)
        || !PyList_CheckExact(book->bid_heap) || !PyList_CheckExact(book->ask_heap))
        return Py_NewRef(FALLBACK);

    long long seq = sync->seq;
    if (f.end <= seq) { /* stale or duplicate (protocol.md section 8.2 step 6) */
        note_receive(sync, f.time_ms);
        sync->messages++;
        sync->stale++;
        Py_RETURN_NONE;
    }
    if (f.start > seq + 1 || f.start <= seq)
        return Py_NewRef(FALLBACK); /* a gap, or a delta straddling the book: the Python path */

    /* Validate every change before touching the book. */
    Py_ssize_t n = f.n_asks + f.n_bids;
    if (grow((void **)&parsed_buf, &parsed_cap, n, sizeof(Parsed)) < 0)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; i++) {
        RawChange *ch = &changes_buf[i];
        if (ch->price.n == 1 && ch->price.s[0] == '0') {
            parsed_buf[i].kind = 2;
            continue;
        }
        int kind = size_kind(ch->size);
        if (kind < 0 || price_tick(ch->price, book->scale, &parsed_buf[i].tick) < 0)
            return Py_NewRef(FALLBACK);
        parsed_buf[i].kind = kind;
    }

    /* Apply: asks then bids, as L2BookSync._apply does. */
    note_receive(sync, f.time_ms);
    sync->messages++;
    int touched = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (parsed_buf[i].kind == 2) {
            sync->price0++;
            continue;
        }
        if (set_level(book, i >= f.n_asks, parsed_buf[i].tick, changes_buf[i].size, parsed_buf[i].kind) < 0)
            return NULL;
        touched = 1;
    }
    sync->seq = f.end;
    book->sequence = f.end;
    sync->applied++;
    if (touched) {
        int crossed = book_crossed(book);
        if (crossed < 0)
            return NULL;
        if (crossed)
            return Py_NewRef(obj); /* the caller counts it and starts the resync */
    }
    Py_RETURN_NONE;
}

/* ----------------------------------------------------------------------------------------------- module */

static PyMethodDef l2fast_methods[] = {
    {"apply_frame", (PyCFunction)(void (*)(void))apply_frame, METH_FASTCALL,
     "apply_frame(text, syncs) -> None | FALLBACK | sync\n\n"
     "Apply one raw level-2 frame to the live book of its symbol, or return FALLBACK having changed nothing."},
    {NULL, NULL, 0, NULL}
};

static int
l2fast_exec(PyObject *module)
{
    PyObject *bookcore = PyImport_ImportModule("dashboard.domain._bookcore");
    if (bookcore == NULL)
        return -1;
    PyObject *bt = PyObject_GetAttrString(bookcore, "BookCore");
    Py_DECREF(bookcore);
    if (bt == NULL)
        return -1;
    if (!PyType_Check(bt)) {
        Py_DECREF(bt);
        PyErr_SetString(PyExc_TypeError, "BookCore is not a type");
        return -1;
    }
    Py_XSETREF(BookCoreType, (PyTypeObject *)bt);

    PyObject *heapq = PyImport_ImportModule("heapq");
    if (heapq == NULL)
        return -1;
    Py_XSETREF(heappush_fn, PyObject_GetAttrString(heapq, "heappush"));
    Py_XSETREF(heappop_fn, PyObject_GetAttrString(heapq, "heappop"));
    Py_XSETREF(heapify_fn, PyObject_GetAttrString(heapq, "heapify"));
    Py_DECREF(heapq);
    if (heappush_fn == NULL || heappop_fn == NULL || heapify_fn == NULL)
        return -1;

    PyObject *st = PyType_FromModuleAndSpec(module, &synccore_spec, NULL);
    if (st == NULL)
        return -1;
    Py_XSETREF(SyncCoreType, (PyTypeObject *)Py_NewRef(st));
    if (PyModule_AddObject(module, "SyncCore", st) < 0) {
        Py_DECREF(st);
        return -1;
    }
    if (FALLBACK == NULL) {
        FALLBACK = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type);
        if (FALLBACK == NULL)
            return -1;
    }
    if (PyModule_AddObjectRef(module, "FALLBACK", FALLBACK) < 0)
        return -1;
    return 0;
}

static PyModuleDef_Slot l2fast_module_slots[] = {
    {Py_mod_exec, l2fast_exec},
    {0, NULL},
};

static struct PyModuleDef l2fast_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "dashboard.kucoin.client._l2fast",
    .m_doc = "Compiled level-2 hot path: raw frame -> live book, or FALLBACK to the Python path.",
    .m_size = 0,
    .m_methods = l2fast_methods,
    .m_slots = l2fast_module_slots,
};

PyMODINIT_FUNC
PyInit__l2fast(void)
{
    return PyModuleDef_Init(&l2fast_module);
}
