"""`bimt.torch.to_module` computes what `Run.predict` computes, for every kind of layer."""

import numpy as np
import pytest

import bimt
from conftest import DENSE, ROOT

torch = pytest.importorskip("torch", reason="PyTorch is not installed")
import bimt.torch  # noqa: E402

ARCHITECTURES = ROOT / "examples" / "architectures"


def assert_module_matches(run, x):
    module = bimt.torch.to_module(run)
    with torch.no_grad():
        got = module(torch.as_tensor(x)).double().numpy()
    want = run.predict(x)
    assert got.shape == want.shape
    assert np.abs(got - want).max() < 1e-5, np.abs(got - want).max()
    # The parameters carry the names of Run.weights and the safetensors file.
    names = {name for name, _ in module.named_parameters()}
    assert names == set(run.weights())


def test_a_dense_network(tmp_path, regression_data):
    x, y = regression_data
    run = bimt.train(DENSE, x, y, out=tmp_path / "run", steps=200, quiet=True)
    assert_module_matches(run, x)


def test_a_residual_cnn_with_average_and_max_pools(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 1, size=(40, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, size=40)
    for arch in [ROOT / "examples" / "mnist_cnn" / "small_cnn.json",
                 ARCHITECTURES / "mnist_cnn.json"]:
        run = bimt.train(arch, images, labels, loss="cross-entropy", steps=5, batch=10,
                         out=tmp_path / arch.stem, quiet=True)
        assert_module_matches(run, images[:8])


def test_a_transformer(tmp_path):
    run = bimt.run("graph", arch=ARCHITECTURES / "in_context.json", task="in-context",
                   steps=30, out=tmp_path / "run", quiet=True)
    rng = np.random.default_rng(2)
    sequences = rng.uniform(-1, 1, size=(6, 3, 2)).astype(np.float32)
    assert_module_matches(run, sequences)


def test_token_embeddings(tmp_path):
    run = bimt.run("graph", arch=ARCHITECTURES / "modular_addition.json",
                   task="modular-addition", steps=30, out=tmp_path / "run", quiet=True)
    ids = np.array([[0, 1], [5, 58], [30, 30]])
    assert_module_matches(run, ids)


def test_the_module_loads_the_safetensors_file(tmp_path, regression_data):
    safetensors = pytest.importorskip("safetensors.torch", reason="safetensors not installed")
    x, y = regression_data
    run = bimt.train(DENSE, x, y, out=tmp_path / "run", steps=100, quiet=True)
    run.save_safetensors(tmp_path / "w.safetensors")
    module = bimt.torch.to_module(run)
    with torch.no_grad():
        for p in module.parameters():
            p.zero_()
    module.load_state_dict(safetensors.load_file(tmp_path / "w.safetensors"))
    with torch.no_grad():
        got = module(torch.as_tensor(x)).double().numpy()
    assert np.abs(got - run.predict(x)).max() < 1e-5


@pytest.mark.parametrize("preset, x", [
    ("two-moons", np.random.default_rng(3).normal(size=(7, 2))),
    ("modular-addition", np.array([[0, 1], [5, 58], [30, 30]])),
])
def test_the_presets_built_in_mlps(tmp_path, preset, x):
    run = bimt.run(preset, steps=20, out=tmp_path / preset, quiet=True)
    assert_module_matches(run, x)
