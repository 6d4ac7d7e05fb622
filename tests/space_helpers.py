"""Helpers for tests/test_space.py: a tiny random model, a free port, and a launcher that serves space/app.py on it.

    python tests/space_helpers.py serve-tiny MODEL_DIR [app.py arguments...]

makes a tiny randomly initialised model in MODEL_DIR (if missing), points CYCLEGAN_BIZ_MODEL at it and runs
space/app.py as ``__main__`` in the same process (torch is imported once, not twice: that halves the start-up on a
slow machine).
"""

from __future__ import annotations

import os
import runpy
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "space" / "app.py"


def make_tiny_model(folder: str | os.PathLike, seed: int = 0) -> Path:
    """A randomly initialised model in the Hub layout (generator at the root, discriminator A with its attire head
    below), small enough to run in about a second on a CPU."""
    from cyclegan_biz.testing import make_random_model

    folder = Path(folder)
    if not (folder / "config.json").is_file():
        make_random_model(folder, seed=seed)
    return folder


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_tiny(model_dir: str, app_args: list[str]) -> None:
    os.environ["CYCLEGAN_BIZ_MODEL"] = str(make_tiny_model(model_dir))
    sys.argv = [str(APP), *app_args]
    sys.path.insert(0, str(APP.parent))
    runpy.run_path(str(APP), run_name="__main__")


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "serve-tiny":
        sys.exit(f"usage: {sys.argv[0]} serve-tiny MODEL_DIR [app.py arguments...]")
    serve_tiny(sys.argv[2], sys.argv[3:])
