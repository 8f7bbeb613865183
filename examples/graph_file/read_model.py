#!/usr/bin/env python3
"""An independent reader of bimt's model.json (format 2), in plain Python.

    python3 read_model.py RUN_DIR/model.json DATA.csv > predictions.csv

It uses nothing but the format: a layer's value is its activation applied to the sum of its
incoming connections (linear: weight . value(from) + bias; identity: value(from)); an input
layer's neuron q holds data column features[q], named by input_names; an output layer's
neuron q gives target features[q], named by output_names.
"""
import csv
import json
import math
import sys

ACTIVATIONS = {
    "identity": lambda v: v,
    "silu": lambda v: v / (1.0 + math.exp(-v)),
    "relu": lambda v: max(v, 0.0),
    "tanh": math.tanh,
    "gelu": lambda v: 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))),
}


def evaluate(model, row):
    layers = model["neuron_layers"]
    values = [None] * len(layers)
    incoming = [[c for c in model["connections"] if c["to"] == l] for l in range(len(layers))]
    pending = list(range(len(layers)))
    while pending:
        for l in pending:
            layer = layers[l]
            if layer["role"] == "input":
                values[l] = [row[f] for f in layer["features"]]
            elif all(values[c["from"]] is not None for c in incoming[l]):
                total = [0.0] * layer["size"]
                for c in incoming[l]:
                    source = values[c["from"]]
                    if c.get("kind", "linear") == "identity":
                        total = [t + s for t, s in zip(total, source)]
                    else:
                        bias = c["bias"] or [0.0] * layer["size"]
                        total = [
                            t + sum(w * s for w, s in zip(weights, source)) + b
                            for t, weights, b in zip(total, c["weight"], bias)
                        ]
                values[l] = [ACTIVATIONS[layer["activation"]](t) for t in total]
            else:
                continue
            pending.remove(l)
            break
    out = [0.0] * len(model["output_names"])
    for l, layer in enumerate(layers):
        if layer["role"] == "output":
            for q, f in enumerate(layer["features"]):
                out[f] = values[l][q]
    return out


def main():
    model = json.load(open(sys.argv[1]))
    assert model["format"] == 2, "this reader reads format 2"
    reader = csv.DictReader(open(sys.argv[2]))
    writer = csv.writer(sys.stdout)
    writer.writerow(model["output_names"])
    for record in reader:
        row = [float(record[name]) for name in model["input_names"]]
        writer.writerow([repr(v) for v in evaluate(model, row)])


if __name__ == "__main__":
    main()
