"""mediapipe's legacy solutions (face mesh, selfie segmentation, pose, face detection), imported without pyplot.

``mediapipe.python.solutions`` imports its drawing helpers, which import ``matplotlib.pyplot`` for plotting we never
do: about 0.22 s of each cold start (measured in fresh processes: 0.51-0.53 s against 0.28-0.32 s without it).
While mediapipe imports, a stand-in module takes pyplot's place in ``sys.modules`` when nothing has imported pyplot
yet, and is removed right after. The stand-in imports the real pyplot on first use of any attribute, waiting for
mediapipe's import to end: a thread that meets it meanwhile (a web framework switching matplotlib's backend, say),
and mediapipe's own ``drawing_utils.plt``, get the real pyplot.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types

PYPLOT = "matplotlib.pyplot"
# Held while mediapipe imports; re-entrant, so that the importing thread itself could use the stand-in.
_LOCK = threading.RLock()


class _PyplotOnFirstUse(types.ModuleType):
    """Stands in for ``matplotlib.pyplot`` while mediapipe imports; imports the real one on first attribute use."""

    def __getattr__(self, name: str):
        if name.startswith("__"):  # the import system probes dunders: they must not import pyplot
            raise AttributeError(name)
        with _LOCK:  # mediapipe's import, if under way in another thread, ends first
            if sys.modules.get(PYPLOT) is self:
                del sys.modules[PYPLOT]
            real = importlib.import_module(PYPLOT)
        return getattr(real, name)


def solutions() -> types.ModuleType:
    """``mediapipe.python.solutions``, imported once."""
    with _LOCK:
        stand_in = None
        if "mediapipe.python.solutions" not in sys.modules and PYPLOT not in sys.modules:
            stand_in = sys.modules[PYPLOT] = _PyplotOnFirstUse(PYPLOT)
        try:
            from mediapipe.python import solutions as found
        finally:
            if stand_in is not None and sys.modules.get(PYPLOT) is stand_in:
                del sys.modules[PYPLOT]
    return found
