"""Intra-cluster LPIPS (IC-LPIPS): how diverse generated defects are, relative to the training defects.

Definition (DESIGN.md §5, after Ojha et al. 2021 and DFMGAN, Duan et al. 2023):

1. the clusters are the K training defect images;
2. each generated image joins the cluster of its nearest training image by LPIPS (ties: the first one);
3. per cluster, the mean LPIPS over the unordered pairs of its first ``max_members`` members (in the order
   the generated images are given; a cluster with one member has no pair and scores 0);
4. IC-LPIPS is the mean over clusters: the non-empty ones (``average_over="non_empty"``, defectfill), or all
   K of them with empty clusters scoring 0 (``average_over="all"``, DFMGAN's ``compute_clpips``, which also
   caps clusters at 200 members: :meth:`ICLPIPSConfig.dfmgan`).

Images are compared whole or as crops around their defect (``region="crop"``: the mask's bounding box,
widened by ``crop_margin`` of its side on every side and made square), resized to ``image_size`` squared
with PIL's bicubic filter and scaled to [-1, 1]. Distances come from LPIPS embeddings
(:mod:`defect_metrics.lpips_embedding`): every image passes the network once per pass, not once per pair.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from defect_core.configs import config_field, require
from defect_core.images import load_mask
from defect_metrics.devices import resolve_device
from defect_metrics.image_inputs import ImageInput, describe, to_rgb
from defect_metrics.lpips_embedding import LPIPSEmbedder, pairwise_squared_distances, squared_distances
from defect_metrics.lpips_network import load_lpips

logger = logging.getLogger(__name__)

MaskInput = str | Path | np.ndarray

_AVERAGES = ("non_empty", "all")
_REGIONS = ("image", "crop")


@dataclass(frozen=True)
class ICLPIPSConfig:
    """How IC-LPIPS is computed; the defaults are defectfill's (DESIGN.md §5)."""

    max_members: int = config_field(50, "members per cluster that enter the pairs (first ones)")
    average_over: str = config_field(
        "non_empty", "'non_empty': mean over clusters with members; 'all': empty clusters count as 0 (DFMGAN)"
    )
    region: str = config_field("image", "'image': whole images; 'crop': square crop around the mask")
    crop_margin: float = config_field(0.25, "crop: context added on each side, fraction of the box side")
    min_crop: int = config_field(32, "crop: smallest crop side in pixels before resizing")
    image_size: int = config_field(256, "side in pixels the images or crops are resized to")
    net: str = config_field("alex", "LPIPS trunk: 'alex' (as DFMGAN), 'vgg' or 'squeeze'")
    batch_size: int = config_field(16, "images per network call")

    def __post_init__(self) -> None:
        require(self, self.max_members >= 2, "max_members", "must be >= 2")
        require(self, self.average_over in _AVERAGES, "average_over", f"must be one of {_AVERAGES}")
        require(self, self.region in _REGIONS, "region", f"must be one of {_REGIONS}")
        require(self, self.crop_margin >= 0, "crop_margin", "must be >= 0")
        require(self, self.min_crop >= 1, "min_crop", "must be >= 1")
        require(self, self.image_size >= 32, "image_size", "must be >= 32 (the LPIPS trunks downsample 32×)")
        require(self, self.net in ("alex", "vgg", "squeeze"), "net", "must be 'alex', 'vgg' or 'squeeze'")
        require(self, self.batch_size >= 1, "batch_size", "must be >= 1")

    @classmethod
    def dfmgan(cls, **overrides: object) -> ICLPIPSConfig:
        """DFMGAN's variant: clusters capped at 200 members, mean over all K clusters (empty ones = 0)."""
        values: dict[str, object] = {"max_members": 200, "average_over": "all"}
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ICLPIPSResult:
    """IC-LPIPS and what it is made of.

    ``per_cluster``: (K,) mean pairwise LPIPS per training image, NaN for empty clusters;
    ``cluster_sizes``: int (K,) generated images that joined each cluster (before the ``max_members`` cap);
    ``assignment``: int (N,) cluster of each generated image; ``nearest_lpips``: (N,) its LPIPS to it.
    """

    value: float
    per_cluster: np.ndarray
    cluster_sizes: np.ndarray
    assignment: np.ndarray
    nearest_lpips: np.ndarray
    config: ICLPIPSConfig


def crop_box(mask: np.ndarray, margin: float, min_side: int) -> tuple[int, int, int, int]:
    """A square (left, top, right, bottom) around the True pixels of ``mask`` (H, W), inside the image.

    The side is the longer side of the bounding box times ``1 + 2 * margin``, at least ``min_side``, at most
    the shorter image side; the square is centred on the box and shifted back inside the image if needed.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise ValueError("the mask is empty: there is no defect region to crop")
    height, width = mask.shape
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    side = max(bottom - top, right - left) * (1.0 + 2.0 * margin)
    side = int(round(min(max(side, min_side), height, width)))
    centre_y, centre_x = (top + bottom) / 2.0, (left + right) / 2.0
    y0 = int(round(min(max(centre_y - side / 2.0, 0), height - side)))
    x0 = int(round(min(max(centre_x - side / 2.0, 0), width - side)))
    return x0, y0, x0 + side, y0 + side


def _as_mask(item: MaskInput) -> np.ndarray:
    if isinstance(item, str | Path):
        return load_mask(item)
    return np.asarray(item).astype(bool)


def prepare_image(
    image: ImageInput, mask: MaskInput | None, config: ICLPIPSConfig, index: int = 0
) -> torch.Tensor:
    """One image as float32 (3, S, S) in [-1, 1], S = ``config.image_size``, cropped around ``mask`` if asked."""
    rgb = to_rgb(image)
    if config.region == "crop":
        if mask is None:
            raise ValueError(f"{describe(image, index)}: region='crop' needs a mask for every image")
        mask_array = _as_mask(mask)
        if mask_array.shape != (rgb.height, rgb.width):
            raise ValueError(
                f"{describe(image, index)}: mask is {mask_array.shape[1]}×{mask_array.shape[0]} "
                f"but the image is {rgb.width}×{rgb.height}"
            )
        try:
            rgb = rgb.crop(crop_box(mask_array, config.crop_margin, config.min_crop))
        except ValueError as exc:
            where = mask if isinstance(mask, str | Path) else describe(image, index)
            raise ValueError(f"{where}: {exc}") from exc
    if rgb.size != (config.image_size, config.image_size):
        rgb = rgb.resize((config.image_size, config.image_size), resample=Image.Resampling.BICUBIC)
    pixels = torch.from_numpy(np.asarray(rgb, dtype=np.float32)).permute(2, 0, 1)
    return pixels / 127.5 - 1.0


def _embed(
    embedder: LPIPSEmbedder,
    images: Sequence[ImageInput],
    masks: Sequence[MaskInput] | None,
    indices: Sequence[int],
    config: ICLPIPSConfig,
) -> torch.Tensor:
    batch = torch.stack(
        [prepare_image(images[i], masks[i] if masks is not None else None, config, i) for i in indices]
    )
    return embedder(batch)


def _mean_pair_distance(embeddings: torch.Tensor) -> float:
    count = embeddings.shape[0]
    if count < 2:
        return 0.0
    distances = pairwise_squared_distances(embeddings)
    upper = torch.triu_indices(count, count, offset=1, device=distances.device)
    return float(distances[upper[0], upper[1]].mean())


def ic_lpips(
    generated: Sequence[ImageInput],
    training: Sequence[ImageInput],
    *,
    config: ICLPIPSConfig | None = None,
    generated_masks: Sequence[MaskInput] | None = None,
    training_masks: Sequence[MaskInput] | None = None,
    network: torch.nn.Module | None = None,
    device: str | torch.device | None = None,
    cache_bytes: int = 2**30,
    progress: bool = True,
) -> ICLPIPSResult:
    """IC-LPIPS of ``generated`` images against the clusters of the ``training`` defect images.

    Images are paths, PIL images or uint8 arrays (H, W, 3); masks (needed for ``region="crop"``) are paths
    or bool arrays (H, W), one per image in the same order. ``network`` is an ``lpips.LPIPS`` module
    (default: :func:`defect_metrics.lpips_network.load_lpips` with ``config.net``, pretrained weights from
    the cache). ``cache_bytes`` bounds the memory that keeps cluster members' embeddings between the two
    passes (members beyond it pass the network again). Returns :class:`ICLPIPSResult`; ``value`` >= 0.
    """
    config = config or ICLPIPSConfig()
    if not generated or not training:
        raise ValueError(f"need generated and training images, got {len(generated)} and {len(training)}")
    for name, masks, images in (
        ("generated", generated_masks, generated),
        ("training", training_masks, training),
    ):
        if masks is not None and len(masks) != len(images):
            raise ValueError(f"{len(images)} {name} images but {len(masks)} {name} masks")
    torch_device = resolve_device(device)
    if network is None:
        network = load_lpips(config.net, device=torch_device)
    network = network.to(torch_device).eval()
    embedder = LPIPSEmbedder(network)

    training_embeddings = torch.cat(
        [
            _embed(
                embedder,
                training,
                training_masks,
                range(s, min(s + config.batch_size, len(training))),
                config,
            )
            for s in range(0, len(training), config.batch_size)
        ]
    ).to(torch.float64)
    training_norms = (training_embeddings * training_embeddings).sum(1)
    clusters = len(training)
    assignment = np.empty(len(generated), dtype=np.int64)
    nearest = np.empty(len(generated), dtype=np.float64)
    members: list[list[int]] = [[] for _ in range(clusters)]
    kept: dict[int, torch.Tensor] = {}
    starts = range(0, len(generated), config.batch_size)
    for start in tqdm(starts, desc="IC-LPIPS clustering", unit="batch", disable=not progress, leave=False):
        indices = range(start, min(start + config.batch_size, len(generated)))
        embeddings = _embed(embedder, generated, generated_masks, indices, config)
        distances = squared_distances(embeddings, training_embeddings, training_norms)
        best = torch.argmin(distances, dim=1)
        for row, index in enumerate(indices):
            cluster = int(best[row])
            assignment[index] = cluster
            nearest[index] = float(distances[row, cluster])
            if len(members[cluster]) < config.max_members:
                members[cluster].append(index)
                # Members are kept (on the CPU) while they fit the budget, so that the pair pass needs no
                # second forward; the rest are embedded again there.
                row_bytes = embeddings.shape[1] * embeddings.element_size()
                if (len(kept) + 1) * row_bytes <= cache_bytes:
                    kept[index] = embeddings[row].to("cpu", copy=True)

    per_cluster = np.full(clusters, np.nan, dtype=np.float64)
    for cluster, indices in enumerate(members):
        if not indices:
            continue
        missing = [i for i in indices if i not in kept]
        fresh: dict[int, torch.Tensor] = {}
        for s in range(0, len(missing), config.batch_size):
            chunk = missing[s : s + config.batch_size]
            fresh.update(
                zip(chunk, _embed(embedder, generated, generated_masks, chunk, config).to("cpu"), strict=True)
            )
        stacked = torch.stack([kept[i] if i in kept else fresh[i] for i in indices]).to(torch_device)
        per_cluster[cluster] = _mean_pair_distance(stacked)
    non_empty = per_cluster[~np.isnan(per_cluster)]
    value = (
        float(non_empty.mean()) if config.average_over == "non_empty" else float(non_empty.sum() / clusters)
    )
    sizes = np.bincount(assignment, minlength=clusters)
    logger.info("IC-LPIPS %.4f over %d of %d clusters", value, non_empty.size, clusters)
    return ICLPIPSResult(
        value=value,
        per_cluster=per_cluster,
        cluster_sizes=sizes,
        assignment=assignment,
        nearest_lpips=nearest,
        config=config,
    )
