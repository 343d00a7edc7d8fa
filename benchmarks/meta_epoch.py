"""Seconds per MNIST meta-epoch of the learned optimizer: 100 steps, unroll 20, minibatch 128.

One meta-epoch of :func:`l2l.meta_train` on the paper's 784-20-10 sigmoid MLP (15,910
coordinates, each with its own two-layer LSTM state): 100 optimizee steps cut into five unrolls
of 20, a backward pass and an Adam step on φ after each (≈ 50 GFLOP, mostly the LSTM's matrix
products). Two implementations:

- ``l2l``: the package as shipped: the LSTM cell as one autograd function (a matrix product
  and one ``torch.compile``-d pointwise kernel each way), the MLP's gradient in closed form;
- ``reference``: the straightforward version: ``nn.LSTMCell`` with a row per coordinate, and
  autograd through the MLP.

Rounds alternate between the two so that load from other processes hits both alike; the
medians of wall-clock and process CPU seconds are printed, and their ratio.

Measured on the project's machine (2-core AMD EPYC VM, AVX2, torch 2.13 CPU, quiet; medians of
3 rounds; timings there drift by ±15 % within a day and more between days): with 2 threads, l2l
2.29–2.39 s per meta-epoch against 2.77–2.85 s for the reference (1.2×); with 1 thread, 3.10–3.49 s
against 4.56–4.92 s (1.4–1.5×). On a slower day (2026-11-28) the same code took 2.6 s with 2
threads. The second thread buys only 1.4×. The profile (``torch.profiler``, one
thread) splits a meta-epoch into the matrix products (≈ 1.6 s: 47 GFLOP at ≈ 29 GFLOP/s; the
products are thin, K = 22–80), the forward pointwise kernel (≈ 1.2 s: 3.2·10⁸ sigmoids, the
exponential costing ≈ 2–4 ns each here) and the backward one (≈ 0.6 s). That puts this
machine's floor near 1.2–1.5 s with two threads, and the 1.5 s target out of reach for this
architecture in float32.

Tried and dropped, timed on the kernel or product alone and per meta-epoch: compiling with only the
row count dynamic (no consistent gain per meta-epoch over ``dynamic=True``); a rational
approximation of tanh in place of the exponential (the compiled kernel got about 2× slower);
``max-autotune`` for the product plus its pointwise epilogue (Inductor kept the MKL product, and
the whole was slower); and keeping freed memory in the process (``mallopt``: no change per
meta-epoch). On this VM kernel timings swing by ±30 % from run to run, so only differences larger
than that were acted on.

    python benchmarks/meta_epoch.py                 # CPU, and CUDA when present
    python benchmarks/meta_epoch.py --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import l2l.learned_optimizer as lo
from l2l.data.mnist import mnist_splits
from l2l.tasks.problems import MLPProblem, Problem, mlp_family


class _AutogradMLP(MLPProblem):
    """The same MLP with the base class's autograd gradient."""

    loss_and_grad = Problem.loss_and_grad


class _ReferenceLSTM(lo.LSTMOptimizer):
    """The same network written plainly: a row per coordinate, ``nn.LSTMCell`` and autograd."""

    def init_state(self, theta):
        zeros = theta.new_zeros(theta.numel(), self.hidden_size)
        return tuple((zeros, zeros) for _ in self.cells)

    def step(self, grad, state):
        x = lo.preprocess_gradients(grad.reshape(-1), self.p)
        new_state = []
        for cell, hc in zip(self.cells, state):
            new_state.append(cell(x, hc))
            x = new_state[-1][0]
        return self.output_scale * self.head(x).reshape(grad.shape), tuple(new_state)


def one_epoch(net, sample, device) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one meta-epoch."""
    if device.type == "cuda":
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter(), time.process_time()
    lo.meta_train(net, sample, 1, outer=lo.OuterOptimizer(lr=3e-3, clip_grad_norm=1.0), progress=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - wall, time.process_time() - cpu


def bench(device: torch.device, rounds: int) -> None:
    images, labels = mnist_splits(device=device)["train"]
    runs = {
        "l2l": (lo.LSTMOptimizer(output_scale=0.1).to(device), mlp_family(images, labels)),
        "reference": (_ReferenceLSTM(output_scale=0.1).to(device), _autograd_family(images, labels)),
    }
    times = {name: [] for name in runs}
    for net, sample in runs.values():  # warm-up (and compilation)
        one_epoch(net, sample, device)
    for _ in range(rounds):
        for name, (net, sample) in runs.items():
            times[name].append(one_epoch(net, sample, device))
    print(f"{device.type}, {torch.get_num_threads()} threads, median of {rounds} rounds:")
    medians = {n: [statistics.median(t[i] for t in times[n]) for i in (0, 1)] for n in times}
    for name, (wall, cpu) in medians.items():
        print(f"  {name:9s}  {wall:6.2f} s per meta-epoch (wall)   {cpu:6.2f} s (process CPU)")
    speedup = medians["reference"][0] / medians["l2l"][0]
    print(f"  speed-up of l2l over the reference: {speedup:.2f}x (wall)")


def _autograd_family(images, labels):
    def sample(generator):
        return _AutogradMLP(images, labels, generator=generator)

    return sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per implementation")
    args = parser.parse_args()
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for device in devices:
        bench(device, args.rounds)


if __name__ == "__main__":
    main()
