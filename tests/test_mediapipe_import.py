"""vision/mediapipe_solutions.py: mediapipe imported without pyplot (cold start), pyplot still whole for everyone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CODE = """
import sys, threading
from cyclegan_biz.vision.mediapipe_solutions import solutions

# another thread uses pyplot while mediapipe imports (in whatever order the two end up running)
used = {}
def other():
    import matplotlib.pyplot as plt
    used["figure"] = callable(plt.figure)
thread = threading.Thread(target=other)
thread.start()
found = solutions()
thread.join()
assert used == {"figure": True}, used
assert found.face_mesh.FaceMesh and found.pose.Pose
from mediapipe.python.solutions import drawing_utils
assert callable(drawing_utils.plt.figure)  # mediapipe's own plotting still reaches the real pyplot
import matplotlib.pyplot as plt
assert callable(plt.plot) and type(plt).__name__ == "module"
"""

SKIPPED = """
import sys
from cyclegan_biz.vision.mediapipe_solutions import solutions
solutions()
assert "matplotlib.pyplot" not in sys.modules, "mediapipe imported pyplot"
"""


def _run(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout, whatever the current folder
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)


def test_mediapipe_imports_without_pyplot():
    done = _run(SKIPPED)
    assert done.returncode == 0, done.stderr[-2000:]


def test_pyplot_stays_whole_for_other_threads_and_for_mediapipe():
    done = _run(CODE)
    assert done.returncode == 0, done.stderr[-2000:]
