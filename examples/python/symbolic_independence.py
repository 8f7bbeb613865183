"""The paper's Fig. 2 (symbolic independence) from Python, and a knock-out of each module.

The plain-script twin of symbolic_independence.ipynb, cell for cell:

    pip install ./python          # once, from the repository root
    python examples/python/symbolic_independence.py
"""
# %% Train the preset with the paper's settings (as `bimt run symbolic-independence`).
import numpy as np

import bimt

run = bimt.run("symbolic-independence", out="runs/python-independence")
print(run)

# %% The connectivity graph: in a notebook, `run` displays itself as it (graph.svg).
print(f"graph: {run.path}/graph.svg, interactive viewer: {run.view()}")

# %% The modules BIMT found, and each one's neurons per layer.
for i, module in enumerate(run.modules):
    print(f"module {i}: {len(module['neurons'])} neurons, per layer "
          f"{module['neurons_per_layer']}")

# %% Knock each module out: which output does it carry?
rng = np.random.default_rng(0)
x = rng.uniform(-1, 1, size=(1000, 4))
y = np.stack([(x[:, 0] + x[:, 2]) ** 3, x[:, 1] ** 2 + np.sin(np.pi * x[:, 3])], axis=1)


def mse_per_output(prediction):
    return ((prediction - y) ** 2).mean(axis=0)


print("intact:            MSE y1 %.2e, y2 %.2e" % tuple(mse_per_output(run.predict(x))))
for i, module in enumerate(run.modules):
    knocked = run.predict(x, knock_out=module["neurons"])
    print(f"without module {i}: MSE y1 %.2e, y2 %.2e" % tuple(mse_per_output(knocked)))
