/* Metrics logs: CSV files of numbers, one row per evaluation.
 *
 * Durability choice: rows are appended to the real file and flushed one by one (one
 * write(2) per row, from a buffer holding the whole line), not kept in a temporary file
 * renamed at close: a training run that crashes keeps every row logged before the crash
 * in the file a user looks at, and a resumed run appends to it. The file as a whole is
 * replaced atomically only when it is created (header through a temporary file, fsync,
 * rename). Numbers are formatted and parsed in the "C" locale whatever the program's
 * LC_NUMERIC, so a decimal comma never splits a field. */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"
#include "cgrad/io.h"

#define MAX_FIELD 32            /* "-1.2345678901234567e-308" and a comma fit */
#define MAX_FILE (1u << 30)     /* cg_metrics_read refuses larger logs */

struct cg_metrics {
    FILE *f;
    char *path;
    int ncols;
    int64_t rows;
    bool broken;
    locale_t c_locale;
    char *line; /* ncols * MAX_FIELD + 2 bytes */
};

static const char *const training_columns[] = {
    "epoch", "step", "train_loss", "val_loss", "val_accuracy", "lr", "seconds",
};

const char *const *cg_metrics_training_columns(int *n)
{
    if (n)
        *n = (int)(sizeof training_columns / sizeof training_columns[0]);
    return training_columns;
}

/* Shortest of %.15g, %.16g, %.17g that reads back to v (locale "C" in force). */
static int format_number(char *buf, size_t n, double v)
{
    if (isnan(v))
        return snprintf(buf, n, "nan");
    if (isinf(v))
        return snprintf(buf, n, v > 0 ? "inf" : "-inf");
    int len = 0;
    for (int prec = 15; prec <= 17; prec++) {
        len = snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return len;
}

static char *header_line(const char *const *columns, int ncols, size_t *len, const char *who)
{
    size_t n = 1;
    for (int i = 0; i < ncols; i++) {
        const char *c = columns[i];
        if (!c) {
            cg__error(CG_ERR_NULL, "%s: NULL column name %d", who, i);
            return NULL;
        }
        if (!*c || strpbrk(c, ",\"") ) {
            cg__error(CG_ERR_VALUE, "%s: column name \"%s\" is empty or holds a comma or a quote",
                      who, c);
            return NULL;
        }
        for (const char *p = c; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) {
                cg__error(CG_ERR_VALUE, "%s: column name %d holds a control character", who, i);
                return NULL;
            }
        for (int j = 0; j < i; j++)
            if (!strcmp(columns[j], c)) {
                cg__error(CG_ERR_VALUE, "%s: duplicate column name \"%s\"", who, c);
                return NULL;
            }
        n += strlen(c) + 1;
    }
    char *h = cg__malloc(n);
    if (!h) {
        cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
        return NULL;
    }
    char *p = h;
    for (int i = 0; i < ncols; i++) {
        size_t k = strlen(columns[i]);
        memcpy(p, columns[i], k);
        p += k;
        *p++ = i + 1 < ncols ? ',' : '\n';
    }
    *p = '\0';
    *len = (size_t)(p - h);
    return h;
}

/* Append mode on an existing file: check its header, drop a torn last line. Returns CG_OK,
 * or an error; *empty is set when the file holds no byte (write a header then). */
static cg_status prepare_append(const char *path, const char *header, size_t hlen, bool *empty,
                                const char *who)
{
    char eb[128];
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return cg__error(CG_ERR_IO, "%s: cannot open %s: %s", who, path,
                         cg__errno_text(errno, eb, sizeof eb));
    struct stat sb;
    cg_status s = CG_OK;
    char *buf = cg__malloc(hlen + 1);
    if (!buf) {
        close(fd);
        return cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        s = cg__error(CG_ERR_IO, "%s: %s is not a regular file", who, path);
        goto done;
    }
    *empty = sb.st_size == 0;
    if (*empty)
        goto done;
    ssize_t got = pread(fd, buf, hlen, 0);
    if (got != (ssize_t)hlen || memcmp(buf, header, hlen)) {
        s = cg__error(CG_ERR_FORMAT, "%s: %s exists with other columns than %.*s", who, path,
                      (int)hlen - 1, header);
        goto done;
    }
    /* Find the end of the last complete line, reading backwards in blocks of hlen + 1. */
    off_t end = sb.st_size;
    char last;
    if (pread(fd, &last, 1, end - 1) != 1) {
        s = cg__error(CG_ERR_IO, "%s: cannot read %s", who, path);
        goto done;
    }
    if (last != '\n') {
        off_t pos = end, keep = (off_t)hlen;
        while (pos > (off_t)hlen) {
            off_t from = pos - (off_t)(hlen + 1) > (off_t)hlen ? pos - (off_t)(hlen + 1) : (off_t)hlen;
            ssize_t k = pread(fd, buf, (size_t)(pos - from), from);
            if (k != pos - from) {
                s = cg__error(CG_ERR_IO, "%s: cannot read %s", who, path);
                goto done;
            }
            off_t hit = -1;
            for (ssize_t i = k - 1; i >= 0 && hit < 0; i--)
                if (buf[i] == '\n')
                    hit = from + i + 1;
            if (hit >= 0) {
                keep = hit;
                break;
            }
            pos = from;
        }
        if (ftruncate(fd, keep) != 0 || fsync(fd) != 0)
            s = cg__error(CG_ERR_IO, "%s: cannot drop the torn last line of %s: %s", who, path,
                          cg__errno_text(errno, eb, sizeof eb));
    }
done:
    cg__free(buf, hlen + 1);
    close(fd);
    return s;
}

static void metrics_free(cg_metrics *m)
{
    if (m->f)
        fclose(m->f);
    if (m->path)
        cg__free(m->path, strlen(m->path) + 1);
    if (m->line)
        cg__free(m->line, (size_t)m->ncols * MAX_FIELD + 2);
    if (m->c_locale)
        freelocale(m->c_locale);
    cg__free(m, sizeof *m);
}

cg_metrics *cg_metrics_open(const char *path, const char *const *columns, int ncols, bool append)
{
    static const char *const who = "cg_metrics_open";
    char eb[128];
    if (!path || !columns) {
        cg__error(CG_ERR_NULL, "%s: NULL %s", who, path ? "columns" : "path");
        return NULL;
    }
    if (ncols < 1 || ncols > 100000) {
        cg__error(CG_ERR_VALUE, "%s: %d columns (1 to 100000)", who, ncols);
        return NULL;
    }
    size_t hlen;
    char *header = header_line(columns, ncols, &hlen, who);
    if (!header)
        return NULL;
    cg_metrics *m = cg__calloc(1, sizeof *m);
    cg_status s = CG_OK;
    if (!m || !(m->path = cg__strdup(path)) ||
        !(m->line = cg__malloc((size_t)ncols * MAX_FIELD + 2)) ||
        !(m->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0)))
        s = cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    if (m)
        m->ncols = ncols;
    bool create = true;
    if (s == CG_OK && append && access(path, F_OK) == 0) {
        bool empty = false;
        s = prepare_append(path, header, hlen, &empty, who);
        create = empty;
    }
    if (s == CG_OK && create) {
        cg__atomic_file af;
        s = cg__atomic_open(&af, path, who);
        if (s == CG_OK) {
            if (fwrite(header, 1, hlen, af.f) != hlen) {
                cg__atomic_abort(&af);
                s = cg__error(CG_ERR_IO, "%s: cannot write %s", who, path);
            } else {
                s = cg__atomic_commit(&af, who);
            }
        }
    }
    cg__free(header, strlen(header) + 1);
    if (s == CG_OK && !(m->f = fopen(path, "ab")))
        s = cg__error(CG_ERR_IO, "%s: cannot open %s: %s", who, path,
                      cg__errno_text(errno, eb, sizeof eb));
    if (s != CG_OK) {
        if (m)
            metrics_free(m);
        return NULL;
    }
    return m;
}

cg_status cg_metrics_row(cg_metrics *m, const double *values)
{
    static const char *const who = "cg_metrics_row";
    if (!m || !values)
        return cg__error(CG_ERR_NULL, "%s: NULL %s", who, m ? "values" : "log");
    if (m->broken)
        return cg__error(CG_ERR_IO, "%s: %s: an earlier write failed", who, m->path);
    locale_t old = uselocale(m->c_locale);
    char *p = m->line;
    for (int i = 0; i < m->ncols; i++) {
        p += format_number(p, MAX_FIELD, values[i]);
        *p++ = i + 1 < m->ncols ? ',' : '\n';
    }
    uselocale(old);
    size_t len = (size_t)(p - m->line);
    /* The line is complete before it is handed to stdio, and fflush passes it to the kernel
     * in one write: a crash leaves whole rows only (barring a power cut mid-write, which the
     * append mode's torn-line check repairs). */
    if (fwrite(m->line, 1, len, m->f) != len || fflush(m->f) != 0) {
        char eb[128];
        m->broken = true;
        return cg__error(CG_ERR_IO, "%s: cannot write %s: %s", who, m->path,
                         cg__errno_text(errno, eb, sizeof eb));
    }
    m->rows++;
    return CG_OK;
}

int64_t cg_metrics_num_rows(const cg_metrics *m) { return m ? m->rows : 0; }

cg_status cg_metrics_close(cg_metrics *m)
{
    if (!m)
        return CG_OK;
    char eb[128];
    cg_status s = CG_OK;
    if (fflush(m->f) != 0 || fsync(fileno(m->f)) != 0 || m->broken)
        s = cg__error(CG_ERR_IO, "cg_metrics_close: %s: %s", m->path,
                      m->broken ? "an earlier write failed" : cg__errno_text(errno, eb, sizeof eb));
    int rc = fclose(m->f);
    m->f = NULL;
    if (rc != 0 && s == CG_OK)
        s = cg__error(CG_ERR_IO, "cg_metrics_close: %s: %s", m->path,
                      cg__errno_text(errno, eb, sizeof eb));
    metrics_free(m);
    return s;
}

/* ---------------------------------- reading ---------------------------------- */

void cg_metrics_table_free(cg_metrics_table *t)
{
    if (!t)
        return;
    for (int c = 0; c < t->ncols; c++)
        if (t->columns[c])
            cg__free(t->columns[c], strlen(t->columns[c]) + 1);
    if (t->columns)
        cg__free(t->columns, (size_t)t->ncols * sizeof *t->columns);
    if (t->values)
        cg__free(t->values, (size_t)t->ncols * (size_t)t->nrows * sizeof *t->values + 1);
    cg__free(t, sizeof *t);
}

const double *cg_metrics_table_column(const cg_metrics_table *t, const char *name)
{
    if (!t || !name)
        return NULL;
    for (int c = 0; c < t->ncols; c++)
        if (!strcmp(t->columns[c], name))
            return t->values + (size_t)c * (size_t)t->nrows;
    return NULL;
}

/* Split the header line [s, e) into t->columns. */
static cg_status parse_columns(cg_metrics_table *t, const char *s, const char *e, const char *path)
{
    int n = 1;
    for (const char *p = s; p < e; p++)
        n += *p == ',';
    t->columns = cg__calloc((size_t)n, sizeof *t->columns);
    if (!t->columns)
        return cg__error(CG_ERR_NOMEM, "cg_metrics_read: out of memory");
    t->ncols = n;
    for (int c = 0; c < n; c++) {
        const char *q = memchr(s, ',', (size_t)(e - s));
        if (!q)
            q = e;
        size_t k = (size_t)(q - s);
        if (!(t->columns[c] = cg__malloc(k + 1)))
            return cg__error(CG_ERR_NOMEM, "cg_metrics_read: out of memory");
        memcpy(t->columns[c], s, k);
        t->columns[c][k] = '\0';
        if (!k || memchr(s, '\0', k))
            return cg__error(CG_ERR_FORMAT, "cg_metrics_read: %s: empty column name in the header",
                             path);
        s = q + 1;
    }
    return CG_OK;
}

/* Parse the data lines of text[0..len) (after the header) into t->values. */
static cg_status parse_rows(cg_metrics_table *t, const char *text, size_t len, const char *path)
{
    int64_t rows = 0;
    for (size_t i = 0; i < len; i++)
        rows += text[i] == '\n';
    t->values = cg__malloc((size_t)t->ncols * (size_t)rows * sizeof *t->values + 1);
    if (!t->values)
        return cg__error(CG_ERR_NOMEM, "cg_metrics_read: out of memory");
    t->nrows = rows;
    const char *p = text;
    char field[64];
    for (int64_t r = 0; r < rows; r++) {
        const char *eol = memchr(p, '\n', len - (size_t)(p - text));
        const char *e = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
        for (int c = 0; c < t->ncols; c++) {
            const char *q = c + 1 < t->ncols ? memchr(p, ',', (size_t)(e - p)) : e;
            size_t k = q ? (size_t)(q - p) : sizeof field;
            if (!q || k >= sizeof field || (c + 1 == t->ncols && memchr(p, ',', k)))
                return cg__error(CG_ERR_FORMAT, "cg_metrics_read: %s: line %lld does not hold %d "
                                 "numbers", path, (long long)r + 2, t->ncols);
            memcpy(field, p, k);
            field[k] = '\0';
            double v = NAN;
            char *end = field;
            if (k > 0)
                v = strtod(field, &end);
            if (*end)
                return cg__error(CG_ERR_FORMAT, "cg_metrics_read: %s: line %lld, column %s: \"%s\" "
                                 "is not a number", path, (long long)r + 2, t->columns[c], field);
            t->values[(size_t)c * (size_t)rows + (size_t)r] = v;
            p = q + 1;
        }
        p = eol + 1;
    }
    return CG_OK;
}

cg_metrics_table *cg_metrics_read(const char *path)
{
    static const char *const who = "cg_metrics_read";
    char eb[128];
    if (!path) {
        cg__error(CG_ERR_NULL, "%s: NULL path", who);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    struct stat sb;
    if (!f || fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > (off_t)MAX_FILE) {
        int e = errno;
        cg__error(CG_ERR_IO, "%s: cannot read %s: %s", who, path,
                  !f ? cg__errno_text(e, eb, sizeof eb) : "not a regular file of at most 1 GB");
        if (f)
            fclose(f);
        return NULL;
    }
    size_t size = (size_t)sb.st_size;
    char *text = cg__malloc(size + 1);
    cg_metrics_table *t = cg__calloc(1, sizeof *t);
    locale_t c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    cg_status s = CG_OK;
    if (!text || !t || !c_locale)
        s = cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    else if (fread(text, 1, size, f) != size)
        s = cg__error(CG_ERR_IO, "%s: cannot read %s", who, path);
    fclose(f);
    if (s == CG_OK) {
        text[size] = '\0';
        /* A last line without its newline is a row torn by a crash: ignore it. */
        size_t used = size;
        while (used > 0 && text[used - 1] != '\n')
            used--;
        const char *nl = memchr(text, '\n', used);
        if (!nl) {
            s = cg__error(CG_ERR_FORMAT, "%s: %s has no header line", who, path);
        } else {
            s = parse_columns(t, text, nl > text && nl[-1] == '\r' ? nl - 1 : nl, path);
            locale_t old = uselocale(c_locale);
            if (s == CG_OK)
                s = parse_rows(t, nl + 1, used - (size_t)(nl + 1 - text), path);
            uselocale(old);
        }
    }
    if (text)
        cg__free(text, size + 1);
    if (c_locale)
        freelocale(c_locale);
    if (s != CG_OK) {
        cg_metrics_table_free(t);
        return NULL;
    }
    return t;
}
