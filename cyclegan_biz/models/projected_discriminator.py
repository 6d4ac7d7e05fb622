"""Projected discriminator ("Projected GANs Converge Faster", Sauer et al. 2021), small and CPU friendly.

A frozen ImageNet EfficientNet-Lite0 gives features at four scales; a small trainable head per scale outputs
real/fake logits, and a linear head on the pooled deepest features gives the attire/gender logits.
"""

from __future__ import annotations

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from .efficientnet_lite import FEATURE_CHANNELS, EfficientNetLite0, load_efficientnet_lite0
from .outputs import DiscriminatorOutput


class CycleBizProjectedDiscriminator(ModelMixin, ConfigMixin):
    @register_to_config
    def __init__(self, head_channels: int = 64, num_classes: int = 2, pretrained_backbone: bool = True) -> None:
        super().__init__()
        # Saved weights include the backbone, so a reloaded model never needs the weights package.
        self.backbone = load_efficientnet_lite0() if pretrained_backbone else EfficientNetLite0().requires_grad_(False)
        self.heads = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(channels, head_channels, 1), nn.LeakyReLU(0.2, True),
                nn.Conv2d(head_channels, head_channels, 3, padding=1), nn.LeakyReLU(0.2, True),
                nn.Conv2d(head_channels, 1, 1),
            )
            for channels in FEATURE_CHANNELS
        )
        self.class_head = nn.Linear(FEATURE_CHANNELS[-1], num_classes) if num_classes else None

    def train(self, mode: bool = True) -> CycleBizProjectedDiscriminator:
        super().train(mode)
        self.backbone.eval()  # frozen batch-norm statistics stay ImageNet's
        return self

    def forward(self, image: torch.Tensor) -> DiscriminatorOutput:
        features = self.backbone.features(image)
        # One logit map per scale, all resized to the finest map and averaged into one patch map.
        size = features[0].shape[-2:]
        maps = [nn.functional.interpolate(head(f), size=size, mode="nearest") if f.shape[-2:] != size else head(f)
                for head, f in zip(self.heads, features, strict=True)]
        logits = self.class_head(features[-1].mean(dim=(2, 3))) if self.class_head is not None else None
        return DiscriminatorOutput(torch.stack(maps).mean(dim=0), logits)
