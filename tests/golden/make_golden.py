#!/usr/bin/python3
"""Golden values for libcgrad's ops, computed by PyTorch (Debian's python3-torch).

Run from anywhere with Debian's interpreter:  /usr/bin/python3 tests/golden/make_golden.py
It rewrites tests/golden/<family>.txt (the files tests/test_golden.c reads). The output is
deterministic (torch.manual_seed, one seed per family), so rerunning it gives the same
bytes; commit the files.

File format, writer and input makers: golden_writer.py (shared with the generators of
other families; its docstring says how a family adds make_golden_<family>.py and
tests/test_golden_<family>.c).

CASES
  Each case is one call of a public builder of include/cgrad/ops.h; tests/test_golden.c
  maps the case NAME to a C function that builds the same expression. Names end in the
  dtype (_f32/_f64). "_t" cases feed a transposed (non-contiguous) view of a stored
  contiguous input: x.t() here, cg_transpose(x, 0, 1) in C; gradients are with respect to
  the stored input.
"""
import os

import torch

from golden_writer import F32, F64, I64, INF, GoldenWriter, idx, ints, pos, randn, sfx

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20240611
FAMILIES = ["elementwise", "reduce", "softmax", "matmul", "shape", "index"]

_writer = GoldenWriter("make_golden.py")
case = _writer.case


def begin(family):
    """Start a family's file with its own seed (SEED + its place in FAMILIES)."""
    _writer.begin(family, SEED + FAMILIES.index(family))


def sl(x, axis, start, end, step):
    """x[..., start:end:step, ...] along axis (Python slicing, as cg_slice)."""
    key = [slice(None)] * x.dim()
    key[axis] = slice(start, end, step)
    return x[tuple(key)]


# ---- elementwise.c ----

def elementwise():
    begin("elementwise")
    binary = {
        "add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div,
        "maximum": torch.maximum, "minimum": torch.minimum,
    }
    for name, f in binary.items():
        second = pos if name == "div" else randn
        for dt in (F64, F32):
            case("%s_same_%s" % (name, sfx(dt)), f, [randn(3, 4, dt=dt), second(3, 4, dt=dt)])
            case("%s_bcast_%s" % (name, sfx(dt)), f,
                 [randn(2, 3, 1, dt=dt), second(1, 4, dt=dt)])
        case("%s_t_f64" % name, lambda a, b, f=f: f(a.t(), b),
             [randn(4, 3), second(3, 4)])
    case("add_0d_f64", torch.add, [randn(2, 3), randn()])
    case("add_size1_f64", torch.add, [randn(1, 3), randn(2, 1)])
    case("add_zero_f64", torch.add, [randn(0, 3), randn(3)])
    case("sub_0d_first_f64", torch.sub, [randn(), randn(2, 3)])
    case("mul_square_f64", lambda x: x * x, [randn(2, 3)])
    case("mul_tt_f32", lambda a, b: a.t() * b.t(), [randn(4, 3, dt=F32), randn(4, 3, dt=F32)])
    case("div_0d_f64", torch.div, [randn(2, 3), pos()])
    for dt in (F64, F32):
        case("pow_same_%s" % sfx(dt), torch.pow, [pos(3, 4, dt=dt), randn(3, 4, dt=dt)])
    case("pow_bcast_f64", torch.pow, [pos(2, 1, 3), randn(4, 1)])
    case("pow_t_f64", lambda a, b: torch.pow(a.t(), b), [pos(4, 3), randn(3, 4)])
    # exact ties: PyTorch splits the gradient in halves
    a = torch.tensor([[1.0, 2.0, -1.0], [0.5, 0.5, 3.0]], dtype=F64)
    b = torch.tensor([[1.0, 1.5, -1.0], [0.5, 0.0, 3.0]], dtype=F64)
    case("maximum_tie_f64", torch.maximum, [a, b])
    case("minimum_tie_f64", torch.minimum, [a, b])
    case("maximum_tie_f32", torch.maximum, [a.float(), b.float()])

    cmp = {"eq": torch.eq, "ne": torch.ne, "lt": torch.lt, "le": torch.le,
           "gt": torch.gt, "ge": torch.ge}
    for name, f in cmp.items():
        case("%s_bcast_f64" % name, lambda a, b, f=f: f(a, b).to(a.dtype),
             [ints(-1, 2, 3, 4), ints(-1, 2, 4)], diff=False)
        case("%s_same_f32" % name, lambda a, b, f=f: f(a, b).to(a.dtype),
             [ints(-1, 2, 2, 5, dt=F32), ints(-1, 2, 2, 5, dt=F32)], diff=False)

    def where(c, a, b):
        return torch.where(c != 0, a, b)
    for dt in (F64, F32):
        case("where_same_%s" % sfx(dt), where,
             [ints(0, 2, 3, 4, dt=dt), randn(3, 4, dt=dt), randn(3, 4, dt=dt)], nograd={0})
    case("where_bcast_f64", where, [ints(0, 2, 3, 1), randn(1, 4), randn()], nograd={0})
    # cond and a broadcast to fewer dims than the output
    case("where_bcast3_f64", where, [ints(0, 2, 4, 1), randn(), randn(2, 4, 3)], nograd={0})
    case("where_i64cond_f64", where, [torch.randint(0, 3, (2, 3)), randn(2, 3), randn(2, 3)])
    case("where_t_f64", lambda c, a, b: torch.where(c != 0, a.t(), b),
         [ints(0, 2, 3, 4), randn(4, 3), randn(3, 4)], nograd={0})

    unary = {
        "neg": (torch.neg, randn), "exp": (torch.exp, randn), "log": (torch.log, pos),
        "sqrt": (torch.sqrt, pos), "rsqrt": (torch.rsqrt, pos), "abs": (torch.abs, None),
        "sign": (torch.sign, None),
    }
    for name, (f, make) in unary.items():
        for dt in (F64, F32):
            if make is None:  # include exact zeros: the gradient there is 0
                x = randn(3, 4, dt=dt)
                x[0, 1] = 0.0
                x[2, 3] = 0.0
            else:
                x = make(3, 4, dt=dt)
            case("%s_%s" % (name, sfx(dt)), f, [x])
        case("%s_t_f64" % name, lambda x, f=f: f(x.t()),
             [randn(4, 3) if make is not pos else pos(4, 3)])
    case("exp_0d_f64", torch.exp, [randn()])
    case("exp_zero_f64", torch.exp, [randn(2, 0)])

    for dt in (F64, F32):
        case("clamp_%s" % sfx(dt), lambda x: torch.clamp(x, -0.5, 0.5), [randn(3, 4, dt=dt)])
        case("clamp_lo_%s" % sfx(dt), lambda x: torch.clamp(x, -0.3, INF), [randn(3, 4, dt=dt)])
        case("clamp_hi_%s" % sfx(dt), lambda x: torch.clamp(x, -INF, 0.2), [randn(3, 4, dt=dt)])
    # values exactly on the bounds keep their gradient (lo <= x <= hi)
    case("clamp_tie_f64", lambda x: torch.clamp(x, -0.5, 0.5),
         [torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0, 0.25], dtype=F64)])
    # lo > hi: hi everywhere, zero gradient
    case("clamp_crossed_f64", lambda x: torch.clamp(x, 0.5, -0.5), [randn(2, 3)])
    case("clamp_t_f64", lambda x: torch.clamp(x.t(), -0.5, 0.5), [randn(4, 3)])

    for dt in (F64, F32):
        case("add_scalar_%s" % sfx(dt), lambda x: x + 0.75, [randn(3, 4, dt=dt)])
        case("mul_scalar_%s" % sfx(dt), lambda x: x * -1.25, [randn(3, 4, dt=dt)])
    case("add_scalar_t_f64", lambda x: x.t() + 0.1, [randn(4, 3)])
    case("mul_scalar_t_f64", lambda x: x.t() * 0.3, [randn(4, 3)])
    pows = [("2", 2.0, randn), ("3", 3.0, randn), ("half", 0.5, pos), ("neg1", -1.0, pos),
            ("0", 0.0, randn), ("neg1p5", -1.5, pos), ("2p5", 2.5, pos)]
    for tag, c, make in pows:
        case("pow_scalar_%s_f64" % tag, lambda x, c=c: torch.pow(x, c), [make(3, 4)])
    case("pow_scalar_2p5_f32", lambda x: torch.pow(x, 2.5), [pos(3, 4, dt=F32)])
    case("pow_scalar_3_f32", lambda x: torch.pow(x, 3.0), [randn(3, 4, dt=F32)])
    case("pow_scalar_t_f64", lambda x: torch.pow(x.t(), 1.5), [pos(4, 3)])

    case("to_dtype_to_f64_f32", lambda x: x.to(F64), [randn(3, 4, dt=F32)])
    case("to_dtype_to_f32_f64", lambda x: x.to(F32), [randn(3, 4)])
    case("to_dtype_t_f32", lambda x: x.t().to(F64), [randn(4, 3, dt=F32)])
    case("contiguous_t_f64", lambda x: x.t().contiguous(), [randn(4, 3)])
    case("contiguous_t_f32", lambda x: x.t().contiguous(), [randn(2, 5, dt=F32)])
    case("contiguous_f64", lambda x: x.contiguous(), [randn(2, 3)])


# ---- reduce.c ----

def reduce():
    begin("reduce")

    def all_dims(x):
        return list(range(x.dim()))

    # (tag, dims or None for all, keepdim, shape)
    shapes = [
        ("all", None, False, (3, 4)),
        ("ax0", [0], False, (3, 4)),
        ("ax1_keep", [1], True, (3, 4)),
        ("axneg1", [-1], False, (2, 3, 4)),
        ("ax02", [0, 2], False, (2, 3, 4)),
        ("ax02_keep", [0, 2], True, (2, 3, 4)),
        ("ax_neg3_neg1_keep", [-3, -1], True, (2, 3, 4)),
        ("size1", [1], False, (3, 1, 4)),
    ]
    for tag, dims, keep, shape in shapes:
        for dt in (F64, F32):
            if dt == F32 and tag not in ("all", "ax1_keep", "ax02"):
                continue
            x = randn(*shape, dt=dt)
            d = dims
            case("sum_%s_%s" % (tag, sfx(dt)),
                 lambda x, d=d, k=keep: x.sum(dim=d if d else all_dims(x), keepdim=k), [x])
            case("mean_%s_%s" % (tag, sfx(dt)),
                 lambda x, d=d, k=keep: x.mean(dim=d if d else all_dims(x), keepdim=k),
                 [randn(*shape, dt=dt)])
            case("max_%s_%s" % (tag, sfx(dt)),
                 lambda x, d=d, k=keep: torch.amax(x, dim=d if d else all_dims(x), keepdim=k),
                 [randn(*shape, dt=dt)])
            case("min_%s_%s" % (tag, sfx(dt)),
                 lambda x, d=d, k=keep: torch.amin(x, dim=d if d else all_dims(x), keepdim=k),
                 [randn(*shape, dt=dt)])
            case("logsumexp_%s_%s" % (tag, sfx(dt)),
                 lambda x, d=d, k=keep: torch.logsumexp(x, dim=d if d else all_dims(x),
                                                        keepdim=k),
                 [randn(*shape, dt=dt)])
    case("sum_0d_f64", lambda x: x.sum(), [randn()])
    case("sum_t_ax1_f64", lambda x: x.t().sum(dim=1), [randn(4, 3)])
    case("sum_empty_ax0_f64", lambda x: x.sum(dim=0), [randn(0, 3)])
    case("sum_empty_all_f64", lambda x: x.sum(), [randn(2, 0)])
    case("mean_t_ax0_f64", lambda x: x.t().mean(dim=0), [randn(4, 3)])
    case("mean_empty_ax0_f64", lambda x: x.mean(dim=0), [randn(0, 3)])
    case("max_t_ax1_f64", lambda x: torch.amax(x.t(), dim=1), [randn(4, 3)])
    case("min_t_all_f32", lambda x: torch.amin(x.t(), dim=(0, 1)), [randn(4, 3, dt=F32)])
    case("logsumexp_t_ax0_f64", lambda x: torch.logsumexp(x.t(), dim=0), [randn(4, 3)])
    # ties: amax/amin share the gradient evenly among equal extreme values
    tie = torch.tensor([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [-1.0, 0.0, -1.0, 5.0]],
                       dtype=F64)
    case("max_tie_ax1_f64", lambda x: torch.amax(x, dim=1), [tie])
    case("max_tie_all_f64", lambda x: torch.amax(x, dim=(0, 1)), [ints(0, 2, 3, 4)])
    case("max_tie_ax0_f32", lambda x: torch.amax(x, dim=0), [ints(0, 3, 4, 3, dt=F32)])
    case("min_tie_ax1_f64", lambda x: torch.amin(x, dim=1), [tie])
    case("min_tie_ax0_keep_f64", lambda x: torch.amin(x, dim=0, keepdim=True),
         [ints(0, 2, 3, 4)])
    # large values: the max must be subtracted first
    case("logsumexp_large_f64", lambda x: torch.logsumexp(x, dim=1), [randn(3, 4) * 10 + 1000])
    case("logsumexp_large_f32", lambda x: torch.logsumexp(x, dim=1),
         [randn(3, 4, dt=F32) * 10 + 100])

    # var: (tag, dims, correction, keepdim, shape)
    vars_ = [
        ("all", None, 1, False, (3, 4)),
        ("ax1", [1], 1, False, (3, 4)),
        ("ax0_c0_keep", [0], 0, True, (3, 4)),
        ("ax02_c1", [0, 2], 1, False, (2, 3, 4)),
        ("axneg1_c2", [-1], 2, False, (2, 3, 5)),
        ("ax_neg2_keep", [-2], 1, True, (2, 3, 4)),
    ]
    for tag, dims, c, keep, shape in vars_:
        for dt in (F64, F32):
            if dt == F32 and tag not in ("all", "ax02_c1", "ax0_c0_keep"):
                continue
            case("var_%s_%s" % (tag, sfx(dt)),
                 lambda x, d=dims, c=c, k=keep: torch.var(x, dim=d if d else all_dims(x),
                                                          correction=c, keepdim=k),
                 [randn(*shape, dt=dt)])
    case("var_t_ax1_f64", lambda x: torch.var(x.t(), dim=1), [randn(4, 3)])
    # N - correction == 0: 0/0 forward, NaN gradient, as PyTorch
    case("var_n1_f64", lambda x: torch.var(x, dim=1), [randn(3, 1)])
    case("var_n1_c0_f64", lambda x: torch.var(x, dim=1, correction=0), [randn(3, 1)])

    case("sum_to_f64", lambda x: x.sum_to_size(3, 1), [randn(2, 3, 4)])
    case("sum_to_lead_f64", lambda x: x.sum_to_size(3), [randn(2, 3)])
    case("sum_to_same_f64", lambda x: x.sum_to_size(2, 3), [randn(2, 3)])
    case("sum_to_0d_f64", lambda x: x.sum_to_size(()), [randn(2, 3)])
    case("sum_to_mid_f32", lambda x: x.sum_to_size(2, 1, 4), [randn(2, 3, 4, dt=F32)])
    case("sum_to_t_f64", lambda x: x.t().sum_to_size(1, 4), [randn(4, 3)])


# ---- softmax.c ----

def softmax():
    begin("softmax")
    for name, f in (("softmax", torch.softmax), ("log_softmax", torch.log_softmax)):
        for dt in (F64, F32):
            case("%s_ax1_%s" % (name, sfx(dt)), lambda x, f=f: f(x, 1), [randn(3, 5, dt=dt)])
            case("%s_axneg1_3d_%s" % (name, sfx(dt)), lambda x, f=f: f(x, -1),
                 [randn(2, 3, 4, dt=dt)])
        case("%s_ax0_f64" % name, lambda x, f=f: f(x, 0), [randn(3, 5)])
        case("%s_ax1_3d_f64" % name, lambda x, f=f: f(x, 1), [randn(2, 3, 4)])
        case("%s_large_f64" % name, lambda x, f=f: f(x, 1), [randn(3, 4) * 10 + 1000])
        case("%s_large_f32" % name, lambda x, f=f: f(x, 1), [randn(3, 4, dt=F32) * 10 + 100])
        case("%s_t_f64" % name, lambda x, f=f: f(x.t(), 1), [randn(4, 3)])
        case("%s_size1_f64" % name, lambda x, f=f: f(x, 1), [randn(3, 1)])
        case("%s_1d_f64" % name, lambda x, f=f: f(x, 0), [randn(6)])
        case("%s_zero_f64" % name, lambda x, f=f: f(x, 1), [randn(0, 4)])


# ---- matmul.c ----

def matmul():
    begin("matmul")
    mm = torch.matmul
    for dt in (F64, F32):
        s = sfx(dt)
        case("matmul_2d_" + s, mm, [randn(3, 4, dt=dt), randn(4, 5, dt=dt)])
        case("matmul_tab_" + s, lambda a, b: mm(a.t(), b.t()),
             [randn(4, 3, dt=dt), randn(5, 4, dt=dt)])
        case("matmul_batched_" + s, mm, [randn(2, 3, 4, dt=dt), randn(2, 4, 5, dt=dt)])
        case("matmul_vv_" + s, mm, [randn(4, dt=dt), randn(4, dt=dt)])
    case("matmul_ta_f64", lambda a, b: mm(a.t(), b), [randn(4, 3), randn(4, 5)])
    case("matmul_tb_f64", lambda a, b: mm(a, b.t()), [randn(3, 4), randn(5, 4)])
    case("matmul_bcast_f64", mm, [randn(2, 1, 3, 4), randn(3, 4, 2)])
    case("matmul_bcast_2d_rhs_f64", mm, [randn(2, 3, 4), randn(4, 5)])
    case("matmul_bcast_2d_lhs_f64", mm, [randn(3, 4), randn(2, 4, 5)])
    case("matmul_bcast_f32", mm, [randn(1, 3, 4, dt=F32), randn(2, 4, 2, dt=F32)])
    case("matmul_mv_f64", mm, [randn(3, 4), randn(4)])
    case("matmul_vm_f64", mm, [randn(4), randn(4, 5)])
    case("matmul_bv_f64", mm, [randn(2, 3, 4), randn(4)])
    case("matmul_vb_f64", mm, [randn(4), randn(2, 4, 5)])
    case("matmul_tv_f64", lambda a, b: mm(a.t(), b), [randn(4, 3), randn(4)])
    case("matmul_outer_f64", mm, [randn(3, 1), randn(1, 4)])
    case("matmul_k0_f64", mm, [randn(3, 0), randn(0, 2)])
    case("matmul_m0_f64", mm, [randn(0, 4), randn(4, 2)])
    case("matmul_same_f64", lambda a: mm(a, a), [randn(3, 3)])
    case("matmul_big_f64", mm, [randn(17, 33), randn(33, 9)])
    case("matmul_big_f32", mm, [randn(17, 33, dt=F32), randn(33, 9, dt=F32)])


# ---- shape.c ----

def shape():
    begin("shape")
    for dt in (F64, F32):
        s = sfx(dt)
        case("reshape_" + s, lambda x: x.reshape(6, 4), [randn(2, 3, 4, dt=dt)])
        case("permute_" + s, lambda x: x.permute(2, 0, 1), [randn(2, 3, 4, dt=dt)])
        case("slice_step2_" + s, lambda x: sl(x, 1, 0, 5, 2), [randn(3, 5, dt=dt)])
        case("expand_" + s, lambda x: x.expand(3, 4), [randn(3, 1, dt=dt)])
        case("flatten_" + s, lambda x: torch.flatten(x, 0, 1), [randn(2, 3, 4, dt=dt)])
        case("slice_scatter_" + s,
             lambda x: torch.slice_scatter(torch.zeros(2, 5, dtype=x.dtype), x, 1, 1, 5, 2),
             [randn(2, 2, dt=dt)])
    case("reshape_infer_f64", lambda x: x.reshape(-1, 2), [randn(3, 4)])
    case("reshape_t_f64", lambda x: x.t().reshape(2, 6), [randn(4, 3)])
    case("reshape_to_0d_f64", lambda x: x.reshape(()), [randn(1, 1)])
    case("reshape_from_0d_f64", lambda x: x.reshape(1, 1, 1), [randn()])
    case("reshape_zero_f64", lambda x: x.reshape(3, 0), [randn(0, 3)])
    case("permute_3d_t_f64", lambda x: x.transpose(0, 2).permute(1, 2, 0), [randn(2, 3, 4)])
    case("transpose_f64", lambda x: x.transpose(0, 2), [randn(2, 3, 4)])
    case("transpose_neg_f64", lambda x: x.transpose(-1, -2), [randn(2, 3, 4)])
    case("slice_f64", lambda x: sl(x, 1, 1, 4, 1), [randn(3, 5)])
    case("slice_neg_f64", lambda x: sl(x, 0, -3, -1, 1), [randn(5, 2)])
    case("slice_clamp_f64", lambda x: sl(x, 1, -100, 100, 3), [randn(2, 7)])
    case("slice_empty_f64", lambda x: sl(x, 1, 3, 1, 1), [randn(2, 5)])
    case("slice_axneg_f64", lambda x: sl(x, -1, 1, 4, 2), [randn(2, 3, 4)])
    case("slice_t_f64", lambda x: sl(x.t(), 0, 1, 3, 1), [randn(3, 4)])
    case("slice_twice_f64", lambda x: sl(sl(x, 0, 1, 5, 2), 0, 1, 2, 1), [randn(6, 2)])
    case("expand_new_dims_f64", lambda x: x.expand(2, 3, 4), [randn(3, 1)])
    case("expand_keep_f64", lambda x: x.expand(-1, 4), [randn(3, 1)])
    case("expand_0d_f64", lambda x: x.expand(2, 3), [randn()])
    case("expand_t_f64", lambda x: x.t().expand(2, 3, 4), [randn(4, 1)])
    case("slice_scatter_neg_f64",
         lambda x: torch.slice_scatter(torch.zeros(5, 3, dtype=x.dtype), x, 0, -3, -1, 1),
         [randn(2, 3)])
    case("slice_scatter_3d_f64",
         lambda x: torch.slice_scatter(torch.zeros(2, 3, 7, dtype=x.dtype), x, -1, 1, 7, 3),
         [randn(2, 3, 2)])
    case("slice_scatter_t_f64",
         lambda x: torch.slice_scatter(torch.zeros(2, 5, dtype=x.dtype), x.t(), 1, 0, 3, 1),
         [randn(3, 2)])
    case("unsqueeze_0_f64", lambda x: x.unsqueeze(0), [randn(2, 3)])
    case("unsqueeze_1_f64", lambda x: x.unsqueeze(1), [randn(2, 3)])
    case("unsqueeze_neg1_f32", lambda x: x.unsqueeze(-1), [randn(2, 3, dt=F32)])
    case("unsqueeze_0d_f64", lambda x: x.unsqueeze(0), [randn()])
    case("squeeze_1_f64", lambda x: x.squeeze(1), [randn(3, 1, 4)])
    case("squeeze_neg1_f64", lambda x: x.squeeze(-1), [randn(3, 1)])
    case("squeeze_to_0d_f32", lambda x: x.squeeze(0), [randn(1, dt=F32)])
    case("flatten_all_f64", lambda x: torch.flatten(x, 0, -1), [randn(2, 3, 4)])
    case("flatten_tail_f64", lambda x: torch.flatten(x, 1, 2), [randn(2, 3, 4)])
    case("flatten_t_f64", lambda x: torch.flatten(x.t(), 0, 1), [randn(3, 4)])


# ---- index.c ----

def index():
    begin("index")
    for dt in (F64, F32):
        s = sfx(dt)
        case("concat_ax0_" + s, lambda a, b, c: torch.cat([a, b, c], 0),
             [randn(2, 3, dt=dt), randn(1, 3, dt=dt), randn(3, 3, dt=dt)])
        case("stack_ax0_" + s, lambda a, b, c: torch.stack([a, b, c], 0),
             [randn(2, 3, dt=dt), randn(2, 3, dt=dt), randn(2, 3, dt=dt)])
        case("index_select_ax0_" + s, lambda x, i: torch.index_select(x, 0, i),
             [randn(3, 4, dt=dt), idx(2, 0, 2, 1)])
        case("gather_ax1_" + s, lambda x, i: torch.gather(x, 1, i),
             [randn(3, 4, dt=dt), torch.randint(0, 4, (3, 5))])
        case("index_add_ax0_" + s, lambda x, i, src: torch.index_add(x, 0, i, src),
             [randn(5, 3, dt=dt), idx(0, 2, 0), randn(3, 3, dt=dt)])
        case("scatter_add_ax0_" + s, lambda x, i, src: torch.scatter_add(x, 0, i, src),
             [randn(4, 3, dt=dt), torch.randint(0, 4, (2, 3)), randn(2, 3, dt=dt)])
    case("concat_ax1_f64", lambda a, b: torch.cat([a, b], 1), [randn(2, 3), randn(2, 1)])
    case("concat_neg_f64", lambda a, b: torch.cat([a, b], -1), [randn(2, 3, 2), randn(2, 3, 3)])
    case("concat_empty_f64", lambda a, b, c: torch.cat([a, b, c], 0),
         [randn(2, 3), randn(0, 3), randn(1, 3)])
    case("concat_single_f64", lambda a: torch.cat([a], 0), [randn(2, 3)])
    case("concat_t_f64", lambda a, b: torch.cat([a.t(), b], 0), [randn(3, 2), randn(1, 3)])
    case("concat_same_f64", lambda a: torch.cat([a, a], 1), [randn(2, 2)])
    case("concat_many_f64", lambda a, b, c, d, e, f: torch.cat([a, b, c, d, e, f], 0),
         [randn(1, 2) for _ in range(6)])
    case("stack_ax1_f64", lambda a, b: torch.stack([a, b], 1), [randn(2, 3), randn(2, 3)])
    case("stack_last_f64", lambda a, b: torch.stack([a, b], 2), [randn(2, 3), randn(2, 3)])
    case("stack_neg_f64", lambda a, b: torch.stack([a, b], -1), [randn(3), randn(3)])
    case("stack_0d_f64", lambda a, b, c: torch.stack([a, b, c], 0), [randn(), randn(), randn()])
    case("index_select_ax1_f64", lambda x, i: torch.index_select(x, 1, i),
         [randn(2, 4), idx(3, 3, 0)])
    case("index_select_neg_f64", lambda x, i: torch.index_select(x, -1, i),
         [randn(2, 3, 4), idx(1, 2)])
    case("index_select_empty_f64", lambda x, i: torch.index_select(x, 0, i),
         [randn(3, 2), torch.zeros(0, dtype=I64)])
    case("index_select_t_f64", lambda x, i: torch.index_select(x.t(), 0, i),
         [randn(3, 4), idx(0, 3, 3)])
    case("gather_ax0_f64", lambda x, i: torch.gather(x, 0, i),
         [randn(4, 3), torch.randint(0, 4, (2, 3))])
    case("gather_small_f64", lambda x, i: torch.gather(x, 1, i),
         [randn(3, 4), torch.randint(0, 4, (2, 2))])
    case("gather_neg_f64", lambda x, i: torch.gather(x, -1, i),
         [randn(2, 3, 4), torch.randint(0, 4, (2, 3, 6))])
    case("gather_t_f64", lambda x, i: torch.gather(x.t(), 0, i),
         [randn(3, 4), torch.randint(0, 4, (5, 3))])
    case("index_add_ax1_f64", lambda x, i, src: torch.index_add(x, 1, i, src),
         [randn(2, 4), idx(3, 1, 3, 3, 0), randn(2, 5)])
    case("index_add_neg_f64", lambda x, i, src: torch.index_add(x, -1, i, src),
         [randn(2, 2, 3), idx(2, 2), randn(2, 2, 2)])
    case("index_add_t_f64", lambda x, i, src: torch.index_add(x.t(), 0, i, src),
         [randn(3, 4), idx(1, 1), randn(2, 3)])
    case("scatter_add_ax1_f64", lambda x, i, src: torch.scatter_add(x, 1, i, src),
         [randn(3, 4), torch.randint(0, 4, (3, 6)), randn(3, 6)])
    case("scatter_add_small_f64", lambda x, i, src: torch.scatter_add(x, 1, i, src),
         [randn(3, 5), torch.randint(0, 5, (2, 3)), randn(2, 3)])
    case("scatter_add_neg_f64", lambda x, i, src: torch.scatter_add(x, -1, i, src),
         [randn(2, 2, 3), torch.randint(0, 3, (2, 2, 4)), randn(2, 2, 4)])
    case("scatter_add_t_f64", lambda x, i, src: torch.scatter_add(x.t(), 0, i, src),
         [randn(3, 4), torch.randint(0, 4, (4, 3)), randn(4, 3)])


def main():
    elementwise()
    reduce()
    softmax()
    matmul()
    shape()
    index()
    assert list(_writer.files) == FAMILIES
    total = _writer.write(HERE)
    print("%d cases, %d bytes in %d files" % (len(_writer.names), total, len(FAMILIES)))


if __name__ == "__main__":
    main()
