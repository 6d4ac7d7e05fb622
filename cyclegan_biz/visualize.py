"""Pictures for people: mask overlays and image grids."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from .imageio import ImageInput, load_image
from .sources import DOMAINS, GENDERS


def overlay_masks(image: Image.Image, face: Image.Image, person: Image.Image, valid: Image.Image) -> Image.Image:
    """Face mask tinted red, person mask blue, padding darkened; the face-mask outline drawn in yellow."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    face_m = np.asarray(face.convert("L"), dtype=np.float32)[..., None] / 255
    person_m = np.asarray(person.convert("L"), dtype=np.float32)[..., None] / 255
    valid_m = np.asarray(valid.convert("L"), dtype=np.float32)[..., None] / 255
    out = rgb * (1 - 0.35 * person_m) + np.array([40, 90, 255]) * 0.35 * person_m
    out = out * (1 - 0.35 * face_m) + np.array([255, 40, 40]) * 0.35 * face_m
    out *= 0.4 + 0.6 * valid_m
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


def fitted_tile(source: ImageInput, tile: int) -> Image.Image:
    """The photo scaled to fit a ``tile`` x ``tile`` white square, centred (for before/after sheets)."""
    image = ImageOps.contain(load_image(source, max_side=2048), (tile, tile), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (tile, tile), "white")
    canvas.paste(image, ((tile - image.width) // 2, (tile - image.height) // 2))
    return canvas


def image_grid(images: Sequence[Image.Image], columns: int, labels: Sequence[str] | None = None) -> Image.Image:
    """Tile equally sized images left to right, top to bottom, with an optional caption on each."""
    width, height = images[0].size
    rows = (len(images) + columns - 1) // columns
    grid = Image.new("RGB", (columns * width, rows * height), "white")
    draw = ImageDraw.Draw(grid)
    for i, image in enumerate(images):
        x, y = (i % columns) * width, (i // columns) * height
        grid.paste(image.convert("RGB").resize((width, height)), (x, y))
        if labels:
            draw.rectangle([x, y, x + width, y + 12], fill=(0, 0, 0))
            draw.text((x + 2, y), labels[i], fill=(255, 255, 255))
    return grid


def preview_grid(split, count: int = 32, columns: int = 8, seed: int = 0) -> Image.Image:
    """Half casual, half business crops of a dataset split with their masks overlaid."""
    rng = random.Random(seed)
    domains = np.asarray(split["domain"])
    picks: list[int] = []
    for domain in range(len(DOMAINS)):
        indices = np.flatnonzero(domains == domain).tolist()
        picks += rng.sample(indices, min(len(indices), count // len(DOMAINS)))
    tiles, labels = [], []
    for index in picks:
        row = split[int(index)]
        tiles.append(overlay_masks(row["image"], row["face_mask"], row["person_mask"], row["valid_mask"]))
        gender = GENDERS[row["gender"]] if row["gender"] >= 0 else "?"
        labels.append(f"{DOMAINS[row['domain']]} {gender}")
    return image_grid(tiles, columns, labels)
