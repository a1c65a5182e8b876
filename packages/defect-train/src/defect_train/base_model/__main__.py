"""``python -m defect_train.base_model``: train the small surface inpainting base model (issue 7, part 1).

  train-vae    stage 1: AutoencoderKL (64 px -> 16x16x4 latents, blocks 32/64/64), L1 + 1e-6 KL
  train-unet   stage 2: 9-channel UNet (blocks 64/128/128) + 2-layer CLIP text encoder, SD inpainting recipe
  export       both stages -> a diffusers StableDiffusionInpaintPipeline folder (fp16 safetensors)

Measured on a 2-core CPU for builtin:texture v2 (the defaults; the model card has the figures): the
0.95 M-parameter VAE, 1000 steps at batch 16, about 0.4 s per step, 7 min; the 5.9 M-parameter UNet with its
0.48 M text encoder, 1500 steps at batch 32, about 0.9 s per step, 23 min; half of the crops of both stages
carry random marks (``base_model.marks``). The fp16 export is 14.8 MB. Both stages show a progress bar and
write into their folder the resolved config.toml, loss.csv and loss.png, resumable checkpoints, a picture
(reconstructions.png, fills.png) and manifest.json. Ctrl-C writes a checkpoint and prints the command that
continues (the same one with --resume). ``--config FILE.toml`` sets a subcommand's defaults; explicit flags win.

  python -m defect_train.base_model train-vae --output-dir runs/base-model/vae
  python -m defect_train.base_model train-unet --vae-dir runs/base-model/vae/vae --output-dir runs/base-model/unet
  python -m defect_train.base_model export --output runs/base-model/pipeline
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from defect_core.configs import add_config_arguments, parse_config
from defect_core.errors import DefectfillError
from defect_train.base_model.config import ExportConfig, UnetStageConfig, VaeStageConfig

COMMANDS = {
    "train-vae": (VaeStageConfig, "stage 1: train the VAE on texture crops"),
    "train-unet": (
        UnetStageConfig,
        "stage 2: train the inpainting UNet and text encoder on the VAE's latents",
    ),
    "export": (ExportConfig, "write the diffusers inpainting pipeline folder"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m defect_train.base_model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(COMMANDS) + "}")
    for name, (cls, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=f"{help_text}. {cls.__doc__}")
        p.add_argument(
            "--config", metavar="FILE.toml", help="TOML file whose keys set the defaults of the flags"
        )
        add_config_arguments(p, cls)
        p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    command = parser.parse_args(argv).command
    config, args = parse_config(COMMANDS[command][0], argv, parser)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s"
    )
    from defect_train.base_model import export_pipeline, train_unet, train_vae
    from defect_train.base_model.stage_pictures import FILLS, RECONSTRUCTIONS
    from defect_train.interrupt import TrainingInterrupted

    try:
        if args.command == "train-vae":
            print(f"vae: {train_vae(config).model_dir}")
        elif args.command == "train-unet":
            print(f"unet, text encoder, tokenizer: {train_unet(config).model_dir}")
        else:
            print(f"pipeline: {export_pipeline(config)}")
    except TrainingInterrupted as exc:
        print(f"{parser.prog} {args.command}: {exc}", file=sys.stderr)
        return 130
    except (DefectfillError, ValueError) as exc:  # NonFiniteLossError is a DefectfillError
        print(f"{parser.prog} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    if args.command != "export":
        run = config.output_dir
        print(
            f"manifest: {run / 'manifest.json'}\nloss log: {run / 'loss.csv'} (plot: {run / 'loss.png'})\n"
            f"picture:  {run / (RECONSTRUCTIONS if args.command == 'train-vae' else FILLS)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
