#!/usr/bin/python3
"""Golden optimizer trajectories computed by torch.optim (PyTorch 1.13, Debian's).

Run with Debian's interpreter:  /usr/bin/python3 tests/golden/make_golden_optim.py
It rewrites tests/golden/optim.txt (golden_writer's format), which tests/test_golden_optim.c
reads; rerunning it gives the same bytes.

TRAJECTORY CASES (every optimizer, each option that changes the math)
  The problem: two parameters p0 [2, 3] and p1 [4] and the loss
      L = s * (0.5 |A0 vec(p0) - b0|^2 + 0.5 |A1 p1 - b1|^2 + 0.05 (sum p0^4 + sum p1^4))
  with s = -1 for the maximize cases (so that maximizing stays bounded) and s = 1 otherwise.
  Each case runs STEPS steps (zero_grad, loss, backward, step) in float64.
      in  p0, p1, A0, b0, A1, b1     the initial parameters and the problem
      in  traj [STEPS, 10]           row k: p0 and p1 flattened after step k + 1
      out 0-d 0                      the largest relative difference of the C trajectory
                                     from traj: PyTorch's own is 0, and the C test returns
                                     its own, so the runner's tolerance (1e-6 per case)
                                     bounds the relative error elementwise
  The options of each case are in CASES below and, identically, in the C test's table
  (tests/optim_cases.h): the case name links the two.

L-BFGS CASES (lbfgs_*): Rosenbrock f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 from (-1.5, 2).
      in  x0 [2]
      in  traj [CALLS, 5]            row k after the k-th optimizer.step(closure):
                                     x, y, the loss step returned, state func_evals, n_iter
      out 0-d 0                      as above

PyTorch keeps some scalar state (Adam's step, NAdam's mu_product, ASGD's eta and mu) in the
default dtype; it is set to float64 here, so that the whole computation is float64 (with
float32 scalars PyTorch rounds mu_product and eta to float32 at every step).
"""
import os

import torch
from golden_writer import F64, GoldenWriter, randn

torch.set_default_dtype(torch.float64)

STEPS = 25
LBFGS_CALLS = 6

# name -> (torch.optim class, keyword options, loss sign, group options or None).
# Groups: a list of per-group dicts for [p0] and [p1] (merged over the keyword options).
CASES = [
    ("sgd_plain", "SGD", dict(lr=0.05), 1, None),
    ("sgd_momentum", "SGD", dict(lr=0.05, momentum=0.9), 1, None),
    ("sgd_dampening", "SGD", dict(lr=0.05, momentum=0.9, dampening=0.3), 1, None),
    ("sgd_nesterov", "SGD", dict(lr=0.05, momentum=0.9, nesterov=True), 1, None),
    ("sgd_weight_decay", "SGD", dict(lr=0.05, momentum=0.5, weight_decay=0.1), 1, None),
    ("sgd_maximize", "SGD", dict(lr=0.05, momentum=0.9, maximize=True), -1, None),
    ("sgd_groups", "SGD", dict(lr=0.05, momentum=0.8), 1,
     [dict(), dict(lr=0.02, weight_decay=0.1)]),
    ("adam_default", "Adam", dict(lr=0.05), 1, None),
    ("adam_betas", "Adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6), 1, None),
    ("adam_amsgrad", "Adam", dict(lr=0.05, amsgrad=True), 1, None),
    ("adam_weight_decay", "Adam", dict(lr=0.05, weight_decay=0.1), 1, None),
    ("adam_maximize", "Adam", dict(lr=0.05, maximize=True), -1, None),
    ("adam_groups", "Adam", dict(lr=0.05), 1, [dict(lr=0.1), dict(weight_decay=0.2)]),
    ("adamw_default", "AdamW", dict(lr=0.05), 1, None),
    ("adamw_weight_decay", "AdamW", dict(lr=0.05, weight_decay=0.3), 1, None),
    ("adamw_amsgrad", "AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True), 1, None),
    ("adamw_maximize", "AdamW", dict(lr=0.05, maximize=True), -1, None),
    ("rmsprop_plain", "RMSprop", dict(lr=0.01), 1, None),
    ("rmsprop_alpha", "RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6), 1, None),
    ("rmsprop_centered", "RMSprop", dict(lr=0.01, centered=True), 1, None),
    ("rmsprop_momentum", "RMSprop", dict(lr=0.01, momentum=0.9), 1, None),
    ("rmsprop_centered_momentum", "RMSprop", dict(lr=0.01, momentum=0.5, centered=True), 1,
     None),
    ("rmsprop_weight_decay", "RMSprop", dict(lr=0.01, weight_decay=0.1), 1, None),
    ("rmsprop_maximize", "RMSprop", dict(lr=0.01, maximize=True), -1, None),
    ("adagrad_plain", "Adagrad", dict(lr=0.1), 1, None),
    ("adagrad_lr_decay", "Adagrad", dict(lr=0.1, lr_decay=0.05), 1, None),
    ("adagrad_initial_accumulator", "Adagrad", dict(lr=0.1, initial_accumulator_value=0.5), 1,
     None),
    ("adagrad_eps", "Adagrad", dict(lr=0.1, eps=1e-3), 1, None),
    ("adagrad_weight_decay", "Adagrad", dict(lr=0.1, weight_decay=0.1), 1, None),
    ("adagrad_maximize", "Adagrad", dict(lr=0.1, maximize=True), -1, None),
    ("adadelta_default", "Adadelta", dict(), 1, None),
    ("adadelta_rho", "Adadelta", dict(lr=0.5, rho=0.5, eps=1e-4), 1, None),
    ("adadelta_weight_decay", "Adadelta", dict(weight_decay=0.1), 1, None),
    ("adadelta_maximize", "Adadelta", dict(maximize=True), -1, None),
    ("adamax_default", "Adamax", dict(lr=0.05), 1, None),
    ("adamax_betas", "Adamax", dict(lr=0.05, betas=(0.7, 0.9), eps=1e-4), 1, None),
    ("adamax_weight_decay", "Adamax", dict(lr=0.05, weight_decay=0.1), 1, None),
    ("adamax_maximize", "Adamax", dict(lr=0.05, maximize=True), -1, None),
    ("nadam_default", "NAdam", dict(lr=0.05), 1, None),
    ("nadam_momentum_decay", "NAdam", dict(lr=0.05, momentum_decay=0.1), 1, None),
    ("nadam_betas", "NAdam", dict(lr=0.05, betas=(0.8, 0.99)), 1, None),
    ("nadam_weight_decay", "NAdam", dict(lr=0.05, weight_decay=0.1), 1, None),
    ("radam_default", "RAdam", dict(lr=0.05), 1, None),
    ("radam_beta2", "RAdam", dict(lr=0.05, betas=(0.9, 0.9)), 1, None),
    ("radam_weight_decay", "RAdam", dict(lr=0.05, weight_decay=0.1), 1, None),
    ("rprop_default", "Rprop", dict(), 1, None),
    ("rprop_etas", "Rprop", dict(lr=0.05, etas=(0.3, 1.5)), 1, None),
    ("rprop_step_sizes", "Rprop", dict(lr=0.05, step_sizes=(1e-2, 0.08)), 1, None),
    ("rprop_maximize", "Rprop", dict(maximize=True), -1, None),
    ("asgd_default", "ASGD", dict(), 1, None),
    ("asgd_lambd_alpha", "ASGD", dict(lr=0.02, lambd=0.1, alpha=0.5), 1, None),
    ("asgd_t0", "ASGD", dict(lr=0.02, t0=5), 1, None),
    ("asgd_weight_decay", "ASGD", dict(lr=0.02, weight_decay=0.1, t0=3), 1, None),
    ("asgd_maximize", "ASGD", dict(lr=0.02, maximize=True, t0=10), -1, None),
]

LBFGS_CASES = [
    ("lbfgs_strong_wolfe", dict(line_search_fn="strong_wolfe")),
    ("lbfgs_strong_wolfe_history", dict(line_search_fn="strong_wolfe", history_size=3)),
    ("lbfgs_strong_wolfe_max_iter", dict(line_search_fn="strong_wolfe", max_iter=4)),
    ("lbfgs_fixed_step", dict(lr=0.1, max_iter=10)),
]


def loss_fn(p0, p1, a0, b0, a1, b1, sign):
    r0 = a0 @ p0.reshape(-1) - b0
    r1 = a1 @ p1 - b1
    quartic = (p0 ** 4).sum() + (p1 ** 4).sum()
    return sign * (0.5 * (r0 ** 2).sum() + 0.5 * (r1 ** 2).sum() + 0.05 * quartic)


def trajectory(cls, kw, sign, groups, p0, p1, a0, b0, a1, b1):
    p0 = p0.clone().requires_grad_(True)
    p1 = p1.clone().requires_grad_(True)
    if groups:
        params = [dict(params=[p0], **groups[0]), dict(params=[p1], **groups[1])]
    else:
        params = [p0, p1]
    opt = getattr(torch.optim, cls)(params, **kw)
    rows = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss_fn(p0, p1, a0, b0, a1, b1, sign).backward()
        opt.step()
        rows.append(torch.cat([p0.detach().reshape(-1), p1.detach().reshape(-1)]))
    return torch.stack(rows)


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def lbfgs_trajectory(kw, x0):
    x = x0.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([x], **kw)

    def closure():
        opt.zero_grad()
        f = rosenbrock(x)
        f.backward()
        return f

    rows = []
    for _ in range(LBFGS_CALLS):
        f = opt.step(closure)
        st = opt.state[x]
        rows.append(torch.tensor([x[0].item(), x[1].item(), float(f), st["func_evals"],
                                  st["n_iter"]]))
    return torch.stack(rows)


def main():
    w = GoldenWriter("make_golden_optim.py")
    w.begin("optim", seed=20240702)
    problem = [randn(2, 3), randn(4), randn(5, 6), randn(5), randn(3, 4), randn(3)]
    for name, cls, kw, sign, groups in CASES:
        traj = trajectory(cls, kw, sign, groups, *problem)
        assert torch.isfinite(traj).all(), name
        w.case(name + "_f64", lambda *xs: torch.zeros(()), problem + [traj], diff=False)
    x0 = torch.tensor([-1.5, 2.0], dtype=F64)
    for name, kw in LBFGS_CASES:
        traj = lbfgs_trajectory(kw, x0)
        w.case(name + "_f64", lambda *xs: torch.zeros(()), [x0, traj], diff=False)
    w.write(os.path.dirname(os.path.abspath(__file__)))


if __name__ == "__main__":
    main()
