"""What every panel that shows one of the session's documents shares: which one it shows, and
following the session's signals (which carry document ids) for it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inspector.ui.session import Document, Session


class FollowsDocument:
    """Mixed into a panel (after its Qt base) that has ``session`` and ``set_document(doc_id)``.

    Connect a session signal about a document to :meth:`_document_changed` to redraw when it names
    the shown document, and ``document_closed`` to :meth:`_document_closed` to empty the panel."""

    session: Session
    doc_id: int | None = None
    set_document: Callable[[int | None], None]  # each panel's own: show this document or none

    @property
    def document(self) -> Document | None:
        """The shown document (None: none shown)."""
        return self.session.documents.get(self.doc_id) if self.doc_id is not None else None

    def _document_changed(self, doc_id: int) -> None:
        if doc_id == self.doc_id:
            self.set_document(doc_id)

    def _document_closed(self, doc_id: int) -> None:
        if doc_id == self.doc_id:
            self.set_document(None)
