"""The Python package gives what the command gives: the same runs, models and predictions."""

import json
import struct

import numpy as np
import pytest

import bimt
from conftest import DENSE, ROOT, model_json


def test_run_writes_the_same_model_as_the_command(tmp_path, bimt_command):
    settings = {"steps": 400, "seed": 3, "lambda_": 0.01, "log_every": 100}
    run = bimt.run("two-moons", out=tmp_path / "py", quiet=True, **settings)
    bimt_command("run", "two-moons", "--steps", 400, "--seed", 3, "--lambda", 0.01,
                 "--log-every", 100, "--out", tmp_path / "cli", "--quiet")
    assert model_json(run.path) == model_json(tmp_path / "cli")
    assert run.metrics["steps"] == 400 and run.settings["seed"] == 3
    assert run.settings["lambda"] == json.loads(
        (tmp_path / "cli" / "run.json").read_text())["lambda"]
    for name in ["graph.svg", "curves.png", "view.html", "log.jsonl"]:
        assert (tmp_path / "py" / name).exists(), name


def test_predict_equals_the_command_on_a_graph_run(tmp_path, bimt_command, regression_data):
    x, y = regression_data
    run = bimt.train(DENSE, x, y, out=tmp_path / "run", steps=300, quiet=True)
    np.save(tmp_path / "rows.npy", x[:25])
    printed = bimt_command("predict", run.path, "--data", tmp_path / "rows.npy")
    lines = printed.strip().splitlines()
    assert lines[0] == "y[0],y[1]"
    expected = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    assert np.array_equal(run.predict(x[:25]), expected)


def test_training_on_arrays_equals_training_on_the_same_csv(tmp_path, regression_data):
    x, y = regression_data
    settings = {"steps": 300, "seed": 1, "log_every": 100}
    from_arrays = bimt.train(DENSE, x, y, out=tmp_path / "arrays", quiet=True, **settings)
    csv = tmp_path / "data.csv"
    header = [f"x[{j}]" for j in range(4)] + ["y[0]", "y[1]"]
    rows = [",".join(header)] + [
        ",".join(repr(float(v)) for v in (*xr, *yr)) for xr, yr in zip(x, y)
    ]
    csv.write_text("\n".join(rows) + "\n")
    arch = tmp_path / "dense.json"
    arch.write_text(json.dumps(DENSE))
    from_csv = bimt.run("graph", arch=arch, data=csv, targets=["y[0]", "y[1]"],
                        out=tmp_path / "csv", quiet=True, **settings)
    assert model_json(from_arrays.path) == model_json(from_csv.path)
    # The arrays stay with the run, which its run.json repeats.
    assert np.array_equal(np.load(tmp_path / "arrays" / "X.npy"), x)


def test_a_run_exposes_weights_cost_modules_and_knock_outs(tmp_path, regression_data):
    x, y = regression_data
    run = bimt.train(DENSE, x, y, out=tmp_path / "run", steps=300, quiet=True)
    weights = run.weights()
    assert weights["input->hidden1.weight"].shape == (8, 4)
    assert weights["hidden2->output.bias"].shape == (2,)
    assert run.cost() == pytest.approx(run.metrics["connection_cost"], rel=1e-6)
    assert isinstance(run.modules, list)
    # Knocking out every hidden2 neuron leaves only the output biases.
    silent = run.predict(x[:5], knock_out=[("hidden2", n) for n in range(8)])
    assert np.allclose(silent, weights["hidden2->output.bias"][None, :].astype(np.float64))
    assert not np.allclose(run.predict(x[:5]), silent)
    loaded = bimt.load(run.path)
    assert loaded.metrics == run.metrics
    assert "<svg" in loaded._repr_svg_()


def test_safetensors_hold_the_weights_as_the_command_writes_them(tmp_path, bimt_command,
                                                                 regression_data):
    x, y = regression_data
    run = bimt.train(DENSE, x, y, out=tmp_path / "run", steps=100, quiet=True)
    run.save_safetensors(tmp_path / "py.safetensors")
    bimt_command("export", run.path, "--safetensors", tmp_path / "cli.safetensors")
    data = (tmp_path / "py.safetensors").read_bytes()
    assert data == (tmp_path / "cli.safetensors").read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    body = data[8 + length:]
    weights = run.weights()
    assert set(header) - {"__metadata__"} == set(weights)
    for name, array in weights.items():
        start, end = header[name]["data_offsets"]
        assert header[name]["dtype"] == "F32" and header[name]["shape"] == list(array.shape)
        assert np.array_equal(np.frombuffer(body[start:end], dtype="<f4").reshape(array.shape),
                              array)
    connections = json.loads(header["__metadata__"]["connections"])
    assert connections[1] == {"name": "hidden1->hidden2", "kind": "linear", "from": "hidden1",
                              "to": "hidden2"}


def test_presets_are_listed():
    names = [name for name, _ in bimt.presets()]
    assert "symbolic-independence" in names and "mnist-cnn" in names


def test_the_architecture_files_of_the_examples_train(tmp_path):
    run = bimt.run("graph", arch=ROOT / "examples" / "architectures" / "two_moons.json",
                   task="two-moons", steps=50, out=tmp_path / "run", quiet=True)
    assert run.metrics["preset"] == "graph"
    assert run.predict(np.zeros((3, 2))).shape == (3, 2)


def test_a_run_resumes_from_its_checkpoint_as_the_command_does(tmp_path, bimt_command):
    first = bimt.run("two-moons", steps=200, checkpoint_every=100, out=tmp_path / "py",
                     quiet=True)
    assert first.metrics["steps"] == 200
    resumed = bimt.run("two-moons", steps=300, resume=tmp_path / "py" / "checkpoint.json",
                       out=tmp_path / "py", quiet=True)
    bimt_command("run", "two-moons", "--steps", 200, "--checkpoint-every", 100, "--out",
                 tmp_path / "cli", "--quiet")
    bimt_command("run", "two-moons", "--steps", 300, "--resume",
                 tmp_path / "cli" / "checkpoint.json", "--out", tmp_path / "cli", "--quiet")
    assert resumed.metrics["steps"] == 300
    assert model_json(resumed.path) == model_json(tmp_path / "cli")


def test_restarts_choose_as_the_command_does_and_the_bar_follows(tmp_path, bimt_command):
    settings = {"steps": 300, "seed": 2, "restarts": 3, "restart_steps": 100, "log_every": 100}
    run = bimt.run("two-moons", out=tmp_path / "py", quiet=True, **settings)
    bimt_command("run", "two-moons", "--steps", 300, "--seed", 2, "--restarts", 3,
                 "--restart-steps", 100, "--log-every", 100, "--out", tmp_path / "cli", "--quiet")
    assert model_json(run.path) == model_json(tmp_path / "cli")
    restarts = run.metrics["restarts"]
    assert len(restarts["candidates"]) == 3 and restarts["steps"] == 100
    assert restarts["candidates"][0]["init_seed"] == 2

    # The bar counts the candidates' steps, then starts again for the run's.
    from bimt._progress import Progress
    with Progress(quiet=False) as progress:
        progress.update(200, 300, "restart 3 of 3")
        assert (progress.bar.total, progress.bar.n) == (300, 200)
        progress.update(10, 600, "")
        assert (progress.bar.total, progress.bar.n) == (600, 10)
