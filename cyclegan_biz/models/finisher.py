"""The finisher: a smooth colour/light correction of a wardrobe composite, applied only inside the seam band.

The CycleBizGenerator backbone sees the composite and its masks at a low working resolution and predicts a bounded
RGB offset there; the offset is upsampled (bilinear: smooth by construction, so the full-resolution outfit detail is
never repainted) and added where the seam band is > 0. Outside the band the output is the input, bit for bit, so the
face, the outfit away from the collar and the background cannot drift (issue 12: "correct, do not repaint").
"""

from __future__ import annotations

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from .generator import CycleBizGenerator

# Input planes besides RGB: the seam band, the face mask (to be left alone) and the person matte.
MASK_PLANES = ("band", "face", "person")


class CycleBizFinisher(ModelMixin, ConfigMixin):
    """``forward(image, band, face, person)`` -> ``image + band * upsample(correction)`` (all in [-1, 1] RGB, masks in
    [0, 1], B x 1 x H x W). ``correction(...)`` gives the low-resolution offset alone (B x 3 x r x r,
    ``r = working_resolution``), for applying it at another resolution (``wardrobe.finishing``)."""

    @register_to_config
    def __init__(
        self,
        base_channels: int = 16,
        num_res_blocks: int = 3,
        num_downsamples: int = 2,
        working_resolution: int = 64,
        max_change: float = 0.5,
        resolution: int = 128,
    ) -> None:
        super().__init__()
        self.backbone = CycleBizGenerator(in_channels=3 + len(MASK_PLANES), out_channels=3,
                                          base_channels=base_channels, num_res_blocks=num_res_blocks,
                                          num_downsamples=num_downsamples, num_attire_classes=0,
                                          resolution=working_resolution)
        # Start as the identity: the last convolution's zero init makes the first correction exactly 0.
        last = [m for m in self.backbone.modules() if isinstance(m, nn.Conv2d)][-1]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def correction(self, image: torch.Tensor, band: torch.Tensor, face: torch.Tensor,
                   person: torch.Tensor) -> torch.Tensor:
        size = self.config.working_resolution
        planes = torch.cat([image, band, face, person], dim=1)
        small = nn.functional.interpolate(planes, size=(size, size), mode="area")
        return self.backbone(small) * self.config.max_change

    def forward(self, image: torch.Tensor, band: torch.Tensor, face: torch.Tensor,
                person: torch.Tensor) -> torch.Tensor:
        change = nn.functional.interpolate(self.correction(image, band, face, person), size=image.shape[-2:],
                                           mode="bilinear", align_corners=False)
        corrected = (image + band * change).clamp(-1, 1)
        return torch.where(band > 0, corrected, image)  # exact outside the band, whatever the correction
