"""Brain-Inspired Modular Training from Python, on the bimt Rust engine.

Every function here converts between Python and the Rust crates that ``bimt`` (the command)
uses; none trains, reads or computes anything of its own.

>>> import bimt
>>> run = bimt.run("symbolic-independence", steps=2000, out="runs/independence")
>>> run.metrics["test_loss"]                        # doctest: +SKIP
>>> run.predict(numpy.zeros((3, 4)))                # three rows of (y1, y2)

``bimt.run(preset, **settings)`` trains a preset as ``bimt run PRESET --flags`` does;
``bimt.train(arch, X, Y, **settings)`` trains a network declared as a dict or an architecture
file on NumPy arrays; ``bimt.load(run_dir)`` reads a finished run. Settings are named as the
flags of ``bimt run`` with ``_`` for ``-`` (``log_every=100``), and ``lambda`` is ``lambda_``.
"""

from ._bimt import __version__, presets
from ._run import Run, load, run, train

__all__ = ["Run", "load", "presets", "run", "train", "__version__"]
