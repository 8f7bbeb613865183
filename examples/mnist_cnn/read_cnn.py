#!/usr/bin/env python3
"""An independent NumPy reader of bimt's model.json for convolutional networks.

    python3 read_cnn.py RUN_DIR/model.json IMAGES.npy > predictions.csv

IMAGES.npy holds float images [n, C, H, W] (or [n, C*H*W], channel-major). It uses nothing
but the format (README, `model.json`): a layer's value is its activation of the sum of its
incoming connections. A layer with a "shape" [H, W] holds feature maps, one per neuron
(channel); here its value is an array [n, H*W, C] (pixel-major, as the format orders it). A
linear connection with a "window" is a convolution (in_fold kernel^2: weight[o][t*C_in + i] is
tap t = ky*kernel + kx of channel i); a "pool" connection reduces each window (max or
average); a linear connection from feature maps into neurons reads the pixel-major value
flattened; an identity connection passes the value on. Input and output layers' "features"
give the data column (channel) and target each neuron holds.
"""
import json
import sys

import numpy as np

ACTIVATIONS = {
    "identity": lambda v: v,
    "silu": lambda v: v / (1.0 + np.exp(-v)),
    "relu": lambda v: np.maximum(v, 0.0),
    "tanh": np.tanh,
}


def windows(shape, window):
    """For each output pixel, the input pixel of each tap (-1 in the padding), and the output
    shape."""
    (h, w), k, s, p = shape, window["kernel"], window["stride"], window["padding"]
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    oy, ox, ky, kx = np.meshgrid(np.arange(oh), np.arange(ow), np.arange(k), np.arange(k), indexing="ij")
    y, x = oy * s + ky - p, ox * s + kx - p
    inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
    return np.where(inside, y * w + x, -1).reshape(oh * ow, k * k), (oh, ow)


def gather(value, taps):
    """[n, pixels, C] -> [n, outputs, taps, C], zeros in the padding."""
    padded = np.concatenate([value, np.zeros_like(value[:, :1])], axis=1)
    return padded[:, np.where(taps < 0, value.shape[1], taps)]


def term(model, c, values):
    source, layers = values[c["from"]], model["neuron_layers"]
    weight = np.asarray(c["weight"], dtype=np.float64)
    bias = np.asarray(c["bias"], dtype=np.float64) if c.get("bias") is not None else 0.0
    kind, window = c.get("kind", "linear"), c.get("window")
    if kind == "identity":
        return source
    if kind == "pool":
        taps, _ = windows(layers[c["from"]]["shape"], window)
        patches = gather(source, taps)
        if window["pool"] == "max":
            return np.where(taps[None, :, :, None] < 0, -np.inf, patches).max(axis=2)
        return patches.sum(axis=2) / (window["kernel"] ** 2)
    if window is not None:
        taps, _ = windows(layers[c["from"]]["shape"], window)
        patches = gather(source, taps)
        n, q = patches.shape[:2]
        return patches.reshape(n, q, -1) @ weight.T + bias
    return source.reshape(source.shape[0], -1) @ weight.T + bias


def evaluate(model, images):
    layers = model["neuron_layers"]
    values = [None] * len(layers)
    pending = list(range(len(layers)))
    while pending:
        for l in pending:
            layer = layers[l]
            incoming = [c for c in model["connections"] if c["to"] == l]
            if layer["role"] == "input":
                h, w = layer["shape"]
                x = images.reshape(len(images), -1, h * w)[:, layer["features"]]
                values[l] = x.transpose(0, 2, 1)
            elif all(values[c["from"]] is not None for c in incoming):
                total = sum(term(model, c, values) for c in incoming)
                values[l] = ACTIVATIONS[layer["activation"]](total)
            else:
                continue
            pending.remove(l)
            break
    out = np.zeros((len(images), len(model["output_features"])))
    for l, layer in enumerate(layers):
        if layer["role"] == "output":
            out[:, layer["features"]] = values[l].reshape(len(images), -1)
    return out


def main():
    model = json.load(open(sys.argv[1]))
    images = np.load(sys.argv[2]).astype(np.float64)
    names = model["output_names"] or [f"y{o + 1}" for o in range(len(model["output_features"]))]
    print(",".join(names))
    for row in evaluate(model, images):
        print(",".join(repr(float(v)) for v in row))


if __name__ == "__main__":
    main()
