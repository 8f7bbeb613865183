#!/usr/bin/env python3
"""Writes running_means.npz: 2,000 sequences of 6 tokens, each token two numbers in [-1, 1];
the target at position t is the mean of each number over positions 0..t (two channels that
never mix). Also running_means.csv: the first 20 sequences as rows, for `bimt predict`.

    pip install numpy && python3 make_data.py
"""
import numpy as np

rng = np.random.default_rng(0)
x = rng.uniform(-1.0, 1.0, size=(2000, 6, 2)).astype(np.float32)
y = np.cumsum(x, axis=1) / np.arange(1, 7, dtype=np.float32)[None, :, None]
np.savez("running_means.npz", x=x, y=y.astype(np.float32))
with open("running_means.csv", "w") as f:
    f.write("x[0],x[1]\n")
    for row in x[:20].reshape(-1, 2):
        f.write(f"{float(row[0])!r},{float(row[1])!r}\n")
