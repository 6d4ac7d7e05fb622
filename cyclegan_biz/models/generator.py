"""CycleGAN ResNet generator conditioned on the target attire: a learnt per-channel shift after the instance norm of
every residual block (see ``ResidualBlock``)."""

from __future__ import annotations

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from ..wardrobe.vocabulary import ATTIRES

# The attire class ids (``wardrobe.vocabulary.ATTIRES``, ordered as the dataset's gender ids).
ATTIRE_CLASSES = ATTIRES


class ResidualBlock(nn.Module):
    """conv-norm-(+attire shift)-relu-conv-norm with a skip connection.

    The attire enters as a per-channel shift *after* the instance norm: a spatially constant signal added anywhere
    before a norm (e.g. one-hot input planes) is subtracted away by it, so it could never change the output.
    """

    def __init__(self, channels: int, num_classes: int = 0) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels),
        )
        self.condition = nn.Linear(num_classes, channels, bias=False) if num_classes else None
        if self.condition is not None:
            nn.init.normal_(self.condition.weight, std=0.5)

    def forward(self, x: torch.Tensor, attire: torch.Tensor | None = None) -> torch.Tensor:
        pad, conv, norm, relu, *rest = self.block
        hidden = norm(conv(pad(x)))
        if self.condition is not None and attire is not None:
            hidden = hidden + self.condition(attire)[:, :, None, None]
        hidden = relu(hidden)
        for layer in rest:
            hidden = layer(hidden)
        return x + hidden


def upsample_block(in_channels: int, out_channels: int, mode: str) -> list[nn.Module]:
    if mode == "transpose":
        conv = nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1, output_padding=1)
        return [conv, nn.InstanceNorm2d(out_channels), nn.ReLU(True)]
    # Resize-then-convolve avoids the checkerboard artefacts of transposed convolutions (Odena et al. 2016).
    return [nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(1),
            nn.Conv2d(in_channels, out_channels, 3), nn.InstanceNorm2d(out_channels), nn.ReLU(True)]


class CycleBizGenerator(ModelMixin, ConfigMixin):
    """ResNet generator (Johnson et al. / CycleGAN) mapping [-1, 1] RGB to [-1, 1] RGB.

    With ``num_attire_classes > 0`` the requested attire (class ids, or per-class weights such as classifier
    probabilities) shifts the features of every residual block after its instance norm, so one model dresses in a
    suit or a blazer on request. ``attire=None`` gives equal weight to every class. The attire vector is also
    concatenated as constant planes to the input (the first conditioning, kept so saved weights still load), but
    the first instance norm subtracts that away: the residual-block shifts are what condition the output.
    """

    @register_to_config
    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        base_channels: int = 64,
        num_res_blocks: int = 9,
        num_downsamples: int = 2,
        upsample_mode: str = "resize",
        num_attire_classes: int = 2,
        resolution: int = 256,
    ) -> None:
        super().__init__()
        if upsample_mode not in ("resize", "transpose"):
            raise ValueError("upsample_mode must be 'resize' or 'transpose'")
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3), nn.Conv2d(in_channels + num_attire_classes, base_channels, 7),
            nn.InstanceNorm2d(base_channels), nn.ReLU(True),
        ]
        channels = base_channels
        for _ in range(num_downsamples):
            layers += [nn.Conv2d(channels, channels * 2, 3, stride=2, padding=1), nn.InstanceNorm2d(channels * 2),
                       nn.ReLU(True)]
            channels *= 2
        layers += [ResidualBlock(channels, num_attire_classes) for _ in range(num_res_blocks)]
        for _ in range(num_downsamples):
            layers += upsample_block(channels, channels // 2, upsample_mode)
            channels //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(channels, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def attire_vector(self, image: torch.Tensor, attire: torch.Tensor | None) -> torch.Tensor:
        """(B, classes) weights: one-hot for class ids, as given for probabilities, uniform for None."""
        batch, classes = image.shape[0], self.config.num_attire_classes
        if attire is None:
            return torch.full((batch, classes), 1.0 / classes, device=image.device, dtype=image.dtype)
        if attire.dtype.is_floating_point:  # soft weights, e.g. classifier probabilities
            return attire.to(image.dtype).reshape(batch, classes)
        return nn.functional.one_hot(attire.long().reshape(batch), classes).to(image.dtype)

    def forward(self, image: torch.Tensor, attire: torch.Tensor | None = None) -> torch.Tensor:
        vector = None
        if self.config.num_attire_classes:
            vector = self.attire_vector(image, attire)
            planes = vector[:, :, None, None].expand(-1, -1, *image.shape[-2:])
            image = torch.cat([image, planes], dim=1)
        x = image
        for layer in self.net:
            x = layer(x, vector) if isinstance(layer, ResidualBlock) else layer(x)
        return x
