"""Person segmentation: a soft person-versus-background matte, from a backend chosen by name (like the landmark
backends in ``landmarks``).

    person_mask(image)                      # float32 HxW in [0, 1], the default backend (mediapipe)
    register_segmenter("my-model", MyModel)  # a class whose instances are called with an RGB image

A backend is created once per process and must be safe to call from several threads (lock what is not).
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Protocol

import numpy as np


class SegmentationBackend(Protocol):
    name: str

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Soft person mask (float32 in [0, 1], HxW) of an HxWx3 uint8 RGB image."""


class MediaPipeSegmenter:
    """mediapipe selfie segmentation (its model ships inside the wheel: offline); works at 256 px internally."""

    name = "mediapipe"

    def __init__(self) -> None:
        from .mediapipe_solutions import solutions

        self._model = solutions().selfie_segmentation.SelfieSegmentation(model_selection=0)
        self._lock = threading.Lock()  # a mediapipe graph is not re-entrant

    def __call__(self, image: np.ndarray) -> np.ndarray:
        with self._lock:
            mask = self._model.process(np.ascontiguousarray(image)).segmentation_mask
        return np.clip(mask, 0.0, 1.0).astype(np.float32)


_SEGMENTERS: dict[str, type] = {"mediapipe": MediaPipeSegmenter}
DEFAULT_SEGMENTER = "mediapipe"


def register_segmenter(name: str, factory: type) -> None:
    _SEGMENTERS[name] = factory
    _segmenter.cache_clear()


@cache
def _segmenter(name: str) -> SegmentationBackend:
    if name not in _SEGMENTERS:
        raise ValueError(f"Unknown segmentation backend {name!r}; choose one of {sorted(_SEGMENTERS)}.")
    return _SEGMENTERS[name]()


def get_segmenter(name: str = DEFAULT_SEGMENTER) -> SegmentationBackend:
    """The segmentation backend ``name``, created once per process."""
    return _segmenter(name)


def person_mask(image: np.ndarray, backend: str = DEFAULT_SEGMENTER) -> np.ndarray:
    """Soft person mask (float32 in [0, 1], HxW) of an RGB image."""
    return _segmenter(backend)(image)
