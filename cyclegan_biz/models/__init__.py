"""The networks: one model per file.

The names below are imported on first use (PEP 562), so that importing one light module of this package (e.g.
``models.efficientnet_lite`` for the attire classifier) does not import diffusers (about 3 s on a busy 2-core CPU).
"""

from importlib import import_module

_HOMES = {
    "CycleBizDiscriminator": ".discriminator",
    "CycleBizFinisher": ".finisher",
    "ATTIRE_CLASSES": ".generator",
    "CycleBizGenerator": ".generator",
    "DiscriminatorOutput": ".outputs",
    "CycleBizProjectedDiscriminator": ".projected_discriminator",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name], __name__), name)
    globals()[name] = value
    return value
