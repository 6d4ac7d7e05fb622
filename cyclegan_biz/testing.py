"""Randomly initialised models in the Hub layout, for tests and ``scripts/benchmark.py`` (one builder for all)."""

from __future__ import annotations

import os
from pathlib import Path

# Generator sizes: (base_channels, num_res_blocks, resolution). "tiny" runs in about a second on a CPU; "shipped" has
# the bundled model's architecture (for speed measurements without its weights).
GENERATOR_SIZES = {"tiny": (8, 1, 64), "shipped": (32, 6, 128)}


def make_random_model(folder: str | os.PathLike, size: str = "tiny", discriminator: str | None = "patch",
                      half: bool = False, seed: int = 0) -> Path:
    """Write a random model to ``folder``: the A2B generator at the root and, unless ``discriminator`` is None,
    discriminator A (``"patch"`` or ``"projected"``, with the attire head) in ``discriminator_a/``. ``half`` stores
    fp16 weights, as the bundled model is stored."""
    import torch

    from .models.discriminator import CycleBizDiscriminator
    from .models.generator import CycleBizGenerator
    from .models.projected_discriminator import CycleBizProjectedDiscriminator

    folder = Path(folder)
    base, blocks, resolution = GENERATOR_SIZES[size]
    torch.manual_seed(seed)
    models = {folder: CycleBizGenerator(base_channels=base, num_res_blocks=blocks, resolution=resolution)}
    if discriminator == "projected":
        models[folder / "discriminator_a"] = CycleBizProjectedDiscriminator(pretrained_backbone=False)
    elif discriminator == "patch":
        tiny = size == "tiny"
        models[folder / "discriminator_a"] = CycleBizDiscriminator(base_channels=8 if tiny else 64,
                                                                   num_layers=2 if tiny else 3)
    elif discriminator is not None:
        raise ValueError(f"discriminator: 'patch', 'projected' or None, not {discriminator!r}")
    for target, model in models.items():
        (model.half() if half else model).save_pretrained(target)
    return folder
