"""Load test of the web app's memory (issue 10.2): does the server's memory come back after a burst of requests,
oversized ones included?

Starts ``space/app.py`` on 127.0.0.1 (loopback only; a free port, a private gradio cache), warms it up, records its
resident memory (RSS, from /proc: Linux), then sends 20 sequential and 4 concurrent requests through the raw HTTP
API: ordinary selfies, a 12-megapixel one, and oversized ones (a 16.5 MB upload, the same photo as a data: URL with
its length declared, and streamed in chunks), each refused with 413 before it is read. After the burst it waits for
the server to settle and records RSS again. Exit status 1 when RSS does not come back to within ``--tolerance`` (15 %)
of the warm baseline.

    python scripts/load_test_space.py                         # the bundled model
    python scripts/load_test_space.py --model path/to/model --output load.json
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "space" / "app.py"
EXAMPLES = sorted((ROOT / "cyclegan_biz" / "examples").glob("canada-*.jpg"))
LOOPBACK = "127.0.0.1"
OVERSIZED_MB = 16.5
START_TIMEOUT_S = 300
REQUEST_TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def jpeg(image: Image.Image, quality: int = 92) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def photos() -> dict[str, bytes]:
    """Selfies that are not the bundled examples (mirrored), one of them 12 megapixels."""
    mirrored = [ImageOps.mirror(Image.open(p).convert("RGB")) for p in EXAMPLES]
    big = mirrored[0].resize((3000, 4000), Image.Resampling.BICUBIC)
    return {**{f"selfie-{i}.jpg": jpeg(image) for i, image in enumerate(mirrored)}, "selfie-12mp.jpg": jpeg(big)}


class Server:
    """``space/app.py`` in a subprocess, listening on loopback only."""

    def __init__(self, model: str | None, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}/"
        env = {**os.environ, "GRADIO_TEMP_DIR": str(workdir / "gradio"), "GRADIO_ANALYTICS_ENABLED": "False",
               "GRADIO_SERVER_NAME": LOOPBACK, "PYTHONUNBUFFERED": "1"}
        if model:
            env["CYCLEGAN_BIZ_MODEL"] = model
        self.log = workdir / "server.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen([sys.executable, str(APP), "--host", LOOPBACK, "--port", str(self.port)],
                                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the app exited:\n{self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the app did not start within {START_TIMEOUT_S} s")
            time.sleep(1)

    def rss(self) -> float:
        return rss_mb(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# /headshot's values after the photo: attire, background, size, outfit, outfit photo (the raw API needs all of them).
OPTIONS = ["auto", "#c5c7c9", "square", "auto", None]


def headshot(url: str, name: str, data: bytes) -> str:
    """Upload + /headshot through the raw API: "ok", "error" or "http <status>"."""
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as http:
        uploaded = http.post("gradio_api/upload", files={"files": (name, data, "image/jpeg")})
        if uploaded.status_code != 200:
            return f"http {uploaded.status_code}"
        photo = {"path": uploaded.json()[0], "meta": {"_type": "gradio.FileData"}}
        return call(http, [photo, *OPTIONS])


def call(http: httpx.Client, data: list) -> str:
    started = http.post("gradio_api/call/headshot", json={"data": data})
    if started.status_code != 200:
        return f"http {started.status_code}"
    stream = http.get(f"gradio_api/call/headshot/{started.json()['event_id']}").text
    return "ok" if "event: complete" in stream else "error"


def oversized(url: str, kind: str, big: bytes) -> str:
    """An oversized photo: as an upload, as a data: URL (length declared) or streamed in chunks."""
    with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as http:
        if kind == "upload":
            return f"http {http.post('gradio_api/upload', files={'files': ('big.jpg', big, 'image/jpeg')}).status_code}"
        data_url = "data:image/jpeg;base64," + base64.b64encode(big).decode()
        if kind == "data-url":
            return call(http, [{"url": data_url}, *OPTIONS])
        body = json.dumps({"data": [{"url": data_url}, *OPTIONS]}).encode()
        chunks = (body[i:i + (1 << 20)] for i in range(0, len(body), 1 << 20))
        response = http.post("gradio_api/call/headshot", content=chunks, headers={"content-type": "application/json"})
        return f"http {response.status_code}"


def settle(server: Server, seconds: float) -> float:
    """RSS after ``seconds`` of quiet (the lowest reading of the last few, as the OS may reclaim lazily)."""
    readings = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(1)
        readings.append(server.rss())
    return min(readings[-3:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model folder or Hub id (default: the bundled model)")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds of quiet before each RSS reading")
    parser.add_argument("--tolerance", type=float, default=0.15, help="allowed growth over the warm baseline")
    parser.add_argument("--output", type=Path, default=None, help="write the numbers as JSON here")
    args = parser.parse_args()

    selfies = photos()
    big = b"\xff\xd8" + os.urandom(int(OVERSIZED_MB * 1024 * 1024))
    with tempfile.TemporaryDirectory(prefix="load-test-space-") as workdir:
        server = Server(args.model, Path(workdir))
        try:
            started = server.rss()
            for name, data in selfies.items():  # warm-up: every kind of photo once
                assert headshot(server.url, name, data) == "ok", name
            baseline = settle(server, args.settle)

            outcomes: dict[str, list[str]] = {}
            peak = baseline
            plan = [*selfies.items()] * 4  # 20 sequential requests, 3 of them oversized
            plan[5], plan[11], plan[17] = ("upload", None), ("data-url", None), ("chunked", None)
            start = time.perf_counter()
            for name, data in plan:
                result = headshot(server.url, name, data) if data else oversized(server.url, name, big)
                outcomes.setdefault(name, []).append(result)
                peak = max(peak, server.rss())
            threads, results = [], {}
            concurrent = [("selfie-12mp.jpg", selfies["selfie-12mp.jpg"]), ("selfie-1.jpg", selfies["selfie-1.jpg"]),
                          ("data-url", None), ("upload", None)]
            for i, (name, data) in enumerate(concurrent):
                def work(i=i, name=name, data=data) -> None:
                    results[i] = headshot(server.url, name, data) if data else oversized(server.url, name, big)
                threads.append(threading.Thread(target=work))
            for thread in threads:
                thread.start()
            while any(thread.is_alive() for thread in threads):
                peak = max(peak, server.rss())
                time.sleep(0.2)
            for i, (name, _) in enumerate(concurrent):
                outcomes.setdefault(f"{name} (concurrent)", []).append(results[i])
            burst_s = time.perf_counter() - start
            after = settle(server, args.settle)
        finally:
            server.stop()

    report = {"rss_mb": {"started": round(started, 1), "warm_baseline": round(baseline, 1), "peak": round(peak, 1),
                         "after": round(after, 1)},
              "growth": round(after / baseline - 1, 4), "tolerance": args.tolerance, "burst_seconds": round(burst_s, 1),
              "requests": {"sequential": len(plan), "concurrent": len(concurrent)}, "outcomes": outcomes}
    print(json.dumps(report, indent=2))
    if args.output:
        args.output.write_text(json.dumps(report, indent=2))
    refused = [r for name, rs in outcomes.items() for r in rs if not name.startswith("selfie")]
    accepted = [r for name, rs in outcomes.items() for r in rs if name.startswith("selfie")]
    ok = after <= baseline * (1 + args.tolerance) and all(r == "http 413" for r in refused) and all(
        r == "ok" for r in accepted)
    print(f"RSS {baseline:.0f} MB warm -> {peak:.0f} MB peak -> {after:.0f} MB after "
          f"({report['growth']:+.1%}; limit {args.tolerance:+.0%}): {'OK' if ok else 'FAILED'}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
