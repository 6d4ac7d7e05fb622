"""The generator path (``outfit="none"``): the CycleGAN generator dresses the aligned photo, the original face goes
back in at full resolution, and the background becomes a flat colour. Canonical framing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ..compose import match_colours, paste_face, replace_background, upsample
from ..constants import PAD_VALUE
from ..imageio import ImageInput
from ..vision.geometry import CANONICAL_FACE_SIZE, Framing, align_face
from ..vision.landmarks import face_mask
from ..wardrobe.vocabulary import ATTIRES, OUTFIT_NONE
from .decoding import read_photo
from .result import HeadshotResult
from .stages import Stopwatch, aligned_square, exposure_warnings, from_model_output, person_matte, to_model_input

if TYPE_CHECKING:
    from .selfie_to_business import SelfieToBusinessPipeline

STAGES = ("decode", "face", "generator", "compose", "background")


def generator_headshot(pipe: SelfieToBusinessPipeline, image: ImageInput, attire: str, color: tuple[int, int, int],
                       size: int, aspect: str, watch: Stopwatch) -> HeadshotResult:
    lap = watch.lap
    # 1. decode and 2. face
    photo, scale, face, small, small_face = read_photo(image, CANONICAL_FACE_SIZE * size, size, lap)
    # The generator's input (and the classifier's) at model resolution, from the small copy.
    engine = pipe.engine
    resolution = engine.resolution
    crop_framing = Framing.from_alignment(align_face(small_face, resolution), aspect, engine.multiple)
    crop = crop_framing.warp(small, border_value=(PAD_VALUE,) * 3)
    square = crop if aspect == "1:1" else aligned_square(small, small_face, resolution)
    # The same framing in the photo's pixels, for the output.
    model_framing = Framing.from_alignment(align_face(face, resolution), aspect, engine.multiple)
    lap("face")

    # 3. attire and generator
    square_input = to_model_input(square)
    attire, confidence, probabilities = pipe._choose_attire(attire, square_input, small, small_face)
    model_input = square_input if aspect == "1:1" else to_model_input(crop)
    generated = from_model_output(engine.generate(model_input, ATTIRES.index(attire)))
    lap("generator")

    # 4. compose: colours matched around the face at model resolution, then upsampled to the output size and
    # the original face pasted back at full resolution.
    crop_mask = face_mask(crop.shape, small_face.transformed(crop_framing.matrix))
    crop_mask *= crop_framing.valid_mask(small.shape)
    generated = match_colours(generated, crop, crop_mask, CANONICAL_FACE_SIZE * resolution)
    framing = model_framing.resized(size)
    composed = upsample(generated, framing.width, framing.height)
    composed = composed.copy() if composed is generated else composed
    face_alpha, box = paste_face(composed, photo, face, framing)
    lap("compose")

    # 5. background
    person = person_matte(composed)
    if box is not None:  # the face is always the person's
        x0, y0, x1, y1 = box
        np.maximum(person[y0:y1, x0:x1], face_alpha, out=person[y0:y1, x0:x1])
    result = replace_background(composed, person, color)
    lap("background")

    return HeadshotResult(
        image=Image.fromarray(result), attire=attire, attire_confidence=confidence,
        face_box=tuple(float(v / scale) for v in face.box), timings=watch.timings,
        framing=framing.scaled_photo(scale), person_mask=person, attire_probabilities=probabilities,
        faces_found=small_face.faces_found, outfit=OUTFIT_NONE, warnings=exposure_warnings(small),
    )
