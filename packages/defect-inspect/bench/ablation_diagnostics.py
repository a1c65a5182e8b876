"""Why the loss ablations and the 0.5 threshold behave as they do in the proof table: numbers read from the
files of a finished ``defect-inspect experiment --dataset surface-strips --seeds ...`` run.

1. **L_attn and L_obj, with and without their weight.** Every concept logs all three loss terms each step,
   also the one whose weight an ablation sets to 0 (``loss.csv``). If L_attn ends as low without its weight
   as with it, the attention loss had nothing to teach: the token's attention already lines up with the
   mask. The script prints the mean of the last 50 steps of each term per concept, and the UNet's decoder
   cross-attention resolutions at the concept's latent size (the maps L_attn compares with the mask).
2. **The segmenter's threshold.** Per row: the threshold at which the pixel F1 on the real test split peaks,
   the validation-calibrated threshold the run used, mIoU, and the share of defect pixels in its training
   masks (class balance).

    uv run python packages/defect-inspect/bench/ablation_diagnostics.py runs/surface-strips
"""

from __future__ import annotations

import argparse
import csv
import json
import tomllib
from pathlib import Path

import numpy as np
from PIL import Image

CONCEPTS = ("defectfill", "no-object-loss", "no-attention-loss", "no-defect-loss")
TERMS = ("defect", "object", "attention")


def _tail_means(loss_csv: Path, last: int = 50) -> dict[str, float]:
    rows = list(csv.DictReader(loss_csv.open()))[-last:]
    return {t: float(np.mean([float(r[t]) for r in rows])) for t in TERMS}


def _mask_share(folder: Path) -> float | None:
    masks = sorted((folder / "mask").glob("*.png"))
    if not masks:
        return None
    return float(np.mean([(np.asarray(Image.open(m).convert("L")) > 127).mean() for m in masks]))


def _miou_at(test_dir: Path, threshold: float) -> float:
    """mIoU (defect and background IoU averaged, one confusion over all pixels) of the run's test maps at
    ``threshold``, from the ``maps/*.npy`` and ``masks/*.png`` the run wrote."""
    inter = union = inter_bg = union_bg = 0
    for path in sorted((test_dir / "maps").glob("*.npy")):
        predicted = np.load(path) >= threshold
        truth = np.asarray(Image.open(test_dir / "masks" / f"{path.stem}.png")) > 127
        inter += int(np.sum(predicted & truth))
        union += int(np.sum(predicted | truth))
        inter_bg += int(np.sum(~predicted & ~truth))
        union_bg += int(np.sum(~predicted | ~truth))
    return (inter / max(union, 1) + inter_bg / max(union_bg, 1)) / 2


def _attention_resolutions(seed_dir: Path) -> list[tuple[int, int]]:
    """(h, w) of each decoder cross-attention layer of the experiment's base model at its concept resolution."""
    import torch

    from defect_sample.model_loading import load_inpaint_pipeline
    from defect_train.attention import decoder_cross_attention_names

    config = tomllib.loads((seed_dir / "config.toml").read_text())
    pipe = load_inpaint_pipeline(config["base_model"])
    unet = pipe.unet
    # processor names end in ".processor"; the module is the attention layer itself
    names = {n.removesuffix(".processor") for n in decoder_cross_attention_names(unet)}
    factor = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    side = config["concept_resolution"] // factor
    shapes: dict[str, tuple[int, int]] = {}

    def hook(name):
        def record(module, args, kwargs, output):
            tokens = args[0].shape[1]
            s = int(round(tokens**0.5))
            shapes[name] = (s, s)

        return record

    handles = [
        module.register_forward_hook(hook(name), with_kwargs=True)
        for name, module in unet.named_modules()
        if name in names
    ]
    with torch.no_grad():
        unet(
            torch.zeros(1, unet.config.in_channels, side, side),
            torch.tensor([10]),
            encoder_hidden_states=torch.zeros(1, 77, unet.config.cross_attention_dim),
        )
    for h in handles:
        h.remove()
    return [shapes[n] for n in sorted(shapes)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="the experiment's --out (with seed-<n>/ folders)")
    args = parser.parse_args()
    seeds = sorted(args.out.glob("seed-*")) or [args.out]

    print("## Loss terms, mean of the last 50 steps (every concept logs all three)\n")
    print("| seed | defect | concept | L_def | L_obj | L_attn |")
    print("|---|---|---|---:|---:|---:|")
    for seed_dir in seeds:
        for concept in CONCEPTS:
            for run in sorted((seed_dir / "concepts" / concept).glob("*/loss.csv")):
                m = _tail_means(run)
                print(
                    f"| {seed_dir.name} | {run.parent.name} | {concept} | {m['defect']:.4f} | "
                    f"{m['object']:.4f} | {m['attention']:.4f} |"
                )
    first = seeds[0]
    print(f"\nDecoder cross-attention maps at the concepts' latent size: {_attention_resolutions(first)}")
    for defect_dir in sorted((first / "concepts" / "defectfill").glob("*")):
        print(f"{defect_dir.name}: see the concept's preview {defect_dir / 'preview.png'}")

    print("\n## Segmenter thresholds\n")
    print(
        "| seed | row | threshold used | best-F1 threshold (test) | pixel F1-max | mIoU | mIoU at 0.5 | "
        "defect pixels in the training masks |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for seed_dir in seeds:
        for run in sorted((seed_dir / "runs").glob("*/segmenter/metrics.json")):
            row = run.parent.parent.name
            metrics = json.loads(run.read_text())
            results = metrics["results"]
            sources = [Path(p) for p in metrics["inputs"]["train"]]
            shares = [s for s in (_mask_share(p) for p in sources) if s is not None]
            share = f"{np.mean(shares):.3f}" if shares else "real only"
            print(
                f"| {seed_dir.name} | {row} | {results['training'].get('threshold', 0.5):.3f} | "
                f"{results['localization']['pixel_f1_threshold']:.3f} | "
                f"{results['localization']['pixel_f1_max']:.3f} | {results['segmentation']['miou']:.3f} | "
                f"{_miou_at(run.parent / 'test', 0.5):.3f} | {share} |"
            )


if __name__ == "__main__":
    main()
