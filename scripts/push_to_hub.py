"""Stage the exact Hugging Face Hub model folder and upload it.

    python scripts/push_to_hub.py org/selfie2biz                          # the bundled model, uploaded
    python scripts/push_to_hub.py org/selfie2biz --model runs/selfie2biz --dry-run

The staged folder is what ``SelfieToBusinessPipeline.from_pretrained("org/selfie2biz")`` downloads and what the Space
runs (``CYCLEGAN_BIZ_MODEL=org/selfie2biz``): the model card as ``README.md`` (``model_card.md``), the generator's
``config.json`` + safetensors at the root, ``discriminator_a/`` (the attire classifier), and ``model.onnx`` +
``attire_classifier.onnx`` (exported now when missing) for the torch-free engine. ``--dry-run`` stages and lists it,
offline, without uploading; the upload needs ``huggingface-cli login`` (or HF_TOKEN).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from cyclegan_biz.errors import CycleBizError

ROOT = Path(__file__).resolve().parents[1]


def stage(model: str | None, folder: Path, card: Path) -> list[Path]:
    """Write the Hub folder for ``model`` (None: the bundled one) into ``folder``; returns its files, sorted."""
    from cyclegan_biz import SelfieToBusinessPipeline

    pipe = SelfieToBusinessPipeline.from_pretrained(model, engine="torch", device="cpu")
    pipe.save_pretrained(folder, onnx=True)
    shutil.copy2(card, folder / "README.md")  # the card in the repository wins over one shipped with the model
    return sorted(p for p in folder.rglob("*") if p.is_file())


def upload(folder: Path, repo_id: str, private: bool, message: str) -> str:
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    commit = api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="model", commit_message=message)
    return str(commit)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo_id", help="the Hub model repository, e.g. org/selfie2biz")
    parser.add_argument("--model", help="model folder or Hub id to publish (default: the bundled model)")
    parser.add_argument("--card", type=Path, default=ROOT / "model_card.md", help="model card (default: %(default)s)")
    parser.add_argument("--stage-dir", type=Path, help="stage here and keep it (default: a temporary folder)")
    parser.add_argument("--private", action="store_true", help="create the repository as private")
    parser.add_argument("--message", default="Upload selfie2biz (scripts/push_to_hub.py)", help="commit message")
    parser.add_argument("--dry-run", action="store_true", help="stage and list the files; upload nothing")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cyclegan-biz-hub-") as tmp:
        folder = args.stage_dir or Path(tmp)
        try:
            files = stage(args.model, folder, args.card)
        except (CycleBizError, FileNotFoundError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        for path in files:
            print(f"{path.relative_to(folder).as_posix():48s} {path.stat().st_size / 1e6:8.2f} MB")
        if args.dry_run:
            print(f"Dry run: staged {len(files)} files in {folder}; nothing uploaded.")
            return 0
        commit = upload(folder, args.repo_id, args.private, args.message)
        print(f"Uploaded to https://huggingface.co/{args.repo_id}: {commit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
