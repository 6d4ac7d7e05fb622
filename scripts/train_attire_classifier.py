"""Train the attire classifier used by ``attire="auto"`` (``cyclegan_biz/wardrobe/attire_classifier.py``) and write
its weights into the package.

    python scripts/train_attire_classifier.py                       # ../shared/datasets, writes the package file
    python scripts/train_attire_classifier.py --data DIR --output /tmp/attire.safetensors

Training photos: every photo of ``business/`` and ``casual/`` whose metadata has a gender label (female -> blazer,
male -> suit, ``vocabulary.attire_for_gender``); 20 % of them (stratified, seed 0) are held out and scored. The
``eval/`` photos are never trained on: they are only scored (reported in the weights' metadata and printed).
Needs scikit-learn (the ``eval`` extra); features are cached in ``--cache`` so that refitting is quick.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

from cyclegan_biz.cli import quiet_native_logs
from cyclegan_biz.errors import CycleBizError
from cyclegan_biz.evaluation.probes import fit_with_holdout
from cyclegan_biz.imageio import load_image
from cyclegan_biz.vision.landmarks import detect_face
from cyclegan_biz.wardrobe.attire_classifier import WEIGHTS_FILE, AttireClassifier, head_features
from cyclegan_biz.wardrobe.vocabulary import ATTIRES, attire_for_gender

TRAIN_DOMAINS = ("business", "casual")
EVAL_DOMAIN = "eval"
MAX_SIDE = 1024  # what the pipeline analyses (its "small" copy)


def labelled_photos(folder: Path) -> list[tuple[Path, str]]:
    """``(path, attire)`` of every photo in ``folder/metadata.csv`` with a gender label."""
    rows = []
    with open(folder / "metadata.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            attire = attire_for_gender(row.get("gender"))
            if attire is not None:
                rows.append((folder / row["file_name"], attire))
    return rows


def features_of(photos: list[tuple[Path, str]], cache: Path | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(features, attire index, file names) of the photos whose face is found; cached by file path."""
    cached = dict(np.load(cache, allow_pickle=False)) if cache and cache.exists() else {}
    known = dict(zip(cached.get("paths", np.array([])).tolist(), cached.get("features", []),
                     strict=True))
    features, labels, names = [], [], []
    for index, (path, attire) in enumerate(photos):
        key = str(path.resolve())
        if key not in known:
            try:
                image = np.asarray(load_image(path, max_side=MAX_SIDE).convert("RGB"))
                known[key] = head_features(image, detect_face(image))
            except CycleBizError as err:  # no face: not a training example
                print(f"skipped {path.name}: {err}", file=sys.stderr)
                known[key] = None
        if known[key] is not None:
            features.append(known[key])
            labels.append(ATTIRES.index(attire))
            names.append(path.name)
        if index % 200 == 0:
            print(f"{index}/{len(photos)}", file=sys.stderr)
    if cache:
        kept = {k: v for k, v in known.items() if v is not None}
        np.savez(cache, paths=np.array(list(kept)), features=np.stack(list(kept.values())).astype(np.float32))
    return np.stack(features), np.array(labels), names


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--output", type=Path, default=WEIGHTS_FILE)
    parser.add_argument("--cache", type=Path, default=Path(".cache/attire_features.npz"))
    parser.add_argument("--l2", type=float, default=0.005, help="L2 strength (scikit-learn C = 1 / (l2 * n))")
    args = parser.parse_args()
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    with quiet_native_logs():
        photos = [p for domain in TRAIN_DOMAINS for p in labelled_photos(args.data / domain)]
        features, labels, _ = features_of(photos, args.cache)
        probe = fit_with_holdout(features, labels, ATTIRES, l2=args.l2)
        eval_folder = args.data / EVAL_DOMAIN
        if (eval_folder / "metadata.csv").exists():
            eval_features, eval_labels, _ = features_of(labelled_photos(eval_folder), args.cache)
            accuracy = float((probe.predict(eval_features) == eval_labels).mean())
            probe.info["eval"] = {"accuracy": accuracy, "n": int(len(eval_labels)), "folder": EVAL_DOMAIN}
    probe.info.update(features="attire_classifier.head_features", trained_on=list(TRAIN_DOMAINS))
    AttireClassifier(probe).save(args.output)
    print(json.dumps(probe.info, indent=1))
    print(f"wrote {args.output} ({args.output.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
