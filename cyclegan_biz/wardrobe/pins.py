"""Lapel and flag pins (and brooches) found on a jacket and painted over with jacket before an outfit is cut."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from .builder import _Frame, _Regions

# Pins: blobs at most this many face sizes across, at least this far (Lab) from the jacket's colour.
MAX_PIN_SIZE = 0.25
PIN_CONTRAST = 20.0
# A pin marked by eye is painted over within this radius (face sizes) of the mark.
MARKED_PIN_RADIUS = 0.1


def find_pins(lab: np.ndarray, jacket_area: np.ndarray, jacket_lab: np.ndarray, fs: float) -> np.ndarray:
    """Small blobs unlike the jacket with jacket all around them (lapel and flag pins, brooches): a mask.

    A blob counts when it is at most ``MAX_PIN_SIZE`` face sizes across and a ring around it is mostly
    jacket-coloured (70 %), so that lapel edges, the shirt and the tie (not surrounded by jacket) are left alone."""
    unlike = jacket_area & (np.linalg.norm(lab - jacket_lab, axis=-1) > PIN_CONTRAST)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(unlike.astype(np.uint8), connectivity=8)
    like = jacket_area & ~unlike
    pins = np.zeros(unlike.shape, dtype=bool)
    max_side = MAX_PIN_SIZE * fs
    for index in range(1, count):
        x, y, w, h, area = stats[index]
        if max(w, h) > max_side or area < max(4.0, 0.001 * fs * fs):
            continue
        blob = labels == index
        margin = max(2, int(0.03 * fs))
        kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
        ring = cv2.dilate(blob.astype(np.uint8), kernel).astype(bool) & ~blob
        if like[ring].mean() >= 0.7:
            pins |= blob
    return pins


def remove_pins(photo: np.ndarray, lab: np.ndarray, frame: _Frame, regions: _Regions,
                 jacket_lab: np.ndarray, marked: Sequence[tuple[float, float]] = ()) -> tuple[np.ndarray, int]:
    """The photo with lapel and flag pins painted over with jacket, and how many there were. ``marked``: (x, y)
    photo pixels of pins the finder misses (set by eye in the chosen list), painted over too."""
    pins = find_pins(lab, regions.clothes & (frame.dx() >= 0.25), jacket_lab, frame.fs)
    radius = max(1, int(round(MARKED_PIN_RADIUS * frame.fs)))
    for x, y in marked:
        cv2.circle(pins.view(np.uint8), (int(round(x)), int(round(y))), radius, 1, thickness=-1)
    if not pins.any():
        return photo, 0
    margin = max(1, int(0.03 * frame.fs))  # a pin's rim and shadow are less contrasted than its face
    grown = cv2.dilate(pins.astype(np.uint8), np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))
    count = cv2.connectedComponents(pins.astype(np.uint8))[0] - 1
    return cv2.inpaint(photo, grown, max(2.0, frame.fs * 0.04), cv2.INPAINT_TELEA), count
