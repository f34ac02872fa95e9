"""A corpus of hostile and broken model files, written into a folder for the robustness tests.

:func:`build_corpus` writes every case into its own folder ``ROOT/<category>/<name>/m/`` (the
model's folder); files a case must never read (bait for escaping external data) lie one level
up, outside it. Categories:

- ``structure``: spec violations that parse (cycles, undefined inputs, two writers, duplicate
  initializers/inputs, dangling outputs, recursive functions, bad raw_data, opset twice, ...);
- ``filesystem``: not a regular file (FIFO, devices, a folder, a socket, link loops), empty,
  unreadable, odd file names;
- ``external``: external-data fields that are malformed or lead out of the model's folder;
- ``utf8``: invalid UTF-8 in every kind of string field;
- ``truncated``: a small model cut at every protobuf field boundary (every byte with ``slow``);
- ``varint``: huge or overlong length prefixes and varints;
- ``nesting``: deep If/Loop nesting, deep types, long function call chains;
- ``names``: markup, control characters, path-like, empty and huge names;
- ``values``: huge, negative and zero dims, unknown types, odd attributes and opsets;
- ``big``: many nodes (the 1M-node chain only with ``slow``).

Each :class:`Case` says whether the loader must refuse the file (exit 2 from every command),
must open it, or may do either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from tests.hostile.base import Case, CaseWriter
from tests.hostile.file_cases import (
    external_cases,
    filesystem_cases,
    truncated_cases,
    utf8_cases,
    varint_cases,
)
from tests.hostile.graph_cases import (
    big_cases,
    name_cases,
    nesting_cases,
    structure_cases,
    value_cases,
)

__all__ = ["CATEGORIES", "Case", "build_corpus", "iter_sample"]


CATEGORIES: dict[str, Callable[[CaseWriter], None]] = {
    "structure": structure_cases,
    "filesystem": filesystem_cases,
    "external": external_cases,
    "utf8": utf8_cases,
    "truncated": truncated_cases,
    "varint": varint_cases,
    "nesting": nesting_cases,
    "names": name_cases,
    "values": value_cases,
    "big": big_cases,
}


def build_corpus(root: Path, slow: bool = False) -> list[Case]:
    """Write every case under ``root`` (which must be empty or absent); the slow ones too with
    ``slow`` (every byte of truncation, the 1M-node chain)."""
    cases: list[Case] = []
    for category, build in CATEGORIES.items():
        w = CaseWriter(root, category, slow)
        build(w)
        cases += w.cases
    return cases


def iter_sample(cases: list[Case], per_category: int) -> Iterator[Case]:
    """A spread of ``per_category`` cases of each category (first, last and evenly between)."""
    for category in CATEGORIES:
        of = [c for c in cases if c.category == category and not c.slow]
        if len(of) <= per_category:
            yield from of
            continue
        picks = np.linspace(0, len(of) - 1, per_category).round().astype(int)
        yield from (of[i] for i in sorted(set(picks.tolist())))
