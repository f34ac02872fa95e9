"""Install and uninstall the Linux desktop integration, with a manifest so uninstall is exact.

``install`` writes the ``.desktop`` entry, the shared-mime-info package and the icons (application
and MIME-type icons, every size in ``resources/icons`` plus the SVG), then runs
``update-mime-database``, ``update-desktop-database`` and, for a user install, ``xdg-mime default``
where they exist. It records in ``<data>/onnx-inspector/install-manifest.json`` everything it wrote
or caused to be written, and the state it found: which folders did not exist, whether the MIME and
desktop caches existed, the previous default application for the type. ``uninstall`` puts each of
those back, so a tree compared before install and after uninstall is the same.

Installing again is safe: the manifest is extended, never restarted, so it still describes the
state before the first install.

Known limitations: a ``--system`` install does not set a default application (that is each user's
choice, stored in their own ``mimeapps.list``; a type with a single handler opens in it anyway).
Icon caches are refreshed by touching the hicolor folder (what the icon theme spec asks), not by
``gtk-update-icon-cache``, which refuses folders without an ``index.theme``, as ours usually are.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from inspector import resource_path
from inspector.desktop import identity
from inspector.desktop.entries import desktop_entry, launch_command, mime_definition

Scope = Literal["user", "system"]

SYSTEM_DATA_DIR = Path("/usr/local/share")
"""Where ``--system`` installs: the FHS place for software the package manager does not own."""

MANIFEST_VERSION = 1
_DEFAULTS_GROUP = "[Default Applications]"


class DesktopInstallError(Exception):
    """Installing or uninstalling cannot proceed (e.g. no permission); the message says what to do."""


@dataclass(frozen=True)
class Locations:
    """Where one scope's files go."""

    data_dir: Path
    """``share``: applications/, mime/, icons/ live under it."""
    config_dir: Path | None
    """Where ``mimeapps.list`` is (user scope only)."""

    @property
    def manifest(self) -> Path:
        return self.data_dir / identity.APP_ID / "install-manifest.json"


def locations(scope: Scope, env: Mapping[str, str] | None = None) -> Locations:
    """The XDG Base Directory locations of ``scope``, read from ``env`` (default: os.environ)."""
    if scope == "system":
        return Locations(SYSTEM_DATA_DIR, None)
    env = os.environ if env is None else env
    home = Path(env.get("HOME") or Path.home())
    # The spec says a relative XDG_* value is invalid and must be ignored.
    data = env.get("XDG_DATA_HOME", "")
    config = env.get("XDG_CONFIG_HOME", "")
    return Locations(
        Path(data) if os.path.isabs(data) else home / ".local" / "share",
        Path(config) if os.path.isabs(config) else home / ".config",
    )


@dataclass
class Report:
    """What an install or uninstall did, for the CLI to print."""

    files: list[str] = field(default_factory=list)
    """Written (install) or removed (uninstall)."""
    ran: list[str] = field(default_factory=list)
    """Tools run, as command lines."""
    notes: list[str] = field(default_factory=list)
    """Tools missing or failing: the integration still works, with the stated gap."""

    def as_json(self) -> dict[str, Any]:
        return {"files": self.files, "ran": self.ran, "notes": self.notes}


def _payload() -> dict[str, bytes]:
    """Relative path under the data dir → content, for every file the integration consists of."""
    app, mime_icon = identity.APP_ID, identity.MIME_ICON
    files = {
        f"applications/{identity.DESKTOP_FILE}": desktop_entry(launch_command()).encode(),
        f"mime/packages/{app}.xml": mime_definition().encode(),
    }
    svg = resource_path("icon.svg").read_bytes()
    files[f"icons/hicolor/scalable/apps/{app}.svg"] = svg
    files[f"icons/hicolor/scalable/mimetypes/{mime_icon}.svg"] = svg
    for size in identity.ICON_SIZES:
        png_path = resource_path(f"icons/{identity.icon_png_name(size)}")
        if not png_path.is_file():
            raise DesktopInstallError(
                f"icon {png_path} is missing; run `python packaging/make_icons.py` in the checkout"
            )
        png = png_path.read_bytes()
        files[f"icons/hicolor/{size}x{size}/apps/{app}.png"] = png
        files[f"icons/hicolor/{size}x{size}/mimetypes/{mime_icon}.png"] = png
    return files


def _load_manifest(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise DesktopInstallError(f"cannot read {path}: {e}; remove it by hand") from e
    if data.get("version") != MANIFEST_VERSION:
        raise DesktopInstallError(f"{path} was written by another version; remove it by hand")
    return data


def _make_dirs(folder: Path, created: list[str]) -> None:
    """``mkdir -p``, recording each folder that did not exist (outermost first)."""
    missing = []
    for p in (folder, *folder.parents):
        if p.exists():
            break
        missing.append(p)
    for p in reversed(missing):
        p.mkdir()
        if str(p) not in created:
            created.append(str(p))


def _run(tool: str, args: list[str], env: Mapping[str, str], report: Report) -> bool:
    exe = shutil.which(tool, path=env.get("PATH"))
    if exe is None:
        report.notes.append(f"{tool} not found: skipped")
        return False
    cmd = [exe, *args]
    result = subprocess.run(cmd, env=dict(env), capture_output=True, text=True, check=False)
    report.ran.append(" ".join([tool, *args]))
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        report.notes.append(f"{tool} failed: {detail[-1] if detail else result.returncode}")
        return False
    return True


def _default_app(mimeapps: Path) -> str | None:
    """The value of our type's key in ``[Default Applications]`` of ``mimeapps``, if any."""
    try:
        lines = mimeapps.read_text().splitlines()
    except FileNotFoundError:
        return None
    group = ""
    for line in lines:
        if line.startswith("["):
            group = line.strip()
        elif group == _DEFAULTS_GROUP and line.startswith(f"{identity.MIME_TYPE}="):
            return line.split("=", 1)[1].strip()
    return None


def _restore_default(mimeapps: Path, previous: str | None, existed: bool, report: Report) -> None:
    """Undo ``xdg-mime default``: drop (or restore) our type's default, if it still names us."""
    if not mimeapps.exists():
        return
    out, group = [], ""
    for line in mimeapps.read_text().splitlines():
        if line.startswith("["):
            group = line.strip()
        elif group == _DEFAULTS_GROUP and line.startswith(f"{identity.MIME_TYPE}="):
            apps = [a for a in line.split("=", 1)[1].split(";") if a]
            if apps[:1] == [identity.DESKTOP_FILE]:  # the user has not chosen another app since
                if previous:
                    out.append(f"{identity.MIME_TYPE}={previous}")
                continue
        out.append(line)
    if not existed and not any("=" in line for line in out):
        mimeapps.unlink()  # xdg-mime created it for us: nothing of anyone else's is in it
    else:
        mimeapps.write_text("\n".join(out) + "\n")
    report.files.append(str(mimeapps))


def install(scope: Scope = "user", env: Mapping[str, str] | None = None) -> Report:
    """Install the desktop integration for ``scope`` (see the module docstring)."""
    env = dict(os.environ if env is None else env)
    where = locations(scope, env)
    report = Report()
    payload = _payload()
    manifest = _load_manifest(where.manifest) or {
        "version": MANIFEST_VERSION,
        "scope": scope,
        "files": [],
        "dirs": [],
        "mime_entries_before": sorted(
            p.name for p in (where.data_dir / "mime").glob("*") if p.name != "packages"
        ),
        "desktop_cache_existed": (where.data_dir / "applications" / "mimeinfo.cache").exists(),
    }
    try:
        _make_dirs(where.manifest.parent, manifest["dirs"])
        for rel, content in payload.items():
            target = where.data_dir / rel
            _make_dirs(target.parent, manifest["dirs"])
            target.write_bytes(content)
            if str(target) not in manifest["files"]:
                manifest["files"].append(str(target))
            report.files.append(str(target))
        # Written before the tools run, so a failure part-way still leaves an exact uninstall.
        where.manifest.write_text(json.dumps(manifest, indent=2) + "\n")
    except PermissionError as e:
        hint = "run it with sudo" if scope == "system" else "check the folder's permissions"
        raise DesktopInstallError(f"cannot write {e.filename}: permission denied; {hint}") from e

    _run("update-mime-database", [str(where.data_dir / "mime")], env, report)
    _run("update-desktop-database", [str(where.data_dir / "applications")], env, report)
    # Icon theme spec: a theme folder's changed mtime tells caches to look again.
    os.utime(where.data_dir / "icons" / "hicolor")
    if where.config_dir is not None:
        mimeapps = where.config_dir / "mimeapps.list"
        if "default" not in manifest:
            manifest["default"] = {
                "file": str(mimeapps),
                "existed": mimeapps.exists(),
                "previous": _default_app(mimeapps),
            }
        _make_dirs(where.config_dir, manifest["dirs"])  # before xdg-mime, which would mkdir -p
        where.manifest.write_text(json.dumps(manifest, indent=2) + "\n")
        _run("xdg-mime", ["default", identity.DESKTOP_FILE, identity.MIME_TYPE], env, report)
    return report


def uninstall(scope: Scope = "user", env: Mapping[str, str] | None = None) -> Report:
    """Remove exactly what :func:`install` wrote for ``scope``; nothing if it was not installed."""
    env = dict(os.environ if env is None else env)
    where = locations(scope, env)
    report = Report()
    manifest = _load_manifest(where.manifest)
    if manifest is None:
        return report
    try:
        for name in manifest["files"]:
            Path(name).unlink(missing_ok=True)
            report.files.append(name)
        default = manifest.get("default")
        if default:
            _restore_default(Path(default["file"]), default["previous"], default["existed"], report)
        _rebuild_mime_database(where.data_dir / "mime", manifest, env, report)
        _rebuild_desktop_database(where.data_dir / "applications", manifest, env, report)
        where.manifest.unlink()
        for name in sorted(manifest["dirs"], key=lambda d: d.count(os.sep), reverse=True):
            folder = Path(name)
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    except PermissionError as e:
        hint = "run it with sudo" if scope == "system" else "check the folder's permissions"
        raise DesktopInstallError(f"cannot remove {e.filename}: permission denied; {hint}") from e
    return report


def _rebuild_mime_database(
    mime: Path, manifest: dict[str, Any], env: Mapping[str, str], report: Report
) -> None:
    if any((mime / "packages").glob("*.xml")):
        _run("update-mime-database", [str(mime)], env, report)
        return
    # No package left: everything update-mime-database generated since install is ours to remove
    # (running it would instead leave an empty database behind).
    before = set(manifest["mime_entries_before"])
    for entry in mime.glob("*") if mime.is_dir() else ():
        if entry.name != "packages" and entry.name not in before:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def _rebuild_desktop_database(
    apps: Path, manifest: dict[str, Any], env: Mapping[str, str], report: Report
) -> None:
    cache = apps / "mimeinfo.cache"
    if not cache.exists():
        return
    if manifest["desktop_cache_existed"] or any(apps.rglob("*.desktop")):
        _run("update-desktop-database", [str(apps)], env, report)
    else:
        cache.unlink()  # update-desktop-database made it for our entry alone
