"""Measure the typical framing of business portraits: where the eyes sit and how big the face is.

The canonical crop is the portrait's full width as a square, bottom-aligned (keeps the shoulders). The medians
printed here are the constants ``CANONICAL_EYE_CENTER`` and ``CANONICAL_FACE_SIZE`` in
``cyclegan_biz/vision/geometry.py``.

    python scripts/measure_framing.py ../shared/datasets/business --limit 400
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from cyclegan_biz.errors import CycleBizError
from cyclegan_biz.imageio import load_rgb_array
from cyclegan_biz.vision.landmarks import detect_face


def measure(path: Path) -> tuple[float, float, float]:
    image = load_rgb_array(path)
    height, width = image.shape[:2]
    side = min(width, height)
    top = height - side  # bottom-aligned square
    face = detect_face(image, min_face_size=0)
    left, right = face.eye_centers()
    eye_mid = (left + right) / 2
    return float(eye_mid[0] / side), float((eye_mid[1] - top) / side), face.size() / side


def measure_folder(description: str, measure_one: Callable[[Path], Any]) -> tuple[list[Path], list[Any]]:
    """Parse ``folder [--limit N]`` and measure every n-th image in the folder (about N of them, sorted, so runs
    repeat); photos without a usable face are skipped. Returns (files, measurements)."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--limit", type=int, default=0, help="measure every n-th file to use about this many")
    args = parser.parse_args()
    files = sorted(p for p in args.folder.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})
    if args.limit:
        files = files[:: max(1, len(files) // args.limit)]
    rows = []
    for path in tqdm(files, desc="measuring"):
        try:
            rows.append(measure_one(path))
        except CycleBizError:
            continue
    return files, rows


def main() -> None:
    files, rows = measure_folder(__doc__, measure)
    values = np.array(rows)
    median = np.median(values, axis=0)
    q1, q3 = np.percentile(values, [25, 75], axis=0)
    print(json.dumps({
        "faces": len(rows), "files": len(files),
        "eye_x": round(float(median[0]), 3), "eye_y": round(float(median[1]), 3),
        "face_size": round(float(median[2]), 3),
        "iqr": {"eye_x": [round(q1[0], 3), round(q3[0], 3)], "eye_y": [round(q1[1], 3), round(q3[1], 3)],
                "face_size": [round(q1[2], 3), round(q3[2], 3)]},
    }, indent=2))


if __name__ == "__main__":
    main()
