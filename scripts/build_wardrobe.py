"""Build the shipped wardrobe: cut outfits from the chosen business portraits (reproducible), or list candidates.

    python scripts/build_wardrobe.py                     # ../shared/datasets/business -> cyclegan_biz/wardrobe/outfits
    python scripts/build_wardrobe.py --candidates cands/ # contact sheets + list of photos passing every filter

Curation: look at the candidates' contact sheets, copy the good ones (no pins, no beard under the chin, clean
collar) into cyclegan_biz/wardrobe/chosen.txt as ``<file> <attire>`` (optional: ``tie``/``no-tie``, ``pin=X,Y`` for a
pin the finder misses, ``colour=brown`` to recolour the jacket; see ``collection.read_chosen``), then build.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from cyclegan_biz.wardrobe.collection import (
    CHOSEN_FILE,
    build_wardrobe,
    contact_sheet,
    find_candidates,
    redistributable_portraits,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--business", default="../shared/datasets/business", help="folder with metadata.csv")
    parser.add_argument("--output", default="cyclegan_biz/wardrobe/outfits", help="where the wardrobe is written")
    parser.add_argument("--chosen", default=str(CHOSEN_FILE), help="list of chosen portraits (<file> <attire>)")
    parser.add_argument("--candidates", metavar="FOLDER",
                        help="instead of building: write contact sheets and candidates.tsv of portraits that pass")
    parser.add_argument("--sources", nargs="+", help="only these source folders (e.g. uk-parliament)")
    parser.add_argument("--per-sheet", type=int, default=60, help="outfits per contact sheet")
    return parser.parse_args()


def write_candidates(args: argparse.Namespace) -> None:
    portraits = [p for p in redistributable_portraits(args.business) if not args.sources or p.folder in args.sources]
    cuts, reasons = find_candidates(portraits, progress=lambda items: tqdm(items, desc="candidates", unit="photo"))
    folder = Path(args.candidates)
    folder.mkdir(parents=True, exist_ok=True)
    outfits = [cut.outfit for cut in cuts]
    for start in range(0, len(outfits), args.per_sheet):
        sheet = contact_sheet(outfits[start: start + args.per_sheet])
        sheet.save(folder / f"sheet-{start // args.per_sheet:02d}.png")
    with open(folder / "candidates.tsv", "w") as handle:
        handle.write("file\tattire\tcolour\tshirt\ttie\tyaw\n")
        for o in outfits:
            handle.write(f"{o.file}\t{o.attire}\t{o.colour}\t{o.shirt}\t{o.tie}\t{o.yaw:+.2f}\n")
    print(json.dumps({"portraits": len(portraits), "passed": len(cuts), "rejected": reasons}, indent=1))


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    if args.candidates:
        write_candidates(args)
    else:
        try:
            outfits = build_wardrobe(args.business, args.output, args.chosen,
                                     progress=lambda items: tqdm(items, desc="outfits", unit="outfit"))
        except (FileNotFoundError, ValueError) as err:
            sys.exit(f"error: {err}")
        size = sum(f.stat().st_size for f in Path(args.output).iterdir())
        print(json.dumps({
            "outfits": len(outfits),
            "attire": Counter(o.attire for o in outfits),
            "colour": Counter(f"{o.attire} {o.colour}" for o in outfits),
            "shirt": Counter(o.shirt for o in outfits),
            "tie": Counter("tie" if o.tie else "no tie" for o in outfits),
            "source": Counter(o.file.split("/")[0] for o in outfits),
            "size_mb": round(size / 1e6, 2),
        }, indent=1))
    print(f"done in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
