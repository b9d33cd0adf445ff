#!/usr/bin/python3
"""Golden values for libcgrad's convolution, pooling and linear (lib/nn/conv.c), computed by
torch.nn.functional (Debian's python3-torch).

Run from anywhere with Debian's interpreter:
    /usr/bin/python3 tests/golden/make_golden_conv.py
It rewrites tests/golden/conv.txt, read by tests/test_golden_conv.c (format in
golden_writer.py). The output is deterministic; commit the file.

Every case exists in f64 and f32 (NAME_f64, NAME_f32). Options are written
kernel/stride/padding/dilation/groups; the C builders use the same numbers.
  conv_*      F.conv2d with each option alone, groups (2 and depthwise), 1x1, everything
              non-square at once, a transposed (strided) input view, with and without bias
  max_*       F.max_pool2d with padding and dilation; "_relu" inputs went through relu
              (many exact zeros) and "_ints" inputs are small integers: windows tie, and
              PyTorch sends the gradient to the first maximum in scan order
  avg_*       F.avg_pool2d (count_include_pad=True, ceil_mode=False) with padding
  gap         global average pooling, x.mean((2, 3))
  linear_*    F.linear with 1-d, 2-d and 3-d inputs, with and without bias
"""
import os

import torch
import torch.nn.functional as F
from golden_writer import F32, F64, GoldenWriter, ints, randn, sfx

SEED = 20240811

# name: (x shape, weight shape, bias, dict of F.conv2d options)
CONV = [
    ("conv_3x3", (2, 2, 5, 5), (3, 2, 3, 3), True, {}),
    ("conv_s2_p1", (2, 2, 7, 6), (3, 2, 3, 3), True, dict(stride=2, padding=1)),
    ("conv_d2_p2", (1, 2, 8, 7), (3, 2, 3, 3), False, dict(padding=2, dilation=2)),
    ("conv_g2", (2, 4, 5, 5), (6, 2, 3, 3), True, dict(padding=1, groups=2)),
    ("conv_depthwise", (2, 3, 5, 5), (3, 1, 3, 3), True, dict(padding=1, groups=3)),
    ("conv_1x1", (2, 3, 5, 3), (2, 3, 1, 1), True, {}),
    ("conv_all", (1, 4, 9, 7), (4, 2, 2, 3), True,
     dict(stride=(2, 1), padding=(1, 2), dilation=(2, 1), groups=2)),
]

# name: (x maker, dict of pooling options)
MAX = [
    ("max_2x2", dict(kernel_size=2)),
    ("max_3x3_s2_p1", dict(kernel_size=3, stride=2, padding=1)),
    ("max_2x2_s1_p1_d2", dict(kernel_size=2, stride=1, padding=1, dilation=2)),
    ("max_2x3_s12_p1", dict(kernel_size=(2, 3), stride=(1, 2), padding=1)),
]
TIES = [
    ("max_3x3_s1_p1_relu", dict(kernel_size=3, stride=1, padding=1)),
    ("max_2x2_relu", dict(kernel_size=2)),
    ("max_3x3_s2_p1_ints", dict(kernel_size=3, stride=2, padding=1)),
]
AVG = [
    ("avg_2x2", dict(kernel_size=2)),
    ("avg_3x3_s2_p1", dict(kernel_size=3, stride=2, padding=1)),
    ("avg_2x3_s12_p1", dict(kernel_size=(2, 3), stride=(1, 2), padding=1)),
]


def conv_cases(w, dt):
    for name, xs, ws, bias, opt in CONV:
        ins = [randn(*xs, dt=dt), randn(*ws, dt=dt)] + ([randn(ws[0], dt=dt)] if bias else [])
        w.case("%s_%s" % (name, sfx(dt)), lambda *a, opt=opt: F.conv2d(*a, **opt), ins)
    # a transposed view of the stored input [1, 3, 7, 6]
    w.case("conv_t_" + sfx(dt), lambda x, k: F.conv2d(x.transpose(2, 3), k, padding=1),
           [randn(1, 3, 7, 6, dt=dt), randn(2, 3, 3, 3, dt=dt)])


def pool_cases(w, dt):
    for name, opt in MAX:
        w.case("%s_%s" % (name, sfx(dt)), lambda x, opt=opt: F.max_pool2d(x, **opt),
               [randn(1, 2, 7, 6, dt=dt)])
    for name, opt in TIES:
        x = ints(0, 3, 2, 1, 6, 6, dt=dt) if name.endswith("ints") else F.relu(
            randn(2, 1, 6, 6, dt=dt) - 0.5)
        w.case("%s_%s" % (name, sfx(dt)), lambda x, opt=opt: F.max_pool2d(x, **opt), [x])
    w.case("max_t_" + sfx(dt), lambda x: F.max_pool2d(x.transpose(2, 3), 2),
           [randn(1, 2, 5, 6, dt=dt)])
    for name, opt in AVG:
        w.case("%s_%s" % (name, sfx(dt)), lambda x, opt=opt: F.avg_pool2d(x, **opt),
               [randn(1, 2, 7, 6, dt=dt)])
    w.case("gap_" + sfx(dt), lambda x: x.mean((2, 3)), [randn(2, 2, 4, 5, dt=dt)])


def linear_cases(w, dt):
    w.case("linear_" + sfx(dt), F.linear, [randn(5, 4, dt=dt), randn(3, 4, dt=dt),
                                           randn(3, dt=dt)])
    w.case("linear_3d_" + sfx(dt), F.linear, [randn(2, 3, 4, dt=dt), randn(5, 4, dt=dt),
                                              randn(5, dt=dt)])
    w.case("linear_nobias_" + sfx(dt), F.linear, [randn(5, 4, dt=dt), randn(3, 4, dt=dt)])
    w.case("linear_1d_" + sfx(dt), F.linear, [randn(4, dt=dt), randn(3, 4, dt=dt),
                                              randn(3, dt=dt)])


def main():
    w = GoldenWriter("make_golden_conv.py")
    w.begin("conv", SEED)
    for dt in (F64, F32):
        conv_cases(w, dt)
        pool_cases(w, dt)
        linear_cases(w, dt)
    w.write(os.path.dirname(os.path.abspath(__file__)))


if __name__ == "__main__":
    main()
