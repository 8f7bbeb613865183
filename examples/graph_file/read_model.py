#!/usr/bin/env python3
"""An independent reader of bimt's model.json (format 2), in plain Python.

    python3 read_model.py RUN_DIR/model.json DATA.csv > predictions.csv

It uses nothing but the format: a layer's value is its activation applied to the sum of its
incoming connections (linear: weight . value(from) + bias; identity: value(from)); an input
layer's neuron q holds data column features[q], named by input_names; an output layer's
neuron q gives target features[q], named by output_names.

A token model (a "token_embedding" table, one row per token, one value per input neuron in
storage order) reads token ids instead: DATA.csv has a header row and then one column per token
position ("token_positions" of them), each an id. The input layer's value is the ids' table
rows, concatenated (input index j*size + q holds token j's value at neuron q), and every
connection leaving it has in_fold = token_positions.
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


def input_values(model, layer, row):
    """An input layer's value: its data columns, or the token ids' table rows, concatenated."""
    table = model.get("token_embedding")
    if table is None:
        return [row[f] for f in layer["features"]]
    return [v for token in row for v in table[token]]


def evaluate(model, row):
    layers = model["neuron_layers"]
    values = [None] * len(layers)
    incoming = [[c for c in model["connections"] if c["to"] == l] for l in range(len(layers))]
    pending = list(range(len(layers)))
    while pending:
        for l in pending:
            layer = layers[l]
            if layer["role"] == "input":
                values[l] = input_values(model, layer, row)
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
    out = [0.0] * len(model["output_features"])
    for l, layer in enumerate(layers):
        if layer["role"] == "output":
            for q, f in enumerate(layer["features"]):
                out[f] = values[l][q]
    return out


def token_positions(model):
    """How many token ids a row holds: as recorded, or the in_fold of the input's connections."""
    if "token_positions" in model:
        return model["token_positions"]
    inputs = [l for l, layer in enumerate(model["neuron_layers"]) if layer["role"] == "input"]
    return max(c.get("in_fold", 1) for c in model["connections"] if c["from"] in inputs)


def rows(model, path):
    """The data rows: input columns by name, or (a token model) one id per position."""
    if "token_embedding" not in model:
        for record in csv.DictReader(open(path)):
            yield [float(record[name]) for name in model["input_names"]]
        return
    positions, vocabulary = token_positions(model), len(model["token_embedding"])
    reader = csv.reader(open(path))
    next(reader)
    for line, record in enumerate(reader, start=2):
        if len(record) != positions:
            sys.exit(f"{path}, line {line}: {len(record)} columns, expected {positions} token ids")
        ids = [int(float(cell)) for cell in record]
        if any(not 0 <= t < vocabulary for t in ids):
            sys.exit(f"{path}, line {line}: ids {ids}, expected each in 0..{vocabulary}")
        yield ids


def main():
    model = json.load(open(sys.argv[1]))
    assert model["format"] == 2, "this reader reads format 2"
    outputs = len(model["output_features"])
    names = model["output_names"] or [f"y{o + 1}" for o in range(outputs)]
    writer = csv.writer(sys.stdout)
    writer.writerow(names)
    for row in rows(model, sys.argv[2]):
        writer.writerow([repr(v) for v in evaluate(model, row)])


if __name__ == "__main__":
    main()
