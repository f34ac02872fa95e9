"""Linux desktop integration: `install-desktop --user` into a temporary XDG home, checked with the
freedesktop tools themselves, and `uninstall-desktop` leaving the home exactly as it was."""

from __future__ import annotations

import ast
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

import inspector
from inspector.desktop import identity
from inspector.desktop.entries import desktop_entry, mime_definition, quote_exec_arg
from inspector.desktop.install import install, uninstall
from tests.bad_models import small_model

ROOT = Path(inspector.__file__).resolve().parent.parent
TOOLS = ("desktop-file-validate", "xdg-mime", "update-mime-database", "mimetype")
MISSING = [t for t in TOOLS if shutil.which(t) is None]
needs_tools = pytest.mark.skipif(
    bool(MISSING),
    reason=f"{', '.join(MISSING)} not installed (apt-get install desktop-file-utils xdg-utils "
    "shared-mime-info libfile-mimeinfo-perl; .ci/run does)",
)
# Variables that make xdg-mime use a desktop's own tools (gio, kde) instead of the XDG files.
_DESKTOP_VARS = ("XDG_CURRENT_DESKTOP", "DESKTOP_SESSION", "KDE_FULL_SESSION", "GNOME_DESKTOP_SESSION_ID", "KDE_SESSION_VERSION", "XDG_SESSION_DESKTOP", "MATE_DESKTOP_SESSION_ID")  # fmt: skip


def xdg_env(home: Path) -> dict[str, str]:
    """The environment of a user whose home (and XDG data and config) is ``home``."""
    env = {k: v for k, v in os.environ.items() if k not in _DESKTOP_VARS}
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CONFIG_HOME=str(home / ".config"),
        PYTHONPATH=str(ROOT),  # a source checkout's `inspector` for `-m inspector`
    )
    return env


def tree(root: Path) -> dict[str, str]:
    """Every path under ``root`` → a digest of its content ("dir" for folders)."""
    return {
        str(p.relative_to(root)): "dir"
        if p.is_dir()
        else hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
    }


def exec_argv(exec_value: str, files: list[str]) -> list[str]:
    """The command an XDG launcher runs for a desktop entry's ``Exec`` value and ``files``.

    Desktop Entry Specification: string escapes first (``\\\\`` → ``\\``), then arguments split
    on spaces with double-quoted arguments unescaped, ``%F`` → the files, ``%%`` → ``%``.
    """
    value = exec_value.replace("\\\\", "\x00").replace("\\s", " ").replace("\x00", "\\")
    args, current, quoted, i, started = [], "", False, 0, False
    while i < len(value):
        c = value[i]
        if quoted and c == "\\" and i + 1 < len(value):
            current, i = current + value[i + 1], i + 2
            continue
        if c == '"':
            quoted, started = not quoted, True
        elif c == " " and not quoted:
            if started:
                args.append(current)
            current, started = "", False
        else:
            current, started = current + c, True
        i += 1
    if started:
        args.append(current)
    out: list[str] = []
    for a in args:
        if a == "%F":
            out.extend(files)
        else:
            out.append(a.replace("%%", "%"))
    return out


def desktop_key(text: str, key: str) -> str:
    return next(line.split("=", 1)[1] for line in text.splitlines() if line.startswith(f"{key}="))


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "inspector", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_desktop_package_imports_no_qt():
    for path in (ROOT / "inspector" / "desktop").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not [n for n in names if n.startswith(("PySide6", "inspector.ui"))], path


def test_exec_arguments_survive_quoting():
    """Paths with spaces, quotes, $, %, backslashes come back intact from the Exec line."""
    command = ["/opt/my apps/py$thon", "-m", 'in"spector', "100%", "a\\b", "plain"]
    entry = desktop_entry(command)
    assert exec_argv(desktop_key(entry, "Exec"), ["/m/x y.onnx"]) == [*command, "/m/x y.onnx"]
    assert quote_exec_arg("/usr/bin/python3") == "/usr/bin/python3"


def test_mime_definition_is_glob_only_xml():
    import xml.etree.ElementTree as ET

    ns = "{http://www.freedesktop.org/standards/shared-mime-info}"
    mime_type = ET.fromstring(mime_definition()).find(f"{ns}mime-type")
    assert mime_type is not None and mime_type.get("type") == identity.MIME_TYPE
    assert [g.get("pattern") for g in mime_type.findall(f"{ns}glob")] == ["*.onnx"]
    assert mime_type.find(f"{ns}magic") is None


def test_install_without_tools_writes_files_and_uninstall_removes_them(tmp_path):
    """With none of the freedesktop tools on PATH: files installed, gaps reported, undone."""
    home = tmp_path / "home"
    home.mkdir()
    env = {**xdg_env(home), "PATH": str(tmp_path / "empty")}
    before = tree(home)
    report = install("user", env)
    data = home / ".local" / "share"
    assert (data / "applications" / identity.DESKTOP_FILE).is_file()
    assert (data / "mime" / "packages" / f"{identity.APP_ID}.xml").is_file()
    for size in identity.ICON_SIZES:
        png = data / f"icons/hicolor/{size}x{size}/apps/{identity.APP_ID}.png"
        assert png.read_bytes()[16:24] == size.to_bytes(4, "big") * 2  # PNG IHDR width, height
    assert report.ran == [] and any("xdg-mime not found" in n for n in report.notes)
    uninstall("user", env)
    assert tree(home) == before


def test_uninstall_when_not_installed_does_nothing(tmp_path):
    r = run_cli(xdg_env(tmp_path), "uninstall-desktop")
    assert r.returncode == 0, r.stderr
    assert "nothing to uninstall" in r.stdout
    assert list(tmp_path.iterdir()) == []


@needs_tools
def test_install_desktop_user_is_valid_and_default_and_uninstall_restores(tmp_path):
    """Acceptance 1: validated entry, default for the type, .onnx detected, exact uninstall."""
    home = tmp_path / "home"
    config = home / ".config"
    config.mkdir(parents=True)
    # Someone else's settings, which install must keep and uninstall must give back unchanged.
    mimeapps = "[Default Applications]\ntext/plain=org.gnome.TextEditor.desktop\n"
    (config / "mimeapps.list").write_text(mimeapps)
    model = home / "models" / "tiny model.onnx"
    model.parent.mkdir()
    onnx.save(small_model(), model)
    env = xdg_env(home)
    before = tree(home)

    r = run_cli(env, "install-desktop", "--user")
    assert r.returncode == 0, r.stderr
    entry = home / ".local/share/applications" / identity.DESKTOP_FILE
    v = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
    assert v.returncode == 0 and v.stdout == "" and v.stderr == "", v.stdout + v.stderr

    def xdg_mime(*args: str) -> str:
        out = subprocess.run(["xdg-mime", *args], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    assert xdg_mime("query", "default", identity.MIME_TYPE) == identity.DESKTOP_FILE
    assert xdg_mime("query", "filetype", str(model)) == identity.MIME_TYPE
    assert "text/plain=org.gnome.TextEditor.desktop" in (config / "mimeapps.list").read_text()

    # idempotent: a second install changes nothing and uninstall still restores the start
    installed = tree(home)
    assert run_cli(env, "install-desktop").returncode == 0
    assert tree(home) == installed

    r = run_cli(env, "uninstall-desktop", "--user")
    assert r.returncode == 0, r.stderr
    assert tree(home) == before
    assert (config / "mimeapps.list").read_text() == mimeapps


@needs_tools
def test_uninstall_gives_the_type_back_to_its_previous_default(tmp_path):
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    mimeapps = home / ".config" / "mimeapps.list"
    mimeapps.write_text(f"[Default Applications]\n{identity.MIME_TYPE}=netron.desktop\n")
    env = xdg_env(home)
    before = tree(home)
    install("user", env)
    assert f"{identity.MIME_TYPE}={identity.DESKTOP_FILE}" in mimeapps.read_text()
    uninstall("user", env)
    assert tree(home) == before
