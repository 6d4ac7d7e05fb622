"""Measure the headshot frame of full, uncropped business portraits: head-room above the hair, face size, where
the head sits, and whether the shoulders reach the edges. The medians are the constants of
``cyclegan_biz/headshot_frame.py``.

A portrait counts as *uncropped* when the top of its person mask (hair, buns, hats) is below the top edge, the
person mask touches both side edges in the bottom row (the shoulders leave the frame sideways, as in a real
head-and-shoulders shot), and the face is fully inside. Measures, per portrait of width W and height H:

- ``headroom``: rows from the top edge to the top of the person mask, / H;
- ``face_width``: ``Face.size()`` / W;
- ``top_to_eyes``: eye line minus top of the person mask, in face sizes (the head above the eyes, hair included);
- ``centre_x``: the face outline's mean x / W.

    python scripts/measure_headshot_frame.py ../shared/datasets/business/us-congress-wiki --limit 200
    python scripts/measure_headshot_frame.py ../shared/datasets/business/uk-parliament --limit 200
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from measure_framing import measure_folder  # the sibling script (scripts/ is on the path when run)

from cyclegan_biz.headshot_frame import head_top_row
from cyclegan_biz.imageio import load_rgb_array
from cyclegan_biz.vision.landmarks import detect_face
from cyclegan_biz.vision.segmentation import person_mask


def measure(path: Path) -> dict | None:
    image = load_rgb_array(path)
    height, width = image.shape[:2]
    face = detect_face(image, min_face_size=0)
    person = person_mask(image) > 0.5
    top = head_top_row(person, face)
    x0, y0, x1, y1 = face.box
    bottom = person[-1]
    uncropped = top > 1 and bool(bottom[0]) and bool(bottom[-1]) and x0 > 0 and x1 < width - 1
    eye_y = float(np.mean([p[1] for p in face.eye_centers()]))
    outline = face.points[face.groups["outline"]]
    return {
        "uncropped": uncropped, "headroom": top / height, "face_width": face.size() / width,
        "top_to_eyes": (eye_y - top) / face.size(), "centre_x": float(outline[:, 0].mean()) / width,
        "aspect": height / width,
    }


def main() -> None:
    files, rows = measure_folder(__doc__, measure)
    kept = [r for r in rows if r["uncropped"]]
    summary = {"files": len(files), "faces": len(rows), "uncropped": len(kept)}
    for key in ("headroom", "face_width", "top_to_eyes", "centre_x", "aspect"):
        values = np.array([r[key] for r in kept])
        if len(values):
            q1, median, q3 = np.percentile(values, [25, 50, 75])
            summary[key] = {"median": round(float(median), 3), "iqr": [round(float(q1), 3), round(float(q3), 3)]}
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
