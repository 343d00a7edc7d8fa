"""Meta-iterations per second of MAML on sine regression: batched (l2l.maml) against a per-task loop.

The paper's setup: MLP 1-40-40-1 (ReLU), 25 tasks a batch, K = 10 support and 10 query points,
one second-order inner step with α = 0.01, Adam 1e-3. The reference is the clone-and-adapt loop of
common libraries (learn2learn's ``maml.clone()`` / ``learner.adapt(loss)`` style): for each task,
copy the parameters, take the inner step with ``autograd.grad(create_graph=True)``, add the query
loss; then one backward pass and one Adam step.

The batched version is :func:`l2l.maml.train_maml`: all 25 tasks at once under ``vmap``, the whole
meta-iteration compiled with ``torch.compile``; it is also timed in eager mode, and with four runs
(MAML at α = 0.01 and 0.001, FOMAML, joint training) trained side by side in one step, as the sine
notebook does. Timings alternate between the implementations in rounds so that load from other
processes hits them alike; the ratio uses the median round.

    python benchmarks/maml_sine.py                 # CPU, and CUDA when present
    python benchmarks/maml_sine.py --seconds 10    # longer rounds
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn
from torch.func import functional_call

from l2l.maml import mse, train_maml
from l2l.tasks.regression import SineTasks


def paper_net() -> nn.Module:
    return nn.Sequential(nn.Linear(1, 40), nn.ReLU(), nn.Linear(40, 40), nn.ReLU(), nn.Linear(40, 1))


def loop_step(model, optimizer, batch, inner_lr):
    """One meta-iteration, one task at a time (the reference implementation)."""
    optimizer.zero_grad()
    params = dict(model.named_parameters())
    total = 0.0
    for i in range(len(batch)):
        clone = dict(params)  # the clone shares θ, so gradients flow back to it
        loss = mse(functional_call(model, clone, (batch.x_support[i],)), batch.y_support[i])
        grads = torch.autograd.grad(loss, list(clone.values()), create_graph=True)
        clone = {n: p - inner_lr * g for (n, p), g in zip(clone.items(), grads, strict=True)}
        total = total + mse(functional_call(model, clone, (batch.x_query[i],)), batch.y_query[i])
    (total / len(batch)).backward()
    optimizer.step()


def time_loop(device, seconds, tasks, generator):
    model = paper_net().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = [tasks.sample(25, 10, generator=generator, device=device) for _ in range(20)]
    loop_step(model, optimizer, batches[0], 0.01)  # warm-up
    done, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds or done < 3:
        loop_step(model, optimizer, batches[done % len(batches)], 0.01)
        done += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    return done / (time.perf_counter() - began)


def time_batched(device, seconds, tasks, generator, compile, runs=1, rate_hint=200.0):
    inner_lr = [0.01, 0.001, 0.01, 0.0][:runs]
    first_order = [False, False, True, False][:runs]
    iterations = max(20, int(seconds * rate_hint))
    result = train_maml(paper_net().to(device), tasks, iterations=iterations, inner_lr=inner_lr,
                        first_order=first_order, generator=generator, device=device,
                        compile=compile, progress=False)
    return result.iterations_per_second, result.compile_seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of one timed round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per implementation")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (1 is fastest for these small tensors)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tasks = SineTasks()
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for device in devices:
        print(f"\n== {device.type}: paper setup, 25 tasks x K=10, one second-order step, "
              f"{torch.get_num_threads()} thread(s), torch {torch.__version__}")
        gen = torch.Generator().manual_seed(0)
        rates = {"loop": [], "batched eager": [], "batched compiled": [], "4 runs compiled": []}
        compile_s = {}
        for _ in range(args.rounds):
            rates["loop"].append(time_loop(device, args.seconds, tasks, gen))
            eager, _ = time_batched(device, args.seconds, tasks, gen, False, rate_hint=80)
            rates["batched eager"].append(eager)
            rate, seconds = time_batched(device, args.seconds, tasks, gen, True, rate_hint=1500)
            rates["batched compiled"].append(rate)
            compile_s.setdefault("1 run", seconds)  # later rounds reuse the compiled step
            rate, seconds = time_batched(device, args.seconds, tasks, gen, True, runs=4,
                                         rate_hint=600)
            rates["4 runs compiled"].append(rate)
            compile_s.setdefault("4 runs", seconds)
        med = {name: statistics.median(r) for name, r in rates.items()}
        for name, rate in med.items():
            each = ", ".join(f"{r:.0f}" for r in rates[name])
            print(f"{name:>18}: {rate:8.1f} meta-iterations/s  (rounds: {each})")
        print(f"tracing and compiling (first round; Inductor's disk cache may hold it from an "
              f"earlier run): 1 run {compile_s['1 run']:.1f} s, 4 runs {compile_s['4 runs']:.1f} s")
        print(f"ratio batched compiled / loop: {med['batched compiled'] / med['loop']:.1f}x")
        print(f"ratio batched eager / loop:    {med['batched eager'] / med['loop']:.1f}x")
        print(f"4 runs in one step: {4 * med['4 runs compiled']:.0f} run-iterations/s "
              f"({4 * med['4 runs compiled'] / med['batched compiled']:.1f}x one run's)")


if __name__ == "__main__":
    main()
