"""Differentiable augmentation for the discriminators (the idea of "Differentiable Augmentation for Data-Efficient
GAN Training", Zhao et al. 2020; written here for images that carry a seam-band weight).

The same random change is applied to an image and to its band, so a banded loss still judges the seam band where it
moved to: colour (brightness, saturation, contrast: the image only), translation (both) and cutout (the image; the
band keeps its weight, the discriminator sees a hole). Gradients flow through every op, so the generator is trained
through the augmentation as the discriminator is; with few images this keeps a discriminator from memorising them
(the projected discriminator collapsed without it).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

TRANSLATION = 0.125  # the largest shift, as a share of the side
CUTOUT = 0.5  # the cut-out square's side, as a share of the image's side


def _colour(image: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    n = image.shape[0]

    def draw(low: float, high: float) -> torch.Tensor:
        return torch.rand(n, 1, 1, 1, generator=generator, device=image.device) * (high - low) + low

    image = image + draw(-0.5, 0.5)  # brightness (images in [-1, 1])
    grey = image.mean(dim=1, keepdim=True)
    image = (image - grey) * draw(0.0, 2.0) + grey  # saturation
    mean = image.mean(dim=(1, 2, 3), keepdim=True)
    return (image - mean) * draw(0.5, 1.5) + mean  # contrast


def _translate(planes: list[torch.Tensor], generator: torch.Generator | None) -> list[torch.Tensor]:
    n = planes[0].shape[0]
    shift = (torch.rand(n, 2, generator=generator, device=planes[0].device) * 2 - 1) * (2 * TRANSLATION)
    theta = torch.zeros(n, 2, 3, device=planes[0].device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, :, 2] = shift  # grid units: the side is 2
    grid = F.affine_grid(theta, list(planes[0].shape), align_corners=False)
    return [F.grid_sample(p, grid.to(p.dtype), mode="bilinear", padding_mode="zeros", align_corners=False)
            for p in planes]


def _cutout(image: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    n, _, height, width = image.shape
    side_h, side_w = max(1, int(height * CUTOUT)), max(1, int(width * CUTOUT))
    centre_y = torch.randint(0, height, (n, 1, 1), generator=generator, device=image.device)
    centre_x = torch.randint(0, width, (n, 1, 1), generator=generator, device=image.device)
    rows = torch.arange(height, device=image.device).view(1, -1, 1)
    cols = torch.arange(width, device=image.device).view(1, 1, -1)
    hole = ((rows - centre_y).abs() <= side_h // 2) & ((cols - centre_x).abs() <= side_w // 2)
    return image * (~hole).unsqueeze(1).to(image.dtype)


def diff_augment(image: torch.Tensor, band: torch.Tensor,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(augmented image, its band): colour, translation and cutout, independently drawn for each sample."""
    image = _colour(image, generator)
    image, band = _translate([image, band], generator)
    return _cutout(image, generator), band
