"""70x70 PatchGAN with an auxiliary gender/attire classification head (AC-GAN / StarGAN style)."""

from __future__ import annotations

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from .outputs import DiscriminatorOutput


class CycleBizDiscriminator(ModelMixin, ConfigMixin):
    """PatchGAN (C64-C128-C256-C512, 70x70 receptive field) plus a pooled linear head for class logits."""

    @register_to_config
    def __init__(self, in_channels: int = 3, base_channels: int = 64, num_layers: int = 3,
                 num_classes: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, base_channels, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        channels = base_channels
        for i in range(1, num_layers + 1):
            out = base_channels * min(2**i, 8)
            stride = 2 if i < num_layers else 1
            layers += [nn.Conv2d(channels, out, 4, stride, 1), nn.InstanceNorm2d(out), nn.LeakyReLU(0.2, True)]
            channels = out
        self.features = nn.Sequential(*layers)
        self.patch_head = nn.Conv2d(channels, 1, 4, 1, 1)
        self.class_head = nn.Linear(channels, num_classes) if num_classes else None

    def forward(self, image: torch.Tensor) -> DiscriminatorOutput:
        features = self.features(image)
        logits = self.class_head(features.mean(dim=(2, 3))) if self.class_head is not None else None
        return DiscriminatorOutput(self.patch_head(features), logits)
