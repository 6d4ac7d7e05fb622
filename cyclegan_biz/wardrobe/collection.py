"""Building the shipped wardrobe from the business portraits: which photos may be used, candidates for
curation, and the reproducible build from the committed list of chosen photos (``chosen.txt``).

``scripts/build_wardrobe.py`` is the command line around these functions.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..errors import NoOutfitError
from ..imageio import load_rgb_array
from ..visualize import image_grid
from .builder import Cut, assess_photo
from .outfit import Outfit, write_outfits
from .recolour import JACKET_COLOURS, check_jacket_colour
from .vocabulary import ATTIRES, attire_for_gender

CHOSEN_FILE = Path(__file__).resolve().parent / "chosen.txt"

# Source folders whose licence allows shipping derived outfits, and the credit each outfit carries.
REDISTRIBUTABLE = {
    "uk-parliament": "UK Parliament official portrait{name}, CC BY 3.0 (https://members.parliament.uk)",
    "us-congress": "US Congress official photo{name}, public domain (US government work)",
    "us-congress-wiki": "US Congress member photo{name} (voteview/member_photos), public-domain government photo",
}


@dataclass
class Portrait:
    """One row of the business ``metadata.csv``."""

    path: Path
    file: str  # relative to the business folder
    gender: str
    source: str
    licence: str

    @property
    def folder(self) -> str:
        return self.file.split("/", 1)[0]

    def attribution(self) -> str:
        stem = Path(self.file).stem
        # UK files are named after the member ("Jane_Doe_Portrait"); US files carry an id only.
        name = stem.removesuffix("_Portrait").replace("_", " ") if self.folder == "uk-parliament" else ""
        return REDISTRIBUTABLE[self.folder].format(name=f" of {name}" if name else f" {stem}")


def redistributable_portraits(business: str | Path) -> list[Portrait]:
    """The portraits in ``business`` (a folder with ``metadata.csv``) whose licence lets us ship outfits cut
    from them, in metadata order."""
    business = Path(business)
    with open(business / "metadata.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        Portrait(business / row["file_name"], row["file_name"], row["gender"], row["source"], row["licence"])
        for row in rows
        if row["file_name"].split("/", 1)[0] in REDISTRIBUTABLE
    ]


def cut_portrait(portrait: Portrait, attire: str | None = None, outfit_id: str = "candidate",
                 pins: Sequence[tuple[float, float]] = (), recolour: str | None = None) -> Cut:
    """``assess_photo`` on one portrait, with its credit; attire from the gender label unless given; ``pins``:
    pins marked by eye (photo pixels); ``recolour``: the jacket's new colour (``recolour.JACKET_COLOURS``)."""
    return assess_photo(
        load_rgb_array(portrait.path),
        attire=attire or attire_for_gender(portrait.gender),
        outfit_id=outfit_id,
        source=portrait.source,
        file=portrait.file,
        licence=portrait.licence,
        attribution=portrait.attribution(),
        pins=pins,
        recolour=recolour,
    )


def find_candidates(
    portraits: Iterable[Portrait], progress: Callable[[Iterable], Iterable] = iter
) -> tuple[list[Cut], dict[str, int]]:
    """Cuts of the portraits that pass every automatic filter, and counts of why the others failed."""
    passed, reasons = [], {}
    for portrait in progress(list(portraits)):
        try:
            cut = cut_portrait(portrait)
        except NoOutfitError as err:
            key = str(err).split(":")[0][:60]
            reasons[key] = reasons.get(key, 0) + 1
            continue
        for problem in cut.problems:
            key = re.sub(r"\s*\(.*", "", problem)
            reasons[key] = reasons.get(key, 0) + 1
        if not cut.problems:
            passed.append(cut)
    return passed, reasons


def contact_sheet(outfits: list[Outfit], columns: int = 10, tile: int = 192) -> Image.Image:
    """Previews of outfits on grey, labelled with their file and colours, for curation by eye."""
    tiles, labels = [], []
    for outfit in outfits:
        preview = Image.fromarray(outfit.preview())
        preview.thumbnail((tile, tile), Image.LANCZOS)
        canvas = Image.new("RGB", (tile, tile), (200, 204, 210))
        canvas.paste(preview, ((tile - preview.width) // 2, (tile - preview.height) // 2))
        tiles.append(canvas)
        labels.append(f"{Path(outfit.file).stem[:16]} {outfit.colour}/{outfit.shirt}{'/tie' if outfit.tie else ''}")
    return image_grid(tiles, columns, labels)


@dataclass
class Choice:
    """One line of the chosen list."""

    file: str
    attire: str
    tie: bool | None = None  # None: as detected; set where the detector is wrong (checked by eye)
    pins: tuple[tuple[float, float], ...] = ()  # pins the finder misses, marked by eye (photo pixels)
    recolour: str | None = None  # the jacket turned to this colour (a colour no cuttable portrait wears)


CHOSEN_FORMAT = f"<file> <attire> [tie|no-tie] [pin=X,Y ...] [colour={'|'.join(JACKET_COLOURS)}]"


def read_chosen(path: str | Path = CHOSEN_FILE) -> list[Choice]:
    """The chosen list: one ``<file relative to business/> <attire> [tie|no-tie] [pin=X,Y ...] [colour=NAME]`` per
    line (``X,Y``: photo pixels of a pin the pin finder misses; ``NAME``: the jacket is recoloured, see
    ``recolour.JACKET_COLOURS``), ``#`` comments."""
    chosen = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        try:
            chosen.append(_choice(fields))
        except ValueError:
            raise ValueError(f"{path}:{number}: expected '{CHOSEN_FORMAT}' ({'|'.join(ATTIRES)}), got {line!r}") \
                from None
    return chosen


def _choice(fields: list[str]) -> Choice:
    if len(fields) < 2 or fields[1] not in ATTIRES:
        raise ValueError
    tie, pins, recolour = None, [], None
    for extra in fields[2:]:
        if extra in ("tie", "no-tie") and tie is None:
            tie = extra == "tie"
        elif extra.startswith("colour=") and recolour is None:
            recolour = check_jacket_colour(extra.removeprefix("colour="))
        elif extra.startswith("pin="):
            x, y = extra.removeprefix("pin=").split(",")  # ValueError unless exactly two numbers
            pins.append((float(x), float(y)))
        else:
            raise ValueError
    return Choice(fields[0], fields[1], tie, tuple(pins), recolour)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def build_wardrobe(
    business: str | Path,
    output: str | Path,
    chosen: str | Path = CHOSEN_FILE,
    progress: Callable[[Iterable], Iterable] = iter,
) -> list[Outfit]:
    """Cut every chosen portrait and write the wardrobe to ``output``. Ids are ``<attire>-<colour>-NN``, numbered
    in chosen-list order, so the same list always gives the same ids."""
    by_file = {p.file: p for p in redistributable_portraits(business)}
    outfits: list[Outfit] = []
    numbers: dict[str, int] = {}
    for choice in progress(read_chosen(chosen)):
        if choice.file not in by_file:
            raise FileNotFoundError(f"{choice.file} (in {chosen}) is not a redistributable portrait of {business}")
        try:
            cut = cut_portrait(by_file[choice.file], choice.attire, pins=choice.pins, recolour=choice.recolour)
        except ValueError as err:  # e.g. a jacket that cannot be recoloured: say which line of the list
            raise ValueError(f"{choice.file} (in {chosen}): {err}") from err
        outfit = cut.outfit
        if choice.tie is not None:
            outfit.tie = choice.tie
        stem = f"{choice.attire}-{_slug(outfit.colour)}"
        numbers[stem] = numbers.get(stem, 0) + 1
        outfit.id = f"{stem}-{numbers[stem]:02d}"
        outfits.append(outfit)
    write_outfits(outfits, output)
    return outfits
