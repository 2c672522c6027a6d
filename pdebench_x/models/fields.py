"""Coordinate networks of the per-instance solvers: the input encoding of each axis (a periodic
axis of length L by (cos 2 pi x / L, sin 2 pi x / L), exactly periodic fields; any other axis,
time included, rescaled to [-1, 1]), the tanh MLP, and ``offset + scale * network`` outputs."""
from __future__ import annotations

from typing import Iterator

import torch
from torch import nn

from pdebench_x.pdes.instance import Axis


def encode(axes: list[Axis], coords: list[torch.Tensor]) -> torch.Tensor:
    """[P, F] input features of the coordinates (one tensor [P] per axis)."""
    if len(axes) != len(coords):
        raise ValueError(f"{len(coords)} coordinate tensors for {len(axes)} axes {[a.name for a in axes]}")
    return torch.stack([f for a, c in zip(axes, coords) for f in a.features(c)], dim=-1)


class MLP(nn.Module):
    """tanh MLP: in -> width (x depth hidden layers) -> out; Xavier-normal weights, zero biases."""

    def __init__(self, n_in: int, n_out: int, width: int = 64, depth: int = 4) -> None:
        super().__init__()
        if depth < 1 or width < 1:
            raise ValueError(f"an MLP needs depth >= 1 hidden layers and width >= 1, got depth={depth}, width={width}")
        sizes = [n_in] + [width] * depth
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.Tanh()]
        layers.append(nn.Linear(sizes[-1], n_out))
        self.net = nn.Sequential(*layers)
        for m in self.net:
            if isinstance(m, nn.Linear):
                nn.init.xavier_normal_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)


class MLPField(nn.Module):
    """A coordinate network: (coordinates per axis) -> [P, n_out] through the axis encoding."""

    def __init__(self, axes: list[Axis], n_out: int, width: int = 64, depth: int = 4) -> None:
        super().__init__()
        self.axes = list(axes)
        self.mlp = MLP(sum(a.n_features for a in self.axes), n_out, width, depth)

    def forward(self, *coords: torch.Tensor) -> torch.Tensor:
        return self.mlp(encode(self.axes, list(coords)))


class Scaled(nn.Module):
    """offset + scale * field(coords), per output (offset, scale from the given data only)."""

    def __init__(self, field: nn.Module, offset: list[float], scale: list[float]) -> None:
        super().__init__()
        self.field = field
        self.register_buffer("offset", torch.tensor(offset, dtype=torch.float32))
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32))

    def forward(self, *coords: torch.Tensor) -> torch.Tensor:
        return self.offset + self.scale * self.field(*coords)


def chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, max(int(size), 1)):
        yield slice(start, min(start + size, n))
