"""A trained run as a ``torch.nn.Module`` (needs PyTorch): the network of ``model.json`` with
its weights as parameters, to be studied with PyTorch's tools.

>>> module = bimt.torch.to_module(run)
>>> module(torch.as_tensor(X, dtype=torch.float32))   # equals run.predict(X) to 1e-5

The module's parameters are named as ``Run.weights()`` and ``Run.save_safetensors`` name
them (``module.state_dict()`` loads a safetensors file of the same run). Its forward follows
the layer graph that the Rust side resolves from ``model.json`` (``Run.graph``): layers in
dependency order, each its activation of the sum of its incoming connections (linear,
identity, convolution, pool), attention layers, token tables and learned positions.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from . import _bimt

_ACTIVATIONS = {
    "identity": lambda v: v,
    "silu": F.silu,
    "relu": F.relu,
    "tanh": torch.tanh,
    "gelu": F.gelu,
}


def to_module(run, dtype=torch.float32):
    """An ``nn.Module`` computing what ``run.predict`` computes, for any network ``bimt``
    trains (MLPs and architecture files: dense, token, attention and convolutional layers).

    It takes the rows ``run.predict`` takes (floats ``[n, features]``, ``[n, T, features]``,
    images ``[n, C, H, W]`` or ``[n, C*H*W]``, or integer token ids) as a tensor and returns
    ``[n, outputs]`` (``[n, T, outputs]`` for a sequence model).
    """
    return BimtModule(_bimt.graph(run.path), run.weights(), dtype)


class _Parameters(nn.Module):
    """Named parameters under one prefix: a connection's ``weight`` and maybe ``bias``, or a
    layer's ``learned_positions``."""

    def __init__(self, **tensors):
        super().__init__()
        for name, tensor in tensors.items():
            self.register_parameter(name, None if tensor is None else nn.Parameter(tensor))


class BimtModule(nn.Module):
    """The network of a ``model.json``; see :func:`to_module`. Its ``state_dict`` keys are the
    names of ``Run.weights()``, so it loads the run's safetensors file."""

    def __init__(self, graph, weights, dtype):
        super().__init__()
        self.graph = graph
        tensor = lambda name: torch.as_tensor(weights[name], dtype=dtype)
        for c in graph["connections"]:
            if c["kind"] == "linear" and not c["tied"]:
                bias = f"{c['name']}.bias"
                self.add_module(c["name"], _Parameters(
                    weight=tensor(f"{c['name']}.weight"),
                    bias=tensor(bias) if bias in weights else None,
                ))
        if "token_embedding" in weights:
            self.token_embedding = nn.Parameter(tensor("token_embedding"))
        else:
            self.token_embedding = None
        for layer in graph["layers"]:
            if layer["learned_positions"]:
                table = tensor(f"{layer['name']}.learned_positions")
                self.add_module(layer["name"], _Parameters(learned_positions=table))

    def forward(self, x):
        g = self.graph
        sequence = g["sequence"]
        n = x.shape[0]
        if sequence is None:
            x = x.unsqueeze(1)  # one position
        values = {}
        for l in g["order"]:
            layer = g["layers"][l]
            if layer["role"] == "input":
                values[l] = self._positions(layer, self._input(layer, x))
                continue
            incoming = [c for c in g["connections"] if c["to"] == l]
            if layer["attention"] is not None:
                (c,) = incoming
                qkv = self._linear(c, values[c["from"]])
                values[l] = _attend(qkv, layer["size"], **layer["attention"])
                continue
            total = 0
            for c in incoming:
                total = total + self._term(c, values[c["from"]])
            total = self._positions(layer, total)
            values[l] = _ACTIVATIONS[layer["activation"]](total)
        outputs = x.new_zeros((n, x.shape[1], g["outputs"]),
                              dtype=self._dtype())
        for l, layer in enumerate(g["layers"]):
            if layer["role"] == "output":
                outputs[..., layer["features"]] = values[l]
        return outputs if sequence is not None else outputs[:, 0]

    def _dtype(self):
        return next(self.parameters()).dtype

    def _input(self, layer, x):
        """An input layer's value ``[n, T, width]`` from the rows ``x`` ``[n, T, ...]``."""
        features = torch.as_tensor(layer["features"], dtype=torch.long)
        size = layer["size"]
        if self.token_embedding is not None:
            ids = x.long().reshape(x.shape[0], x.shape[1], -1)
            rows = self.token_embedding[ids]  # [n, T, ids, size]
            return rows.reshape(x.shape[0], x.shape[1], -1)
        x = x.to(self._dtype())
        if layer["shape"] is not None:
            h, w = layer["shape"]
            maps = x.reshape(x.shape[0], x.shape[1], -1, h * w)[:, :, features]
            return maps.transpose(2, 3).reshape(x.shape[0], x.shape[1], -1)  # pixel-major
        x = x.reshape(x.shape[0], x.shape[1], -1)
        fold = layer["fold"]
        index = torch.arange(size * fold)
        columns = index - index % size + features[index % size]
        return x[..., columns]

    def _positions(self, layer, value):
        if layer["learned_positions"]:
            table = self.get_submodule(layer["name"]).learned_positions[: value.shape[1]]
            width = table.shape[1]
            value = torch.cat([value[..., :width] + table, value[..., width:]], dim=-1)
        return value

    def _linear(self, c, value):
        p = None if c["tied"] else self.get_submodule(c["name"])
        weight = p.weight if p is not None else self.token_embedding
        bias = p.bias if p is not None else None
        return F.linear(value, weight, bias)

    def _term(self, c, value):
        if c["kind"] == "identity":
            return value
        if c["window"] is None:
            return self._linear(c, value)
        source = self.graph["layers"][c["from"]]
        h, w = source["shape"]
        n, t = value.shape[:2]
        maps = value.reshape(n * t, h, w, -1).permute(0, 3, 1, 2)  # [N, C, H, W]
        window = c["window"]
        k, stride, padding = window["kernel"], window["stride"], window["padding"]
        if c["kind"] == "pool":
            if window["pool"] == "max":
                out = F.max_pool2d(maps, k, stride, padding)
            else:
                out = F.avg_pool2d(maps, k, stride, padding, count_include_pad=True)
        else:
            p = self.get_submodule(c["name"])
            channels = maps.shape[1]
            # weight[o][tap * C_in + i], tap = ky * k + kx
            kernel = p.weight.reshape(-1, k * k, channels).transpose(1, 2)
            out = F.conv2d(maps, kernel.reshape(-1, channels, k, k), p.bias, stride, padding)
        return out.permute(0, 2, 3, 1).reshape(n, t, -1)  # pixel-major again


def _attend(qkv, size, heads, causal):
    """Multi-head self-attention over positions from the packed ``[Q | K | V]`` projection."""
    n, t, _ = qkv.shape
    d = size // heads
    q, k, v = (qkv[..., i * size:(i + 1) * size].reshape(n, t, heads, d).transpose(1, 2)
               for i in range(3))
    scores = q @ k.transpose(-1, -2) / math.sqrt(d)
    if causal:
        mask = torch.ones(t, t, dtype=torch.bool).triu(1)
        scores = scores.masked_fill(mask, float("-inf"))
    out = scores.softmax(-1) @ v  # [n, heads, t, d]
    return out.transpose(1, 2).reshape(n, t, size)
