"""Training data of the finisher (issue 12): wardrobe composites on the canonical crop, with the masks the losses need.

* **Warm-start pairs** (supervised, item 3): a real business portrait never used for outfits; one change ``T``
  (exposure, white balance, blur or noise) applied to the whole photo; the input is ``T(head)`` over the *untouched*
  outfit cut from the same photo with the production code (``wardrobe.builder.cut_outfit``, ``fitting.fit_outfit``),
  the outfit offset by a few % and, in some samples, the photo cut at the chin (no neck: the fitter paints one); the
  target is ``T(photo)``. Input and target then differ only where the fitter put something: the head is the same.
* **Domain A composites** (item 1): a casual photo with a wardrobe outfit (attire from the gender label, else random).

Examples are written as one ``.npz`` per sample (uint8 images and masks) plus ``manifest.jsonl``, under ``data/``
(git-ignored); ``FinisherExamples`` reads them back as tensors.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..compose import DEFAULT_BACKGROUND
from ..errors import CycleBizError
from ..imageio import load_rgb_array
from ..sources import GENDERS, scan_folder
from ..vision import degrade
from ..vision.geometry import align_face
from ..vision.landmarks import MESH_CHIN, Face, detect_face, face_mask
from ..vision.segmentation import person_mask
from ..wardrobe.finishing import composite_band
from ..wardrobe.outfit import Outfit
from .dataset import SeededItems

WORK_SIZE = 256  # the fitter works on this canonical crop; examples are stored smaller
OFFSET = 0.03  # the outfit is shifted by up to this many face sizes (placement is never exact)
NO_NECK_SHARE = 1 / 3  # share of warm-start samples cut just below the chin
CHIN_MARGIN = 0.03  # face sizes kept below the chin when the neck is cut
IMAGE_KEYS = ("input", "target")
MASK_KEYS = ("band", "face", "person", "outfit", "valid", "target_person")


# --- the change T applied to the whole photo ------------------------------------------------------------------------
def _exposure(rgb: np.ndarray, amount: float, face_size: float) -> np.ndarray:
    return degrade.exposure(rgb, amount)


def _white_balance(rgb: np.ndarray, amount: float, face_size: float) -> np.ndarray:
    return degrade.white_balance(rgb, (1 + amount, 1.0, 1 - amount))


def _blur(rgb: np.ndarray, amount: float, face_size: float) -> np.ndarray:
    return degrade.blur(rgb, amount * face_size)


def _noise(rgb: np.ndarray, amount: float, face_size: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, amount, rgb.shape).astype(np.float32)
    return np.clip(np.rint(rgb + noise), 0, 255).astype(np.uint8)


# name -> (function(rgb, amount, face_size), range of the amount drawn uniformly; signed ranges go both ways)
CHANGES: dict[str, tuple[Callable[[np.ndarray, float, float], np.ndarray], tuple[float, float]]] = {
    "exposure": (_exposure, (-0.8, 0.8)),  # stops
    "white_balance": (_white_balance, (-0.14, 0.14)),  # red up, blue down (warmer) or the reverse
    "blur": (_blur, (0.005, 0.02)),  # sigma in face sizes
    "noise": (_noise, (2.0, 8.0)),  # sigma in 8-bit levels
}


def apply_change(rgb: np.ndarray, name: str, amount: float, face_size: float) -> np.ndarray:
    return CHANGES[name][0](rgb, amount, face_size)


def draw_change(rng: random.Random) -> tuple[str, float]:
    name = rng.choice(sorted(CHANGES))
    low, high = CHANGES[name][1]
    return name, rng.uniform(low, high)


# --- one composite on the canonical crop ----------------------------------------------------------------------------
def shifted(outfit: Outfit, dx: float, dy: float) -> Outfit:
    """``outfit`` placed ``(dx, dy)`` face sizes away (its anchors moved the other way, in layer pixels)."""
    step = np.array([dx, dy]) * outfit.face_size
    anchors = {name: (float(x - step[0]), float(y - step[1])) for name, (x, y) in outfit.anchors.items()}
    return replace(outfit, anchors=anchors)


def composite_example(photo: np.ndarray, face: Face, outfit: Outfit, resolution: int, person: np.ndarray | None = None,
                      cut_at: float | None = None, background: tuple[int, int, int] = DEFAULT_BACKGROUND) -> dict:
    """``outfit`` fitted under the head of ``photo`` on the canonical crop (``WORK_SIZE``), stored at ``resolution``.

    ``person``: the photo's matte (computed when None); ``cut_at``: photo row below which nothing of the photo is
    used (no neck). Returns uint8 ``input`` (HxWx3) and float32 masks ``band``, ``face``, ``person`` (the
    composite's matte), ``outfit`` (its clothes and painted skin), ``valid`` (inside the photo, including rows
    cut away: a pair's target is known there), plus ``alignment`` (photo -> work crop)."""
    from ..wardrobe.fitting import fit_outfit

    person = person_mask(photo) if person is None else person
    alignment = align_face(face, WORK_SIZE)
    valid = alignment.valid_mask(photo.shape).astype(np.float32)  # the photo's extent, cut or not
    if cut_at is not None:
        row = int(round(cut_at))
        photo, person = photo.copy(), person.copy()
        photo[row:], person[row:] = 0, 0
    canvas, canvas_person = alignment.warp(photo), alignment.warp(person)
    canvas_face = face.transformed(alignment.matrix)
    fit = fit_outfit(canvas, canvas_person, canvas_face, outfit, background)
    band = composite_band(fit.image, canvas_face, fit.person)
    masks = {"band": band, "face": face_mask(band.shape, canvas_face).astype(np.float32), "person": fit.person,
             "outfit": np.clip(fit.person - fit.head, 0, 1), "valid": valid}
    example = {"input": resize(fit.image, resolution), "alignment": alignment}
    example.update({key: resize(mask, resolution) for key, mask in masks.items()})
    return example


def resize(array: np.ndarray, resolution: int) -> np.ndarray:
    if array.shape[0] == resolution:
        return array
    return cv2.resize(array, (resolution, resolution), interpolation=cv2.INTER_AREA)


# --- the two kinds of examples --------------------------------------------------------------------------------------
def warm_start_pair(photo: np.ndarray, face: Face, outfit: Outfit, change: tuple[str, float], resolution: int,
                    offset: tuple[float, float] = (0.0, 0.0), no_neck: bool = False) -> dict:
    """One warm-start pair: ``input`` = T(head) over the untouched ``outfit`` shifted by ``offset`` face sizes
    (the photo cut just below the chin when ``no_neck``), ``target`` = T(photo), with ``change`` = (name, amount)
    of ``CHANGES``; both on the canonical crop at ``resolution``, with the composite's masks and the target's
    person matte (``target_person``)."""
    changed = apply_change(photo, *change, face.size())
    person = person_mask(changed)
    cut_at = float(face.points[MESH_CHIN][1] + CHIN_MARGIN * face.size()) if no_neck else None
    example = composite_example(changed, face, shifted(outfit, *offset), resolution, person, cut_at)
    alignment = example.pop("alignment")
    example["target"] = resize(alignment.warp(changed), resolution)
    example["target_person"] = resize(alignment.warp(person), resolution)
    example["meta"] = {"change": change[0], "amount": round(change[1], 4), "offset": [round(v, 4) for v in offset],
                       "no_neck": no_neck}
    return example


def warm_start_samples(photo: np.ndarray, rng: random.Random, samples: int, resolution: int) -> list[dict]:
    """``samples`` warm-start pairs from one real portrait, with random changes, offsets and cut necks;
    ``NoOutfitError`` / ``NoFaceError`` when the photo has no usable face or outfit (the wardrobe builder's
    filters, hair excepted)."""
    from ..wardrobe.builder import NoOutfitError, assess_photo

    face = detect_face(photo, min_face_size=0)
    cut = assess_photo(photo)  # the untouched outfit, cut with the production masks
    # hair over the shoulders is a seam the finisher must learn; a turned head or something in front is not
    problems = [p for p in cut.problems if not p.startswith("hair on the shoulders")]
    if problems:
        raise NoOutfitError(f"Not a warm-start portrait: {'; '.join(problems)}")
    return [warm_start_pair(photo, face, cut.outfit, draw_change(rng), resolution,
                            (rng.uniform(-OFFSET, OFFSET), rng.uniform(-OFFSET, OFFSET)),
                            rng.random() < NO_NECK_SHARE) for _ in range(samples)]


def casual_composite(photo: np.ndarray, gender: str | None, rng: random.Random, resolution: int) -> dict:
    """A domain-A example: a wardrobe outfit under the head of a casual photo (attire from ``gender`` when known,
    else drawn at random; a random outfit of that attire, mirrored half of the time)."""
    from ..wardrobe.catalogue import load_wardrobe
    from ..wardrobe.vocabulary import ATTIRES, attire_for_gender

    face = detect_face(photo, min_face_size=0)
    attire = attire_for_gender(gender) or rng.choice(ATTIRES)
    outfit = rng.choice([o for o in load_wardrobe() if o.attire == attire])
    outfit = outfit.mirrored() if rng.random() < 0.5 else outfit
    example = composite_example(photo, face, outfit, resolution)
    example.pop("alignment")
    example["meta"] = {"attire": attire, "outfit": outfit.id, "gender": gender or ""}
    return example


def portrait_example(photo: np.ndarray, resolution: int) -> dict:
    """A domain-B example: a real business portrait on the canonical crop, with the same masks as a composite (its
    seam band from its own head matte), so the discriminators compare seams with seams."""
    face = detect_face(photo, min_face_size=0)
    alignment = align_face(face, WORK_SIZE)
    crop, person = alignment.warp(photo), alignment.warp(person_mask(photo))
    crop_face = face.transformed(alignment.matrix)
    masks = {"band": composite_band(crop, crop_face, person), "person": person,
             "face": face_mask(person.shape, crop_face).astype(np.float32),
             "valid": alignment.valid_mask(photo.shape).astype(np.float32)}
    example = {"input": resize(crop, resolution)}
    example.update({key: resize(mask, resolution) for key, mask in masks.items()})
    return example


# --- writing and reading --------------------------------------------------------------------------------------------
def save_example(path: Path, example: dict, label: int = -1) -> None:
    """uint8 images and masks; ``label``: the gender/attire class id (-1 unknown: the class head skips it)."""
    arrays = {k: example[k] for k in IMAGE_KEYS if k in example}
    arrays["label"] = np.array(label, dtype=np.int8)
    arrays.update({k: np.clip(np.rint(example[k] * 255), 0, 255).astype(np.uint8) for k in MASK_KEYS if k in example})
    np.savez_compressed(path, **arrays)


def build_examples(items: Iterable[tuple[str, int, Callable[[], list[dict]]]], output: str | Path,
                   log: Callable[[str], None] = print) -> dict[str, int]:
    """Write the examples made by each ``(name, label, make)`` to ``output/<name>-<i>.npz`` and ``manifest.jsonl``;
    a name already in the manifest is skipped (an interrupted build resumes). Photos the fitter refuses are
    counted and listed in the manifest with the error's class."""
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    manifest = output / "manifest.jsonl"
    done = {json.loads(line)["name"] for line in manifest.read_text().splitlines()} if manifest.exists() else set()
    counts = {"written": 0, "skipped": 0, "failed": 0}
    with manifest.open("a") as handle:
        for name, label, make in items:
            if name in done:
                counts["skipped"] += 1
                continue
            try:
                examples = make()
            except CycleBizError as err:
                counts["failed"] += 1
                log(f"{name}: {type(err).__name__}: {err}")
                handle.write(json.dumps({"name": name, "error": type(err).__name__}) + "\n")
                continue
            for index, example in enumerate(examples):
                save_example(output / f"{name}-{index}.npz", example, label)
                counts["written"] += 1
            handle.write(json.dumps({"name": name, "files": [f"{name}-{i}.npz" for i in range(len(examples))],
                                     "meta": [e.get("meta", {}) for e in examples]}) + "\n")
            handle.flush()
    return counts


def example_name(path: str | Path) -> str:
    """A file-system-safe name for a source photo (its folder and stem)."""
    path = Path(path)
    return f"{path.parent.name}-{path.stem}".replace(" ", "_")


def label_of(gender: str | None) -> int:
    """The class id of a gender label (the attire classes share its ids), -1 when unknown."""
    return GENDERS.index(gender) if gender in GENDERS else -1


def gender_name(gender_id: int) -> str | None:
    return GENDERS[gender_id] if gender_id >= 0 else None


def photo_items(rows: Sequence[tuple[Path, str | None]], make: Callable[[np.ndarray, str | None, random.Random],
                list[dict]], seed: int):
    """``build_examples`` items for ``(path, gender)`` rows: ``make(photo, gender, rng)`` with a generator seeded
    per photo, so a resumed or partial build draws the same changes for the same photo."""
    for path, gender in rows:
        rng = random.Random(f"{seed}:{example_name(path)}")
        yield example_name(path), label_of(gender), lambda path=path, gender=gender, rng=rng: make(
            load_rgb_array(path), gender, rng)


def portraits_not_in_outfits(business: str | Path, exclude: Iterable[str] = ()) -> list[tuple[Path, str | None]]:
    """``(path, gender)`` of the business portraits (``metadata.csv``) that no shipped outfit was cut from, minus
    ``exclude`` (files relative to ``business``, e.g. the held-out evaluation set)."""
    from ..wardrobe.collection import read_chosen

    business = Path(business)
    used = {choice.file for choice in read_chosen()} | set(exclude)
    return [(s.path, gender_name(s.gender)) for s in scan_folder(business, "business")
            if s.path.relative_to(business).as_posix() not in used]


class FinisherExamples(SeededItems):
    """A folder written by ``build_examples`` as a torch dataset: ``input`` (and ``target`` for pairs) in [-1, 1],
    masks in [0, 1] (C x H x W float tensors), ``loss_mask`` = band x target person for pairs; horizontal flips
    when ``flip``, drawn from (``seed``, epoch, index)."""

    def __init__(self, folder: str | Path, flip: bool = False, files: Sequence[Path] | None = None,
                 seed: int = 0) -> None:
        self.files = list(files) if files is not None else sorted(Path(folder).glob("*.npz"))
        if not self.files:
            raise FileNotFoundError(f"No examples (*.npz) in {folder}: build them first "
                                    "(scripts/build_finisher_data.py).")
        self.flip = flip
        self.seed = seed

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.example(index, self.item_rng(index))

    def example(self, index: int, rng: random.Random) -> dict[str, Any]:
        """Example ``index``, flipped when ``flip`` and ``rng`` says so."""
        import torch

        with np.load(self.files[index]) as data:
            arrays = {k: data[k] for k in data.files}
        flip = self.flip and rng.random() < 0.5
        out = {"label": torch.tensor(int(arrays.pop("label", -1)), dtype=torch.long)}
        for key, value in arrays.items():
            tensor = torch.from_numpy(np.ascontiguousarray(value[:, ::-1] if flip else value)).float()
            out[key] = tensor.permute(2, 0, 1) / 127.5 - 1 if key in IMAGE_KEYS else tensor[None] / 255
        out["band"] = out["band"] * (out["face"] == 0)  # resized masks overlap at the jaw: the face stays exact
        if "target" in out:  # the target's person matte is 0 off the photo: no padding counts
            out["loss_mask"] = out["band"] * out["target_person"]
        return out


class UnpairedFinisherExamples(SeededItems):
    """Composites (domain A) paired at random with real portraits (domain B): every key gets ``_a`` / ``_b``. The
    portrait and both flips of item i are drawn from (``seed``, epoch, i)."""

    def __init__(self, composites: FinisherExamples, portraits: FinisherExamples, seed: int = 0) -> None:
        self.composites, self.portraits = composites, portraits
        self.seed = seed

    def __len__(self) -> int:
        return len(self.composites)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = self.item_rng(index)
        other = self.portraits.example(rng.randrange(len(self.portraits)), rng)
        mine = self.composites.example(index, rng)
        return {**{f"{k}_a": v for k, v in mine.items()}, **{f"{k}_b": v for k, v in other.items()}}
