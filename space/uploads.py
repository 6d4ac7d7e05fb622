"""The web app's handling of visitors' files (see the privacy and security notes in ``app.py``): reading only what
gradio's upload route stored (once, file deleted at once), the in-memory photo store, outfit photos as private
temporary files, result files, housekeeping and clean-up at exit or SIGTERM, and the request body size limit."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import logging
import os
import shutil
import stat
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.utils import get_upload_folder
from PIL import Image

import cyclegan_biz
from cyclegan_biz.errors import ImageTooLargeError
from cyclegan_biz.wardrobe.builder import forget_outfit_photos

log = logging.getLogger("cyclegan_biz.space")

EXAMPLES_DIR = Path(cyclegan_biz.__file__).resolve().parent / "examples"
EXAMPLE_PHOTOS = sorted(EXAMPLES_DIR.glob("canada-*.jpg"))
MAX_UPLOAD_MB = 15
MAX_REQUEST_KB = 256  # any other request body (options and a file path): far below what a photo needs
SWEEP_EVERY_S = 60  # the housekeeping thread's period
OUTPUT_TTL_S = 600  # results are deleted after this at the latest
MEMORY_TTL_S = 900  # an upload's bytes stay in memory this long after their last use (or until the tab closes)
MEMORY_MAX_PHOTOS = 32  # across all sessions
SUPERSEDED_AFTER_S = 30.0  # a session's new request deletes its results older than this (already shown)
# Every refused photo payload gets this one message: it must not tell whether a path exists on the server.
UNAVAILABLE_PHOTO = ("This photo is not on the server (uploads are deleted right after use and forgotten after a "
                     "while). Please upload it again.")


# --- uploads: read into memory, file deleted at once ----------------------------------------------------------------
class _PhotoMemory:
    """Uploaded photos' bytes by (session, upload path), so a session can re-run with other options after the file
    is gone. Bounded (``MEMORY_MAX_PHOTOS``), expires (``MEMORY_TTL_S``), dropped when the session ends."""

    def __init__(self) -> None:
        self._items: OrderedDict[tuple[str, str], tuple[bytes, float]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, session: str, key: str, data: bytes) -> None:
        with self._lock:
            self._items[(session, key)] = (data, time.monotonic())
            self._items.move_to_end((session, key))
            while len(self._items) > MEMORY_MAX_PHOTOS:
                self._items.popitem(last=False)

    def get(self, session: str, key: str) -> bytes | None:
        with self._lock:
            item = self._items.get((session, key))
            if item is None:
                return None
            self._items[(session, key)] = (item[0], time.monotonic())
            self._items.move_to_end((session, key))
            return item[0]

    def forget_session(self, session: str) -> None:
        with self._lock:
            for key in [k for k in self._items if k[0] == session]:
                del self._items[key]

    def sweep(self) -> None:
        limit = time.monotonic() - MEMORY_TTL_S
        with self._lock:
            for key in [k for k, (_, used) in self._items.items() if used < limit]:
                del self._items[key]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


_memory = _PhotoMemory()


def _session(request: gr.Request | None) -> str:
    return str(getattr(request, "session_hash", None) or "")


def _unavailable() -> gr.Error:
    return gr.Error(UNAVAILABLE_PHOTO, title="Please upload again", print_exception=False)


class _Uploads:
    """The only files the app reads: those gradio's upload route stored (``Blocks.upload_file_set``, the exact path
    strings it returned), each claimed once and deleted as it is read, and the cached copies of the bundled examples
    (read from the package, never deleted)."""

    def __init__(self) -> None:
        self.blocks: gr.Blocks | None = None
        self.examples: dict[str, Path] = {}  # gradio's cached copy -> the bundled photo
        self._lock = threading.Lock()

    def attach(self, demo: gr.Blocks, photo: gr.Image) -> None:
        self.blocks = demo
        by_name = {p.name: p for p in EXAMPLE_PHOTOS}
        self.examples = {cached: by_name[Path(cached).name] for cached in photo.keep_in_cache
                         if Path(cached).name in by_name}

    def _recorded(self) -> set[str]:
        return self.blocks.upload_file_set if self.blocks is not None else set()

    def claim(self, text: str) -> bytes | None:
        """The bytes of upload ``text`` (its file deleted), of an example, or None when it is neither."""
        example = self.examples.get(text)
        if example is not None:
            return example.read_bytes()
        with self._lock:
            recorded = self._recorded()
            if text not in recorded:
                return None
            recorded.discard(text)  # single use: nobody can claim it again
        path = Path(text)
        if not self._is_gradio_upload(path):
            return None
        try:
            if path.stat().st_size > MAX_UPLOAD_MB * 1024 * 1024:
                raise ImageTooLargeError(f"The file is larger than {MAX_UPLOAD_MB} MB. Please use a smaller photo.")
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with open(fd, "rb") as file:
                return file.read()
        except OSError:
            return None
        finally:
            _delete_upload(path)

    @staticmethod
    def _is_gradio_upload(path: Path) -> bool:
        """A regular file (not a link) in a folder directly inside gradio's upload folder, as its upload route
        writes them (``<upload folder>/<content hash>/<name>``)."""
        try:
            folder = Path(get_upload_folder()).resolve()
            return (path.is_absolute() and stat.S_ISREG(path.lstat().st_mode)
                    and not path.parent.is_symlink() and path.parent.resolve().parent == folder
                    and path.resolve() == path.parent.resolve() / path.name)
        except (OSError, ValueError):
            return False

    def delete_unclaimed(self) -> None:
        """Shutdown: delete every upload nobody has used yet."""
        with self._lock:
            pending = list(self._recorded())
            self._recorded().clear()
        for text in pending:
            path = Path(text)
            if self._is_gradio_upload(path):
                _delete_upload(path)


_uploads = _Uploads()


def _delete_upload(path: Path) -> None:
    """Delete an upload and the per-file folder gradio made for it (only if that is then empty)."""
    try:
        path.unlink(missing_ok=True)
    except OSError as err:
        log.warning("could not delete an upload: %s", err)
        return
    with contextlib.suppress(OSError):
        path.parent.rmdir()  # only if empty


NO_PHOTO = "Add a photo first: upload one, take one with your webcam, or paste one."
NO_OUTFIT_PHOTO = ("Add a photo of someone in business clothes under \"Your own outfit photo\", or pick an outfit "
                   "from the gallery.")


class _OutfitPhotoFiles:
    """A visitor's outfit photo as a file for the library, which cuts outfits from a path: in a private folder
    (mode 0700, outside gradio's cache, so never served), written just before the headshot is made and deleted right
    after."""

    def __init__(self) -> None:
        self._folder: Path | None = None
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def as_file(self, data: bytes):
        with self._lock:
            if self._folder is None or not self._folder.is_dir():
                self._folder = Path(tempfile.mkdtemp(prefix="cyclebiz-outfit-photos-"))
            folder = self._folder
        fd, name = tempfile.mkstemp(prefix="outfit-", suffix=".img", dir=folder)  # mode 0600
        path = Path(name)
        try:
            with open(fd, "wb") as file:
                file.write(data)
            yield path
        finally:
            path.unlink(missing_ok=True)

    def clear(self) -> None:
        """Shutdown: remove the folder (and a file a request still in progress wrote)."""
        with self._lock:
            folder, self._folder = self._folder, None
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def __len__(self) -> int:
        folder = self._folder
        return len(list(folder.iterdir())) if folder is not None and folder.is_dir() else 0


_outfit_photos = _OutfitPhotoFiles()


def read_photo(photo: Any, session: str = "", missing: str = NO_PHOTO) -> bytes:
    """The photo's bytes. ``photo``: gradio's file payload (a dict with "path") or that path. Only a file gradio's
    upload route stored (claimed once: deleted as it is read, its bytes kept in memory for the session) or a bundled
    example is read; anything else gets the one ``UNAVAILABLE_PHOTO`` message and is left untouched. No photo at all:
    ``missing`` is shown."""
    if photo is None or photo == "" or photo == {}:
        raise gr.Error(missing, title="No photo", print_exception=False)
    text = photo.get("path") if isinstance(photo, dict) else photo
    if not isinstance(text, str) or not text or "\0" in text:
        raise _unavailable()  # data: URLs too: images arrive through the upload route only (one size limit)
    data = _uploads.claim(text)  # first: the same photo uploaded again must not stay on disk
    if data is None:
        data = _memory.get(session, text)
    elif text not in _uploads.examples:
        _memory.put(session, text, data)
    if data is None:
        raise _unavailable()
    return data


def read_outfit_photo(outfit_photo: Any, wanted: bool, session: str = "") -> bytes | None:
    """The outfit photo's bytes when the outfit "upload" is ``wanted`` (read like the selfie, ``read_photo``). When
    it is not, a photo that was sent anyway is still claimed, so that its file goes at once; None."""
    if wanted:
        return read_photo(outfit_photo, session, missing=NO_OUTFIT_PHOTO)
    if outfit_photo:
        with contextlib.suppress(gr.Error):
            read_photo(outfit_photo, session)
    return None


def read_photos(photo: Any, outfit_photo: Any, outfit_wanted: bool, session: str = "") -> tuple[bytes, bytes | None]:
    """The selfie's bytes and the outfit photo's (``read_outfit_photo``). Both uploads are claimed (their files
    deleted) even when the other is refused; the selfie's error comes first."""
    try:
        data = read_photo(photo, session)
    except gr.Error:
        read_outfit_photo(outfit_photo, False, session)
        raise
    return data, read_outfit_photo(outfit_photo, outfit_wanted, session)


# --- results: one private folder per request ------------------------------------------------------------------------
class _Outputs:
    """Result files, each in its own folder inside gradio's cache (served from there without a copy)."""

    def __init__(self) -> None:
        self._dirs: list[tuple[str, Path, float]] = []
        self._lock = threading.Lock()

    def save(self, image: Image.Image, session: str, name: str) -> Path:
        self.cleanup(session, older_than=SUPERSEDED_AFTER_S)  # the session's earlier results go
        folder = Path(get_upload_folder())
        folder.mkdir(parents=True, exist_ok=True)
        out_dir = Path(tempfile.mkdtemp(prefix="headshot-", dir=folder))
        path = out_dir / name
        image.save(path, "JPEG", quality=95, subsampling=0, optimize=True)
        with self._lock:
            self._dirs.append((session, out_dir, time.monotonic()))
        return path

    def cleanup(self, session: str | None = None, older_than: float = 0.0) -> None:
        """Delete result folders of ``session`` (None: of every session) made more than ``older_than`` s ago, and
        every folder older than ``OUTPUT_TTL_S``."""
        now = time.monotonic()
        with self._lock:
            doomed = [(owner, out_dir, made) for owner, out_dir, made in self._dirs
                      if now - made > OUTPUT_TTL_S or (session in (None, owner) and now - made >= older_than)]
            self._dirs = [d for d in self._dirs if d not in doomed]
        for _, out_dir, _ in doomed:
            shutil.rmtree(out_dir, ignore_errors=True)

    def __len__(self) -> int:
        return len(self._dirs)


_outputs = _Outputs()


def housekeeping() -> None:
    """Drop expired photos from memory and delete expired results (their folders too), without waiting for a
    request; hand freed memory back to the system."""
    _memory.sweep()
    _outputs.cleanup(older_than=OUTPUT_TTL_S)
    release_memory()


def _sweep_forever() -> None:
    while True:
        time.sleep(SWEEP_EVERY_S)
        try:
            housekeeping()
        except Exception as err:  # noqa: BLE001 - the sweeper must outlive any one failure
            log.warning("housekeeping failed: %s", err)


def forget_everything() -> None:
    """Shutdown: delete every result and unclaimed upload, and forget every photo."""
    _outputs.cleanup()
    _uploads.delete_unclaimed()
    _outfit_photos.clear()
    _memory.clear()
    forget_outfit_photos()


atexit.register(forget_everything)


def _on_sigterm(signum, frame) -> None:
    """SIGTERM (containers, systemd): clean up now, then stop like Ctrl-C (gradio closes its server)."""
    forget_everything()
    raise KeyboardInterrupt


_LIBC = ctypes.CDLL(ctypes.util.find_library("c")) if ctypes.util.find_library("c") else None


def release_memory() -> None:
    """Return freed heap to the system. glibc keeps memory freed by worker threads in per-thread arenas, so after a
    large photo the process would stay at its peak for good; ``malloc_trim`` releases it (no-op elsewhere)."""
    trim = getattr(_LIBC, "malloc_trim", None)
    if trim is not None:
        trim(0)


def end_session(request: gr.Request | None = None) -> None:
    """The tab closed: forget the session's photo and delete its results."""
    session = _session(request)
    _memory.forget_session(session)
    _outputs.cleanup(session)
    forget_outfit_photos()  # outfits cut from visitors' photos are not kept (they are cut again when sent again)



# --- requests: bodies bounded before they are read ------------------------------------------------------------------
class RequestSizeLimit:
    """ASGI middleware: a request body (other than a file upload, which gradio limits to ``MAX_UPLOAD_MB``) larger
    than ``MAX_REQUEST_KB`` is answered 413 before it is read, so no photo can slip past the upload limit inside a
    JSON request (a data: URL) and no huge body is ever parsed into memory."""

    def __init__(self, app, limit: int = MAX_REQUEST_KB * 1024) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/").endswith("/upload"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.limit:
            await self._refuse(send)
            return
        received = 0
        started = refused = False

        async def bounded_receive():
            nonlocal received, refused
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit and not refused:
                refused = True
                if not started:
                    await self._refuse(send)
                return {"type": "http.disconnect"}  # the app stops reading: the rest is never buffered
            return message

        async def guarded_send(message) -> None:
            nonlocal started
            if refused:
                return  # the 413 has been sent instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, bounded_receive, guarded_send)

    @staticmethod
    async def _refuse(send) -> None:
        body = f"Request too large. Upload photos (at most {MAX_UPLOAD_MB} MB) as files.".encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
