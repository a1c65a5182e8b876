"""The feedback panel: how often each prompt or concept is accepted, how many accepted items each defect type
has, and, on demand, the KID of the accepted set against a folder of real defect images.

KID comes from defect-metrics' public API (``extract_features`` and ``kid``), which the ``review`` extra
installs; the base install of defect-sample does not depend on defect-metrics (DESIGN.md §2).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from defect_sample.review.extras import require_metrics
from defect_sample.review.records import ACCEPTED, FLAGGED, REJECTED, ReviewRecord

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
RANDOM_FEATURES_SIZE = 128
"""Side the images are resized to for the random-network stand-in (any size >= 8 px works for it)."""


@dataclass(frozen=True)
class AcceptanceRow:
    """Decisions about the candidates of one prompt or concept."""

    description: str
    accepted: int
    rejected: int
    flagged: int

    @property
    def decided(self) -> int:
        return self.accepted + self.rejected + self.flagged

    @property
    def rate(self) -> float:
        """Accepted / decided, in [0, 1]."""
        return self.accepted / self.decided if self.decided else 0.0


@dataclass(frozen=True)
class Feedback:
    """Acceptance per prompt or concept (most decided first) and accepted items per defect type."""

    rows: tuple[AcceptanceRow, ...]
    accepted_per_defect: dict[str, int]


def summarize(decisions: Iterable[ReviewRecord]) -> Feedback:
    """The panel's numbers from the latest decision of every candidate."""
    counts: dict[str, Counter] = {}
    per_defect: Counter = Counter()
    for record in decisions:
        counts.setdefault(record.generation.description, Counter())[record.status] += 1
        if record.status == ACCEPTED:
            per_defect[record.generation.defect_name] += 1
    rows = [AcceptanceRow(key, c[ACCEPTED], c[REJECTED], c[FLAGGED]) for key, c in counts.items()]
    rows.sort(key=lambda r: (-r.decided, r.description))
    return Feedback(tuple(rows), dict(sorted(per_defect.items())))


@dataclass(frozen=True)
class KidResult:
    """KID (raw; × 10³ is the usual print scale) of ``fake_count`` accepted images against ``real_count`` real
    ones, and the features it used."""

    mean: float
    std: float
    real_count: int
    fake_count: int
    features: str


def accepted_set_kid(
    accepted: Sequence[Path], real: Sequence[Path], features: str = "inception", device: str = "cpu"
) -> KidResult:
    """KID of the accepted images against real ones.

    ``features``: ``"inception"`` (Inception-v3 from clean-fid's cache; ``MissingWeightsError`` names the
    file when it is absent) or ``"random-network"`` (defect-metrics' seeded random ConvNet, an offline
    stand-in that ranks sets and compares with no published number). Needs two images on each side.
    """
    metrics = require_metrics()
    if len(accepted) < 2 or len(real) < 2:
        raise ValueError(
            f"KID needs at least 2 accepted and 2 real images (have {len(accepted)} accepted, "
            f"{len(real)} real)"
        )
    if features == "inception":
        extractor, size = metrics.load_inception(device=device), 299
    elif features == "random-network":
        extractor, size = metrics.RandomConvFeatures().to(device), RANDOM_FEATURES_SIZE
    else:
        raise ValueError(f"features must be 'inception' or 'random-network', got {features!r}")

    def embed(paths: Sequence[Path]):
        return metrics.extract_features(
            list(paths), extractor, image_size=size, device=device, workers=1, progress=False
        )

    value = metrics.kid(embed(real), embed(accepted), subsets=KID_SUBSETS, subset_size=KID_SUBSET_SIZE)
    return KidResult(value.mean, value.std, len(real), len(accepted), features)
