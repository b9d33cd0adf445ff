/* The gradient-health overlay and activation statistics.
 *
 * The engine keeps gradients only for leaves, so the overlay asks for the others itself:
 * one cg_grad call from the loss to every drawn tensor that requires grad, with
 * allow_unused (a tensor the loss does not depend on simply has no gradient). That costs
 * one backward pass and needs no change to the engine; the gradients are tape-owned and
 * go with the tape's next reset. Norms and statistics are computed here in double
 * precision, element by element through the strides, so any view works. */
#include <math.h>

#include "viz_impl.h"

/* The loss the overlay differentiates: the caller's, else the one root (export) or the
 * one drawn op output nothing uses (tape export), when it has a single element. */
static cg_tensor *pick_loss(const vz_graph *g, const char *who)
{
    if (g->opt.loss)
        return cg__check_tensor(g->opt.loss, who) ? g->opt.loss : NULL;
    cg_tensor *loss = NULL;
    int candidates = 0;
    for (int i = 0; i < g->n; i++) {
        const vz_item *it = &g->items[i];
        bool end = it->root || (it->kind == VZ_OP && it->part == VZ_FORWARD && !it->used);
        if (end) {
            loss = it->t;
            candidates++;
        }
    }
    if (candidates == 1 && cg__shape_numel(loss->ndim, loss->shape) == 1)
        return loss;
    cg__error(CG_ERR_VALUE, "%s: the gradient overlay needs a one-element loss: set "
                            "options.loss (the graph has %d outputs)",
              who, candidates);
    return NULL;
}

static double l2_norm(const cg_tensor *t)
{
    int64_t n = cg__shape_numel(t->ndim, t->shape);
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = cg__load(t, cg__storage_index(t, i));
        sum += v * v;
    }
    return sqrt(sum);
}

void vz_health_bands(double vanishing, double exploding, double *lo, double *hi)
{
    /* The middle band holds a norm of 1 when the thresholds straddle it: halfway, in
     * decades, from 1 to each threshold (3.2e-4 and 32 for the defaults). Otherwise the
     * log range is split in thirds. A zero lower threshold counts as ten decades below
     * the upper one. */
    double top = log10(exploding), bottom = vanishing > 0 ? log10(vanishing) : top - 10;
    if (bottom < 0 && top > 0) {
        *lo = pow(10, bottom / 2);
        *hi = pow(10, top / 2);
    } else {
        *lo = pow(10, bottom + (top - bottom) / 3);
        *hi = pow(10, bottom + 2 * (top - bottom) / 3);
    }
}

static int health_of(double norm, double vanishing, double exploding)
{
    if (!isfinite(norm) || norm > exploding)
        return VZ_EXPLODING;
    if (norm < vanishing || norm == 0)
        return VZ_VANISHING;
    double lo, hi;
    vz_health_bands(vanishing, exploding, &lo, &hi);
    return norm < lo ? VZ_WEAK : norm > hi ? VZ_STRONG : VZ_HEALTHY;
}

static void record_health(vz_graph *g, int i, cg_tensor *grad)
{
    vz_item *it = &g->items[i];
    if (!grad) {
        it->health = VZ_NO_GRAD;
        return;
    }
    it->gnorm = l2_norm(grad);
    it->health = health_of(it->gnorm, g->opt.vanishing, g->opt.exploding);
    if (vz_unit_is_box(g, it->unit) && it->kind == VZ_OP) {
        vz_scope *box = &g->scopes[it->unit - g->n];
        box->nvanishing += it->health == VZ_VANISHING;
        box->nexploding += it->health == VZ_EXPLODING;
    }
}

cg_status vz_overlay(vz_graph *g, const char *who)
{
    if (!cg_tape_active())
        return cg__error(CG_ERR_STATE, "%s: the gradient overlay runs a backward pass and "
                                       "needs an active tape (cg_tape_use)",
                         who);
    cg_tensor *loss = pick_loss(g, who);
    if (!loss)
        return cg_last_status();
    int k = 0;
    for (int i = 0; i < g->n; i++)
        k += g->items[i].part != VZ_HIDDEN && g->items[i].t->requires_grad;
    if (k == 0)
        return CG_OK;
    cg_tensor **inputs = cg__malloc((size_t)k * sizeof *inputs);
    cg_tensor **grads = cg__malloc((size_t)k * sizeof *grads);
    int *which = cg__malloc((size_t)k * sizeof *which);
    cg_status st = CG_OK;
    if (!inputs || !grads || !which)
        st = cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    for (int i = 0, j = 0; st == CG_OK && i < g->n; i++)
        if (g->items[i].part != VZ_HIDDEN && g->items[i].t->requires_grad) {
            inputs[j] = g->items[i].t;
            which[j++] = i;
        }
    cg_grad_options gopt = {.create_graph = false, .allow_unused = true};
    if (st == CG_OK)
        st = cg_grad(&loss, 1, NULL, inputs, k, grads, &gopt);
    for (int j = 0; st == CG_OK && j < k; j++)
        record_health(g, which[j], grads[j]);
    cg__free(inputs, (size_t)k * sizeof *inputs);
    cg__free(grads, (size_t)k * sizeof *grads);
    cg__free(which, (size_t)k * sizeof *which);
    return st;
}

/* Mean and (population) standard deviation by Welford's update, stable for large means. */
static void stats_of(vz_item *it)
{
    const cg_tensor *t = it->t;
    int64_t n = cg__shape_numel(t->ndim, t->shape);
    if (!cg__is_float(t->dtype) || n <= 0)
        return;
    double mean = 0, m2 = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = cg__load(t, cg__storage_index(t, i)), d = v - mean;
        mean += d / (double)(i + 1);
        m2 += d * (v - mean);
    }
    it->has_stats = true;
    it->mean = mean;
    it->std = sqrt(m2 / (double)n);
}

void vz_stats(vz_graph *g)
{
    for (int i = 0; i < g->n; i++)
        if (g->items[i].kind == VZ_OP && g->items[i].part != VZ_HIDDEN)
            stats_of(&g->items[i]);
}
