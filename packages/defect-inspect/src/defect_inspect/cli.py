"""Command line of defect-inspect: a thin layer over the library functions.

Subcommands: train-classifier, train-segmenter, train-detector (``train_inspection_model``), evaluate
(``evaluate``), predict (``predict``) and experiment (``run_experiment``; needs the ``experiment`` extra).
Every subcommand takes ``--config FILE.toml`` (keys = flag names with underscores); explicit flags win.

Single process: every subcommand runs in one process, on one GPU or the CPU, and refuses a multi-process
launch (torchrun / accelerate launch), in which each process would train the same model into the same
files. For several GPUs run independent jobs, one per GPU (CUDA_VISIBLE_DEVICES=i); for faster concepts
and generation use defect-train and defect-sample, which do run on several processes.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from defect_core.configs import add_command_arguments, add_config_arguments, parse_config
from defect_core.errors import DefectfillError
from defect_inspect import __version__

logger = logging.getLogger(__name__)

EPILOG = """examples:
  defect-inspect train-classifier --train synth/scratch --train synth/hole --dataset demo --out runs/cls
  defect-inspect train-segmenter --train synth/ --dataset mvtec --dataset-root /data/mvtec --object-name bottle \\
      --out runs/seg
  defect-inspect train-detector --train diag/ --dataset ksdd2 --dataset-root /data/ksdd2 --model resnet50 --out runs/det
  defect-inspect train-detector --preset diag --train diag/ --real-train all --dataset ksdd2 --dataset-root /data/ksdd2 \
      --out runs/diag-full-shot     # DIAG's detector: official test split, per-epoch AP in metrics.csv
  defect-inspect evaluate --checkpoint runs/seg/model.safetensors --dataset demo --out runs/seg-eval
  defect-inspect predict --checkpoint runs/seg/model.safetensors --images new_parts/ --out runs/pred
  defect-inspect experiment                      # the whole protocol on the demo data, a few CPU minutes
  defect-inspect experiment --protocol diag --dataset ksdd2 --dataset-root /data/ksdd2 --object-name ksdd2 --out runs/diag
"""

TRAIN_COMMANDS = {
    "train-classifier": ("classifier", "train a defect-type classifier (default: timm ResNet-34)"),
    "train-segmenter": (
        "segmenter",
        "train a defect segmenter (default: smp UNet, ResNet-34 encoder, focal loss)",
    ),
    "train-detector": ("detector", "train a good vs. defect detector (default: ResNet-50)"),
}


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _common(parser: argparse.ArgumentParser) -> None:
    add_command_arguments(parser)


def _dataset_aliases(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root", dest="dataset_root", type=Path, default=argparse.SUPPRESS, help="alias of --dataset-root"
    )
    parser.add_argument(
        "--object", dest="object_name", default=argparse.SUPPRESS, help="alias of --object-name"
    )
    parser.add_argument(
        "--defects",
        dest="defects",
        type=_comma_list,
        metavar="LIST",
        default=argparse.SUPPRESS,
        help="comma-separated defect types (default: all)",
    )


def _train_arguments(parser: argparse.ArgumentParser) -> None:
    from defect_inspect.training.config import REAL_TRAIN, REAL_TRAIN_HELP, InspectConfig

    _common(parser)
    add_config_arguments(parser, InspectConfig, skip=("task", "train", "defects", "real_train"))
    # a bare --real-train keeps its meaning from before it took a value: the training third
    parser.add_argument(
        "--real-train",
        dest="real_train",
        nargs="?",
        const="train",
        choices=REAL_TRAIN,
        default=argparse.SUPPRESS,
        help=f"{REAL_TRAIN_HELP}; a bare --real-train is 'train' (default: 'none')",
    )
    parser.add_argument(
        "--no-real-train",
        dest="real_train",
        action="store_const",
        const="none",
        default=argparse.SUPPRESS,
        help="no real defects (--real-train none)",
    )
    parser.add_argument(
        "--train",
        dest="train",
        action="extend",
        nargs="+",
        type=Path,
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="generation output folder (defect/, mask/, manifest.jsonl); repeat for several",
    )
    _dataset_aliases(parser)


def _evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    from defect_inspect.evaluation.evaluate import EvaluateConfig

    _common(parser)
    add_config_arguments(parser, EvaluateConfig, skip=("defects",))
    _dataset_aliases(parser)


def _predict_arguments(parser: argparse.ArgumentParser) -> None:
    from defect_inspect.evaluation.predict import PredictConfig

    _common(parser)
    add_config_arguments(parser, PredictConfig)


def _experiment_arguments(parser: argparse.ArgumentParser) -> None:
    from defect_inspect.experiment import DIAG_ROWS, VARIANTS, ExperimentConfig

    _common(parser)
    add_config_arguments(
        parser, ExperimentConfig, skip=("defects", "baselines", "variants", "tasks", "diag_rows")
    )
    parser.add_argument(
        "--diag-rows",
        dest="diag_rows",
        type=_comma_list,
        metavar="LIST",
        default=argparse.SUPPRESS,
        help=f"rows of --protocol diag, comma-separated, among {','.join(DIAG_ROWS)} (default: all)",
    )
    _dataset_aliases(parser)
    parser.add_argument(
        "--baselines",
        dest="baselines",
        type=_comma_list,
        metavar="LIST",
        default=argparse.SUPPRESS,
        help="baseline rows, comma-separated, among real,cut-paste,real+cut-paste (default: real,cut-paste)",
    )
    parser.add_argument(
        "--variants",
        dest="variants",
        type=_comma_list,
        metavar="LIST",
        default=argparse.SUPPRESS,
        help=f"generated rows, comma-separated, among {','.join(VARIANTS)}",
    )
    parser.add_argument(
        "--tasks",
        dest="tasks",
        type=_comma_list,
        metavar="LIST",
        default=argparse.SUPPRESS,
        help="inspection models, comma-separated: classifier,segmenter",
    )


def build_parser() -> argparse.ArgumentParser:
    """The parser: ``--version`` and one subparser per subcommand."""
    parser = argparse.ArgumentParser(
        prog="defect-inspect",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (task, help_text) in TRAIN_COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        _train_arguments(sub)
        sub.set_defaults(task=task)
    for name, help_text, adder in (
        (
            "evaluate",
            "score a trained model on a real test split (metrics by defect-metrics)",
            _evaluate_arguments,
        ),
        ("predict", "run a trained model on a folder of images", _predict_arguments),
        (
            "experiment",
            "train concepts, generate, train and test inspection models, report (needs "
            "defect-inspect[experiment]); with a built-in dataset and no --config, its preset sets what the "
            "flags leave open: --dataset demo (the default; builtin:texture, 64 px, a minute or two on "
            "a CPU) or --dataset surface-strips (the README's proof-of-method table, under an hour); "
            "--dataset defect-spectrum presets Defect Spectrum's rows (a multi-class DeepLabV3+ on the real "
            "first third; --defect-gen DIR adds the Defect-Gen row)",
            _experiment_arguments,
        ),
    ):
        adder(commands.add_parser(name, help=help_text, description=help_text))
    return parser


def _presets(command: str) -> tuple[dict | None, str]:
    """The presets of ``command`` and the config field that names one (parse_config's arguments)."""
    if command in TRAIN_COMMANDS:
        from defect_inspect.training.presets import INSPECT_PRESETS

        return INSPECT_PRESETS, "preset"
    if command == "experiment":
        from defect_inspect.experiment import PROTOCOL_PRESETS

        return PROTOCOL_PRESETS, "protocol"
    return None, "preset"


def _config_class(command: str) -> type:
    if command in TRAIN_COMMANDS:
        from defect_inspect.training.config import InspectConfig

        return InspectConfig
    if command == "evaluate":
        from defect_inspect.evaluation.evaluate import EvaluateConfig

        return EvaluateConfig
    if command == "predict":
        from defect_inspect.evaluation.predict import PredictConfig

        return PredictConfig
    from defect_inspect.experiment import ExperimentConfig

    return ExperimentConfig


def _run(command: str, config, args: argparse.Namespace) -> str:
    """Run ``command`` with its config; return what to print."""
    progress = not args.quiet
    if command in TRAIN_COMMANDS:
        from defect_inspect.run_training import train_inspection_model

        result = train_inspection_model(config, progress=progress)
        return (
            f"model:       {result.checkpoint}\nmetrics:     {result.metrics_file}\n"
            f"predictions: {result.picture}\nconfig:      {result.config_file}"
        )
    if command == "evaluate":
        from defect_inspect.evaluation.evaluate import evaluate

        evaluation = evaluate(config, progress=progress)
        confusion = evaluation.files.get("confusion")  # a multi-class segmenter's
        return f"metrics:     {evaluation.metrics_file}\npredictions: {evaluation.picture}" + (
            f"\nconfusion:   {confusion}" if confusion else ""
        )
    if command == "predict":
        from defect_inspect.evaluation.predict import predict

        prediction = predict(config, progress=progress)
        return f"{prediction.images} image(s): {prediction.csv}\npredictions: {prediction.picture}"
    from defect_inspect.experiment import run_experiment

    experiment = run_experiment(config, progress=progress)
    return f"report: {experiment.report}\n        {experiment.report_png}"


def parse_command(parser: argparse.ArgumentParser, argv: Sequence[str]) -> tuple[Any, argparse.Namespace]:
    """The resolved config of the subcommand in ``argv`` and the parsed flags: dataclass defaults < preset
    (``--preset`` of train-*, ``--protocol`` of experiment) < ``--config`` file < explicit flags; for
    ``experiment`` without a config file, a built-in dataset's preset then fills what the flags left open."""
    command = parser.parse_args(argv).command
    presets, preset_field = _presets(command)
    config, args = parse_config(
        _config_class(command), argv, parser, presets=presets, preset_field=preset_field
    )
    if command == "experiment" and not args.config:
        from defect_inspect.experiment import PRESETS

        # a built-in dataset's preset only fills in what the user did not say
        preset = PRESETS.get(config.dataset, {})
        config = dataclasses.replace(config, **{k: v for k, v in preset.items() if k not in vars(args)})
    return config, args


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, run, print where the outputs went; 1 with a message naming the problem on bad input."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    command = parser.parse_args(argv).command
    if command is None:
        parser.print_help()
        return 0
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world > 1:
        print(
            f"defect-inspect {command}: error: runs in a single process, but this is one of {world} processes "
            "(WORLD_SIZE); run it without torchrun / accelerate launch",
            file=sys.stderr,
        )
        return 1
    config, args = parse_command(parser, argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        summary = _run(command, config, args)
    except ImportError as exc:
        if command != "experiment":
            raise
        print(f"defect-inspect {command}: error: {exc}", file=sys.stderr)
        return 1
    except (DefectfillError, ValueError) as exc:
        print(f"defect-inspect {command}: error: {exc}", file=sys.stderr)
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
