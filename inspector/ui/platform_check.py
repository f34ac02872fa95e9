"""Before the QApplication exists: can Qt open a window here? If not, say what to install.

When Qt's xcb platform plugin cannot load its system libraries, Qt prints "Could not load the Qt
platform plugin "xcb" ... reinstalling the application may fix this problem" and aborts the
process, which misleads: reinstalling fixes nothing, a few Debian packages do. So on Linux, when
the window would use xcb, the plugin's missing libraries are found first (``ldd`` on the plugin)
and named as the Debian packages that ship them.

Known limitations: the package names follow Debian's naming rule for shared-library packages
(soname ``libfoo-bar.so.4`` is shipped by ``libfoo-bar4``; a hyphen goes before the version when
the name ends in a digit); other distributions name them differently, so the message lists the
missing sonames too.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# Qt 6.5+ loads libxcb-cursor at run time (not a link-time dependency, so ldd cannot see it) and
# refuses the xcb plugin without it: "xcb-cursor0 or libxcb-cursor0 is needed".
_RUNTIME_LOADED = ("libxcb-cursor.so.0",)


def debian_package(soname: str) -> str:
    """The Debian package that ships ``soname``, by Debian's library-package naming rule.

    ``libxcb-icccm.so.4`` → ``libxcb-icccm4``; ``libdbus-1.so.3`` → ``libdbus-1-3``;
    ``libEGL.so.1`` → ``libegl1``.
    """
    m = re.fullmatch(r"(.+)\.so\.(\d+)(?:\.\d+)*", soname)
    if not m:
        return soname.lower()
    name, version = m.group(1).lower(), m.group(2)
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


def _uses_xcb(env: dict[str, str]) -> bool:
    platform = env.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(":", 1)[0].split(";", 1)[0] == "xcb"
    # Qt picks Wayland on a Wayland session, xcb otherwise.
    return not (env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE") == "wayland")


def missing_xcb_libraries(plugin: Path) -> list[str]:
    """The sonames the xcb platform plugin at ``plugin`` needs and the system lacks."""
    missing: list[str] = []
    if shutil.which("ldd"):
        out = subprocess.run(
            ["ldd", str(plugin)], capture_output=True, text=True, errors="replace", check=False
        ).stdout
        for line in out.splitlines():
            m = re.match(r"\s*(\S+) => not found", line)
            if m and m.group(1) not in missing:
                missing.append(m.group(1))
    for soname in _RUNTIME_LOADED:
        try:
            ctypes.CDLL(soname)
        except OSError:
            missing.append(soname)
    return missing


def _xcb_plugin() -> Path | None:
    import PySide6  # the package only: no Qt library or plugin is loaded by this import

    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def window_problem(env: dict[str, str] | None = None) -> str | None:
    """Why no window can open here, with what to do; None when nothing stands in the way."""
    env = dict(os.environ) if env is None else env
    if not sys.platform.startswith("linux") or not _uses_xcb(env):
        return None
    if not env.get("DISPLAY"):
        return (
            "no display to open the window on (DISPLAY is not set); run it in a desktop "
            "session, under Xvfb (xvfb-run onnx-inspector), or use the command line "
            "(onnx-inspector --help; `render` draws the graph to a file)"
        )
    plugin = _xcb_plugin()
    if plugin is None:
        return None
    missing = missing_xcb_libraries(plugin)
    if not missing:
        return None
    packages = " ".join(dict.fromkeys(debian_package(s) for s in missing))
    return (
        f"Qt cannot open a window: its xcb platform plugin needs {', '.join(missing)}, which "
        f"this system lacks; on Debian or Ubuntu: sudo apt-get install {packages}"
    )
