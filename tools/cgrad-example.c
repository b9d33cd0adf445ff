/*
 * cgrad-example: the smallest complete training loop on libcgrad's public API.
 *
 * A two-layer perceptron (1 -> 32 ReLU units -> 1) learns y = sin(x) on [-pi, pi] by
 * full-batch gradient descent on the mean squared error. Each step resets the tape,
 * records the forward pass, runs backward, and updates the caller-owned parameters in
 * place through cg_tensor_data and cg_tensor_grad. The loss is printed as it falls.
 *
 * Usage: cgrad-example [steps]   (default 2000). Exit status 0 when the final loss is
 * below a tenth of the first one, 1 otherwise or on any library error.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <cgrad/cgrad.h>

enum { NPOINTS = 64, HIDDEN = 32 };

static const double PI = 3.14159265358979323846;

/* A caller-owned f32 parameter drawn uniformly from [-bound, bound), marked for gradients. */
static cg_tensor *param(cg_rng *rng, int ndim, const int64_t *shape, double bound)
{
    cg_tensor *p = cg_tensor_uniform(rng, CG_F32, ndim, shape, -bound, bound);
    if (p && cg_tensor_set_requires_grad(p, true) != CG_OK) {
        cg_tensor_free(p);
        return NULL;
    }
    return p;
}

/* p -= lr * grad(p), then drop the gradient for the next step. */
static void sgd_update(cg_tensor *p, float lr)
{
    cg_tensor *g = cg_tensor_grad(p);
    if (!g)
        return;
    float *w = cg_tensor_data(p);
    const float *dw = cg_tensor_data(g);
    for (int64_t i = 0, n = cg_tensor_numel(p); i < n; i++)
        w[i] -= lr * dw[i];
    cg_tensor_zero_grad(p);
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 2000;
    if (steps < 1) {
        fprintf(stderr, "usage: %s [steps >= 1]\n", argv[0]);
        return 2;
    }
    const float lr = 0.1f;

    /* The toy problem: NPOINTS evenly spaced x in [-pi, pi], targets sin(x). */
    float xs[NPOINTS], ys[NPOINTS];
    for (int i = 0; i < NPOINTS; i++) {
        xs[i] = (float)(-PI + 2 * PI * i / (NPOINTS - 1));
        ys[i] = (float)sin(xs[i]);
    }
    const int64_t data_shape[2] = {NPOINTS, 1};
    cg_tensor *x = cg_tensor_from_data(CG_F32, 2, data_shape, xs);
    cg_tensor *y = cg_tensor_from_data(CG_F32, 2, data_shape, ys);
    cg_tensor *zero = cg_tensor_scalar(CG_F32, 0.0);

    /* Parameters, initialised as PyTorch's nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
    cg_rng rng = cg_rng_init(42);
    const int64_t w1_shape[2] = {1, HIDDEN}, b1_shape[1] = {HIDDEN};
    const int64_t w2_shape[2] = {HIDDEN, 1}, b2_shape[1] = {1};
    const double bound2 = 1.0 / sqrt((double)HIDDEN);
    cg_tensor *params[4] = {
        param(&rng, 2, w1_shape, 1.0), param(&rng, 1, b1_shape, 1.0),
        param(&rng, 2, w2_shape, bound2), param(&rng, 1, b2_shape, bound2),
    };
    cg_tensor *w1 = params[0], *b1 = params[1], *w2 = params[2], *b2 = params[3];

    cg_tape *tape = cg_tape_new();
    cg_tape_use(tape);
    int status = 1;
    double first = NAN, last = NAN;
    if (!x || !y || !zero || !w1 || !b1 || !w2 || !b2 || !tape) {
        fprintf(stderr, "cgrad-example: setup failed: %s\n", cg_last_error());
        goto done;
    }

    printf("fitting y = sin(x) with a 1-%d-1 ReLU network, %d points, SGD lr %g\n", HIDDEN,
           NPOINTS, (double)lr);
    for (int step = 0; step < steps; step++) {
        cg_tape_reset(tape); /* frees the previous step's intermediates, keeps the memory */

        /* pred = relu(x W1 + b1) W2 + b2;  loss = mean((pred - y)^2) */
        cg_tensor *h = cg_maximum(cg_add(cg_matmul(x, w1), b1), zero);
        cg_tensor *pred = cg_add(cg_matmul(h, w2), b2);
        cg_tensor *loss = cg_mean(cg_pow_scalar(cg_sub(pred, y), 2.0), NULL, 0, false);
        if (!loss || cg_backward(loss, NULL) != CG_OK) {
            fprintf(stderr, "cgrad-example: step %d failed: %s\n", step, cg_last_error());
            goto done;
        }
        last = cg_tensor_item(loss);
        if (step == 0)
            first = last;
        if (step % (steps >= 10 ? steps / 10 : 1) == 0 || step == steps - 1)
            printf("step %5d  loss %.6f\n", step, last);

        for (int i = 0; i < 4; i++)
            sgd_update(params[i], lr);
    }
    status = last < first / 10 ? 0 : 1;
    printf("loss fell from %.6f to %.6f%s\n", first, last,
           status == 0 ? "" : " (less than tenfold: training did not work)");

done:
    cg_tape_free(tape);
    for (int i = 0; i < 4; i++)
        cg_tensor_free(params[i]);
    cg_tensor_free(zero);
    cg_tensor_free(y);
    cg_tensor_free(x);
    return status;
}
