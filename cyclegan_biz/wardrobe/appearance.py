"""What a portrait shows, measured in Lab: colour models of skin and hair, the head's turn and light, colour names,
and the outfit's description (jacket and shirt colours, a tie). Used to cut outfits and to match them to users."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..errors import NoOutfitError
from ..vision.landmarks import Face

if TYPE_CHECKING:
    from .builder import _Frame, _Regions

# Face mesh points (mediapipe 478-point topology).
NOSE_TIP = 1
CHEEK_LEFT = (50, 101, 118, 205, 187)  # as seen in the image for a frontal face
CHEEK_RIGHT = (280, 330, 347, 425, 411)


# --- colour models -------------------------------------------------------------------------------------------------
@dataclass
class ColourModel:
    """A Gaussian in Lab (float, L 0-100): mean and inverse covariance."""

    mean: np.ndarray
    inv_cov: np.ndarray

    @classmethod
    def fit(cls, lab_pixels: np.ndarray, floor: float = 4.0) -> ColourModel | None:
        if len(lab_pixels) < 20:
            return None
        cov = np.cov(lab_pixels.T) + np.eye(3) * floor  # a floor: small samples give too narrow a model
        return cls(lab_pixels.mean(axis=0), np.linalg.inv(cov))

    def distance(self, lab: np.ndarray) -> np.ndarray:
        diff = lab - self.mean
        return np.sqrt(np.einsum("...i,ij,...j->...", diff, self.inv_cov, diff))


def connected_to(mask: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """The parts of ``mask`` whose connected components (8-neighbours) touch ``seed`` inside ``mask``."""
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    keep = np.unique(labels[seed & mask])
    return np.isin(labels, keep[keep > 0])


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """Float Lab (L 0-100, a/b about -128..127) of a uint8 RGB image."""
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def patch_pixels(image: np.ndarray, points: np.ndarray, radius: int) -> np.ndarray:
    """Pixels in small squares around ``points`` (N x C float32), clipped to the image."""
    height, width = image.shape[:2]
    patches = []
    for x, y in np.round(points).astype(int):
        x0, x1 = max(0, x - radius), min(width, x + radius + 1)
        y0, y1 = max(0, y - radius), min(height, y + radius + 1)
        if x1 > x0 and y1 > y0:
            patches.append(image[y0:y1, x0:x1].reshape(-1, image.shape[2]))
    return np.concatenate(patches).astype(np.float32) if patches else np.zeros((0, image.shape[2]), np.float32)


def skin_model(lab: np.ndarray, face: Face) -> ColourModel:
    radius = max(1, int(face.size() * 0.03))
    points = face.points[list(CHEEK_LEFT + CHEEK_RIGHT)]
    model = ColourModel.fit(patch_pixels(lab, points, radius))
    if model is None:  # only for tiny faces, which detect_face rejects first
        raise NoOutfitError("The face is too small to tell skin from clothes; use a larger photo.")
    return model


def hair_model(lab: np.ndarray, person: np.ndarray, face: Face, head: np.ndarray) -> ColourModel | None:
    """Colour of the hair: person pixels above the brows outside the face; None for bald heads or hats-off."""
    brow_top = face.points[face.groups["brows"], 1].min()
    above = np.zeros(person.shape, dtype=bool)
    above[: max(0, int(brow_top))] = True
    hair = above & (person > 0.5) & ~head
    return ColourModel.fit(lab[hair])


# --- measurements --------------------------------------------------------------------------------------------------
def head_yaw(face: Face) -> float:
    """Head turn, about -1..1: the nose tip's offset from the eye midpoint in half eye-distances (+: toward image
    right)."""
    left, right = face.eye_centers()
    half = np.linalg.norm(right - left) / 2
    offset = face.points[NOSE_TIP, 0] - (left[0] + right[0]) / 2
    return float(np.clip(offset / max(half, 1e-6), -1.0, 1.0))


def light_side(lab: np.ndarray, face: Face) -> float:
    """Light direction, about -1..1 (+: lit from image right), from the lightness of the two cheeks."""
    radius = max(1, int(face.size() * 0.03))
    left = patch_pixels(lab, face.points[list(CHEEK_LEFT)], radius)[:, 0]
    right = patch_pixels(lab, face.points[list(CHEEK_RIGHT)], radius)[:, 0]
    if not len(left) or not len(right):  # a cheek outside the photo: no side to tell
        return 0.0
    return float(np.clip(4.0 * (right.mean() - left.mean()) / max(right.mean() + left.mean(), 1e-6), -1.0, 1.0))


# Named colours in Lab (D65, L 0-100); jacket and shirt colours are named by the nearest one.
_NAMED_LAB = {
    "black": (10, 0, -1),
    "charcoal": (30, 0, -2),
    "grey": (50, 0, -2),
    "light grey": (68, 0, -2),
    "white": (88, 0, 0),
    "navy": (17, 3, -12),
    "blue": (38, 8, -36),
    "light blue": (75, -4, -18),
    "brown": (35, 10, 18),
    "beige": (70, 5, 20),
    "green": (40, -25, 15),
    "red": (40, 55, 35),
    "burgundy": (28, 35, 10),
    "pink": (70, 30, 0),
    "purple": (35, 30, -30),
    "teal": (50, -30, -10),
    "yellow": (80, 0, 60),
}


def colour_name(lab: np.ndarray) -> str:
    """The nearest named colour to a Lab colour (chroma weighted up so greys and navies are told apart)."""
    names = list(_NAMED_LAB)
    refs = np.array([_NAMED_LAB[n] for n in names], dtype=np.float32)
    weights = np.array([1.0, 1.6, 1.6], dtype=np.float32)
    distance = (((refs - np.asarray(lab, dtype=np.float32)) * weights) ** 2).sum(axis=1)
    return names[int(distance.argmin())]


# Clothes this far (face widths) or further from the chin's column are the jacket's sides and shoulders, clear of
# the collar, lapels and the shirt's V.
BESIDE_NECK = 0.6


# --- the outfit's description ---------------------------------------------------------------------------------------
def has_tie(lab: np.ndarray, clothes: np.ndarray, centre_x: float, collar_y: float, face_w: float, fs: float,
             shirt_lab: np.ndarray) -> bool:
    """A tie: for a fifth of a face size under the collar, a narrow run of something that is not shirt with shirt
    on both sides of it (a tie of the jacket's colour too). An open collar has skin, not clothes, in the middle."""
    height, width = clothes.shape
    x0, x1 = int(max(0, centre_x - 0.45 * face_w)), int(min(width, centre_x + 0.45 * face_w))
    y0, y1 = int(collar_y), int(min(height, collar_y + fs))  # the V of the collar can be deep: look far down
    if y1 <= y0 or x1 <= x0:
        return False
    region, inside = lab[y0:y1, x0:x1], clothes[y0:y1, x0:x1]
    shirt = inside & (np.linalg.norm(region - shirt_lab, axis=-1) < 15)
    tie_rows = 0
    for row_shirt, row_inside in zip(shirt, inside, strict=True):
        xs = np.flatnonzero(row_shirt)
        if len(xs) < 2:
            continue
        gaps = np.diff(xs)
        widest = int(gaps.argmax())
        gap = slice(xs[widest] + 1, xs[widest + 1])
        # A gap in the shirt, filled with clothes, of about a tie's width.
        if 0.06 * face_w <= gaps[widest] <= 0.4 * face_w and row_inside[gap].mean() > 0.8:
            tie_rows += 1
    return tie_rows >= 0.2 * fs


@dataclass
class Description:
    jacket_lab: np.ndarray
    shirt_lab: np.ndarray
    tie: bool


def collar_height(anchors: dict[str, np.ndarray]) -> float:
    """The collar's y: where the neck meets it, on average over both sides."""
    return float(anchors["neck_left"][1] + anchors["neck_right"][1]) / 2


def jacket_area(frame: _Frame, clothes: np.ndarray, collar_y: float) -> np.ndarray:
    """Clothes that are surely jacket: beside the neck column, from 0.3 face sizes under the collar (the lapels and
    the shirt's V are nearer the middle)."""
    return clothes & (frame.dx() > BESIDE_NECK) & frame.rows(collar_y + 0.3 * frame.fs)


def describe_outfit(lab: np.ndarray, frame: _Frame, regions: _Regions, anchors: dict[str, np.ndarray]) -> Description:
    """Jacket and shirt colours and whether there is a tie; ``NoOutfitError`` when there is no jacket to see."""
    fs, clothes = frame.fs, regions.clothes
    collar_y = collar_height(anchors)
    dx = frame.dx()
    jacket = jacket_area(frame, clothes, collar_y)
    if jacket.sum() < 0.05 * fs * fs:
        raise NoOutfitError("Too little clothing below the head to cut an outfit; use a head-and-shoulders photo.")
    jacket_lab = np.median(lab[jacket], axis=0)
    # The shirt or top: what is not jacket in the opening under the chin (a tie is too narrow to sway a median).
    front = clothes & (dx < 0.3) & frame.rows(collar_y, collar_y + 0.6 * fs)
    front &= np.linalg.norm(lab - jacket_lab, axis=-1) > 20
    shirt_lab = np.median(lab[front], axis=0) if front.sum() > 0.01 * fs * fs else jacket_lab
    centre_x = (anchors["neck_left"][0] + anchors["neck_right"][0]) / 2
    tie = has_tie(lab, clothes, centre_x, collar_y, frame.face_w, fs, shirt_lab)
    return Description(jacket_lab, shirt_lab, tie)
