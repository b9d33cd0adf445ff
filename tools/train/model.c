/*
 * The two networks cgrad-train builds (child names in brackets):
 *
 *   mlp  Flatten [flatten], then per hidden width w (k = 1, 2, ...): Linear(in, w) [fck],
 *        BatchNorm1d [bnk] or LayerNorm [lnk], activation [reluk...], Dropout(p)
 *        [dropoutk]; then Linear(last, 10) [out].
 *   cnn  two blocks (k = 1, 2) Conv2d(in, c, 3x3, padding 1) [convk], BatchNorm2d [bnk] or
 *        GroupNorm(8) [gnk], activation [reluk...], MaxPool2d(2) [poolk] (28x28 -> 14x14 ->
 *        7x7); Flatten [flatten]; Linear(7*7*c2, fc) [fc1], activation [relu3...], Dropout(p)
 *        [dropout1]; Linear(fc, 10) [out].
 *
 * Layers followed by a normalization have no bias (the normalization's shift replaces it).
 *
 * Dropout is a module of our own around cg_dropout that draws from the training loop's
 * generator: the library's Dropout module keeps a private generator that checkpoints do not
 * save, and a resumed run must draw the same masks as an uninterrupted one.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

enum { NUM_CLASSES = 10, IMAGE_SIDE = 28, GROUPS = 8 };

/* splitmix64's finalizer over (seed, use): well-spread, distinct seeds per use. */
uint64_t train_seed(uint64_t seed, seed_use use)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15u * (uint64_t)use;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* ---- dropout drawing from a caller's generator ---- */

typedef struct dropout_state {
    double p;
    cg_rng *rng; /* the training loop's; outlives the module */
} dropout_state;

static cg_tensor *dropout_forward(cg_module *self, cg_tensor *x)
{
    dropout_state *s = cg_module_state(self);
    return cg_dropout(x, s->p, cg_module_is_training(self), s->rng);
}

static cg_module *dropout_new(double p, cg_rng *rng)
{
    dropout_state *s = malloc(sizeof *s);
    if (!s)
        return NULL;
    *s = (dropout_state){p, rng};
    /* The module owns s from here, also when cg_module_new fails (it frees it then). */
    return cg_module_new("Dropout", dropout_forward, s, free);
}

/* ---- layers ---- */

static cg_module *activation_new(act_kind a)
{
    switch (a) {
    case ACT_RELU: return cg_activation_new(CG_ACT_RELU, 0, 0);
    case ACT_LEAKY_RELU: return cg_activation_new(CG_ACT_LEAKY_RELU, 0.01, 0);
    case ACT_ELU: return cg_activation_new(CG_ACT_ELU, 1.0, 0);
    case ACT_SELU: return cg_activation_new(CG_ACT_SELU, 0, 0);
    case ACT_GELU: return cg_activation_new(CG_ACT_GELU, 0, 0);
    case ACT_SILU: return cg_activation_new(CG_ACT_SILU, 0, 0);
    case ACT_TANH: return cg_activation_new(CG_ACT_TANH, 0, 0);
    case ACT_SIGMOID: return cg_activation_new(CG_ACT_SIGMOID, 0, 0);
    }
    return NULL;
}

/* The nonlinearity an initializer's gain is computed for. */
static cg_nonlinearity gain_of(act_kind a, double *param)
{
    *param = 0;
    switch (a) {
    case ACT_LEAKY_RELU: *param = 0.01; return CG_NL_LEAKY_RELU;
    case ACT_SELU: return CG_NL_SELU;
    case ACT_TANH: return CG_NL_TANH;
    case ACT_SIGMOID: return CG_NL_SIGMOID;
    default: return CG_NL_RELU; /* relu and its smooth relatives */
    }
}

/* The network: a module of our own (type "MLP" or "CNN") running its children in order,
 * like nn.Sequential, but with named children ("fc1", "bn1", ...), so checkpoints say
 * "fc1.weight" and diagrams "MLP.fc1". */
static cg_tensor *chain_forward(cg_module *self, cg_tensor *x)
{
    for (int i = 0; x && i < cg_module_num_children(self); i++)
        x = cg_module_forward(cg_module_child(self, i, NULL), x);
    return x;
}

/* Add m as child "<base><k>" (k < 0: no number); the net takes m, also on failure. */
static bool add(cg_module *net, const char *base, int k, cg_module *m)
{
    char name[32];
    if (k >= 0)
        snprintf(name, sizeof name, "%s%d", base, k);
    else
        snprintf(name, sizeof name, "%s", base);
    if (!m)
        return false;
    if (cg_module_add_child(net, name, m) != CG_OK) {
        cg_module_free(m);
        return false;
    }
    return true;
}

static bool mlp_layers(cg_module *net, const train_opts *o, cg_rng *init, cg_rng *drop)
{
    bool ok = add(net, "flatten", -1, cg_flatten_new(1, -1));
    int64_t in = IMAGE_SIDE * IMAGE_SIDE;
    for (int i = 0; ok && i < o->nhidden; i++) {
        int64_t w = o->hidden[i];
        int k = i + 1;
        ok = add(net, "fc", k, cg_linear_new(in, w, o->norm == NORM_NONE, CG_F32, init));
        if (ok && o->norm == NORM_BATCH)
            ok = add(net, "bn", k, cg_batch_norm1d_new(w, NULL, CG_F32));
        if (ok && o->norm == NORM_LAYER)
            ok = add(net, "ln", k, cg_layer_norm_new(1, &w, 1e-5, true, CG_F32));
        ok = ok && add(net, act_names[o->activation], k, activation_new(o->activation));
        if (ok && o->dropout > 0)
            ok = add(net, "dropout", k, dropout_new(o->dropout, drop));
        in = w;
    }
    return ok && add(net, "out", -1, cg_linear_new(in, NUM_CLASSES, true, CG_F32, init));
}

static bool cnn_layers(cg_module *net, const train_opts *o, cg_rng *init, cg_rng *drop)
{
    cg_conv2d_options conv = cg_conv2d_defaults(3, 3);
    conv.padding[0] = conv.padding[1] = 1;
    cg_conv2d_options pool = cg_pool2d_defaults(2, 2);
    bool ok = true;
    int64_t in = 1;
    for (int b = 0; ok && b < 2; b++) {
        int64_t c = o->channels[b];
        int k = b + 1;
        ok = add(net, "conv", k, cg_conv2d_new(in, c, &conv, o->norm == NORM_NONE, CG_F32, init));
        if (ok && o->norm == NORM_BATCH)
            ok = add(net, "bn", k, cg_batch_norm2d_new(c, NULL, CG_F32));
        if (ok && o->norm == NORM_GROUP)
            ok = add(net, "gn", k, cg_group_norm_new(GROUPS, c, 1e-5, true, CG_F32));
        ok = ok && add(net, act_names[o->activation], k, activation_new(o->activation));
        ok = ok && add(net, "pool", k, cg_max_pool2d_new(&pool));
        in = c;
    }
    const int64_t side = IMAGE_SIDE / 4;
    ok = ok && add(net, "flatten", -1, cg_flatten_new(1, -1));
    ok = ok && add(net, "fc", 1, cg_linear_new(in * side * side, o->fc, true, CG_F32, init));
    ok = ok && add(net, act_names[o->activation], 3, activation_new(o->activation));
    if (ok && o->dropout > 0)
        ok = add(net, "dropout", 1, dropout_new(o->dropout, drop));
    return ok && add(net, "out", -1, cg_linear_new(o->fc, NUM_CLASSES, true, CG_F32, init));
}

/* Re-initialise the weights of the Linear and Conv2d children (biases to zero) with the
 * chosen rule; the last layer, which no nonlinearity follows, gets the linear gain. */
static bool apply_init(cg_module *net, const train_opts *o, cg_rng *rng)
{
    if (o->init == INIT_DEFAULT)
        return true;
    int n = cg_module_num_children(net), last = -1;
    for (int i = 0; i < n; i++) {
        const char *type = cg_module_type(cg_module_child(net, i, NULL));
        if (!strcmp(type, "Linear") || !strcmp(type, "Conv2d"))
            last = i;
    }
    for (int i = 0; i <= last; i++) {
        cg_module *m = cg_module_child(net, i, NULL);
        const char *type = cg_module_type(m);
        if (strcmp(type, "Linear") && strcmp(type, "Conv2d"))
            continue;
        double param;
        cg_nonlinearity nl = i == last ? CG_NL_LINEAR : gain_of(o->activation, &param);
        if (i == last)
            param = 0;
        double gain = cg_init_gain(nl, param);
        cg_tensor *w = cg_module_find(m, "weight");
        cg_status s = CG_ERR_VALUE;
        switch (o->init) {
        case INIT_DEFAULT: s = CG_OK; break;
        case INIT_KAIMING_UNIFORM: s = cg_init_kaiming_uniform(w, rng, param, false, nl); break;
        case INIT_KAIMING_NORMAL: s = cg_init_kaiming_normal(w, rng, param, false, nl); break;
        case INIT_XAVIER_UNIFORM: s = cg_init_xavier_uniform(w, rng, gain); break;
        case INIT_XAVIER_NORMAL: s = cg_init_xavier_normal(w, rng, gain); break;
        case INIT_LECUN_NORMAL: s = cg_init_lecun_normal(w, rng); break;
        case INIT_ORTHOGONAL: s = cg_init_orthogonal(w, rng, gain); break;
        }
        if (s != CG_OK)
            return false;
        /* Layers before a normalization have no bias: look it up only among the
         * parameters, so a missing one records no error. */
        for (int k = 0; k < cg_module_num_parameters(m); k++) {
            const char *pname;
            cg_tensor *p = cg_module_parameter(m, k, &pname);
            if (!strcmp(pname, "bias") && cg_init_constant(p, 0.0) != CG_OK)
                return false;
        }
    }
    return true;
}

cg_module *model_build(const train_opts *o, cg_rng *dropout_rng)
{
    cg_rng init = cg_rng_init(train_seed(o->seed, SEED_INIT));
    cg_module *net = cg_module_new(o->model == MODEL_MLP ? "MLP" : "CNN", chain_forward, NULL,
                                   NULL);
    if (!net)
        return NULL;
    bool ok = o->model == MODEL_MLP ? mlp_layers(net, o, &init, dropout_rng)
                                    : cnn_layers(net, o, &init, dropout_rng);
    ok = ok && apply_init(net, o, &init);
    /* Named parameters show as such (green, with their names) in the diagram. */
    for (int i = 0; ok && i < cg_module_num_parameters(net); i++) {
        const char *name;
        cg_tensor *p = cg_module_parameter(net, i, &name);
        ok = cg_tensor_set_name(p, name) == CG_OK;
    }
    if (!ok) {
        cg_module_free(net);
        return NULL;
    }
    return net;
}
