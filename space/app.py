"""Selfie -> business headshot: the cyclegan-biz web app (Hugging Face Space, or local with ``python space/app.py``).

    pip install "cyclegan-biz[space]"
    python space/app.py                 # http://127.0.0.1:7860 (or --port N / GRADIO_SERVER_PORT)

Environment (the old names CYCLEBIZ_* still work, deprecated: see cyclegan_biz.environment):
    CYCLEGAN_BIZ_MODEL        model folder or Hugging Face Hub id (default: the model bundled with cyclegan-biz)
    CYCLEGAN_BIZ_ENGINE       auto | torch | onnx (default auto; torch on ZeroGPU)
    CYCLEGAN_BIZ_CONCURRENCY  photos processed at once (default 1)
    GRADIO_SERVER_PORT, GRADIO_SERVER_NAME, GRADIO_TEMP_DIR (where gradio keeps uploads and results)

Privacy and security: the app reads only a file that gradio's upload route stored for a visitor (``Blocks.
upload_file_set``), once, or a bundled example; any other path (a server file, another file in gradio's cache, a
symlink, a ``../`` form, a ``data:`` URL) is refused with one message that says nothing about the server's files, and
nothing is read or deleted. The upload is read into memory and its file deleted at once (a copy stays in memory for
the browser session, so other options can be tried without uploading again; it is dropped when the tab closes or
after ``MEMORY_TTL_S``). Results are written to a private folder in gradio's cache only to serve them to the browser
and are deleted on the session's next request, when the tab closes, or after ``OUTPUT_TTL_S`` at the latest (a
housekeeping thread sweeps every ``SWEEP_EVERY_S``); on SIGTERM or Ctrl-C every result and unclaimed upload is deleted
before the process exits. Request bodies other than uploads are capped at ``MAX_REQUEST_KB`` before they are read.

``build_demo()`` returns the Blocks without launching (tests import this module); ``make_headshot`` is the
request handler, also exposed as the API endpoint ``/headshot``:

    from gradio_client import Client, handle_file
    image, attire, info, download = Client("http://127.0.0.1:7860").predict(
        handle_file("selfie.jpg"), "auto", "#c5c7c9", "square", "auto", None, api_name="/headshot")

Its parameters: photo, attire (auto | suit | blazer), background colour, size (square | linkedin | portrait), outfit
and outfit_photo. ``outfit`` (default "auto", so clients that send only the first four still work): "auto" (the
wardrobe's default for the attire), an outfit id (``cyclegan-biz outfits``, or the gallery's captions), "keep" (your
own clothes: new frame and background only), "none" (the generator alone) or "upload" (the outfit worn in
``outfit_photo``, a second uploaded photo, read under the same rules as the selfie). No other value is accepted: in
particular not a server path, which the library would read as an outfit photo. The outfit used and any warnings
(hair touching the photo's top edge, several faces) are in the info text.

The outfit gallery's thumbnails are drawn in memory at start-up from the wardrobe shipped in the package
(``Outfit.preview``); gradio keeps its copies in its own cache. An outfit photo is read like the selfie, then
written to a private temporary file (the library cuts outfits from a path) that is deleted as soon as the headshot
is made.
"""

from __future__ import annotations

# ZeroGPU: `spaces` must be imported before torch. Anywhere else it is absent (or a no-op) and the app runs on CPU.
try:
    import spaces
except ImportError:
    spaces = None

import argparse
import logging
import os
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Quieten mediapipe (glog) and TensorFlow Lite. (Idle OpenMP threads sleep: ``import cyclegan_biz`` sees to that.)
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

import cyclegan_biz  # noqa: E402
from cyclegan_biz.compose import parse_color  # noqa: E402
from cyclegan_biz.environment import setting  # noqa: E402
from cyclegan_biz.wardrobe.vocabulary import (  # noqa: E402
    ATTIRE_AUTO,
    ATTIRES,
    OUTFIT_AUTO,
)

# Next to this script: uploads.py (the visitors' files: uploads, results, clean-up), wardrobe_ui.py (outfit
# choices and gallery) and friendly_errors.py (what the page shows for an error). Its folder is on sys.path
# when run as ``python space/app.py``, not when this file is imported by path (the tests).
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from friendly_errors import friendly_error  # noqa: E402
from uploads import (  # noqa: E402
    EXAMPLE_PHOTOS,
    MAX_UPLOAD_MB,
    OUTPUT_TTL_S,
    RequestSizeLimit,
    _on_sigterm,
    _outfit_photos,
    _outputs,
    _session,
    _sweep_forever,
    _uploads,
    end_session,
    housekeeping,
    read_photos,
    release_memory,
)
from wardrobe_ui import (  # noqa: E402
    OUTFIT_UPLOAD,
    SPACE_SPECIAL_OUTFITS,
    describe_outfit,
    outfit_choice,
    outfit_credits,
    outfit_picker,
    outfit_sources,
)

log = logging.getLogger("cyclegan_biz.space")

TITLE = "Selfie → Business Headshot"
MODEL_REPO = "org/selfie2biz"
DELETE_CACHE = (60, OUTPUT_TTL_S - 60)  # gradio: every 60 s, delete its files (uploads too) older than 9 min
ON_ZERO_GPU = spaces is not None and os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "true")

# The swatches: presets of cyclegan_biz.compose.NAMED_BACKGROUNDS (and white) as the colour picker's hex.
BACKGROUND_PRESETS = {label: "#{:02x}{:02x}{:02x}".format(*parse_color(name))
                      for label, name in (("Studio grey", "studio-grey"), ("Light grey", "light-grey"),
                                          ("Office blue", "office-blue"), ("White", "white"),
                                          ("Charcoal", "dark-grey"))}
DEFAULT_BACKGROUND = BACKGROUND_PRESETS["Studio grey"]  # compose.DEFAULT_BACKGROUND, a neutral studio grey
ATTIRE_CHOICES = [("Auto (from your photo)", ATTIRE_AUTO), *((attire.capitalize(), attire) for attire in ATTIRES)]


@dataclass(frozen=True)
class SizePreset:
    label: str
    size: int
    aspect: str


SIZE_PRESETS = {
    "square": SizePreset("Square 1024 × 1024", 1024, "1:1"),
    "linkedin": SizePreset("LinkedIn 400 × 400", 400, "1:1"),
    "portrait": SizePreset("Portrait 4:5", 1024, "4:5"),  # 1024 x 1280
}


# --- the model: loaded once per process -----------------------------------------------------------------------------
_pipeline = None
_pipeline_lock = threading.Lock()


def get_pipeline():
    """The process's ``SelfieToBusinessPipeline`` (loaded on first use; CYCLEGAN_BIZ_MODEL, else the bundled model)."""
    global _pipeline
    if _pipeline is None:
        with _pipeline_lock:
            if _pipeline is None:
                from cyclegan_biz.pipeline import SelfieToBusinessPipeline

                model = setting("MODEL")
                engine = setting("ENGINE") or ("torch" if ON_ZERO_GPU else "auto")
                _pipeline = SelfieToBusinessPipeline.from_pretrained(model, engine=engine)
                log.info("loaded %r in %.1f s", _pipeline, _pipeline.load_seconds or 0.0)
    return _pipeline


def _preload(every_model: bool = False) -> None:
    try:
        pipe = get_pipeline()
        if every_model:
            pipe.load_models()
        else:
            pipe.finisher  # noqa: B018 - every default request uses it: loaded now, not in the first visitor's

    except Exception as err:  # noqa: BLE001 - reported again, friendly, on the first request
        log.warning("could not load the model yet: %s (set CYCLEGAN_BIZ_MODEL to a model folder or Hub id)", err)


def _gpu(fn):
    """``spaces.GPU`` on a ZeroGPU Space (the GPU is attached for the call); unchanged elsewhere."""
    return spaces.GPU(duration=60)(fn) if spaces is not None else fn


@_gpu
def _run_pipeline(photo: bytes, attire: str, background: Any, size: int, aspect: str, outfit: str = OUTFIT_AUTO):
    return get_pipeline()(photo, attire=attire, background=background, size=size, aspect=aspect, outfit=outfit)


if ON_ZERO_GPU:  # load in the main process: ZeroGPU runs each call in a fork, which would forget a lazy load
    _preload(every_model=True)


# --- the request handler --------------------------------------------------------------------------------------------
def parse_background(value: Any) -> Any:
    """The colour picker's value (#rgb, #rrggbb, #rrggbbaa, rgb()/rgba()) as an RGB tuple; names pass through."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_BACKGROUND
    if not isinstance(value, str):
        return value
    text = value.strip().lower()
    if re.fullmatch(r"#?[0-9a-f]{8}", text):  # alpha is ignored: the background is opaque
        text = text[:-2]
    number = r"(\d+(?:\.\d*)?)"  # anything else is left to parse_color, which says what a colour looks like
    match = re.fullmatch(rf"rgba?\(\s*{number}\s*,\s*{number}\s*,\s*{number}\s*(?:,\s*[\d.]+%?\s*)?\)", text)
    if match:
        return tuple(min(255, round(float(v))) for v in match.groups())
    return text


def size_preset(value: Any) -> SizePreset:
    text = str(value or "square").strip()
    for key, preset in SIZE_PRESETS.items():
        if text.lower() in (key, preset.label.lower()):
            return preset
    raise gr.Error(f"Unknown size {text!r}; choose one of {', '.join(SIZE_PRESETS)}.", title="Invalid option",
                   print_exception=False)


def attire_choice(value: Any) -> str:
    text = str(value or "auto").strip().lower()
    for label, key in ATTIRE_CHOICES:
        if text in (key, label.lower()):
            return key
    raise gr.Error(f"Unknown attire {text!r}; choose auto, suit or blazer.", title="Invalid option",
                   print_exception=False)


def describe(result, requested: str, seconds: float, requested_outfit: str = OUTFIT_AUTO) -> tuple[Any, str]:
    """(the Label's value, the Markdown under the result: attire, outfit, size, time, then any warnings)."""
    width, height = result.image.size
    chosen = result.attire.capitalize()
    if requested != "auto":
        label, how = chosen, "your choice"
    elif requested_outfit not in SPACE_SPECIAL_OUTFITS:
        label, how = chosen, "the outfit you picked"
    elif result.attire_probabilities:
        label = {name.capitalize(): p for name, p in result.attire_probabilities.items()}
        how = f"picked from your photo ({result.attire_confidence:.0%} sure)"
    else:
        label, how = chosen, "the default (this model has no attire classifier)"
    info = f"**{chosen}**, {how} · {width} × {height} px JPEG · made in {seconds:.1f} s"
    info += "\n\n" + describe_outfit(result, requested_outfit)
    faces = getattr(result, "faces_found", 1)
    if faces > 1:
        info += f"\n\n⚠️ {faces} faces in your photo: the largest was used (crop the photo to choose another)."
    for warning in getattr(result, "warnings", None) or []:
        info += f"\n\n⚠️ {warning}"
    return label, info


def make_headshot(photo: Any, attire: str = "auto", background: str = DEFAULT_BACKGROUND, size: str = "square",
                  outfit: str = OUTFIT_AUTO, outfit_photo: Any = None, request: gr.Request | None = None):
    """Photo (gradio file payload or path), attire (auto|suit|blazer), background colour, size preset
    (square|linkedin|portrait), outfit (auto|keep|none|upload|an outfit id), outfit photo (a second upload, for
    outfit "upload") -> (headshot JPEG path, attire label, info Markdown, download button)."""
    start = time.perf_counter()
    session = _session(request)
    housekeeping()
    try:
        data, worn = read_photos(photo, outfit_photo, str(outfit or "").strip().lower() == OUTFIT_UPLOAD, session)
        requested = attire_choice(attire)
        preset = size_preset(size)
        requested_outfit = outfit_choice(outfit)
        options = (requested, parse_background(background), preset.size, preset.aspect)
        if worn is None:
            result = _run_pipeline(data, *options, requested_outfit)
        else:
            with _outfit_photos.as_file(worn) as path:
                result = _run_pipeline(data, *options, str(path))
    except Exception as err:  # noqa: BLE001 - every error becomes a friendly message on the page
        raise friendly_error(err) from None
    finally:
        release_memory()  # the pipeline's temporaries (a 12-megapixel photo is ~36 MB each) are freed by now
    width, height = result.image.size
    path = _outputs.save(result.image, session, f"headshot-{result.attire}-{width}x{height}.jpg")
    label, info = describe(result, requested, time.perf_counter() - start, requested_outfit)
    download = gr.DownloadButton(f"Download JPEG ({width} × {height})", value=str(path), interactive=True)
    return str(path), label, info, download


# --- the page -------------------------------------------------------------------------------------------------------
INTRO = """\
# Selfie → Business Headshot
Turn a casual selfie into a professional headshot: a plain studio background and a suit or blazer. **Your face stays \
exactly as it is**: only the clothes and the background change. Works best with one face looking at the camera, in \
good light.
"""

PRIVACY = f"""\
**Privacy:** photos are processed in memory and not kept. Your uploaded files (selfie, outfit photo) are deleted \
as soon as your headshot is made; the headshot is deleted from the server when you close this page (after \
{OUTPUT_TTL_S // 60} minutes at the latest). Nothing is used for training.
"""

CREDITS = f"""\
Example photos: DeBruine, L. M. & Jones, B. C. (2017), *Face Research Stimuli* (Canada set), \
[CC BY 4.0](https://creativecommons.org/licenses/by/4.0/). \
{{outfits}} Model: [{MODEL_REPO}](https://huggingface.co/{MODEL_REPO}) · made with \
[cyclegan-biz](https://huggingface.co/{MODEL_REPO}) {cyclegan_biz.__version__}.
"""


def _swatch_css() -> str:
    rules = []
    for i, colour in enumerate(BACKGROUND_PRESETS.values()):
        dark = sum(int(colour[j:j + 2], 16) for j in (1, 3, 5)) < 3 * 128
        text = "#ffffff" if dark else "#1f2328"
        rules.append(f".swatch-{i} {{ background: {colour} !important; color: {text} !important; "
                     "border: 1px solid rgba(0,0,0,.18) !important; }")
    return "\n".join(rules)


CSS = """
.gradio-container { max-width: 1180px !important; margin: 0 auto !important; }
#privacy, #credits { font-size: 0.85em; opacity: 0.85; }
#swatches { gap: 6px; }
#swatches button { min-width: 0 !important; flex: 1 1 0; }
#result-info { min-height: 1.5em; }
#outfit-credits { font-size: 0.85em; }
""" + _swatch_css()

# System fonts: the page loads nothing from third-party servers.
SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial",
                "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]
THEME = gr.themes.Soft(primary_hue="indigo", neutral_hue="slate", font=SYSTEM_FONTS, font_mono=MONO_FONTS)


def build_demo() -> gr.Blocks:
    """The page (not launched)."""
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=DELETE_CACHE) as demo:
        gr.Markdown(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1):
                photo = gr.Image(label="Your selfie", sources=["upload", "webcam", "clipboard"], type="filepath",
                                 height=420, elem_id="photo")
                attire = gr.Radio(ATTIRE_CHOICES, value="auto", label="Attire", elem_id="attire")
                outfit, outfit_photo = outfit_picker(attire)
                background = gr.ColorPicker(DEFAULT_BACKGROUND, label="Background colour", elem_id="background",
                                             info="Click the swatch for any colour, or pick a preset below.")
                with gr.Row(elem_id="swatches"):
                    for i, (name, colour) in enumerate(BACKGROUND_PRESETS.items()):
                        swatch = gr.Button(name, size="sm", elem_classes=[f"swatch-{i}"], min_width=0)
                        swatch.click(None, None, background, js=f"() => '{colour}'", queue=False,
                                     api_visibility="private")
                size = gr.Radio([(p.label, key) for key, p in SIZE_PRESETS.items()], value="square",
                                label="Output size", elem_id="size", info="Portrait 4:5 is 1024 × 1280.")
                run = gr.Button("Create headshot", variant="primary", size="lg", elem_id="run")
                gr.Examples([[str(p)] for p in EXAMPLE_PHOTOS], inputs=[photo],
                            label="No selfie at hand? Try an example (CC BY 4.0, credits below)",
                            cache_examples=False,
                            examples_per_page=len(EXAMPLE_PHOTOS))
            with gr.Column(scale=1):
                result = gr.Image(label="Your headshot", type="filepath", format="jpeg", interactive=False,
                                  height=420, buttons=["download", "fullscreen"], elem_id="result")
                download = gr.DownloadButton("Download JPEG", interactive=False, variant="primary",
                                             elem_id="download")
                result_info = gr.Markdown(elem_id="result-info")
                with gr.Column(visible=False) as details:  # shown with the first result
                    attire_label = gr.Label(label="Attire", elem_id="attire-label")
        gr.Markdown(PRIVACY, elem_id="privacy")
        gr.Markdown(CREDITS.format(outfits=outfit_sources()), elem_id="credits")
        with gr.Accordion("Outfit credits", open=False, elem_id="outfit-credits"):
            gr.Markdown(outfit_credits())

        run.click(make_headshot, inputs=[photo, attire, background, size, outfit, outfit_photo],
                  outputs=[result, attire_label, result_info, download],
                  api_name="headshot", preprocess=False, show_progress_on=[result],
                  ).success(lambda: gr.Column(visible=True), None, details, queue=False, api_visibility="private")
        demo.unload(end_session)
    _uploads.attach(demo, photo)
    return demo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the selfie -> business headshot web app.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT") or 7860),
                        help="port (default: GRADIO_SERVER_PORT or 7860)")
    parser.add_argument("--host", default=None,
                        help="address to listen on (default: GRADIO_SERVER_NAME or 127.0.0.1; 0.0.0.0 for all)")
    parser.add_argument("--share", action="store_true", help="also make a temporary public gradio.live link")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # gradio's own start-up requests

    if not ON_ZERO_GPU:  # load the model while the server starts
        threading.Thread(target=_preload, name="preload-model", daemon=True).start()
    threading.Thread(target=_sweep_forever, name="housekeeping", daemon=True).start()
    signal.signal(signal.SIGTERM, _on_sigterm)
    demo = build_demo()
    demo.queue(default_concurrency_limit=int(setting("CONCURRENCY") or 1), max_size=32)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, max_file_size=f"{MAX_UPLOAD_MB}mb",
                show_error=False, ssr_mode=False, theme=THEME, css=CSS,
                run_history=False,  # gradio's run history would keep photos in the browser (or a bucket)
                footer_links=["api", "gradio", "settings"],
                app_kwargs={"middleware": [Middleware(RequestSizeLimit)]})


if __name__ == "__main__":
    main()
