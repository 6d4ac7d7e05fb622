"""The user's own pixels on the canvas: the face down to the jaw, ears, hair and a beard (``head_matte``), and the
head's turn and light (to pick or mirror an outfit)."""

from __future__ import annotations

import cv2
import numpy as np

from ..vision.landmarks import MESH_CHIN, Face
from .appearance import ColourModel, head_yaw, light_side, patch_pixels, to_lab
from .skin import CHEEK_POINTS, NECK_HALF_WIDTH

# The user's head is kept down to the jaw line plus this margin (face sizes): little of the neck, never a lot.
JAW_MARGIN = 0.03
# Above this line (eye line + this many face sizes) the whole person matte is the head (ears, side hair); below it
# only the face and what is hair- or beard-coloured and connected to the head.
HEAD_LINE = 0.42
# Above this line (eye line + this many face sizes) all of the person is kept, between it and HEAD_LINE only hair
# and skin.
EAR_LINE = 0.15
# Ears: person pixels this close to the face (face sizes) are kept above the head line whatever their colour.
EAR_REACH = 0.18
# A pixel is like a colour model within this Mahalanobis distance.
LIKELY = 3.0
# A chin this much darker (Lab L) than the cheeks has a beard.
BEARD_DARKER = 20.0
# How far below the chin a beard may reach (face sizes).
BEARD_REACH = 0.12
# Hair beside the face (for the hair's colour model): this far (face sizes) from the face's middle, or further.
SIDE_HAIR = 0.55
# Past the edge of a tight crop (the photo mirrored there), hair fades out over this many face sizes.
MIRROR_FADE = 0.4
# The head matte is one piece: parts further than this (face sizes) from it are dropped.
GAP_BRIDGED = 0.04

# Mesh points (mediapipe's 478-point face mesh) of the chin the head matte samples, the bottom of the chin first.
CHIN_POINTS = (MESH_CHIN, 148, 176, 149, 377, 400, 378, 175, 199, 200)


def _distance(lab: np.ndarray, model: ColourModel | None) -> np.ndarray:
    """Mahalanobis distance of every pixel to ``model`` (infinite without a model: nothing is like it)."""
    if model is None:
        return np.full(lab.shape[:2], np.inf, dtype=np.float32)
    return model.distance(lab)


def estimate_turn_and_light(image: np.ndarray, face: Face) -> tuple[float, float]:
    """(yaw, light) of the user's head as the builder measures them on outfits (``appearance.head_yaw``,
    ``appearance.light_side``), so outfits can be picked or mirrored to match."""
    x0, y0, x1, y1 = (int(v) for v in face.box)
    x0, y0 = max(0, x0), max(0, y0)
    crop = np.ascontiguousarray(image[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)])
    local = face.transformed(np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0]]))
    return head_yaw(face), light_side(to_lab(crop), local)


def _connected(candidates: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """The pixels of ``candidates`` connected (8-neighbours, through candidates) to ``seed``."""
    if not candidates.any() or not seed.any():
        return np.zeros_like(candidates)
    _, labels = cv2.connectedComponents((candidates | seed).astype(np.uint8), connectivity=8)
    attached = np.unique(labels[seed])
    return np.isin(labels, attached[attached > 0]) & candidates


def _under_jaw(outline: np.ndarray, mouth_y: float, chin_x: float, half_width: float,
               shape: tuple[int, int]) -> np.ndarray:
    """bool mask of the neck's column (``half_width`` either side of the chin) below the lower jaw line: where a neck
    hides the hair behind it. Following the jaw, not a row at the chin: no straight cut across hair beside the jaw."""
    lower = outline[outline[:, 1] > mouth_y]
    if len(lower) < 2:
        lower = outline
    lower = lower[np.argsort(lower[:, 0])]
    left, right = chin_x - half_width, chin_x + half_width
    jaw = lower[(lower[:, 0] > left) & (lower[:, 0] < right)]
    ends = [[x, np.interp(x, lower[:, 0], lower[:, 1])] for x in (left, right)]
    bottom = shape[0] + 1.0
    polygon = np.concatenate([[[left, bottom], ends[0]], jaw, [ends[1], [right, bottom]]]).astype(np.float32)
    zone = np.zeros(shape, dtype=np.uint8)
    cv2.fillPoly(zone, [np.round(polygon).astype(np.int32)], 1)
    return zone.astype(bool)


def head_matte(photo: np.ndarray, person: np.ndarray, face: Face, work_width: int = 256,
               inside: np.ndarray | None = None) -> np.ndarray:
    """float32 weight of the user's own pixels on the canvas: the face down to just below the jaw, everything of
    the person above the head line (ears, side hair, hats), and, below it, hair and beard connected to the head
    (colour models from above the brows and from the chin). Never a straight horizontal cut: below the head line
    the boundary follows the jaw and the hair's colour. ``inside``: uint8 mask of where the photo is; beyond it (the
    photo mirrored at a tight crop's edge) only hair is kept, never the face or skin. Works at ``work_width`` and is
    upsampled."""
    height, width = photo.shape[:2]
    k = work_width / width
    small_h = max(1, int(round(height * k)))
    small = cv2.resize(photo, (work_width, small_h), interpolation=cv2.INTER_AREA)
    mask = cv2.resize(person, (work_width, small_h), interpolation=cv2.INTER_AREA) > 0.5
    points = face.points * k
    size = face.size() * k
    lab = to_lab(small)
    yy, xx = np.mgrid[0:small_h, 0:work_width]

    # 1. the face to the jaw (+ margin), and all of the person above the head line
    outline = points[face.groups["outline"]]
    centre = outline.mean(axis=0)
    grown = centre + (outline - centre) * (1 + JAW_MARGIN * size / max(np.ptp(outline[:, 1]) / 2, 1e-6))
    core = np.zeros((small_h, work_width), dtype=np.uint8)
    cv2.fillConvexPoly(core, np.round(cv2.convexHull(grown.astype(np.float32))).astype(np.int32).reshape(-1, 2), 1)
    in_photo = np.ones((small_h, work_width), dtype=bool) if inside is None else cv2.resize(
        inside, (work_width, small_h), interpolation=cv2.INTER_NEAREST).astype(bool)
    core &= in_photo
    eye_y = float(np.mean([p[1] for p in (points[face.groups["eye_a"]].mean(0), points[face.groups["eye_b"]].mean(0))]))
    line = eye_y + HEAD_LINE * size
    # 2. colour models: hair (above the brows, outside the face), skin (cheeks), beard (chin, when unlike cheeks)
    brow_top = points[face.groups["brows"], 1].min()
    chin = points[list(CHIN_POINTS)]
    chin_pixels = patch_pixels(lab, chin + np.array([0, -0.03 * size]), max(1, int(0.02 * size)))
    cheek_pixels = patch_pixels(lab, points[list(CHEEK_POINTS)], max(1, int(0.02 * size)))
    # a wide skin model: necks and shoulders are often paler or darker than the cheeks
    skin_distance = _distance(lab, ColourModel.fit(cheek_pixels, floor=16.0))
    skin_like = skin_distance < LIKELY
    # the hair's colours from above the brows and from beside the face down to the head line (dyed or sun-lightened
    # lengths are often unlike the roots)
    top_hair = (yy < brow_top - 0.1 * size) & (np.abs(xx - centre[0]) < 0.9 * size)
    side_hair = (yy > eye_y) & (yy < line) & (np.abs(xx - centre[0]) > SIDE_HAIR * size) & ~skin_like
    hair_zone = mask & (top_hair | side_hair) & ~core.astype(bool)
    hair_distance = _distance(lab, ColourModel.fit(lab[hair_zone], floor=6.0))
    hair_like = hair_distance < LIKELY
    # everything of the person above the ears' middle (hats, buns); from there to the head line only the ears (next
    # to the face), hair and skin: a hood or a high collar further out is clothing
    ears = eye_y + EAR_LINE * size
    reach = max(1, int(round(EAR_REACH * size)))
    near_face = cv2.dilate(core, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1)))
    band = near_face.astype(bool) | hair_like | skin_like
    keep = core.astype(bool) | (mask & ((yy < ears) | ((yy < line) & band)))
    beard = None
    if len(chin_pixels) and np.median(cheek_pixels[:, 0]) - np.median(chin_pixels[:, 0]) > BEARD_DARKER:
        beard = ColourModel.fit(chin_pixels, floor=6.0)  # the chin much darker than the cheeks: a beard
    # below the line skin-coloured pixels are never hair, and hair must be closer to the hair's colour than to the
    # skin's (with red or blond hair, shaded neck and shoulder skin is often within reach of the hair's model): the
    # user's neck goes, the outfit's comes
    hair_like &= hair_distance < 0.8 * skin_distance
    below = mask & ~keep & ~skin_like
    chin_x, chin_y = points[MESH_CHIN]
    # long hair hangs beside the neck, not in front of it: under the jaw line the neck's column is the outfit's
    beside_neck = ~_under_jaw(outline, face.mouth_center()[1] * k, chin_x, NECK_HALF_WIDTH * size,
                              (small_h, work_width))
    # long hair: hair-coloured and connected to the hair above the line (not merely to the face: a dark collar
    # beside the neck of a short-haired man touches the jaw, not the hair)
    hair_below = cv2.morphologyEx((below & hair_like & beside_neck).astype(np.uint8), cv2.MORPH_CLOSE,
                                  np.ones((5, 5), np.uint8)).astype(bool) & mask  # curls: fill the specks
    long_hair = _connected(hair_below, keep & hair_like & ~core.astype(bool))
    # a beard is darker than the skin (a shaded neck under stubble is not: it is left to the outfit's neck)
    darker = lab[..., 0] < np.median(cheek_pixels[:, 0]) - BEARD_DARKER / 2
    beard_like = below & darker & (_distance(lab, beard) < LIKELY) & (yy < chin_y + BEARD_REACH * size)
    beard_like = cv2.morphologyEx(beard_like.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)) > 0
    keep |= long_hair | _connected(beard_like & mask & in_photo, core.astype(bool))
    keep &= in_photo | hair_like  # past a tight crop's edge (mirrored): hair only
    # a little opening: stray specks of hair-coloured jacket do not count
    opened = cv2.morphologyEx(keep.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    # one head: what is not connected to the face (a patch of sky or wall the segmentation took for the person, the
    # far part of a hand) would float beside it on the plain background; connected across gaps up to GAP_BRIDGED,
    # so that a lock of hair beyond a hairline gap in the segmentation stays
    reach = max(1, int(round(GAP_BRIDGED * size)))
    near = cv2.dilate(opened, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1)))
    keep = (opened.astype(bool) & _connected(near.astype(bool), core.astype(bool))) | core.astype(bool)

    sigma = max(0.6, 0.012 * size)
    soft = cv2.GaussianBlur(keep.astype(np.float32), (0, 0), sigma)
    if not in_photo.all():  # mirrored hair fades out with the distance from the photo (not at the matte's edge)
        beyond = cv2.distanceTransform((~in_photo).astype(np.uint8), cv2.DIST_L2, 3)
        soft *= np.clip(1.0 - beyond / max(MIRROR_FADE * size, 1.0), 0.0, 1.0)
    soft = cv2.resize(soft, (width, height), interpolation=cv2.INTER_LINEAR)
    # the face is the person's whatever the segmentation says (soft or torn at the jaw)
    face_soft = cv2.resize(cv2.GaussianBlur(core.astype(np.float32), (0, 0), sigma), (width, height),
                           interpolation=cv2.INTER_LINEAR)
    return np.maximum(np.minimum(soft, person), face_soft)

