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

A sequence model ("sequence": T) reads its rows T at a time, each row one position of a
sequence (a token model's row holds one id). Connections act on each position alone, except
the one into an attention layer (a layer with "attention": {"heads", "causal"}): it is the
packed Q, K, V projection (out_fold 3: output index o is part o // size, Q, K or V, at neuron
o % size), and the layer's value at position t is, for each head h (neurons h*d .. (h+1)*d,
d = size / heads), sum over s of softmax_s(q_t . k_s / sqrt(d)) v_s, with s <= t when causal.
A layer's "learned_positions" row t is added to its sum (an input layer's: to its value) at
position t, before its activation.
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


def linear(c, source, size):
    """weight . source + bias, per output index."""
    bias = c["bias"] or [0.0] * len(c["weight"])
    return [sum(w * v for w, v in zip(weights, source)) + b for weights, b in zip(c["weight"], bias)]


def attend(qkv, size, heads, causal):
    """Multi-head self-attention over positions, from each position's packed q, k, v."""
    d = size // heads
    out = [[0.0] * size for _ in qkv]
    for h in range(heads):
        part = lambda p, kind: qkv[p][kind * size + h * d: kind * size + (h + 1) * d]
        for t in range(len(qkv)):
            seen = range(t + 1) if causal else range(len(qkv))
            q = part(t, 0)
            scores = [sum(a * b for a, b in zip(q, part(s, 1))) / math.sqrt(d) for s in seen]
            top = max(scores)
            weights = [math.exp(x - top) for x in scores]
            total = sum(weights)
            for s, w in zip(seen, weights):
                for i, v in enumerate(part(s, 2)):
                    out[t][h * d + i] += w / total * v
    return out


def evaluate(model, rows):
    """The outputs at every position of one sequence (one row for a model of single rows)."""
    layers = model["neuron_layers"]
    values = [None] * len(layers)
    incoming = [[c for c in model["connections"] if c["to"] == l] for l in range(len(layers))]
    pending = list(range(len(layers)))
    while pending:
        for l in pending:
            layer = layers[l]
            size = layer["size"]
            if layer["role"] == "input":
                values[l] = [input_values(model, layer, row) for row in rows]
                for t, table in enumerate(layer.get("learned_positions") or []):
                    values[l][t] = [v + p for v, p in zip(values[l][t], table)]
            elif all(values[c["from"]] is not None for c in incoming[l]):
                if layer.get("attention"):
                    (c,) = incoming[l]
                    qkv = [linear(c, source, size) for source in values[c["from"]]]
                    attention = layer["attention"]
                    values[l] = attend(qkv, size, attention["heads"], attention["causal"])
                    pending.remove(l)
                    break
                totals = []
                for t in range(len(rows)):
                    total = [0.0] * size
                    for c in incoming[l]:
                        source = values[c["from"]][t]
                        if c.get("kind", "linear") == "identity":
                            term = source
                        else:
                            term = linear(c, source, size)
                        total = [a + b for a, b in zip(total, term)]
                    if layer.get("learned_positions"):
                        total = [a + b for a, b in zip(total, layer["learned_positions"][t])]
                    totals.append(total)
                activation = ACTIVATIONS[layer["activation"]]
                values[l] = [[activation(v) for v in total] for total in totals]
            else:
                continue
            pending.remove(l)
            break
    outs = []
    for t in range(len(rows)):
        out = [0.0] * len(model["output_features"])
        for l, layer in enumerate(layers):
            if layer["role"] == "output":
                for q, f in enumerate(layer["features"]):
                    out[f] = values[l][t][q]
        outs.append(out)
    return outs


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
    length = model.get("sequence") or 1
    data = list(rows(model, sys.argv[2]))
    if len(data) % length:
        sys.exit(f"{sys.argv[2]}: {len(data)} rows, expected whole sequences of {length}")
    for start in range(0, len(data), length):
        for out in evaluate(model, data[start:start + length]):
            writer.writerow([repr(v) for v in out])


if __name__ == "__main__":
    main()
