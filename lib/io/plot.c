/* Training curves drawn with PLplot (cairo devices "pngcairo" and "svgcairo").
 *
 * PLplot keeps process-wide state (a table of streams, the current stream, its error
 * handlers) and is not thread-safe, so every call holds one lock and draws on a stream of
 * its own (plmkstrm), restoring the caller's current stream at the end.
 *
 * PLplot's fatal errors go through plexit(), which calls the exit handler and then exit():
 * the handler installed here jumps back into cg_plot_curves instead (longjmp), so the
 * process never ends; the stream left half-built is then ended under the same guard.
 * Warnings (plabort) are recorded and turn the call into an error. Conditions that would
 * make PLplot prompt on stdin or loop are checked first: the device must be in PLplot's
 * device list (an unknown device makes plinit ask the user for one), and the output file
 * is created by us before PLplot opens it (a path it cannot open makes it retry). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <plplot.h>

#include "atomic.h"
#include "cgrad/io.h"

#define MAX_SERIES 16
#define MAX_DEVICES 128

static pthread_mutex_t plot_lock = PTHREAD_MUTEX_INITIALIZER;
/* Guarded by plot_lock: where plexit jumps to, and the first message PLplot gave. */
static jmp_buf plot_jump;
static bool plot_jump_armed;
static char plot_message[256];

static int on_plexit(PLCHAR_VECTOR msg)
{
    if (!plot_message[0])
        snprintf(plot_message, sizeof plot_message, "%s", msg ? msg : "fatal error");
    if (plot_jump_armed)
        longjmp(plot_jump, 1);
    return 1; /* unreachable while a call is in progress */
}

static void on_plabort(PLCHAR_VECTOR msg)
{
    if (!plot_message[0])
        snprintf(plot_message, sizeof plot_message, "%s", msg ? msg : "error");
}

/* Palette: a white background (color 0), black axes and text (1), then the series'
 * colors (Okabe-Ito, readable by color-blind readers and in gray). */
static const unsigned char palette[][3] = {
    {255, 255, 255}, {0, 0, 0},     {0, 114, 178},  {213, 94, 0},
    {0, 158, 115},   {204, 121, 167}, {230, 159, 0}, {86, 180, 233},
    {240, 228, 66},  {100, 100, 100},
};
#define NCOLORS ((int)(sizeof palette / sizeof palette[0]))
#define FIRST_SERIES_COLOR 2

/* PLplot treats '#' as the start of an escape sequence: double it. buf holds n bytes. */
static const char *plot_text(const char *s, char *buf, size_t n)
{
    size_t k = 0;
    for (; s && *s && k + 3 < n; s++) {
        if (*s == '#')
            buf[k++] = '#';
        buf[k++] = *s;
    }
    buf[k] = '\0';
    return buf;
}

static bool device_available(const char *dev)
{
    const char *menus[MAX_DEVICES], *names[MAX_DEVICES];
    const char **pm = menus, **pn = names;
    int n = MAX_DEVICES;
    plgDevs(&pm, &pn, &n);
    for (int i = 0; i < n; i++)
        if (names[i] && !strcmp(names[i], dev))
            return true;
    return false;
}

typedef struct range {
    double lo, hi;
} range;

/* The span of the finite values of the series on one axis (log10 of the positive ones
 * when logscale); [0, 1] if none, widened when flat. */
static range axis_range(const cg_plot_series *series, int nseries, int64_t npoints,
                        cg_plot_axis axis, bool logscale, bool *any)
{
    range r = {INFINITY, -INFINITY};
    *any = false;
    for (int s = 0; s < nseries; s++) {
        if (series[s].axis != axis)
            continue;
        *any = true;
        for (int64_t i = 0; i < npoints; i++) {
            double v = series[s].y[i];
            if (logscale)
                v = v > 0 ? log10(v) : NAN;
            if (isfinite(v)) {
                r.lo = fmin(r.lo, v);
                r.hi = fmax(r.hi, v);
            }
        }
    }
    if (!(r.lo <= r.hi))
        r.lo = 0, r.hi = 1;
    double pad = (r.hi - r.lo) * 0.05;
    if (pad <= fabs(r.hi) * 1e-12) /* flat: open a window around the value */
        pad = fabs(r.hi) > 0 ? fabs(r.hi) * 0.1 : 1;
    r.lo -= pad;
    r.hi += pad;
    return r;
}

/* Draw the runs of consecutive finite points of one series; a lone point gets a marker. */
static void draw_series(const double *x, const double *y, int64_t npoints, bool logscale,
                        PLFLT *bx, PLFLT *by)
{
    int64_t i = 0;
    while (i < npoints) {
        int64_t k = 0;
        while (i < npoints) {
            double v = logscale ? (y[i] > 0 ? log10(y[i]) : NAN) : y[i];
            if (!isfinite(v))
                break;
            bx[k] = x[i];
            by[k] = v;
            k++, i++;
        }
        if (k == 1)
            plpoin(1, bx, by, 17);
        else if (k > 1)
            plline((PLINT)k, bx, by);
        i++;
    }
}

static cg_status check_args(const char *path, const double *x, int64_t npoints,
                            const cg_plot_series *series, int nseries,
                            const cg_plot_options *o, const char **device)
{
    static const char *const who = "cg_plot_curves";
    if (!path || !x || !series)
        return cg__error(CG_ERR_NULL, "%s: NULL %s", who, !path ? "path" : !x ? "x" : "series");
    const char *dot = strrchr(path, '.');
    char ext[8] = "";
    for (int i = 0; dot && i < 5 && dot[i]; i++)
        ext[i] = (char)tolower((unsigned char)dot[i]), ext[i + 1] = '\0';
    if (dot && !strcmp(ext, ".png"))
        *device = "pngcairo";
    else if (dot && !strcmp(ext, ".svg"))
        *device = "svgcairo";
    else
        return cg__error(CG_ERR_VALUE, "%s: %s: the file name must end in .png or .svg", who, path);
    if (npoints < 1 || npoints > INT32_MAX)
        return cg__error(CG_ERR_VALUE, "%s: %lld points (1 to 2^31 - 1)", who, (long long)npoints);
    if (nseries < 1 || nseries > MAX_SERIES)
        return cg__error(CG_ERR_VALUE, "%s: %d series (1 to %d)", who, nseries, MAX_SERIES);
    for (int64_t i = 0; i < npoints; i++)
        if (!isfinite(x[i]))
            return cg__error(CG_ERR_VALUE, "%s: x[%lld] is not finite", who, (long long)i);
    for (int s = 0; s < nseries; s++) {
        if (!series[s].y || !series[s].name)
            return cg__error(CG_ERR_NULL, "%s: series %d has a NULL %s", who, s,
                             series[s].y ? "name" : "y");
        if (series[s].axis != CG_PLOT_LEFT && series[s].axis != CG_PLOT_RIGHT)
            return cg__error(CG_ERR_VALUE, "%s: series %d: invalid axis", who, s);
    }
    if ((o->width || o->height) &&
        (o->width < 64 || o->width > 8192 || o->height < 64 || o->height > 8192))
        return cg__error(CG_ERR_VALUE, "%s: size %d x %d out of [64, 8192]", who, o->width, o->height);
    return CG_OK;
}

/* Everything PLplot draws, on the current (fresh, initialised) stream. */
static void draw(const double *x, int64_t npoints, const cg_plot_series *series, int nseries,
                 const cg_plot_options *o, PLFLT *bx, PLFLT *by)
{
    char t1[512], t2[512];
    double xlo = x[0], xhi = x[0];
    for (int64_t i = 1; i < npoints; i++)
        xlo = fmin(xlo, x[i]), xhi = fmax(xhi, x[i]);
    if (xhi - xlo <= fabs(xhi) * 1e-12)
        xlo -= fabs(xlo) > 0 ? fabs(xlo) * 0.1 : 1, xhi += fabs(xhi) > 0 ? fabs(xhi) * 0.1 : 1;
    bool any_left, any_right;
    range left = axis_range(series, nseries, npoints, CG_PLOT_LEFT, o->log_left, &any_left);
    range right = axis_range(series, nseries, npoints, CG_PLOT_RIGHT, false, &any_right);

    pladv(0);
    plvpor(0.1, any_right ? 0.88 : 0.95, 0.12, 0.9);
    plschr(0, 0.9);
    plwidth(1);
    plcol0(1);
    plwind(xlo, xhi, any_left ? left.lo : right.lo, any_left ? left.hi : right.hi);
    plbox("bcnst", 0, 0, any_left ? (o->log_left ? "bnstvl" : "bnstv") : "", 0, 0);
    if (o->title)
        plmtex("t", 1.5, 0.5, 0.5, plot_text(o->title, t1, sizeof t1));
    plmtex("b", 3.0, 0.5, 0.5, plot_text(o->xlabel ? o->xlabel : "epoch", t1, sizeof t1));
    if (o->left_label && any_left)
        plmtex("l", 5.0, 0.5, 0.5, plot_text(o->left_label, t1, sizeof t1));

    PLINT opts[MAX_SERIES], colors[MAX_SERIES], styles[MAX_SERIES];
    PLFLT widths[MAX_SERIES];
    const char *labels[MAX_SERIES];
    char label_buf[MAX_SERIES][128];
    for (int pass = 0; pass < 2; pass++) {
        cg_plot_axis axis = pass ? CG_PLOT_RIGHT : CG_PLOT_LEFT;
        if ((pass == 0 && !any_left) || (pass == 1 && !any_right))
            continue;
        if (pass == 1) {
            plwind(xlo, xhi, right.lo, right.hi);
            plcol0(1);
            plwidth(1);
            pllsty(1);
            plbox("", 0, 0, any_left ? "cmstv" : "bcmstv", 0, 0);
            if (o->right_label)
                plmtex("r", 5.0, 0.5, 0.5, plot_text(o->right_label, t2, sizeof t2));
        }
        for (int s = 0; s < nseries; s++) {
            if (series[s].axis != axis)
                continue;
            plcol0(FIRST_SERIES_COLOR + s % (NCOLORS - FIRST_SERIES_COLOR));
            pllsty(axis == CG_PLOT_RIGHT ? 2 : 1); /* right-axis curves dashed */
            plwidth(2);
            draw_series(x, series[s].y, npoints, pass == 0 && o->log_left, bx, by);
        }
    }
    for (int s = 0; s < nseries; s++) {
        opts[s] = PL_LEGEND_LINE;
        colors[s] = FIRST_SERIES_COLOR + s % (NCOLORS - FIRST_SERIES_COLOR);
        styles[s] = series[s].axis == CG_PLOT_RIGHT ? 2 : 1;
        widths[s] = 2;
        snprintf(t1, sizeof t1, "%s%s", series[s].name,
                 any_left && any_right && series[s].axis == CG_PLOT_RIGHT ? " (right axis)" : "");
        labels[s] = plot_text(t1, label_buf[s], sizeof label_buf[s]);
    }
    plwidth(1);
    pllsty(1);
    PLFLT lw, lh;
    /* Inside the frame, in the corner that hides the fewest points (matplotlib's "best",
     * over the four corners), on a white background with a frame. */
    static const PLINT corners[4] = {
        PL_POSITION_TOP | PL_POSITION_RIGHT, PL_POSITION_TOP | PL_POSITION_LEFT,
        PL_POSITION_BOTTOM | PL_POSITION_RIGHT, PL_POSITION_BOTTOM | PL_POSITION_LEFT};
    int64_t hidden[4] = {0, 0, 0, 0};
    double box_w = 0.45, box_h = 0.04 + 0.075 * nseries;
    for (int si = 0; si < nseries; si++) {
        bool on_left = series[si].axis == CG_PLOT_LEFT;
        range r = on_left ? left : right;
        for (int64_t i = 0; i < npoints; i++) {
            double v = series[si].y[i];
            if (on_left && o->log_left)
                v = v > 0 ? log10(v) : NAN;
            if (!isfinite(v))
                continue;
            double xn = (x[i] - xlo) / (xhi - xlo), yn = (v - r.lo) / (r.hi - r.lo);
            bool right_side = xn > 1 - box_w, left_side = xn < box_w;
            bool top = yn > 1 - box_h, bottom = yn < box_h;
            hidden[0] += top && right_side;
            hidden[1] += top && left_side;
            hidden[2] += bottom && right_side;
            hidden[3] += bottom && left_side;
        }
    }
    int best = 0;
    for (int c = 1; c < 4; c++)
        if (hidden[c] < hidden[best])
            best = c;
    pllegend(&lw, &lh, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
             corners[best] | PL_POSITION_INSIDE, 0.02, 0.03, 0.07, 0, 1, 1, 0, 0, nseries,
             opts, 1.0, 0.8, 2.0, 0.0, colors, labels, NULL, NULL, NULL, NULL, colors, styles,
             widths, NULL, NULL, NULL, NULL);
}

/* Draw into the file tmp (already created) with PLplot; CG_OK or CG_ERR_IO with PLplot's
 * message. Called with plot_lock held. */
static cg_status render(const char *tmp, const char *device, const double *x, int64_t npoints,
                        const cg_plot_series *series, int nseries, const cg_plot_options *o,
                        PLFLT *bx, PLFLT *by)
{
    static const char *const who = "cg_plot_curves";
    PLINT old = 0, mine = -1;
    volatile int stage = 0; /* 0 nothing made, 1 stream made, 2 stream ended */
    plot_message[0] = '\0';
    plgstrm(&old);
    plsexit(on_plexit);
    plsabort(on_plabort);
    plot_jump_armed = true;
    if (setjmp(plot_jump) == 0) {
        if (!device_available(device)) {
            snprintf(plot_message, sizeof plot_message,
                     "device %s not available (is Debian's plplot-driver-cairo installed?)", device);
        } else {
            plmkstrm(&mine);
            stage = 1;
            plsdev(device);
            plsfnam(tmp);
            plspage(0, 0, o->width ? o->width : 800, o->height ? o->height : 500, 0, 0);
            for (int c = 0; c < NCOLORS; c++)
                plscol0(c, palette[c][0], palette[c][1], palette[c][2]);
            plscolbg(255, 255, 255);
            plinit();
            if (!plot_message[0])
                draw(x, npoints, series, nseries, o, bx, by);
            stage = 2;
            plend1();
        }
    } else if (stage == 1) {
        /* plexit jumped out of a half-built stream: end it, still guarded. */
        stage = 2;
        if (setjmp(plot_jump) == 0)
            plend1();
    }
    plot_jump_armed = false;
    plsexit(NULL);
    plsabort(NULL);
    plsstrm(old);
    if (plot_message[0])
        return cg__error(CG_ERR_IO, "%s: PLplot (%s): %s", who, device, plot_message);
    return CG_OK;
}

cg_status cg_plot_curves(const char *path, const double *x, int64_t npoints,
                         const cg_plot_series *series, int nseries, const cg_plot_options *options)
{
    static const char *const who = "cg_plot_curves";
    cg_plot_options defaults = {0};
    const cg_plot_options *o = options ? options : &defaults;
    const char *device = NULL;
    cg_status s = check_args(path, x, npoints, series, nseries, o, &device);
    if (s != CG_OK)
        return s;
    size_t nbuf = (size_t)npoints * sizeof(PLFLT);
    PLFLT *bx = cg__malloc(nbuf), *by = cg__malloc(nbuf);
    if (!bx || !by) {
        if (bx)
            cg__free(bx, nbuf);
        if (by)
            cg__free(by, nbuf);
        return cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    }
    /* Create the temporary file ourselves (so a bad path is our clean error, not PLplot's
     * retry loop), close it, let PLplot write it, then commit it like any atomic file. */
    cg__atomic_file af;
    s = cg__atomic_open(&af, path, who);
    if (s == CG_OK) {
        pthread_mutex_lock(&plot_lock);
        s = render(af.tmp, device, x, npoints, series, nseries, o, bx, by);
        pthread_mutex_unlock(&plot_lock);
        /* PLplot wrote through its own FILE on the same name; reopen for the commit's fsync. */
        FILE *f = s == CG_OK ? fopen(af.tmp, "ab") : NULL;
        if (s == CG_OK && !f) {
            char eb[128];
            s = cg__error(CG_ERR_IO, "%s: cannot reopen %s: %s", who, af.tmp,
                          cg__errno_text(errno, eb, sizeof eb));
        }
        struct stat sb;
        if (s == CG_OK && (fstat(fileno(f), &sb) != 0 || sb.st_size == 0))
            s = cg__error(CG_ERR_IO, "%s: PLplot (%s) wrote nothing to %s", who, device, path);
        if (f) {
            fclose(af.f);
            af.f = f;
        }
        if (s == CG_OK)
            s = cg__atomic_commit(&af, who);
        else
            cg__atomic_abort(&af);
    }
    cg__free(bx, nbuf);
    cg__free(by, nbuf);
    return s;
}
