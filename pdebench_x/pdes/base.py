"""What a PDE family is: the one object that every part of the suite asks about the family.

A family (``pdes/<name>.py``, a module-level ``FAMILY``) states

- its identity: ``name``, ``kind`` (``steady`` or ``rollout``), the data generator that makes
  its datasets (``generator``, "module:Class", resolved by the data layer);
- its scalars and governing equation as PROSE's prefix tokens (:class:`ScalarSpec`,
  :meth:`PDEFamily.equation`);
- its physics for the per-instance solvers: an Eulerian formulation for a coordinate network
  (PINN, PIG: :meth:`PDEFamily.eulerian`) and, where the PDE transports something, a Lagrangian
  one (LPINN: :meth:`PDEFamily.lagrangian`); a solver that has no formulation for the family
  raises :class:`~pdebench_x.core.errors.NotApplicableError` with the family's reason;
- its fixed spatial domain where the grid does not give it (``domain``);
- the zero-shot resolution split of each preset (``zero_shot``: generator overrides);
- the out-of-distribution split of each preset (``ood``: generator overrides and what they shift);
- the long-horizon split of each preset (``long_horizon``) and the conserved quantities (``conserved``).

Adding a family: its numerical solver (``pdebench_x.numerics``), its generator, this file, its
data yaml and data card. Nothing else in the suite names a family.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

import torch

from pdebench_x.core.errors import NotApplicableError

if TYPE_CHECKING:  # pragma: no cover
    from pdebench_x.pdes.instance import Axis, PDEInstance

#: An encoder of one real coefficient into prefix tokens (see :mod:`pdebench_x.pdes.symbolic`).
Coefficient = Callable[[str], list[str]]


@dataclass(frozen=True)
class ScalarSpec:
    """The scalars a family's equation is written with: ``required`` names, ``optional`` groups
    (all of a group or none: one relation each), and the ``aliases`` each name is accepted under."""

    required: tuple[str, ...]
    optional: tuple[tuple[str, ...], ...] = ()
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def resolve(self, family: str, scalars: Mapping[str, float]) -> dict[str, float]:
        """The canonical scalars found in ``scalars`` (under any alias); refuses a missing required
        one, one given twice with different values, and an incomplete optional group."""
        names = list(self.required) + [n for group in self.optional for n in group]
        found: dict[str, float] = {}
        for name in names:
            keys = [k for k in [name, *self.aliases.get(name, ())] if k in scalars]
            values = {k: float(scalars[k]) for k in keys}
            if len(set(values.values())) > 1:
                raise ValueError(f"{family}: scalar {name!r} given twice with different values {values}; "
                                 "pass it once")
            if keys:
                found[name] = values[keys[0]]
        missing = [n for n in self.required if n not in found]
        if missing:
            hint = {n: [n, *self.aliases.get(n, ())] for n in missing}
            raise ValueError(
                f"family {family!r} needs the scalars {list(self.required)} to write its equation, missing "
                f"{missing} (accepted names: {hint}); got {sorted(scalars)}. Have the dataset provide "
                "them, or give them as defaults (PROSE: model.net.default_scalars)")
        for group in self.optional:
            present = [n for n in group if n in found]
            if present and len(present) != len(group):
                raise ValueError(f"{family}: scalars {list(group)} go together (they make one relation); "
                                 f"got only {present}: pass all of them or none")
        return found


class EulerianProblem:
    """A family's physics-informed formulation for a coordinate network u(x, [y,] [t]) on one
    instance (PINN, PIG). Built by :meth:`PDEFamily.eulerian` from the instance and the fit
    settings; the solver asks it for:

    - ``offsets``, ``scales``: the outputs are ``offset + scale * network`` (from the given data);
    - ``ic_target`` [G, n_out'] on the grid at t0 (None for a steady problem);
    - :meth:`constrain` (hard constraints, e.g. u = 0 on Darcy's boundary);
    - :meth:`residuals` (each [P], squared and summed by the solver) or, with ``energy`` True,
      :meth:`energy_density` (minimised as it is, weight 1);
    - ``needs_boundary`` and :meth:`boundary_sq` (soft boundary conditions);
    - :meth:`channel` (a stored channel from the outputs), and whether that needs gradients.
    """

    energy = False
    needs_boundary = False

    def __init__(self, inst: PDEInstance, fit: Mapping[str, Any], space: list[Axis]) -> None:
        self.inst, self.fit, self.space = inst, fit, space
        self.offsets: list[float] = []
        self.scales: list[float] = []
        self.ic_target: torch.Tensor | None = None

    def constrain(self, out: torch.Tensor, coords: list[torch.Tensor]) -> torch.Tensor:
        return out

    def residuals(self, out: torch.Tensor, coords: list[torch.Tensor]) -> list[torch.Tensor]:
        raise NotImplementedError

    def energy_density(self, out: torch.Tensor, coords: list[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def boundary_sq(self, out: torch.Tensor, coords: list[torch.Tensor], pts: Mapping[str, torch.Tensor]
                    ) -> torch.Tensor:
        raise NotImplementedError

    def channel(self, out: torch.Tensor, coords: list[torch.Tensor], name: str) -> torch.Tensor:
        return out[:, 0]

    def channels_need_grad(self, channels: list[str]) -> bool:
        return False


class LagrangianProblem:
    """A family's Lagrangian formulation (LPINN) on one instance: material points labelled by
    their initial position carry a state along characteristics. Built by
    :meth:`PDEFamily.lagrangian`; the solver asks it for:

    - ``state0``: the carried state at t0, one array [G] per component (on the grid labels);
    - ``speed``: a characteristic speed (the scale of the map x_L - X0 over the horizon);
    - ``extra_branches``: {name: (outputs, depth setting)} of networks beyond the map and the state
      (NS: the stream function);
    - :meth:`residuals` -> (characteristic residuals, state residuals);
    - :meth:`predict_frame`: the stored channels at one time, from the carried states.
    """

    extra_branches: Mapping[str, tuple[int, str]] = {}

    def __init__(self, inst: PDEInstance) -> None:
        self.inst = inst
        self.state0: list[Any] = []
        self.speed = 0.0

    def residuals(self, solver, pos: list[torch.Tensor], q: torch.Tensor, labels: list[torch.Tensor],
                  t: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        raise NotImplementedError

    def predict_frame(self, solver, grid: list[Any], t: float, pos: list[Any], q: Any, out: Any) -> None:
        raise NotImplementedError


class PDEFamily:
    """Base class of the family objects (see the module docstring). Subclasses set the class
    attributes and override the methods that apply."""

    name: str = ""
    kind: str = "rollout"
    generator: str = ""
    scalars: ScalarSpec = ScalarSpec(required=())
    #: fixed spatial domain [(lo, hi)] per axis where the grid's cells do not give it (Darcy: the unit square)
    domain: tuple[tuple[float, float], ...] | None = None
    #: preset -> generator overrides of the zero-shot resolution split (trained at the preset's, tested there)
    zero_shot: Mapping[str, Mapping[str, Any]] = {}
    #: preset -> (generator overrides, what they shift) of the out-of-distribution test split: the
    #: same problem with physical parameters outside the range the preset trains on
    ood: Mapping[str, tuple[Mapping[str, Any], str]] = {}
    #: preset -> (generator overrides, what they change) of the long-horizon test split: the same
    #: test problems run far past the horizon the preset trains on
    long_horizon: Mapping[str, tuple[Mapping[str, Any], str]] = {}
    #: why a Lagrangian (transport) formulation does not exist, if it does not
    no_lagrangian = ""

    def conserved(self, fields: Any, channels: list[str]) -> dict[str, Any]:
        """The quantities the equations conserve (or keep statistically steady), each [N, T], from
        fields [N, T, C, X, Y] with channel names ``channels``; none by default."""
        return {}

    def equation(self, s: Mapping[str, float], c: Coefficient) -> list[str]:
        """The governing equation(s) in prefix notation; ``s`` the resolved scalars, ``c(name)``
        the tokens of scalar ``name``."""
        raise NotImplementedError

    def eulerian(self, inst: PDEInstance, fit: Mapping[str, Any], space: list[Axis]) -> EulerianProblem:
        raise NotApplicableError(f"no physics-informed formulation for PDE family {self.name!r}")

    def lagrangian(self, inst: PDEInstance) -> LagrangianProblem:
        raise NotApplicableError(self.no_lagrangian or f"no Lagrangian formulation for PDE family {self.name!r}")

    def has_lagrangian(self) -> bool:
        return type(self).lagrangian is not PDEFamily.lagrangian

    def has_eulerian(self) -> bool:
        return type(self).eulerian is not PDEFamily.eulerian


def spread(values, floor: float) -> float:
    """The spread of ``values`` used as an output scale: their std, at least ``floor``."""
    import numpy as np
    return float(max(np.std(values), floor))
