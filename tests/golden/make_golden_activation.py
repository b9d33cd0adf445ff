#!/usr/bin/python3
"""Golden values for libcgrad's activations and dropout (lib/nn/activation.c, dropout.c),
computed by torch.nn.functional (Debian's python3-torch).

Run from anywhere with Debian's interpreter:
    /usr/bin/python3 tests/golden/make_golden_activation.py
It rewrites tests/golden/activation.txt, read by tests/test_golden_activation.c (format in
golden_writer.py). The output is deterministic; commit the file.

Every case exists in f64 and f32 (NAME_f64, NAME_f32). Cases:
  <act>           normal inputs (scaled so the interesting range is covered)
  <act>_special   a fixed vector with -inf, large negatives, the kink at 0 (and -0.0),
                  large positives, inf and NaN: saturation and PyTorch's choices at the
                  special points, for values and gradients
  <act>_t         a transposed (strided) view of the stored input
  prelu_*         per-channel and single slopes; inputs on a half-integer grid, so some are
                  exactly 0 (the gradient there is the slope)
  maxout_*        written in torch as reshape + amax; integer inputs give ties, whose
                  gradient amax shares evenly
  dropout_*       the deterministic modes only: eval, p = 0 and p = 1 in training (the
                  training masks come from different generators and are tested in C)
"""
import os

import torch
import torch.nn.functional as F
from golden_writer import F32, F64, GoldenWriter, ints, randn, sfx

SEED = 20240711

SPECIAL = [float("-inf"), -1000.0, -30.0, -5.0, -1.0, -1e-3, -0.0, 0.0, 1e-3, 0.5, 1.0,
           2.5, 5.0, 30.0, 1000.0, float("inf"), float("nan")]


def special(dt):
    return torch.tensor(SPECIAL, dtype=dt)


def scaled(s, *shape, dt):
    return randn(*shape, dt=dt) * s


def maxout(x, k, axis):
    """Maxout as the C library defines it: split axis into [C/k, k], amax over the k."""
    axis = axis % x.dim()
    shape = list(x.shape)
    shape[axis:axis + 1] = [shape[axis] // k, k]
    return x.reshape(shape).amax(axis + 1)


# (name, function of the inputs, inputs of dtype dt); "special" cases take the vector.
UNARY = [
    ("sigmoid", torch.sigmoid),
    ("tanh", torch.tanh),
    ("relu", F.relu),
    ("leaky_relu", F.leaky_relu),  # default slope 0.01
    ("leaky_relu_02", lambda x: F.leaky_relu(x, 0.2)),
    ("elu", F.elu),
    ("elu_05", lambda x: F.elu(x, alpha=0.5)),
    ("selu", F.selu),
    ("gelu", F.gelu),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh")),
    ("erf", torch.erf),
    ("softplus", F.softplus),
    ("softplus_b2_t5", lambda x: F.softplus(x, beta=2.0, threshold=5.0)),
    ("softplus_b05_t1", lambda x: F.softplus(x, beta=0.5, threshold=1.0)),
    ("silu", F.silu),
    ("hardtanh", F.hardtanh),
    ("hardtanh_m05_2", lambda x: F.hardtanh(x, -0.5, 2.0)),
]


def unary_cases(w, dt):
    for name, fn in UNARY:
        w.case(name + "_" + sfx(dt), fn, [scaled(3.0, 3, 5, dt=dt)])
        w.case(name + "_special_" + sfx(dt), fn, [special(dt)])
    # strided views
    for name, fn in [("sigmoid", torch.sigmoid), ("relu", F.relu), ("gelu", F.gelu),
                     ("softplus", F.softplus)]:
        w.case(name + "_t_" + sfx(dt), lambda x, fn=fn: fn(x.t()), [scaled(3.0, 4, 3, dt=dt)])
    # hardtanh at its bounds: the half-integer grid hits -1 and 1 exactly (gradient 0)
    w.case("hardtanh_grid_" + sfx(dt), F.hardtanh, [ints(-6, 7, 4, 6, dt=dt) / 4])


def prelu_cases(w, dt):
    s = sfx(dt)
    w.case("prelu_channels_" + s, F.prelu, [ints(-4, 5, 2, 3, 2, 2, dt=dt) / 2, randn(3, dt=dt)])
    w.case("prelu_channels_randn_" + s, F.prelu, [randn(2, 4, 3, dt=dt), randn(4, dt=dt)])
    w.case("prelu_one_" + s, F.prelu, [randn(3, 2, 4, dt=dt), randn(1, dt=dt)])
    w.case("prelu_2d_" + s, F.prelu, [randn(5, 3, dt=dt), randn(3, dt=dt)])
    w.case("prelu_1d_" + s, F.prelu, [randn(6, dt=dt), randn(1, dt=dt)])


def maxout_cases(w, dt):
    s = sfx(dt)
    w.case("maxout_k2_axis1_" + s, lambda x: maxout(x, 2, 1), [randn(2, 6, 5, dt=dt)])
    w.case("maxout_k3_last_" + s, lambda x: maxout(x, 3, -1), [randn(4, 6, dt=dt)])
    w.case("maxout_k4_axis0_" + s, lambda x: maxout(x, 4, 0), [randn(8, 3, dt=dt)])
    w.case("maxout_ties_" + s, lambda x: maxout(x, 3, 1), [ints(0, 3, 3, 9, dt=dt)])


def dropout_cases(w, dt):
    s = sfx(dt)
    w.case("dropout_eval_" + s, lambda x: F.dropout(x, 0.5, training=False), [randn(3, 4, dt=dt)])
    w.case("dropout_p0_" + s, lambda x: F.dropout(x, 0.0, training=True), [randn(3, 4, dt=dt)])
    w.case("dropout_p1_" + s, lambda x: F.dropout(x, 1.0, training=True), [randn(3, 4, dt=dt)])
    w.case("dropout2d_eval_" + s, lambda x: F.dropout2d(x, 0.3, training=False),
           [randn(2, 3, 2, 2, dt=dt)])
    w.case("dropout2d_p1_" + s, lambda x: F.dropout2d(x, 1.0, training=True),
           [randn(2, 3, 2, 2, dt=dt)])


def main():
    w = GoldenWriter("make_golden_activation.py")
    w.begin("activation", seed=SEED)
    for dt in (F64, F32):
        unary_cases(w, dt)
        prelu_cases(w, dt)
        maxout_cases(w, dt)
        dropout_cases(w, dt)
    w.write(os.path.dirname(os.path.abspath(__file__)))


if __name__ == "__main__":
    main()
