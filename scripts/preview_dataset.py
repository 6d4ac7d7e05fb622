"""Draw a grid of aligned crops with the face mask (red) and person mask (blue) overlaid.

    python scripts/preview_dataset.py data/selfie2biz-256 --output grid.png
"""

from __future__ import annotations

import argparse

from cyclegan_biz.training.dataset import load_dataset_any
from cyclegan_biz.visualize import preview_grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", help="a save_to_disk folder or a Hub dataset id")
    parser.add_argument("--output", default="grid.png")
    parser.add_argument("--split", default="train")
    parser.add_argument("--count", type=int, default=32, help="how many crops (half casual, half business)")
    parser.add_argument("--columns", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    split = load_dataset_any(args.dataset)[args.split]
    preview_grid(split, args.count, args.columns, args.seed).save(args.output)
    print(f"Wrote {args.output}")


if __name__ == "__main__":
    main()
