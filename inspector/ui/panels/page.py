"""Rich-text pages for the panels: compact HTML tables styled from the widget's palette.

A :class:`Page` collects HTML and the links on it. Links are ``inspector:N`` anchors whose targets
are kept in the page (any tensor name works, however odd its characters), so a click is looked
up, never parsed. Qt's rich text shows a ``title`` attribute as a tooltip.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from PySide6.QtGui import QColor, QFontDatabase, QFontInfo, QPalette

from inspector.core.findings import Severity
from inspector.ui.theme import severity_colour

LINK_SCHEME = "inspector"


class FindingLike(Protocol):
    """What the panels read of :class:`inspector.core.findings.Finding`."""

    @property
    def severity(self) -> object: ...  # an enum whose .value is "error" | "warning" | "info"
    @property
    def code(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def hint(self) -> str: ...


@dataclass(frozen=True)
class Link:
    kind: str  # "node" | "value" | "graph"
    target: object  # node index, tensor name, or graph path


def esc(text: object) -> str:
    """Text made safe to put in HTML."""
    return html.escape(str(text), quote=True)


class Page:
    """HTML being built for one view of a panel, and the targets of its links."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self.links: list[Link] = []

    def html(self) -> str:
        return "".join(self._parts)

    def add(self, raw_html: str) -> None:
        self._parts.append(raw_html)

    def link(self, text: str, kind: str, target: object, tip: str = "") -> str:
        """An anchor (HTML) that, clicked, asks for ``target``; ``text`` is escaped here."""
        self.links.append(Link(kind, target))
        title = f' title="{esc(tip)}"' if tip else ""
        return f'<a href="{LINK_SCHEME}:{len(self.links) - 1}"{title}>{esc(text)}</a>'

    def target(self, href: str) -> Link | None:
        """The link an ``inspector:N`` anchor stands for (None for anything else)."""
        scheme, _, number = href.partition(":")
        if scheme != LINK_SCHEME or not number.isdigit() or int(number) >= len(self.links):
            return None
        return self.links[int(number)]

    def heading(self, title: str, subtitle: str = "") -> None:
        sub = f' <span class="muted">{esc(subtitle)}</span>' if subtitle else ""
        self.add(f'<p class="title">{esc(title)}{sub}</p>')

    def section(self, title: str, count: int | None = None) -> None:
        n = f' <span class="muted">({count})</span>' if count is not None else ""
        self.add(f'<p class="section">{esc(title.upper())}{n}</p>')

    def paragraph(self, raw_html: str, cls: str = "") -> None:
        self.add(f'<p class="{cls}">{raw_html}</p>' if cls else f"<p>{raw_html}</p>")

    def key_values(self, rows: Iterable[tuple[str, str]]) -> None:
        """A two-column table: a muted key (plain text) and a value (HTML)."""
        body = "".join(f'<tr><td class="key">{esc(k)}</td><td>{v}</td></tr>' for k, v in rows)
        self.add(f'<table class="kv" cellspacing="0" cellpadding="1">{body}</table>')

    def table(
        self,
        header: Sequence[str],
        rows: Iterable[Sequence[str]],
        more: int = 0,
        full_width: bool = True,
    ) -> None:
        """A table with a header row (plain text) and cells (HTML); ``more`` rows left out;
        ``full_width``: as wide as the panel, else as wide as its content."""
        head = "".join(f"<th>{esc(h)}</th>" for h in header)
        body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
        if more:
            body += f'<tr><td class="muted" colspan="{len(header)}">… and {more:,} more</td></tr>'
        width = ' width="100%"' if full_width else ""
        self.add(
            f'<table class="grid" cellspacing="0" cellpadding="2"{width}>'
            f"<tr>{head}</tr>{body}</table>"
        )

    def findings(self, findings: Sequence[FindingLike]) -> None:
        """Problems first: a severity badge, the code, the message and the hint."""
        if not findings:
            return
        self.section("Problems", len(findings))
        rows = []
        for f in findings:
            sev = str(getattr(f.severity, "value", f.severity))
            hint = f'<br><span class="muted">{esc(f.hint)}</span>' if f.hint else ""
            rows.append(
                f'<tr><td class="sev {esc(sev)}">{esc(sev.upper())}</td>'
                f'<td><span class="code">{esc(f.code)}</span> {esc(f.message)}{hint}</td></tr>'
            )
        self.add(f'<table class="kv" cellspacing="0" cellpadding="1">{"".join(rows)}</table>')


def mono(text: str) -> str:
    """Escaped text in the fixed-width font (shapes, values)."""
    return f'<span class="mono">{esc(text)}</span>'


def muted(text: str) -> str:
    return f'<span class="muted">{esc(text)}</span>'


def _mix(a: QColor, b: QColor, t: float) -> str:
    """``a`` blended towards ``b`` by ``t`` (0..1), as ``#rrggbb``."""
    return QColor(
        round(a.red() + (b.red() - a.red()) * t),
        round(a.green() + (b.green() - a.green()) * t),
        round(a.blue() + (b.blue() - a.blue()) * t),
    ).name()


def fixed_family() -> str:
    """The family the system's fixed-width font resolves to ("DejaVu Sans Mono"), not its alias
    ("monospace"), so the pages name a real font."""
    return QFontInfo(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)).family()


def style_sheet(palette: QPalette) -> str:
    """The CSS of every page, from ``palette`` (so light and dark themes both read well)."""
    text = palette.color(QPalette.ColorRole.Text)
    base = palette.color(QPalette.ColorRole.Base)
    link = palette.color(QPalette.ColorRole.Link)
    dark = base.lightness() < 128
    error, warning = (severity_colour(s, dark) for s in (Severity.ERROR, Severity.WARNING))
    fixed = fixed_family()
    return f"""
        p {{ margin-top: 2px; margin-bottom: 2px; }}
        a {{ color: {link.name()}; text-decoration: none; }}
        .title {{ font-size: large; font-weight: 600; margin-top: 0; }}
        .section {{ font-size: small; font-weight: 600; color: {_mix(text, base, 0.45)};
                    margin-top: 10px; margin-bottom: 2px; }}
        .muted {{ color: {_mix(text, base, 0.45)}; }}
        .small {{ font-size: small; }}
        .mono {{ font-family: '{fixed}', monospace; }}
        .code {{ font-weight: 600; }}
        .differs {{ color: {warning}; }}
        table.kv td.key {{ color: {_mix(text, base, 0.45)}; padding-right: 10px; }}
        table.grid th {{ background-color: {_mix(base, text, 0.08)}; font-weight: 600;
                         text-align: left; font-size: small; }}
        td {{ vertical-align: top; }}
        td.sev {{ font-weight: 600; font-size: small; padding-right: 6px; }}
        td.error {{ color: {error}; }}
        td.warning {{ color: {warning}; }}
        td.info {{ color: {link.name()}; }}
    """
