"""Cut an outfit (jacket, shirt, tie or blouse) and the wearer's neck/chest skin out of a portrait.

How a photo is split (all in the photo's own pixels; the layers are then cropped to the torso and neck):
- the person: mediapipe selfie segmentation (soft);
- the head: everything above the chin (face mesh point 152) plus the face outline, so no face or hair remains;
- skin: a colour model (Lab mean and covariance) of the cheeks; the neck/chest skin is the skin-like part
  below the chin that is connected to the chin;
- hair: a colour model of the hair above the brows; hair-like pixels below the chin connected to the head's
  sides (long hair, beards) are removed and measured (the builder's filter rejects photos with hair on the
  shoulders);
- clothes: the rest of the person below the chin.
``cut_outfit`` raises ``NoOutfitError`` when the photo has no face or no shoulders to cut from;
``assess_photo`` also lists why a photo is not good enough for the shipped wardrobe (``Cut.problems``).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..errors import FaceTooSmallError, NoFaceError, NoOutfitError
from ..imageio import load_rgb_array
from ..vision.geometry import shrink_to
from ..vision.landmarks import MESH_CHIN, Face, detect_face
from ..vision.pose import Shoulders, detect_shoulders
from ..vision.segmentation import person_mask
from .appearance import (
    BESIDE_NECK,
    collar_height,
    colour_name,
    connected_to,
    describe_outfit,
    hair_model,
    head_yaw,
    jacket_area,
    light_side,
    skin_model,
    to_lab,
)
from .outfit import Outfit
from .pins import remove_pins
from .recolour import check_jacket_colour, jacket_weight, recolour_jacket
from .vocabulary import check_attire

# Builder filters (the shipped wardrobe); measured on the business portraits, see scripts/build_wardrobe.py.
MAX_YAW = 0.3  # frontal: see head_yaw()
MAX_HAIR_ON_SHOULDERS = 0.02  # share of the shoulder area covered by hair
MAX_SKIN_IN_FRONT = 0.01  # skin-like share of the torso away from the neck (hands, arms in front)
MIN_CLOTHES_SHARE = 0.25  # clothes must cover at least this share of the area below the collar
MIN_RECOLOURED = 0.9  # a recoloured jacket: at least this share of its sides (beside the neck column) recoloured

# Colour-model thresholds (Mahalanobis distance in Lab).
SKIN_DISTANCE = 3.5
HAIR_DISTANCE = 2.5


@dataclass
class Cut:
    """An outfit cut from a photo, and what the builder's filters found wrong with it (empty: good)."""

    outfit: Outfit
    problems: list[str] = field(default_factory=list)
    hair_on_shoulders: float = 0.0
    skin_in_front: float = 0.0
    pins_removed: int = 0


# --- cutting -------------------------------------------------------------------------------------------------------
def _face_hull(shape: tuple[int, int], face: Face, grow: float) -> np.ndarray:
    hull = cv2.convexHull(face.points.astype(np.float32))
    mask = np.zeros(shape, dtype=np.uint8)
    cv2.fillConvexPoly(mask, np.round(hull).astype(np.int32), 1)
    size = max(1, int(face.size() * grow))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * size + 1, 2 * size + 1))
    return cv2.dilate(mask, kernel).astype(bool)


def _soften(mask: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigma) if sigma > 0 else mask.astype(np.float32)


def _layer(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """RGBA layer. Where it is fully transparent the colour is the nearest visible pixel's: nothing of the head or
    background is kept, and resampling the layer does not pull in foreign colours at its soft edges."""
    a = np.clip(alpha * 255.0 + 0.5, 0, 255).astype(np.uint8)
    visible = a > 0
    if not visible.any():
        return np.dstack([np.zeros_like(rgb), a])
    _, labels = cv2.distanceTransformWithLabels((~visible).astype(np.uint8), cv2.DIST_L2, 3,
                                                labelType=cv2.DIST_LABEL_PIXEL)
    # labels: the index (1-based, in scan order of the visible pixels) of each pixel's nearest visible pixel.
    colours = rgb[visible]
    return np.dstack([colours[labels - 1], a])


# Where the shoulders are when the pose model does not see them (face sizes from the chin, ``Face.size()``):
# medians over 67 uk-parliament portraits whose shoulders it saw (10th-90th percentiles 0.51-0.78 below the chin,
# 0.96-1.23 to each side).
SHOULDER_DROP = 0.65
SHOULDER_HALF_WIDTH = 1.10


def _shoulders_or_raise(photo: np.ndarray, face: Face, estimate: bool = False) -> Shoulders:
    """The pose model's shoulders; with ``estimate``, where they usually are under the face when it does not see
    both (users' outfit photos: a portrait crop or a turned body); else ``NoOutfitError``."""
    shoulders = detect_shoulders(photo)
    if shoulders is not None and shoulders.usable():
        return shoulders
    if estimate:
        chin = face.points[MESH_CHIN].astype(np.float32)
        step = np.array([SHOULDER_HALF_WIDTH, SHOULDER_DROP], dtype=np.float32) * face.size()
        return Shoulders(chin + step * [-1, 1], chin + step, 0.0, 0.0, (photo.shape[1], photo.shape[0]))
    raise NoOutfitError(
        "No shoulders found in the outfit photo: use a photo showing the person's head and both shoulders "
        "(head-and-shoulders portrait, facing the camera)."
    )


def _neck_edges(skin: np.ndarray, chin: np.ndarray, row: int) -> tuple[int, int]:
    """Left and right edge (x) of the run of neck skin through the chin's column at ``row``."""
    line = skin[row]
    x = int(np.clip(round(chin[0]), 0, len(line) - 1))
    if not line[x]:
        hits = np.flatnonzero(line)
        if len(hits) == 0:
            return x, x
        x = int(hits[np.abs(hits - x).argmin()])
    left = x
    while left > 0 and line[left - 1]:
        left -= 1
    right = x
    while right < len(line) - 1 and line[right + 1]:
        right += 1
    return left, right


def _above_neck_skin(skin: np.ndarray, neck_column: np.ndarray, chin_y: float, fs: float) -> np.ndarray:
    """Under the face, what lies between the chin and the first neck skin of each column (beard, jaw shadow):
    never clothes. Columns without skin lose a thin band under the chin."""
    height = skin.shape[0]
    rows = np.arange(height)[:, None]
    below = skin & (rows > chin_y)
    first = np.where(below.any(axis=0), below.argmax(axis=0), int(chin_y + 0.1 * fs))
    return neck_column & (rows < first[None, :]) & (rows > chin_y)


def _above_solid_clothes(clothes: np.ndarray, run: int) -> np.ndarray:
    """In each column, everything above the first ``run`` rows of unbroken clothes. Collars and shoulders are
    tall; what sits on top of them in small pieces (jaw, ears, the hair at the nape) is not clothes."""
    kernel = np.ones((run, 1), np.uint8)
    solid = cv2.erode(clothes.astype(np.uint8), kernel, anchor=(0, 0), borderType=cv2.BORDER_REPLICATE).astype(bool)
    height = clothes.shape[0]
    first = np.where(solid.any(axis=0), solid.argmax(axis=0), height)
    return np.arange(height)[:, None] < first[None, :]


def _collar_top(clothes: np.ndarray, x: int, start: int, outward: int) -> float:
    """Where the neck meets the clothes beside column ``x``: the highest first clothes row at or below ``start``
    over the columns from ``x`` going ``outward`` pixels (negative: to the left). A V neckline starts deep at the
    neck's edge but meets the neck higher up just outside it."""
    lo, hi = sorted((x, x + outward))
    columns = clothes[start:, max(0, lo): min(clothes.shape[1], hi + 1)]
    found = columns.any(axis=0)
    if not found.any():
        return float(clothes.shape[0] - 1)
    return float(start + columns.argmax(axis=0)[found].min())


@dataclass
class _Frame:
    """Where the face is in the photo, and pixel grids to measure from it."""

    face: Face
    shape: tuple[int, int]
    fs: float  # face size
    face_w: float  # width of the face's landmark box
    chin: np.ndarray

    @classmethod
    def of(cls, face: Face, shape: tuple[int, int]) -> _Frame:
        x0, _, x1, _ = face.box
        return cls(face, shape, face.size(), x1 - x0, face.points[MESH_CHIN])

    @property
    def ys(self) -> np.ndarray:
        return np.arange(self.shape[0], dtype=np.float32)[:, None]

    def dx(self) -> np.ndarray:
        """Horizontal distance from the chin in face widths, HxW."""
        xs = np.arange(self.shape[1], dtype=np.float32)[None, :]
        return np.broadcast_to(np.abs(xs - self.chin[0]) / self.face_w, self.shape)

    def rows(self, start: float, stop: float = np.inf) -> np.ndarray:
        """HxW mask of the rows start < y < stop."""
        return np.broadcast_to((self.ys > start) & (self.ys < stop), self.shape)


@dataclass
class _Regions:
    person: np.ndarray  # soft, float
    head: np.ndarray
    body: np.ndarray  # the person below the chin, outside the head
    skin_like: np.ndarray
    skin: np.ndarray  # neck and chest skin
    hair: np.ndarray  # hair and beard below the chin
    clothes: np.ndarray


def _split_person(photo: np.ndarray, lab: np.ndarray, frame: _Frame) -> _Regions:
    """Person, head, neck skin, hair and clothes masks (see the module docstring)."""
    face, fs, chin, shape = frame.face, frame.fs, frame.chin, frame.shape
    person = person_mask(photo)
    head = _face_hull(shape, face, grow=0.04)
    below_chin = frame.rows(chin[1])
    body = (person > 0.5) & below_chin & ~head

    skin_like = skin_model(lab, face).distance(lab) < SKIN_DISTANCE
    neck_column = frame.dx() < 0.45  # under the face, where neck skin and collar are
    chin_band = body & frame.rows(chin[1], chin[1] + 0.08 * fs) & neck_column
    skin = connected_to(body & skin_like, chin_band | (head & skin_like))
    skin &= frame.rows(-1, chin[1] + 1.6 * fs)  # the chest opening, not hands at the bottom

    hair = np.zeros(shape, dtype=bool)
    hair_colour = hair_model(lab, person, face, head)
    if hair_colour is not None:
        hair_like = (hair_colour.distance(lab) < HAIR_DISTANCE) & (person > 0.5) & ~skin_like
        # Hair hangs from the head; a beard grows from the chin.
        near_head = frame.rows(chin[1] - 0.06 * fs, chin[1] + 0.06 * fs) & hair_like & ~head
        seeds = near_head | (chin_band & hair_like) | (head & hair_like & below_chin)
        hair = connected_to(hair_like & (below_chin | near_head), seeds) & below_chin

    clothes = body & ~skin & ~hair & ~_above_neck_skin(skin, neck_column, chin[1], fs)
    clothes = cv2.morphologyEx(clothes.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(bool)
    clothes &= ~_above_solid_clothes(clothes, int(max(3, 0.15 * fs)))
    return _Regions(person, head, body, skin_like, skin, hair, clothes)


def _find_anchors(frame: _Frame, shoulders: Shoulders, regions: _Regions) -> dict[str, np.ndarray]:
    """Anchors in photo pixels (see ``outfit.ANCHOR_NAMES``)."""
    height, width = frame.shape
    chin, face_w = frame.chin, frame.face_w
    neck_row = int(min(height - 1, chin[1] + 0.2 * frame.fs))
    neck_x0, neck_x1 = _neck_edges(regions.skin, chin, neck_row)
    if neck_x1 - neck_x0 < 0.2 * face_w:  # no visible neck (high collar, beard): a typical neck width
        neck_x0, neck_x1 = int(chin[0] - 0.3 * face_w), int(chin[0] + 0.3 * face_w)
    neck_x0, neck_x1 = int(np.clip(neck_x0, 0, width - 1)), int(np.clip(neck_x1, 0, width - 1))
    outward = int(0.15 * face_w)
    eye_left, eye_right = frame.face.eye_centers()
    return {
        "chin": chin,
        "eye_left": eye_left,
        "eye_right": eye_right,
        "neck_left": np.array([neck_x0, _collar_top(regions.clothes, neck_x0, int(chin[1]), -outward)]),
        "neck_right": np.array([neck_x1, _collar_top(regions.clothes, neck_x1, int(chin[1]), outward)]),
        "shoulder_left": shoulders.left,
        "shoulder_right": shoulders.right,
    }


def _problems(frame: _Frame, regions: _Regions, anchors: dict[str, np.ndarray],
              yaw: float) -> tuple[list[str], float, float]:
    """What makes the photo unfit for the shipped wardrobe; the hair-on-shoulders and skin-in-front shares."""
    fs, chin, body = frame.fs, frame.chin, regions.body
    problems = []
    if abs(yaw) > MAX_YAW:
        problems.append(f"not frontal (yaw {yaw:+.2f})")
    sides = frame.dx() > BESIDE_NECK
    hair_share = float((regions.hair & sides).sum() / max(1, (body & sides).sum()))
    if hair_share > MAX_HAIR_ON_SHOULDERS:
        problems.append(f"hair on the shoulders ({hair_share:.1%})")
    lower = body & frame.rows(chin[1] + 1.6 * fs)
    front_skin = float((lower & regions.skin_like).sum() / max(1, lower.sum()))
    if front_skin > MAX_SKIN_IN_FRONT:
        problems.append(f"something in front (skin-like {front_skin:.1%} of the lower torso)")
    under = body & frame.rows(collar_height(anchors))
    if not under.any() or regions.clothes[under].mean() < MIN_CLOTHES_SHARE:
        problems.append("too little clothing under the collar")
    return problems, hair_share, front_skin


def _crop_layers(photo: np.ndarray, frame: _Frame, regions: _Regions,
                 shoulders: Shoulders) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clothes and skin RGBA layers with soft alpha, cropped to the torso and neck (from just above the eyes, so
    every anchor lies inside), and the crop's top-left corner in the photo."""
    height, width = frame.shape
    fs = frame.fs
    soft = max(0.6, fs / 160.0)
    person = np.clip(regions.person, 0, 1)
    clothes_alpha = _soften(regions.clothes, soft) * person * frame.rows(frame.chin[1])
    skin_alpha = _soften(regions.skin, soft) * person * (1.0 - clothes_alpha)
    face_x0, face_y0, face_x1, _ = frame.face.box
    eye_y = min(point[1] for point in frame.face.eye_centers())
    x0 = int(max(0, min(shoulders.left[0], face_x0) - 0.35 * fs))
    x1 = int(min(width, max(shoulders.right[0], face_x1) + 0.35 * fs))
    y0 = int(max(0, eye_y - 0.15 * fs))
    crop = (slice(y0, height), slice(x0, x1))
    offset = np.array([x0, y0], dtype=np.float32)
    return _layer(photo[crop], clothes_alpha[crop]), _layer(photo[crop], skin_alpha[crop]), offset


def _recoloured(photo: np.ndarray, frame: _Frame, regions: _Regions, anchors: dict[str, np.ndarray],
                jacket_lab: np.ndarray, colour: str) -> tuple[np.ndarray, np.ndarray]:
    """The photo with the jacket turned to ``colour``, and the jacket's new median Lab. ``ValueError`` when the
    jacket's sides (shoulders included) are not nearly all recoloured, or do not end up named ``colour``: a lit
    shoulder left in the old colour, say, needs another portrait."""
    lab = to_lab(photo)  # after the pins were painted over
    sample = jacket_area(frame, regions.clothes, collar_height(anchors))
    weight = jacket_weight(lab, regions.clothes, sample)
    photo = recolour_jacket(photo, lab, weight, jacket_lab, colour)
    new_lab = np.median(to_lab(photo)[sample], axis=0)
    sides = regions.clothes & (frame.dx() > BESIDE_NECK)
    covered = float((weight[sides] > 0.5).mean())
    if covered < MIN_RECOLOURED or colour_name(new_lab) != colour:
        raise ValueError(f"the jacket could not be recoloured {colour}: {covered:.0%} of its sides recoloured "
                         f"(at least {MIN_RECOLOURED:.0%} needed), now named {colour_name(new_lab)}")
    return photo, new_lab


def assess_photo(
    photo: np.ndarray,
    attire: str | None = None,
    outfit_id: str = "custom",
    source: str = "",
    file: str = "",
    licence: str = "",
    attribution: str = "",
    pins: Sequence[tuple[float, float]] = (),
    estimate_shoulders: bool = False,
    recolour: str | None = None,
) -> Cut:
    """Cut the outfit of the person in ``photo`` (HxWx3 uint8 RGB) and list what makes it unfit for the wardrobe.

    ``attire`` None: "suit" when a tie is found, else "blazer". ``pins``: (x, y) pixels of pins to paint over that
    the pin finder misses. ``estimate_shoulders``: when the pose model does not see both shoulders, assume the usual
    place under the face instead of refusing (users' photos; the wardrobe needs seen shoulders). ``recolour``: a
    name in ``recolour.JACKET_COLOURS``, the jacket is turned to that colour (said in ``Outfit.changes``). Raises
    ``NoOutfitError`` when nothing can be cut.
    """
    if attire is not None:
        check_attire(attire, allow_auto=False)
    if recolour is not None:
        check_jacket_colour(recolour)
    try:
        face = detect_face(photo, min_face_size=40)
    except (NoFaceError, FaceTooSmallError) as err:
        raise NoOutfitError(f"Cannot cut an outfit: {err}") from err
    shoulders = _shoulders_or_raise(photo, face, estimate_shoulders)
    frame = _Frame.of(face, photo.shape[:2])
    lab = to_lab(photo)
    regions = _split_person(photo, lab, frame)
    anchors = _find_anchors(frame, shoulders, regions)
    described = describe_outfit(lab, frame, regions, anchors)
    photo, pins_removed = remove_pins(photo, lab, frame, regions, described.jacket_lab, pins)
    jacket_lab = described.jacket_lab
    if recolour is not None:
        photo, jacket_lab = _recoloured(photo, frame, regions, anchors, jacket_lab, recolour)
    yaw = head_yaw(face)
    problems, hair_share, front_skin = _problems(frame, regions, anchors, yaw)
    clothes, skin, offset = _crop_layers(photo, frame, regions, shoulders)
    outfit = Outfit(
        id=outfit_id,
        attire=attire or ("suit" if described.tie else "blazer"),
        colour=colour_name(jacket_lab),
        shirt=colour_name(described.shirt_lab),
        tie=described.tie,
        clothes=clothes,
        skin=skin,
        anchors={name: (float(p[0] - offset[0]), float(p[1] - offset[1])) for name, p in anchors.items()},
        face_size=frame.fs,
        yaw=yaw,
        light=light_side(lab, face),
        source=source,
        file=file,
        licence=licence,
        attribution=attribution,
        changes=f"jacket recoloured {recolour}" if recolour else "",
    )
    return Cut(outfit, problems, hair_share, front_skin, pins_removed)


# Outfit photos are cut at most this size (long side): enough for a 1024 px headshot, and a 12-MP photo is cut in
# a fraction of the time.
MAX_PHOTO_SIDE = 1280


def cut_outfit(photo: np.ndarray, attire: str | None = None, outfit_id: str = "custom", **credit: str) -> Outfit:
    """The outfit worn in ``photo`` (HxWx3 uint8 RGB), e.g. a user's own outfit photo; ``NoOutfitError`` if none.

    Unlike the wardrobe builder this accepts imperfect photos (turned heads, some hair on the shoulders, shoulders
    the pose model does not see)."""
    photo, _ = shrink_to(photo, MAX_PHOTO_SIDE)
    return assess_photo(photo, attire=attire, outfit_id=outfit_id, estimate_shoulders=True, **credit).outfit


# Outfits cut from users' photos (``outfit=<path>``), by file content and attire: cutting takes a pose and a mesh
# run, and the Space sends the same outfit photo again with every other option changed.
PHOTO_CACHE_SIZE = 16
_photo_cache: OrderedDict[tuple[str, str | None], Outfit] = OrderedDict()
_photo_cache_lock = threading.Lock()


def outfit_from_photo(path: str | Path, attire: str | None = None) -> Outfit:
    """The outfit worn in the photo at ``path`` (``outfit=<path>``), id ``photo:<file name>``, cached by the file's
    SHA-256 (a copy under another name is not cut again and keeps the first name).

    Raises ``UnreadableImageError`` for a file that is not an image and ``NoOutfitError`` when no outfit can be cut.
    ``attire`` None: guessed from the clothes (a tie -> "suit")."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise NoOutfitError(f"Cannot read the outfit photo {path}: {err.strerror or err}. Check the path.") from err
    key = (hashlib.sha256(data).hexdigest(), attire)
    with _photo_cache_lock:
        cached = _photo_cache.get(key)
    if cached is None:
        cached = cut_outfit(load_rgb_array(data), attire=attire, outfit_id=f"photo:{path.name}",
                            source="your photo", file=path.name, licence="yours",
                            attribution=f"your photo {path.name}")
    with _photo_cache_lock:  # the Space serves several users at once
        _photo_cache[key] = cached
        _photo_cache.move_to_end(key)
        while len(_photo_cache) > PHOTO_CACHE_SIZE:
            _photo_cache.popitem(last=False)
    return cached


def forget_outfit_photos() -> None:
    """Drop every outfit cut from a user's photo (the Space, when a visitor leaves or the server stops)."""
    with _photo_cache_lock:
        _photo_cache.clear()
