"""Times the training step of the mnist-cnn network in PyTorch and in bimt, side by side.

The same network (conv 1->16 5x5 padding 2, SiLU, 2x2 max pool, conv 16->32 5x5 padding 2,
SiLU, 2x2 max pool, flatten, linear to 10), the same batch (100 images of 28x28), the same
loss (squared error against one-hot targets, averaged) plus the same connection cost
(lambda * sum |w| * distance, one distance per weight, here a fixed random tensor of the
weight's shape), AdamW with lr 1e-3, one thread each. PyTorch's step is forward, backward
and the optimizer step; bimt's (`bimt bench --cnn`) is the same, measured over 100 steps
after a warm-up, with swaps timed apart.

    python3 examples/mnist_cnn/compare_pytorch.py [path/to/bimt]

needs torch (pip install torch) and a release build of bimt (cargo build --release).
"""

import re
import subprocess
import sys
import time

import torch

STEPS, WARMUP, BATCH = 100, 20, 100
LAMBDA = 0.01


def pytorch_step_ms():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 5, padding=2),
        torch.nn.SiLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 5, padding=2),
        torch.nn.SiLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(32 * 7 * 7, 10),
    )
    weights = [p for p in net.parameters() if p.dim() > 1]
    distances = [torch.rand_like(w) for w in weights]
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    x = torch.rand(BATCH, 1, 28, 28)
    y = torch.nn.functional.one_hot(torch.randint(0, 10, (BATCH,)), 10).float()

    def step():
        optimizer.zero_grad()
        loss = ((net(x) - y) ** 2).mean()
        cost = sum((w.abs() * d).mean() for w, d in zip(weights, distances))
        (loss + LAMBDA * cost).backward()
        optimizer.step()

    for _ in range(WARMUP):
        step()
    started = time.perf_counter()
    for _ in range(STEPS):
        step()
    return (time.perf_counter() - started) / STEPS * 1e3


def bimt_step_ms(binary):
    out = subprocess.run(
        [binary, "bench", "--cnn", "--threads", "1"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    print(out.strip())
    return float(re.search(r"\(([0-9.]+) ms per step\)", out).group(1))


if __name__ == "__main__":
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/bimt"
    torch_ms = pytorch_step_ms()
    bimt_ms = bimt_step_ms(binary)
    print(f"PyTorch {torch.__version__}, 1 thread: {torch_ms:.1f} ms per step")
    print(f"bimt, 1 thread: {bimt_ms:.1f} ms per step ({bimt_ms / torch_ms:.2f}x PyTorch's time)")
