"""Single instance: launches through the installed desktop entry's Exec line hand their files to
the running process; a socket left by a killed instance is replaced; the wire protocol itself.

Instances run as child processes (offscreen) in a private XDG home and runtime folder; the test
asks them what they have open through the socket's ``status`` request, as any client could.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

import onnx
import pytest

from inspector.desktop import identity
from inspector.desktop.install import install
from inspector.ui.single_instance import InstanceServer, Outcome, claim
from tests.bad_models import small_model
from tests.core.test_desktop import desktop_key, exec_argv, xdg_env

START_TIMEOUT_MS = 60000


class Instances:
    """Launches through the desktop entry in one private session; kills them all at the end."""

    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.home.mkdir()
        # sockaddr_un paths are short (~100 bytes): pytest's tmp_path can be too long for one.
        self.runtime = Path(tempfile.mkdtemp(prefix="oi-"))
        self.socket = str(self.runtime / f"{identity.APP_ID}.sock")
        self.env = {**xdg_env(self.home), "XDG_RUNTIME_DIR": str(self.runtime)}
        self.env["QT_QPA_PLATFORM"] = "offscreen"
        install("user", self.env)
        entry = self.home / ".local/share/applications" / identity.DESKTOP_FILE
        self.exec_value = desktop_key(entry.read_text(), "Exec")
        self.processes: list[subprocess.Popen] = []

    def model(self, name: str) -> str:
        path = self.home / name
        onnx.save(small_model(), path)
        return str(path)

    def launch(self, *files: str) -> subprocess.Popen:
        log = open(self.home / f"launch{len(self.processes)}.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(
            exec_argv(self.exec_value, list(files)),
            env=self.env,
            cwd=self.home,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.processes.append(proc)
        return proc

    def status(self) -> dict | None:
        """The serving instance's answer to ``status``, or None when none answers."""
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(5)
                s.connect(self.socket)
                s.sendall(b'{"request": "status"}\n')
                data = b""
                while not data.endswith(b"\n"):
                    chunk = s.recv(65536)
                    if not chunk:
                        return None
                    data += chunk
                return json.loads(data)
        except OSError:
            return None

    def close(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
        shutil.rmtree(self.runtime, ignore_errors=True)


@pytest.fixture
def instances(tmp_path):
    session = Instances(tmp_path)
    yield session
    session.close()
    assert all(p.poll() is not None for p in session.processes)


def wait_for_documents(qtbot, instances: Instances, pid: int, documents: list[str]) -> None:
    def serving() -> bool:
        status = instances.status()
        return status is not None and status["pid"] == pid and status["documents"] == documents

    qtbot.waitUntil(serving, timeout=START_TIMEOUT_MS)


def test_second_launch_adds_a_tab_to_the_running_instance(qtbot, instances):
    """Acceptance 2: the Exec line opens the model; a second launch's model joins that window."""
    first_model, second_model = instances.model("first.onnx"), instances.model("second.onnx")
    first = instances.launch(first_model)
    wait_for_documents(qtbot, instances, first.pid, [first_model])

    second = instances.launch(second_model)
    assert second.wait(START_TIMEOUT_MS / 1000) == 0  # it handed the file over and left
    wait_for_documents(qtbot, instances, first.pid, [first_model, second_model])
    assert first.poll() is None


def test_new_window_does_not_hand_files_over(qtbot, instances):
    first_model = instances.model("first.onnx")
    first = instances.launch(first_model)
    wait_for_documents(qtbot, instances, first.pid, [first_model])
    # What `--new-window` asks: is someone serving? It is, so this launch runs alone.
    result = claim([instances.model("other.onnx")], hand_off=False, name=instances.socket)
    assert result.outcome is Outcome.ALONE and result.server is None
    assert instances.status()["documents"] == [first_model]


def test_killed_instance_leaves_a_stale_socket_that_the_next_launch_replaces(qtbot, instances):
    """Acceptance 4: SIGKILL the instance; the next launch serves cleanly and takes hand-offs."""
    first_model, second_model = instances.model("first.onnx"), instances.model("second.onnx")
    first = instances.launch(first_model)
    wait_for_documents(qtbot, instances, first.pid, [first_model])
    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    assert os.path.exists(instances.socket)  # stale: the file stays, nobody accepts
    assert instances.status() is None

    second = instances.launch(second_model)
    wait_for_documents(qtbot, instances, second.pid, [second_model])
    third = instances.launch(first_model)
    assert third.wait(START_TIMEOUT_MS / 1000) == 0
    wait_for_documents(qtbot, instances, second.pid, [second_model, first_model])


def test_claim_replaces_a_stale_socket_file(qtbot):
    runtime = Path(tempfile.mkdtemp(prefix="oi-"))
    try:
        name = str(runtime / "stale.sock")
        with socket.socket(socket.AF_UNIX) as s:  # bound, then closed: what a crash leaves
            s.bind(name)
        result = claim(["/m/a.onnx"], name=name)
        assert result.outcome is Outcome.SERVING
        result.server.close()
    finally:
        shutil.rmtree(runtime)


def test_protocol_answers_each_request(qtbot):
    """Requests as JSON lines: open (announced by a signal), status, and errors for the rest."""
    runtime = Path(tempfile.mkdtemp(prefix="oi-"))
    server = InstanceServer()
    server.set_documents_source(lambda: ["/m/a.onnx"])
    try:
        name = str(runtime / "proto.sock")
        assert server.listen(name)
        client = socket.socket(socket.AF_UNIX)
        client.connect(name)
        client.setblocking(False)
        replies = bytearray()

        def read_replies(count: int) -> bool:
            with contextlib.suppress(BlockingIOError):
                replies.extend(client.recv(65536))
            return replies.count(b"\n") >= count

        with qtbot.waitSignal(server.files_received, timeout=5000) as opened:
            client.sendall(b'{"request": "open", "files": ["/m/b.onnx"]}\n{"request": "status"}\n')
            qtbot.waitUntil(lambda: read_replies(2), timeout=5000)
        assert opened.args == [["/m/b.onnx"]]
        client.sendall(b'not json\n{"request": "open", "files": "x"}\n{"request": "nap"}\n')
        qtbot.waitUntil(lambda: read_replies(5), timeout=5000)
        client.close()
        answers = [json.loads(line) for line in bytes(replies).splitlines()]
        assert answers[0] == {"ok": True}
        assert answers[1] == {"ok": True, "pid": os.getpid(), "documents": ["/m/a.onnx"]}
        assert [a["ok"] for a in answers[2:]] == [False, False, False]
    finally:
        server.close()
        shutil.rmtree(runtime)
