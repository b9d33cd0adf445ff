#!/usr/bin/python3
"""Golden values for libcgrad's losses (lib/nn/loss.c), computed by torch.nn.functional
(Debian's python3-torch).

Run from anywhere with Debian's interpreter:
    /usr/bin/python3 tests/golden/make_golden_loss.py
It rewrites tests/golden/loss.txt, read by tests/test_golden_loss.c (format in
golden_writer.py). The output is deterministic; commit the file.

Every case exists in f64 and f32 (NAME_f64, NAME_f32), and every loss case with each
reduction (NAME_mean, NAME_sum, NAME_none before the dtype suffix); the C builders read the
reduction from the name. Class targets are i64 "nograd" inputs; class weights and bce
weights are "nograd" (PyTorch does not differentiate them); other targets are "grad", so
their gradients are compared too. Cases:
  mse, l1                   normal inputs
  huber, huber_d05          delta 1 and 0.5, inputs spread over both branches
  smooth_l1, smooth_l1_b05, smooth_l1_b0   beta 1, 0.5, and 0 (PyTorch's L1 special case)
  ce                        logits [5, 4], class targets
  ce_w                      with class weights
  ce_ign, ce_ign_w          targets -100 (default ignore_index), without and with weights
  ce_ii1                    ignore_index 1 (a real class)
  ce_ls, ce_ls_w_ign        label smoothing 0.1; 0.2 with weights and ignored targets
  ce_sp, ce_sp_ls_w_ign     logits [N, C, d] / [N, C, d1, d2], targets [N, d...]
  ce_prob, ce_prob_ls_w     probability targets (softmax of normals); 0.15 smoothing and
                            weights
  ce_single                 logits [C] with a 0-d target
  ce_all_ign                every target ignored: the mean is NaN, gradients 0
  nll, nll_w_ign, nll_sp    nll_loss of log_softmax outputs
  bce, bce_w                probabilities in (0.02, 0.98); weight [4] broadcast
  bce_edge                  p exactly 0 and 1 (logs clamped at -100; finite gradients)
  bcel, bcel_pw, bcel_w_pw  bce_with_logits; pos_weight [4]; weight [3, 1] and pos_weight
  bcel_big                  logits +-1000, 30 and exactly 0
"""
import os

import torch
import torch.nn.functional as F
from golden_writer import F32, F64, I64, GoldenWriter, idx, randn, sfx

SEED = 20240811
REDUCTIONS = ("mean", "sum", "none")


def probs(*shape, dt):
    """Probabilities in (0.02, 0.98), away from the clamps."""
    return torch.rand(shape, dtype=dt) * 0.96 + 0.02


def soft_targets(*shape, dt):
    return torch.softmax(randn(*shape, dt=dt), 1)


def each_reduction(w, name, dt, fn, inputs, nograd=()):
    """One case per reduction; fn(reduction) gives the function of the inputs."""
    for r in REDUCTIONS:
        w.case("%s_%s_%s" % (name, r, sfx(dt)), fn(r), [t.clone() for t in inputs], nograd)


def regression(w, dt):
    x, t = randn(3, 4, dt=dt) * 2, randn(3, 4, dt=dt)
    each_reduction(w, "mse", dt, lambda r: lambda a, b: F.mse_loss(a, b, reduction=r), [x, t])
    each_reduction(w, "l1", dt, lambda r: lambda a, b: F.l1_loss(a, b, reduction=r), [x, t])
    for name, delta in (("huber", 1.0), ("huber_d05", 0.5)):
        each_reduction(w, name, dt, lambda r, d=delta: lambda a, b: F.huber_loss(
            a, b, reduction=r, delta=d), [x, t])
    for name, beta in (("smooth_l1", 1.0), ("smooth_l1_b05", 0.5), ("smooth_l1_b0", 0.0)):
        each_reduction(w, name, dt, lambda r, b_=beta: lambda a, b: F.smooth_l1_loss(
            a, b, reduction=r, beta=b_), [x, t])


def ce(r, weight=False, ignore=-100, ls=0.0):
    if weight:
        return lambda x, t, wt: F.cross_entropy(x, t, weight=wt, ignore_index=ignore,
                                                reduction=r, label_smoothing=ls)
    return lambda x, t: F.cross_entropy(x, t, ignore_index=ignore, reduction=r,
                                        label_smoothing=ls)


def nll(r, weight=False):
    if weight:
        return lambda x, t, wt: F.nll_loss(F.log_softmax(x, 1), t, weight=wt, reduction=r)
    return lambda x, t: F.nll_loss(F.log_softmax(x, 1), t, reduction=r)


def classification(w, dt):
    x = randn(5, 4, dt=dt) * 2
    t = idx(3, 0, 1, 1, 2)
    t_ign = idx(3, -100, 1, 0, -100)
    wt = torch.rand(4, dtype=dt) + 0.5
    each_reduction(w, "ce", dt, lambda r: ce(r), [x, t])
    each_reduction(w, "ce_w", dt, lambda r: ce(r, True), [x, t, wt], (2,))
    each_reduction(w, "ce_ign", dt, lambda r: ce(r), [x, t_ign])
    each_reduction(w, "ce_ign_w", dt, lambda r: ce(r, True), [x, t_ign, wt], (2,))
    each_reduction(w, "ce_ii1", dt, lambda r: ce(r, ignore=1), [x, t])
    each_reduction(w, "ce_ls", dt, lambda r: ce(r, ls=0.1), [x, t])
    each_reduction(w, "ce_ls_w_ign", dt, lambda r: ce(r, True, ls=0.2), [x, t_ign, wt], (2,))
    xs, ts = randn(2, 4, 3, dt=dt), idx(0, 3, 1, 2, 2, 0).reshape(2, 3)
    each_reduction(w, "ce_sp", dt, lambda r: ce(r), [xs, ts])
    xs2, ts2 = randn(2, 4, 2, 3, dt=dt), idx(0, 3, -100, 2, 2, 0, 1, 1, -100, 3, 0, 2)
    each_reduction(w, "ce_sp_ls_w_ign", dt, lambda r: ce(r, True, ls=0.3),
                   [xs2, ts2.reshape(2, 2, 3), wt], (2,))
    p = soft_targets(5, 4, dt=dt)
    each_reduction(w, "ce_prob", dt, lambda r: ce(r), [x, p])
    each_reduction(w, "ce_prob_ls_w", dt, lambda r: ce(r, True, ls=0.15), [x, p, wt], (2,))
    each_reduction(w, "ce_single", dt, lambda r: ce(r), [randn(4, dt=dt), torch.tensor(2)])
    each_reduction(w, "ce_all_ign", dt, lambda r: ce(r, ls=0.1),
                   [x[:2], idx(-100, -100)])
    each_reduction(w, "nll", dt, lambda r: nll(r), [x, t])
    each_reduction(w, "nll_w_ign", dt, lambda r: nll(r, True), [x, t_ign, wt], (2,))
    each_reduction(w, "nll_sp", dt, lambda r: nll(r), [xs, ts])


def bce(r, weight=False):
    if weight:
        return lambda p, t, wt: F.binary_cross_entropy(p, t, weight=wt, reduction=r)
    return lambda p, t: F.binary_cross_entropy(p, t, reduction=r)


def bcel(r, weight=False, pos=False):
    if weight and pos:
        return lambda x, t, wt, pw: F.binary_cross_entropy_with_logits(
            x, t, weight=wt, pos_weight=pw, reduction=r)
    if pos:
        return lambda x, t, pw: F.binary_cross_entropy_with_logits(x, t, pos_weight=pw,
                                                                   reduction=r)
    return lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction=r)


def binary(w, dt):
    p, t = probs(3, 4, dt=dt), torch.rand(3, 4, dtype=dt)
    wt = torch.rand(4, dtype=dt) + 0.5
    each_reduction(w, "bce", dt, lambda r: bce(r), [p, t])
    each_reduction(w, "bce_w", dt, lambda r: bce(r, True), [p, t, wt], (2,))
    pe = torch.tensor([0.0, 1.0, 0.0, 1.0, 0.5], dtype=dt)
    te = torch.tensor([0.3, 0.7, 0.0, 1.0, 0.2], dtype=dt)
    each_reduction(w, "bce_edge", dt, lambda r: bce(r), [pe, te])
    x = randn(3, 4, dt=dt) * 3
    pw = torch.rand(4, dtype=dt) * 3 + 0.2
    wc = torch.rand(3, 1, dtype=dt) + 0.5
    each_reduction(w, "bcel", dt, lambda r: bcel(r), [x, t])
    each_reduction(w, "bcel_pw", dt, lambda r: bcel(r, pos=True), [x, t, pw], (2,))
    each_reduction(w, "bcel_w_pw", dt, lambda r: bcel(r, True, True), [x, t, wc, pw], (2, 3))
    xb = torch.tensor([1000.0, -1000.0, 30.0, -30.0, 0.0], dtype=dt)
    pb = torch.tensor([2.0], dtype=dt)
    each_reduction(w, "bcel_big", dt, lambda r: bcel(r, pos=True), [xb, te, pb], (2,))


def main():
    w = GoldenWriter("make_golden_loss.py")
    w.begin("loss", seed=SEED)
    for dt in (F64, F32):
        regression(w, dt)
        classification(w, dt)
        binary(w, dt)
    w.write(os.path.dirname(os.path.abspath(__file__)))


if __name__ == "__main__":
    main()
