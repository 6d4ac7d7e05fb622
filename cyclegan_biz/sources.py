"""Finding photos on disk: files, folders and globs (``iter_images``), and labelled folders (``scan_folder``, which
reads a ``metadata.csv`` of file_name, gender, source, licence when there is one).

Used by the CLI, the dataset builder and the evaluation alike.
"""

from __future__ import annotations

import csv
import glob
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif"}
DOMAINS = ["casual", "business"]
GENDERS = ["female", "male"]


@dataclass
class SourceImage:
    path: Path
    domain: str
    gender: int  # 0 female, 1 male, -1 unknown
    source: str
    licence: str
    name: str  # folder name + path inside it: what the dataset records, never an absolute local path


def _gender_id(value: str | None) -> int:
    value = (value or "").strip().lower()
    return GENDERS.index(value) if value in GENDERS else -1


def scan_folder(folder: str | Path, domain: str) -> list[SourceImage]:
    """Images of one folder: from its ``metadata.csv`` when present, else every image file below it."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder of images.")
    metadata = folder / "metadata.csv"
    if metadata.is_file():
        with metadata.open(newline="", encoding="utf-8") as handle:
            return [
                SourceImage(folder / row["file_name"], domain, _gender_id(row.get("gender")),
                            row.get("source") or folder.name, row.get("licence") or "unknown",
                            f"{folder.name}/{row['file_name']}")
                for row in csv.DictReader(handle)
            ]
    files = images_in(folder)
    return [SourceImage(p, domain, -1, folder.name, "unknown", f"{folder.name}/{p.relative_to(folder).as_posix()}")
            for p in files]


def images_in(folder: Path) -> list[Path]:
    """Every image file below ``folder``, sorted."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def is_glob(entry: str | Path) -> bool:
    return any(ch in str(entry) for ch in "*?[")


def iter_images(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files, folders (recursive) and globs (relative, absolute, ``~``, ``**``) into image paths."""
    found: list[Path] = []
    for entry in paths:
        path = Path(entry).expanduser()
        if path.is_dir():
            found += images_in(path)
        elif not path.exists() and is_glob(entry):
            pattern = os.path.expanduser(str(entry))
            found += sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
        else:
            found.append(path)  # missing or unreadable files are reported by whoever opens them
    return found
