"""The networks: one model per file."""

from .discriminator import CycleBizDiscriminator
from .finisher import CycleBizFinisher
from .generator import ATTIRE_CLASSES, CycleBizGenerator
from .outputs import DiscriminatorOutput
from .projected_discriminator import CycleBizProjectedDiscriminator

__all__ = [
    "ATTIRE_CLASSES",
    "CycleBizDiscriminator",
    "CycleBizFinisher",
    "CycleBizGenerator",
    "CycleBizProjectedDiscriminator",
    "DiscriminatorOutput",
]
