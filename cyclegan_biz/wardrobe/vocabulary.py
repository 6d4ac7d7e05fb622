"""THE one place for the attire and outfit vocabulary.

Pipeline, CLI, Space, training and evaluation import these names instead of repeating the strings.
"""

from __future__ import annotations

# What a person wears in a business headshot. The order matters elsewhere: the generator's attire class ids
# equal the dataset's gender ids (female -> blazer 0, male -> suit 1).
ATTIRES = ("blazer", "suit")
ATTIRE_AUTO = "auto"
ATTIRE_CHOICES = (ATTIRE_AUTO, *ATTIRES)
# What ``attire="auto"`` means when the model has no attire classifier (``attire_confidence`` is then None).
FALLBACK_ATTIRE = "suit"

# Special values of ``outfit=`` besides an outfit id or a path to a photo.
OUTFIT_AUTO = "auto"  # the default outfit for the attire
OUTFIT_KEEP = "keep"  # the user's own clothes: new frame and background only
OUTFIT_NONE = "none"  # the generator alone, no outfit fitted
OUTFIT_SPECIAL = (OUTFIT_AUTO, OUTFIT_KEEP, OUTFIT_NONE)

# The attire business portraits show for each labelled gender (what the dataset's labels imply).
_ATTIRE_BY_GENDER = {"female": "blazer", "male": "suit"}


def attire_for_gender(gender: str | None) -> str | None:
    """The attire implied by a dataset gender label ("female" -> "blazer", "male" -> "suit"), None if unlabelled."""
    return _ATTIRE_BY_GENDER.get((gender or "").strip().lower())


def check_attire(attire: str, allow_auto: bool = True) -> str:
    """``attire`` if it is a known choice, else ``ValueError`` naming the choices."""
    choices = ATTIRE_CHOICES if allow_auto else ATTIRES
    if attire not in choices:
        raise ValueError(f"Unknown attire {attire!r}; choose one of {', '.join(choices)}.")
    return attire
