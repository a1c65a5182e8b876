"""What test_multiprocess.py launches with ``torchrun --nproc-per-node 2`` (gloo on the CPU), in one launch
because each process spends most of its time importing torch, diffusers and peft.

In every process, into ``WORK``:
1. ``two/``: train builtin:tiny for ``STEPS`` steps (global batch ``BATCH``: one sample per process), with a
   checkpoint at step ``CHECKPOINT_AT``. After each step every process records a SHA-256 of its LoRA weights,
   and the main one saves them too (``weights/step-<k>.safetensors``);
2. ``resume-two/``: the main process copies ``two/``'s step-``CHECKPOINT_AT`` checkpoint (and its loss log)
   into a fresh folder, and both processes resume from it to ``STEPS``;
3. ``samples-two/``: ``defect-sample`` with the concept of ``two/``, each process generating its share.

Through 1 and 2 an audit hook (:func:`sys.addaudithook`) records every file-system write each process makes
in the two run folders: opening for writing, mkdir, rename / replace, remove. Each process writes its digests
and writes to ``report/rank<r>.json``; everything in ``report/`` and ``weights/`` is outside the run folders.

    python -m torch.distributed.run --standalone --nproc-per-node 2 tests/train/two_process_driver.py WORK
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
from dataclasses import replace
from pathlib import Path

STEPS, CHECKPOINT_AT, BATCH = 3, 2, 2


def training_config(output_dir: Path):
    """The run both launches train: builtin:tiny on the demo brick holes at 32 px, paper method, no preview.

    The learning rate still warms up (1e-3 × step / 5): a schedule that advanced at another pace on two
    processes than on one shows in every step's weights and in loss.csv's lr column.
    """
    from defect_train.config import TrainConfig

    return TrainConfig(
        base_model="builtin:tiny",
        defect_name="hole",
        output_dir=output_dir,
        steps=STEPS,
        batch_size=BATCH,
        resolution=32,
        learning_rate=1e-3,
        text_encoder_learning_rate=2e-4,
        warmup_steps=5,
        checkpoint_every=CHECKPOINT_AT,
        keep_checkpoints=1,
        preview_count=0,
        log_every=1,
        device="cpu",
    )


def sample_arguments(concept: Path, out: Path) -> list[str]:
    """``defect-sample`` arguments: 4 images of the demo brick with generated ellipse masks, 2 DDIM steps."""
    from defect_core.builtin.demo import ensure_demo_dataset

    return [
        "--concept",
        str(concept),
        "--dataset",
        "mvtec",
        "--dataset-root",
        str(ensure_demo_dataset()),
        "--object-name",
        "brick",
        "--shapes",
        "ellipse",
        "--count",
        "4",
        "--steps",
        "2",
        "--candidates",
        "2",
        "--select",
        "psnr",
        "--device",
        "cpu",
        "--dtype",
        "float32",
        "--out",
        str(out),
        "--quiet",
    ]


def weight_digest(trainable) -> str:
    """SHA-256 over the names and fp32 bytes of the LoRA tensors, in name order."""
    digest = hashlib.sha256()
    for name in sorted(trainable):
        digest.update(name.encode())
        digest.update(trainable[name].detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def copy_checkpoint(source: Path, target: Path, step: int) -> None:
    """A fresh run folder holding only ``source``'s checkpoint of ``step`` and its loss log."""
    from defect_train.checkpoints import checkpoint_path

    shutil.copytree(checkpoint_path(source, step), checkpoint_path(target, step))
    shutil.copy2(source / "loss.csv", target / "loss.csv")


WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
WRITE_EVENTS = ("os.mkdir", "os.rename", "os.remove", "os.rmdir", "shutil.rmtree", "os.truncate")


def record_writes(folders: list[Path], writes: list[str]) -> None:
    """Append ``"<event> <path>"`` to ``writes`` for every write this process makes inside ``folders``."""
    roots = [str(f.resolve()) + os.sep for f in folders]

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            paths = [args[0]] if isinstance(args[2], int) and args[2] & WRITE_FLAGS else []
        elif event in WRITE_EVENTS:
            paths = list(args[:2]) if event == "os.rename" else [args[0]]
        else:
            return
        for path in paths:
            if isinstance(path, (str, os.PathLike)) and any(
                os.path.abspath(path).startswith(r) for r in roots
            ):
                writes.append(f"{event} {os.fspath(path)}")

    sys.addaudithook(hook)


def main(work: Path) -> int:
    import torch.distributed as dist
    from safetensors.torch import save_file

    from defect_sample.cli import main as sample_main
    from defect_train.trainer import train_concept

    logging.basicConfig(level=logging.INFO)  # as the command line sets it: train.log gets the INFO lines
    rank = int(os.environ["RANK"])
    runs = [work / "two", work / "resume-two"]
    writes: list[str] = []
    record_writes(runs, writes)
    digests: list[tuple[int, str]] = []
    (work / "weights").mkdir(exist_ok=True)

    def after_step(report) -> None:
        digests.append((report.step, weight_digest(report.trainable)))
        if report.process_index == 0:
            save_file(
                {k: v.detach().cpu().contiguous() for k, v in report.trainable.items()},
                str(work / "weights" / f"step-{report.step}.safetensors"),
            )

    config = training_config(runs[0])
    train_concept(config, on_step=after_step)
    if rank == 0:
        copy_checkpoint(runs[0], runs[1], CHECKPOINT_AT)
    dist.barrier()
    train_concept(replace(config, output_dir=runs[1], resume=True))
    (work / "report").mkdir(exist_ok=True)
    (work / "report" / f"rank{rank}.json").write_text(json.dumps({"digests": digests, "writes": writes}))
    return sample_main(sample_arguments(config.concept_path, work / "samples-two"))


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
