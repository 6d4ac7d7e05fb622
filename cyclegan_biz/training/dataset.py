"""The unpaired dataset: folders of photos -> aligned head-and-shoulders crops with precomputed masks.

Building (``build_dataset``) writes a ``datasets.DatasetDict`` (train/test); training reads it back through
``UnpairedImageDataset``.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..constants import PAD_VALUE
from ..errors import CycleBizError, MissingWeightsError
from ..imageio import load_rgb_array
from ..sources import DOMAINS, GENDERS, scan_folder
from ..vision.geometry import align_face
from ..vision.landmarks import detect_face, face_mask
from ..vision.segmentation import person_mask


def to_pil_mask(mask: np.ndarray) -> Image.Image:
    """A 0/1 or [0, 1] float mask as an 8-bit grey image (0..255)."""
    return Image.fromarray(np.clip(np.round(mask.astype(np.float32) * 255), 0, 255).astype(np.uint8), mode="L")


def align_photo(path_or_array: Any, resolution: int, backend: str = "mediapipe") -> dict[str, Any]:
    """One photo -> its canonical crop and masks (numpy arrays) plus landmarks in crop coordinates."""
    image = load_rgb_array(path_or_array)
    face = detect_face(image, backend=backend)
    alignment = align_face(face, resolution)
    crop = alignment.warp(image, border_value=(PAD_VALUE,) * 3)
    valid = alignment.valid_mask(image.shape)
    crop_face = face.transformed(alignment.matrix)
    return {
        "image": crop,
        "face_mask": face_mask(crop.shape, crop_face) * valid,
        "person_mask": person_mask(crop) * valid,
        "valid_mask": valid,
        "landmarks": crop_face.points,
    }


def _process(example: dict[str, Any], resolution: int, backend: str) -> dict[str, Any]:
    try:
        aligned = align_photo(example["path"], resolution, backend)
    except MissingWeightsError:
        raise  # a setup problem, not a bad photo: stop rather than skip every photo
    except CycleBizError as err:
        return {"ok": False, "reason": f"{type(err).__name__}: {err}", "image": None, "face_mask": None,
                "person_mask": None, "valid_mask": None, "landmarks": []}
    return {
        "ok": True, "reason": "",
        "image": Image.fromarray(aligned["image"]),
        "face_mask": to_pil_mask(aligned["face_mask"]),
        "person_mask": to_pil_mask(aligned["person_mask"]),
        "valid_mask": to_pil_mask(aligned["valid_mask"]),
        "landmarks": aligned["landmarks"].round(2).tolist(),
    }


def dataset_features():
    from datasets import ClassLabel, Features, Sequence, Value
    from datasets import Image as ImageFeature

    return Features({
        "image": ImageFeature(), "face_mask": ImageFeature(), "person_mask": ImageFeature(),
        "valid_mask": ImageFeature(),
        "domain": ClassLabel(names=DOMAINS), "gender": ClassLabel(names=GENDERS),
        "landmarks": Sequence(Sequence(Value("float32"), length=2)),
        "source": Value("string"), "licence": Value("string"), "original_file": Value("string"),
    })


def build_dataset(
    casual: Sequence[str | Path],
    business: Sequence[str | Path],
    resolution: int = 256,
    test_fraction: float = 0.05,
    num_proc: int | None = None,
    backend: str = "mediapipe",
    seed: int = 0,
):
    """Align every photo; returns ``(DatasetDict, report)``. Photos without a usable face are skipped and reported."""
    from datasets import Dataset

    sources = [s for folder in casual for s in scan_folder(folder, "casual")]
    sources += [s for folder in business for s in scan_folder(folder, "business")]
    if not sources:
        raise ValueError("No images found in the given folders.")
    table = Dataset.from_list([
        {"path": str(s.path), "domain": DOMAINS.index(s.domain), "gender": s.gender, "source": s.source,
         "licence": s.licence, "original_file": s.name}
        for s in sources
    ])
    processed = table.map(
        _process, fn_kwargs={"resolution": resolution, "backend": backend},
        num_proc=num_proc if num_proc and num_proc > 1 else None, desc="aligning faces",
    )
    failures = processed.filter(lambda ok: not ok, input_columns="ok").select_columns(
        ["original_file", "source", "reason"])
    kept = processed.filter(lambda ok: ok, input_columns="ok")
    kept = kept.remove_columns(["ok", "reason", "path"]).cast(dataset_features())
    dataset = _split(kept, test_fraction, seed)
    report = make_report(len(sources), dataset, failures.to_list())
    return dataset, report


def _split(dataset, test_fraction: float, seed: int):
    from datasets import DatasetDict

    if test_fraction <= 0 or len(dataset) < 4:
        return DatasetDict({"train": dataset})  # datasets cannot reload an empty saved split
    try:
        return dataset.train_test_split(test_size=test_fraction, seed=seed, stratify_by_column="domain")
    except ValueError:  # a domain with a single photo cannot be stratified
        return dataset.train_test_split(test_size=test_fraction, seed=seed)


def _counts(dataset) -> dict[str, Any]:
    rows = dataset.select_columns(["domain", "gender", "source"]).to_list()
    by_domain_gender = Counter(
        f"{DOMAINS[r['domain']]}/{GENDERS[r['gender']] if r['gender'] >= 0 else 'unlabelled'}" for r in rows)
    return {"total": len(rows), "by_domain_gender": dict(sorted(by_domain_gender.items())),
            "by_source": dict(sorted(Counter(r["source"] for r in rows).items()))}


def make_report(found: int, dataset, failures: list[dict[str, str]]) -> dict[str, Any]:
    reasons = Counter(f["reason"].split(":", 1)[0] for f in failures)
    by_source = Counter(f"{f['source']} / {f['reason'].split(':', 1)[0]}" for f in failures)
    return {
        "found": found,
        "kept": sum(len(split) for split in dataset.values()),
        "skipped": len(failures),
        "skipped_by_reason": dict(reasons),
        "skipped_by_source_and_reason": dict(sorted(by_source.items())),
        "splits": {name: _counts(split) for name, split in dataset.items()},
        "skipped_files": failures,
    }


def write_dataset_card(output: Path, dataset, report: dict[str, Any], resolution: int) -> None:
    licences: Counter[str] = Counter()
    for split in dataset.values():
        for row in split.select_columns(["source", "licence"]).to_list():
            licences[f"{row['source']} — {row['licence']}"] += 1
    lines = [
        "---", "pretty_name: cyclegan-biz unpaired selfie/business portraits",
        "task_categories:", "- image-to-image", "tags:", "- cyclegan", "- unpaired", "- portraits", "---", "",
        "# cyclegan-biz unpaired dataset", "",
        f"Aligned {resolution}x{resolution} head-and-shoulders crops (canonical frame of "
        "`cyclegan_biz.vision.geometry`) with a binary face mask (brows to chin), a soft person mask and a valid mask "
        "(1 = pixel from the photo, 0 = grey padding). `gender`: 0 female, 1 male, -1 unlabelled. "
        "`domain`: 0 casual (A), 1 business (B).",
        "", f"Photos found: {report['found']}, kept: {report['kept']}, skipped: {report['skipped']} "
        f"({', '.join(f'{k}: {v}' for k, v in report['skipped_by_reason'].items()) or 'none'}).", "",
    ]
    for name, counts in report["splits"].items():
        lines += [f"## Split `{name}` ({counts['total']} crops)", "", "| domain/gender | crops |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in counts["by_domain_gender"].items()]
        labelled = sum(v for k, v in counts["by_domain_gender"].items() if not k.endswith("unlabelled"))
        coverage = labelled / counts["total"] if counts["total"] else 0.0
        lines += ["", f"Gender label coverage: {coverage:.0%}.", "", "| source | crops |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in counts["by_source"].items()] + [""]
    lines += ["## Sources and licences", "", "| source — licence | crops |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in sorted(licences.items())]
    lines += ["", "Each crop keeps its source's licence; see `original_file`.", ""]
    (output / "README.md").write_text("\n".join(lines), encoding="utf-8")


def save_dataset(dataset, report: dict[str, Any], output: str | Path, resolution: int) -> Path:
    output = Path(output)
    dataset.save_to_disk(str(output))
    (output / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    write_dataset_card(output, dataset, report, resolution)
    return output


def load_dataset_any(name_or_path: str):
    """A dataset saved with ``save_to_disk`` (local folder) or a Hub dataset id."""
    import datasets

    if Path(name_or_path).exists():
        return datasets.load_from_disk(name_or_path)
    return datasets.load_dataset(name_or_path)


# --- training-time view ---------------------------------------------------------------------------------------------
def _to_tensor(image: Image.Image, size: int, channels: int):
    import torch

    image = image.convert("RGB" if channels == 3 else "L")
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BILINEAR)
    array = np.asarray(image, dtype=np.float32) / 255.0
    tensor = torch.from_numpy(array.copy())
    return tensor.permute(2, 0, 1) if channels == 3 else tensor[None]


def example_to_tensors(example: dict[str, Any], size: int, flip: bool = False) -> dict[str, Any]:
    """A dataset row -> image in [-1, 1] and masks in [0, 1] as CHW float tensors."""
    out = {
        "image": _to_tensor(example["image"], size, 3) * 2 - 1,
        "face_mask": (_to_tensor(example["face_mask"], size, 1) > 0.5).float(),
        "person_mask": _to_tensor(example["person_mask"], size, 1),
        "valid_mask": (_to_tensor(example["valid_mask"], size, 1) > 0.5).float(),
        "gender": int(example["gender"]),
    }
    if flip:
        for key in ("image", "face_mask", "person_mask", "valid_mask"):
            out[key] = out[key].flip(-1)
    return out


class SeededItems:
    """A dataset whose random choices for item ``i`` (pairs, flips) come from ``item_rng(i)``, which depends only on
    (seed, epoch, i): a resumed run draws exactly the same items, whatever order the workers load them in."""

    seed: int = 0
    epoch: int = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def item_rng(self, index: int) -> random.Random:
        return random.Random(f"{self.seed}-{self.epoch}-{index}")


class UnpairedImageDataset(SeededItems):
    """Torch dataset of (casual, business) pairs drawn independently: item i is casual[i] with a random business.

    Its length is that of the larger domain, so an epoch sees every image of both.
    """

    def __init__(self, split, size: int, flip: bool = True, seed: int = 0) -> None:
        domains = np.asarray(split["domain"])
        self.split = split
        self.casual = np.flatnonzero(domains == DOMAINS.index("casual"))
        self.business = np.flatnonzero(domains == DOMAINS.index("business"))
        if len(self.casual) == 0 or len(self.business) == 0:
            raise ValueError("The dataset needs photos of both domains (casual and business).")
        self.size = size
        self.flip = flip
        self.seed = seed

    def __len__(self) -> int:
        return max(len(self.casual), len(self.business))

    def _item(self, index: int, rng: random.Random) -> dict[str, Any]:
        return example_to_tensors(self.split[int(index)], self.size, flip=self.flip and rng.random() < 0.5)

    def __getitem__(self, i: int) -> dict[str, Any]:
        rng = self.item_rng(i)
        a = self._item(self.casual[i % len(self.casual)], rng)
        b = self._item(self.business[rng.randrange(len(self.business))], rng)
        return {**{f"{k}_a": v for k, v in a.items()}, **{f"{k}_b": v for k, v in b.items()}}
