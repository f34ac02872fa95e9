"""Regenerate ``inspector/core/providers/tables.json.gz``: the provider tables the Inspector ships.

Nothing in the data file is typed by hand; every table is read from its publisher's own file at a
named release, and stamped with the file, the release, the git ref and commit, and its date:

* ONNX Runtime's ``docs/OperatorKernels.md`` (CPU, CUDA and DirectML kernels: op, version range,
  types per type parameter), generated upstream from the registered kernels by
  ``tools/python/gen_opkernel_doc.py``; one per release from 1.14 on;
* the ONNX pin of each release (``cmake/deps.txt``) and ONNX Runtime's published compatibility
  table (``docs/reference/compatibility.md`` on the ``gh-pages`` branch);
* onnx-tensorrt's ``docs/operators.md`` (TensorRT's support matrix with types and restrictions);
* from ONNX Runtime's source at the newest ref found: XNNPACK's kernel registrations, QNN's op
  builders and OpenVINO's supported-op list (``SOURCE_LISTS``).

Usage (git directories without a work tree are fine; each is searched in the order given)::

    python tools/gen_provider_tables.py --ort-git ORT.git [--ort-git OTHER.git ...] \\
        --trt-git ONNX-TENSORRT.git [--installed-cpu] [--out PATH]

A release's ``OperatorKernels.md`` is taken from, in order of preference: its newest ``v1.N.P``
tag; its newest ``rel-1.N.P`` branch; the main-branch commit just before ``VERSION_NUMBER`` moved
from 1.N to 1.N+1 (the branch cut; stamped as such); main while it is 1.N (development; stamped as
such). ``--installed-cpu`` adds the CPU table of the installed onnxruntime's release, written by
ONNX Runtime's own ``tools/python/gen_opkernel_doc.py`` (taken from the newest ref found, run, not
copied) against the installed wheel; use it when no git snapshot of that release can be had.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "inspector" / "core" / "providers" / "tables.json.gz"
FIRST_MINOR = 14  # the oldest release the tables go back to (1.14)
OPEN_END = 2**31 - 1
KERNEL_DOC = "docs/OperatorKernels.md"
COMPAT_DOC = "docs/reference/compatibility.md"
TRT_DOC = "docs/operators.md"
DOC_PROVIDERS = ("CPUExecutionProvider", "CUDAExecutionProvider", "DmlExecutionProvider")


def git(git_dir: Path, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", *args], capture_output=True, text=True, check=True
    ).stdout


def git_maybe(git_dir: Path, *args: str) -> str | None:
    try:
        return git(git_dir, *args)
    except subprocess.CalledProcessError:
        return None


# -- OperatorKernels.md ------------------------------------------------------------------------

_RANGE = re.compile(r"^(?:(\d+)\+|\[(\d+),\s*(\d+)\]|(\d+))$")


def parse_range(text: str) -> tuple[int, int]:
    """``13+`` → (13, OPEN_END); ``[6, 12]`` → (6, 12); ``13`` → (13, 13)."""
    m = _RANGE.match(text.strip())
    if m is None:
        raise ValueError(f"not a version range: {text!r}")
    if m.group(1):
        return int(m.group(1)), OPEN_END
    if m.group(2):
        return int(m.group(2)), int(m.group(3))
    return int(m.group(4)), int(m.group(4))


def split_types(text: str) -> list[str]:
    """Split ``tensor(float), map(int64,tensor(float))`` at the commas outside parentheses."""
    out, depth, cur = [], 0, []
    for ch in text:
        if ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


def parse_constraints(text: str) -> dict[str, list[str]]:
    """``**T** = tensor(float)<br/> **T1** = tensor(int64)`` → {"T": [...], "T1": [...]}."""
    out: dict[str, list[str]] = {}
    for part in re.split(r"<br\s*/?>", text):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^\*\*([^*]+)\*\*\s*=\s*(.*)$", part)
        if m is None:
            raise ValueError(f"not a type constraint: {part!r}")
        out[m.group(1)] = sorted(split_types(m.group(2)))
    return out


def parse_kernel_doc(text: str) -> dict[str, dict[str, dict[str, list]]]:
    """provider → domain ("" for ai.onnx) → op → [[since, until, {param: [types]}], ...].

    Rows as ``gen_opkernel_doc.py`` writes them: a section per provider, a domain row, then per op
    a first row with its name and one continuation row (``|||range|types|``) per further range."""
    tables: dict[str, dict[str, dict[str, list]]] = {}
    provider = domain = op = None
    for line in text.splitlines():
        m = re.match(r"^## Operators implemented by (\w+)", line)
        if m:
            provider, domain, op = m.group(1), None, None
            tables[provider] = {}
            continue
        if provider is None or not line.startswith("|"):
            continue
        m = re.match(r"^\|\*\*Operator Domain:\*\* \*([^*]+)\*", line)
        if m:
            domain = "" if m.group(1) == "ai.onnx" else m.group(1)
            tables[provider].setdefault(domain, {})
            continue
        cells = line.strip()[1:-1].split(
            "|"
        )  # one pipe off each end: "|||13|...|" keeps its blanks
        if len(cells) < 4 or domain is None or not cells[2].strip():
            continue  # header, separator or the "| |" spacer rows
        if cells[0].strip():
            op = cells[0].strip()
        if op is None:
            raise ValueError(f"a continuation row before any op: {line!r}")
        since, until = parse_range(cells[2])
        constraints = parse_constraints("|".join(cells[3:]))
        tables[provider][domain].setdefault(op, []).append([since, until, constraints])
    return tables


# -- where each release is ---------------------------------------------------------------------


def _minor(version: str) -> int | None:
    m = re.match(r"^1\.(\d+)\.", version.strip() + ".")
    return int(m.group(1)) if m else None


def release_refs(git_dirs: list[Path]) -> dict[int, dict]:
    """minor → {ref, commit, git, how, version} for every release from 1.FIRST_MINOR on."""
    found: dict[int, tuple[int, dict]] = {}  # minor → (preference rank, info); lower is better

    def offer(minor: int, rank: int, info: dict) -> None:
        if minor >= FIRST_MINOR and (minor not in found or rank < found[minor][0]):
            found[minor] = (rank, info)

    for gd in git_dirs:
        for rank, pattern, kind in (
            (0, r"^v1\.(\d+)\.(\d+)$", "tag"),
            (1, r"^(?:remotes/[^/]+/)?rel-1\.(\d+)\.(\d+)$", "release branch"),
        ):
            names = git(gd, "tag") if kind == "tag" else git(gd, "branch", "-a")
            best: dict[int, tuple[int, str]] = {}
            for name in names.split():
                m = re.match(pattern, name.strip().lstrip("* "))
                if m:
                    minor, patch = int(m.group(1)), int(m.group(2))
                    if minor not in best or patch > best[minor][0]:
                        best[minor] = (patch, name.strip().lstrip("* "))
            for minor, (patch, ref) in best.items():
                offer(
                    minor,
                    rank,
                    {"git": gd, "ref": ref, "how": kind, "version": f"1.{minor}.{patch}"},
                )
        # The main branch: the commit before each "1.N → 1.N+1" bump is 1.N's branch cut.
        for commit in git(gd, "log", "--format=%H", "HEAD", "--", "VERSION_NUMBER").split():
            new = _minor(git_maybe(gd, "show", f"{commit}:VERSION_NUMBER") or "")
            old = _minor(git_maybe(gd, "show", f"{commit}~1:VERSION_NUMBER") or "")
            if new is not None and old is not None and new == old + 1:
                offer(old, 2, {"git": gd, "ref": f"{commit}~1", "how": "main at the branch cut"})
        head = _minor(git_maybe(gd, "show", "HEAD:VERSION_NUMBER") or "")
        if head is not None:
            offer(head, 3, {"git": gd, "ref": "HEAD", "how": "main during development"})
    out = {}
    for minor, (_, info) in sorted(found.items()):
        gd = info["git"]
        commit, date = git(gd, "log", "-1", "--format=%H %cs", info["ref"]).split()
        info = {**info, "commit": commit, "date": date}
        info.setdefault("version", (git(gd, "show", f"{commit}:VERSION_NUMBER").strip()))
        out[minor] = info
    return out


def onnx_pin(git_dir: Path, commit: str) -> str | None:
    """The onnx release a commit builds against (``cmake/deps.txt``: ``onnx;…/tags/v1.17.0.zip``)."""
    deps = git_maybe(git_dir, "show", f"{commit}:cmake/deps.txt") or ""
    m = re.search(r"^onnx;\S*/tags/v(\d+\.\d+\.\d+)\.zip", deps, re.M)
    return m.group(1) if m else None


def parse_compat(text: str) -> dict[str, dict]:
    """ONNX Runtime's version matrix: "1.20" → {onnx, opset, ml_opset, ir}."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or not re.match(r"^\d+\.\d+", cells[0]):
            continue
        onnx_version = cells[1].strip("*")
        for release in re.split(r"<br\s*/?>", cells[0]):
            rows[release.strip()] = {
                "onnx": onnx_version,
                "opset": int(cells[2]),
                "ml_opset": int(cells[3]),
                "ir": int(cells[4]),
            }
    return rows


# -- TensorRT ----------------------------------------------------------------------------------

_TRT_TYPES = {
    "FP32": "float",
    "FP16": "float16",
    "BF16": "bfloat16",
    "FP8": "float8e4m3fn",
    "INT32": "int32",
    "INT64": "int64",
    "INT8": "int8",
    "INT4": "int4",
    "UINT8": "uint8",
    "BOOL": "bool",
    "DOUBLE": "double",
    "FP64": "double",
}


def parse_trt(text: str) -> dict:
    """onnx-tensorrt's support matrix: {opset_range, ops: {op: [supported, [types], restriction]}}.

    Type names are mapped to ONNX Runtime's spelling; a name the map lacks is kept in
    ``unmapped`` (the source has typos, e.g. INF64), never guessed."""
    m = re.search(r"range of opset (\d+) to opset (\d+)", text)
    ops: dict[str, list] = {}
    unmapped: set[str] = set()
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or cells[1] not in ("Y", "N"):
            continue
        types = []
        for t in (x.strip() for x in (cells[2] if len(cells) > 2 else "").split(",")):
            if not t:
                continue
            if t in _TRT_TYPES:
                types.append(_TRT_TYPES[t])
            else:
                unmapped.add(t)
        restriction = cells[3].strip() if len(cells) > 3 else ""
        ops[cells[0]] = [cells[1] == "Y", sorted(set(types)), restriction]
    return {
        "opsets": [int(m.group(1)), int(m.group(2))] if m else None,
        "ops": ops,
        "unmapped_types": sorted(unmapped),
    }


# -- providers whose support lives in their source ---------------------------------------------

#: provider → (source file, how to read it). Each is read at the newest ref found. WebGPU is not
#: here: its registrations are spread over several files and helper calls
#: (``RegisterBinaryElementwiseKernels``, ``Create*KernelInfo``), so one file would undercount.
SOURCE_LISTS = {
    "XnnpackExecutionProvider": (
        "onnxruntime/core/providers/xnnpack/xnnpack_execution_provider.cc",
        "kernels",
    ),
    "QNNExecutionProvider": ("onnxruntime/core/providers/qnn/builder/op_builder_factory.cc", "qnn"),
    "OpenVINOExecutionProvider": (
        "onnxruntime/core/providers/openvino/ov_versions/data_ops.cc",
        "openvino",
    ),
}
_DOMAINS = {  # the NHWC domain holds ai.onnx ops the layout transformer rewrote for the provider
    "kOnnxDomain": "",
    "kMSInternalNHWCDomain": "",
    "kMSDomain": "com.microsoft",
    "kOnnxDomainAlias": "",
}
_CLASS_NAME = re.compile(r"ONNX_OPERATOR_(VERSIONED_)?(TYPED_)?KERNEL_CLASS_NAME\(([^()]*)\)")
_CREATE_INFO = re.compile(r"KERNEL_CREATE_INFO(_VERSIONED)?(_TYPED)?\(([^()]*)\)")


def parse_kernel_registrations(text: str) -> dict[str, dict[str, list]]:
    """Kernel registrations in a provider's source (``ONNX_OPERATOR_*_KERNEL_CLASS_NAME`` and the
    ``KERNEL_CREATE_INFO*`` shorthands, whose domain argument is last and optional) → domain →
    op → [[since, until, {}]]: versions only; the types are in the kernels' code, so none are
    recorded (never guessed). Macro definitions (names, not numbers) are skipped."""
    ranges: dict[tuple[str, str], set[tuple[int, int]]] = {}

    def add(versioned: bool, typed: bool, args: list[str], domain: str) -> None:
        need = 1 + versioned + typed + 1  # start, [end], [type], op
        if len(args) < need or not args[0].isdigit() or (versioned and not args[1].isdigit()):
            return
        d = _DOMAINS.get(domain)
        if d is None:
            return
        until = int(args[1]) if versioned else OPEN_END
        op = args[need - 1]
        ranges.setdefault((d, op), set()).add((int(args[0]), until))

    for m in _CLASS_NAME.finditer(text):
        args = [a.strip() for a in m.group(3).split(",")]
        add(bool(m.group(1)), bool(m.group(2)), args[2:], args[1] if len(args) > 1 else "")
    for m in _CREATE_INFO.finditer(text):
        args = [a.strip() for a in m.group(3).split(",")]
        need = 2 + bool(m.group(1)) + bool(m.group(2))
        domain = args[need] if len(args) > need else "kOnnxDomain"
        add(bool(m.group(1)), bool(m.group(2)), args[:need], domain)
    out: dict[str, dict[str, list]] = {}
    for (domain, op), spans in sorted(ranges.items()):
        if op.startswith("Memcpy"):
            continue  # the provider's own device copies, not model ops
        out.setdefault(domain, {})[op] = [[a, b, {}] for a, b in sorted(spans, reverse=True)]
    return out


def parse_qnn(text: str) -> list[str]:
    """The op types QNN's op builder factory registers (``CreateSimpleOpBuilder("Add", ...)``)."""
    return sorted(set(re.findall(r"Create\w*OpBuilder\(\s*\"(\w+)\"", text)))


def parse_openvino(text: str) -> dict[str, list]:
    """OpenVINO's ``supported_op_mode``: op → [first OpenVINO version, [devices]]."""
    m = re.search(r"supported_op_mode\s*=\s*\{(.*?)\n\};", text, re.S)
    ops: dict[str, list] = {}
    for op, version, devices in re.findall(
        r"\{\s*\"(\w+)\",\s*(V_\w+),\s*\{([^}]*)\}\s*\}", m.group(1) if m else ""
    ):
        names = sorted(set(re.findall(r"\"(\w+)\"", devices)))
        have = ops.get(op)
        if have is None or version < have[0]:
            ops[op] = [version.removeprefix("V_").replace("_", "."), names]
    return ops


def source_lists(git_dir: Path, info: dict, today: str) -> dict:
    """The source-derived lists at one ref, each stamped."""
    out = {}
    for provider, (path, kind) in SOURCE_LISTS.items():
        text = git_maybe(git_dir, "show", f"{info['commit']}:{path}")
        if text is None:
            continue
        if kind == "kernels":
            table: object = parse_kernel_registrations(text)
        elif kind == "qnn":
            table = parse_qnn(text)
        else:
            table = parse_openvino(text)
        out[provider] = {
            "kind": kind,
            "table": table,
            "stamp": {
                "source": path,
                "repository": "microsoft/onnxruntime",
                "snapshot": snapshot_name(git_dir),
                "release": info["version"],
                "ref": info["ref"],
                "how": info["how"],
                "commit": info["commit"],
                "date": info["date"],
                "generated": today,
            },
        }
    return out


def snapshot_name(git_dir: Path) -> str:
    """Which repository's snapshot a file came from (a fork carries upstream's tags and history):
    ``…/intel+onnxruntime/repo`` → ``intel/onnxruntime``."""
    for part in reversed(git_dir.resolve().parts):
        if "+" in part:
            return part.replace("+", "/", 1)
    return str(git_dir)


# -- the installed release ---------------------------------------------------------------------


def installed_cpu_doc(git_dir: Path, ref: str) -> str:
    """The installed wheel's CPU table, written by the upstream generator script at ``ref``."""
    script = git(git_dir, "show", f"{ref}:tools/python/gen_opkernel_doc.py")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gen_opkernel_doc.py"
        path.write_text(script)
        out = Path(tmp) / "OperatorKernels.md"
        subprocess.run(
            [sys.executable, str(path), "--providers", "cpu", "--output_path", str(out)],
            check=True,
        )
        return out.read_text()


# -- the data file -----------------------------------------------------------------------------


class _Interner:
    """Type lists repeat thousands of times across releases: store each once, refer by index."""

    def __init__(self) -> None:
        self.items: list[list[str]] = []
        self.index: dict[tuple[str, ...], int] = {}

    def __call__(self, types: list[str]) -> int:
        key = tuple(types)
        if key not in self.index:
            self.index[key] = len(self.items)
            self.items.append(list(key))
        return self.index[key]


def compact(tables: dict, intern: _Interner) -> dict:
    return {
        domain: {
            op: [[s, u, {p: intern(t) for p, t in c.items()}] for s, u, c in rows]
            for op, rows in sorted(ops.items())
        }
        for domain, ops in sorted(tables.items())
    }


def build(ort_gits: list[Path], trt_git: Path | None, installed_cpu: bool) -> dict:
    today = datetime.date.today().isoformat()
    intern = _Interner()
    releases: dict[str, dict] = {}
    refs = release_refs(ort_gits)
    for minor, info in refs.items():
        gd, commit = info["git"], info["commit"]
        doc = git_maybe(gd, "show", f"{commit}:{KERNEL_DOC}")
        if doc is None:
            continue
        parsed = parse_kernel_doc(doc)
        stamp = {
            "source": KERNEL_DOC,
            "repository": "microsoft/onnxruntime",
            "snapshot": snapshot_name(gd),
            "release": info["version"],
            "ref": info["ref"],
            "how": info["how"],
            "commit": commit,
            "date": info["date"],
            "generated": today,
        }
        releases[f"1.{minor}"] = {
            "stamp": stamp,
            "onnx": onnx_pin(gd, commit),
            "providers": {p: compact(parsed[p], intern) for p in DOC_PROVIDERS if p in parsed},
        }
        print(f"1.{minor}: {info['how']} {info['ref']} ({info['date']})", file=sys.stderr)
    if installed_cpu:
        import onnxruntime

        version = onnxruntime.__version__
        key = ".".join(version.split(".")[:2])
        newest = refs[max(refs)]
        doc = installed_cpu_doc(newest["git"], newest["commit"])
        parsed = parse_kernel_doc(doc)
        entry = releases.setdefault(key, {"stamp": None, "onnx": None, "providers": {}})
        entry["providers"]["CPUExecutionProvider"] = compact(parsed["CPUExecutionProvider"], intern)
        entry["cpu_stamp"] = {
            "source": KERNEL_DOC + " written by tools/python/gen_opkernel_doc.py "
            f"(onnxruntime @ {newest['commit'][:10]}) from the installed onnxruntime {version} wheel",
            "repository": "microsoft/onnxruntime",
            "snapshot": snapshot_name(newest["git"]),
            "release": version,
            "ref": "installed wheel",
            "how": "installed wheel",
            "commit": newest["commit"],
            "date": today,
            "generated": today,
        }
    compat: dict = {"rows": {}, "stamp": None}
    for gd in ort_gits:
        text = git_maybe(gd, "show", f"gh-pages:{COMPAT_DOC}")
        if text is not None:
            commit, date = git(gd, "log", "-1", "--format=%H %cs", "gh-pages").split()
            compat = {
                "rows": parse_compat(text),
                "stamp": {
                    "source": COMPAT_DOC,
                    "repository": "microsoft/onnxruntime",
                    "snapshot": snapshot_name(gd),
                    "ref": "gh-pages",
                    "commit": commit,
                    "date": date,
                    "generated": today,
                },
            }
            break
    newest = refs[max(refs)]
    data = {
        "sources": source_lists(newest["git"], newest, today),
        "format": 1,
        "generated": today,
        "types": intern.items,
        "kernels": releases,
        "compatibility": compat,
    }
    if trt_git is not None:
        commit, date = git(trt_git, "log", "-1", "--format=%H %cs", "HEAD").split()
        branch = git(trt_git, "rev-parse", "--abbrev-ref", "HEAD").strip()
        data["tensorrt"] = {
            **parse_trt(git(trt_git, "show", f"HEAD:{TRT_DOC}")),
            "stamp": {
                "source": TRT_DOC,
                "repository": "onnx/onnx-tensorrt",
                "release": branch,
                "ref": branch,
                "commit": commit,
                "date": date,
                "generated": today,
            },
        }
    return data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ort-git", type=Path, action="append", required=True)
    ap.add_argument("--trt-git", type=Path)
    ap.add_argument("--installed-cpu", action="store_true")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    start = time.perf_counter()
    data = build(args.ort_git, args.trt_git, args.installed_cpu)
    raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
    args.out.write_bytes(gzip.compress(raw, 9, mtime=0))
    took = time.perf_counter() - start
    print(
        f"{args.out}: {len(raw)} bytes of JSON, {args.out.stat().st_size} gzipped, "
        f"{len(data['kernels'])} releases, {took:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
