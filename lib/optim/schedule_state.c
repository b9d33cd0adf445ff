/*
 * Saving and loading schedules: one visitor (visit below) walks a schedule's fields, and
 * those of the schedules it owns, in a fixed order. The same walk counts the values,
 * saves them, checks a saved state against the schedule and loads it, so the four can
 * never disagree on the layout.
 */
#include <math.h>

#include "core.h"
#include "schedule_impl.h"

/* ---- the visitor's primitives ---- */

/* Whether value i is to be checked: IO_CHECK, no failure yet, and i inside the saved state
 * (a schedule of another structure may run past its end, which is a failure). */
static bool checking(state_io *io, size_t i)
{
    if (io->mode != IO_CHECK || io->failed)
        return false;
    if (i < io->n)
        return true;
    io->failed = true;
    cg__error(CG_ERR_STATE, "cg_schedule_load: the state was saved from a schedule of a "
                            "different structure");
    return false;
}

/* A hyperparameter: saved, and on load it must equal this schedule's. */
void cg__sched_io_hyper(state_io *io, const char *name, double v)
{
    size_t i = io->pos++;
    if (io->mode == IO_SAVE)
        io->out[i] = v;
    if (!checking(io, i) || io->in[i] == v)
        return;
    io->failed = true;
    cg__error(CG_ERR_STATE, "cg_schedule_load: the state was saved with %s = %.17g, this schedule "
                            "has %.17g", name, io->in[i], v);
}

/* A real-valued piece of the dynamic state: saved and restored as is. */
void cg__sched_io_real(state_io *io, double *v)
{
    size_t i = io->pos++;
    if (io->mode == IO_SAVE)
        io->out[i] = *v;
    else if (io->mode == IO_LOAD)
        *v = io->in[i];
}

/* A counter of the dynamic state: on load it must be an integer >= lo. */
void cg__sched_io_count(state_io *io, const char *name, int64_t *v, int64_t lo)
{
    size_t i = io->pos++;
    if (io->mode == IO_SAVE) {
        io->out[i] = (double)*v;
    } else if (io->mode == IO_LOAD) {
        *v = (int64_t)io->in[i];
    } else if (checking(io, i)) {
        double x = io->in[i];
        if (x >= (double)lo && x <= 9007199254740992.0 && x == floor(x))
            return;
        io->failed = true;
        cg__error(CG_ERR_FORMAT, "cg_schedule_load: saved %s = %.17g is not an integer >= %lld",
                  name, x, (long long)lo);
    }
}

/* ---- state vectors ---- */

/* Header: magic (an arbitrary constant; change it when the layout changes), kind, number of
 * values. */
#define STATE_MAGIC 4347534845441.0
enum { STATE_HEADER = 3 };

/* The error for a state of kind `saved` loaded into a schedule of kind `kind`. */
static cg_status kind_mismatch(double saved, sched_kind kind)
{
    bool known = saved >= 0 && saved < K_COUNT && saved == floor(saved);
    return cg__error(known ? CG_ERR_STATE : CG_ERR_FORMAT,
                     "cg_schedule_load: the state is of a %s schedule, this is a %s schedule",
                     known ? cg__sched_kinds[(int)saved].name : "unknown",
                     cg__sched_kinds[kind].name);
}

static void visit(cg_schedule *s, state_io *io)
{
    if (checking(io, io->pos) && io->in[io->pos] != (double)s->kind) {
        io->failed = true;
        kind_mismatch(io->in[io->pos], s->kind);
    }
    cg__sched_io_hyper(io, "the kind code", s->kind);
    cg__sched_io_hyper(io, "base_lr", s->base_lr);
    cg__sched_io_count(io, "t", &s->t, -1);
    cg__sched_io_real(io, &s->lr);
    if (cg__sched_kinds[s->kind].visit)
        cg__sched_kinds[s->kind].visit(s, io);
    cg__sched_io_hyper(io, "the number of owned schedules", s->nchild);
    for (int i = 0; i < s->nchild; i++)
        visit(s->child[i], io);
}

size_t cg_schedule_state_size(const cg_schedule *s)
{
    if (!s)
        return 0;
    state_io io = {.mode = IO_COUNT};
    visit((cg_schedule *)s, &io); /* counting reads and writes nothing */
    return STATE_HEADER + io.pos;
}

cg_status cg_schedule_save(const cg_schedule *s, double *buf, size_t n)
{
    if (!s || !buf)
        return cg__error(CG_ERR_NULL, "cg_schedule_save: NULL %s", s ? "buffer" : "schedule");
    size_t need = cg_schedule_state_size(s);
    if (n < need)
        return cg__error(CG_ERR_VALUE, "cg_schedule_save: the buffer holds %zu values, the %s "
                                       "schedule's state needs %zu (cg_schedule_state_size)",
                         n, cg__sched_kinds[s->kind].name, need);
    buf[0] = STATE_MAGIC;
    buf[1] = s->kind;
    buf[2] = (double)need;
    state_io io = {.mode = IO_SAVE, .out = buf, .pos = STATE_HEADER};
    visit((cg_schedule *)s, &io); /* saving only reads s */
    return CG_OK;
}

/* Check the header of a saved state against s; records the error. */
static cg_status check_header(const cg_schedule *s, const double *buf, size_t n)
{
    if (n < STATE_HEADER || buf[0] != STATE_MAGIC)
        return cg__error(CG_ERR_FORMAT, "cg_schedule_load: the buffer does not hold a schedule "
                                        "state (saved by cg_schedule_save)");
    if (buf[1] != (double)s->kind)
        return kind_mismatch(buf[1], s->kind);
    if (!(buf[2] >= STATE_HEADER && buf[2] == floor(buf[2])))
        return cg__error(CG_ERR_FORMAT, "cg_schedule_load: malformed state size %.17g", buf[2]);
    if ((double)n < buf[2])
        return cg__error(CG_ERR_VALUE, "cg_schedule_load: the buffer holds %zu values, the saved "
                                       "state %.17g", n, buf[2]);
    return CG_OK;
}

cg_status cg_schedule_load(cg_schedule *s, const double *buf, size_t n)
{
    if (!s || !buf)
        return cg__error(CG_ERR_NULL, "cg_schedule_load: NULL %s", s ? "buffer" : "schedule");
    cg_status st = check_header(s, buf, n);
    if (st != CG_OK)
        return st;
    /* Check everything first so a mismatch leaves s untouched. */
    state_io io = {.mode = IO_CHECK, .in = buf, .pos = STATE_HEADER, .n = (size_t)buf[2]};
    visit(s, &io);
    if (!io.failed && io.pos != io.n)
        checking(&io, io.n); /* the saved state has more: another structure */
    if (io.failed)
        return cg_last_status();
    io = (state_io){.mode = IO_LOAD, .in = buf, .pos = STATE_HEADER};
    visit(s, &io);
    return CG_OK;
}
