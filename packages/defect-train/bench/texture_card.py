"""The model card's quality figures of a small surface base model (builtin:texture's card), against the floor of
builtin:tiny (random weights) measured in the same process:

- VAE reconstruction L1 (images in [-1, 1]) on 96 held-out crops, on the same crops with 1-3 random marks
  each (base_model.marks), and on the demo's brick images with a hole (all of them, test split included);
- the fill test: KID between fills of a 24 x 32 px hole in 48 held-out crops (30 DDIM steps, "a photo of
  {surface}") and 48 other real held-out crops, with the seeded random ConvNet features of defect-metrics
  (Inception-v3 weights are not available offline);
- mean RGB inside the hole of those fills and of the crops themselves (a base model should continue the
  surface, not paint a mark, when the prompt does not ask for one).

    uv run python packages/defect-train/bench/texture_card.py [MODEL]     # default builtin:texture
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from PIL import Image

from defect_core.builtin.demo import ensure_demo_dataset
from defect_core.datasets import create_reader
from defect_metrics import RandomConvFeatures, kid
from defect_sample.conditioning import pil_to_tensor
from defect_sample.model_loading import load_inpaint_pipeline
from defect_train.base_model.fill_test import fill_holes, hole_mask
from defect_train.base_model.marks import add_random_marks
from defect_train.base_model.texture_data import TextureCrops

SURFACES = ("brick", "grass", "gravel")


def random_conv_features(images: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) in [-1, 1] -> (N, 96) features of defect-metrics' seeded random ConvNet."""
    with torch.no_grad():
        return RandomConvFeatures()((images.float() + 1.0) * 127.5).numpy().astype(np.float64)


@torch.no_grad()
def _l1(vae, images: torch.Tensor) -> float:
    out = []
    for batch in images.split(16):
        out.append(
            (vae.decode(vae.encode(batch).latent_dist.mode()).sample.clamp(-1, 1) - batch).abs().mean()
        )
    return float(torch.stack(out).mean())


def _demo_holes() -> torch.Tensor:
    reader = create_reader("mvtec", ensure_demo_dataset())
    examples = reader.defect_examples("brick", "hole")
    images = [Image.open(e.image).convert("RGB").resize((64, 64), Image.Resampling.LANCZOS) for e in examples]
    return pil_to_tensor(images)


def measure(model: str) -> dict[str, float]:
    torch.manual_seed(0)
    pipe = load_inpaint_pipeline(model)
    vae = pipe.vae.float().eval()
    data = TextureCrops.from_surfaces(SURFACES, size=64, min_side=64, max_side=320)
    crops96, _ = data.draw(np.random.default_rng(0), 96, split="held_out")
    marked, _ = add_random_marks(crops96, np.random.default_rng(1), probability=1.0)
    figures = {
        "l1_held_out": _l1(vae, crops96),
        "l1_marked": _l1(vae, marked),
        "l1_demo_holes": _l1(vae, _demo_holes()),
    }
    crops, surfaces = data.draw(np.random.default_rng(0), 48, split="held_out")
    reference, _ = data.draw(np.random.default_rng(1), 48, split="held_out")
    fills = fill_holes(pipe, crops, surfaces)
    figures["fill_kid"] = kid(
        random_conv_features(reference), random_conv_features(fills), subset_size=48
    ).mean
    inside = torch.from_numpy(hole_mask())
    figures["fill_mean_rgb"] = ((fills[:, :, inside].mean(dim=(0, 2)) + 1) * 127.5).tolist()
    figures["crop_mean_rgb"] = ((crops[:, :, inside].mean(dim=(0, 2)) + 1) * 127.5).tolist()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", nargs="?", default="builtin:texture")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    rows = {args.model: measure(args.model), "builtin:tiny (floor)": measure("builtin:tiny")}
    keys = list(next(iter(rows.values())))
    print("| figure | " + " | ".join(rows) + " |")
    print("|---|" + "---|" * len(rows))
    for key in keys:
        cells = []
        for figures in rows.values():
            value = figures[key]
            cells.append(" ".join(f"{v:.0f}" for v in value) if isinstance(value, list) else f"{value:.5f}")
        print(f"| {key} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
