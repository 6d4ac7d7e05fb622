"""Measure the jaw-to-neck blends against each other on the seam checks of ``blends.seam_stats``.

For each photo, the default outfit for its attire is fitted with every blend of ``blends.BLENDS`` (Lab colour
transfer only, Laplacian pyramid, Poisson); the seam band (chin to collar) is scored by the strongest row of vertical
lightness gradient over the band's median row (a straight cut scores high) and the Lab distance between cheeks and
the neck just below the chin. Real business portraits are scored the same way for reference.

    python scripts/compare_blends.py ../shared/datasets/eval/canada \
        --reference ../shared/datasets/business/us-congress-wiki
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np

from cyclegan_biz.cli import quiet_native_logs
from cyclegan_biz.errors import CycleBizError
from cyclegan_biz.headshot_frame import head_top, headshot_framing
from cyclegan_biz.imageio import load_rgb_array
from cyclegan_biz.sources import iter_images
from cyclegan_biz.vision.landmarks import detect_face
from cyclegan_biz.vision.segmentation import person_mask
from cyclegan_biz.wardrobe import fitting
from cyclegan_biz.wardrobe.blends import BLENDS, seam_stats
from cyclegan_biz.wardrobe.catalogue import choose_outfit

GREY = (197, 199, 201)


def canvas_of(path: Path, width: int):
    photo = load_rgb_array(path)
    face = detect_face(photo)
    person = person_mask(photo)
    framing = headshot_framing(face, head_top(person, face), width)
    matte = (framing.warp(person) * framing.valid_mask(photo.shape)).astype(np.float32)
    return framing.warp(photo), matte, face.transformed(framing.matrix)


def summary(values: list[float]) -> dict[str, float]:
    array = np.asarray(values)
    return {"median": round(float(np.median(array)), 2), "p90": round(float(np.percentile(array, 90)), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+")
    parser.add_argument("--reference", default=None, help="real portraits scored for comparison")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args()
    files = iter_images(args.inputs)
    files = sorted(random.Random(0).sample(files, min(args.limit, len(files))))
    scores: dict[str, dict[str, list[float]]] = {b: {"gradient_ratio": [], "cheek_neck_distance": [], "ms": []}
                                                 for b in BLENDS}
    with quiet_native_logs():
        for path in files:
            try:
                canvas, person, face = canvas_of(path, args.size)
            except CycleBizError:
                continue
            outfit = choose_outfit("suit" if path.stem.endswith("m") else "blazer")
            for blend in BLENDS:
                start = time.perf_counter()
                result = fitting.fit_outfit(canvas, person, face, outfit, GREY, blend=blend)
                scores[blend]["ms"].append(1000 * (time.perf_counter() - start))
                # the same band as on the real portraits (chin - 0.1 to chin + 0.3 face sizes): comparable numbers
                for key, value in seam_stats(result.image, face).items():
                    scores[blend][key].append(value)
        report = {blend: {key: summary(values) for key, values in entry.items()} for blend, entry in scores.items()}
        if args.reference:
            real: dict[str, list[float]] = {"gradient_ratio": [], "cheek_neck_distance": []}
            references = iter_images([args.reference])
            for path in sorted(random.Random(0).sample(references, min(args.limit, len(references)))):
                photo = load_rgb_array(path)
                try:
                    face = detect_face(photo)
                except CycleBizError:
                    continue
                for key, value in seam_stats(photo, face).items():
                    real[key].append(value)
            report["real portraits"] = {key: summary(values) for key, values in real.items()}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
