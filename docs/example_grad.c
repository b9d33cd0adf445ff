#include <stdio.h>
#include <cgrad/cgrad.h>

int main(void)
{
    cg_tape *tape = cg_tape_new();                 /* owns every intermediate result */
    cg_tape_use(tape);
    const int64_t n = 3;
    cg_tensor *x = cg_tensor_from_data(CG_F64, 1, &n, (double[]){1, 2, 3});
    cg_tensor *w = cg_tensor_from_data(CG_F64, 1, &n, (double[]){0.5, -1, 2});
    cg_tensor_set_requires_grad(w, true);

    /* loss = sum((w * x)^2), so d loss / d w = 2 w x^2 */
    cg_tensor *loss = cg_sum(cg_pow_scalar(cg_mul(w, x), 2.0), NULL, 0, false);
    if (!loss || cg_backward(loss, NULL) != CG_OK) {
        fprintf(stderr, "error: %s\n", cg_last_error());
        return 1;
    }
    const double *g = cg_tensor_data(cg_tensor_grad(w));
    printf("loss = %g, dloss/dw = [%g, %g, %g]\n", cg_tensor_item(loss), g[0], g[1], g[2]);

    cg_tensor_free(x);                             /* the caller owns x and w */
    cg_tensor_free(w);
    cg_tape_free(tape);
    return 0;
}
