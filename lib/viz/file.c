/* Atomic file writes: a diagram is either complete at its path or not there at all. The
 * content goes to a temporary file in the same directory (so the rename cannot cross file
 * systems), is flushed with fsync, and is renamed over the path; any failure removes the
 * temporary file. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "viz_impl.h"

static atomic_uint tmp_counter;

/* The system's message for errno e, thread-safely (GNU strerror_r: _GNU_SOURCE is set). */
static const char *reason(int e, char *buf, size_t n) { return strerror_r(e, buf, n); }

/* Create "<path>.tmp-<pid>-<k>" exclusively (mode 0666 less the umask, as a plain file
 * gets); a name left by a crashed writer is skipped. -1 with errno on failure. */
static int open_temp(const char *path, char *tmp, size_t n)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        snprintf(tmp, n, "%s.tmp-%ld-%u", path, (long)getpid(), atomic_fetch_add(&tmp_counter, 1));
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

static bool write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t k = write(fd, p, len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        p += k;
        len -= (size_t)k;
    }
    return true;
}

/* Make the rename itself durable; failure here loses nothing already written. */
static void sync_dir(const char *path)
{
    size_t n = strlen(path) + 1;
    char *copy = cg__malloc(n);
    if (!copy)
        return;
    memcpy(copy, path, n);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    cg__free(copy, n);
}

cg_status vz_write_file(const char *path, const void *data, size_t len, const char *who)
{
    size_t n = strlen(path) + 64;
    char *tmp = cg__malloc(n), eb[128];
    if (!tmp)
        return cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    int fd = open_temp(path, tmp, n);
    if (fd < 0) {
        int e = errno;
        cg__free(tmp, n);
        return cg__error(CG_ERR_IO, "%s: cannot write %s: %s", who, path, reason(e, eb, sizeof eb));
    }
    const char *step = "write";
    bool ok = write_all(fd, data, len);
    if (ok && !(ok = fsync(fd) == 0))
        step = "fsync";
    int e = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        step = "close";
        e = errno;
    }
    if (ok && !(ok = rename(tmp, path) == 0)) {
        step = "rename to";
        e = errno;
    }
    if (!ok) {
        unlink(tmp);
        cg__free(tmp, n);
        return cg__error(CG_ERR_IO, "%s: cannot %s %s: %s", who, step, path,
                         reason(e, eb, sizeof eb));
    }
    cg__free(tmp, n);
    sync_dir(path);
    return CG_OK;
}
