/* The public exporter: check the arguments, then walk, classify, measure and write. */
#include <math.h>

#include "viz_impl.h"

cg_dot_options cg_dot_defaults(void)
{
    return (cg_dot_options){.modules = true, .legend = true, .vanishing = 1e-7,
                            .exploding = 1e3};
}

static cg_status check_options(const cg_dot_options *o, const char *who)
{
    if (o->collapse_depth < 0)
        return cg__error(CG_ERR_VALUE, "%s: collapse_depth %d is negative", who,
                         o->collapse_depth);
    bool bad = isnan(o->vanishing) || isnan(o->exploding) || o->vanishing < 0 ||
               o->vanishing >= o->exploding;
    if (o->grad_overlay && bad)
        return cg__error(CG_ERR_VALUE, "%s: gradient thresholds need 0 <= vanishing < "
                                       "exploding (got %g and %g)",
                         who, o->vanishing, o->exploding);
    return CG_OK;
}

/* Everything after the walk: shared by both exports. */
static cg_status finish(vz_graph *g, cg_viz_buffer *out, const char *who)
{
    cg_status st = vz_classify(g, who);
    if (st == CG_OK && g->opt.grad_overlay)
        st = vz_overlay(g, who);
    if (st == CG_OK && g->opt.activation_stats)
        vz_stats(g);
    if (st == CG_OK)
        st = vz_write_dot(g, out, who);
    vz_graph_free(g);
    return st;
}

static cg_status begin(vz_graph *g, const cg_dot_options *options, cg_viz_buffer *out,
                       const char *who)
{
    if (!out)
        return cg__error(CG_ERR_NULL, "%s: NULL output buffer", who);
    *out = (cg_viz_buffer){NULL, 0};
    *g = (vz_graph){.opt = options ? *options : cg_dot_defaults()};
    return check_options(&g->opt, who);
}

cg_status cg_dot_export(cg_tensor *const *roots, int nroots, const cg_dot_options *options,
                        cg_viz_buffer *out)
{
    const char *who = "cg_dot_export";
    vz_graph g;
    cg_status st = begin(&g, options, out, who);
    if (st != CG_OK)
        return st;
    if (!roots)
        return cg__error(CG_ERR_NULL, "%s: NULL roots", who);
    if (nroots < 1)
        return cg__error(CG_ERR_VALUE, "%s: nroots is %d; need at least one root", who, nroots);
    for (int i = 0; i < nroots; i++)
        if (!cg__check_tensor(roots[i], who))
            return cg_last_status();
    st = vz_collect_roots(&g, roots, nroots, who);
    if (st != CG_OK) {
        vz_graph_free(&g);
        return st;
    }
    return finish(&g, out, who);
}

cg_status cg_dot_export_tape(cg_tape *tape, const cg_dot_options *options, cg_viz_buffer *out)
{
    const char *who = "cg_dot_export_tape";
    vz_graph g;
    cg_status st = begin(&g, options, out, who);
    if (st != CG_OK)
        return st;
    if (!tape)
        return cg__error(CG_ERR_NULL, "%s: NULL tape", who);
    st = vz_collect_tape(&g, tape, who);
    if (st != CG_OK) {
        vz_graph_free(&g);
        return st;
    }
    /* The overlay's backward pass runs on the tape being drawn. */
    cg_tape *prev = cg_tape_use(tape);
    st = finish(&g, out, who);
    cg_tape_use(prev);
    return st;
}
