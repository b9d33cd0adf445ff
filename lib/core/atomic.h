/* Internal: files written atomically (a temporary file in the same directory,
 * fsync, rename over the target, fsync of the directory), so that a reader or a crash sees
 * either the old file or the whole new one, never a part. Used by checkpoints, metrics,
 * plots and diagrams. Nothing here is public. */
#ifndef CG_CORE_ATOMIC_H
#define CG_CORE_ATOMIC_H

#include <stdbool.h>
#include <stdio.h>

#include "core.h"

typedef struct cg__atomic_file {
    FILE *f;        /* the temporary file, open for writing ("wb") */
    char *tmp;      /* its name, "<path>.tmp-<pid>-<k>" (counted allocation) */
    size_t tmp_size;
    const char *path; /* the target (borrowed from the caller) */
} cg__atomic_file;

/* Create the temporary file for path (exclusively, mode 0666 less the umask). CG_ERR_IO
 * naming path and the system's reason (directory missing or not writable, ...); who
 * prefixes the message. On error af holds nothing to release. */
cg_status cg__atomic_open(cg__atomic_file *af, const char *path, const char *who);
/* Flush, fsync and close the temporary file, rename it over path and fsync the directory.
 * On any failure the temporary file is removed and CG_ERR_IO names path, the step and the
 * reason. af is released either way. */
cg_status cg__atomic_commit(cg__atomic_file *af, const char *who);
/* Close and remove the temporary file; the target is untouched. NULL f is a no-op. */
void cg__atomic_abort(cg__atomic_file *af);
/* fsync the directory holding path (after a rename or a creation); errors are ignored:
 * the data is already safe in the file. */
void cg__sync_parent_dir(const char *path);
/* The system's message for errno e (thread-safe), written into buf. */
const char *cg__errno_text(int e, char *buf, size_t n);

#endif
