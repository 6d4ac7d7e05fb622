"""mediapipe's legacy solutions (face mesh, selfie segmentation, pose, face detection), imported without pyplot.

``mediapipe.python.solutions`` imports its drawing helpers, which import ``matplotlib.pyplot`` for plotting we never
do: about 0.25 s of a warm import and more of a cold start (measured: mediapipe 0.56 s, 0.35 s without pyplot).
While mediapipe imports, a placeholder module stands in for pyplot when nothing has imported it yet; it is removed
right after, so a later ``import matplotlib.pyplot`` anywhere gets the real one. Only mediapipe's own plotting helper
(``drawing_utils.plot_landmarks``) keeps the placeholder, and this package never calls it.
"""

from __future__ import annotations

import sys
import threading
import types
from types import ModuleType

_LOCK = threading.Lock()
PYPLOT = "matplotlib.pyplot"


def solutions() -> ModuleType:
    """``mediapipe.python.solutions``, imported once."""
    with _LOCK:
        placeholder = None
        if "mediapipe.python.solutions" not in sys.modules and PYPLOT not in sys.modules:
            placeholder = sys.modules[PYPLOT] = types.ModuleType(PYPLOT)
        try:
            from mediapipe.python import solutions as found
        finally:
            if placeholder is not None and sys.modules.get(PYPLOT) is placeholder:
                del sys.modules[PYPLOT]
    return found
