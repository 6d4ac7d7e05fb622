"""The shipped wardrobe: load it (offline, from the package), list it, look outfits up and pick a default."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..errors import CycleBizError
from .outfit import Outfit, read_outfits
from .vocabulary import ATTIRES, check_attire

OUTFITS_DIR = Path(__file__).resolve().parent / "outfits"

# The outfit ``attire=...`` gives by default (the first one present); picked by eye from the shipped wardrobe:
# plain, mid-tone, no pattern, so that they suit most people.
DEFAULT_OUTFITS = {
    "suit": ("suit-navy-01",),
    "blazer": ("blazer-navy-01",),
}
# A mirrored outfit must fit the head turn / light this much better to be preferred (keeps choices stable).
_MIRROR_MARGIN = 0.05


class UnknownOutfitError(CycleBizError):
    """No outfit with that id in the wardrobe."""


@lru_cache(maxsize=4)
def _load(folder: str) -> tuple[Outfit, ...]:
    return tuple(read_outfits(folder))


def load_wardrobe(folder: str | Path | None = None) -> list[Outfit]:
    """Every outfit in ``folder`` (default: the wardrobe shipped in the package), loaded once per process."""
    return list(_load(str(Path(folder or OUTFITS_DIR).resolve())))


def list_outfits(attire: str | None = None, folder: str | Path | None = None) -> list[dict[str, str]]:
    """One row per outfit for listings (``cyclegan-biz outfits``, the Space's gallery): id, attire, colour, shirt,
    tie and credit."""
    rows = []
    for outfit in load_wardrobe(folder):
        if attire in (None, "auto") or outfit.attire == attire:
            rows.append({
                "id": outfit.id,
                "attire": outfit.attire,
                "colour": outfit.colour,
                "shirt": outfit.shirt,
                "tie": "tie" if outfit.tie else "no tie",
                "credit": outfit.credit(),
            })
    return rows


def get_outfit(outfit_id: str, folder: str | Path | None = None) -> Outfit:
    """The outfit called ``outfit_id``; ``UnknownOutfitError`` listing a few valid ids otherwise."""
    outfits = load_wardrobe(folder)
    for outfit in outfits:
        if outfit.id == outfit_id:
            return outfit
    examples = ", ".join(o.id for o in outfits[:4])
    raise UnknownOutfitError(
        f"No outfit called {outfit_id!r}. Run `cyclegan-biz outfits` to list them (e.g. {examples}), "
        "or pass the path of a photo of someone in business clothes."
    )


def _mismatch(outfit: Outfit, yaw: float, light: float) -> float:
    return abs(outfit.yaw - yaw) + 0.5 * abs(outfit.light - light)


def choose_outfit(
    attire: str, yaw: float = 0.0, light: float = 0.0, colour: str | None = None, folder: str | Path | None = None
) -> Outfit:
    """The default outfit for ``attire`` ("suit" or "blazer"; optionally of a jacket ``colour``), mirrored when
    that matches the person's head turn ``yaw`` and light side ``light`` better."""
    check_attire(attire, allow_auto=False)
    candidates = [o for o in load_wardrobe(folder) if o.attire == attire and colour in (None, o.colour)]
    if not candidates:
        raise UnknownOutfitError(
            f"The wardrobe has no {colour + ' ' if colour else ''}{attire}; "
            f"run `cyclegan-biz outfits` to see what there is (attires: {', '.join(ATTIRES)})."
        )
    by_id = {o.id: o for o in candidates}
    preferred = [by_id[i] for i in DEFAULT_OUTFITS.get(attire, ()) if i in by_id]
    outfit = preferred[0] if preferred else candidates[0]
    mirrored = outfit.mirrored()
    if _mismatch(mirrored, yaw, light) + _MIRROR_MARGIN < _mismatch(outfit, yaw, light):
        return mirrored
    return outfit
