/* Growable text, a pointer-keyed hash map and array growth for the exporter. All memory
 * goes through the library's counting allocator, so tests see any leak. */
#include <stdio.h>
#include <string.h>

#include "viz_impl.h"

/* ---- text ---- */

static bool text_grow(vz_text *t, size_t extra)
{
    if (t->failed)
        return false;
    if (t->len + extra + 1 <= t->cap)
        return true;
    size_t cap = t->cap ? t->cap : 4096;
    while (cap < t->len + extra + 1)
        cap *= 2;
    char *p = cg__realloc(t->data, t->cap, cap);
    if (!p) {
        t->failed = true;
        return false;
    }
    t->data = p;
    t->cap = cap;
    return true;
}

void vz_putn(vz_text *t, const char *s, size_t n)
{
    if (!text_grow(t, n))
        return;
    memcpy(t->data + t->len, s, n);
    t->len += n;
    t->data[t->len] = '\0';
}

void vz_puts(vz_text *t, const char *s) { vz_putn(t, s, strlen(s)); }

void vz_printf(vz_text *t, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->failed = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        vz_putn(t, small, (size_t)n);
        return;
    }
    /* Long output (a long name): format straight into the grown buffer. */
    if (!text_grow(t, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(t->data + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

void vz_put_escaped(vz_text *t, const char *s, size_t n)
{
    /* Inside "...", DOT gives meaning to the quote and to backslash sequences (\n, \l,
     * \N...); names are shown literally, and control characters would break the line. */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            vz_printf(t, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            vz_putn(t, "?", 1);
        else
            vz_putn(t, (const char *)&s[i], 1);
    }
}

void vz_text_free(vz_text *t)
{
    cg__free(t->data, t->cap);
    *t = (vz_text){NULL, 0, 0, false};
}

cg_status vz_text_finish(vz_text *t, cg_viz_buffer *out, const char *who)
{
    /* cg_viz_buffer_free releases len + 1 bytes, so the buffer handed out is exact. */
    char *p = t->failed ? NULL : cg__malloc(t->len + 1);
    if (!p) {
        vz_text_free(t);
        return cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    }
    if (t->len)
        memcpy(p, t->data, t->len);
    p[t->len] = '\0';
    out->data = p;
    out->len = t->len;
    vz_text_free(t);
    return CG_OK;
}

void cg_viz_buffer_free(cg_viz_buffer *buf)
{
    if (!buf || !buf->data)
        return;
    cg__free(buf->data, buf->len + 1);
    buf->data = NULL;
    buf->len = 0;
}

/* ---- hash map ---- */

static size_t slot_of(uint64_t key, size_t cap)
{
    key ^= key >> 33; /* pointers share low zero bits and high bits: mix them (splitmix) */
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t)key & (cap - 1);
}

static bool map_grow(vz_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 256;
    uint64_t *keys = cg__calloc(cap, sizeof *keys);
    int *vals = cg__malloc(cap * sizeof *vals);
    if (!keys || !vals) {
        cg__free(keys, cap * sizeof *keys);
        cg__free(vals, cap * sizeof *vals);
        return false;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i])
            continue;
        size_t s = slot_of(m->keys[i], cap);
        while (keys[s])
            s = (s + 1) & (cap - 1);
        keys[s] = m->keys[i];
        vals[s] = m->vals[i];
    }
    cg__free(m->keys, m->cap * sizeof *m->keys);
    cg__free(m->vals, m->cap * sizeof *m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return true;
}

bool vz_map_put(vz_map *m, uint64_t key, int val)
{
    if ((m->n + 1) * 2 > m->cap && !map_grow(m)) /* load factor at most 1/2 */
        return false;
    size_t s = slot_of(key, m->cap);
    while (m->keys[s] && m->keys[s] != key)
        s = (s + 1) & (m->cap - 1);
    if (!m->keys[s]) {
        m->keys[s] = key;
        m->n++;
    }
    m->vals[s] = val;
    return true;
}

int vz_map_get(const vz_map *m, uint64_t key)
{
    if (!m->cap)
        return -1;
    for (size_t s = slot_of(key, m->cap); m->keys[s]; s = (s + 1) & (m->cap - 1))
        if (m->keys[s] == key)
            return m->vals[s];
    return -1;
}

void vz_map_free(vz_map *m)
{
    cg__free(m->keys, m->cap * sizeof *m->keys);
    cg__free(m->vals, m->cap * sizeof *m->vals);
    *m = (vz_map){NULL, NULL, 0, 0};
}

bool vz_reserve(void **items, int *cap, int need, size_t size)
{
    if (need <= *cap)
        return true;
    int c = *cap ? *cap : 64;
    while (c < need) {
        if (c > (1 << 29))
            return false;
        c *= 2;
    }
    void *p = cg__realloc(*items, (size_t)*cap * size, (size_t)c * size);
    if (!p)
        return false;
    *items = p;
    *cap = c;
    return true;
}
