/* Atomic file writes: a diagram is either complete at its path or not there at all. The
 * content goes to a temporary file in the same directory (so the rename cannot cross file
 * systems), is flushed with fsync, and is renamed over the path; any failure removes the
 * temporary file. */
#include <errno.h>
#include <stdio.h>

#include "atomic.h"
#include "viz_impl.h"

cg_status vz_write_file(const char *path, const void *data, size_t len, const char *who)
{
    cg__atomic_file af;
    cg_status st = cg__atomic_open(&af, path, who);
    if (st != CG_OK)
        return st;
    if (len > 0 && fwrite(data, 1, len, af.f) != len) {
        char eb[128];
        int e = errno;
        cg__atomic_abort(&af);
        return cg__error(CG_ERR_IO, "%s: cannot write %s: %s", who, path,
                         cg__errno_text(e, eb, sizeof eb));
    }
    return cg__atomic_commit(&af, who);
}
