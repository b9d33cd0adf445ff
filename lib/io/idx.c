/* IDX reader (LeCun's MNIST format), plain or gzip-compressed.
 *
 * Every file goes through zlib's gz* interface: gzread decompresses a gzip stream (found
 * by its 1f 8b magic) and reads any other file unchanged, so there is one reading path.
 * The header is validated before anything sized by it is allocated: against the file's
 * size for a plain file, and for a gzip file, whose uncompressed size is not known in
 * advance, by reading the data in chunks into a buffer that grows only as data arrives. A
 * small file claiming billions of elements therefore fails after a few kilobytes. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "data_impl.h"

enum {
    READ_CHUNK = 1 << 20,  /* bytes per gzread call, and the first buffer for gzip data */
    GZ_BUFFER = 1 << 17,   /* zlib's input buffer: fewer read() calls than its 8 KiB default */
};

typedef struct idx_type {
    uint8_t code;
    uint8_t size;
    bool is_float;
    const char *name;
} idx_type;

static const idx_type IDX_TYPES[] = {
    {0x08, 1, false, "uint8"}, {0x09, 1, false, "int8"},    {0x0B, 2, false, "int16"},
    {0x0C, 4, false, "int32"}, {0x0D, 4, true, "float32"}, {0x0E, 8, true, "float64"},
};

typedef struct idx_file {
    const char *path;
    gzFile gz;
    int64_t plain_size; /* size of a plain regular file; -1 for gzip or unknown */
    bool cut;           /* the gzip stream ended before its end marker */
} idx_file;

typedef struct idx_header {
    const idx_type *type;
    int ndim;
    int64_t shape[CG_MAX_DIMS];
    int64_t numel;
    int64_t header_bytes;
    int64_t data_bytes;
} idx_header;

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- reading ---- */

/* Report zlib's current error: an OS error, memory, or a corrupt gzip stream. */
static cg_status gz_fail(const idx_file *f)
{
    int err = Z_OK;
    const char *msg = gzerror(f->gz, &err);
    if (err == Z_ERRNO) /* zlib's message is then strerror(errno) of the failed read */
        return cg__error(CG_ERR_IO, "idx: %s: read error: %s", f->path, msg);
    if (err == Z_MEM_ERROR)
        return cg__error(CG_ERR_NOMEM, "idx: %s: out of memory in zlib", f->path);
    return cg__error(CG_ERR_FORMAT, "idx: %s: corrupt gzip stream (%s)", f->path, msg);
}

/* Read up to n bytes into buf; *got receives the count. A read error or a corrupt gzip
 * stream fails; a gzip stream that stops early only sets f->cut, so the caller reports the
 * shortfall with the byte counts it knows. */
static cg_status read_some(idx_file *f, void *buf, size_t n, size_t *got)
{
    *got = 0;
    while (*got < n) {
        size_t ask = n - *got < READ_CHUNK ? n - *got : READ_CHUNK;
        int r = gzread(f->gz, (char *)buf + *got, (unsigned)ask);
        if (r < 0)
            return gz_fail(f);
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    if (*got < n) {
        int err = Z_OK;
        gzerror(f->gz, &err);
        if (err == Z_BUF_ERROR)
            f->cut = true; /* zlib: "unexpected end of file" inside a gzip stream */
        else if (err != Z_OK)
            return gz_fail(f);
    }
    return CG_OK;
}

static const char *cut_note(const idx_file *f)
{
    return f->cut ? " (the gzip stream is cut short)" : "";
}

/* Open path for gzread, remembering a plain regular file's size. fstat and the reads use
 * one descriptor, so the size belongs to the file actually read. */
static cg_status idx_open(const char *path, idx_file *f)
{
    *f = (idx_file){.path = path, .plain_size = -1};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cg__error(CG_ERR_IO, "idx: cannot open %s: %s", path, strerror(errno));
    struct stat st;
    int err = fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    if (err) {
        close(fd);
        return cg__error(CG_ERR_IO, "idx: cannot read %s: %s", path, strerror(err));
    }
    f->gz = gzdopen(fd, "rb");
    if (!f->gz) {
        close(fd);
        return cg__error(CG_ERR_NOMEM, "idx: %s: out of memory opening the file", path);
    }
    gzbuffer(f->gz, GZ_BUFFER);
    /* gzdirect peeks at the first bytes: true unless they are the gzip magic 1f 8b. */
    if (gzdirect(f->gz) && S_ISREG(st.st_mode))
        f->plain_size = (int64_t)st.st_size;
    return CG_OK;
}

/* ---- the header ---- */

static const idx_type *find_type(uint8_t code)
{
    for (size_t i = 0; i < sizeof IDX_TYPES / sizeof IDX_TYPES[0]; i++)
        if (IDX_TYPES[i].code == code)
            return &IDX_TYPES[i];
    return NULL;
}

/* The 4-byte magic: 0, 0, element type, number of dimensions. */
static cg_status parse_magic(idx_file *f, idx_header *h)
{
    uint8_t m[4];
    size_t got;
    cg_status st = read_some(f, m, 4, &got);
    if (st != CG_OK)
        return st;
    if (got < 4)
        return cg__error(CG_ERR_FORMAT, "idx: %s: truncated header: %zu of 4 magic bytes%s",
                         f->path, got, cut_note(f));
    if (m[0] != 0 || m[1] != 0)
        return cg__error(CG_ERR_FORMAT,
                         "idx: %s: not an IDX file (magic %02x %02x %02x %02x, expected 00 00 "
                         "<type> <ndims>)", f->path, m[0], m[1], m[2], m[3]);
    h->type = find_type(m[2]);
    if (!h->type)
        return cg__error(CG_ERR_FORMAT,
                         "idx: %s: unknown element type 0x%02x (known: 08 09 0B 0C 0D 0E)",
                         f->path, m[2]);
    if (m[3] < 1 || m[3] > CG_MAX_DIMS)
        return cg__error(CG_ERR_FORMAT, "idx: %s: %d dimensions (supported: 1 to %d)", f->path,
                         m[3], CG_MAX_DIMS);
    h->ndim = m[3];
    return CG_OK;
}

/* The dimensions: each > 0, their product at most CG_IDX_MAX_ELEMENTS. Each size is below
 * 2^32 and the running product stays at most 2^31, so the product cannot overflow. */
static cg_status parse_dims(idx_file *f, idx_header *h)
{
    uint8_t d[4 * CG_MAX_DIMS];
    size_t need = 4 * (size_t)h->ndim, got;
    cg_status st = read_some(f, d, need, &got);
    if (st != CG_OK)
        return st;
    if (got < need)
        return cg__error(CG_ERR_FORMAT, "idx: %s: truncated header: %zu of %zu dimension bytes%s",
                         f->path, got, need, cut_note(f));
    h->numel = 1;
    for (int i = 0; i < h->ndim; i++) {
        h->shape[i] = be32(d + 4 * i);
        if (h->shape[i] == 0)
            return cg__error(CG_ERR_FORMAT, "idx: %s: dimension %d is 0", f->path, i);
        h->numel *= h->shape[i];
        if (h->numel > CG_IDX_MAX_ELEMENTS) {
            char buf[128];
            return cg__error(CG_ERR_FORMAT, "idx: %s: dimensions %s exceed %lld elements",
                             f->path, cg__shape_str(h->ndim, h->shape, buf, sizeof buf),
                             (long long)CG_IDX_MAX_ELEMENTS);
        }
    }
    h->header_bytes = 4 + (int64_t)need;
    h->data_bytes = h->numel * h->type->size;
    return CG_OK;
}

/* A plain file's size must be exactly header plus data: checked before allocating. */
static cg_status check_plain_size(const idx_file *f, const idx_header *h)
{
    if (f->plain_size < 0)
        return CG_OK;
    int64_t avail = f->plain_size - h->header_bytes;
    if (avail < h->data_bytes)
        return cg__error(CG_ERR_FORMAT,
                         "idx: %s: truncated data: the header promises %lld bytes, the file "
                         "holds %lld", f->path, (long long)h->data_bytes, (long long)avail);
    if (avail > h->data_bytes)
        return cg__error(CG_ERR_FORMAT, "idx: %s: %lld unexpected bytes after the %lld bytes "
                         "of data", f->path, (long long)(avail - h->data_bytes),
                         (long long)h->data_bytes);
    return CG_OK;
}

/* ---- the data ---- */

/* Grow the raw buffer towards cap: double it, never past cap. */
static cg_status grow(uint8_t **buf, size_t *size, size_t cap)
{
    size_t n = *size * 2 < cap ? *size * 2 : cap;
    uint8_t *p = cg__realloc(*buf, *size, n);
    if (!p)
        return cg__error(CG_ERR_NOMEM, "idx: out of memory growing a buffer to %zu bytes", n);
    *buf = p;
    *size = n;
    return CG_OK;
}

/* Read the data bytes into a new buffer of h->data_bytes (the caller frees it). The buffer
 * starts at the whole size for a plain file (already checked) and at READ_CHUNK for gzip,
 * growing only as decompressed data arrives. */
static cg_status read_data(idx_file *f, const idx_header *h, uint8_t **out)
{
    size_t want = (size_t)h->data_bytes, have = 0;
    size_t size = f->plain_size >= 0 || want < READ_CHUNK ? want : READ_CHUNK;
    uint8_t *buf = cg__malloc(size);
    cg_status st = buf ? CG_OK : cg__error(CG_ERR_NOMEM, "idx: out of memory (%zu bytes)", size);
    while (st == CG_OK && have < want) {
        if (have == size && (st = grow(&buf, &size, want)) != CG_OK)
            break;
        size_t ask = size - have, got;
        st = read_some(f, buf + have, ask, &got);
        have += got;
        if (got < ask)
            break; /* end of input */
    }
    if (st == CG_OK && have < want)
        st = cg__error(CG_ERR_FORMAT, "idx: %s: truncated data: the header promises %zu bytes, "
                       "the file holds %zu%s", f->path, want, have, cut_note(f));
    if (st != CG_OK) {
        cg__free(buf, size);
        return st;
    }
    *out = buf;
    return CG_OK;
}

/* Nothing may follow the data; a gzip stream must also reach its end marker (whose CRC
 * check zlib makes on this last read). */
static cg_status check_end(idx_file *f, const idx_header *h)
{
    uint8_t extra;
    size_t got;
    cg_status st = read_some(f, &extra, 1, &got);
    if (st != CG_OK)
        return st;
    if (got)
        return cg__error(CG_ERR_FORMAT, "idx: %s: unexpected bytes after the %lld bytes of data",
                         f->path, (long long)h->data_bytes);
    if (f->cut)
        return cg__error(CG_ERR_FORMAT, "idx: %s: the gzip stream is cut short after the data",
                         f->path);
    return CG_OK;
}

/* Element i of the big-endian data, as double (exact for every IDX type). */
static inline double decode(const uint8_t *raw, uint8_t code, int64_t i)
{
    switch (code) {
    case 0x08: return raw[i];
    case 0x09: return (int8_t)raw[i];
    case 0x0B: return (int16_t)(uint16_t)(raw[2 * i] << 8 | raw[2 * i + 1]);
    case 0x0C: return (int32_t)be32(raw + 4 * i);
    case 0x0D: {
        uint32_t u = be32(raw + 4 * i);
        float v;
        memcpy(&v, &u, sizeof v);
        return v;
    }
    default: { /* 0x0E */
        uint64_t u = (uint64_t)be32(raw + 8 * i) << 32 | be32(raw + 8 * i + 4);
        double v;
        memcpy(&v, &u, sizeof v);
        return v;
    }
    }
}

static void convert(const uint8_t *raw, const idx_header *h, cg_tensor *t)
{
    uint8_t code = h->type->code;
    int64_t n = h->numel;
    void *dst = cg_tensor_data(t);
    if (t->dtype == CG_F32 && code == 0x08) { /* the common case: image bytes */
        for (int64_t i = 0; i < n; i++)
            ((float *)dst)[i] = raw[i];
    } else if (t->dtype == CG_F32) {
        for (int64_t i = 0; i < n; i++)
            ((float *)dst)[i] = (float)decode(raw, code, i);
    } else if (t->dtype == CG_F64) {
        for (int64_t i = 0; i < n; i++)
            ((double *)dst)[i] = decode(raw, code, i);
    } else {
        for (int64_t i = 0; i < n; i++)
            ((int64_t *)dst)[i] = (int64_t)decode(raw, code, i);
    }
}

/* ---- the API ---- */

static cg_dtype default_dtype(const idx_header *h)
{
    if (h->type->code == 0x0E)
        return CG_F64;
    if (h->type->is_float)
        return CG_F32;
    if (h->ndim == 1)
        return CG_I64;
    return h->type->code == 0x0C ? CG_F64 : CG_F32;
}

/* What to read the file into: a tensor of want_dtype (< 0: the default) or, with bytes,
 * a byte array that takes the raw data over. */
typedef struct idx_target {
    int want_dtype;
    bool bytes;
    cg_tensor *tensor;
    cg_bytes *array;
} idx_target;

/* Hand the raw data to the target; *raw is NULL when it was taken over. */
static cg_status store(const idx_header *h, uint8_t **raw, idx_target *t)
{
    if (t->bytes) {
        t->array = cg__bytes_wrap(h->ndim, h->shape, *raw);
        if (!t->array)
            return cg_last_status();
        *raw = NULL;
        return CG_OK;
    }
    cg_dtype dtype = t->want_dtype < 0 ? default_dtype(h) : (cg_dtype)t->want_dtype;
    t->tensor = cg__tensor_alloc(NULL, dtype, h->ndim, h->shape);
    if (!t->tensor)
        return cg_last_status();
    convert(*raw, h, t->tensor);
    return CG_OK;
}

/* Header and size checks; then the data, the end check and the conversion. */
static cg_status read_file(idx_file *f, idx_target *t)
{
    idx_header h;
    cg_status st = parse_magic(f, &h);
    if (st == CG_OK)
        st = parse_dims(f, &h);
    if (st == CG_OK && t->want_dtype == CG_I64 && h.type->is_float)
        st = cg__error(CG_ERR_DTYPE, "idx: %s: %s data cannot be read as i64", f->path,
                       h.type->name);
    if (st == CG_OK && t->bytes && h.type->code != 0x08)
        st = cg__error(CG_ERR_DTYPE, "idx: %s: %s data cannot be read as bytes (uint8 only)",
                       f->path, h.type->name);
    if (st == CG_OK)
        st = check_plain_size(f, &h);
    uint8_t *raw = NULL;
    if (st == CG_OK)
        st = read_data(f, &h, &raw);
    if (st == CG_OK)
        st = check_end(f, &h);
    if (st == CG_OK)
        st = store(&h, &raw, t);
    if (raw)
        cg__free(raw, (size_t)h.data_bytes);
    return st;
}

static cg_status idx_read(const char *path, idx_target *t)
{
    if (!path)
        return cg__error(CG_ERR_NULL, "idx_read: NULL path");
    idx_file f;
    cg_status st = idx_open(path, &f);
    if (st != CG_OK)
        return st;
    st = read_file(&f, t);
    gzclose_r(f.gz);
    return st;
}

static cg_status idx_read_tensor(const char *path, int want_dtype, cg_tensor **out)
{
    if (!out)
        return cg__error(CG_ERR_NULL, "idx_read: NULL result pointer");
    idx_target t = {.want_dtype = want_dtype};
    cg_status st = idx_read(path, &t);
    *out = t.tensor;
    return st;
}

cg_status cg_idx_read(const char *path, cg_tensor **out)
{
    return idx_read_tensor(path, -1, out);
}

cg_status cg_idx_read_bytes(const char *path, cg_bytes **out)
{
    if (!out)
        return cg__error(CG_ERR_NULL, "idx_read_bytes: NULL result pointer");
    idx_target t = {.want_dtype = -1, .bytes = true};
    cg_status st = idx_read(path, &t);
    *out = t.array;
    return st;
}

cg_status cg_idx_read_as(const char *path, cg_dtype dtype, cg_tensor **out)
{
    if (dtype != CG_F32 && dtype != CG_F64 && dtype != CG_I64) {
        if (out)
            *out = NULL;
        return cg__error(CG_ERR_VALUE, "idx_read_as: unknown dtype %d", (int)dtype);
    }
    return idx_read_tensor(path, (int)dtype, out);
}
