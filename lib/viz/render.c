/* Rendering through Graphviz, in-process: agmemread parses the DOT text, gvLayout runs
 * the dot engine and gvRenderData writes the image into memory, which is then copied into
 * a caller-owned buffer (and, for files, written atomically by file.c).
 *
 * Graphviz keeps global state (its error hooks, the parser, plugin tables), so calls are
 * serialised by one lock. Its messages would go to stderr; a library must not print, so
 * they are captured while the lock is held and become the error message on failure.
 *
 * One Graphviz context serves the whole process and is never freed. Graphviz 2.42's pango
 * plugin caches a pointer to the last font name it measured, and that name lives in the
 * context's font table: after gvFreeContext, the next context's first text measurement
 * compares against freed memory (ASan reports it). Keeping the context keeps the name
 * alive; it stays reachable, so leak checkers do not count it. Each graph and its layout
 * are still freed after every call. */
#include <pthread.h>
#include <string.h>

#include <graphviz/gvc.h>

#include "viz_impl.h"

static pthread_mutex_t gv_lock = PTHREAD_MUTEX_INITIALIZER;
static char gv_message[512]; /* guarded by gv_lock */
static GVC_t *gv_context;    /* guarded by gv_lock; made on first use */

static int capture(char *msg)
{
    size_t used = strlen(gv_message);
    snprintf(gv_message + used, sizeof gv_message - used, "%s", msg);
    return 0;
}

/* Graphviz's messages, trimmed of the trailing newline, or a fallback. */
static const char *gv_text(const char *fallback)
{
    size_t n = strlen(gv_message);
    while (n > 0 && (gv_message[n - 1] == '\n' || gv_message[n - 1] == ' '))
        gv_message[--n] = '\0';
    return n ? gv_message : fallback;
}

static bool known_format(const char *format, bool allow_dot)
{
    return !strcmp(format, "svg") || !strcmp(format, "png") || !strcmp(format, "pdf") ||
           (allow_dot && !strcmp(format, "dot"));
}

/* Copy Graphviz's result into the library's allocator (so it is counted like every
 * other buffer the library hands out). */
static cg_status take_result(char *data, unsigned int len, cg_viz_buffer *out, const char *who)
{
    char *p = cg__malloc((size_t)len + 1);
    if (!p)
        return cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    memcpy(p, data, len);
    p[len] = '\0';
    *out = (cg_viz_buffer){p, len};
    return CG_OK;
}

/* Lay out and render g; the lock is held. */
static cg_status layout_and_render(GVC_t *gvc, Agraph_t *g, const char *format,
                                   cg_viz_buffer *out, const char *who)
{
    cg_status st = CG_OK;
    char *data = NULL;
    unsigned int len = 0;
    if (gvLayout(gvc, g, "dot") != 0)
        st = cg__error(CG_ERR_STATE, "%s: Graphviz could not lay out the graph: %s", who,
                       gv_text("no message"));
    else if (gvRenderData(gvc, g, format, &data, &len) != 0)
        /* On failure Graphviz may leave a stale pointer in data: never free it. */
        st = cg__error(CG_ERR_STATE, "%s: Graphviz could not render %s: %s", who, format,
                       gv_text("is its plugin for the format installed?"));
    else {
        st = take_result(data, len, out, who);
        gvFreeRenderData(data);
    }
    gvFreeLayout(gvc, g); /* also frees a partial layout */
    return st;
}

static cg_status render_locked(const char *dot, const char *format, cg_viz_buffer *out,
                               const char *who)
{
    gv_message[0] = '\0';
    agusererrf prev_hook = agseterrf(capture);
    agerrlevel_t prev_level = agseterr(AGWARN);
    cg_status st;
    if (!gv_context)
        gv_context = gvContext();
    Agraph_t *g = gv_context ? agmemread(dot) : NULL;
    if (!gv_context)
        st = cg__error(CG_ERR_NOMEM, "%s: Graphviz could not make a context", who);
    else if (!g)
        st = cg__error(CG_ERR_FORMAT, "%s: Graphviz could not parse the DOT text: %s", who,
                       gv_text("no message"));
    else
        st = layout_and_render(gv_context, g, format, out, who);
    if (g)
        agclose(g);
    agseterr(prev_level);
    agseterrf(prev_hook);
    return st;
}

cg_status cg_dot_render(const char *dot, const char *format, cg_viz_buffer *out)
{
    const char *who = "cg_dot_render";
    if (!out)
        return cg__error(CG_ERR_NULL, "%s: NULL output buffer", who);
    *out = (cg_viz_buffer){NULL, 0};
    if (!dot || !format)
        return cg__error(CG_ERR_NULL, "%s: NULL %s", who, dot ? "format" : "DOT text");
    if (!known_format(format, false))
        return cg__error(CG_ERR_VALUE, "%s: unknown format \"%s\" (svg, png or pdf)", who,
                         format);
    pthread_mutex_lock(&gv_lock);
    cg_status st = render_locked(dot, format, out, who);
    pthread_mutex_unlock(&gv_lock);
    return st;
}

cg_status cg_dot_save(const char *dot, const char *format, const char *path)
{
    const char *who = "cg_dot_save";
    if (!dot || !format || !path)
        return cg__error(CG_ERR_NULL, "%s: NULL %s", who,
                         !dot ? "DOT text" : !format ? "format" : "path");
    if (!known_format(format, true))
        return cg__error(CG_ERR_VALUE, "%s: unknown format \"%s\" (dot, svg, png or pdf)", who,
                         format);
    if (!strcmp(format, "dot"))
        return vz_write_file(path, dot, strlen(dot), who);
    cg_viz_buffer img;
    cg_status st = cg_dot_render(dot, format, &img);
    if (st == CG_OK)
        st = vz_write_file(path, img.data, img.len, who);
    cg_viz_buffer_free(&img);
    return st;
}

cg_status cg_dot_save_graph(cg_tensor *const *roots, int nroots, const cg_dot_options *options,
                            const char *format, const char *path)
{
    const char *who = "cg_dot_save_graph";
    if (!format || !path)
        return cg__error(CG_ERR_NULL, "%s: NULL %s", who, !format ? "format" : "path");
    if (!known_format(format, true))
        return cg__error(CG_ERR_VALUE, "%s: unknown format \"%s\" (dot, svg, png or pdf)", who,
                         format);
    cg_viz_buffer dot;
    cg_status st = cg_dot_export(roots, nroots, options, &dot);
    if (st == CG_OK)
        st = cg_dot_save(dot.data, format, path);
    cg_viz_buffer_free(&dot);
    return st;
}
