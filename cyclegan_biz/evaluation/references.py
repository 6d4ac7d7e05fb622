"""The stored references of the outfit measurements, shipped in ``data/`` and loaded offline.

* ``clothes_probe.safetensors``: the clothes probe (``cyclegan_biz.evaluation.probes.LinearProbe`` format: weights,
  class names, held-out scores and the training files in its metadata);
* ``real_ranges.json``: seam thresholds and the sharpness range measured on real business portraits, and the
  fixed KID reference (files not used for outfits).

Both are written by ``scripts/calibrate_evaluation.py``; nothing is fitted at evaluation time.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
PROBE_FILE = DATA / "clothes_probe.safetensors"
RANGES_FILE = DATA / "real_ranges.json"


@cache
def real_ranges() -> dict:
    """The real-portrait seam thresholds, sharpness range and fixed KID reference (``real_ranges.json``)."""
    return json.loads(RANGES_FILE.read_text(encoding="utf-8"))


def kid_reference_files(datasets: str | Path) -> list[Path]:
    """The fixed KID reference: business portraits never used for outfits nor for training the clothes probe,
    as paths under ``datasets`` (the folder holding ``business/``)."""
    return [Path(datasets) / name for name in real_ranges()["kid_reference"]]
