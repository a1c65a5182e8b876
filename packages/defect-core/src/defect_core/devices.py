"""Which torch device a ``--device`` setting means, decided without torch.

The torch packages wrap this in their public pickers (``defect_sample.resolve_device`` for sample and train,
``defect_metrics.resolve_device`` for metrics and inspect), which pass in whether CUDA is available; so
every command reads ``auto``, ``cpu``, ``cuda`` and ``cuda:1`` the same way.
"""

from __future__ import annotations


def choose_device(requested: str | None, *, cuda_available: bool, local_rank: int | None = None) -> str:
    """The device name for ``requested``.

    ``"auto"`` / ``None``: ``"cuda"`` when a GPU is visible (``"cuda:<local_rank>"`` for one process of a
    multi-process launch, so that each process gets its own GPU), else ``"cpu"``. Any other name is returned
    as given, except that a CUDA device without a visible GPU is a ``ValueError`` now rather than a torch
    error later, after minutes of model loading.
    """
    name = "auto" if requested is None else str(requested).strip()
    if name == "auto":
        if not cuda_available:
            return "cpu"
        return "cuda" if local_rank is None else f"cuda:{local_rank}"
    if name.split(":")[0] == "cuda" and not cuda_available:
        raise ValueError(
            f"device {name!r} was asked for but no CUDA GPU is visible (use --device cpu or auto)"
        )
    return name
