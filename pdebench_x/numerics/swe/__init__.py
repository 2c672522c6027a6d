r"""2D shallow-water equations by finite volumes (Godunov type), batched in torch.

PDE (flat bottom, gravity :math:`g`), conserved state :math:`q = (h, hu, hv)`::

    h_t  + (h u)_x             + (h v)_y             = 0
    (hu)_t + (h u^2 + g h^2/2)_x + (h u v)_y           = 0
    (hv)_t + (h u v)_x           + (h v^2 + g h^2/2)_y = 0

One concern per module: :mod:`.fluxes` (limited reconstruction, HLL face fluxes),
:mod:`.operator` (boundaries by ghost cells, the semi-discrete right-hand side ``L(q)``),
:mod:`.hancock` (one MUSCL-Hancock step: half-step predictor, one flux evaluation),
:mod:`.scheme` (time stepping, SSP-RK2 or MUSCL-Hancock, dry cells, the quiet-region shortcut),
:mod:`.radial_dam` (PDEBench's radial dam break start), :mod:`.workspace` (scratch tensors).

Every operation is elementwise or a per-sample reduction, so a sample's numbers do not depend on
the other samples of its batch; x and y are treated by the same code with sums taken in an
order-independent way, so mirror and transpose symmetries of the start are kept to the last bit.
Computation is float64 by default.
"""
