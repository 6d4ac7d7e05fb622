"""The ``Outfit``: a jacket, shirt and tie or blouse cut from a real portrait, and how outfits are stored.

Storage (see ``write_outfits`` / ``read_outfits``): per outfit two RGBA WebP images, ``<id>.webp`` (the clothes)
and ``<id>-skin.webp`` (the wearer's neck and chest skin), plus one ``index.json`` holding everything else.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

INDEX_FILE = "index.json"
ATTRIBUTION_FILE = "ATTRIBUTION.md"
# Lossy WebP keeps the wardrobe small; alpha is stored losslessly by WebP regardless of quality.
WEBP_QUALITY = 90

# Anchors every outfit carries, in layer pixels (x, y); "left"/"right" as seen in the image.
ANCHOR_NAMES = (
    "chin",  # the wearer's chin (face mesh point 152)
    "eye_left",
    "eye_right",
    "neck_left",  # where the neck meets the collar, each side
    "neck_right",
    "shoulder_left",  # pose model shoulders
    "shoulder_right",
)


@dataclass
class Outfit:
    """One outfit. ``clothes`` and ``skin`` are HxWx4 uint8 RGBA layers of the same size (soft alpha)."""

    id: str
    attire: str  # see vocabulary.ATTIRES
    colour: str  # jacket colour name
    shirt: str  # shirt or blouse colour name
    tie: bool
    clothes: np.ndarray = field(repr=False)
    skin: np.ndarray = field(repr=False)
    anchors: dict[str, tuple[float, float]]
    face_size: float  # the wearer's face.Face.size() in layer pixels: the scale reference
    yaw: float = 0.0  # head turn, about -1..1, positive: nose toward image right
    light: float = 0.0  # light direction, about -1..1, positive: lit from image right
    source: str = ""
    file: str = ""
    licence: str = ""
    attribution: str = ""
    changes: str = ""  # what was changed beyond the cut (e.g. "jacket recoloured brown"): part of the credit

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the layers."""
        return self.clothes.shape[1], self.clothes.shape[0]

    def anchor(self, name: str) -> np.ndarray:
        return np.asarray(self.anchors[name], dtype=np.float32)

    def mirrored(self) -> Outfit:
        """The outfit flipped left-right: layers and anchors flipped, left/right names swapped, yaw and light
        negated. ``mirrored().mirrored()`` equals the outfit."""
        width = self.size[0]
        anchors = {_swap_side(name): (width - 1 - x, y) for name, (x, y) in self.anchors.items()}
        return replace(
            self,
            clothes=np.ascontiguousarray(self.clothes[:, ::-1]),
            skin=np.ascontiguousarray(self.skin[:, ::-1]),
            anchors=anchors,
            yaw=-self.yaw,
            light=-self.light,
        )

    def preview(self, background: tuple[int, int, int] = (200, 204, 210)) -> np.ndarray:
        """HxWx3 uint8 RGB: skin then clothes over a flat background (thumbnails, contact sheets)."""
        canvas = np.empty(self.clothes.shape[:2] + (3,), dtype=np.float32)
        canvas[:] = background
        for layer in (self.skin, self.clothes):
            alpha = layer[..., 3:4].astype(np.float32) / 255.0
            canvas = canvas * (1.0 - alpha) + layer[..., :3].astype(np.float32) * alpha
        return np.clip(canvas + 0.5, 0, 255).astype(np.uint8)

    def credit(self) -> str:
        """One line for listings: where the outfit comes from, under which licence, and what was changed."""
        credit = self.attribution or f"{self.source} ({self.licence})"
        return f"{credit}, {self.changes}" if self.changes else credit

    def record(self) -> dict:
        """Everything but the layers, JSON-ready."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("clothes", "skin")}
        data["anchors"] = {name: [round(float(x), 2), round(float(y), 2)] for name, (x, y) in self.anchors.items()}
        data["face_size"] = round(float(self.face_size), 2)
        data["yaw"] = round(float(self.yaw), 3)
        data["light"] = round(float(self.light), 3)
        return data

    @classmethod
    def from_record(cls, record: dict, clothes: LayerSource, skin: LayerSource) -> Outfit:
        """The outfit described by an index ``record``; each layer an array or a zero-argument function that
        decodes it (called on first use, see ``_LazyLayer``)."""
        known = {f.name for f in fields(cls)}
        data = {key: value for key, value in record.items() if key in known}
        data["anchors"] = {name: (float(x), float(y)) for name, (x, y) in record["anchors"].items()}
        return cls(**data, clothes=clothes, skin=skin)


LayerSource = np.ndarray | Callable[[], np.ndarray]


class _LazyLayer:
    """A layer attribute that may hold a decoder instead of pixels: decoded on first access and kept, so that
    loading the wardrobe reads only its index (cold start) and only the outfits used are ever decoded."""

    def __init__(self, name: str) -> None:
        self.slot = f"_{name}_layer"

    def __get__(self, outfit: Outfit | None, owner: type | None = None) -> np.ndarray:
        if outfit is None:
            raise AttributeError(self.slot)  # no class-level default: the dataclass field stays required
        value = outfit.__dict__[self.slot]
        if callable(value):
            value = outfit.__dict__[self.slot] = value()
        return value

    def __set__(self, outfit: Outfit, value: LayerSource) -> None:
        outfit.__dict__[self.slot] = value

    def is_loaded(self, outfit: Outfit) -> bool:
        return not callable(outfit.__dict__[self.slot])


Outfit.clothes = _LazyLayer("clothes")
Outfit.skin = _LazyLayer("skin")


def layers_loaded(outfit: Outfit) -> bool:
    """Whether the outfit's layers have been decoded (False right after ``read_outfits``)."""
    return Outfit.__dict__["clothes"].is_loaded(outfit) and Outfit.__dict__["skin"].is_loaded(outfit)


def _swap_side(name: str) -> str:
    if name.endswith("_left"):
        return name[: -len("_left")] + "_right"
    if name.endswith("_right"):
        return name[: -len("_right")] + "_left"
    return name


def _layer_files(outfit_id: str) -> tuple[str, str]:
    return f"{outfit_id}.webp", f"{outfit_id}-skin.webp"


def _write_rgba(array: np.ndarray, path: Path, quality: int) -> None:
    Image.fromarray(array, "RGBA").save(path, "WEBP", quality=quality, method=6, exact=False)


def _read_rgba(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGBA"))


def write_outfits(outfits: list[Outfit], folder: str | Path, quality: int = WEBP_QUALITY) -> Path:
    """Write the layers, ``index.json`` and ``ATTRIBUTION.md`` of ``outfits`` into ``folder``; returns the index.
    Afterwards the layers of outfits the earlier index there listed and ``outfits`` lacks are removed (nothing else
    is touched), so a rebuilt wardrobe ships no stale layers."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stale = _listed_ids(folder) - {outfit.id for outfit in outfits}
    for outfit in outfits:
        clothes_file, skin_file = _layer_files(outfit.id)
        _write_rgba(outfit.clothes, folder / clothes_file, quality)
        _write_rgba(outfit.skin, folder / skin_file, quality)
    index = folder / INDEX_FILE
    index.write_text(json.dumps({"outfits": [o.record() for o in outfits]}, indent=1) + "\n")
    (folder / ATTRIBUTION_FILE).write_text(attribution_text(outfits))
    for outfit_id in stale:
        for name in _layer_files(outfit_id):
            (folder / name).unlink(missing_ok=True)
    return index


def _listed_ids(folder: Path) -> set[str]:
    """Ids in the folder's index (none without one); only plain file names, never a path elsewhere."""
    index = folder / INDEX_FILE
    if not index.is_file():
        return set()
    records = json.loads(index.read_text()).get("outfits", [])
    return {r["id"] for r in records if isinstance(r.get("id"), str) and r["id"] == Path(r["id"]).name}


def read_outfits(folder: str | Path) -> list[Outfit]:
    """The outfits stored in ``folder`` by ``write_outfits``, in index order; layers are decoded on first use."""
    folder = Path(folder)
    records = json.loads((folder / INDEX_FILE).read_text())["outfits"]
    outfits = []
    for record in records:
        clothes_file, skin_file = _layer_files(record["id"])
        outfits.append(Outfit.from_record(
            record, partial(_read_rgba, folder / clothes_file), partial(_read_rgba, folder / skin_file)
        ))
    return outfits


# What every listing of the outfits says about them (ATTRIBUTION.md, the Space's credits).
CREDITS_NOTE = ("The head, hair and background are removed: the cut-outs are adaptations, and outfits whose credit "
                "says so also have a recoloured jacket. UK Parliament portraits are licensed under CC BY 3.0 "
                "(https://creativecommons.org/licenses/by/3.0/); US Congress photos are public-domain works of the "
                "US government.")


def attribution_text(outfits: list[Outfit]) -> str:
    """ATTRIBUTION.md: the source, file and licence of every outfit."""
    lines = [
        "# Outfit credits",
        "",
        "Each outfit (clothes and neck/chest layers) is cut automatically from an official portrait by",
        "`scripts/build_wardrobe.py`. " + CREDITS_NOTE,
        "",
        "| outfit | source | file | licence | credit |",
        "|---|---|---|---|---|",
    ]
    for outfit in outfits:
        lines.append(
            f"| {outfit.id} | {outfit.source} | {outfit.file} | {outfit.licence} | {outfit.credit()} |"
        )
    return "\n".join(lines) + "\n"


__all__ = ["ANCHOR_NAMES", "Outfit", "attribution_text", "layers_loaded", "read_outfits", "write_outfits"]
