"""Contact sheet of headshots: each photo beside its headshot, for looking at many outputs at once.

    python scripts/outfit_sheet.py ../shared/datasets/eval/canada --output docs/wardrobe-canada.jpg
    python scripts/outfit_sheet.py "../shared/datasets/casual/pixabay/*.jpg" --limit 24 --outfit keep -o keep.jpg
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from cyclegan_biz.cli import quiet_native_logs
from cyclegan_biz.errors import CycleBizError
from cyclegan_biz.pipeline import SelfieToBusinessPipeline
from cyclegan_biz.sources import iter_images
from cyclegan_biz.visualize import fitted_tile, image_grid


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", help="photos, folders or globs")
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--outfit", default="auto")
    parser.add_argument("--attire", default="auto")
    parser.add_argument("--aspect", default="1:1")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--columns", type=int, default=8, help="tiles per row (pairs: half of it)")
    parser.add_argument("--limit", type=int, default=0, help="a random sample of this many photos (seed 0)")
    args = parser.parse_args()
    files = iter_images(args.inputs)
    if args.limit and len(files) > args.limit:
        files = sorted(random.Random(0).sample(files, args.limit))
    with quiet_native_logs():
        pipe = SelfieToBusinessPipeline.from_pretrained()
        tiles, labels = [], []
        for path in files:
            try:
                result = pipe(path, attire=args.attire, outfit=args.outfit, size=args.size, aspect=args.aspect)
            except CycleBizError as err:
                print(f"{path.name}: {err}", file=sys.stderr)
                continue
            tiles += [fitted_tile(path, args.tile), fitted_tile(result.image, args.tile)]
            labels += [path.name[:30], f"{result.outfit}{' (hair cut at top)' if result.warnings else ''}"[:40]]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    image_grid(tiles, args.columns, labels).save(args.output, quality=88)
    print(f"{len(tiles) // 2} of {len(files)} photos: {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
