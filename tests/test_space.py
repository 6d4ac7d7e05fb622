"""The web app (space/app.py): error messages, upload clean-up, its API (gradio_client) and the page in Chromium.

The end-to-end tests start the app in a subprocess on a free localhost port, with a tiny random model
(CYCLEGAN_BIZ_MODEL) and a private gradio cache (GRADIO_TEMP_DIR). The browser test drives Debian's Chromium
(/usr/bin/chromium, see scripts/install_browser.sh) through Playwright; Playwright never downloads a browser.
SAVE_SCREENSHOT=1 writes the page with a result to docs/space-screenshot.png.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))
from space_helpers import APP, ROOT, free_port  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SERVER_START_TIMEOUT = 240  # s; imports alone take most of a minute on a busy 2-core machine
STUDIO_GREY = (197, 199, 201)
UNAVAILABLE = ("This photo is not on the server (uploads are deleted right after use and forgotten after a while). "
               "Please upload it again.")  # space/app.py's one message for every refused photo


# --- fixtures -------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def app():
    """space/app.py as a module (importing it does not launch anything)."""
    spec = importlib.util.spec_from_file_location("cyclebiz_space_app", APP)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (its dataclasses look their module up while being defined)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def user_photo(tmp_path_factory, example_photos) -> Path:
    """A selfie that is not one of the bundled examples (those are never deleted): an example, mirrored."""
    path = tmp_path_factory.mktemp("photo") / "my selfie.jpg"
    ImageOps.mirror(Image.open(example_photos[2]).convert("RGB")).save(path, quality=92)
    return path


def _files_with_bytes(folder: Path, data: bytes) -> list[Path]:
    digest = hashlib.sha256(data).hexdigest()
    return [p for p in folder.rglob("*") if p.is_file() and hashlib.sha256(p.read_bytes()).hexdigest() == digest]


def _fake_result(image_size=(400, 400), attire="suit", probabilities=None, outfit=None):
    confidence = max(probabilities.values()) if probabilities else None
    return SimpleNamespace(image=Image.new("RGB", image_size, STUDIO_GREY), attire=attire,
                           attire_confidence=confidence, attire_probabilities=probabilities,
                           outfit=outfit or f"{attire}-navy-01", warnings=[])


# --- fast: no server, no model --------------------------------------------------------------------------------------
def test_errors_become_friendly_messages(app, friendly_errors):
    from cyclegan_biz.errors import (
        FaceTooSmallError,
        ImageTooLargeError,
        InvalidOptionError,
        MissingWeightsError,
        NoFaceError,
        UnreadableImageError,
    )

    cases = [
        (NoFaceError("No face found in the photo. Use a photo where one face looks at the camera."), "No face found"),
        (FaceTooSmallError("The face is too small (40 px); use a closer photo."), "Face too small"),
        (UnreadableImageError("<bytes>: not a readable image (UnidentifiedImageError). Use a JPEG, PNG, WebP or "
                              "HEIC photo."), "Can't read this file"),
        (ImageTooLargeError("The image has 400,000,000 pixels (limit 178,956,970). Resize it first."),
         "Photo too large"),
        (MissingWeightsError("The bundled model is missing."), "Model not available"),
        (InvalidOptionError("Unknown background colour 'blurple'."), "Invalid option"),
    ]
    for err, title in cases:
        shown = app.friendly_error(err)
        assert isinstance(shown, app.gr.Error)
        assert shown.title == title
        assert shown.message == friendly_errors.error_message(err)
        assert shown.message[0].isupper() and "<bytes>" not in shown.message
        assert str(err).replace("<bytes>: n", "N") == shown.message
    # Anything else: a generic line; the details (paths, internals) stay in the server log.
    shown = app.friendly_error(RuntimeError("CUDA out of memory at /srv/secret/path.py:12"))
    assert shown.message == friendly_errors.GENERIC_ERROR and "secret" not in shown.message
    assert app.friendly_error(shown) is shown  # a gr.Error passes through unchanged


def test_options_are_parsed(app):
    assert app.parse_background("#C5C7C9") == "#c5c7c9"
    assert app.parse_background("rgba(10, 20.4, 30, 1)") == (10, 20, 30)
    assert app.parse_background("#ffffff80") == "#ffffff"
    assert app.parse_background("") == app.DEFAULT_BACKGROUND
    assert app.size_preset("linkedin") == app.SizePreset(app.SIZE_PRESETS["linkedin"].label, 400, "1:1")
    assert app.size_preset(app.SIZE_PRESETS["portrait"].label).aspect == "4:5"
    assert app.attire_choice("Blazer") == "blazer"
    for bad in (lambda: app.size_preset("huge"), lambda: app.attire_choice("tuxedo")):
        with pytest.raises(app.gr.Error):
            bad()


@pytest.fixture(scope="module")
def space_uploads(app):
    """space/uploads.py as app.py imported it: the settings and stores of the app's file handling."""
    return sys.modules["uploads"]


@pytest.fixture(scope="module")
def friendly_errors(app):
    """space/friendly_errors.py as app.py imported it: what the page shows for an error."""
    return sys.modules["friendly_errors"]


@pytest.fixture(scope="module")
def wardrobe_ui(app):
    """space/wardrobe_ui.py as app.py imported it: the outfit choices and gallery."""
    return sys.modules["wardrobe_ui"]


@pytest.fixture
def uploads(app, space_uploads, monkeypatch):
    """A fresh record of gradio's uploads (what its /upload route fills in ``Blocks.upload_file_set``)."""
    record = space_uploads._Uploads()
    record.blocks = SimpleNamespace(upload_file_set=set())
    monkeypatch.setattr(space_uploads, "_uploads", record)  # read_photo's
    monkeypatch.setattr(app, "_uploads", record)  # build_demo's
    return record


def test_upload_is_deleted_and_results_cleaned(app, space_uploads, tmp_path, monkeypatch, user_photo, example_photos,
                                                uploads):
    """A request reads the upload into memory and deletes its file; the result is the only file left, and it goes
    when the session ends. Re-running with other options works from memory. Errors delete the upload too."""
    cache = tmp_path / "gradio"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))
    data = user_photo.read_bytes()
    seen = []

    def fake_pipeline(photo, attire, background, size, aspect, outfit="auto"):
        seen.append((photo, attire, background, size, aspect))
        return _fake_result((size, size), attire if attire != "auto" else "blazer", {"blazer": 0.7, "suit": 0.3})

    monkeypatch.setattr(app, "_run_pipeline", fake_pipeline)

    def upload(name: str, content: bytes) -> dict:  # as gradio stores an upload: cache/<hash>/<name>
        path = cache / hashlib.sha256(content).hexdigest() / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        uploads.blocks.upload_file_set.add(str(path))
        return {"path": str(path), "orig_name": name, "meta": {"_type": "gradio.FileData"}}

    request = SimpleNamespace(session_hash="session-1")
    payload = upload("my selfie.jpg", data)
    image_path, label, info, download = app.make_headshot(payload, "suit", "#ffffff", "linkedin", request=request)
    assert seen[-1] == (data, "suit", "#ffffff", 400, "1:1")
    assert not Path(payload["path"]).exists() and not Path(payload["path"]).parent.exists()
    assert _files_with_bytes(cache, data) == []
    files = [p for p in cache.rglob("*") if p.is_file()]
    assert files == [Path(image_path)] and Path(image_path).name == "headshot-suit-400x400.jpg"
    assert Image.open(image_path).format == "JPEG" and Image.open(image_path).size == (400, 400)
    assert download.value["path"] == image_path and label == "Suit" and "your choice" in info

    # Same upload again (the browser still holds its path): served from memory; the session's old result goes.
    monkeypatch.setattr(space_uploads, "SUPERSEDED_AFTER_S", 0.0)
    image_path2, label, info, _ = app.make_headshot(payload, "auto", "#c5c7c9", "square", request=request)
    assert seen[-1][0] == data and label == {"Blazer": 0.7, "Suit": 0.3} and "70% sure" in info
    assert [p for p in cache.rglob("*") if p.is_file()] == [Path(image_path2)]
    # The same photo uploaded again (gradio_client does that: the same path) is deleted again, not left on disk.
    assert upload("my selfie.jpg", data) == payload
    image_path2, *_ = app.make_headshot(payload, "suit", "#c5c7c9", "square", request=request)
    assert [p for p in cache.rglob("*") if p.is_file()] == [Path(image_path2)]
    # Another session cannot use this session's photo.
    with pytest.raises(app.gr.Error, match="upload it again"):
        app.make_headshot(payload, request=SimpleNamespace(session_hash="session-2"))

    # The tab closes: the photo is forgotten and the result deleted.
    app.end_session(request)
    assert [p for p in cache.rglob("*") if p.is_file()] == []
    with pytest.raises(app.gr.Error, match="upload it again"):
        app.make_headshot(payload, request=request)

    # An error still deletes the upload, and shows the library's message.
    def no_face(*args):
        from cyclegan_biz.errors import NoFaceError

        raise NoFaceError("No face found in the photo.")

    monkeypatch.setattr(app, "_run_pipeline", no_face)
    payload = upload("landscape.png", b"not really a png, but the pipeline is faked")
    with pytest.raises(app.gr.Error) as caught:
        app.make_headshot(payload, request=request)
    assert caught.value.title == "No face found" and caught.value.message == "No face found in the photo."
    assert [p for p in cache.rglob("*") if p.is_file()] == []

    # The bundled examples' copies in the cache (shared by everyone) are read from the package, never deleted; no
    # photo at all is a clear error.
    monkeypatch.setattr(app, "_run_pipeline", fake_pipeline)
    example = upload(example_photos[0].name, example_photos[0].read_bytes())
    uploads.blocks.upload_file_set.clear()
    uploads.examples = {example["path"]: example_photos[0]}
    app.make_headshot(example, request=request)
    app.make_headshot(example, request=SimpleNamespace(session_hash="session-2"))
    assert seen[-1][0] == example_photos[0].read_bytes() and Path(example["path"]).is_file()
    with pytest.raises(app.gr.Error, match="Add a photo"):
        app.make_headshot(None, request=request)
    app.end_session(request)


# --- end to end: the app in a subprocess ----------------------------------------------------------------------------
def start_server(root: Path) -> SimpleNamespace:
    """``python space/app.py --port N`` (through tests/space_helpers.py, which first makes the tiny model), served
    on 127.0.0.1 with its own gradio cache in ``root``; returns once it answers."""
    port = free_port()
    env = {**os.environ, "GRADIO_TEMP_DIR": str(root / "gradio"), "PYTHONUNBUFFERED": "1",
           "GRADIO_ANALYTICS_ENABLED": "False", "CYCLEGAN_BIZ_ENGINE": "torch"}
    env.pop("GRADIO_SERVER_NAME", None)
    log_path = root / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            # SPACE_TEST_MODEL=cyclegan_biz/pretrained/selfie2biz shoots the screenshot with the real model.
            [sys.executable, str(ROOT / "tests" / "space_helpers.py"), "serve-tiny",
             os.environ.get("SPACE_TEST_MODEL") or str(root / "model"),
             "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    server = SimpleNamespace(url=url, cache=root / "gradio", log=log_path, process=process)
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        if process.poll() is not None:
            pytest.fail(f"the app exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return server
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop_server(server)
            pytest.fail(f"the app did not serve {url} within {SERVER_START_TIMEOUT} s:\n"
                        f"{log_path.read_text()[-3000:]}")
        time.sleep(1)


def stop_server(server: SimpleNamespace) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="module")
def space_server(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("space-server"))
    try:
        yield server
    finally:
        stop_server(server)
    assert unexpected_tracebacks(server.log) == []


def unexpected_tracebacks(log: Path) -> list[str]:
    """Tracebacks in a server log, except gradio's own refusals of hostile payloads (a path outside its upload
    folder, or no file payload at all), which it logs."""
    gradio_refusals = ("gradio.exceptions.InvalidPathError", "validation error for ImageData")
    blocks = log.read_text(errors="replace").split("Traceback (most recent call last)")[1:]
    return [block[-1500:] for block in blocks if not any(refusal in block for refusal in gradio_refusals)]


def _assert_headshot(image: Image.Image, size: tuple[int, int], background: tuple[int, int, int], photo: Path):
    """The right size, a flat background of the chosen colour in the top corners, and not the input photo."""
    image = image.convert("RGB")
    assert image.size == size
    pixels = np.asarray(image).astype(np.int16)
    for corner in (pixels[:24, :24], pixels[:24, -24:]):
        assert np.abs(corner.reshape(-1, 3).mean(axis=0) - background).max() < 6
    original = np.asarray(Image.open(photo).convert("RGB").resize(size)).astype(np.int16)
    assert np.abs(pixels - original).mean() > 10


def test_api_with_gradio_client(space_server, user_photo, tmp_path):
    from gradio_client import Client, handle_file

    client = Client(space_server.url, verbose=False, download_files=str(tmp_path))
    image_path, attire, info, download = client.predict(
        handle_file(str(user_photo)), "blazer", "#ffffff", "linkedin", api_name="/headshot")
    assert Path(image_path).is_file() and Path(image_path).name == "headshot-blazer-400x400.jpg"
    _assert_headshot(Image.open(image_path), (400, 400), (255, 255, 255), user_photo)
    assert attire["label"].lower() == "blazer"  # the explicit choice wins
    assert "400 × 400" in info and "your choice" in info
    download_path = download["value"] if isinstance(download, dict) else download
    assert Image.open(download_path).format == "JPEG"
    # The upload is gone from the server's cache (only the examples and the result are there).
    assert _files_with_bytes(space_server.cache, user_photo.read_bytes()) == []

    image_path, attire, info, _ = client.predict(
        handle_file(str(user_photo)), "auto", "#c5c7c9", "portrait", api_name="/headshot")
    assert Image.open(image_path).size == (1024, 1280)
    assert attire["label"].lower() in ("suit", "blazer") and "sure" in info
    assert _files_with_bytes(space_server.cache, user_photo.read_bytes()) == []  # uploaded again: deleted again


def test_api_outfit_parameter(space_server, user_photo, no_face_image, tmp_path):
    """/headshot's outfit (and outfit_photo) parameters: an outfit id is fitted and named; an outfit photo with no
    outfit to cut gets a friendly message; both uploads are deleted."""
    from gradio_client import Client, handle_file

    client = Client(space_server.url, verbose=False, download_files=str(tmp_path))
    image_path, attire, info, _ = client.predict(
        handle_file(str(user_photo)), "auto", "#ffffff", "linkedin", "blazer-charcoal-01", None, api_name="/headshot")
    _assert_headshot(Image.open(image_path), (400, 400), (255, 255, 255), user_photo)
    assert "(`blazer-charcoal-01`, your choice)" in info and attire["label"].lower() == "blazer"
    with pytest.raises(Exception, match="Cannot cut an outfit: No face found") as refused:
        client.predict(handle_file(str(user_photo)), "auto", "#ffffff", "linkedin", "upload",
                       handle_file(str(no_face_image)), api_name="/headshot")
    assert "Traceback" not in str(refused.value)
    for photo in (user_photo, no_face_image):
        assert _files_with_bytes(space_server.cache, photo.read_bytes()) == []


@pytest.mark.browser
def test_page_in_chromium(request, tmp_path, user_photo, no_face_image):
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing on CI: run scripts/install_browser.sh")
        pytest.skip(f"{CHROMIUM} is missing (install it with scripts/install_browser.sh)")
    from playwright.sync_api import sync_playwright

    from cyclegan_biz.wardrobe import catalogue

    sixth_suit = catalogue.list_outfits("suit")[5]  # the gallery lists the suits in the catalogue's order
    server = request.getfixturevalue("space_server")
    screenshot = (ROOT / "docs" / "space-screenshot.png" if os.environ.get("SAVE_SCREENSHOT") == "1"
                  else tmp_path / "space-screenshot.png")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(120_000)

            # A selfie -> a headshot beside it.
            page.goto(server.url, wait_until="domcontentloaded")
            page.locator("#photo input[type=file]").set_input_files(str(user_photo))
            page.locator("#photo img").first.wait_for(state="visible")
            page.locator("#run").click()
            result = page.locator("#result img").first
            result.wait_for(state="visible", timeout=120_000)
            response = page.request.get(result.get_attribute("src"))
            assert response.ok
            _assert_headshot(Image.open(io.BytesIO(response.body())), (1024, 1024), STUDIO_GREY, user_photo)
            page.get_by_text("1024 × 1024 px JPEG").wait_for()
            assert page.locator("#download").is_enabled()
            assert "the default for the attire" in page.locator("#result-info").inner_text()

            # A click in the suits' gallery picks that outfit; the next headshot wears it and says so.
            page.get_by_role("tab", name="Blazers").click()
            page.locator("#gallery-blazer .thumbnail-item").first.wait_for(state="visible")
            page.get_by_role("tab", name="Suits").click()
            page.locator("#gallery-suit .thumbnail-item").nth(5).click()
            page.wait_for_function(f"document.querySelector('#outfit input').value.includes('{sixth_suit['id']}')")
            assert page.locator("#attire input[value=suit]").is_checked()  # the attire follows the outfit
            page.locator("#run").click()
            page.locator("#result-info").get_by_text(sixth_suit["id"]).wait_for()
            info = page.locator("#result-info").inner_text()
            assert "your choice" in info and f"{sixth_suit['colour'].capitalize()} suit" in info and "CC BY" in info
            page.mouse.move(0, 0)  # no hover effect on the button in the screenshot
            page.wait_for_timeout(500)  # let the result finish fading in
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
            assert "Traceback" not in page.content()

            # Your own outfit photo, from which no outfit can be cut: a friendly message.
            assert not page.locator("#outfit-photo").is_visible()
            page.locator("#outfit input").click()
            page.get_by_role("option", name="My own outfit photo").click()
            page.locator("#outfit-photo input[type=file]").set_input_files(str(no_face_image))
            page.locator("#outfit-photo img").first.wait_for(state="visible")
            page.locator("#run").click()
            page.get_by_text("Cannot cut an outfit: No face found").first.wait_for()
            assert "Traceback" not in page.content()

            # A photo without a face -> the library's friendly message, no traceback.
            page.goto(server.url, wait_until="domcontentloaded")
            page.locator("#photo input[type=file]").set_input_files(str(no_face_image))
            page.locator("#photo img").first.wait_for(state="visible")
            page.locator("#run").click()
            page.get_by_text("No face found in the photo").first.wait_for()
            assert "Traceback" not in page.content()
        finally:
            browser.close()
    # Neither upload is left in the server's cache.
    for photo in (user_photo, no_face_image):
        assert _files_with_bytes(server.cache, photo.read_bytes()) == []


# --- security: the app reads nothing it was not given ----------------------------------------------------------------
class Untouched:
    """Files that must be neither read nor changed nor deleted: their access time is set before their modification
    time, so any read moves it (relatime)."""

    def __init__(self, *paths: Path) -> None:
        self.state = {}
        for path in paths:
            info = path.lstat()
            os.utime(path, ns=(info.st_mtime_ns - 10**11, info.st_mtime_ns), follow_symlinks=False)
            self.state[path] = path.lstat()

    def check(self) -> None:
        for path, before in self.state.items():
            after = path.lstat()  # raises if deleted
            assert (after.st_atime_ns, after.st_mtime_ns, after.st_size) == (
                before.st_atime_ns, before.st_mtime_ns, before.st_size), f"{path} was read or changed"


@pytest.fixture
def plant_in_cache():
    """``plant(cache, secret, photo)``: in gradio's cache, as an attacker could leave them, a symlink to ``secret`` and
    a copy of ``photo`` that was never uploaded; returns (link, planted). Removed after the test, passed or failed:
    the module's server (and its cache) is shared."""
    planted_dirs: list[Path] = []

    def plant(cache: Path, secret: Path, photo: Path) -> tuple[Path, Path]:
        link = cache / ("b" * 40) / "link.jpg"
        planted = cache / ("c" * 40) / "planted.jpg"
        for folder in (link.parent, planted.parent):
            folder.mkdir()
            planted_dirs.append(folder)
        link.symlink_to(secret)
        shutil.copy(photo, planted)
        return link, planted

    yield plant
    for folder in planted_dirs:
        shutil.rmtree(folder, ignore_errors=True)


def hostile_payloads(cache: Path, secret: Path, foreign: Path, link: Path, planted: Path) -> dict[str, object]:
    """What a hostile client may send instead of its own upload."""
    upload_dir = foreign.parent
    return {
        "server path": {"path": str(secret)},
        "server path with meta": {"path": str(secret), "meta": {"_type": "gradio.FileData"}},
        "plain string": str(secret),
        # (Tagged with gradio's "meta", gradio itself rewrites a ../ form to the exact path before the app sees it:
        # that is the exact path, which only its uploader was given.)
        "another upload (its ../ form)": {"path": f"{upload_dir}/../{upload_dir.name}/{foreign.name}"},
        "another upload (with ./)": {"path": f"{upload_dir}/./{foreign.name}"},
        "../ out of the cache": {"path": f"{upload_dir}/../../{secret.parent.name}/{secret.name}"},
        "relative ../": {"path": os.path.relpath(secret, Path.cwd())},
        "symlink in the cache": {"path": str(link)},
        "file planted in the cache": {"path": str(planted)},
        "the cache folder": {"path": str(cache)},
        "data: URL": {"url": "data:image/jpeg;base64," + base64.b64encode(secret.read_bytes()).decode()},
        "NUL byte": {"path": str(foreign) + "\0.jpg"},
        "not a path": {"path": ["/etc/passwd"]},
    }


def test_only_uploads_gradio_stored_are_read(app, space_uploads, tmp_path, monkeypatch, user_photo, example_photos,
                                             uploads, plant_in_cache):
    cache = tmp_path / "gradio"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))
    monkeypatch.setattr(app, "_run_pipeline", lambda photo, *args: _fake_result())
    secret = tmp_path / "srv" / "secret.jpg"
    secret.parent.mkdir()
    shutil.copy(user_photo, secret)
    foreign = cache / ("a" * 40) / "their selfie.jpg"  # another visitor's upload, not used yet
    foreign.parent.mkdir(parents=True)
    shutil.copy(user_photo, foreign)
    uploads.blocks.upload_file_set.add(str(foreign))
    link, planted = plant_in_cache(cache, secret, user_photo)
    result = app._outputs.save(Image.new("RGB", (64, 64)), "someone-else", "headshot-suit-64x64.jpg")
    payloads = hostile_payloads(cache, secret, foreign, link, planted)
    payloads["another visitor's result"] = {"path": str(result)}
    guarded = Untouched(secret, foreign, link, planted, result)
    request = SimpleNamespace(session_hash="attacker")
    for name, payload in payloads.items():
        with pytest.raises(app.gr.Error) as refused:
            app.make_headshot(payload, request=request)
        assert refused.value.message == space_uploads.UNAVAILABLE_PHOTO, name
    # The same in the outfit photo's slot (the selfie a bundled example); and a server path as the outfit itself,
    # which the library would read as an outfit photo, is refused as an invalid option.
    uploads.examples = {"example.jpg": example_photos[0]}
    for name, payload in payloads.items():
        with pytest.raises(app.gr.Error) as refused:
            app.make_headshot("example.jpg", outfit="upload", outfit_photo=payload, request=request)
        assert refused.value.message == space_uploads.UNAVAILABLE_PHOTO, name
    for outfit in (str(secret), str(foreign), str(link), "../secret.jpg"):
        with pytest.raises(app.gr.Error) as refused:
            app.make_headshot("example.jpg", outfit=outfit, request=request)
        assert refused.value.title == "Invalid option", outfit
    guarded.check()
    # The upload's owner, with the exact path gradio gave it, still gets it: once (then it is gone from disk).
    app.make_headshot({"path": str(foreign)}, request=SimpleNamespace(session_hash="owner"))
    assert not foreign.exists()
    with pytest.raises(app.gr.Error, match="upload it again"):
        app.make_headshot({"path": str(foreign)}, request=request)
    # A recorded upload that was swapped for a symlink is refused, and the link's target not read.
    swapped = cache / ("d" * 40) / "swapped.jpg"
    swapped.parent.mkdir()
    swapped.symlink_to(secret)
    uploads.blocks.upload_file_set.add(str(swapped))
    guarded = Untouched(secret)
    with pytest.raises(app.gr.Error, match="upload it again"):
        app.make_headshot({"path": str(swapped)}, request=request)
    guarded.check()
    app._outputs.cleanup()


def test_expired_results_go_without_a_new_request(app, space_uploads, tmp_path, monkeypatch):
    """Housekeeping (a thread in the served app) deletes expired results with their folders: none stays behind
    until the next visitor comes."""
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    path = app._outputs.save(Image.new("RGB", (64, 64)), "session", "headshot.jpg")
    monkeypatch.setattr(space_uploads, "OUTPUT_TTL_S", -1.0)
    app.housekeeping()
    assert not path.parent.exists() and list((tmp_path / "gradio").iterdir()) == []


def test_several_faces_and_warnings_are_said_on_the_page(app):
    result = _fake_result((400, 400), "suit")
    assert "faces" not in app.describe(result, "suit", 1.0)[1] and "⚠️" not in app.describe(result, "suit", 1.0)[1]
    result.faces_found = 3
    result.warnings = ["The hair touches the top edge of the photo, so the top of the head is cut off."]
    info = app.describe(result, "suit", 1.0)[1]
    assert "3 faces in your photo: the largest was used" in info
    assert "⚠️ The hair touches the top edge of the photo" in info


# --- the outfit: gallery, choices, own photo -------------------------------------------------------------------------
def test_gallery_lists_every_outfit_with_its_credit(app, wardrobe_ui):
    """A gallery per attire with a thumbnail and a caption (what it is, id, credit) for every shipped outfit; a
    click on a thumbnail picks that outfit; the credits list names every source."""
    from cyclegan_biz.wardrobe import catalogue

    rows = catalogue.list_outfits()
    shown = []
    for attire in app.ATTIRES:
        items = wardrobe_ui.gallery_items(attire)
        ids = [row["id"] for row in rows if row["attire"] == attire]
        assert len(items) == len(ids) > 0
        for (thumbnail, caption), outfit_id in zip(items, ids, strict=True):
            row = next(r for r in rows if r["id"] == outfit_id)
            assert f"({outfit_id})" in caption and row["credit"] in caption and attire in caption.lower()
            assert thumbnail.dtype == np.uint8 and thumbnail.shape[1] == wardrobe_ui.THUMBNAIL_WIDTH
            assert thumbnail.std() > 10  # an outfit, not a blank tile
        pick = wardrobe_ui.picked_outfit(attire)
        assert [pick(SimpleNamespace(index=i)) for i in (0, len(ids) - 1)] == [(ids[0], attire), (ids[-1], attire)]
        assert pick(SimpleNamespace(index=len(ids))) == ("auto", attire)
        # The attire radio set to the other attire drops a gallery outfit; "auto" or the same attire keeps it.
        other = next(a for a in app.ATTIRES if a != attire)
        assert wardrobe_ui.outfit_for_attire(other, ids[0]) == "auto"
        assert wardrobe_ui.outfit_for_attire(attire, ids[0]) == wardrobe_ui.outfit_for_attire("auto", ids[0]) == ids[0]
        assert wardrobe_ui.outfit_for_attire(other, "keep") == "keep"
        shown += ids
    assert sorted(shown) == sorted(row["id"] for row in rows)
    credits = app.outfit_credits()
    sources = app.outfit_sources()
    assert all(o.source in sources and o.licence in sources for o in catalogue.load_wardrobe())
    assert all(row["credit"] in credits and row["id"] in credits for row in rows)
    choices = dict((value, label) for label, value in wardrobe_ui.outfit_choices())
    assert {"auto", "keep", "upload"} <= set(choices) and all(row["id"] in choices for row in rows)
    assert app.outfit_choice("Keep") == "keep" and app.outfit_choice(rows[-1]["id"]) == rows[-1]["id"]
    for bad in ("tuxedo-01", "/etc/passwd", "suit-navy-01/../x"):
        with pytest.raises(app.gr.Error):
            app.outfit_choice(bad)


def test_outfit_choice_and_own_outfit_photo(app, space_uploads, tmp_path, monkeypatch, user_photo, example_photos,
                                            uploads):
    """The chosen outfit reaches the pipeline and is named (with its credit) under the result. An own outfit photo
    is read like the selfie (its upload deleted as it is read), given to the library as a private temporary file
    deleted right after; sent but not chosen, it is deleted all the same."""
    cache = tmp_path / "gradio"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))
    worn_bytes = example_photos[0].read_bytes()
    seen = []

    def fake_pipeline(photo, attire, background, size, aspect, outfit="auto"):
        path = Path(outfit)
        on_disk = path.is_file() and path.read_bytes() == worn_bytes
        seen.append((outfit, on_disk, oct(path.stat().st_mode & 0o777) if on_disk else None))
        used = "photo:x" if on_disk else (outfit if outfit not in ("auto",) else "blazer-navy-01")
        return _fake_result((size, size), "blazer", outfit=used)

    monkeypatch.setattr(app, "_run_pipeline", fake_pipeline)

    def upload(name: str, content: bytes) -> dict:
        path = cache / hashlib.sha256(content).hexdigest() / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        uploads.blocks.upload_file_set.add(str(path))
        return {"path": str(path), "meta": {"_type": "gradio.FileData"}}

    request = SimpleNamespace(session_hash="s")
    selfie = upload("me.jpg", user_photo.read_bytes())
    _, _, info, _ = app.make_headshot(selfie, "auto", outfit="blazer-charcoal-01", request=request)
    assert seen[-1][0] == "blazer-charcoal-01"
    assert "Charcoal blazer" in info and "(`blazer-charcoal-01`, your choice)" in info and "CC BY" in info
    assert "**Blazer**, the outfit you picked" in info
    _, _, info, _ = app.make_headshot(selfie, "suit", outfit="auto", request=request)
    assert seen[-1][0] == "auto" and "the default for the attire" in info
    _, _, info, _ = app.make_headshot(selfie, outfit="keep", request=request)
    assert seen[-1][0] == "keep" and "your own clothes" in info

    worn = upload("outfit.jpg", worn_bytes)
    _, _, info, _ = app.make_headshot(selfie, outfit="upload", outfit_photo=worn, request=request)
    assert seen[-1] == (seen[-1][0], True, "0o600") and "cut from your outfit photo" in info
    temporary = Path(seen[-1][0])
    assert not temporary.exists() and len(app._outfit_photos) == 0  # deleted right after
    assert not temporary.is_relative_to(cache)  # never in gradio's cache (never served)
    assert not Path(worn["path"]).exists() and _files_with_bytes(cache, worn_bytes) == []
    # Other options, same outfit photo: from memory, like the selfie.
    app.make_headshot(selfie, "suit", "#ffffff", outfit="upload", outfit_photo=worn, request=request)
    assert seen[-1][1] is True
    # Chosen but missing: says what to do. Sent but not chosen: deleted at once anyway.
    with pytest.raises(app.gr.Error, match="photo of someone in business clothes"):
        app.make_headshot(selfie, outfit="upload", request=request)
    unused = upload("unused outfit.jpg", example_photos[1].read_bytes())
    app.make_headshot(selfie, outfit="auto", outfit_photo=unused, request=request)
    assert not Path(unused["path"]).exists()
    # No selfie: its message, and the outfit photo's file goes all the same.
    worn = upload("outfit only.jpg", example_photos[2].read_bytes())
    with pytest.raises(app.gr.Error, match="Add a photo first"):
        app.make_headshot(None, outfit="upload", outfit_photo=worn, request=request)
    assert not Path(worn["path"]).exists()
    app.end_session(request)
    space_uploads.forget_everything()
    assert [p for p in cache.rglob("*") if p.is_file()] == []


def test_outfits_cut_from_visitors_photos_are_forgotten(app, space_uploads):
    from cyclegan_biz.wardrobe import builder

    request = SimpleNamespace(session_hash="leaving")
    for leave in (lambda: app.end_session(request), space_uploads.forget_everything):
        builder._photo_cache[("a visitor's photo", None)] = object()
        leave()
        assert len(builder._photo_cache) == 0


def test_outfit_errors_are_friendly(app):
    from cyclegan_biz.errors import NoOutfitError
    from cyclegan_biz.wardrobe.catalogue import UnknownOutfitError

    shown = app.friendly_error(NoOutfitError("No shoulders found in the outfit photo: use a photo showing the "
                                             "person's head and both shoulders."))
    assert shown.title == "No outfit in that photo" and shown.message.startswith("No shoulders found")
    assert app.friendly_error(UnknownOutfitError("No outfit called 'x'.")).title == "Unknown outfit"


# --- security, end to end: the raw HTTP API (as any client can call it) ----------------------------------------------
RAW_OPTIONS = ("auto", "#c5c7c9", "linkedin", "auto", None)  # attire, background, size, outfit, outfit photo


def call_raw(url: str, photo: object, options: tuple = RAW_OPTIONS) -> tuple[str, object]:
    """POST /gradio_api/call/headshot, then read its event stream: ("complete", outputs), ("error", message), or
    ("http <status>", body) when the request itself was refused."""
    import httpx

    with httpx.Client(base_url=url, timeout=180) as http:
        started = http.post("gradio_api/call/headshot", json={"data": [photo, *options]})
        if started.status_code != 200:
            return f"http {started.status_code}", started.text
        stream = http.get(f"gradio_api/call/headshot/{started.json()['event_id']}").text
    event, data = None, None
    for line in stream.splitlines():
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event in ("complete", "error"):
            data = line.split(":", 1)[1].strip()
    payload = json.loads(data) if data not in (None, "null") else None
    if event == "error" and isinstance(payload, dict):
        payload = payload.get("error", payload)
    return event, payload


def upload_raw(url: str, name: str, content: bytes) -> object:
    """POST /gradio_api/upload (what the page and gradio_client do first): the stored path, or the status code."""
    import httpx

    response = httpx.post(f"{url}gradio_api/upload", files={"files": (name, content, "image/jpeg")}, timeout=120)
    return response.json()[0] if response.status_code == 200 else response.status_code


def test_raw_api_reads_nothing_it_was_not_given(space_server, user_photo, tmp_path, plant_in_cache):
    from gradio_client import Client

    url, cache = space_server.url, space_server.cache
    secret = tmp_path / "srv" / "secret.jpg"
    secret.parent.mkdir()
    shutil.copy(user_photo, secret)
    # A visitor's upload, used by its owner: then another client tries its path.
    used = upload_raw(url, "their selfie.jpg", user_photo.read_bytes())
    event, outputs = call_raw(url, {"path": used, "meta": {"_type": "gradio.FileData"}})
    assert event == "complete", outputs
    result = Path(outputs[0]["path"])
    # A second visitor's upload, not used yet; a symlink and a file planted in gradio's cache.
    mirrored = ImageOps.flip(Image.open(user_photo))
    buffer = io.BytesIO()
    mirrored.save(buffer, "JPEG")
    pending = Path(upload_raw(url, "pending.jpg", buffer.getvalue()))
    link, planted = plant_in_cache(cache, secret, user_photo)
    payloads = hostile_payloads(cache, secret, pending, link, planted)
    payloads["a used upload"] = {"path": used, "meta": {"_type": "gradio.FileData"}}
    payloads["another visitor's result"] = {"path": str(result), "meta": {"_type": "gradio.FileData"}}
    guarded = Untouched(secret, pending, link, planted, result)
    for name, payload in payloads.items():
        event, message = call_raw(url, payload)
        # Gradio itself refuses, saying nothing, what it will not take as a file: a payload tagged as its file
        # ("meta") outside its upload folder, or no file payload at all.
        by_gradio = not isinstance(payload, dict) or not isinstance(payload.get("path", ""), str) or (
            "meta" in payload and not payload["path"].startswith(str(cache)))
        assert (event, message) == ("error", None if by_gradio else UNAVAILABLE), name
    client = Client(url, verbose=False)
    for payload in (payloads["server path"], payloads["symlink in the cache"]):
        with pytest.raises(Exception, match="Please upload it again"):
            client.predict(payload, "auto", "#c5c7c9", "linkedin", api_name="/headshot")
    guarded.check()
    # The pending upload still works for its owner, with the path gradio gave it, and is deleted as it is read.
    event, outputs = call_raw(url, {"path": str(pending), "meta": {"_type": "gradio.FileData"}})
    assert event == "complete", outputs
    assert not pending.exists() and sorted(_files_with_bytes(cache, user_photo.read_bytes())) == [link, planted]


def test_one_size_limit_for_every_way_a_photo_arrives(space_server):
    """Uploads above MAX_UPLOAD_MB get 413 from gradio; the same photo inside a JSON request (a data: URL) gets 413
    before it is read, whether its length is declared or streamed (chunked)."""
    big = b"\xff\xd8" + os.urandom(int(16.5 * 1024 * 1024))
    assert upload_raw(space_server.url, "big.jpg", big) == 413
    data_url = {"url": "data:image/jpeg;base64," + base64.b64encode(big).decode()}
    event, body = call_raw(space_server.url, data_url)
    assert event == "http 413" and "Upload photos" in body
    import httpx

    def chunks():
        yield b'{"data": [{"url": "data:image/jpeg;base64,'
        for _ in range(40):
            yield b"A" * (512 * 1024)
        yield b'"}, "auto", "#c5c7c9", "square", "auto", null]}'

    response = httpx.post(f"{space_server.url}gradio_api/call/headshot", content=chunks(),
                          headers={"content-type": "application/json"}, timeout=120)
    assert response.status_code == 413
    assert call_raw(space_server.url, {"url": "data:image/jpeg;base64,/9j/"}) == ("error", UNAVAILABLE)


def test_sigterm_leaves_nothing_of_a_visitor(tmp_path, user_photo):
    """Containers and systemd stop the app with SIGTERM: the result and any upload go with it."""
    server = start_server(tmp_path)
    try:
        event, outputs = call_raw(server.url, {"path": upload_raw(server.url, "me.jpg", user_photo.read_bytes()),
                                               "meta": {"_type": "gradio.FileData"}})
        assert event == "complete", outputs
        result = Path(outputs[0]["path"])
        unused = Path(upload_raw(server.url, "unused.png", b"\x89PNG not used yet"))
        assert result.is_file() and unused.is_file()
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=60)
    finally:
        if server.process.poll() is None:
            stop_server(server)
    left = [p for p in server.cache.rglob("*") if p.is_file()]
    assert not result.exists() and not unused.exists()
    # only the bundled examples' copies and the outfit gallery's thumbnails (which gradio names image.<format>)
    assert all(p.name.startswith(("canada-", "image.")) for p in left), left
    assert not any(p.name.startswith("headshot-") for p in server.cache.rglob("*"))
    assert unexpected_tracebacks(server.log) == []
