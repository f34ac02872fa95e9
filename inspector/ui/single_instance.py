"""One window per user: a second launch hands its files to the running one over a local socket.

Double-clicking a model while ONNX Inspector runs starts a new process; :func:`claim` connects it to
the running instance's :class:`InstanceServer`, sends the files and lets it exit, and the running
window opens them in new tabs and comes to the front. When nobody answers, the new process becomes
the server. A socket file left by a crashed instance refuses connections, so it is recognised as
stale, removed and replaced. A lock file makes "connect, else listen" atomic, so two launches at
once cannot both become servers.

Protocol: UTF-8 JSON, one object per line each way; every request gets one reply.

* ``{"request": "open", "files": ["/abs/a.onnx", ...]}`` → ``{"ok": true}``: open each file in a
  new tab (an empty list just raises the window).
* ``{"request": "status"}`` → ``{"ok": true, "pid": 1234, "documents": ["/abs/a.onnx", ...]}``:
  who is serving and what it has open (``--new-window`` asks it to know whether one is alive).
* anything else → ``{"ok": false, "error": "..."}``.

The socket is per user (``UserAccessOption``) and per login session where ``XDG_RUNTIME_DIR``
exists (its files vanish at logout); elsewhere it is a per-user name in the temporary folder (Unix)
or a per-user named pipe (Windows, where a dead process's pipe disappears with it).
"""

from __future__ import annotations

import enum
import getpass
import json
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDir, QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QApplication, QWidget

from inspector.desktop.identity import APP_ID

CONNECT_TIMEOUT_MS = 1000
REPLY_TIMEOUT_MS = 5000
"""A running instance answers from its event loop; one that has not in 5 s is treated as hung."""
LOCK_TIMEOUT_MS = 5000
MAX_REQUEST_BYTES = 1 << 20
_MAX_SOCKET_PATH = 100  # sockaddr_un holds 104–108 bytes depending on the system


def server_name() -> str:
    """This user's (and, on Linux, this login session's) socket name."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if sys.platform.startswith("linux") and os.path.isabs(runtime) and os.path.isdir(runtime):
        path = os.path.join(runtime, f"{APP_ID}.sock")
        if len(path.encode()) <= _MAX_SOCKET_PATH:
            return path
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers): the uid is as unique
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    return f"{APP_ID}-{re.sub(r'[^A-Za-z0-9_.-]', '_', user)}"


def _lock_path(name: str) -> str:
    folder = os.path.dirname(name) if os.path.isabs(name) else QDir.tempPath()
    return os.path.join(folder, f"{os.path.basename(name)}.lock")


class HandoffTimeout(Exception):
    """A server accepted the connection but did not answer in time (it is hung or busy)."""


def send_request(name: str, request: dict[str, Any]) -> dict[str, Any] | None:
    """Send one request to the server ``name`` and return its reply; None when nobody listens."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(CONNECT_TIMEOUT_MS):
        return None  # no socket, or a stale one (connection refused)
    try:
        socket.write(json.dumps(request).encode() + b"\n")
        socket.flush()
        data = b""
        while not data.endswith(b"\n"):
            if not socket.waitForReadyRead(REPLY_TIMEOUT_MS):
                raise HandoffTimeout(f"no answer from {name}")
            data += bytes(socket.readAll().data())
        return json.loads(data)
    finally:
        socket.disconnectFromServer()


class InstanceServer(QObject):
    """The running instance's end: answers requests, announces files to open."""

    files_received = Signal(list)  # list[str], absolute paths, maybe empty: open them and raise

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.server = QLocalServer(self)
        # Only this user may connect: another user must not make our window open files.
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._accept)
        self._documents: Callable[[], list[str]] = list

    def listen(self, name: str) -> bool:
        """Serve on ``name``, replacing a stale socket file a crashed instance left behind.

        Only call this after a connection to ``name`` failed (as :func:`claim` does, under the
        lock): removing a live server's socket file would orphan that instance.
        """
        QLocalServer.removeServer(name)
        return self.server.listen(name)

    def set_documents_source(self, documents: Callable[[], list[str]]) -> None:
        """Where ``status`` replies get the open documents from (the window's session)."""
        self._documents = documents

    def close(self) -> None:
        """Stop serving and delete this object once the event loop gets to it.

        Deleted from the event loop, not directly: a client socket that has just disconnected has
        a deletion pending, and destroying its parent first crashes PySide 6.11.
        """
        self.server.close()
        self.deleteLater()

    def _accept(self) -> None:
        while (socket := self.server.nextPendingConnection()) is not None:
            _Connection(socket, self._answer)

    def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
        except ValueError:
            return {"ok": False, "error": "not JSON"}
        kind = request.get("request") if isinstance(request, dict) else None
        if kind == "open":
            files = request.get("files", [])
            if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
                return {"ok": False, "error": "files must be a list of paths"}
            self.files_received.emit(files)
            return {"ok": True}
        if kind == "status":
            return {"ok": True, "pid": os.getpid(), "documents": self._documents()}
        return {"ok": False, "error": f"unknown request {kind!r}"}


class _Connection(QObject):
    """One client's buffer and request loop; a child of its socket, so it goes when that does."""

    def __init__(self, socket: QLocalSocket, answer: Callable[[bytes], dict[str, Any]]) -> None:
        super().__init__(socket)
        self.socket = socket
        self.answer = answer
        self.buffer = bytearray()
        socket.readyRead.connect(self._read)
        socket.disconnected.connect(self._closed)

    def _closed(self) -> None:
        self.socket.deleteLater()

    def _read(self) -> None:
        self.buffer += bytes(self.socket.readAll().data())
        if len(self.buffer) > MAX_REQUEST_BYTES:
            self.socket.abort()
            return
        while b"\n" in self.buffer:
            line, _, rest = bytes(self.buffer).partition(b"\n")
            self.buffer[:] = rest
            self.socket.write(json.dumps(self.answer(line)).encode() + b"\n")
            self.socket.flush()


class Outcome(enum.Enum):
    SERVING = "serving"
    """No instance was running: this process is the server now."""
    HANDED_OFF = "handed off"
    """A running instance took the files: this process should exit."""
    ALONE = "alone"
    """This process runs its own window without serving (``--new-window``, or a hung server)."""


@dataclass
class Claim:
    outcome: Outcome
    server: InstanceServer | None = None


def claim(
    files: list[str],
    *,
    hand_off: bool = True,
    name: str | None = None,
    parent: QObject | None = None,
) -> Claim:
    """Hand ``files`` to a running instance, or become the instance that others hand files to.

    ``hand_off=False`` (``--new-window``) never gives files away; it still serves when no live
    instance does, so later launches have a window to go to. A server is made a child of
    ``parent`` (the application), so Qt, not Python's garbage collector, decides when it goes.
    """
    name = name or server_name()
    lock = QLockFile(_lock_path(name))
    # A lock held by a killed process is stale (its pid is gone) and QLockFile takes it over; if
    # it still cannot be had, going on unlocked only risks the race the lock prevents.
    locked = lock.tryLock(LOCK_TIMEOUT_MS)
    try:
        request = {"request": "open", "files": files} if hand_off else {"request": "status"}
        try:
            reply = send_request(name, request)
        except HandoffTimeout:
            return Claim(Outcome.ALONE)  # alive but unresponsive: leave its socket alone
        if reply is not None and reply.get("ok"):
            return Claim(Outcome.HANDED_OFF if hand_off else Outcome.ALONE)
        server = InstanceServer(parent)
        if server.listen(name):
            return Claim(Outcome.SERVING, server)
        server.close()
        return Claim(Outcome.ALONE)
    finally:
        if locked:
            lock.unlock()


def absolute_paths(files: list[str]) -> list[str]:
    """``files`` as absolute paths: the receiving instance has another working directory."""
    return [str(Path(f).absolute()) for f in files]


def raise_window(window: QWidget) -> None:
    """Bring ``window`` to the front, un-minimised.

    Window managers with focus-stealing prevention may refuse; ``alert`` then flashes the taskbar
    entry instead, so the user still sees where the files went.
    """
    if window.isMinimized():
        window.showNormal()
    window.show()
    window.raise_()
    window.activateWindow()
    QApplication.alert(window)
