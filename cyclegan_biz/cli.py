"""The ``cyclegan-biz`` command: turn selfies into business headshots from the terminal."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .batch import OUTPUT_FORMATS, convert_files, not_writable, save_image
from .constants import ASPECTS, ENGINES, MAX_SIZE, MIN_SIZE
from .environment import setting
from .errors import CycleBizError

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
SHEET_NAME = "before_after.jpg"

DESCRIPTION = """\
Turn a selfie into a professional business headshot: the face stays exactly as it is, the clothes become a suit
or a blazer, and the background a plain studio colour. Everything runs locally on your computer."""

EPILOG = """\
examples:
  cyclegan-biz demo                                  convert the bundled example selfies into ./headshots
  cyclegan-biz convert selfie.jpg -o headshot.jpg    one photo
  cyclegan-biz convert photos/ -o headshots/         a folder (or several files, or a glob like 'img/*.heic')
  cyclegan-biz convert me.heic -o me.png --attire blazer --background white --aspect 4:5
  cyclegan-biz outfits                               list the wardrobe; then --outfit ID (or a photo, or keep)

exit status: 0 all photos converted, 1 some failed (each failure gets one 'error:' line), 2 bad usage.
set CYCLEGAN_BIZ_DEBUG=1 to see tracebacks."""


# --- arguments ------------------------------------------------------------------------------------------------------
def _size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of pixels") from None
    if not MIN_SIZE <= value <= MAX_SIZE:
        raise argparse.ArgumentTypeError(f"{value} is outside {MIN_SIZE}..{MAX_SIZE}")
    return value


def _colour(text: str) -> tuple[int, int, int]:
    from .compose import parse_color

    try:
        return parse_color(text)
    except CycleBizError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _add_common(parser: argparse.ArgumentParser) -> None:
    from .wardrobe.vocabulary import ATTIRE_CHOICES

    parser.add_argument("--attire", choices=ATTIRE_CHOICES, default="auto",
                        help="suit, blazer, or auto: chosen from the photo (default: auto)")
    parser.add_argument("--background", type=_colour, default="studio-grey", metavar="COLOUR",
                        help="background colour: a name (white, lightgray, navy, studio-grey, office-blue), "
                             "#rrggbb or R,G,B (default: studio-grey)")
    parser.add_argument("--size", type=_size, default=1024, metavar="N",
                        help="output width in pixels (default: 1024)")
    parser.add_argument("--aspect", choices=ASPECTS, default="1:1",
                        help="1:1 square, or 4:5 portrait (N x 1.25N) (default: 1:1)")
    parser.add_argument("--outfit", default="auto", metavar="OUTFIT",
                        help="auto: a suit or blazer from the wardrobe for the attire; an outfit id (see "
                             "`cyclegan-biz outfits`); the path of a photo of someone in business clothes (that "
                             "outfit is used); keep: your own clothes (new frame and background only); none: the "
                             "generator alone (default: auto)")
    parser.add_argument("--model", metavar="PATH_OR_ID", default=None,
                        help="model folder or Hugging Face Hub id (default: the bundled model)")
    parser.add_argument("--engine", choices=ENGINES, default="auto",
                        help="torch, onnx (onnxruntime), or auto: onnx when the model ships model.onnx or it "
                             "was exported before (default: auto)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=None,
                        help="where the model runs (default: cuda when available)")
    parser.add_argument("--no-finisher", dest="finisher", action="store_false",
                        help="join the head and the outfit with the classical blend alone, without the model's "
                             "trained finisher (when it ships one)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cyclegan-biz", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    convert = commands.add_parser(
        "convert", help="convert photos into headshots",
        description="Convert photos into business headshots.\nINPUT: image files (JPEG, PNG, WebP, HEIC, ...), "
                    "folders (searched recursively) or glob patterns.\nNothing is overwritten without --overwrite.",
        epilog="examples:\n  cyclegan-biz convert selfie.jpg -o headshot.jpg\n"
               "  cyclegan-biz convert photos/ 'more/*.heic' -o headshots/ --attire suit --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    convert.add_argument("inputs", nargs="+", metavar="INPUT", help="photos, folders or globs")
    convert.add_argument("-o", "--output", required=True, metavar="OUT",
                         help="output file (.jpg, .png, .webp; one input only) or folder (created if needed)")
    convert.add_argument("--format", choices=("jpg", "png", "webp"), default="jpg",
                         help="file type written into an output folder (default: jpg)")
    _add_common(convert)
    convert.set_defaults(subparser=convert)
    convert.add_argument("--overwrite", action="store_true", help="replace existing output files")
    convert.add_argument("--json", action="store_true",
                         help="print the results as one JSON document on stdout (messages go to stderr)")

    demo = commands.add_parser(
        "demo", help="convert the bundled example selfies (start here)",
        description="Convert the bundled example selfies and write a before/after sheet.\n"
                    "Replaces the results of an earlier demo in the same folder.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("-o", "--output", default="headshots", metavar="DIR",
                      help="folder for the headshots (default: ./headshots)")
    _add_common(demo)

    from .wardrobe.vocabulary import ATTIRE_CHOICES

    outfits = commands.add_parser(
        "outfits", help="list the outfits of the wardrobe (ids for --outfit)",
        description="List the outfits shipped in the wardrobe: id, attire, jacket colour, shirt, tie, and credit "
                    "(where the photo it was cut from comes from, and its licence).",
    )
    outfits.add_argument("--attire", choices=ATTIRE_CHOICES, default="auto",
                         help="only suits or only blazers (default: all)")
    outfits.add_argument("--json", action="store_true", help="print the list as JSON")
    return parser


def run_outfits(args: argparse.Namespace) -> int:
    from .wardrobe.catalogue import list_outfits

    rows = list_outfits(args.attire)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    columns = ("id", "attire", "colour", "shirt", "tie", "credit")
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) if rows else len(c) for c in columns[:-1]}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns[:-1]) + "  CREDIT")
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns[:-1]) + f"  {row['credit']}")
    print(f"{len(rows)} outfit{'s' if len(rows) != 1 else ''}. Use one with --outfit ID.")
    return 0


# --- helpers ----------------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def quiet_native_logs() -> Iterator[None]:
    """Send what C/C++ libraries (mediapipe, TFLite) print on file descriptor 2 to /dev/null, keeping Python's
    ``sys.stderr`` on the terminal. Only when stderr really is fd 2 and CYCLEGAN_BIZ_DEBUG is not set."""
    try:
        active = not setting("DEBUG") and sys.stderr is not None and sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        active = False
    if not active:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    original = sys.stderr
    sys.stderr = open(saved, "w", buffering=1, encoding=original.encoding or "utf-8",  # noqa: SIM115
                      errors="backslashreplace", closefd=False)
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stderr = original
        os.dup2(saved, 2)
        os.close(saved)


def expand_inputs(entries: Sequence[str]) -> tuple[list[Path], list[tuple[str, str]]]:
    """``(image files, [(entry, problem)])`` for files, folders (recursive) and globs (relative or absolute)."""
    from .sources import iter_images

    files: list[Path] = []
    problems: list[tuple[str, str]] = []
    for entry in entries:
        found = iter_images([entry])
        if not found:
            is_folder = Path(entry).expanduser().is_dir()
            problems.append((entry, "no images in this folder" if is_folder else "no files match this pattern"))
        files += found
    unique = list(dict.fromkeys(files))
    return unique, problems


def output_targets(files: Sequence[Path], output: Path, extension: str) -> list[Path]:
    """Output path per input in folder mode: ``OUT/<stem>.<ext>``; repeated stems get ``-2``, ``-3``..."""
    used: set[str] = set()
    targets = []
    for file in files:
        name, n = f"{file.stem}.{extension}", 1
        while name.lower() in used:
            n += 1
            name = f"{file.stem}-{n}.{extension}"
        used.add(name.lower())
        targets.append(output / name)
    return targets


def ensure_writable(folder: Path, shown: Path | None = None) -> None:
    """Create ``folder`` if needed and check that a file can be written in it, before any work is done; the error
    names ``shown`` (the user's --output), never a temporary file."""
    shown = shown or folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise not_writable(shown, err) from None


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The pipeline's options from the command line."""
    return {"attire": args.attire, "background": args.background, "size": args.size, "aspect": args.aspect,
            "outfit": args.outfit}


def _debug() -> bool:
    return bool(setting("DEBUG"))


def _load_pipeline(args: argparse.Namespace):
    from .pipeline import SelfieToBusinessPipeline

    return SelfieToBusinessPipeline.from_pretrained(args.model, engine=args.engine, device=args.device,
                                                    finisher=args.finisher)


# --- commands ---------------------------------------------------------------------------------------------------------
def run_convert(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    output = Path(args.output).expanduser()
    suffix = output.suffix.lower()
    files, problems = expand_inputs(args.inputs)
    file_mode = suffix in OUTPUT_FORMATS and not output.is_dir()
    if suffix and not file_mode and not output.is_dir() and not output.exists():
        parser.error(f"--output {args.output}: unknown image type {suffix!r}; use .jpg, .png or .webp, "
                     "or a folder name without a suffix")
    if file_mode and len(files) > 1:
        parser.error(f"--output {args.output} is one file but {len(files)} photos were given; "
                     "pass a folder as --output")
    if output.exists() and not output.is_dir() and not file_mode:
        parser.error(f"--output {args.output} exists and is not a folder")
    targets = [output] if file_mode else output_targets(files, output, args.format)

    def report(line: str) -> None:
        from tqdm.auto import tqdm

        tqdm.write(line, file=sys.stderr)

    for entry, problem in problems:
        report(f"error: {entry}: {problem}")
    results: list[dict[str, Any]] = []
    stopped: BaseException | None = None
    try:
        if files:  # before any photo is converted: a folder that cannot be written fails now, by its name
            ensure_writable(output.parent if file_mode else output, output)
        convert_files(lambda: _load_pipeline(args), list(zip(files, targets, strict=True)), _options(args),
                      args.overwrite, report, reraise=_debug(), results=results)
    except (CycleBizError, KeyboardInterrupt) as err:
        if not args.json or (_debug() and not isinstance(err, KeyboardInterrupt)):
            raise  # main() prints it
        stopped = err
    results += [{"input": entry, "output": None, "ok": False, "error": problem, "error_type": "NoInput"}
                for entry, problem in problems]
    converted = sum(bool(r.get("ok")) for r in results)
    failed = len(results) - converted
    where = str(output) if file_mode else f"{output}{os.sep}"
    summary = f"Converted {converted} of {len(results)} photo{'s' if len(results) != 1 else ''} into {where}"
    summary += f" ({failed} failed)." if failed else "."
    if not args.json:
        print(summary)
        return 0 if failed == 0 and results else 1
    document = {"version": __version__, "output": str(output), "converted": converted, "failed": failed,
                "results": results}
    if stopped is not None:
        document.update(json_stop(stopped, results))
        print("interrupted" if document["interrupted"] else f"error: {document['error']}", file=sys.stderr)
    print(json.dumps(document, indent=2))
    print(summary, file=sys.stderr)
    if isinstance(stopped, KeyboardInterrupt):
        return 130
    return 0 if failed == 0 and results and stopped is None else 1


def json_stop(err: BaseException, results: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``--json`` fields of a run that stopped early (the model failed to load, Ctrl-C); the photo in progress
    is marked as not converted."""
    interrupted = isinstance(err, KeyboardInterrupt)
    message = "interrupted" if interrupted else " ".join(str(err).split())
    kind = type(err).__name__
    for entry in results:
        if "ok" not in entry:
            entry.update(ok=False, error=message, error_type=kind)
    return {"interrupted": interrupted, "error": message, "error_type": kind}


def before_after_sheet(pairs: Sequence[tuple[Path, Path]], tile: int = 384):
    """Rows of (before, after), each fitted into ``tile`` x ``tile`` on white, with captions."""
    from PIL import Image, ImageDraw

    from .visualize import fitted_tile

    caption = 24
    sheet = Image.new("RGB", (2 * tile, len(pairs) * (tile + caption)), "white")
    draw = ImageDraw.Draw(sheet)
    for row, (before, after) in enumerate(pairs):
        y = row * (tile + caption)
        for column, (label, path) in enumerate((("before", before), ("after", after))):
            sheet.paste(fitted_tile(path, tile), (column * tile, y + caption))
            draw.text((column * tile + 6, y + 6), f"{label}: {Path(path).name}", fill=(40, 40, 40))
    return sheet


def run_demo(args: argparse.Namespace) -> int:
    output = Path(args.output).expanduser()
    if output.exists() and not output.is_dir():
        raise CycleBizError(f"{output} exists and is not a folder; choose another with --output.")
    examples = sorted(p for p in EXAMPLES_DIR.glob("*") if p.suffix.lower() in OUTPUT_FORMATS)
    if not examples:
        raise CycleBizError(f"The example photos are missing from {EXAMPLES_DIR}; reinstall cyclegan-biz.")
    ensure_writable(output)
    pipe = _load_pipeline(args)  # fails early, with advice, when the model is missing
    print(f"Converting {len(examples)} example selfies with {pipe.model_dir} ({pipe.engine.name}) ...")
    pairs = list(zip(examples, output_targets(examples, output, "jpg"), strict=True))

    def report(line: str) -> None:
        print(line, file=sys.stderr)

    results = convert_files(lambda: pipe, pairs, _options(args), True, report, reraise=_debug())
    done = [(Path(r["input"]), Path(r["output"])) for r in results if r["ok"]]
    if not done:
        return 1
    sheet = output / SHEET_NAME
    save_image(before_after_sheet(done), sheet)
    print(f"Headshots ({len(done)}) are in {output}{os.sep}")
    print(f"Before/after sheet: {sheet}")
    return 0 if len(done) == len(results) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    debug = _debug()
    try:
        with quiet_native_logs():
            if args.command == "convert":
                return run_convert(args, args.subparser)
            if args.command == "outfits":
                return run_outfits(args)
            return run_demo(args)
    except CycleBizError as err:
        if debug:
            raise
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
