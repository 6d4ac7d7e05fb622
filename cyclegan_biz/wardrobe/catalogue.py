"""The shipped wardrobe: load it (offline, from the package), list it, look outfits up and pick a default."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..errors import CycleBizError
from .outfit import Outfit, read_outfits
from .vocabulary import ATTIRE_AUTO, ATTIRES, check_attire

OUTFITS_DIR = Path(__file__).resolve().parent / "outfits"

# The outfits ``attire=...`` picks from by default (the one, or its mirror image, whose wearer's head turn and light
# side match the person's best; see ``choose_outfit``). Picked by eye from contact sheets of every outfit fitted on
# the bundled examples and on casual photos: dark, plain jackets with a clean collar; for blazers a high neckline (a
# top or a shirt under the jacket: a deep bare neckline looks like a long bare neck on most people) and nothing
# hanging at the neck (blazer-light-blue-01 and blazer-charcoal-01 show a pendant as a bar under the chin).
# blazer-navy-01 (navy, high green top) was a second default; on eval/canada its folded right lapel looked odd.
DEFAULT_OUTFITS = {
    "suit": ("suit-navy-10", "suit-navy-12", "suit-navy-20"),
    "blazer": ("blazer-black-03",),
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
        if attire in (None, ATTIRE_AUTO) or outfit.attire == attire:
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


def _mismatch(outfit: Outfit, yaw: float, light: float, mirrored: bool = False) -> float:
    sign = -1.0 if mirrored else 1.0  # the mirror image has the opposite head turn and light side
    return abs(sign * outfit.yaw - yaw) + 0.5 * abs(sign * outfit.light - light)


def _fit(outfit: Outfit, yaw: float, light: float) -> float:
    """How badly ``outfit`` (or its mirror image, which must fit clearly better) matches the head turn and light."""
    return min(_mismatch(outfit, yaw, light), _mismatch(outfit, yaw, light, mirrored=True) + _MIRROR_MARGIN)


def choose_outfit(
    attire: str, yaw: float = 0.0, light: float = 0.0, colour: str | None = None, folder: str | Path | None = None
) -> Outfit:
    """The default outfit for ``attire`` ("suit" or "blazer"; optionally of a jacket ``colour``): among the
    defaults (``DEFAULT_OUTFITS``, else the first of that colour), the one matching the person's head turn ``yaw``
    and light side ``light`` best, mirrored when that matches better. Reads no layer but the chosen one's."""
    check_attire(attire, allow_auto=False)
    candidates = [o for o in load_wardrobe(folder) if o.attire == attire and colour in (None, o.colour)]
    if not candidates:
        raise UnknownOutfitError(
            f"The wardrobe has no {colour + ' ' if colour else ''}{attire}; "
            f"run `cyclegan-biz outfits` to see what there is (attires: {', '.join(ATTIRES)})."
        )
    by_id = {o.id: o for o in candidates}
    preferred = [by_id[i] for i in DEFAULT_OUTFITS.get(attire, ()) if i in by_id] or candidates[:1]
    outfit = min(preferred, key=lambda o: _fit(o, yaw, light))
    if _mismatch(outfit, yaw, light, mirrored=True) + _MIRROR_MARGIN < _mismatch(outfit, yaw, light):
        return outfit.mirrored()
    return outfit
