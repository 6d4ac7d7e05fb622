"""The finisher's seam band, and the finisher applied to a composite at any resolution (issue 12).

The band is where a fitted outfit meets the user's head: the neck and collar under the chin, and the edge of the
head matte below the chin (hair over the shoulders). It is soft, zero on the face, zero off the person, and exactly
zero elsewhere, so ``CycleBizFinisher`` leaves every other pixel as it was. Everything is in face-size units
(``Face.size()``), so the same band comes out on a 128 px training crop and on a 1024 px headshot.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np

from ..vision.geometry import align_face, invert_affine
from ..vision.landmarks import MESH_CHIN, Face, face_mask
from .appearance import to_lab
from .skin import lab_to_rgb

NECK_HALF_WIDTH = 0.5  # face sizes beside the chin (the measurement band is 0.3)
NECK_DEPTH = 0.75  # face sizes below the chin: the neck and the collar (the measurement band ends at 0.49)
HAIR_REACH = 1.3  # face sizes beside the chin where the head matte's edge counts (hair over the shoulders)
HAIR_DEPTH = 1.2  # face sizes below the chin where it counts
EDGE_GROW = 0.06  # face sizes the head matte's edge is widened by
FEATHER = 0.04  # face sizes of the band's soft border
MIN_PERSON = 0.02  # person matte below this is background: never touched
BAND_WIDTH = 512  # the band is shaped at most this wide (px) and upsampled


def seam_band(shape: tuple[int, ...], face: Face, person: np.ndarray, head: np.ndarray | None = None,
              work_width: int = BAND_WIDTH) -> np.ndarray:
    """float32 HxW weight in [0, 1] of the seam band of a composite (``face`` in its pixels; ``person``: its soft
    matte; ``head``: the weight of the user's own pixels, e.g. ``fitting.FitResult.head``, for hair over the
    shoulders). Exactly 0 on the face mask, off the person and outside the band. The region is shaped at most
    ``work_width`` wide (it is smooth) and upsampled; the person matte and the exact zeros are applied at full size,
    so a large image gets the band a small one would, up to resampling."""
    height, width = shape[:2]
    k = min(1.0, work_width / width)
    small = (max(1, round(width * k)), max(1, round(height * k)))
    if head is not None and k < 1:
        head = cv2.resize(head.astype(np.float32), small, interpolation=cv2.INTER_AREA)
    band = _band_region((small[1], small[0]), face.scaled(small[0] / width), head)
    if k < 1:
        band = cv2.resize(band, (width, height), interpolation=cv2.INTER_LINEAR)
    band *= np.where(person >= MIN_PERSON, np.clip(person, 0, 1), 0).astype(np.float32)
    band[face_mask(shape, face).astype(bool)] = 0
    band[band < 1 / 255] = 0
    return band


def _band_region(shape: tuple[int, int], face: Face, head: np.ndarray | None) -> np.ndarray:
    """The band's feathered region (float32 in [0, 1]) before the person matte and the face cut it: the neck under
    the chin and the head matte's edge beside and below it."""
    height, width = shape
    size = face.size()
    chin_x, chin_y = face.points[MESH_CHIN]
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    region = ((rows >= face.mouth_center()[1]) & (rows < chin_y + NECK_DEPTH * size)
              & (np.abs(cols - chin_x) <= NECK_HALF_WIDTH * size))
    if head is not None:
        edge = ((head > 0.05) & (head < 0.95)).astype(np.uint8)
        grow = max(1, int(round(EDGE_GROW * size)))
        edge = cv2.dilate(edge, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))) > 0
        region |= (edge & (rows > chin_y - 0.2 * size) & (rows < chin_y + HAIR_DEPTH * size)
                   & (np.abs(cols - chin_x) <= HAIR_REACH * size))
    return cv2.GaussianBlur(region.astype(np.float32), (0, 0), max(0.5, FEATHER * size))


def composite_band(image: np.ndarray, face: Face, person: np.ndarray) -> np.ndarray:
    """``seam_band`` of a finished composite, its head matte re-estimated from the pixels (``head.head_matte``):
    the same band at training time and on a pipeline's output, which does not carry the fitter's head weight."""
    from .head import head_matte

    return seam_band(image.shape, face, person, head_matte(image, person, face))


def crop_planes(image: np.ndarray, face: Face, person: np.ndarray, band: np.ndarray, resolution: int) -> dict:
    """The finisher's inputs on the canonical crop (``align_face`` at ``resolution``): ``image`` uint8 HxWx3 and the
    float32 masks ``band``, ``face``, ``person``; plus the ``alignment``."""
    alignment = align_face(face, resolution)
    crop_face = face.transformed(alignment.matrix)
    return {"image": alignment.warp(image), "band": alignment.warp(band), "person": alignment.warp(person),
            "face": face_mask((resolution, resolution), crop_face).astype(np.float32), "alignment": alignment}


def input_arrays(planes: dict) -> list[np.ndarray]:
    """Batch of one: (image in [-1, 1], band, face, person) as float32 B x C x H x W arrays."""
    from ..pipeline.stages import to_model_input  # the pipeline's own conversion (a module-level import would cycle)

    masks = [np.ascontiguousarray(planes[k], dtype=np.float32)[None, None] for k in ("band", "face", "person")]
    return [to_model_input(planes["image"]), *masks]


def to_tensor(planes: dict, device=None):
    """``input_arrays`` as torch tensors (on ``device``)."""
    import torch

    tensors = [torch.from_numpy(a) for a in input_arrays(planes)]
    return [t.to(device) if device else t for t in tensors]


class OnnxFinisher:
    """A finisher run by ONNX Runtime (``pipeline.onnx_export.finisher_onnx_file``): the same correction as
    ``CycleBizFinisher.correction`` without importing torch (short cold starts with the onnx engine)."""

    def __init__(self, path: str | Path, providers: list[str] | None = None) -> None:
        from ..pipeline.onnx_export import onnx_session

        self.session = onnx_session(path, providers)
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.config = SimpleNamespace(resolution=int(self.session.get_modelmeta().custom_metadata_map["resolution"]))

    def crop_correction(self, planes: dict) -> np.ndarray:
        change = self.session.run(None, dict(zip(self.inputs, input_arrays(planes), strict=True)))[0][0]
        size = self.config.resolution
        return cv2.resize(change.transpose(1, 2, 0), (size, size), interpolation=cv2.INTER_LINEAR)


def crop_correction(model, planes: dict) -> np.ndarray:
    """The finisher's correction on the canonical crop (R x R x 3, [-1, 1] units), upsampled bilinearly from its
    working resolution; ``model``: a ``CycleBizFinisher`` or an ``OnnxFinisher``."""
    if isinstance(model, OnnxFinisher):
        return model.crop_correction(planes)
    import torch

    with torch.no_grad():
        change = model.correction(*to_tensor(planes, model.device))
        change = torch.nn.functional.interpolate(change, size=planes["band"].shape, mode="bilinear",
                                                 align_corners=False)
    return change[0].permute(1, 2, 0).float().cpu().numpy()


def _with_lightness_of(colour: np.ndarray, light: np.ndarray) -> np.ndarray:
    """uint8 RGB with the Lab lightness of ``light`` and the a*b* colour of ``colour``."""
    lab = to_lab(colour)
    lab[..., 0] = to_lab(light)[..., 0]
    return lab_to_rgb(lab)


def finish(model, image: np.ndarray, face: Face, person: np.ndarray) -> np.ndarray:
    """``image`` (uint8 HxWx3 composite) with the finisher's correction added in its seam band; every pixel outside
    the band is returned unchanged. The correction is predicted on the canonical crop and mapped back smoothly."""
    band = composite_band(image, face, person)
    if not band.any():
        return image.copy()
    planes = crop_planes(image, face, person, band, model.config.resolution)
    change = crop_correction(model, planes) * 127.5
    # only the band's bounding box is touched (the correction mapped back there alone)
    rows, cols = np.nonzero(band.any(axis=1))[0], np.nonzero(band.any(axis=0))[0]
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    back = invert_affine(planes["alignment"].matrix)
    back[:, 2] -= (x0, y0)
    change = cv2.warpAffine(change, back, (int(x1 - x0), int(y1 - y0)), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    weight = band[y0:y1, x0:x1, None]
    region = image[y0:y1, x0:x1]
    corrected = np.clip(np.rint(region + weight * change), 0, 255).astype(np.uint8)
    # only the change of lightness is applied; the colour (a*b*) stays the fitter's, which already matches the neck
    # to the cheeks (seen on contact sheets of eval/canada: the full RGB correction of the shipped finisher tinted
    # the chin's shadow purple-blue on most men; its lightness alone is a plain shadow)
    corrected = _with_lightness_of(region, corrected)
    out = image.copy()
    out[y0:y1, x0:x1] = np.where(weight > 0, corrected, region)
    return out
