"""The README's first command: `defect-train` with no arguments, in a fresh folder, offline."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from PIL import Image

from defect_core.concept_file import read_concept_card


def test_defect_train_without_arguments_trains_on_the_demo_data(tmp_path: Path) -> None:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    result = subprocess.run([sys.executable, "-m", "defect_train.cli"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    run = tmp_path / "runs" / "defectfill"
    concept = run / "concept.safetensors"
    assert f"concept:  {Path('runs/defectfill/concept.safetensors')}" in result.stdout
    card = read_concept_card(concept)
    assert (card.object_name, card.defect_name, card.base_model.id) == ("brick", "scratch", "builtin:tiny")
    assert card.training_config["steps"] == 60 and card.lora_rank == 8
    resolved = tomllib.loads((run / "config.toml").read_text())
    assert resolved["steps"] == 60 and resolved["learning_rate"] == 2e-4
    rows = (run / "loss.csv").read_text().splitlines()
    assert rows[0] == "step,total,defect,object,attention,lr" and len(rows) == 61
    preview = Image.open(run / "preview.png")
    assert preview.width > 3 * 64 and preview.height > 64
    for name in ("loss.png", "manifest.json", "train.log"):
        assert (run / name).is_file(), name
