#!/usr/bin/python3
"""Golden learning-rate sequences and gradient clippings, computed by PyTorch.

Run with Debian's interpreter:  /usr/bin/python3 tests/golden/make_golden_schedule.py
It rewrites tests/golden/schedule.txt, which tests/test_golden_schedule.c reads. The output
is deterministic (no randomness beyond a fixed torch.manual_seed), so rerunning it gives the
same bytes; commit the file.

FILE FORMAT (whitespace-separated tokens, '#' starts a comment line)
    case NAME
    KEY N V1 .. VN        any number of named arrays of doubles
    end
Values are hex floats (float.hex, read bit-exactly by strtod; also "inf"/"-inf"/"nan").

Schedule cases ("sched_*") hold
    lr N ...        the learning rate the optimizer holds after construction, then after
                    each of N-1 calls of scheduler.step()
    metrics M ...   (ReduceLROnPlateau only) the value passed to step k (k = 1..N-1)
The C test maps each case NAME to a builder making the same schedule with the same
hyperparameters (keep the two tables in step; the test fails on a name it does not know).

Schedules PyTorch lacks (1/t, Robbins-Monro, c/sqrt(t), inverse square root) are written as
LambdaLR with the formula include/cgrad/optim.h documents, so the C code must evaluate the same
expression in the same order. "Warmup" is SequentialLR([LinearLR(start_factor, 1.0, W), X],
milestones=[W]).

Clip cases ("clip_*") hold
    opts 2 max_norm norm_type      (clip_grad_norm_) or
    value 1 clip_value             (clip_grad_value_)
    gK N ...        gradient of parameter K before clipping (K = 0, 1, ...; 1-d)
    f32 1 0|1       whether the gradients are float32
    total 1 t       the total norm clip_grad_norm_ returned (norm cases only)
    cK N ...        gradient of parameter K after clipping
"""
import math
import os
import warnings

import torch
from torch.optim import lr_scheduler as S

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "schedule.txt")
STEPS = 80

warnings.filterwarnings("ignore")
torch.set_default_dtype(torch.float64)

_lines = []


def hexs(values):
    return " ".join(float(v).hex() for v in values)


def emit(name, arrays):
    _lines.append("case %s" % name)
    for key, values in arrays:
        _lines.append("%s %d %s" % (key, len(values), hexs(values)))
    _lines.append("end")


def optimizer(lr):
    """An SGD optimizer over one dummy parameter (momentum, so CyclicLR/OneCycleLR accept it)."""
    p = torch.zeros(1, requires_grad=True)
    return torch.optim.SGD([p], lr=lr, momentum=0.9)


def run(name, lr, make, steps=STEPS):
    """Record lr after construction and after each step of the scheduler make(opt) returns."""
    opt = optimizer(lr)
    sched = make(opt)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(steps - 1):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    emit("sched_" + name, [("lr", lrs)])


def warmup(opt, make_inner, w, start_factor):
    """SequentialLR(LinearLR(start_factor -> 1 over w steps), inner) switching at step w."""
    lin = S.LinearLR(opt, start_factor=start_factor, end_factor=1.0, total_iters=w)
    inner = make_inner(opt)
    return S.SequentialLR(opt, [lin, inner], milestones=[w])


# ---- the formulas libcgrad defines (as LambdaLR factors; lr = base_lr * f(t)) ----

def inverse_time(k):
    return lambda t: 1.0 / (1.0 + k * t)


def robbins_monro(a, b):
    # with base_lr = 1: lr = 1.0 * (a / (b + t)) = a / (b + t) exactly
    return lambda t: a / (b + t)


def inv_sqrt_t():
    return lambda t: 1.0 / math.sqrt(t + 1)


def inverse_sqrt(w, s):
    return lambda t: s + (1.0 - s) * t / w if t < w else math.sqrt(w) / math.sqrt(t)


def schedules():
    run("constant_default", 0.1, lambda o: S.ConstantLR(o))
    run("constant_half_10", 0.05, lambda o: S.ConstantLR(o, factor=0.5, total_iters=10))
    run("constant_plain", 0.3, lambda o: S.ConstantLR(o, factor=1.0, total_iters=1))

    run("step_7_half", 0.1, lambda o: S.StepLR(o, step_size=7, gamma=0.5))
    run("step_3_default", 1.0, lambda o: S.StepLR(o, step_size=3))
    run("step_1_09", 0.2, lambda o: S.StepLR(o, step_size=1, gamma=0.9))

    run("multistep_3", 0.1, lambda o: S.MultiStepLR(o, milestones=[5, 12, 30], gamma=0.3))
    run("multistep_zero", 0.5, lambda o: S.MultiStepLR(o, milestones=[0, 10, 40]))

    run("exponential_095", 0.1, lambda o: S.ExponentialLR(o, gamma=0.95))
    run("exponential_05", 1.0, lambda o: S.ExponentialLR(o, gamma=0.5))

    run("inverse_time_01", 0.1, lambda o: S.LambdaLR(o, inverse_time(0.1)))
    run("inverse_time_05", 0.3, lambda o: S.LambdaLR(o, inverse_time(0.5)))
    run("robbins_monro_1_10", 1.0, lambda o: S.LambdaLR(o, robbins_monro(1.0, 10.0)))
    run("robbins_monro_05_3", 1.0, lambda o: S.LambdaLR(o, robbins_monro(0.5, 3.0)))
    run("inv_sqrt_t", 0.1, lambda o: S.LambdaLR(o, inv_sqrt_t()))
    run("inverse_sqrt_10", 0.01, lambda o: S.LambdaLR(o, inverse_sqrt(10, 1.0)))
    run("inverse_sqrt_1", 0.5, lambda o: S.LambdaLR(o, inverse_sqrt(1, 0.5)))
    run("inverse_sqrt_warm", 1e-3, lambda o: S.LambdaLR(o, inverse_sqrt(16, 0.0)))
    run("inverse_sqrt_warm_start", 0.1, lambda o: S.LambdaLR(o, inverse_sqrt(7, 0.3)))

    run("polynomial_default", 0.1, lambda o: S.PolynomialLR(o))
    run("polynomial_40_2", 0.1, lambda o: S.PolynomialLR(o, total_iters=40, power=2.0))
    run("polynomial_30_05", 0.3, lambda o: S.PolynomialLR(o, total_iters=30, power=0.5))

    run("cosine_10", 0.1, lambda o: S.CosineAnnealingLR(o, T_max=10))
    run("cosine_25_min", 0.1, lambda o: S.CosineAnnealingLR(o, T_max=25, eta_min=1e-3))
    run("cosine_7_min", 0.05, lambda o: S.CosineAnnealingLR(o, T_max=7, eta_min=0.01))
    run("cosine_1", 0.1, lambda o: S.CosineAnnealingLR(o, T_max=1))
    run("cosine_60_long", 0.1, lambda o: S.CosineAnnealingLR(o, T_max=60, eta_min=1e-4), 200)

    run("sgdr_10", 0.1, lambda o: S.CosineAnnealingWarmRestarts(o, T_0=10))
    run("sgdr_3_x2_min", 0.1, lambda o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2,
                                                                     eta_min=1e-3))
    run("sgdr_1_x3", 0.5, lambda o: S.CosineAnnealingWarmRestarts(o, T_0=1, T_mult=3))

    run("linear_default", 0.1, lambda o: S.LinearLR(o))
    run("linear_down", 0.2, lambda o: S.LinearLR(o, start_factor=0.5, end_factor=0.1,
                                                 total_iters=30))
    run("linear_to_zero", 0.1, lambda o: S.LinearLR(o, start_factor=1.0, end_factor=0.0,
                                                    total_iters=20))

    run("warmup_cosine", 0.1, lambda o: warmup(o, lambda p: S.CosineAnnealingLR(p, T_max=50),
                                               5, 0.1))
    run("warmup_cosine_min", 0.1, lambda o: warmup(
        o, lambda p: S.CosineAnnealingLR(p, T_max=30, eta_min=0.003), 8, 0.25))
    run("warmup_exponential", 0.1, lambda o: warmup(o, lambda p: S.ExponentialLR(p, 0.9),
                                                    10, 0.01))
    run("warmup_step", 0.1, lambda o: warmup(o, lambda p: S.StepLR(p, 10, 0.5), 3, 0.5))
    run("warmup_constant", 0.1, lambda o: warmup(
        o, lambda p: S.ConstantLR(p, factor=0.5, total_iters=20), 4, 0.2))
    run("warmup_linear", 0.1, lambda o: warmup(
        o, lambda p: S.LinearLR(p, start_factor=1.0, end_factor=0.05, total_iters=40), 6, 0.1))
    run("warmup_inverse_sqrt", 1e-3, lambda o: warmup(
        o, lambda p: S.LambdaLR(p, inverse_sqrt(8, 1.0)), 8, 1e-3))
    run("warmup_sgdr", 0.1, lambda o: warmup(
        o, lambda p: S.CosineAnnealingWarmRestarts(p, T_0=10, T_mult=2), 5, 0.1))
    run("warmup_polynomial", 0.1, lambda o: warmup(
        o, lambda p: S.PolynomialLR(p, total_iters=50, power=2.0), 10, 0.1))
    run("warmup_multistep", 0.1, lambda o: warmup(
        o, lambda p: S.MultiStepLR(p, milestones=[0, 20, 40], gamma=0.5), 5, 0.3))

    run("cyclic_triangular", 0.01, lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1,
                                                        step_size_up=5))
    run("cyclic_triangular_updown", 0.01, lambda o: S.CyclicLR(o, 0.01, 0.1, step_size_up=10,
                                                               step_size_down=3))
    run("cyclic_triangular2", 0.001, lambda o: S.CyclicLR(o, 0.001, 0.01, step_size_up=4,
                                                          step_size_down=6,
                                                          mode="triangular2"))
    run("cyclic_exp_range", 0.01, lambda o: S.CyclicLR(o, 0.01, 0.2, step_size_up=5,
                                                       mode="exp_range", gamma=0.99))

    run("onecycle_cos", 0.004, lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=79))
    run("onecycle_linear", 0.004, lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=79,
                                                         anneal_strategy="linear"))
    run("onecycle_three_cos", 0.004, lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=79,
                                                            three_phase=True))
    run("onecycle_three_linear", 0.004, lambda o: S.OneCycleLR(
        o, max_lr=0.1, total_steps=79, three_phase=True, anneal_strategy="linear"))
    run("onecycle_opts", 0.1, lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=60,
                                                     pct_start=0.25, div_factor=10.0,
                                                     final_div_factor=100.0), 61)

    run("chain_constant_exponential", 1.0, lambda o: S.ChainedScheduler(
        [S.ConstantLR(o, factor=0.1, total_iters=2), S.ExponentialLR(o, gamma=0.9)]))
    run("chain_step_exponential", 0.1, lambda o: S.ChainedScheduler(
        [S.StepLR(o, 5, 0.5), S.ExponentialLR(o, gamma=0.95)]))
    run("chain_cosine_linear", 0.1, lambda o: S.ChainedScheduler(
        [S.CosineAnnealingLR(o, T_max=20, eta_min=0.001),
         S.LinearLR(o, start_factor=0.5, total_iters=10)]))
    run("chain_warmup_exponential", 0.1, lambda o: S.ChainedScheduler(
        [warmup(o, lambda p: S.CosineAnnealingLR(p, T_max=30), 5, 0.2),
         S.ExponentialLR(o, gamma=0.97)]))
    run("chain_three", 0.1, lambda o: S.ChainedScheduler(
        [S.MultiStepLR(o, [10, 30], 0.5), S.ExponentialLR(o, 0.99),
         S.PolynomialLR(o, total_iters=60, power=1.0)]))


def metric_sequence(n, kind):
    """A fixed metric series: improving, then flat with noise, then improving again."""
    out = []
    for k in range(1, n):
        if kind == "loss":
            v = 1.0 / k if k < 20 else 0.05 + 0.001 * math.sin(k) if k < 50 else 0.04 - k * 1e-5
        else:  # accuracy-like, rising then stalling
            v = 0.5 + 0.01 * min(k, 25) + (0.002 * ((k * 7) % 5) if k > 25 else 0.0)
        out.append(v)
    return out


def plateau(name, lr, metrics, **kw):
    opt = optimizer(lr)
    sched = S.ReduceLROnPlateau(opt, **kw)
    lrs = [opt.param_groups[0]["lr"]]
    for m in metrics:
        opt.step()
        sched.step(m)
        lrs.append(opt.param_groups[0]["lr"])
    emit("sched_" + name, [("metrics", metrics), ("lr", lrs)])


def plateaus():
    loss = metric_sequence(STEPS, "loss")
    acc = metric_sequence(STEPS, "acc")
    plateau("plateau_default", 0.1, loss)
    plateau("plateau_min_rel_p3", 0.1, loss, patience=3, factor=0.5)
    plateau("plateau_min_abs_cool", 0.1, loss, patience=2, factor=0.5, threshold=1e-3,
            threshold_mode="abs", cooldown=4)
    plateau("plateau_max_rel", 1.0, acc, mode="max", patience=2, factor=0.3, threshold=0.01)
    plateau("plateau_max_abs_minlr", 1.0, acc, mode="max", patience=1, factor=0.2,
            threshold=0.005, threshold_mode="abs", min_lr=0.01)
    plateau("plateau_eps", 1e-6, loss, patience=0, factor=0.5, eps=1e-7)
    flat = [1.0] * (STEPS - 1)
    plateau("plateau_flat", 0.1, flat, patience=4, cooldown=2)


def clip(name, shapes, max_norm=None, norm_type=2.0, value=None, f32=False, seed=0):
    torch.manual_seed(seed)
    dt = torch.float32 if f32 else torch.float64
    grads = [torch.randn(n, dtype=torch.float64).mul(3.0).to(dt) for n in shapes]
    params = []
    for g in grads:
        p = torch.zeros(g.shape, dtype=dt, requires_grad=True)
        p.grad = g.clone()
        params.append(p)
    arrays = [("f32", [1.0 if f32 else 0.0])]
    if value is None:
        arrays.append(("opts", [max_norm, norm_type]))
    else:
        arrays.append(("value", [value]))
    arrays += [("g%d" % k, g.tolist()) for k, g in enumerate(grads)]
    if value is None:
        total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type)
        arrays.append(("total", [total.item()]))
    else:
        torch.nn.utils.clip_grad_value_(params, value)
    arrays += [("c%d" % k, p.grad.tolist()) for k, p in enumerate(params)]
    emit("clip_" + name, arrays)


def clips():
    shapes = [7, 12, 3]
    clip("norm2", shapes, max_norm=1.0, seed=1)
    clip("norm2_noclip", shapes, max_norm=100.0, seed=2)
    clip("norm1", shapes, max_norm=2.5, norm_type=1.0, seed=3)
    clip("norminf", shapes, max_norm=0.5, norm_type=math.inf, seed=4)
    clip("norm3", shapes, max_norm=1.5, norm_type=3.0, seed=5)
    clip("norm2_single", [20], max_norm=0.1, seed=6)
    clip("norminf_single", [20], max_norm=0.1, norm_type=math.inf, seed=7)
    clip("norm2_f32", shapes, max_norm=1.0, f32=True, seed=8)
    clip("norm1_f32", shapes, max_norm=3.0, norm_type=1.0, f32=True, seed=9)
    clip("norminf_f32", shapes, max_norm=0.2, norm_type=math.inf, f32=True, seed=10)
    clip("value", shapes, value=1.0, seed=11)
    clip("value_f32", shapes, value=0.3, f32=True, seed=12)


def main():
    _lines.append("# Generated by tests/golden/make_golden_schedule.py with torch %s; do not edit."
                  % torch.__version__)
    schedules()
    plateaus()
    clips()
    with open(OUT, "w") as f:
        f.write("\n".join(_lines) + "\n")


if __name__ == "__main__":
    main()
