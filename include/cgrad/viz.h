/*
 * libcgrad viz: diagrams of recorded graphs. The DOT exporter draws what a tape recorded;
 * Graphviz (libgvc and libcgraph, linked into the library) renders the DOT text to SVG,
 * PNG or PDF in-process.
 *
 * What a diagram shows (docs/diagrams.md has pictures):
 *  - one box per op, named from the op table, with its output's shape and dtype;
 *  - leaves in three kinds: parameters (a leaf that requires grad and has a name, see
 *    cg_tensor_set_name, or a parameter of options.module, named as in
 *    cg_module_parameter; green, with the scope of the op that first uses it: its module),
 *    constants (0-d leaves; leaves a tape made without recording them; named leaves that
 *    do not require grad, such as buffers; grey) and inputs (every other leaf: data,
 *    targets, unnamed leaves requiring grad; blue);
 *  - edges from each input to the op, labelled with the argument position when the op has
 *    several inputs; a tensor that backward reads (the op table's `saved` mask) has a
 *    double border, and the edge to the op that saves it is bold;
 *  - scopes (cg_tape_push_scope; modules open one named after themselves) as nested
 *    clusters, or, with collapse_depth, each scope at that depth as a single box;
 *  - on request, the backward graph and the optimizer's recorded updates, each in its own
 *    cluster; a legend; and a gradient-health overlay.
 *
 * Node names are stable: n<k> numbers tensors in the order of an iterative depth-first
 * walk from the roots (inputs before the ops that use them), m<k> numbers collapsed
 * scopes and b<name> the backward node of <name>. The same graph always gives the same
 * bytes, whatever the addresses and sequence numbers, so diagrams can be diffed.
 *
 * Ownership: buffers returned here belong to the caller, who frees them with
 * cg_viz_buffer_free. The exporter never frees or changes the graph. Errors follow
 * tensor.h: a status other than CG_OK and a message (cg_last_error()).
 *
 * Threads: exporting is reentrant. Graphviz is not, so rendering calls are serialised
 * inside the library; a program must not call Graphviz itself at the same time.
 */
#ifndef CGRAD_VIZ_H
#define CGRAD_VIZ_H

#include "cgrad/autograd.h"
#include "cgrad/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes owned by the caller: DOT text or a rendered image. data[len] is a '\0' added after
 * the content (so DOT text is a C string); free with cg_viz_buffer_free and do not change
 * len before that. */
typedef struct cg_viz_buffer {
    char *data;
    size_t len;
} cg_viz_buffer;

/* Free buf->data and set the buffer to {NULL, 0}; NULL or an empty buffer is ignored. */
CG_API void cg_viz_buffer_free(cg_viz_buffer *buf);

/* What to draw. cg_dot_defaults() gives the values in parentheses. */
typedef struct cg_dot_options {
    bool backward;  /* also draw the backward graph in a cluster "backward" (false) */
    bool optimizer; /* draw the ops recorded in a scope "optim" or "optim.*" in a cluster
                     * "optimizer"; when false they are left out (false) */
    bool modules;   /* draw scopes as nested clusters (true) */
    int collapse_depth; /* >= 1: draw every scope at this depth ("model" is depth 1,
                         * "model.0" depth 2) as one box with its inputs and outputs,
                         * hiding its ops and the parameters and constants only it uses;
                         * 0: no collapsing (0) */
    bool legend;        /* a legend cluster (true) */
    const cg_module *module; /* the model being drawn, or NULL: its parameters and buffers
                              * are drawn as parameters and constants with their dotted
                              * names ("0.weight"), whether or not the tensors carry a name
                              * of their own. Read only; it must outlive the call (NULL) */
    bool left_to_right; /* lay out left to right instead of top to bottom (false) */

    /* Gradient-health overlay: colour every tensor by the L2 norm of d loss / d tensor,
     * flagging norms below `vanishing` (zero included) and above `exploding` (NaN and
     * infinities included). The exporter computes these gradients itself with one extra
     * backward pass (cg_grad, without create_graph) on the active tape, so it needs no
     * retained intermediate gradients and leaves .grad untouched; the gradients it makes
     * are tape-owned and freed by that tape's next reset. */
    bool grad_overlay;   /* (false) */
    cg_tensor *loss;     /* one-element tensor to differentiate; NULL: the single root
                          * (cg_dot_export) or the single unused output (cg_dot_export_tape)
                          * when it has one element (NULL) */
    double vanishing;    /* (1e-7) */
    double exploding;    /* (1e3) */
    bool activation_stats; /* show the mean and standard deviation of every op's output
                            * (false) */
} cg_dot_options;

/* The defaults above. */
CG_API cg_dot_options cg_dot_defaults(void);

/*
 * DOT text of the graph that produced roots[0..nroots): every op and leaf reachable from
 * them (a root may itself be a leaf). The walk uses an explicit stack and runs in time
 * linear in the graph's size, so a chain of 100,000 ops exports in a fraction of a second.
 * options may be NULL for the defaults. On success *out holds the text (free with
 * cg_viz_buffer_free); on failure *out is {NULL, 0}.
 * Errors: CG_ERR_NULL for a NULL roots, root or out; CG_ERR_VALUE for nroots < 1 or bad
 * options (collapse_depth < 0, thresholds that are NaN or not 0 <= vanishing < exploding,
 * an overlay without a one-element loss); CG_ERR_STATE for a tensor freed by a tape reset,
 * or an overlay with no active tape; CG_ERR_NOMEM; the overlay's backward pass errors.
 */
CG_API cg_status cg_dot_export(cg_tensor *const *roots, int nroots, const cg_dot_options *options,
                               cg_viz_buffer *out);

/*
 * DOT text of everything recorded on tape: every node and the leaves they use, walked from
 * the oldest node. The overlay runs its backward pass on this tape (made active for the
 * call). Errors as cg_dot_export (CG_ERR_NULL for a NULL tape; an empty tape gives a
 * diagram with no nodes but the legend).
 */
CG_API cg_status cg_dot_export_tape(cg_tape *tape, const cg_dot_options *options,
                                    cg_viz_buffer *out);

/*
 * Render DOT text with Graphviz's dot layout, in-process, into *out (free with
 * cg_viz_buffer_free). format is "svg", "png" or "pdf".
 * Errors: CG_ERR_NULL (dot, format or out NULL); CG_ERR_VALUE for another format;
 * CG_ERR_FORMAT when Graphviz cannot parse dot (the message carries Graphviz's);
 * CG_ERR_STATE when Graphviz fails to lay out or render (e.g. its plugin for the format is
 * not installed). On failure *out is {NULL, 0}.
 */
CG_API cg_status cg_dot_render(const char *dot, const char *format, cg_viz_buffer *out);

/*
 * Write DOT text to path as "dot" (the text itself), or rendered as "svg", "png" or "pdf".
 * The file appears complete or not at all: the content is written to a temporary file
 * next to path, flushed to disk (fsync) and renamed over path; on any failure the
 * temporary file is removed and path is left as it was.
 * Errors: as cg_dot_render (format "dot" needs no Graphviz), plus CG_ERR_NULL for a NULL
 * path and CG_ERR_IO when the file cannot be written (the message names path and the
 * system's reason, e.g. a missing directory).
 */
CG_API cg_status cg_dot_save(const char *dot, const char *format, const char *path);

/* cg_dot_export then cg_dot_save: the diagram of roots' graph written to path in format
 * ("dot", "svg", "png" or "pdf"). Errors as those two calls. */
CG_API cg_status cg_dot_save_graph(cg_tensor *const *roots, int nroots,
                                   const cg_dot_options *options, const char *format,
                                   const char *path);

#ifdef __cplusplus
}
#endif

#endif
