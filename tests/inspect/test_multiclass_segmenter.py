"""Multi-class segmentation (``--classes multi``, issue 13 item 4): class tables merged by name, label images
resized without losing a defect, training from generation outputs and from the defect-spectrum reader with
UNet, DeepLabV3+ and SegFormer, evaluate / predict outputs, and metrics that are defect-metrics' on the files
written (checked against hand counts)."""

from __future__ import annotations

import json
import logging
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from class_label_helpers import (
    BOTTLE,
    DS_FOLDERS,
    labelled_pair,
    write_ds_tree,
    write_labelled_generation_output,
    write_mvtec_normals,
)
from inspect_helpers import tiny_config
from PIL import Image

from defect_core.class_labels import load_labels
from defect_core.errors import InputFileError
from defect_core.masks import resize_mask_covering
from defect_inspect import EvaluateConfig, PredictConfig, evaluate, predict, train_inspection_model
from defect_inspect.cli import main
from defect_inspect.data.class_tables import ClassTableError, label_lookup, model_classes
from defect_inspect.data.generated import read_generation_output
from defect_inspect.data.items import InspectionItem
from defect_inspect.data.label_resize import resize_labels_covering
from defect_inspect.data.pixel_labels import model_labels
from defect_inspect.data.torch_dataset import InspectionDataset
from defect_inspect.training.checkpoint import read_checkpoint_info
from defect_metrics import segmentation_metrics

SPOTS = {1: "scratch", 2: "spot"}


def _item(tmp_path: Path, name: str, labels: np.ndarray, classes: dict[int, str]) -> InspectionItem:
    image = tmp_path / f"{name}.png"
    Image.fromarray(np.zeros((*labels.shape, 3), np.uint8)).save(image)
    label_file = tmp_path / f"{name}_labels.png"
    Image.fromarray(labels.astype(np.uint8), mode="L").save(label_file)
    return InspectionItem(image, label_file, "combined", "real", 1, labels=label_file, classes=classes)


def _binary_item(tmp_path: Path, name: str, label: str) -> InspectionItem:
    mask = tmp_path / f"{name}_mask.png"
    Image.fromarray(np.full((4, 4), 255, np.uint8), mode="L").save(mask)
    return InspectionItem(tmp_path / f"{name}.png", mask, label, "generated")


# --- class tables ------------------------------------------------------------------------------------------


def test_tables_that_agree_keep_their_ids(tmp_path: Path) -> None:
    ds = _item(tmp_path, "a", np.zeros((4, 4)), BOTTLE)
    binary = _binary_item(tmp_path, "b", "broken_large")  # {1: broken_large}: agrees with the DS table
    good = InspectionItem(tmp_path / "g.png", None, "good", "normal")
    assert model_classes([ds, binary, good]) == [
        "background",
        "broken_large",
        "broken_small",
        "contamination",
    ]
    # a table with a gap closes up, in id order
    assert model_classes([_item(tmp_path, "c", np.zeros((4, 4)), {2: "zeta", 5: "alpha"})]) == [
        "background",
        "zeta",
        "alpha",
    ]


def test_tables_that_disagree_merge_by_name_in_name_order(tmp_path: Path, caplog) -> None:
    a = _item(tmp_path, "a", np.zeros((4, 4)), {1: "spot", 2: "dent"})
    b = _binary_item(tmp_path, "b", "crack")  # {1: crack}: id 1 is spot elsewhere
    with caplog.at_level(logging.INFO, logger="defect_inspect.data.class_tables"):
        assert model_classes([a, b]) == ["background", "crack", "dent", "spot"]
    assert "merged by name" in caplog.text
    # two binary sets of different defect types: one class each, by name (the --multiclass order)
    assert model_classes([_binary_item(tmp_path, "x", "scratch"), _binary_item(tmp_path, "y", "hole")]) == [
        "background",
        "hole",
        "scratch",
    ]


def test_class_table_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ClassTableError, match="named 'background'"):
        model_classes([_item(tmp_path, "a", np.zeros((4, 4)), {1: "background"})])
    with pytest.raises(ClassTableError, match="no defect class"):
        model_classes([InspectionItem(tmp_path / "g.png", None, "good", "normal")])
    item = _item(tmp_path, "a", np.zeros((4, 4)), {1: "spot", 2: "dent"})
    with pytest.raises(
        ClassTableError, match=r"not in class_names \['spot'\]: dent \(e\.g\. .*a_labels\.png\)"
    ):
        model_classes([item], class_names=["spot"])
    assert model_classes([item], class_names=["spot", "dent", "rust"]) == [
        "background",
        "spot",
        "dent",
        "rust",
    ]
    with pytest.raises(ClassTableError, match="not among the model's classes"):
        label_lookup({1: "rust"}, ["background", "spot"])


def test_labels_are_translated_by_class_name(tmp_path: Path) -> None:
    labels = np.array([[0, 1, 2], [2, 2, 0]])
    item = _item(tmp_path, "a", labels, {1: "spot", 2: "dent"})
    # model classes in another order: dent is 1, spot is 2
    assert model_labels(item, ["background", "dent", "spot"]).tolist() == [[0, 2, 1], [1, 1, 0]]
    bad = _item(tmp_path, "bad", np.array([[0, 7]]), {1: "spot"})
    with pytest.raises(InputFileError, match=r"bad_labels\.png: label value\(s\) \[7\]"):
        model_labels(bad, ["background", "spot"])


# --- resizing ------------------------------------------------------------------------------------------------


def test_resized_labels_by_hand() -> None:
    labels = np.array(
        [
            [2, 2, 0, 0],
            [2, 1, 0, 3],
            [1, 1, 0, 0],
            [1, 2, 0, 0],
        ],
        dtype=np.uint8,
    )
    # 2 x 2 cells of 2 x 2 pixels: top-left 3 px of class 2, 1 of class 1 -> 2; top-right one pixel of class 3
    # (a defect is never lost); bottom-left 3 px of class 1 -> 1; bottom-right background
    assert resize_labels_covering(labels, (2, 2)).tolist() == [[2, 3], [1, 0]]
    # a tie (two pixels each) goes to the lower id
    assert resize_labels_covering(np.array([[1, 1], [2, 2]], np.uint8), (1, 1)).tolist() == [[1]]
    # growing is nearest neighbour: every class keeps its pixels
    assert resize_labels_covering(np.array([[0, 3]], np.uint8), (4, 2)).tolist() == [[0, 0, 3, 3]] * 2


@pytest.mark.parametrize("size", [(7, 5), (32, 32), (13, 40)])
def test_resized_labels_are_the_binary_target_split_into_classes(size: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(size))
    labels = np.where(rng.random((23, 29)) < 0.9, 0, rng.integers(1, 5, (23, 29))).astype(np.uint8)
    resized = resize_labels_covering(labels, size)
    assert resized.shape == (size[1], size[0])
    np.testing.assert_array_equal(resized > 0, resize_mask_covering(labels > 0, size))
    assert set(np.unique(resized)) <= set(np.unique(labels))


def test_dataset_gives_labels_flipped_with_the_image(tmp_path: Path) -> None:
    image_array, labels = labelled_pair(np.random.default_rng(0), (1, 2))
    Image.fromarray(image_array).save(tmp_path / "i.png")
    Image.fromarray(labels, mode="L").save(tmp_path / "l.png")
    item = InspectionItem(
        tmp_path / "i.png", tmp_path / "l.png", "combined", "real", 1, tmp_path / "l.png", SPOTS
    )
    plain = InspectionDataset([item], ["background", "scratch", "spot"], 32, pixel_classes=None)[0]
    assert "labels" not in plain  # the binary path is unchanged
    classes = ["background", "spot", "scratch"]
    fixed = InspectionDataset([item], classes, 32, pixel_classes=classes)[0]
    swapped = np.array([0, 2, 1])[labels]  # scratch -> 2, spot -> 1
    np.testing.assert_array_equal(fixed["labels"].numpy(), swapped)
    assert fixed["labels"].dtype == torch.int64
    flipped = InspectionDataset([item], classes, 32, augment=True, pixel_classes=classes)
    seen = set()
    torch.manual_seed(0)
    for _ in range(12):
        sample = flipped[0]
        is_flipped = not torch.equal(sample["image"], fixed["image"])
        expected = np.flip(swapped, axis=1) if is_flipped else swapped
        np.testing.assert_array_equal(sample["labels"].numpy(), expected)
        np.testing.assert_array_equal(sample["mask"][0].numpy() > 0, expected > 0)
        seen.add(is_flipped)
    assert seen == {True, False}


# --- training, evaluation, prediction ------------------------------------------------------------------------


def _two_class_combos(n: int) -> list[tuple[int, ...]]:
    return [(1,), (2,), (1, 2)] * n


def _segmentation_from_files(out: Path, classes: list[str]) -> dict:
    stems = sorted(p.stem for p in (out / "targets").glob("*.png"))
    assert stems and stems == sorted(p.stem for p in (out / "predictions").glob("*.png"))
    targets = [load_labels(out / "targets" / f"{s}.png") for s in stems]
    predictions = [load_labels(out / "predictions" / f"{s}.png") for s in stems]
    expected = segmentation_metrics(predictions, targets, len(classes), class_names=classes, background=0)
    return json.loads(json.dumps(expected.as_dict()))


def test_train_segmenter_multi_from_generation_outputs_with_the_cli(tmp_path: Path, capsys) -> None:
    spots = write_labelled_generation_output(tmp_path / "gen", SPOTS, _two_class_combos(4))
    out = tmp_path / "run"
    code = main(
        [
            "train-segmenter",
            "--classes",
            "multi",
            "--train",
            str(spots),
            "--model",
            "unet",
            "--encoder",
            "resnet18",
            "--no-pretrained",
            "--epochs",
            "2",
            "--batch-size",
            "6",
            "--resolution",
            "32",
            "--learning-rate",
            "0.001",
            "--val-fraction",
            "0.3",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    info = read_checkpoint_info(out / "model.safetensors")
    assert info.label_images and info.multiclass
    assert info.classes == ("background", "scratch", "spot") and info.num_outputs == 3
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["classes"] == "multi" and config["class_names"] == ["scratch", "spot"]
    assert config["loss"] == "ce"  # softmax cross-entropy is the multi-class default
    document = json.loads((out / "metrics.json").read_text())
    segmentation = document["results"]["segmentation"]
    assert set(segmentation["iou"]) == {"background", "scratch", "spot"}
    assert {"miou_defects", "miou_with_background", "pixel_accuracy"} <= set(segmentation)
    # the scored files are the validation items (no dataset): the metrics are defect-metrics' on them
    assert segmentation == _segmentation_from_files(out / "validation", ["background", "scratch", "spot"])
    # the targets written are the generated label images (same table, same ids)
    for target in (out / "validation" / "targets").glob("*.png"):
        stem = target.stem.removeprefix("combined_")
        np.testing.assert_array_equal(load_labels(target), load_labels(spots / "labels" / f"{stem}.png"))
    assert (out / "validation" / "confusion.png").is_file()
    assert json.loads((out / "validation" / "classes.json").read_text()) == {
        "0": "background",
        "1": "scratch",
        "2": "spot",
    }


@pytest.mark.parametrize(("model", "encoder"), [("deeplabv3plus", "resnet18"), ("segformer", "mit_b0")])
def test_deeplab_and_segformer_learn_background_plus_the_classes(
    tmp_path: Path, model: str, encoder: str
) -> None:
    spots = write_labelled_generation_output(tmp_path / "gen", SPOTS, _two_class_combos(3))
    config = tiny_config(
        tmp_path, "segmenter", model=model, encoder=encoder, classes="multi", train=(spots,), val_fraction=0.0
    )
    result = train_inspection_model(config, progress=False)
    info = read_checkpoint_info(result.checkpoint)
    assert (info.model, info.encoder, info.num_outputs) == (model, encoder, 3)
    from defect_inspect.training.checkpoint import load_checkpoint

    network, _ = load_checkpoint(result.checkpoint)
    with torch.no_grad():
        assert network(torch.zeros(1, 3, 32, 32)).shape == (1, 3, 32, 32)
    assert result.metrics["results"]["segmentation"]["class_names"] == ["background", "scratch", "spot"]


def test_binary_mode_ignores_the_labels(tmp_path: Path) -> None:
    spots = write_labelled_generation_output(tmp_path / "gen", SPOTS, _two_class_combos(2))
    assert all(i.labels is not None for i in read_generation_output(spots))
    result = train_inspection_model(tiny_config(tmp_path, "segmenter", train=(spots,), val_fraction=0.0))
    info = read_checkpoint_info(result.checkpoint)
    assert info.classes == ("background", "defect") and not info.label_images and info.num_outputs == 1
    assert set(result.metrics["results"]["segmentation"]) == {"miou", "pixel_accuracy", "iou", "confusion"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"task": "classifier"}, "multi is the segmenter's"),
        ({"multiclass": True}, "replaces --multiclass"),
        ({"classes": "binary", "class_names": ("a",)}, "only with --classes multi"),
    ],
)
def test_config_errors(tmp_path: Path, changes: dict, message: str) -> None:
    from defect_inspect import InspectConfig

    values = {"task": "segmenter", "train": (tmp_path,), "out": tmp_path / "o", "classes": "multi", **changes}
    with pytest.raises(ValueError, match=message):
        InspectConfig(**values)


# --- Defect Spectrum: the reader, evaluate, predict -----------------------------------------------------------


@pytest.fixture(scope="module")
def ds_root(tmp_path_factory) -> Path:
    return write_ds_tree(tmp_path_factory.mktemp("ds") / "DS-MVTec")


@pytest.fixture(scope="module")
def ds_checkpoint(tmp_path_factory, ds_root: Path) -> Path:
    """A multi-class UNet briefly trained on the real first third of every bottle folder."""
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("ds-run")
    config = tiny_config(
        out,
        "segmenter",
        classes="multi",
        real_train=True,
        dataset="defect-spectrum",
        dataset_root=ds_root,
        object_name="bottle",
        dataset_normals=False,
        test_split="none",
        val_fraction=0.0,
        epochs=2,
        batch_size=4,
    )
    result = train_inspection_model(config, progress=False)
    # the first third of each of the 4 folders of 6 images
    assert result.metrics["inputs"]["training_items"] == {name: 2 for name in DS_FOLDERS}
    return result.checkpoint


def test_real_defect_spectrum_training_keeps_the_published_ids(ds_checkpoint: Path) -> None:
    info = read_checkpoint_info(ds_checkpoint)
    assert info.classes == ("background", "broken_large", "broken_small", "contamination")


def test_evaluate_on_the_held_out_defect_spectrum_images(
    tmp_path: Path, ds_root: Path, ds_checkpoint: Path
) -> None:
    result = evaluate(
        EvaluateConfig(
            checkpoint=ds_checkpoint,
            dataset="defect-spectrum",
            dataset_root=ds_root,
            object_name="bottle",
            normals=False,
            out=tmp_path / "eval",
        )
    )
    out = result.out_dir
    classes = ["background", *BOTTLE.values()]
    segmentation = result.metrics["results"]["segmentation"]
    assert segmentation == _segmentation_from_files(out, classes)
    assert result.metrics["inputs"]["items"] == {name: 4 for name in DS_FOLDERS}  # the held-out two thirds
    # the targets are the dataset's own label files: same ids (the colour-only broken_small decoded)
    for folder in DS_FOLDERS:
        for i in range(2, 6):
            truth = load_labels(out / "targets" / f"{folder}_{i:03d}.png")
            source = (
                ds_root / "bottle" / "rbg_mask" / folder / f"{i:03d}_rbg_mask.png"
                if folder == "broken_small"
                else ds_root / "bottle" / "mask" / folder / f"{i:03d}_mask.png"
            )
            np.testing.assert_array_equal(truth, load_labels(source))
    # a combined image holds two classes
    assert set(np.unique(load_labels(out / "targets" / "combined_002.png"))) == {0, 1, 3}
    # per-class IoU by hand from the confusion matrix written: TP / (TP + FP + FN)
    confusion = np.asarray(segmentation["confusion"])
    for k, name in enumerate(classes):
        tp, fp, fn = (
            confusion[k, k],
            confusion[:, k].sum() - confusion[k, k],
            confusion[k].sum() - confusion[k, k],
        )
        assert segmentation["iou"][name] == pytest.approx(tp / (tp + fp + fn))
    defect_ious = [segmentation["iou"][n] for n in classes[1:]]
    assert segmentation["miou_defects"] == pytest.approx(np.mean(defect_ious))
    assert segmentation["miou_with_background"] == pytest.approx(
        np.mean([segmentation["iou"]["background"], *defect_ious])
    )
    assert (out / "confusion.png").is_file() and (out / "predictions_color").is_dir()


def test_test_classes_the_model_does_not_know_count_as_missed(tmp_path: Path, ds_checkpoint: Path) -> None:
    from defect_inspect.evaluation.class_scoring import score_label_maps

    info = read_checkpoint_info(ds_checkpoint)
    labels = np.array([[0, 1], [4, 4]])
    item = _item(tmp_path, "x", labels, {1: "broken_large", 4: "scratch"})
    prediction = np.array([[0, 1], [0, 2]])
    results, _ = score_label_maps(info, [item], ["x"], [prediction], tmp_path / "out")
    # scratch (unknown to the model) is class 4 of the scored classes: 2 pixels, never predicted
    assert results["class_names"][-1] == "scratch"
    assert results["iou"]["scratch"] == 0.0
    assert results["iou"]["broken_large"] == 1.0
    assert results["iou"]["broken_small"] == 0.0  # one false positive, no true pixel
    assert results["iou"]["contamination"] is None  # in neither: left out of the means
    assert results["miou_defects"] == pytest.approx((1.0 + 0.0 + 0.0) / 3)


def test_predict_writes_labels_like_a_generation_output(
    tmp_path: Path, ds_root: Path, ds_checkpoint: Path
) -> None:
    images = ds_root / "bottle" / "image" / "combined"
    result = predict(PredictConfig(checkpoint=ds_checkpoint, images=images, out=tmp_path / "pred"))
    out = result.out_dir
    assert result.images == 6
    assert json.loads((out / "classes.json").read_text())["3"] == "contamination"
    for stem in (p.stem for p in images.glob("*.png")):
        labels = load_labels(out / "labels" / f"{stem}.png")
        assert labels.shape == (32, 32) and labels.max() <= 3
        # the colour view decodes to the same ids; masks/ is their union, 0 / 255
        np.testing.assert_array_equal(load_labels(out / "labels_color" / f"{stem}.png"), labels)
        mask = np.asarray(Image.open(out / "masks" / f"{stem}.png"))
        np.testing.assert_array_equal(mask, np.where(labels > 0, 255, 0))


def test_defect_free_images_come_from_the_mvtec_normals_root(tmp_path: Path, ds_root: Path) -> None:
    normals = write_mvtec_normals(tmp_path / "mvtec")
    config = tiny_config(
        tmp_path,
        "segmenter",
        classes="multi",
        real_train=True,
        dataset="defect-spectrum",
        dataset_root=ds_root,
        normals_root=normals,
        object_name="bottle",
        val_fraction=0.0,
        defects=("combined",),
    )
    result = train_inspection_model(config, progress=False)
    inputs = result.metrics["inputs"]
    assert inputs["training_items"] == {"combined": 2, "good": 4}
    assert inputs["scored_items"] == {"combined": 4, "good": 4}
    segmentation = result.metrics["results"]["segmentation"]
    assert segmentation == _segmentation_from_files(result.out_dir / "test", list(inputs["classes"]))
    # without the normals root, the reader says where defect-free images come from
    with pytest.raises(ValueError, match="ships no defect-free images"):
        train_inspection_model(
            tiny_config(
                tmp_path,
                "segmenter",
                classes="multi",
                real_train=True,
                dataset="defect-spectrum",
                dataset_root=ds_root,
                object_name="bottle",
            ),
            progress=False,
        )


# --- experiment --dataset defect-spectrum ----------------------------------------------------------------------


def test_experiment_defect_spectrum_real_and_defect_gen_rows(tmp_path: Path, ds_root: Path, capsys) -> None:
    generated = write_labelled_generation_output(
        tmp_path / "defectgen", BOTTLE, [(1,), (2,), (3,), (1, 3)] * 2, defect_name="defectgen"
    )
    out = tmp_path / "experiment"
    code = main(
        [
            "experiment",
            "--dataset",
            "defect-spectrum",
            "--dataset-root",
            str(ds_root),
            "--object-name",
            "bottle",
            "--tasks",
            "segmenter",
            "--segmenter",
            "unet",
            "--encoder",
            "resnet18",
            "--no-pretrained",
            "--epochs",
            "1",
            "--batch-size",
            "4",
            "--resolution",
            "32",
            "--val-fraction",
            "0",
            "--defect-gen",
            str(generated),
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    # the dataset's preset: the real row, multi-class, defect images only, no KID
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["segmenter_classes"] == "multi" and config["normals"] is False
    assert config["baselines"] == ["real"] and config["variants"] == []
    real = json.loads((out / "runs" / "real" / "segmenter" / "metrics.json").read_text())
    with_gen = json.loads((out / "runs" / "defect-gen" / "segmenter" / "metrics.json").read_text())
    assert real["inputs"]["training_items"] == {name: 2 for name in DS_FOLDERS}
    assert with_gen["inputs"]["training_items"] == {**{name: 2 for name in DS_FOLDERS}, "defectgen": 8}
    for run in (real, with_gen):
        assert run["inputs"]["scored_items"] == {name: 4 for name in DS_FOLDERS}  # held out, no good images
        assert run["inputs"]["classes"] == ["background", *BOTTLE.values()]
    results = json.loads((out / "results.json").read_text())
    assert list(results["rows"]) == ["real", "defect-gen"]
    for row, run in (("real", real), ("defect-gen", with_gen)):
        assert results["rows"][row]["mIoU defects"] == pytest.approx(
            run["results"]["segmentation"]["miou_defects"]
        )
        assert results["rows"][row]["mIoU"] == pytest.approx(
            run["results"]["segmentation"]["miou_with_background"]
        )
    report = (out / "report.md").read_text()
    assert "| real |" in report and "| defect-gen |" in report and "mIoU defects" in report
    assert "defect images only" in report


def test_a_generation_output_whose_label_file_is_gone_is_refused(tmp_path: Path) -> None:
    from defect_core.errors import DatasetError

    out = write_labelled_generation_output(tmp_path / "gen", SPOTS, [(1,), (2,)])
    items = read_generation_output(out)
    assert [i.class_table for i in items] == [SPOTS, SPOTS]
    (out / "labels" / "combined_00001.png").unlink()
    with pytest.raises(
        DatasetError, match=r"combined_00001\.png: label image of a manifest record does not exist"
    ):
        read_generation_output(out)
    with pytest.raises(ValueError, match="go together"):
        InspectionItem(tmp_path / "i.png", tmp_path / "m.png", "x", "real", labels=tmp_path / "l.png")
