/* Safetensors files: writing (atomically) and reading with full validation of the header.
 *
 * The reader trusts nothing in the file. Sizes are checked against the file's actual size
 * before anything is allocated from them: the header length against the file and a 100 MB
 * cap (the reference implementation's), every tensor's byte range against the data
 * buffer, and shapes against overflow. The JSON itself is parsed by cJSON, whose nesting
 * limit keeps hostile nesting off the stack; numbers reach us as doubles, so a count is
 * accepted only when it is an integer below 2^53, where doubles are exact. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "atomic.h"
#include "cgrad/io.h"

#define HEADER_CAP 100000000u /* bytes of JSON header accepted at most */
#define EXACT_MAX 9007199254740992.0 /* 2^53: every integer below is exact in a double */

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define CG_IO_BIG_ENDIAN 1
#else
#define CG_IO_BIG_ENDIAN 0
#endif

/* The format's dtypes, their element sizes, and the libcgrad dtype (-1: not held). */
static const struct {
    const char *name;
    int size;
    int cg;
} dtypes[] = {
    {"F32", 4, CG_F32}, {"F64", 8, CG_F64}, {"I64", 8, CG_I64},   {"BOOL", 1, -1},
    {"U8", 1, -1},      {"I8", 1, -1},      {"F8_E5M2", 1, -1},   {"F8_E4M3", 1, -1},
    {"I16", 2, -1},     {"U16", 2, -1},     {"F16", 2, -1},       {"BF16", 2, -1},
    {"I32", 4, -1},     {"U32", 4, -1},     {"U64", 8, -1},
};
#define NDTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

static const char *format_name(cg_dtype d)
{
    return d == CG_F32 ? "F32" : d == CG_F64 ? "F64" : "I64";
}

typedef struct entry {
    char *name;
    int dtype; /* index into dtypes[] */
    int ndim;
    int64_t shape[CG_MAX_DIMS];
    uint64_t begin, end; /* byte range in the data buffer */
} entry;

struct cg_safetensors {
    FILE *f;
    char *path;
    uint64_t data_start; /* 8 + header length */
    int n, cap; /* entries filled, allocated */
    entry *entries;
    int nmeta;
    char **meta; /* keys and values interleaved: meta[2i], meta[2i + 1] */
};

static bool big_endian_refused(const char *who)
{
    if (CG_IO_BIG_ENDIAN)
        cg__error(CG_ERR_STATE, "%s: big-endian hosts are not supported", who);
    return CG_IO_BIG_ENDIAN;
}

/* Strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF). With no_nul, a
 * NUL byte is refused too (JSON text never holds one raw). */
static bool valid_utf8(const unsigned char *s, size_t n, bool no_nul)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (c == 0 && no_nul)
                return false;
            i++;
            continue;
        }
        int len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (len == 0 || i + (size_t)len > n)
            return false;
        uint32_t cp = c & (0x7Fu >> len);
        for (int k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += (size_t)len;
    }
    return true;
}

static bool valid_string(const char *s) { return valid_utf8((const unsigned char *)s, strlen(s), true); }

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first string in s[0..n) that appears twice, or NULL. scratch holds n pointers. */
static const char *find_duplicate(const char **scratch, size_t n)
{
    if (n < 2)
        return NULL;
    qsort(scratch, n, sizeof *scratch, cmp_str);
    for (size_t i = 1; i < n; i++)
        if (strcmp(scratch[i - 1], scratch[i]) == 0)
            return scratch[i];
    return NULL;
}

/* ================================ writing ================================ */

static cJSON *raw_u64(uint64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    return cJSON_CreateRaw(buf);
}

/* Check the arguments of a save; CG_OK or the status recorded. */
static cg_status check_save_args(const char *path, const char *const *names,
                                 cg_tensor *const *tensors, int n, const char *const *keys,
                                 const char *const *values, int nmeta, const char *who)
{
    if (!path)
        return cg__error(CG_ERR_NULL, "%s: NULL path", who);
    if (n < 0 || nmeta < 0)
        return cg__error(CG_ERR_VALUE, "%s: negative count (n = %d, nmeta = %d)", who, n, nmeta);
    if ((n > 0 && (!names || !tensors)) || (nmeta > 0 && (!keys || !values)))
        return cg__error(CG_ERR_NULL, "%s: NULL array", who);
    for (int i = 0; i < n; i++) {
        if (!names[i])
            return cg__error(CG_ERR_NULL, "%s: NULL name at index %d", who, i);
        if (!tensors[i])
            return cg__error(CG_ERR_NULL, "%s: tensor '%s' is NULL", who, names[i]);
        if (!cg__check_tensor(tensors[i], who))
            return cg__error(CG_ERR_STATE, "%s: tensor '%s' is not a live tensor", who, names[i]);
        if (!names[i][0] || !strcmp(names[i], "__metadata__") || !valid_string(names[i]))
            return cg__error(CG_ERR_VALUE, "%s: invalid tensor name \"%s\" (empty, reserved or "
                             "not UTF-8)", who, names[i]);
    }
    for (int i = 0; i < nmeta; i++) {
        if (!keys[i] || !values[i])
            return cg__error(CG_ERR_NULL, "%s: NULL metadata key or value at index %d", who, i);
        if (!valid_string(keys[i]) || !valid_string(values[i]))
            return cg__error(CG_ERR_VALUE, "%s: metadata \"%s\" is not valid UTF-8", who, keys[i]);
    }
    size_t most = (size_t)(n > nmeta ? n : nmeta);
    const char **scratch = most ? cg__malloc(most * sizeof *scratch) : NULL;
    if (most && !scratch)
        return cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    if (n)
        memcpy(scratch, names, (size_t)n * sizeof *scratch);
    const char *dup = find_duplicate(scratch, (size_t)n);
    cg_status st = CG_OK;
    if (dup)
        st = cg__error(CG_ERR_VALUE, "%s: duplicate tensor name \"%s\"", who, dup);
    if (st == CG_OK && nmeta) {
        memcpy(scratch, keys, (size_t)nmeta * sizeof *scratch);
        if ((dup = find_duplicate(scratch, (size_t)nmeta)))
            st = cg__error(CG_ERR_VALUE, "%s: duplicate metadata key \"%s\"", who, dup);
    }
    if (scratch)
        cg__free(scratch, most * sizeof *scratch);
    return st;
}

/* The JSON header for the tensors laid out one after the other in the given order, or
 * NULL on out of memory (cJSON allocates with malloc). */
static char *build_header(const char *const *names, cg_tensor *const *tensors, int n,
                          const char *const *keys, const char *const *values, int nmeta)
{
    cJSON *root = cJSON_CreateObject();
    bool ok = root != NULL;
    if (ok && nmeta > 0) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        ok = meta != NULL;
        for (int i = 0; ok && i < nmeta; i++)
            ok = cJSON_AddStringToObject(meta, keys[i], values[i]) != NULL;
    }
    uint64_t offset = 0;
    for (int i = 0; ok && i < n; i++) {
        const cg_tensor *t = tensors[i];
        uint64_t nbytes = (uint64_t)cg_tensor_numel(t) * cg_dtype_size(t->dtype);
        cJSON *e = cJSON_AddObjectToObject(root, names[i]), *shape = NULL, *offs = NULL;
        ok = e && cJSON_AddStringToObject(e, "dtype", format_name(t->dtype)) &&
             (shape = cJSON_AddArrayToObject(e, "shape")) &&
             (offs = cJSON_AddArrayToObject(e, "data_offsets"));
        for (int d = 0; ok && d < t->ndim; d++)
            ok = cJSON_AddItemToArray(shape, raw_u64((uint64_t)t->shape[d]));
        ok = ok && cJSON_AddItemToArray(offs, raw_u64(offset)) &&
             cJSON_AddItemToArray(offs, raw_u64(offset + nbytes));
        offset += nbytes;
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return text;
}

static bool write_tensor(FILE *f, const cg_tensor *t)
{
    size_t nbytes = (size_t)cg_tensor_numel(t) * cg_dtype_size(t->dtype);
    if (nbytes == 0)
        return true;
    if (cg_tensor_is_contiguous(t))
        return fwrite(cg_tensor_data(t), 1, nbytes, f) == nbytes;
    cg_tensor *c = cg_tensor_clone(t); /* views: row-major order through a contiguous copy */
    if (!c)
        return false;
    bool ok = fwrite(cg_tensor_data(c), 1, nbytes, f) == nbytes;
    cg_tensor_free(c);
    return ok;
}

cg_status cg_safetensors_save(const char *path, const char *const *names,
                              cg_tensor *const *tensors, int n, const char *const *meta_keys,
                              const char *const *meta_values, int nmeta)
{
    static const char *const who = "cg_safetensors_save";
    if (big_endian_refused(who))
        return CG_ERR_STATE;
    cg_status st = check_save_args(path, names, tensors, n, meta_keys, meta_values, nmeta, who);
    if (st != CG_OK)
        return st;
    char *header = build_header(names, tensors, n, meta_keys, meta_values, nmeta);
    if (!header)
        return cg__error(CG_ERR_NOMEM, "%s: out of memory building the header", who);
    /* Pad the header with spaces so the data starts 8-byte aligned, as the reference
     * writer does (readers may map the file and use the data in place). */
    size_t len = strlen(header), padded = (len + 7) / 8 * 8;
    unsigned char prefix[8];
    for (int k = 0; k < 8; k++)
        prefix[k] = (unsigned char)((uint64_t)padded >> (8 * k));

    cg__atomic_file af;
    st = cg__atomic_open(&af, path, who);
    if (st != CG_OK) {
        cJSON_free(header);
        return st;
    }
    uint64_t errors_before = cg__error_count();
    bool ok = fwrite(prefix, 1, 8, af.f) == 8 && fwrite(header, 1, len, af.f) == len;
    for (size_t k = len; ok && k < padded; k++)
        ok = fputc(' ', af.f) != EOF;
    cJSON_free(header);
    for (int i = 0; ok && i < n; i++)
        ok = write_tensor(af.f, tensors[i]);
    if (!ok) {
        int e = errno;
        char eb[128];
        cg__atomic_abort(&af);
        if (cg__error_count() != errors_before) /* the clone of a view failed */
            return cg_last_status();
        return cg__error(CG_ERR_IO, "%s: cannot write %s: %s", who, path,
                         cg__errno_text(e, eb, sizeof eb));
    }
    return cg__atomic_commit(&af, who);
}

/* ================================ reading ================================ */

/* An integer-valued JSON number in [0, limit], or -1. */
static int64_t json_count(const cJSON *item, double limit)
{
    if (!cJSON_IsNumber(item))
        return -1;
    double v = item->valuedouble;
    if (!(v >= 0 && v <= limit) || v != floor(v))
        return -1;
    return (int64_t)v;
}

static void free_handle(cg_safetensors *st)
{
    for (int i = 0; i < st->n; i++)
        if (st->entries[i].name)
            cg__free(st->entries[i].name, strlen(st->entries[i].name) + 1);
    if (st->entries)
        cg__free(st->entries, (size_t)st->cap * sizeof *st->entries);
    for (int i = 0; i < 2 * st->nmeta; i++)
        if (st->meta[i])
            cg__free(st->meta[i], strlen(st->meta[i]) + 1);
    if (st->meta)
        cg__free(st->meta, (size_t)st->nmeta * 2 * sizeof *st->meta);
    if (st->f)
        fclose(st->f);
    if (st->path)
        cg__free(st->path, strlen(st->path) + 1);
    cg__free(st, sizeof *st);
}

/* Fill e from the JSON object item; CG_ERR_FORMAT naming the tensor on any defect. */
static cg_status parse_entry(entry *e, const cJSON *item, const char *path)
{
    const char *name = item->string;
    if (!cJSON_IsObject(item))
        return cg__error(CG_ERR_FORMAT, "%s: tensor '%s': entry is not an object", path, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dt) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs))
        return cg__error(CG_ERR_FORMAT, "%s: tensor '%s': missing or ill-typed \"%s\"", path, name,
                         !cJSON_IsString(dt) ? "dtype" : !cJSON_IsArray(shape) ? "shape"
                                                                               : "data_offsets");
    e->dtype = -1;
    for (int k = 0; k < NDTYPES; k++)
        if (!strcmp(dt->valuestring, dtypes[k].name))
            e->dtype = k;
    if (e->dtype < 0)
        return cg__error(CG_ERR_FORMAT, "%s: tensor '%s': unknown dtype \"%.32s\"", path, name,
                         dt->valuestring);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > CG_MAX_DIMS)
        return cg__error(CG_ERR_FORMAT, "%s: tensor '%s': %d dimensions (at most %d)", path, name,
                         ndim, CG_MAX_DIMS);
    e->ndim = ndim;
    uint64_t numel = 1;
    int d = 0;
    const cJSON *dim;
    cJSON_ArrayForEach(dim, shape)
    {
        int64_t v = json_count(dim, EXACT_MAX - 1);
        if (v < 0)
            return cg__error(CG_ERR_FORMAT, "%s: tensor '%s': dimension %d is not an integer in "
                             "[0, 2^53)", path, name, d);
        e->shape[d++] = v;
        if (__builtin_mul_overflow(numel, (uint64_t)v, &numel))
            return cg__error(CG_ERR_FORMAT, "%s: tensor '%s': shape too large (overflow)", path, name);
    }
    uint64_t nbytes;
    if (__builtin_mul_overflow(numel, (uint64_t)dtypes[e->dtype].size, &nbytes) ||
        numel > (uint64_t)INT64_MAX)
        return cg__error(CG_ERR_FORMAT, "%s: tensor '%s': shape too large (overflow)", path, name);
    int64_t b = cJSON_GetArraySize(offs) == 2 ? json_count(cJSON_GetArrayItem(offs, 0), EXACT_MAX) : -1;
    int64_t en = b >= 0 ? json_count(cJSON_GetArrayItem(offs, 1), EXACT_MAX) : -1;
    if (b < 0 || en < 0 || en < b)
        return cg__error(CG_ERR_FORMAT, "%s: tensor '%s': data_offsets must be [begin, end] with "
                         "0 <= begin <= end", path, name);
    e->begin = (uint64_t)b;
    e->end = (uint64_t)en;
    if (e->end - e->begin != nbytes)
        return cg__error(CG_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] span %llu bytes, "
                         "but shape and dtype %s need %llu", path, name,
                         (unsigned long long)e->begin, (unsigned long long)e->end,
                         (unsigned long long)(e->end - e->begin), dtypes[e->dtype].name,
                         (unsigned long long)nbytes);
    return CG_OK;
}

static cg_status parse_metadata(cg_safetensors *st, const cJSON *meta, const char *path)
{
    if (!cJSON_IsObject(meta))
        return cg__error(CG_ERR_FORMAT, "%s: \"__metadata__\" is not an object", path);
    int n = cJSON_GetArraySize(meta);
    st->meta = cg__calloc((size_t)n * 2, sizeof *st->meta);
    if (n && !st->meta)
        return cg__error(CG_ERR_NOMEM, "%s: out of memory", path);
    st->nmeta = n;
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, meta)
    {
        if (!cJSON_IsString(it))
            return cg__error(CG_ERR_FORMAT, "%s: metadata \"%s\" is not a string", path, it->string);
        st->meta[2 * i] = cg__strdup(it->string);
        st->meta[2 * i + 1] = cg__strdup(it->valuestring);
        if (!st->meta[2 * i] || !st->meta[2 * i + 1])
            return cg__error(CG_ERR_NOMEM, "%s: out of memory", path);
        i++;
    }
    const char **scratch = n ? cg__malloc((size_t)n * sizeof *scratch) : NULL;
    if (n && !scratch)
        return cg__error(CG_ERR_NOMEM, "%s: out of memory", path);
    for (int k = 0; k < n; k++)
        scratch[k] = st->meta[2 * k];
    const char *dup = find_duplicate(scratch, (size_t)n);
    cg_status s = dup ? cg__error(CG_ERR_FORMAT, "%s: duplicate metadata key \"%s\"", path, dup) : CG_OK;
    if (scratch)
        cg__free(scratch, (size_t)n * sizeof *scratch);
    return s;
}

static int cmp_range(const void *a, const void *b)
{
    const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Names unique; ranges inside the buffer and tiling it exactly (no gap, no overlap). */
static cg_status check_layout(cg_safetensors *st, uint64_t buffer, const char *path)
{
    size_t n = (size_t)st->n;
    for (size_t i = 0; i < n; i++)
        if (st->entries[i].end > buffer)
            return cg__error(CG_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] out of the "
                             "data buffer (%llu bytes)", path, st->entries[i].name,
                             (unsigned long long)st->entries[i].begin,
                             (unsigned long long)st->entries[i].end, (unsigned long long)buffer);
    void **scratch = n ? cg__malloc(n * sizeof *scratch) : NULL;
    if (n && !scratch)
        return cg__error(CG_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++)
        scratch[i] = (void *)st->entries[i].name;
    const char *dup = find_duplicate((const char **)scratch, n);
    cg_status s = CG_OK;
    if (dup)
        s = cg__error(CG_ERR_FORMAT, "%s: duplicate tensor name '%s'", path, dup);
    for (size_t i = 0; i < n; i++)
        scratch[i] = &st->entries[i];
    if (s == CG_OK && n)
        qsort(scratch, n, sizeof *scratch, cmp_range);
    uint64_t pos = 0;
    for (size_t i = 0; s == CG_OK && i < n; i++) {
        const entry *e = scratch[i];
        if (e->begin < pos)
            s = cg__error(CG_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] overlap "
                          "another tensor's", path, e->name, (unsigned long long)e->begin,
                          (unsigned long long)e->end);
        else if (e->begin > pos)
            s = cg__error(CG_ERR_FORMAT, "%s: tensor '%s': gap of %llu bytes before its data "
                          "(the buffer must be fully indexed)", path, e->name,
                          (unsigned long long)(e->begin - pos));
        pos = e->end;
    }
    if (s == CG_OK && pos != buffer)
        s = cg__error(CG_ERR_FORMAT, "%s: %llu bytes after the last tensor's data", path,
                      (unsigned long long)(buffer - pos));
    if (scratch)
        cg__free(scratch, n * sizeof *scratch);
    return s;
}

/* Parse and validate the header text; fill st's entries and metadata. */
static cg_status parse_header(cg_safetensors *st, const char *text, size_t len, uint64_t buffer,
                              const char *path)
{
    if (len == 0 || text[0] != '{')
        return cg__error(CG_ERR_FORMAT, "%s: header does not start with '{'", path);
    if (!valid_utf8((const unsigned char *)text, len, true))
        return cg__error(CG_ERR_FORMAT, "%s: header is not valid UTF-8 text", path);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t at = end ? (size_t)(end - text) : 0;
        return cg__error(CG_ERR_FORMAT, "%s: header is not valid JSON (error near byte %zu of %zu)",
                         path, at, len);
    }
    cg_status s = CG_OK;
    for (const char *p = end; p < text + len && s == CG_OK; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            s = cg__error(CG_ERR_FORMAT, "%s: header has data after its JSON object (byte %zu)",
                          path, (size_t)(p - text));
    if (s == CG_OK && !cJSON_IsObject(root))
        s = cg__error(CG_ERR_FORMAT, "%s: header is not a JSON object", path);
    int count = 0, nmeta_items = 0;
    const cJSON *it;
    if (s == CG_OK) {
        cJSON_ArrayForEach(it, root)
        {
            if (!strcmp(it->string, "__metadata__"))
                nmeta_items++;
            else
                count++;
        }
        if (nmeta_items > 1)
            s = cg__error(CG_ERR_FORMAT, "%s: duplicate \"__metadata__\"", path);
    }
    if (s == CG_OK && count > 0) {
        st->entries = cg__calloc((size_t)count, sizeof *st->entries);
        if (!st->entries)
            s = cg__error(CG_ERR_NOMEM, "%s: out of memory", path);
        st->cap = count;
    }
    if (s == CG_OK) {
        cJSON_ArrayForEach(it, root)
        {
            if (!strcmp(it->string, "__metadata__")) {
                s = parse_metadata(st, it, path);
            } else {
                entry *e = &st->entries[st->n];
                if (!(e->name = cg__strdup(it->string)))
                    s = cg__error(CG_ERR_NOMEM, "%s: out of memory", path);
                else
                    st->n++;
                if (s == CG_OK)
                    s = parse_entry(e, it, path);
            }
            if (s != CG_OK)
                break;
        }
    }
    cJSON_Delete(root);
    if (s == CG_OK)
        s = check_layout(st, buffer, path);
    return s;
}

cg_safetensors *cg_safetensors_open(const char *path)
{
    static const char *const who = "cg_safetensors_open";
    char eb[128];
    if (big_endian_refused(who))
        return NULL;
    if (!path) {
        cg__error(CG_ERR_NULL, "%s: NULL path", who);
        return NULL;
    }
    cg_safetensors *st = cg__calloc(1, sizeof *st);
    if (!st || !(st->path = cg__strdup(path))) {
        if (st)
            cg__free(st, sizeof *st);
        cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
        return NULL;
    }
    struct stat sb;
    st->f = fopen(path, "rb");
    if (!st->f || fstat(fileno(st->f), &sb) != 0) {
        cg__error(CG_ERR_IO, "%s: cannot open %s: %s", who, path, cg__errno_text(errno, eb, sizeof eb));
        free_handle(st);
        return NULL;
    }
    if (!S_ISREG(sb.st_mode)) {
        cg__error(CG_ERR_IO, "%s: %s is not a regular file", who, path);
        free_handle(st);
        return NULL;
    }
    uint64_t size = (uint64_t)sb.st_size;
    unsigned char prefix[8];
    if (size < 8 || fread(prefix, 1, 8, st->f) != 8) {
        cg__error(CG_ERR_FORMAT, "%s: %s: file of %llu bytes is shorter than the 8-byte header "
                  "length", who, path, (unsigned long long)size);
        free_handle(st);
        return NULL;
    }
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--)
        hlen = (hlen << 8) | prefix[k];
    if (hlen > HEADER_CAP || hlen > size - 8) {
        cg__error(CG_ERR_FORMAT, "%s: %s: header length %llu exceeds %s (%llu bytes)", who, path,
                  (unsigned long long)hlen, hlen > HEADER_CAP ? "the 100 MB limit" : "the file",
                  (unsigned long long)(hlen > HEADER_CAP ? HEADER_CAP : size - 8));
        free_handle(st);
        return NULL;
    }
    char *text = cg__malloc((size_t)hlen + 1);
    if (!text) {
        cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
        free_handle(st);
        return NULL;
    }
    cg_status s = CG_OK;
    if (fread(text, 1, (size_t)hlen, st->f) != (size_t)hlen)
        s = cg__error(CG_ERR_IO, "%s: cannot read the header of %s", who, path);
    text[hlen] = '\0';
    st->data_start = 8 + hlen;
    if (s == CG_OK)
        s = parse_header(st, text, (size_t)hlen, size - 8 - hlen, path);
    cg__free(text, (size_t)hlen + 1);
    if (s != CG_OK) {
        free_handle(st);
        return NULL;
    }
    return st;
}

void cg_safetensors_close(cg_safetensors *st)
{
    if (st)
        free_handle(st);
}

int cg_safetensors_count(const cg_safetensors *st) { return st ? st->n : 0; }

static const entry *get_entry(const cg_safetensors *st, int i, const char *who)
{
    if (!st) {
        cg__error(CG_ERR_NULL, "%s: NULL handle", who);
        return NULL;
    }
    if (i < 0 || i >= st->n) {
        cg__error(CG_ERR_VALUE, "%s: no tensor %d (there are %d)", who, i, st->n);
        return NULL;
    }
    return &st->entries[i];
}

const char *cg_safetensors_name(const cg_safetensors *st, int i)
{
    const entry *e = get_entry(st, i, "cg_safetensors_name");
    return e ? e->name : NULL;
}

int cg_safetensors_find(const cg_safetensors *st, const char *name)
{
    if (!st || !name)
        return -1;
    for (int i = 0; i < st->n; i++)
        if (!strcmp(st->entries[i].name, name))
            return i;
    return -1;
}

const char *cg_safetensors_dtype_name(const cg_safetensors *st, int i)
{
    const entry *e = get_entry(st, i, "cg_safetensors_dtype_name");
    return e ? dtypes[e->dtype].name : NULL;
}

cg_status cg_safetensors_info(const cg_safetensors *st, int i, cg_dtype *dtype, int *ndim,
                              int64_t *shape)
{
    const entry *e = get_entry(st, i, "cg_safetensors_info");
    if (!e)
        return cg_last_status();
    if (ndim)
        *ndim = e->ndim;
    if (shape)
        memcpy(shape, e->shape, (size_t)e->ndim * sizeof *shape);
    if (dtypes[e->dtype].cg < 0)
        return cg__error(CG_ERR_DTYPE, "%s: tensor '%s' has dtype %s, which libcgrad does not hold",
                         st->path, e->name, dtypes[e->dtype].name);
    if (dtype)
        *dtype = (cg_dtype)dtypes[e->dtype].cg;
    return CG_OK;
}

/* Read e's bytes into dst (nbytes = e->end - e->begin). */
static cg_status read_bytes(cg_safetensors *st, const entry *e, void *dst)
{
    size_t nbytes = (size_t)(e->end - e->begin);
    if (nbytes == 0)
        return CG_OK;
    if (fseeko(st->f, (off_t)(st->data_start + e->begin), SEEK_SET) != 0 ||
        fread(dst, 1, nbytes, st->f) != nbytes)
        return cg__error(CG_ERR_IO, "%s: cannot read tensor '%s' (file changed or unreadable)",
                         st->path, e->name);
    return CG_OK;
}

cg_tensor *cg_safetensors_read(cg_safetensors *st, int i)
{
    cg_dtype dt;
    if (cg_safetensors_info(st, i, &dt, NULL, NULL) != CG_OK)
        return NULL;
    const entry *e = &st->entries[i];
    cg_tensor *t = cg__tensor_alloc(NULL, dt, e->ndim, e->shape);
    if (!t)
        return NULL;
    if (read_bytes(st, e, cg_tensor_data(t)) != CG_OK) {
        cg_tensor_free(t);
        return NULL;
    }
    return t;
}

cg_status cg_safetensors_read_into(cg_safetensors *st, int i, cg_tensor *dst)
{
    static const char *const who = "cg_safetensors_read_into";
    cg_dtype dt;
    if (cg_safetensors_info(st, i, &dt, NULL, NULL) != CG_OK)
        return cg_last_status();
    if (!cg__check_tensor(dst, who))
        return cg_last_status();
    const entry *e = &st->entries[i];
    if (dst->dtype != dt || dst->ndim != e->ndim ||
        memcmp(dst->shape, e->shape, (size_t)e->ndim * sizeof *e->shape)) {
        char a[128], b[128];
        return cg__error(CG_ERR_VALUE, "%s: tensor '%s' is %s %s in the file, the destination %s %s",
                         who, e->name, cg_dtype_name(dt), cg__shape_str(e->ndim, e->shape, a, sizeof a),
                         cg_dtype_name(dst->dtype), cg__shape_str(dst->ndim, dst->shape, b, sizeof b));
    }
    if (cg_tensor_is_contiguous(dst)) {
        cg_status s = read_bytes(st, e, cg_tensor_data(dst));
        cg__bump_version(dst);
        return s;
    }
    cg_tensor *tmp = cg_safetensors_read(st, i);
    if (!tmp)
        return cg_last_status();
    cg_status s = cg_tensor_copy_(dst, tmp);
    cg_tensor_free(tmp);
    return s;
}

int cg_safetensors_num_metadata(const cg_safetensors *st) { return st ? st->nmeta : 0; }

const char *cg_safetensors_metadata_key(const cg_safetensors *st, int i)
{
    return st && i >= 0 && i < st->nmeta ? st->meta[2 * i] : NULL;
}

const char *cg_safetensors_metadata_value(const cg_safetensors *st, int i)
{
    return st && i >= 0 && i < st->nmeta ? st->meta[2 * i + 1] : NULL;
}

const char *cg_safetensors_metadata(const cg_safetensors *st, const char *key)
{
    if (!st || !key)
        return NULL;
    for (int i = 0; i < st->nmeta; i++)
        if (!strcmp(st->meta[2 * i], key))
            return st->meta[2 * i + 1];
    return NULL;
}
