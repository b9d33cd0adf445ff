/* Atomic file replacement. The temporary file lives in the target's directory so that the
 * rename never crosses file systems (rename(2) is atomic only within one). Its name carries
 * the process id and a counter, and is created with O_EXCL, so concurrent writers (threads
 * or processes) never share a temporary file; a name left behind by a crashed writer is
 * skipped. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic.h"

static atomic_uint tmp_counter;

const char *cg__errno_text(int e, char *buf, size_t n)
{
    /* GNU strerror_r (_GNU_SOURCE is set by the build) may return a static string. */
    return strerror_r(e, buf, n);
}

cg_status cg__atomic_open(cg__atomic_file *af, const char *path, const char *who)
{
    char eb[128];
    af->f = NULL;
    af->tmp = NULL;
    af->path = path;
    if (!path || !*path)
        return cg__error(CG_ERR_NULL, "%s: NULL or empty path", who);
    af->tmp_size = strlen(path) + 48;
    af->tmp = cg__malloc(af->tmp_size);
    if (!af->tmp)
        return cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(af->tmp, af->tmp_size, "%s.tmp-%ld-%u", path, (long)getpid(),
                 atomic_fetch_add(&tmp_counter, 1u));
        fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        int e = errno;
        cg__free(af->tmp, af->tmp_size);
        af->tmp = NULL;
        return cg__error(CG_ERR_IO, "%s: cannot write %s: %s", who, path,
                         cg__errno_text(e, eb, sizeof eb));
    }
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        int e = errno;
        close(fd);
        unlink(af->tmp);
        cg__free(af->tmp, af->tmp_size);
        af->tmp = NULL;
        return cg__error(CG_ERR_IO, "%s: cannot write %s: %s", who, path,
                         cg__errno_text(e, eb, sizeof eb));
    }
    return CG_OK;
}

void cg__sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) + 1 : 2;
    char *dir = cg__malloc(n + 1);
    if (!dir)
        return;
    if (slash)
        memcpy(dir, path, n); /* keeps the slash: "/" for a file at the root */
    else
        memcpy(dir, ".", 2);
    dir[slash ? n : 1] = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    cg__free(dir, n + 1);
}

static void release(cg__atomic_file *af)
{
    if (af->tmp)
        cg__free(af->tmp, af->tmp_size);
    af->tmp = NULL;
    af->f = NULL;
}

void cg__atomic_abort(cg__atomic_file *af)
{
    if (!af->f)
        return;
    fclose(af->f);
    unlink(af->tmp);
    release(af);
}

cg_status cg__atomic_commit(cg__atomic_file *af, const char *who)
{
    char eb[128];
    const char *step = NULL;
    int e = 0;
    /* fflush pushes stdio's buffer to the kernel; ferror catches an earlier failed fwrite
     * whose errno may be gone; fsync puts the bytes on the disk before the rename makes
     * them visible under the real name. */
    if (fflush(af->f) != 0)
        step = "write", e = errno;
    else if (ferror(af->f))
        step = "write", e = EIO;
    else if (fsync(fileno(af->f)) != 0)
        step = "fsync", e = errno;
    if (fclose(af->f) != 0 && !step)
        step = "close", e = errno;
    if (!step && rename(af->tmp, af->path) != 0)
        step = "rename", e = errno;
    if (step) {
        unlink(af->tmp);
        release(af);
        return cg__error(CG_ERR_IO, "%s: cannot write %s (%s): %s", who, af->path, step,
                         cg__errno_text(e, eb, sizeof eb));
    }
    release(af);
    cg__sync_parent_dir(af->path);
    return CG_OK;
}
