"""Shared fixtures: the repository, the `bimt` command the Python package is compared with,
and small data sets."""

import os
import pathlib
import subprocess

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def bimt_command():
    """The `bimt` binary of this checkout ($BIMT_BIN, else target/release/bimt, which
    scripts/test builds before it runs these tests)."""
    path = pathlib.Path(os.environ.get("BIMT_BIN", ROOT / "target" / "release" / "bimt"))
    if not path.exists():
        pytest.fail(f"no bimt binary at {path}: run `cargo build --release -p bimt-cli` "
                    "or set BIMT_BIN")

    def run(*args):
        done = subprocess.run([str(path), *map(str, args)], capture_output=True, text=True)
        assert done.returncode == 0, f"bimt {' '.join(map(str, args))}: {done.stderr}"
        return done.stdout

    return run


@pytest.fixture()
def regression_data():
    """y = (x0 * x1, x2 + x3) on 120 float32 rows."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(120, 4)).astype(np.float32)
    y = np.stack([x[:, 0] * x[:, 1], x[:, 2] + x[:, 3]], axis=1).astype(np.float32)
    return x, y


#: A 4-8-8-2 network, as an architecture file declares it.
DENSE = {
    "layers": [
        {"name": "input", "size": 4, "role": "input"},
        {"name": "hidden1", "size": 8},
        {"name": "hidden2", "size": 8},
        {"name": "output", "size": 2, "role": "output"},
    ],
    "edges": [
        {"from": "input", "to": "hidden1"},
        {"from": "hidden1", "to": "hidden2"},
        {"from": "hidden2", "to": "output"},
    ],
}


def model_json(run_dir):
    return (pathlib.Path(run_dir) / "model.json").read_text()
