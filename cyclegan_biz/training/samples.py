"""Sample grids written during training: per held-out photo, input | suit | blazer | reconstructed | masks."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from ..visualize import image_grid
from ..wardrobe.vocabulary import ATTIRES


@torch.no_grad()
def sample_grid(g_ab, g_ba, samples: list[dict], device) -> Image.Image:
    """Per held-out photo: input | suit | blazer | reconstructed | face mask | person mask."""
    tiles = []

    def to_image(t: torch.Tensor) -> Image.Image:
        array = ((t.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()
        return Image.fromarray(array)

    for sample in samples:
        image = sample["image"][None].to(device)
        suit = g_ab(image, torch.tensor([ATTIRES.index("suit")], device=device))
        blazer = g_ab(image, torch.tensor([ATTIRES.index("blazer")], device=device))
        rec = g_ba(suit)
        face = image * (0.4 + 0.6 * sample["face_mask"][None].to(device))
        person = image * (0.4 + 0.6 * sample["person_mask"][None].to(device))
        tiles += [to_image(x[0]) for x in (image, suit, blazer, rec, face, person)]
    return image_grid(tiles, 6)


def write_samples(accelerator, models, samples, output_dir: Path, step: int) -> None:
    if not samples:
        return
    g_ab, g_ba = (accelerator.unwrap_model(m) for m in models[:2])
    was_training = g_ab.training
    g_ab.eval()
    g_ba.eval()
    sample_grid(g_ab, g_ba, samples, accelerator.device).save(output_dir / "samples" / f"step-{step:06d}.png")
    if was_training:
        g_ab.train()
        g_ba.train()
