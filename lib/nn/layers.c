/*
 * The built-in modules (torch.nn's layers): thin wrappers that own parameters, buffers and
 * hyperparameters and call the functional forms at forward.
 *
 * Names, shapes, defaults and train/eval behaviour are PyTorch's, and so are the default
 * initialisations (drawn from the caller's generator in PyTorch's order: weight, then
 * bias). A forward finds its tensors by name (cg__module_own), which is how a
 * weight-normalised "weight" computed by the module core reaches it. Constructors reject
 * bad hyperparameters with a message naming the module type; bad inputs are reported by
 * the functional forms, and cg_module_forward prefixes the module type.
 *
 * Each module keeps its hyperparameters in a state block copied at construction
 * (state_new), which records its own size so one free function serves every type.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "module_impl.h"

/* ---- construction helpers ---- */

typedef union state_header {
    size_t size;
    max_align_t align; /* keeps the state after the header aligned for any type */
} state_header;

static void *state_new(const void *init, size_t n)
{
    state_header *h = cg__malloc(sizeof *h + n);
    if (!h)
        return NULL;
    h->size = n;
    memcpy(h + 1, init, n);
    return h + 1;
}

static void state_free(void *state)
{
    state_header *h = (state_header *)state - 1;
    cg__free(h, sizeof *h + h->size);
}

/* Record "type: message" and return NULL. */
static cg_module *refuse(cg_status st, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static cg_module *refuse(cg_status st, const char *type, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cg__error(st, "%s: %s", type, msg);
    return NULL;
}

/* A module of the given type with a copy of n bytes of state (none when n is 0). */
static cg_module *make(const char *type, cg_module_forward_fn fwd, const void *state, size_t n)
{
    void *s = n ? state_new(state, n) : NULL;
    if (n && !s)
        return refuse(CG_ERR_NOMEM, type, "out of memory");
    return cg_module_new(type, fwd, s, n ? state_free : NULL);
}

/* Hand t to m as a parameter (or buffer). t may be NULL from a failed constructor; a
 * tensor m did not take is freed. */
static bool take(cg_module *m, const char *name, cg_tensor *t, bool buffer)
{
    cg_status st = !t       ? cg_last_status()
                   : buffer ? cg_module_add_buffer(m, name, t)
                            : cg_module_add_parameter(m, name, t);
    if (st != CG_OK)
        cg_tensor_free(t);
    return st == CG_OK;
}

/* Free a half-built module and return NULL. */
static cg_module *discard(cg_module *m)
{
    cg_module_free(m);
    return NULL;
}

static bool float_dtype(cg_dtype dtype, const char *type)
{
    if (dtype == CG_F32 || dtype == CG_F64)
        return true;
    refuse(CG_ERR_DTYPE, type, "dtype must be f32 or f64, not %s", cg_dtype_name(dtype));
    return false;
}

/* A tensor's channel count (dimension 1) must be the module's. The message needs no
 * type: cg_module_forward prefixes it. */
static bool check_channels(cg_tensor *x, int64_t want)
{
    int64_t c = cg_tensor_size(x, 1);
    if (c == want)
        return true;
    cg__error(CG_ERR_SHAPE, "expected %lld channels (dimension 1), got input with %lld",
              (long long)want, (long long)c);
    return false;
}

static bool check_ndim(cg_tensor *x, int lo, int hi)
{
    int nd = cg_tensor_ndim(x);
    if (nd >= lo && nd <= hi)
        return true;
    if (lo == hi)
        cg__error(CG_ERR_SHAPE, "expected %d-d input, got %d-d", lo, nd);
    else
        cg__error(CG_ERR_SHAPE, "expected %d-d to %d-d input, got %d-d", lo, hi, nd);
    return false;
}

/* ---- Linear and Conv2d ---- */

typedef struct affine_state {
    int64_t in, out;
    bool bias;
    cg_conv2d_options options; /* Conv2d only */
} affine_state;

static cg_tensor *linear_forward(cg_module *self, cg_tensor *x)
{
    const affine_state *s = cg_module_state(self);
    return cg_linear(x, cg__module_own(self, "weight"),
                     s->bias ? cg__module_own(self, "bias") : NULL);
}

static cg_tensor *conv2d_forward(cg_module *self, cg_tensor *x)
{
    const affine_state *s = cg_module_state(self);
    return cg_conv2d(x, cg__module_own(self, "weight"),
                     s->bias ? cg__module_own(self, "bias") : NULL, &s->options);
}

/* PyTorch's reset_parameters of Linear and Conv2d: weight kaiming_uniform(a = sqrt(5)),
 * i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), then the bias from the same interval. */
static bool default_init(cg_module *m, cg_rng *rng, int ndim, const int64_t *wshape,
                         bool bias, cg_dtype dtype)
{
    cg_tensor *w = cg_tensor_zeros(dtype, ndim, wshape);
    if (!w || cg_init_kaiming_uniform(w, rng, sqrt(5.0), false, CG_NL_LEAKY_RELU) != CG_OK) {
        cg_tensor_free(w);
        return false;
    }
    if (!take(m, "weight", w, false))
        return false;
    if (!bias)
        return true;
    int64_t fan_in;
    cg_init_fans(w, &fan_in, NULL);
    double bound = fan_in > 0 ? 1.0 / sqrt((double)fan_in) : 0.0;
    cg_tensor *b = cg_tensor_zeros(dtype, 1, wshape);
    if (b && cg_init_uniform(b, rng, -bound, bound) != CG_OK) {
        cg_tensor_free(b);
        return false;
    }
    return take(m, "bias", b, false);
}

cg_module *cg_linear_new(int64_t in, int64_t out, bool bias, cg_dtype dtype, cg_rng *rng)
{
    const char *type = "Linear";
    if (in <= 0 || out <= 0)
        return refuse(CG_ERR_VALUE, type, "in_features and out_features must be positive, got "
                      "%lld and %lld", (long long)in, (long long)out);
    if (!rng)
        return refuse(CG_ERR_NULL, type, "NULL rng");
    if (!float_dtype(dtype, type))
        return NULL;
    affine_state s = {.in = in, .out = out, .bias = bias};
    cg_module *m = make(type, linear_forward, &s, sizeof s);
    if (!m || !default_init(m, rng, 2, (int64_t[]){out, in}, bias, dtype))
        return discard(m);
    return m;
}

static bool positive_pair(const int64_t *v, int64_t min)
{
    return v[0] >= min && v[1] >= min;
}

/* Window geometry every convolution and pooling module needs. */
static bool check_window(const cg_conv2d_options *o, const char *type)
{
    if (!o) {
        refuse(CG_ERR_NULL, type, "NULL options");
        return false;
    }
    if (!positive_pair(o->kernel, 1) || !positive_pair(o->stride, 1) ||
        !positive_pair(o->padding, 0) || !positive_pair(o->dilation, 1)) {
        refuse(CG_ERR_VALUE, type, "kernel, stride and dilation must be positive and padding "
               "non-negative (kernel %lldx%lld, stride %lldx%lld, padding %lldx%lld, dilation "
               "%lldx%lld)", (long long)o->kernel[0], (long long)o->kernel[1],
               (long long)o->stride[0], (long long)o->stride[1], (long long)o->padding[0],
               (long long)o->padding[1], (long long)o->dilation[0], (long long)o->dilation[1]);
        return false;
    }
    return true;
}

cg_module *cg_conv2d_new(int64_t in, int64_t out, const cg_conv2d_options *options, bool bias,
                         cg_dtype dtype, cg_rng *rng)
{
    const char *type = "Conv2d";
    if (in <= 0 || out <= 0)
        return refuse(CG_ERR_VALUE, type, "in_channels and out_channels must be positive, got "
                      "%lld and %lld", (long long)in, (long long)out);
    if (!check_window(options, type))
        return NULL;
    int64_t g = options->groups;
    if (g < 1 || in % g != 0 || out % g != 0)
        return refuse(CG_ERR_VALUE, type, "groups (%lld) must be positive and divide "
                      "in_channels (%lld) and out_channels (%lld)", (long long)g, (long long)in,
                      (long long)out);
    if (!rng)
        return refuse(CG_ERR_NULL, type, "NULL rng");
    if (!float_dtype(dtype, type))
        return NULL;
    affine_state s = {.in = in, .out = out, .bias = bias, .options = *options};
    cg_module *m = make(type, conv2d_forward, &s, sizeof s);
    int64_t wshape[4] = {out, in / g, options->kernel[0], options->kernel[1]};
    if (!m || !default_init(m, rng, 4, wshape, bias, dtype))
        return discard(m);
    return m;
}

/* ---- pooling and reshaping ---- */

static cg_tensor *max_pool_forward(cg_module *self, cg_tensor *x)
{
    return cg_max_pool2d(x, cg_module_state(self));
}

static cg_tensor *avg_pool_forward(cg_module *self, cg_tensor *x)
{
    return cg_avg_pool2d(x, cg_module_state(self));
}

static cg_tensor *global_avg_pool_forward(cg_module *self, cg_tensor *x)
{
    (void)self;
    return cg_global_avg_pool2d(x);
}

cg_module *cg_max_pool2d_new(const cg_conv2d_options *options)
{
    if (!check_window(options, "MaxPool2d"))
        return NULL;
    return make("MaxPool2d", max_pool_forward, options, sizeof *options);
}

cg_module *cg_avg_pool2d_new(const cg_conv2d_options *options)
{
    if (!check_window(options, "AvgPool2d"))
        return NULL;
    if (options->dilation[0] != 1 || options->dilation[1] != 1) /* nn.AvgPool2d has none */
        return refuse(CG_ERR_VALUE, "AvgPool2d", "dilation must be 1");
    return make("AvgPool2d", avg_pool_forward, options, sizeof *options);
}

cg_module *cg_global_avg_pool2d_new(void)
{
    return make("GlobalAvgPool2d", global_avg_pool_forward, NULL, 0);
}

typedef struct flatten_state {
    int start, end;
} flatten_state;

static cg_tensor *flatten_forward(cg_module *self, cg_tensor *x)
{
    const flatten_state *s = cg_module_state(self);
    return cg_flatten(x, s->start, s->end);
}

cg_module *cg_flatten_new(int start, int end)
{
    flatten_state s = {start, end};
    return make("Flatten", flatten_forward, &s, sizeof s);
}

/* ---- activations ---- */

typedef struct activation_state {
    cg_activation kind;
    double a, b;
} activation_state;

static const char *const activation_names[] = {
    [CG_ACT_SIGMOID] = "Sigmoid",    [CG_ACT_TANH] = "Tanh",         [CG_ACT_RELU] = "ReLU",
    [CG_ACT_LEAKY_RELU] = "LeakyReLU", [CG_ACT_ELU] = "ELU",         [CG_ACT_SELU] = "SELU",
    [CG_ACT_GELU] = "GELU",          [CG_ACT_SOFTPLUS] = "Softplus", [CG_ACT_SILU] = "SiLU",
    [CG_ACT_HARDTANH] = "Hardtanh",  [CG_ACT_SOFTMAX] = "Softmax",
    [CG_ACT_LOG_SOFTMAX] = "LogSoftmax",
};

static cg_tensor *activation_forward(cg_module *self, cg_tensor *x)
{
    const activation_state *s = cg_module_state(self);
    switch (s->kind) {
    case CG_ACT_SIGMOID: return cg_sigmoid(x);
    case CG_ACT_TANH: return cg_tanh(x);
    case CG_ACT_RELU: return cg_relu(x);
    case CG_ACT_LEAKY_RELU: return cg_leaky_relu(x, s->a);
    case CG_ACT_ELU: return cg_elu(x, s->a);
    case CG_ACT_SELU: return cg_selu(x);
    case CG_ACT_GELU: return cg_gelu(x, s->a != 0);
    case CG_ACT_SOFTPLUS: return cg_softplus(x, s->a, s->b);
    case CG_ACT_SILU: return cg_silu(x);
    case CG_ACT_HARDTANH: return cg_hardtanh(x, s->a, s->b);
    case CG_ACT_SOFTMAX: return cg_softmax(x, (int)s->a);
    case CG_ACT_LOG_SOFTMAX: return cg_log_softmax(x, (int)s->a);
    }
    cg__error(CG_ERR_STATE, "unknown activation %d", (int)s->kind);
    return NULL;
}

/* The parameters each kind reads must make sense (PyTorch asserts the same). */
static bool check_activation(cg_activation kind, double a, double b, const char *type)
{
    bool axis = kind == CG_ACT_SOFTMAX || kind == CG_ACT_LOG_SOFTMAX;
    if (axis && (!isfinite(a) || a != floor(a) || fabs(a) > CG_MAX_DIMS))
        refuse(CG_ERR_VALUE, type, "axis %g is not a dimension index", a);
    else if ((kind == CG_ACT_LEAKY_RELU || kind == CG_ACT_ELU) && !isfinite(a))
        refuse(CG_ERR_VALUE, type, "parameter %g is not finite", a);
    else if (kind == CG_ACT_SOFTPLUS && (!isfinite(a) || a == 0 || isnan(b)))
        refuse(CG_ERR_VALUE, type, "beta %g must be finite and non-zero", a);
    else if (kind == CG_ACT_HARDTANH && !(a < b))
        refuse(CG_ERR_VALUE, type, "min_val %g must be below max_val %g", a, b);
    else
        return true;
    return false;
}

cg_module *cg_activation_new(cg_activation kind, double a, double b)
{
    if ((unsigned)kind >= sizeof activation_names / sizeof *activation_names)
        return refuse(CG_ERR_VALUE, "Activation", "unknown kind %d", (int)kind);
    const char *type = activation_names[kind];
    if (!check_activation(kind, a, b, type))
        return NULL;
    activation_state s = {kind, a, b};
    return make(type, activation_forward, &s, sizeof s);
}

static cg_tensor *prelu_forward(cg_module *self, cg_tensor *x)
{
    return cg_prelu(x, cg__module_own(self, "weight"));
}

cg_module *cg_prelu_new(int64_t num_parameters, double init, cg_dtype dtype)
{
    const char *type = "PReLU";
    if (num_parameters < 1)
        return refuse(CG_ERR_VALUE, type, "num_parameters must be positive, got %lld",
                      (long long)num_parameters);
    if (!isfinite(init))
        return refuse(CG_ERR_VALUE, type, "init %g is not finite", init);
    if (!float_dtype(dtype, type))
        return NULL;
    cg_module *m = make(type, prelu_forward, NULL, 0);
    if (!m || !take(m, "weight", cg_tensor_full(dtype, 1, &num_parameters, init), false))
        return discard(m);
    return m;
}

typedef struct maxout_state {
    int k;
} maxout_state;

static cg_tensor *maxout_forward(cg_module *self, cg_tensor *x)
{
    const maxout_state *s = cg_module_state(self);
    return cg_maxout(x, s->k, 1);
}

cg_module *cg_maxout_new(int k)
{
    if (k < 1)
        return refuse(CG_ERR_VALUE, "Maxout", "k = %d pieces; need at least 1", k);
    maxout_state s = {k};
    return make("Maxout", maxout_forward, &s, sizeof s);
}

/* ---- normalization ---- */

cg_norm_options cg_batch_norm_defaults(void)
{
    return (cg_norm_options){.eps = 1e-5, .momentum = 0.1, .affine = true,
                             .track_running_stats = true};
}

cg_norm_options cg_instance_norm_defaults(void)
{
    return (cg_norm_options){.eps = 1e-5, .momentum = 0.1, .affine = false,
                             .track_running_stats = false};
}

typedef struct norm_state {
    int64_t features;
    cg_norm_options o;
    int min_ndim, max_ndim; /* accepted input ranks */
} norm_state;

static cg_tensor *batch_norm_forward(cg_module *self, cg_tensor *x)
{
    const norm_state *s = cg_module_state(self);
    if (!check_ndim(x, s->min_ndim, s->max_ndim) ||
        !check_channels(x, s->features))
        return NULL;
    bool training = cg_module_is_training(self);
    cg_tensor *rm = cg__module_own(self, "running_mean"), *rv = cg__module_own(self, "running_var");
    /* Batch statistics in training, and always without running statistics (PyTorch's
     * bn_training); given running statistics are updated in training, used in eval. */
    cg_tensor *y = cg_batch_norm(x, rm, rv, cg__module_own(self, "weight"),
                                 cg__module_own(self, "bias"), training || !rm, s->o.momentum,
                                 s->o.eps);
    cg_tensor *count = cg__module_own(self, "num_batches_tracked");
    if (y && training && count)
        cg_tensor_set(count, NULL, cg_tensor_item(count) + 1);
    return y;
}

static cg_tensor *instance_norm_forward(cg_module *self, cg_tensor *x)
{
    const norm_state *s = cg_module_state(self);
    if (!check_ndim(x, 4, 4) || !check_channels(x, s->features))
        return NULL;
    cg_tensor *rm = cg__module_own(self, "running_mean"), *rv = cg__module_own(self, "running_var");
    return cg_instance_norm(x, rm, rv, cg__module_own(self, "weight"), cg__module_own(self, "bias"),
                            cg_module_is_training(self) || !rm, s->o.momentum, s->o.eps);
}

static bool check_norm_options(const cg_norm_options *o, const char *type)
{
    if (isfinite(o->eps) && o->eps >= 0 && isfinite(o->momentum))
        return true;
    refuse(CG_ERR_VALUE, type, "eps %g must be finite and non-negative, momentum %g finite",
           o->eps, o->momentum);
    return false;
}

/* weight 1 and bias 0 of shape [n] when affine. */
static bool add_affine(cg_module *m, bool affine, int nshape, const int64_t *shape,
                       cg_dtype dtype)
{
    return !affine || (take(m, "weight", cg_tensor_ones(dtype, nshape, shape), false) &&
                       take(m, "bias", cg_tensor_zeros(dtype, nshape, shape), false));
}

static bool add_running_stats(cg_module *m, int64_t n, cg_dtype dtype)
{
    return take(m, "running_mean", cg_tensor_zeros(dtype, 1, &n), true) &&
           take(m, "running_var", cg_tensor_ones(dtype, 1, &n), true) &&
           take(m, "num_batches_tracked", cg_tensor_zeros(CG_I64, 0, NULL), true);
}

static cg_module *norm_new(const char *type, cg_module_forward_fn fwd, int64_t features,
                           const cg_norm_options *options, cg_norm_options defaults,
                           cg_dtype dtype, int min_ndim, int max_ndim)
{
    norm_state s = {features, options ? *options : defaults, min_ndim, max_ndim};
    if (features < 1)
        return refuse(CG_ERR_VALUE, type, "num_features must be positive, got %lld",
                      (long long)features);
    if (!check_norm_options(&s.o, type) || !float_dtype(dtype, type))
        return NULL;
    cg_module *m = make(type, fwd, &s, sizeof s);
    if (!m || !add_affine(m, s.o.affine, 1, &features, dtype) ||
        (s.o.track_running_stats && !add_running_stats(m, features, dtype)))
        return discard(m);
    return m;
}

cg_module *cg_batch_norm1d_new(int64_t features, const cg_norm_options *options,
                               cg_dtype dtype)
{
    return norm_new("BatchNorm1d", batch_norm_forward, features, options,
                    cg_batch_norm_defaults(), dtype, 2, 3);
}

cg_module *cg_batch_norm2d_new(int64_t features, const cg_norm_options *options,
                               cg_dtype dtype)
{
    return norm_new("BatchNorm2d", batch_norm_forward, features, options,
                    cg_batch_norm_defaults(), dtype, 4, 4);
}

cg_module *cg_instance_norm2d_new(int64_t features, const cg_norm_options *options,
                                  cg_dtype dtype)
{
    return norm_new("InstanceNorm2d", instance_norm_forward, features, options,
                    cg_instance_norm_defaults(), dtype, 4, 4);
}

typedef struct layer_norm_state {
    int nshape;
    int64_t shape[CG_MAX_DIMS];
    double eps;
} layer_norm_state;

static cg_tensor *layer_norm_forward(cg_module *self, cg_tensor *x)
{
    const layer_norm_state *s = cg_module_state(self);
    return cg_layer_norm(x, s->nshape, s->shape, cg__module_own(self, "weight"),
                         cg__module_own(self, "bias"), s->eps);
}

cg_module *cg_layer_norm_new(int nshape, const int64_t *shape, double eps, bool affine,
                             cg_dtype dtype)
{
    const char *type = "LayerNorm";
    if (nshape < 1 || nshape > CG_MAX_DIMS || !shape)
        return refuse(CG_ERR_VALUE, type, "normalized_shape needs 1 to %d sizes", CG_MAX_DIMS);
    layer_norm_state s = {nshape, {0}, eps};
    for (int i = 0; i < nshape; i++) {
        if (shape[i] < 1)
            return refuse(CG_ERR_VALUE, type, "normalized_shape has size %lld",
                          (long long)shape[i]);
        s.shape[i] = shape[i];
    }
    if (!isfinite(eps) || eps < 0)
        return refuse(CG_ERR_VALUE, type, "eps %g must be finite and non-negative", eps);
    if (!float_dtype(dtype, type))
        return NULL;
    cg_module *m = make(type, layer_norm_forward, &s, sizeof s);
    if (!m || !add_affine(m, affine, nshape, shape, dtype))
        return discard(m);
    return m;
}

typedef struct group_norm_state {
    int64_t groups, channels;
    double eps;
} group_norm_state;

static cg_tensor *group_norm_forward(cg_module *self, cg_tensor *x)
{
    const group_norm_state *s = cg_module_state(self);
    if (!check_ndim(x, 2, CG_MAX_DIMS) || !check_channels(x, s->channels))
        return NULL;
    return cg_group_norm(x, s->groups, cg__module_own(self, "weight"), cg__module_own(self, "bias"),
                         s->eps);
}

cg_module *cg_group_norm_new(int64_t groups, int64_t channels, double eps, bool affine,
                             cg_dtype dtype)
{
    const char *type = "GroupNorm";
    if (groups < 1 || channels < 1 || channels % groups != 0)
        return refuse(CG_ERR_VALUE, type, "num_channels (%lld) must be a positive multiple of "
                      "num_groups (%lld)", (long long)channels, (long long)groups);
    if (!isfinite(eps) || eps < 0)
        return refuse(CG_ERR_VALUE, type, "eps %g must be finite and non-negative", eps);
    if (!float_dtype(dtype, type))
        return NULL;
    group_norm_state s = {groups, channels, eps};
    cg_module *m = make(type, group_norm_forward, &s, sizeof s);
    if (!m || !add_affine(m, affine, 1, &channels, dtype))
        return discard(m);
    return m;
}

/* ---- dropout ---- */

/* The generator's state (seed, offset) lives in an i64 buffer "rng_state" rather than in
 * private state, so a checkpoint saves it with the other buffers and a resumed run draws
 * the same masks (PyTorch saves its global generator separately instead). */
typedef struct dropout_state {
    double p;
} dropout_state;

typedef cg_tensor *(*dropout_fn)(cg_tensor *x, double p, bool training, cg_rng *rng);

static cg_tensor *dropout_run(cg_module *self, cg_tensor *x, dropout_fn fn)
{
    dropout_state *s = cg_module_state(self);
    cg_tensor *st = cg__module_own(self, "rng_state");
    int64_t *word = st ? cg_tensor_data(st) : NULL;
    if (!word)
        return NULL;
    cg_rng rng = {(uint64_t)word[0], (uint64_t)word[1]};
    cg_tensor *y = fn(x, s->p, cg_module_is_training(self), &rng);
    if (y && rng.offset != (uint64_t)word[1])
        cg_tensor_set(st, (int64_t[]){1}, (double)rng.offset);
    return y;
}

static cg_tensor *dropout_forward(cg_module *self, cg_tensor *x)
{
    return dropout_run(self, x, cg_dropout);
}

static cg_tensor *dropout2d_forward(cg_module *self, cg_tensor *x)
{
    return dropout_run(self, x, cg_dropout2d);
}

static cg_module *dropout_new(const char *type, cg_module_forward_fn fwd, double p,
                              uint64_t seed)
{
    if (!(p >= 0 && p <= 1))
        return refuse(CG_ERR_VALUE, type, "dropout probability has to be between 0 and 1, "
                      "but got %g", p);
    dropout_state s = {p};
    cg_module *m = make(type, fwd, &s, sizeof s);
    int64_t words[2] = {(int64_t)seed, 0};
    if (!m || !take(m, "rng_state", cg_tensor_from_data(CG_I64, 1, (int64_t[]){2}, words), true))
        return discard(m);
    return m;
}

cg_module *cg_dropout_new(double p, uint64_t seed)
{
    return dropout_new("Dropout", dropout_forward, p, seed);
}

cg_module *cg_dropout2d_new(double p, uint64_t seed)
{
    return dropout_new("Dropout2d", dropout2d_forward, p, seed);
}

/* ---- batch-norm folding ---- */

/* A tensor's values as doubles (numel entries, caller frees with cg__free). */
static double *values(const cg_tensor *t, int64_t *n)
{
    *n = cg_tensor_numel(t);
    double *v = cg__malloc((size_t)*n * sizeof *v);
    if (v && cg_tensor_to_f64(t, v) != CG_OK) {
        cg__free(v, (size_t)*n * sizeof *v);
        v = NULL;
    }
    return v;
}

/* A new tensor of dtype holding vals. */
static cg_tensor *from_values(cg_dtype dtype, int ndim, const int64_t *shape,
                              const double *vals)
{
    cg_tensor *d = cg_tensor_from_data(CG_F64, ndim, shape, vals);
    cg_tensor *t = d ? cg_tensor_zeros(dtype, ndim, shape) : NULL;
    if (t && cg_tensor_copy_(t, d) != CG_OK) {
        cg_tensor_free(t);
        t = NULL;
    }
    cg_tensor_free(d);
    return t;
}

/* The per-channel scale gamma / sqrt(var + eps) and shift beta - mean scale of bn. */
typedef struct bn_fold {
    double *scale, *shift;
    int64_t n;
} bn_fold;

static bool bn_coefficients(const cg_module *bn, bn_fold *f)
{
    const norm_state *s = cg_module_state(bn);
    cg_tensor *w = cg__module_own(bn, "weight"), *b = cg__module_own(bn, "bias");
    int64_t n = s->features, k;
    double *mean = values(cg__module_own(bn, "running_mean"), &k);
    double *var = values(cg__module_own(bn, "running_var"), &k);
    double *gamma = w ? values(w, &k) : NULL, *beta = b ? values(b, &k) : NULL;
    f->n = n;
    f->scale = cg__malloc((size_t)n * sizeof(double));
    f->shift = cg__malloc((size_t)n * sizeof(double));
    bool ok = mean && var && f->scale && f->shift && (!w || gamma) && (!b || beta);
    for (int64_t c = 0; ok && c < n; c++) {
        f->scale[c] = (gamma ? gamma[c] : 1.0) / sqrt(var[c] + s->o.eps);
        f->shift[c] = (beta ? beta[c] : 0.0) - mean[c] * f->scale[c];
    }
    double *tmp[] = {mean, var, gamma, beta};
    for (int i = 0; i < 4; i++)
        cg__free(tmp[i], (size_t)n * sizeof(double));
    return ok;
}

static void free_fold(bn_fold *f)
{
    cg__free(f->scale, (size_t)f->n * sizeof(double));
    cg__free(f->shift, (size_t)f->n * sizeof(double));
}

/* A copy of layer (type, forward, state with a bias) holding weight values wv shaped like
 * w and bias values bv [n]. */
static cg_module *module_with(const cg_module *layer, cg_module_forward_fn fwd,
                              const cg_tensor *w, const double *wv, const double *bv, int64_t n)
{
    affine_state s = *(const affine_state *)cg_module_state(layer);
    s.bias = true;
    cg_dtype dt = cg_tensor_dtype(w);
    cg_module *m = make(cg_module_type(layer), fwd, &s, sizeof s);
    if (m && !(take(m, "weight", from_values(dt, cg_tensor_ndim(w), cg_tensor_shape(w), wv),
                    false) &&
               take(m, "bias", from_values(dt, 1, &n, bv), false)))
        return discard(m);
    if (m)
        cg_module_train(m, cg_module_is_training(layer));
    return m;
}

/* W' = W scale (per output channel, dimension 0) and b' = b scale + shift (b = 0 without
 * a bias), in a copy of layer. */
static cg_module *folded_copy(const cg_module *layer, cg_module_forward_fn fwd,
                              const bn_fold *f)
{
    const affine_state *s = cg_module_state(layer);
    cg_tensor *w = cg__module_own(layer, "weight");
    cg_tensor *b = s->bias ? cg__module_own(layer, "bias") : NULL;
    int64_t nw, nb, per = cg_tensor_numel(w) / f->n;
    double *wv = values(w, &nw);
    double *bv = b ? values(b, &nb) : cg__calloc((size_t)f->n, sizeof *bv);
    cg_module *m = NULL;
    if (wv && bv) {
        for (int64_t i = 0; i < nw; i++)
            wv[i] *= f->scale[i / per];
        for (int64_t c = 0; c < f->n; c++)
            bv[c] = bv[c] * f->scale[c] + f->shift[c];
        m = module_with(layer, fwd, w, wv, bv, f->n);
    }
    cg__free(wv, (size_t)nw * sizeof *wv);
    cg__free(bv, (size_t)f->n * sizeof *bv);
    return m;
}

cg_module *cg_fold_batch_norm(const cg_module *layer, const cg_module *bn)
{
    const char *who = "cg_fold_batch_norm";
    bool linear = cg__module_has_forward(layer, linear_forward);
    if (!linear && !cg__module_has_forward(layer, conv2d_forward))
        return refuse(CG_ERR_VALUE, who, "layer must be a Linear or Conv2d module, not %s",
                      layer ? cg_module_type(layer) : "NULL");
    if (!cg__module_has_forward(bn, batch_norm_forward))
        return refuse(CG_ERR_VALUE, who, "bn must be a BatchNorm1d or BatchNorm2d module, not %s",
                      bn ? cg_module_type(bn) : "NULL");
    const norm_state *s = cg_module_state(bn);
    const affine_state *ls = cg_module_state(layer);
    if (!s->o.track_running_stats)
        return refuse(CG_ERR_VALUE, who, "%s has no running statistics to fold "
                      "(track_running_stats is off)", cg_module_type(bn));
    if (!cg__module_own(layer, "weight"))
        return refuse(CG_ERR_STATE, who, "%s has no plain weight (weight-normalised?)",
                      cg_module_type(layer));
    if (s->features != ls->out)
        return refuse(CG_ERR_SHAPE, who, "%s has %lld outputs but %s normalises %lld features",
                      cg_module_type(layer), (long long)ls->out, cg_module_type(bn),
                      (long long)s->features);
    bn_fold f;
    uint64_t errors = cg__error_count();
    cg_module *m = bn_coefficients(bn, &f)
                       ? folded_copy(layer, linear ? linear_forward : conv2d_forward, &f)
                       : NULL;
    if (!m && cg__error_count() == errors) /* the scratch arrays record nothing */
        cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    free_fold(&f);
    return m;
}
