/* Pools: the memory behind a tape. Training repeats the same shapes every step, so
 * storages are recycled by exact byte size, tensor structs through a FIFO free list
 * (oldest first, so a stale pointer stays detectably dead for as long as possible), and
 * small records (nodes, input arrays) from chunks rewound on reset. */
#include <string.h>

#include "core.h"

enum { STORAGE_HEADER = 64, CHUNK_BYTES = 64 * 1024 };

typedef struct chunk {
    struct chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char bytes[];
} chunk;

typedef struct size_bucket {
    size_t key; /* nbytes + 1, so that 0 marks an empty slot even for empty tensors */
    cg_storage *head;
} size_bucket;

struct cg_pool {
    cg_tensor *live;                   /* tensors owned now */
    cg_tensor *dead_head, *dead_tail;  /* recycled structs, oldest first */
    int64_t num_live;
    cg_storage *in_use;                /* storages handed out since the last reset */
    size_bucket *buckets;              /* open addressing by nbytes */
    size_t nbuckets, nused;
    chunk *chunks, *current;
};

cg_pool *cg__pool_new(void)
{
    cg_pool *p = cg__calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->nbuckets = 64;
    p->buckets = cg__calloc(p->nbuckets, sizeof *p->buckets);
    if (!p->buckets) {
        cg__free(p, sizeof *p);
        return NULL;
    }
    return p;
}

static size_t bucket_slot(const size_bucket *b, size_t nb, size_t key)
{
    size_t i = (key * 0x9E3779B97F4A7C15ull) >> 7;
    for (;; i++) {
        const size_bucket *s = &b[i & (nb - 1)];
        if (s->key == key || s->key == 0)
            return i & (nb - 1);
    }
}

static bool grow_buckets(cg_pool *p)
{
    size_t nb = p->nbuckets * 2;
    size_bucket *b = cg__calloc(nb, sizeof *b);
    if (!b)
        return false;
    for (size_t i = 0; i < p->nbuckets; i++)
        if (p->buckets[i].key)
            b[bucket_slot(b, nb, p->buckets[i].key)] = p->buckets[i];
    cg__free(p->buckets, p->nbuckets * sizeof *p->buckets);
    p->buckets = b;
    p->nbuckets = nb;
    return true;
}

/* Put a storage on its size's free list. */
static void park_storage(cg_pool *p, cg_storage *s)
{
    size_t i = bucket_slot(p->buckets, p->nbuckets, s->nbytes + 1);
    if (p->buckets[i].key == 0) {
        p->buckets[i].key = s->nbytes + 1;
        p->nused++;
    }
    s->next = p->buckets[i].head;
    p->buckets[i].head = s;
}

cg_storage *cg__pool_storage(cg_pool *p, size_t nbytes)
{
    if (p->nused * 2 >= p->nbuckets && !grow_buckets(p))
        return NULL;
    size_t i = bucket_slot(p->buckets, p->nbuckets, nbytes + 1);
    cg_storage *s = p->buckets[i].key ? p->buckets[i].head : NULL;
    if (s) {
        p->buckets[i].head = s->next;
    } else {
        unsigned char *block = cg__malloc(STORAGE_HEADER + nbytes);
        if (!block)
            return NULL;
        s = (cg_storage *)block;
        s->data = block + STORAGE_HEADER;
        s->nbytes = nbytes;
        s->pool = p;
    }
    s->refs = 1;
    s->version = 0;
    s->next = p->in_use;
    p->in_use = s;
    return s;
}

cg_storage *cg__storage_new(size_t nbytes)
{
    unsigned char *block = cg__malloc(STORAGE_HEADER + nbytes);
    if (!block)
        return NULL;
    cg_storage *s = (cg_storage *)block;
    memset(s, 0, sizeof *s);
    s->data = block + STORAGE_HEADER;
    s->nbytes = nbytes;
    s->refs = 1;
    return s;
}

void cg__storage_release(cg_storage *s)
{
    if (s->pool || --s->refs > 0)
        return;
    cg__free(s, STORAGE_HEADER + s->nbytes);
}

cg_tensor *cg__pool_tensor(cg_pool *p)
{
    cg_tensor *t = p->dead_head;
    if (t) {
        p->dead_head = t->next;
        if (!p->dead_head)
            p->dead_tail = NULL;
    } else {
        t = cg__malloc(sizeof *t);
        if (!t)
            return NULL;
    }
    memset(t, 0, sizeof *t);
    t->pool = p;
    t->next = p->live;
    p->live = t;
    p->num_live++;
    return t;
}

void *cg__pool_record(cg_pool *p, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    chunk *c = p->current;
    while (c && c->used + n > c->size)
        c = c->next;
    if (!c) {
        size_t size = n > CHUNK_BYTES ? n : CHUNK_BYTES;
        c = cg__malloc(sizeof *c + size);
        if (!c)
            return NULL;
        c->size = size;
        c->used = 0;
        c->next = p->chunks;
        p->chunks = c;
    }
    p->current = c;
    void *r = c->bytes + c->used;
    c->used += n;
    memset(r, 0, n);
    return r;
}

int64_t cg__pool_num_tensors(const cg_pool *p) { return p->num_live; }

/* Free what a dying tensor holds outside the pool: its gradient, its name, and its
 * reference to caller-owned storage it views. */
static void drop_tensor_extras(cg_tensor *t)
{
    if (t->grad) {
        cg__tensor_release(t->grad);
        t->grad = NULL;
    }
    if (t->grad_spare) {
        cg__tensor_release(t->grad_spare);
        t->grad_spare = NULL;
    }
    if (t->name)
        cg__free(t->name, strlen(t->name) + 1);
    if (t->storage && !t->storage->pool)
        cg__storage_release(t->storage);
}

void cg__pool_reset(cg_pool *p)
{
    cg_tensor *t = p->live;
    while (t) {
        cg_tensor *next = t->next;
        drop_tensor_extras(t);
        t->magic = CG__DEAD;
        t->next = NULL;
        if (p->dead_tail)
            p->dead_tail->next = t;
        else
            p->dead_head = t;
        p->dead_tail = t;
        t = next;
    }
    p->live = NULL;
    p->num_live = 0;
    cg_storage *s = p->in_use;
    while (s) {
        cg_storage *next = s->next;
        park_storage(p, s);
        s = next;
    }
    p->in_use = NULL;
    for (chunk *c = p->chunks; c; c = c->next)
        c->used = 0;
    p->current = p->chunks;
}

void cg__pool_free(cg_pool *p)
{
    if (!p)
        return;
    cg__pool_reset(p);
    for (cg_tensor *t = p->dead_head; t;) {
        cg_tensor *next = t->next;
        cg__free(t, sizeof *t);
        t = next;
    }
    for (size_t i = 0; i < p->nbuckets; i++) {
        for (cg_storage *s = p->buckets[i].head; s;) {
            cg_storage *next = s->next;
            cg__free(s, STORAGE_HEADER + s->nbytes);
            s = next;
        }
    }
    cg__free(p->buckets, p->nbuckets * sizeof *p->buckets);
    for (chunk *c = p->chunks; c;) {
        chunk *next = c->next;
        cg__free(c, sizeof *c + c->size);
        c = next;
    }
    cg__free(p, sizeof *p);
}
