#!/usr/bin/python3
"""Golden values for libcgrad's normalizations (lib/nn/norm.c), computed by
torch.nn.functional (Debian's python3-torch).

Run from anywhere with Debian's interpreter:
    /usr/bin/python3 tests/golden/make_golden_norm.py
It rewrites tests/golden/norm.txt, read by tests/test_golden_norm.c (format in
golden_writer.py). The output is deterministic; commit the file.

Every case exists in f64 and f32 (NAME_f64, NAME_f32). Running statistics are "nograd"
inputs (PyTorch does not differentiate them); the builders work on copies, so the stored
inputs are the values before any update. Cases:
  bn_train_2d/3d/4d      batch norm in training, x [N, C] / [N, C, L] / [N, C, H, W],
                         weight and bias (3d: momentum 0.3, eps 1e-3)
  bn_train_plain         no affine parameters, no running statistics
  bn_steps_3d/4d         three training steps on x[0], x[1], x[2] of x [3, N, C, ...] with
                         running statistics: the output is the concatenation of the three
                         flattened outputs and the running mean and variance afterwards
  bn_eval_2d/4d          evaluation with running statistics, weight and bias
  bn_eval_plain          evaluation without affine parameters
  ln_1, ln_2             layer norm over the last one / two dimensions, weight and bias
  ln_plain               over the last dimension, no affine parameters, eps 1e-3
  gn_3d, gn_4d, gn_plain group norm: 2 groups of [2, 4, 3]; 3 groups of [2, 6, 2, 2];
                         4 groups (instance-like) without affine parameters
  in_4d, in_3d           instance norm from the input's statistics, weight and bias
  in_steps               three steps of instance norm updating running statistics
                         (concatenated like bn_steps)
  in_eval                instance norm with use_input_stats=False (running statistics)
  stats                  feature statistics: torch.mean and torch.std (unbiased) over
                         dimension 0, concatenated (not differentiable)
  standardize            (x - mean) / (std + eps), eps 1e-3
"""
import os

import torch
import torch.nn.functional as F
from golden_writer import F32, F64, GoldenWriter, pos, randn, sfx

SEED = 20240911


def steps(norm, x, rm, rv, *params):
    """Three training steps on x[0..2] updating copies of the running statistics."""
    rm, rv = rm.clone(), rv.clone()
    outs = [norm(x[s], rm, rv, *params).reshape(-1) for s in range(3)]
    return torch.cat(outs + [rm, rv])


def bn_steps(x, rm, rv, w, b):
    return steps(lambda xs, m, v, w_, b_: F.batch_norm(xs, m, v, w_, b_, True, 0.1, 1e-5),
                 x, rm, rv, w, b)


def in_steps(x, rm, rv, w, b):
    return steps(lambda xs, m, v, w_, b_: F.instance_norm(xs, m, v, w_, b_, True, 0.2, 1e-5),
                 x, rm, rv, w, b)


def batch_norm(w, dt):
    s = sfx(dt)

    def train(m=0.1, eps=1e-5):
        return lambda x, g, b: F.batch_norm(x, None, None, g, b, True, m, eps)

    def ev(x, rm, rv, g, b):
        return F.batch_norm(x, rm, rv, g, b, False, 0.1, 1e-5)

    c = 3
    w.case("bn_train_2d_" + s, train(), [randn(6, c, dt=dt) * 2 + 1, randn(c, dt=dt),
                                          randn(c, dt=dt)])
    w.case("bn_train_3d_" + s, train(0.3, 1e-3), [randn(4, c, 5, dt=dt), randn(c, dt=dt),
                                                   randn(c, dt=dt)])
    w.case("bn_train_4d_" + s, train(), [randn(2, c, 3, 2, dt=dt) - 3, randn(c, dt=dt),
                                          randn(c, dt=dt)])
    w.case("bn_train_plain_" + s, lambda x: F.batch_norm(x, None, None, None, None, True),
           [randn(4, c, 2, dt=dt)])
    stats = [randn(c, dt=dt) * 0.1, pos(c, dt=dt)]
    w.case("bn_steps_3d_" + s, bn_steps,
           [randn(3, 4, c, 2, dt=dt) * 2] + stats + [randn(c, dt=dt), randn(c, dt=dt)], (1, 2))
    w.case("bn_steps_4d_" + s, bn_steps,
           [randn(3, 2, c, 2, 2, dt=dt) + 1] + stats + [randn(c, dt=dt), randn(c, dt=dt)],
           (1, 2))
    w.case("bn_eval_2d_" + s, ev,
           [randn(5, c, dt=dt), randn(c, dt=dt), pos(c, dt=dt), randn(c, dt=dt),
            randn(c, dt=dt)], (1, 2))
    w.case("bn_eval_4d_" + s, ev,
           [randn(2, c, 2, 3, dt=dt), randn(c, dt=dt), pos(c, dt=dt), randn(c, dt=dt),
            randn(c, dt=dt)], (1, 2))
    w.case("bn_eval_plain_" + s, lambda x, rm, rv: F.batch_norm(x, rm, rv),
           [randn(4, c, 3, dt=dt), randn(c, dt=dt), pos(c, dt=dt)], (1, 2))


def layer_group_instance(w, dt):
    s = sfx(dt)
    w.case("ln_1_" + s, lambda x, g, b: F.layer_norm(x, (4,), g, b),
           [randn(2, 3, 4, dt=dt) * 3, randn(4, dt=dt), randn(4, dt=dt)])
    w.case("ln_2_" + s, lambda x, g, b: F.layer_norm(x, (3, 4), g, b),
           [randn(2, 3, 4, dt=dt) + 2, randn(3, 4, dt=dt), randn(3, 4, dt=dt)])
    w.case("ln_plain_" + s, lambda x: F.layer_norm(x, (5,), eps=1e-3), [randn(3, 5, dt=dt)])
    w.case("gn_3d_" + s, lambda x, g, b: F.group_norm(x, 2, g, b),
           [randn(2, 4, 3, dt=dt), randn(4, dt=dt), randn(4, dt=dt)])
    w.case("gn_4d_" + s, lambda x, g, b: F.group_norm(x, 3, g, b),
           [randn(2, 6, 2, 2, dt=dt) * 2, randn(6, dt=dt), randn(6, dt=dt)])
    w.case("gn_plain_" + s, lambda x: F.group_norm(x, 4), [randn(3, 4, 5, dt=dt)])
    w.case("in_4d_" + s, lambda x, g, b: F.instance_norm(x, weight=g, bias=b),
           [randn(2, 3, 2, 3, dt=dt), randn(3, dt=dt), randn(3, dt=dt)])
    w.case("in_3d_" + s, lambda x, g, b: F.instance_norm(x, weight=g, bias=b, eps=1e-3),
           [randn(3, 2, 4, dt=dt), randn(2, dt=dt), randn(2, dt=dt)])
    w.case("in_steps_" + s, in_steps,
           [randn(3, 2, 3, 2, 2, dt=dt), randn(3, dt=dt) * 0.1, pos(3, dt=dt), randn(3, dt=dt),
            randn(3, dt=dt)], (1, 2))
    w.case("in_eval_" + s, lambda x, rm, rv: F.instance_norm(x, rm, rv, use_input_stats=False),
           [randn(2, 3, 4, dt=dt), randn(3, dt=dt), pos(3, dt=dt)], (1, 2))


def dataset(w, dt):
    s = sfx(dt)
    w.case("stats_" + s, lambda x: torch.cat([x.mean(0).reshape(-1), x.std(0).reshape(-1)]),
           [randn(6, 2, 3, dt=dt) * 2 + 1], diff=False)
    w.case("standardize_" + s, lambda x, m, sd: (x - m) / (sd + 1e-3),
           [randn(4, 2, 3, dt=dt), randn(2, 3, dt=dt), pos(2, 3, dt=dt)])


def main():
    w = GoldenWriter("make_golden_norm.py")
    w.begin("norm", seed=SEED)
    for dt in (F64, F32):
        batch_norm(w, dt)
        layer_group_instance(w, dt)
        dataset(w, dt)
    w.write(os.path.dirname(os.path.abspath(__file__)))


if __name__ == "__main__":
    main()
