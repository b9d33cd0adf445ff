#!/usr/bin/python3
"""The PyTorch side of cgrad-bench: the same cases, threads, models, batch sizes and
optimizer as tools/bench/cases.c, timed the same way (warm-up, calibrated runs).

cgrad-bench starts it with /usr/bin/python3 and drives it line by line, so that the runs
of the two libraries alternate and share whatever load the machine has:

    stdin                          stdout
    (start)                        torch status=ok version=... blas=... threads=N
    case NAME [quick]              ready NAME steps_per_run=K first_ms=X
    run                            run NAME ms=X          (per step, over K steps)
    end                            end NAME rss_base_kb=B
                                   rss NAME peak_kb=P     (the case's process, from wait4)
                                   done NAME
    exit / EOF

Each case runs in a forked child of a process that has imported torch and done nothing
else, so its peak resident memory (ru_maxrss) is that case's alone. Without torch the
first line is `torch status=missing reason=...` and the script exits.

By hand: bench_torch.py --run mlp128 [--quick] [--threads 2] prints the median per step.
"""
import os
import statistics
import sys
import time

THREADS = 2
WARM_S, RUN_S, RUNS = 0.3, 0.15, 9
QUICK_WARM_S, QUICK_RUN_S, QUICK_RUNS = 0.0, 0.02, 3


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def read_command():
    """The next command line from stdin, read without buffering (a forked case process
    and its parent read the same pipe in turn, so neither may read ahead); [] at EOF."""
    buf = b""
    while True:
        c = os.read(0, 1)
        if not c:
            return None if not buf else buf.decode().split()
        if c == b"\n":
            return buf.decode().split()
        buf += c


def vmrss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def loaded_blas():
    """The BLAS library torch's process has mapped (Debian: libblas.so.3 through the
    alternatives system, OpenBLAS with libopenblas0-openmp installed)."""
    found = []
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            base = os.path.basename(path)
            if ("blas" in base or "blis" in base) and path not in found:
                found.append(path)
    return ",".join(os.path.realpath(p) for p in found) or "none"


# ---------------------------------------------------------------- the cases

def mlp_case(torch, sizes, batch, nbatches=4):
    nn = torch.nn
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xs = [torch.randn(batch, sizes[0]) for _ in range(nbatches)]
    ys = [torch.randint(0, sizes[-1], (batch,)) for _ in range(nbatches)]
    F = torch.nn.functional
    state = {"i": 0}

    def step():
        i = state["i"] % nbatches
        state["i"] += 1
        opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(model(xs[i]), ys[i])
        loss.backward()
        opt.step()

    return step, {}


def train_mlp(torch):
    """cgrad-train's MLP (its defaults): 784-512-256-10, ReLU and Dropout(0.2) after each
    hidden layer."""
    nn = torch.nn
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(512, 256), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(256, 10))


def cnn_model(torch):
    """cgrad-train's CNN (tools/train/model.c, its defaults)."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))


def cnn_case(torch, batch=128, nbatches=2):
    model = cnn_model(torch)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xs = [torch.randn(batch, 1, 28, 28) for _ in range(nbatches)]
    ys = [torch.randint(0, 10, (batch,)) for _ in range(nbatches)]
    F = torch.nn.functional
    state = {"i": 0}

    def step():
        i = state["i"] % nbatches
        state["i"] += 1
        opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(model(xs[i]), ys[i])
        loss.backward()
        opt.step()

    return step, {}


def opchain_case(torch, n=16, reps=20):
    """100 elementwise ops on 16 elements (mul, add, tanh, scale, exp; 20 times), then
    sum and backward: the per-op cost of the framework."""
    x = torch.randn(n, requires_grad=True)
    w = torch.randn(n, requires_grad=True)
    b = torch.randn(n, requires_grad=True)
    leaves = (x, w, b)

    def step():
        for t in leaves:
            t.grad = None
        h = x
        for _ in range(reps):
            h = h * w
            h = h + b
            h = torch.tanh(h)
            h = h * 1.5
            h = torch.exp(h)
        h.sum().backward()

    return step, {"ops": 5 * reps}


WIDE = (784, 2048, 2048, 10)
WIDE_BATCH = 256


def wide_products():
    """The matrix products of one training step of the wide MLP, as cg_linear and its
    backward compute them: (m, n, k, kind) with kind fwd (X W^T), dx (G W), dw (X^T G)."""
    prods = []
    for i in range(len(WIDE) - 1):
        fin, fout = WIDE[i], WIDE[i + 1]
        prods.append((WIDE_BATCH, fout, fin, "fwd"))
        prods.append((fin, fout, WIDE_BATCH, "dw"))
        if i > 0:
            prods.append((WIDE_BATCH, fin, fout, "dx"))
    return prods


def wide_flops():
    return sum(2.0 * m * n * k for (m, n, k, _) in wide_products())


def gemm_case(torch):
    """torch.mm (the system BLAS) on the products of a wide256 step, same layouts."""
    ops = []
    for (m, n, k, kind) in wide_products():
        if kind == "fwd":      # X [m, k] @ W^T, W [n, k]
            a, b = torch.randn(m, k), torch.randn(n, k).t()
        elif kind == "dx":     # G [m, k] @ W, W [k, n]
            a, b = torch.randn(m, k), torch.randn(k, n)
        else:                  # X^T @ G, X [k, m], G [k, n]
            a, b = torch.randn(k, m).t(), torch.randn(k, n)
        ops.append((a, b, torch.empty(m, n)))

    def step():
        for a, b, c in ops:
            torch.mm(a, b, out=c)

    return step, {"flops": wide_flops()}


def wide_case(torch):
    step, info = mlp_case(torch, WIDE, WIDE_BATCH, nbatches=2)
    info["flops"] = wide_flops()
    return step, info


EPOCH_N = 60000
EPOCH_QUICK_N = 6000


def epoch_case(torch, quick):
    """One epoch of cgrad-train's MLP as cgrad-train runs it (tools/bench/cases.c's epoch):
    60000 images [N, 1, 28, 28] held as bytes, a fresh shuffle, each batch of 128 scaled by
    1/255 and standardized with the set's global mean and std as it is gathered, the last
    partial batch dropped; Flatten, 784-512-256-10 with ReLU and Dropout(0.2), Adam.

    PyTorch holds the data as it would for this work: a uint8 tensor, as torchvision's
    MNIST keeps it, each shuffled batch gathered (index_select), converted with .float()
    and mapped by the same affine x * (1/255/std) - mean/std, in place: the work cgrad's
    batch iterator does as it copies a batch out. Holding float32 instead would add 188 MB
    to torch's peak, and a DataLoader with per-sample transforms would only add work. The
    statistics are computed in chunks so that no float copy of the whole set is made."""
    n = EPOCH_QUICK_N if quick else EPOCH_N
    gen = torch.Generator().manual_seed(1)
    data = torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=gen)
    labels = torch.randint(0, 10, (n,), generator=gen)
    total, total_sq = 0.0, 0.0
    for chunk in data.split(1000):
        x = chunk.double().div_(255.0)
        total += x.sum().item()
        total_sq += x.square().sum().item()
    count = float(data.numel())
    mean = total / count
    std = max(total_sq / count - mean * mean, 0.0) ** 0.5
    scale, shift = 1.0 / 255.0 / std, mean / std
    model = torch.nn.Sequential(torch.nn.Flatten(), *train_mlp(torch))
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    F = torch.nn.functional
    batch = 128

    def step():
        perm = torch.randperm(n, generator=gen)
        for s in range(0, n - batch + 1, batch):
            idx = perm[s:s + batch]
            x = data.index_select(0, idx).float().mul_(scale).sub_(shift)
            opt.zero_grad(set_to_none=False)
            loss = F.cross_entropy(model(x), labels.index_select(0, idx))
            loss.backward()
            opt.step()

    return step, {"single_run": True}


def make_case(torch, name, quick):
    if name == "mlp128":
        return mlp_case(torch, (784, 256, 128, 10), 128)
    if name == "mlp32":
        return mlp_case(torch, (784, 256, 128, 10), 32)
    if name == "wide256":
        return wide_case(torch)
    if name == "cnn128":
        return cnn_case(torch)
    if name == "opchain":
        return opchain_case(torch)
    if name == "gemm":
        return gemm_case(torch)
    if name == "epoch":
        return epoch_case(torch, quick)
    raise KeyError(name)


# ---------------------------------------------------------------- timing

class Timer:
    """The harness of tools/bench/harness.c: a timed first step, warm-up, then runs of
    steps_per_run steps each, sized to last about RUN_S."""

    def __init__(self, step, info, quick):
        self.step = step
        self.single = info.get("single_run", False)
        warm_s = QUICK_WARM_S if quick else WARM_S
        run_s = QUICK_RUN_S if quick else RUN_S
        t0 = time.perf_counter()
        step()
        self.first_ms = (time.perf_counter() - t0) * 1e3
        if self.single:
            self.steps_per_run = 1
            return
        # Warm-up: at least two steps (one in quick mode) and warm_s seconds.
        nwarm, t0 = 0, time.perf_counter()
        while True:
            step()
            nwarm += 1
            el = time.perf_counter() - t0
            if nwarm >= (1 if quick else 2) and el >= warm_s:
                break
        per = el / nwarm
        self.steps_per_run = max(1, int(round(run_s / per))) if per > 0 else 1

    def run(self):
        k = self.steps_per_run
        t0 = time.perf_counter()
        for _ in range(k):
            self.step()
        return (time.perf_counter() - t0) * 1e3 / k


def setup(name, threads, quick):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    step, info = make_case(torch, name, quick)
    return Timer(step, info, quick), info


def serve_case(name, threads, quick):
    """In the forked child: set up, warm up, then answer run/end commands."""
    base = vmrss_kb()
    try:
        timer, info = setup(name, threads, quick)
    except Exception as e:  # report and stop this case only
        say("error %s %s" % (name, repr(e).replace("\n", " ")))
        os._exit(1)
    say("ready %s steps_per_run=%d first_ms=%.4f" % (name, timer.steps_per_run, timer.first_ms))
    while True:
        cmd = read_command()
        if cmd is None or (cmd and cmd[0] == "end"):
            break
        if not cmd:
            continue
        if cmd[0] == "run":
            # The first run of a single-run case is the first step itself.
            if timer.single and not getattr(timer, "used_first", False):
                timer.used_first = True
                ms = timer.first_ms
            else:
                try:
                    ms = timer.run()
                except Exception as e:
                    say("error %s %s" % (name, repr(e).replace("\n", " ")))
                    os._exit(1)
            say("run %s ms=%.6f" % (name, ms))
    say("end %s rss_base_kb=%d" % (name, base))
    os._exit(0)


def serve(threads):
    try:
        import torch
    except Exception as e:
        say("torch status=missing reason=%s" % repr(e).replace(" ", "_"))
        return 0
    mkldnn = int(torch.backends.mkldnn.is_available())
    say("torch status=ok version=%s blas=%s onednn=%d threads=%d" %
        (torch.__version__, loaded_blas(), mkldnn, threads))
    while True:
        cmd = read_command()
        if cmd is None or (cmd and cmd[0] == "exit"):
            break
        if not cmd:
            continue
        if cmd[0] != "case" or len(cmd) < 2:
            say("error bad-command %s" % " ".join(cmd))
            continue
        name, quick = cmd[1], "quick" in cmd[2:]
        pid = os.fork()
        if pid == 0:
            serve_case(name, threads, quick)
        _, status, ru = os.wait4(pid, 0)
        say("rss %s peak_kb=%d status=%d" % (name, ru.ru_maxrss, status))
        say("done %s" % name)
    return 0


def by_hand(name, threads, quick):
    timer, _ = setup(name, threads, quick)
    runs = 1 if timer.single else (QUICK_RUNS if quick else RUNS)
    times = [timer.first_ms] if timer.single else [timer.run() for _ in range(runs)]
    import resource
    print("case=%s torch_ms=%.4f runs=%d steps_per_run=%d peak_rss_mb=%.1f" %
          (name, statistics.median(times), len(times), timer.steps_per_run,
           resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0))
    return 0


def main(argv):
    threads, quick, run = THREADS, False, None
    i = 1
    while i < len(argv):
        a = argv[i]
        if a == "--threads" and i + 1 < len(argv):
            threads = int(argv[i + 1])
            i += 1
        elif a == "--quick":
            quick = True
        elif a == "--run" and i + 1 < len(argv):
            run = argv[i + 1]
            i += 1
        else:
            sys.stderr.write("usage: bench_torch.py [--threads N] [--quick] [--run CASE]\n")
            return 2
        i += 1
    if run:
        return by_hand(run, threads, quick)
    return serve(threads)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
