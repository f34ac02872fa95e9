"""A window that cannot open says why and what to install, instead of Qt's misleading abort."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from inspector.core.child import child_env
from inspector.ui.platform_check import (
    _xcb_plugin,
    debian_package,
    missing_xcb_libraries,
    window_problem,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="xcb is Linux's")


@pytest.mark.parametrize(
    ("soname", "package"),
    [
        ("libxcb-icccm.so.4", "libxcb-icccm4"),
        ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
        ("libxcb-cursor.so.0", "libxcb-cursor0"),
        ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
        ("libdbus-1.so.3", "libdbus-1-3"),
        ("libEGL.so.1", "libegl1"),
        ("libfontconfig.so.1.12.0", "libfontconfig1"),
    ],
)
def test_debian_package_names_follow_the_library_naming_rule(soname, package):
    assert debian_package(soname) == package


def test_offscreen_and_wayland_need_no_xcb_check():
    assert window_problem({"QT_QPA_PLATFORM": "offscreen"}) is None
    wayland = {"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}
    assert window_problem(wayland) is None


def test_no_display_is_said_plainly():
    problem = window_problem({"PATH": os.environ.get("PATH", "")})
    assert problem is not None and "DISPLAY" in problem and "render" in problem


def _launch(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inspector"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _xcb_env(**extra: str) -> dict[str, str]:
    env = child_env(**extra)
    for key in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
        env.pop(key, None)
    return env


def test_launch_without_a_display_exits_2_with_one_line():
    env = _xcb_env()
    env.pop("DISPLAY", None)
    r = _launch(env)
    assert r.returncode == 2
    assert "DISPLAY is not set" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_missing_xcb_libraries_are_named_with_their_packages():
    plugin = _xcb_plugin()
    if plugin is None:
        pytest.skip("this PySide6 build has no xcb plugin")
    missing = missing_xcb_libraries(plugin)
    if not missing:
        pytest.skip("every library the xcb plugin needs is installed here")
    # DISPLAY names a display that need not exist: the check comes before any connection.
    r = _launch(_xcb_env(DISPLAY=":987"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "Could not load the Qt platform plugin" not in r.stderr
    for soname in missing:
        assert soname in r.stderr and debian_package(soname) in r.stderr
    assert "apt-get install" in r.stderr
