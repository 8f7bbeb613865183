"""``run``, ``train``, ``load`` and the ``Run`` they return: argument conversion around the
Rust extension ``bimt._bimt``."""

import io
import json
import os

import numpy as np

from . import _bimt
from ._progress import Progress


def _settings_json(settings):
    """The keyword settings as the JSON object ``bimt run --config`` reads: Python's names for
    the flags (``log_every``), ``lambda_`` for ``lambda``, paths as strings."""
    out = {}
    for key, value in settings.items():
        if key == "lambda_":
            key = "lambda"
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        out[key] = value
    return json.dumps(out)


def _npy(array, name):
    """``array`` as the bytes of a ``.npy`` file in C order, which the Rust side reads and
    checks as it checks ``bimt run --data X.npy``: its dtype, shape, NaN and range errors name
    ``name``."""
    try:
        array = np.ascontiguousarray(array)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name}: cannot be read as a NumPy array: {e}") from None
    buffer = io.BytesIO()
    try:
        # An object array goes in as one, for the Rust side to refuse its dtype by name.
        np.save(buffer, array, allow_pickle=array.dtype.hasobject)
    except Exception as e:  # an object that does not pickle
        raise ValueError(f"{name}: dtype {array.dtype} cannot be read: {e}") from None
    return buffer.getvalue()


def _out(out):
    return None if out is None else os.fspath(out)


def run(preset, *, out=None, quiet=False, data_dir=None, config=None, resume=None,
        threads=None, **settings):
    """Trains ``preset`` (see ``bimt.presets()``) as ``bimt run PRESET`` does, with the same
    settings, the same ``run.json`` and the same outputs, into ``out`` (default
    ``runs/<preset>``, as the command), and returns the finished :class:`Run`.

    ``settings`` are the flags of ``bimt run`` (``steps=2000``, ``seed=3``,
    ``lambda_="0:1e-3,5000:1e-2"``, ``profile="reference"``, ``checkpoint_every=500``, ...);
    ``config`` is a JSON file of settings, such as a run's ``run.json``; ``resume`` a
    ``checkpoint.json`` to continue (as ``bimt run --resume``: only ``steps`` and ``log_every``
    may change). Progress shows in a notebook and in a terminal unless ``quiet``. Ctrl-C stops
    the run within a second and raises ``KeyboardInterrupt``; ``checkpoint.json`` keeps the last
    checkpoint, if asked for (``checkpoint_every=N``).
    """
    with Progress(quiet) as progress:
        path = _bimt.run_preset(
            preset,
            _settings_json(settings),
            _out(out),
            _out(config),
            _out(resume),
            _out(data_dir),
            threads,
            progress.update,
        )
    return Run(path)


def train(arch, X, Y, *, out=None, quiet=False, threads=None, **settings):
    """Trains the network ``arch`` (an architecture file's path, or the same as a dict) on the
    arrays ``X`` (inputs: float ``[n, features]``, ``[n, T, features]`` or images
    ``[n, C, H, W]``, or integer token ids) and ``Y`` (float targets, or integer class labels
    with ``loss="cross-entropy"``), as ``bimt run graph --arch A --data X.npy --targets Y.npy``
    does, and returns the finished :class:`Run`.

    The run directory ``out`` (default ``runs/graph``) keeps the arrays as ``X.npy`` and
    ``Y.npy`` (and a dict architecture as ``architecture.json``), so that
    ``bimt run graph --config RUN/run.json`` repeats the run. Bad arrays (a shape the network
    does not take, NaN, a dtype other than float or integer, a label out of range) raise
    ``ValueError`` naming the array.
    """
    if isinstance(arch, dict):
        arch_json, arch_path = json.dumps(arch), None
    else:
        arch_json, arch_path = None, os.fspath(arch)
    x, y = _npy(X, "X"), _npy(Y, "Y")
    with Progress(quiet) as progress:
        path = _bimt.train_arrays(
            arch_path,
            arch_json,
            x,
            y,
            _settings_json(settings),
            _out(out),
            threads,
            progress.update,
        )
    return Run(path)


def load(run_dir):
    """Reads the finished run in ``run_dir`` (one with ``metrics.json`` and ``model.json``)."""
    return Run(os.fspath(run_dir))


class Run:
    """A finished run's directory: its metrics, settings and trained network.

    It displays itself in Jupyter as its connectivity graph (``graph.svg``).
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        metrics, settings, model = _bimt.read_run(self.path)
        #: ``metrics.json`` as a dict: losses, accuracy, connection cost, swaps, ``structure``.
        self.metrics = json.loads(metrics)
        #: ``run.json`` as a dict: every setting of the run.
        self.settings = json.loads(settings)
        #: ``model.json`` as a dict: layers, coordinates, weights.
        self.model = json.loads(model)

    def __repr__(self):
        m = self.metrics
        accuracy = m.get("test_accuracy")
        figure = (f"test accuracy {100 * accuracy:.2f}%" if accuracy is not None
                  else f"test loss {m['test_loss']:.3e}")
        return (f"<bimt.Run {m['preset']} ({m['variant']}), {m['steps']} steps, {figure}, "
                f"connection cost {m['connection_cost']:.4g}, {m['swaps']} swaps, "
                f"at {self.path!r}>")

    @property
    def modules(self):
        """The modules the run found (``metrics.json``'s ``structure.modules``): each with its
        neurons as ``[layer, neuron]`` pairs, their count per layer, and the test figure on the
        viewer's sample rows without it."""
        return self.metrics.get("structure", {}).get("modules", [])

    @property
    def layers(self):
        """The neuron layers' names, by index (as ``knock_out`` takes them)."""
        return [layer["name"] for layer in self.model["neuron_layers"]]

    def predict(self, X, knock_out=()):
        """The network's outputs for the rows ``X`` (as ``bimt predict`` computes them from
        ``model.json``): ``[n, outputs]``, or ``[n, T, outputs]`` for a sequence model.

        ``knock_out`` lists neurons as ``(layer, neuron)`` pairs, the layer by name or index
        (a module: ``run.modules[0]["neurons"]``): every weight leaving them is zeroed first,
        as the viewer's and ``metrics.json``'s knock-outs do.
        """
        neurons = [(self._layer(layer), int(n)) for layer, n in knock_out]
        values, shape = _bimt.predict(self.path, _npy(X, "X"), neurons)
        return np.frombuffer(values, dtype="<f8").reshape(shape).copy()

    def cost(self):
        """The trained network's connection cost (paper eq. 3) as ``model.json``'s ``cost``
        section defines it; ``None`` for a metric the file does not know."""
        return _bimt.cost(self.path)

    def weights(self):
        """Every connection's weight matrix ``[outputs, inputs]`` and bias, by connection name
        (``"hidden1->hidden2.weight"``, ``"...bias"``), with the token table and learned
        positions: the tensors ``save_safetensors`` writes."""
        return {name: np.frombuffer(data, dtype="<f4").reshape(shape).copy()
                for name, shape, data in _bimt.weights(self.path)}

    def save_safetensors(self, path):
        """Writes ``weights()`` to ``path`` in the safetensors format (as
        ``bimt export RUN --safetensors PATH``), with the connections' layers as metadata."""
        _bimt.export_safetensors(self.path, os.fspath(path))

    def view(self):
        """Writes the run's interactive viewer (``view.html``) and returns its path."""
        return _bimt.write_view(self.path)

    def _repr_svg_(self):
        with open(os.path.join(self.path, "graph.svg"), encoding="utf-8") as f:
            return f.read()

    def _layer(self, layer):
        if isinstance(layer, str):
            names = self.layers
            if layer not in names:
                raise ValueError(f"knock_out: no layer named {layer!r}; the layers are {names}")
            return names.index(layer)
        return int(layer)
