"""Defect Spectrum's segmentation table (Yang et al., ECCV 2024) as rows of ``run_experiment``: the
``defect-inspect experiment --dataset defect-spectrum --tasks segmenter`` command.

One object of a Defect Spectrum subset (``--object-name``; the reader ``defect-spectrum``): a multi-class
segmenter (``--classes multi``: background + the object's class table, several classes per image,
cross-entropy) is trained on the real first third of every defect folder (``combined`` included, split by
file name) and tested on the held-out rest, defect images only (Defect Spectrum ships no defect-free
images; the MVTec AD ones of ``--normals-root`` join training and test with ``--normals``). Rows:

- ``real``: the real training third alone, the paper's "without Defect-Gen" number;
- ``defect-gen``: the same plus the images of ``--defect-gen DIR`` (generation output folders with
  ``labels/``, written by the Defect-Gen generator), the paper's "with Defect-Gen" number; without folders,
  ``--variants defectgen`` trains Defect-Gen on the same real first third and samples this row's images itself
  (it also adds the row ``defectgen``, those images alone;
  :mod:`defect_inspect.experiment.defectgen_row`).

The report has per-class IoU, the mIoU over the defect classes (``mIoU defects``) and with background
(``mIoU``): the paper does not say which its table is, and its evaluation code is not published. Its table is
for a whole subset, so a user with the data compares the mean over the objects with :data:`PAPER_MIOU`.
"""

from __future__ import annotations

from typing import Any

DEFECT_GEN_ROW = "defect-gen"
"""The row trained on the real training third plus Defect-Gen's images (``ExperimentConfig.defect_gen``, else
the experiment's own Defect-Gen with ``--variants defectgen``)."""

DEFECT_SPECTRUM_PRESET: dict[str, Any] = {
    "baselines": ("real",),
    "variants": (),
    "tasks": ("segmenter",),
    "segmenter": "deeplabv3plus",
    "segmenter_classes": "multi",
    "normals": False,
    "synthetic_metrics": "off",
}
"""What ``--dataset defect-spectrum`` sets when no config file is given and the flags leave it open: the
real row, DeepLabV3+ (the paper's first segmenter; ``--segmenter segformer`` is its MiT-B0) in multi-class
mode, defect images only, and no KID (it needs the Inception weights; ``--synthetic-metrics pretrained``)."""

PAPER_MIOU: dict[str, dict[str, tuple[float, float]]] = {
    "DS-MVTec": {"DeepLabV3+": (51.58, 55.55), "Mask2Former": (45.70, 50.16), "MiT-B0": (46.45, 56.21)},
    "DS-VISION": {"DeepLabV3+": (52.33, 53.46), "Mask2Former": (54.12, 55.47), "MiT-B0": (49.62, 50.75)},
    "DS-Cotton": {"DeepLabV3+": (48.73, 58.58), "Mask2Former": (64.09, 65.39), "MiT-B0": (50.52, 55.86)},
}
"""Defect Spectrum's mIoU (%) without → with Defect-Gen data, per subset and segmenter (the project page's
table; Mask2Former is not one of our segmenters)."""
