/* Training checkpoints: a module's parameters and buffers, an optimizer's state, a
 * schedule's state and the loop's counters and generator in one safetensors file.
 *
 * Loading validates everything it can before changing anything: the module's tensors
 * against the header (names, shapes, dtypes: no data read), then the optimizer's and the
 * schedule's states, which are read into temporaries and handed to cg_optim_state_load and
 * cg_schedule_load (both leave their object unchanged on error; the schedule's previous
 * state is kept to be put back if the optimizer then refuses its state). Only then are the
 * module's tensors read in place. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cgrad/io.h"
#include "cgrad/nn.h"
#include "cgrad/optim.h"
#include "core.h"

#define FORMAT_TAG "checkpoint-1"

typedef struct list {
    int n, cap;
    char **names;      /* owned */
    cg_tensor **tensors; /* borrowed, except those flagged in owned[] */
    bool *owned;
} list;

static void list_free(list *l)
{
    for (int i = 0; i < l->n; i++) {
        cg__free(l->names[i], strlen(l->names[i]) + 1);
        if (l->owned[i])
            cg_tensor_free(l->tensors[i]);
    }
    if (l->cap) {
        cg__free(l->names, (size_t)l->cap * sizeof *l->names);
        cg__free(l->tensors, (size_t)l->cap * sizeof *l->tensors);
        cg__free(l->owned, (size_t)l->cap * sizeof *l->owned);
    }
}

/* Add prefix + name -> t; ownership of t passes to the list when owned. */
static bool list_add(list *l, const char *prefix, const char *name, cg_tensor *t, bool owned)
{
    if (l->n == l->cap) {
        /* Grow all three arrays or none. */
        int cap = l->cap ? 2 * l->cap : 16;
        char **nn = cg__malloc((size_t)cap * sizeof *nn);
        cg_tensor **nt = cg__malloc((size_t)cap * sizeof *nt);
        bool *no = cg__malloc((size_t)cap * sizeof *no);
        if (!nn || !nt || !no) {
            if (nn)
                cg__free(nn, (size_t)cap * sizeof *nn);
            if (nt)
                cg__free(nt, (size_t)cap * sizeof *nt);
            if (no)
                cg__free(no, (size_t)cap * sizeof *no);
            if (owned)
                cg_tensor_free(t);
            return false;
        }
        if (l->cap) {
            memcpy(nn, l->names, (size_t)l->n * sizeof *nn);
            memcpy(nt, l->tensors, (size_t)l->n * sizeof *nt);
            memcpy(no, l->owned, (size_t)l->n * sizeof *no);
            cg__free(l->names, (size_t)l->cap * sizeof *nn);
            cg__free(l->tensors, (size_t)l->cap * sizeof *nt);
            cg__free(l->owned, (size_t)l->cap * sizeof *no);
        }
        l->names = nn;
        l->tensors = nt;
        l->owned = no;
        l->cap = cap;
    }
    size_t n = strlen(prefix) + strlen(name) + 1;
    char *s = cg__malloc(n);
    if (!s) {
        if (owned)
            cg_tensor_free(t);
        return false;
    }
    snprintf(s, n, "%s%s", prefix, name);
    l->names[l->n] = s;
    l->tensors[l->n] = t;
    l->owned[l->n] = owned;
    l->n++;
    return true;
}

cg_status cg_checkpoint_save(const char *path, const cg_module *module,
                             const cg_optimizer *optimizer, const cg_schedule *schedule,
                             const cg_checkpoint_meta *meta)
{
    static const char *const who = "cg_checkpoint_save";
    cg_checkpoint_meta zero = {0};
    if (!meta)
        meta = &zero;
    if (meta->nextra < 0 || (meta->nextra > 0 && (!meta->extra_keys || !meta->extra_values)))
        return cg__error(CG_ERR_NULL, "%s: NULL extra metadata arrays", who);
    for (int i = 0; i < meta->nextra; i++)
        if (meta->extra_keys[i] && !strncmp(meta->extra_keys[i], "cgrad.", 6))
            return cg__error(CG_ERR_VALUE, "%s: metadata key \"%s\" uses the reserved prefix "
                             "\"cgrad.\"", who, meta->extra_keys[i]);

    list l = {0};
    bool ok = true;
    const char *name;
    for (int i = 0; ok && module && i < cg_module_num_parameters(module); i++) {
        cg_tensor *t = cg_module_parameter(module, i, &name);
        ok = list_add(&l, "model.", name, t, false);
    }
    for (int i = 0; ok && module && i < cg_module_num_buffers(module); i++) {
        cg_tensor *t = cg_module_buffer(module, i, &name);
        ok = list_add(&l, "model.", name, t, false);
    }
    for (int i = 0; ok && optimizer && i < cg_optim_state_count(optimizer); i++) {
        cg_tensor *t = cg_optim_state_get(optimizer, i, &name);
        ok = t && list_add(&l, "optim.", name, t, false);
    }
    if (ok && schedule) {
        size_t n = cg_schedule_state_size(schedule);
        double *buf = cg__malloc(n * sizeof *buf);
        ok = buf && cg_schedule_save(schedule, buf, n) == CG_OK;
        int64_t shape = (int64_t)n;
        cg_tensor *t = ok ? cg_tensor_from_data(CG_F64, 1, &shape, buf) : NULL;
        if (buf)
            cg__free(buf, n * sizeof *buf);
        ok = t && list_add(&l, "", "schedule", t, true);
    }
    if (!ok) {
        list_free(&l);
        return cg_last_status() != CG_OK ? cg_last_status()
                                         : cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    }

    /* Metadata: our fixed keys, then the caller's. Numbers in decimal, exact. */
    enum { NFIXED = 7 };
    char epoch[24], step[24], seed[24], offset[24];
    snprintf(epoch, sizeof epoch, "%" PRId64, meta->epoch);
    snprintf(step, sizeof step, "%" PRId64, meta->step);
    snprintf(seed, sizeof seed, "%" PRIu64, meta->rng.seed);
    snprintf(offset, sizeof offset, "%" PRIu64, meta->rng.offset);
    int nmeta = NFIXED + meta->nextra;
    const char **keys = cg__malloc((size_t)nmeta * sizeof *keys);
    const char **values = keys ? cg__malloc((size_t)nmeta * sizeof *values) : NULL;
    cg_status st;
    if (!values) {
        st = cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    } else {
        int k = 0;
        keys[k] = "cgrad.format", values[k++] = FORMAT_TAG;
        keys[k] = "cgrad.epoch", values[k++] = epoch;
        keys[k] = "cgrad.step", values[k++] = step;
        keys[k] = "cgrad.rng_seed", values[k++] = seed;
        keys[k] = "cgrad.rng_offset", values[k++] = offset;
        if (optimizer)
            keys[k] = "cgrad.optimizer", values[k++] = cg_optim_name(optimizer);
        if (schedule)
            keys[k] = "cgrad.schedule", values[k++] = cg_schedule_name(schedule);
        for (int i = 0; i < meta->nextra; i++)
            keys[k] = meta->extra_keys[i], values[k++] = meta->extra_values[i];
        st = cg_safetensors_save(path, (const char *const *)l.names, l.tensors, l.n, keys, values, k);
    }
    if (keys)
        cg__free(keys, (size_t)nmeta * sizeof *keys);
    if (values)
        cg__free(values, (size_t)nmeta * sizeof *values);
    list_free(&l);
    return st;
}

/* ---------------------------------- loading ---------------------------------- */

/* Parse a decimal metadata value into *out; CG_ERR_FORMAT when absent or malformed. */
static cg_status meta_u64(const cg_safetensors *st, const char *key, const char *path,
                          bool is_signed, uint64_t *out)
{
    const char *v = cg_safetensors_metadata(st, key);
    char *end = NULL;
    errno = 0;
    if (v && *v) {
        if (is_signed)
            *out = (uint64_t)strtoll(v, &end, 10);
        else if (*v != '-')
            *out = strtoull(v, &end, 10);
    }
    if (!v || !*v || !end || *end || errno)
        return cg__error(CG_ERR_FORMAT, "%s: metadata \"%s\" is %s", path, key,
                         v ? "not a decimal integer" : "missing");
    return CG_OK;
}

/* Check that the module's tensors and the file's "model." tensors match one for one. */
static cg_status check_module(const cg_safetensors *st, const cg_module *m, const char *path)
{
    static const char *const who = "cg_checkpoint_load";
    int np = cg_module_num_parameters(m), nb = cg_module_num_buffers(m);
    int matched = 0;
    for (int i = 0; i < np + nb; i++) {
        const char *name;
        cg_tensor *t = i < np ? cg_module_parameter(m, i, &name) : cg_module_buffer(m, i - np, &name);
        char key[512];
        snprintf(key, sizeof key, "model.%s", name);
        int k = cg_safetensors_find(st, key);
        if (k < 0)
            return cg__error(CG_ERR_VALUE, "%s: %s: %s '%s' of the module is not in the checkpoint",
                             who, path, i < np ? "parameter" : "buffer", name);
        cg_dtype dt;
        int ndim;
        int64_t shape[CG_MAX_DIMS];
        if (cg_safetensors_info(st, k, &dt, &ndim, shape) != CG_OK)
            return cg_last_status();
        if (dt != cg_tensor_dtype(t) || ndim != cg_tensor_ndim(t) ||
            memcmp(shape, cg_tensor_shape(t), (size_t)ndim * sizeof *shape)) {
            char a[128], b[128];
            return cg__error(CG_ERR_VALUE, "%s: %s: '%s' is %s %s in the checkpoint but %s %s in the "
                             "module", who, path, name, cg_dtype_name(dt),
                             cg__shape_str(ndim, shape, a, sizeof a), cg_dtype_name(cg_tensor_dtype(t)),
                             cg__shape_str(cg_tensor_ndim(t), cg_tensor_shape(t), b, sizeof b));
        }
        matched++;
    }
    for (int k = 0; k < cg_safetensors_count(st); k++) {
        const char *name = cg_safetensors_name(st, k);
        if (!strncmp(name, "model.", 6) && !cg_module_find(m, name + 6))
            return cg__error(CG_ERR_VALUE, "%s: %s: checkpoint tensor '%s' has no counterpart in the "
                             "module", who, path, name);
    }
    (void)matched;
    return CG_OK;
}

/* Check a kind recorded in the metadata against the object's. */
static cg_status check_kind(const cg_safetensors *st, const char *key, const char *kind,
                            const char *what, const char *path)
{
    const char *saved = cg_safetensors_metadata(st, key);
    if (!saved)
        return cg__error(CG_ERR_VALUE, "cg_checkpoint_load: %s: the checkpoint holds no %s state",
                         path, what);
    if (strcmp(saved, kind))
        return cg__error(CG_ERR_VALUE, "cg_checkpoint_load: %s: the checkpoint's %s is %s, not %s",
                         path, what, saved, kind);
    return CG_OK;
}

/* Read the optimizer's entries ("optim.*") into caller-owned temporaries. */
static cg_status read_optim(cg_safetensors *st, list *l)
{
    for (int k = 0; k < cg_safetensors_count(st); k++) {
        const char *name = cg_safetensors_name(st, k);
        if (strncmp(name, "optim.", 6))
            continue;
        cg_tensor *t = cg_safetensors_read(st, k);
        if (!t)
            return cg_last_status();
        if (!list_add(l, "", name + 6, t, true))
            return cg__error(CG_ERR_NOMEM, "cg_checkpoint_load: out of memory");
    }
    return CG_OK;
}

static cg_status read_schedule(cg_safetensors *st, const char *path, double **buf, size_t *n)
{
    int k = cg_safetensors_find(st, "schedule");
    cg_dtype dt;
    int ndim;
    int64_t shape[CG_MAX_DIMS];
    if (k < 0)
        return cg__error(CG_ERR_VALUE, "cg_checkpoint_load: %s: no tensor 'schedule'", path);
    if (cg_safetensors_info(st, k, &dt, &ndim, shape) != CG_OK)
        return cg_last_status();
    if (dt != CG_F64 || ndim != 1)
        return cg__error(CG_ERR_FORMAT, "cg_checkpoint_load: %s: tensor 'schedule' is not a 1-d F64 "
                         "tensor", path);
    cg_tensor *t = cg_safetensors_read(st, k);
    if (!t)
        return cg_last_status();
    *n = (size_t)shape[0];
    *buf = cg__malloc(*n * sizeof **buf + 1);
    if (*buf && *n)
        memcpy(*buf, cg_tensor_data(t), *n * sizeof **buf);
    cg_tensor_free(t);
    return *buf ? CG_OK : cg__error(CG_ERR_NOMEM, "cg_checkpoint_load: out of memory");
}

cg_status cg_checkpoint_load(const char *path, cg_module *module, cg_optimizer *optimizer,
                             cg_schedule *schedule, cg_checkpoint_meta *meta)
{
    static const char *const who = "cg_checkpoint_load";
    cg_safetensors *st = cg_safetensors_open(path);
    if (!st)
        return cg_last_status();
    cg_status s = CG_OK;
    const char *tag = cg_safetensors_metadata(st, "cgrad.format");
    if (!tag || strcmp(tag, FORMAT_TAG))
        s = cg__error(CG_ERR_FORMAT, "%s: %s is not a libcgrad checkpoint (metadata cgrad.format is "
                      "%s%s%s)", who, path, tag ? "\"" : "", tag ? tag : "missing", tag ? "\"" : "");
    uint64_t epoch = 0, step = 0, seed = 0, offset = 0;
    if (s == CG_OK)
        s = meta_u64(st, "cgrad.epoch", path, true, &epoch);
    if (s == CG_OK)
        s = meta_u64(st, "cgrad.step", path, true, &step);
    if (s == CG_OK)
        s = meta_u64(st, "cgrad.rng_seed", path, false, &seed);
    if (s == CG_OK)
        s = meta_u64(st, "cgrad.rng_offset", path, false, &offset);
    if (s == CG_OK && module)
        s = check_module(st, module, path);
    if (s == CG_OK && optimizer)
        s = check_kind(st, "cgrad.optimizer", cg_optim_name(optimizer), "optimizer", path);
    if (s == CG_OK && schedule)
        s = check_kind(st, "cgrad.schedule", cg_schedule_name(schedule), "schedule", path);

    list opt_state = {0};
    double *sched = NULL, *backup = NULL;
    size_t nsched = 0, nbackup = 0;
    if (s == CG_OK && optimizer)
        s = read_optim(st, &opt_state);
    if (s == CG_OK && schedule)
        s = read_schedule(st, path, &sched, &nsched);
    if (s == CG_OK && schedule && optimizer) {
        nbackup = cg_schedule_state_size(schedule);
        backup = cg__malloc(nbackup * sizeof *backup + 1);
        s = backup ? cg_schedule_save(schedule, backup, nbackup)
                   : cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    }
    if (s == CG_OK && schedule)
        s = cg_schedule_load(schedule, sched, nsched);
    if (s == CG_OK && optimizer) {
        s = cg_optim_state_load(optimizer, (const char *const *)opt_state.names, opt_state.tensors,
                                opt_state.n);
        if (s != CG_OK && schedule) {
            cg_status keep = s;
            char msg[512];
            snprintf(msg, sizeof msg, "%s", cg_last_error());
            cg_schedule_load(schedule, backup, nbackup); /* put the previous state back */
            s = cg__error(keep, "%s", msg);
        }
    }
    for (int i = 0; s == CG_OK && module && i < cg_module_num_parameters(module) +
                                                cg_module_num_buffers(module); i++) {
        int np = cg_module_num_parameters(module);
        const char *name;
        cg_tensor *t = i < np ? cg_module_parameter(module, i, &name)
                              : cg_module_buffer(module, i - np, &name);
        char key[512];
        snprintf(key, sizeof key, "model.%s", name);
        s = cg_safetensors_read_into(st, cg_safetensors_find(st, key), t);
    }
    if (s == CG_OK && meta) {
        memset(meta, 0, sizeof *meta);
        meta->epoch = (int64_t)epoch;
        meta->step = (int64_t)step;
        meta->rng.seed = seed;
        meta->rng.offset = offset;
    }
    if (sched)
        cg__free(sched, nsched * sizeof *sched + 1);
    if (backup)
        cg__free(backup, nbackup * sizeof *backup + 1);
    list_free(&opt_state);
    cg_safetensors_close(st);
    return s;
}
