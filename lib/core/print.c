/* Printing tensors the way PyTorch shows them: nested brackets, at most six entries per
 * dimension (first three, "...", last three). */
#include "core.h"

enum { EDGE = 3 };

static void print_dim(const cg_tensor *t, FILE *f, int d, int64_t off, int indent)
{
    int64_t n = t->shape[d];
    fputc('[', f);
    for (int64_t i = 0; i < n; i++) {
        if (n > 2 * EDGE && i == EDGE) {
            fputs(d == t->ndim - 1 ? "..., " : "...,\n", f);
            if (d != t->ndim - 1)
                fprintf(f, "%*s", indent + 1, "");
            i = n - EDGE;
        }
        int64_t o = off + i * t->strides[d];
        if (d == t->ndim - 1) {
            double v = cg__load(t, o);
            if (t->dtype == CG_I64)
                fprintf(f, "%lld", (long long)v);
            else
                fprintf(f, "%.4f", v);
        } else {
            print_dim(t, f, d + 1, o, indent + 1);
        }
        if (i + 1 < n)
            fputs(d == t->ndim - 1 ? ", " : ",\n", f), (d != t->ndim - 1)
                                                           ? (void)fprintf(f, "%*s", indent + 1, "")
                                                           : (void)0;
    }
    fputc(']', f);
}

cg_status cg_tensor_print(const cg_tensor *t, FILE *f)
{
    if (!cg__check_tensor(t, "cg_tensor_print"))
        return cg_last_status();
    if (!f)
        return cg__error(CG_ERR_NULL, "cg_tensor_print: NULL file");
    char b[160];
    fprintf(f, "tensor(");
    if (t->ndim == 0)
        fprintf(f, t->dtype == CG_I64 ? "%.0f" : "%.4f", cg__load(t, t->offset));
    else if (cg__shape_numel(t->ndim, t->shape) == 0)
        fputs("[]", f);
    else
        print_dim(t, f, 0, t->offset, 7);
    fprintf(f, ", shape=%s, dtype=%s%s)\n", cg__shape_str(t->ndim, t->shape, b, sizeof b),
            cg_dtype_name(t->dtype), t->requires_grad ? ", requires_grad" : "");
    return CG_OK;
}
