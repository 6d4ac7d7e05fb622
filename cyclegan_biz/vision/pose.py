"""Shoulders from mediapipe's pose landmark model (the "full" model ships inside the mediapipe wheel: offline)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .geometry import shrink_to

# A shoulder counts as seen when the model's visibility is at least this (mediapipe's own drawing threshold).
MIN_VISIBILITY = 0.5


@dataclass
class Shoulders:
    """Both shoulder points in pixels, "left"/"right" as seen in the image (not the person's own sides)."""

    left: np.ndarray  # (2,) float32 x, y
    right: np.ndarray
    left_visibility: float
    right_visibility: float
    image_size: tuple[int, int]  # (width, height) of the image they were found in

    def _inside(self, point: np.ndarray) -> bool:
        width, height = self.image_size
        return bool(0 <= point[0] < width and 0 <= point[1] < height)

    @property
    def left_inside(self) -> bool:
        return self._inside(self.left)

    @property
    def right_inside(self) -> bool:
        return self._inside(self.right)

    def usable(self, min_visibility: float = MIN_VISIBILITY) -> bool:
        """Both shoulders seen by the model and inside the frame: safe to place an outfit on them."""
        seen = min(self.left_visibility, self.right_visibility) >= min_visibility
        return seen and self.left_inside and self.right_inside

    @property
    def width(self) -> float:
        return float(np.linalg.norm(self.right - self.left))

    @property
    def center(self) -> np.ndarray:
        return (self.left + self.right) / 2


class PoseBackend:
    """mediapipe's legacy pose solution in static-image mode; one graph per process, guarded by a lock."""

    # The pose model works on a 256 px input: larger images gain nothing but time.
    max_side = 512

    def __init__(self, min_confidence: float = 0.5) -> None:
        from .mediapipe_solutions import solutions

        pose = solutions().pose
        self._pose = pose.Pose(static_image_mode=True, model_complexity=1, min_detection_confidence=min_confidence)
        self._indices = (pose.PoseLandmark.LEFT_SHOULDER.value, pose.PoseLandmark.RIGHT_SHOULDER.value)
        self._lock = threading.Lock()  # a mediapipe graph is not re-entrant

    def __call__(self, image: np.ndarray) -> Shoulders | None:
        height, width = image.shape[:2]
        small, _ = shrink_to(image, self.max_side)
        with self._lock:
            result = self._pose.process(np.ascontiguousarray(small))
        if result.pose_landmarks is None:
            return None
        marks = [result.pose_landmarks.landmark[i] for i in self._indices]
        points = [np.array([m.x * width, m.y * height], dtype=np.float32) for m in marks]
        visibility = [float(m.visibility) for m in marks]
        order = (0, 1) if points[0][0] <= points[1][0] else (1, 0)
        left, right = order
        return Shoulders(points[left], points[right], visibility[left], visibility[right], (width, height))


@lru_cache(maxsize=1)
def _backend() -> PoseBackend:
    return PoseBackend()


def detect_shoulders(image: np.ndarray) -> Shoulders | None:
    """The shoulders of the main person in an HxWx3 uint8 RGB image, or None when the pose model finds no one."""
    return _backend()(image)
