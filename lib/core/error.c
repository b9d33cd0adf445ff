/* Per-thread error state: the status and message of the latest failure, like errno. */
#include <stdio.h>

#include "core.h"

static _Thread_local cg_status last_status = CG_OK;
static _Thread_local char last_message[512];
static _Thread_local uint64_t error_count;

static const char *const status_strings[] = {
#define CG__STATUS_TEXT(name, text) text,
    CG_STATUS_MAP(CG__STATUS_TEXT)
#undef CG__STATUS_TEXT
};

const char *cg_status_string(cg_status status)
{
    size_t n = sizeof status_strings / sizeof status_strings[0];
    if ((size_t)status >= n)
        return "unknown status";
    return status_strings[status];
}

cg_status cg_last_status(void) { return last_status; }

const char *cg_last_error(void) { return last_message; }

void cg_clear_error(void)
{
    last_status = CG_OK;
    last_message[0] = '\0';
}

cg_status cg__error(cg_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    last_status = status;
    error_count++;
    return status;
}

bool cg__check_tensor(const cg_tensor *t, const char *who)
{
    if (t == NULL) {
        /* Keep the first error: a NULL usually comes from an op that failed upstream. */
        if (last_status == CG_OK)
            cg__error(CG_ERR_NULL, "%s: NULL tensor", who);
        return false;
    }
    if (t->magic == CG__DEAD) {
        cg__error(CG_ERR_STATE, "%s: tensor used after its tape was reset", who);
        return false;
    }
    if (t->magic != CG__ALIVE) {
        cg__error(CG_ERR_STATE, "%s: not a live tensor", who);
        return false;
    }
    return true;
}

uint64_t cg__error_count(void) { return error_count; }
