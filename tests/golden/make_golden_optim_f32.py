#!/usr/bin/python3
"""Golden float32 optimizer steps computed by torch.optim (PyTorch 1.13, Debian's), for the
optimizers whose fused step has a float kernel (Adam, AdamW, SGD).

Run with Debian's interpreter:  /usr/bin/python3 tests/golden/make_golden_optim_f32.py
It rewrites tests/golden/optim_f32.txt (golden_writer's format), which
tests/test_golden_optim_f32.c reads; rerunning it gives the same bytes.

The gradients are given, not computed: a loss's float32 gradient differs between two
libraries by the order of its sums, and the test is about the optimizer's own arithmetic,
which must match PyTorch's bit for bit. So each case sets p.grad to stored values and
steps, STEPS times:
    in  p0 [5, 7], p1 [19]       float32 initial parameters (35 and 19 elements: vector
                                 loops of 8 and 16 floats both end in a scalar tail)
    in  grads [STEPS, 54]        row k: the gradients of p0 and p1 (flattened) at step k + 1,
                                 standard normal times 0.5, 1 or 2 in turn, so that the
                                 second moment also falls (AMSGrad's maximum matters)
    in  traj [STEPS, 54]         row k: p0 and p1 flattened after step k + 1
    out 0-d 0                    the largest distance in units in the last place of the C
                                 trajectory from traj; the C test requires 0
The options of each case are in CASES below and, identically, in the C test's table: the
case name links the two.
"""
import os

import torch
from golden_writer import F32, F64, GoldenWriter, randn

STEPS = 12

# name -> (torch.optim class, keyword options)
CASES = [
    ("adam_default", "Adam", dict(lr=0.05)),
    ("adam_amsgrad", "Adam", dict(lr=0.05, amsgrad=True)),
    ("adam_weight_decay", "Adam", dict(lr=0.05, weight_decay=0.1)),
    ("adam_maximize", "Adam", dict(lr=0.05, maximize=True)),
    ("adam_all", "Adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1,
                              amsgrad=True, maximize=True)),
    ("adamw_default", "AdamW", dict(lr=0.05)),
    ("adamw_amsgrad_maximize", "AdamW", dict(lr=0.05, weight_decay=0.3, amsgrad=True,
                                             maximize=True)),
    ("sgd_plain", "SGD", dict(lr=0.05)),
    ("sgd_plain_wd_maximize", "SGD", dict(lr=0.05, weight_decay=0.1, maximize=True)),
    ("sgd_momentum", "SGD", dict(lr=0.05, momentum=0.9)),
    ("sgd_dampening_wd", "SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("sgd_nesterov_wd_maximize", "SGD", dict(lr=0.05, momentum=0.9, nesterov=True,
                                             weight_decay=0.1, maximize=True)),
]


def trajectory(cls, kw, p0, p1, grads):
    p0 = p0.clone().requires_grad_(True)
    p1 = p1.clone().requires_grad_(True)
    opt = getattr(torch.optim, cls)([p0, p1], **kw)
    rows = []
    for k in range(STEPS):
        p0.grad = grads[k, :35].reshape(5, 7).clone()
        p1.grad = grads[k, 35:].clone()
        opt.step()
        rows.append(torch.cat([p0.detach().reshape(-1), p1.detach().reshape(-1)]))
    return torch.stack(rows)


def main():
    w = GoldenWriter("make_golden_optim_f32.py")
    w.begin("optim_f32", seed=20261124)
    p0, p1 = randn(5, 7, dt=F32), randn(19, dt=F32)
    scale = torch.tensor([0.5, 1.0, 2.0], dtype=F32).repeat(STEPS)[:STEPS, None]
    grads = randn(STEPS, 54, dt=F32) * scale
    for name, cls, kw in CASES:
        traj = trajectory(cls, kw, p0, p1, grads)
        assert torch.isfinite(traj).all(), name
        w.case(name + "_f32", lambda *xs: torch.zeros((), dtype=F64), [p0, p1, grads, traj],
               diff=False)
    w.write(os.path.dirname(os.path.abspath(__file__)))


if __name__ == "__main__":
    main()
