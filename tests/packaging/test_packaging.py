"""Windows and macOS packaging, checked where it can be on Linux: the Inno Setup script, the
PyInstaller specs, the Info.plist, the icons, and the build scripts' dry runs."""

from __future__ import annotations

import ast
import importlib.util
import plistlib
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import inspector
from inspector.desktop import identity

ROOT = Path(inspector.__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
ICONS = ROOT / "resources" / "icons"


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def iss_sections(text: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(";"):
            continue
        if re.fullmatch(r"\[\w+\]", line):
            current = line[1:-1]
            sections[current] = []
        elif current:
            sections[current].append(line)
    return sections


def test_inno_setup_script_registers_the_onnx_association():
    text = (PACKAGING / "windows" / "onnx-inspector.iss").read_text()
    defines = dict(re.findall(r'^#define (\w+) "(.*)"$', text, re.M))
    assert defines["AppName"] == identity.APP_NAME
    assert defines["AppExe"] == f"{identity.APP_ID}.exe"
    assert defines["ProgId"] == identity.WINDOWS_PROGID
    s = iss_sections(text)
    setup = dict(line.split("=", 1) for line in s["Setup"])
    assert setup["ChangesAssociations"] == "yes"
    assert setup["UninstallDisplayIcon"] == r"{app}\{#AppExe}"
    assert setup["AppId"].startswith("{{")
    registry = "\n".join(s["Registry"])
    prog = r"Software\Classes\{#ProgId}"
    assert (
        f'Subkey: "{prog}"; ValueType: string; ValueName: ""; ValueData: "ONNX model"' in registry
    )
    assert f'"{prog}\\DefaultIcon"' in registry
    assert f'"{prog}\\shell\\open\\command"' in registry and '""%1""' in registry
    assert r'Subkey: "Software\Classes\.onnx\OpenWithProgids"; ValueType: string; ValueName: "{#ProgId}"' in registry  # fmt: skip
    assert r'Subkey: "Software\Classes\.onnx"; ValueType: string; ValueName: ""; ValueData: "{#ProgId}"' in registry  # fmt: skip
    assert f'ValueData: "{identity.MIME_TYPE}"' in registry
    # everything it writes goes again on uninstall
    for line in s["Registry"]:
        if "SupportedTypes" not in line and "shell\\open\\command" not in line:
            assert "uninsdelete" in line or "DefaultIcon" in line, line
    icons = "\n".join(s["Icons"])
    assert r'"{group}\{#AppName}"; Filename: "{app}\{#AppExe}"' in icons
    assert '"{uninstallexe}"' in icons
    assert 'Source: "{#DistDir}\\*"' in s["Files"][0]


def test_windows_spec_builds_a_windowed_one_folder_app():
    spec = (PACKAGING / "windows" / "onnx-inspector.spec").read_text()
    tree = ast.parse(spec)
    calls = {n.func.id: n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}  # fmt: skip
    assert {"Analysis", "PYZ", "EXE", "COLLECT"} <= set(calls)
    exe = {k.arg: ast.unparse(k.value) for k in calls["EXE"].keywords}
    assert exe["console"] == "False" and exe["exclude_binaries"] == "True"  # one folder
    assert ".ico" in exe["icon"]
    sys.path.insert(0, str(PACKAGING))
    try:
        common = load(PACKAGING / "pyinstaller_common.py")
    finally:
        sys.path.remove(str(PACKAGING))
    options = common.analysis_options()
    assert Path(options["scripts"][0]) == ROOT / "inspector" / "__main__.py"
    assert options["datas"] == [(str(ROOT / "resources"), "resources")]
    assert "torch" in options["excludes"]


def test_info_plist_declares_the_onnx_document_type_and_uti():
    info = load(PACKAGING / "macos" / "info_plist.py").info_plist("1.2.3")
    plist = plistlib.loads(plistlib.dumps(info))  # it serialises, and survives the round trip
    assert plist["CFBundleIdentifier"] == identity.MACOS_BUNDLE_ID
    assert plist["CFBundleShortVersionString"] == "1.2.3"
    assert (ICONS / plist["CFBundleIconFile"]).is_file()
    (doc,) = plist["CFBundleDocumentTypes"]
    assert doc["LSItemContentTypes"] == [identity.MACOS_UTI]
    assert doc["CFBundleTypeRole"] == "Viewer"
    (uti,) = plist["UTImportedTypeDeclarations"]
    assert uti["UTTypeIdentifier"] == identity.MACOS_UTI
    assert uti["UTTypeConformsTo"] == ["public.data"]
    assert uti["UTTypeTagSpecification"] == {
        "public.filename-extension": ["onnx"],
        "public.mime-type": [identity.MIME_TYPE],
    }
    spec = (PACKAGING / "macos" / "onnx-inspector.spec").read_text()
    assert "argv_emulation=False" in spec and "info_plist=info_plist(VERSION)" in spec
    ast.parse(spec)


@pytest.mark.parametrize("platform", ["windows", "macos"])
def test_build_script_dry_run_prints_its_commands(platform):
    r = subprocess.run(
        [sys.executable, str(PACKAGING / platform / "build.py"), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "PyInstaller" in lines[0] and f"{platform}/onnx-inspector.spec" in lines[0].replace("\\", "/")  # fmt: skip
    assert ("/DAppVersion=" in lines[1]) if platform == "windows" else ("hdiutil" in lines[1])


def test_icons_have_every_size():
    for size in identity.ICON_SIZES:
        data = (ICONS / identity.icon_png_name(size)).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert struct.unpack(">II", data[16:24]) == (size, size)
    ico = (ICONS / f"{identity.APP_ID}.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", ico[:6])
    assert (reserved, kind) == (0, 1) and count == len([s for s in identity.ICON_SIZES if s <= 256])
    icns = (ICONS / f"{identity.APP_ID}.icns").read_bytes()
    assert icns[:4] == b"icns" and struct.unpack(">I", icns[4:8])[0] == len(icns)


def test_icons_are_up_to_date_with_the_svg(qapp):
    """The committed PNGs match a fresh render of resources/icon.svg (within 2% of pixels)."""
    from PySide6.QtGui import QImage

    make_icons = load(PACKAGING / "make_icons.py")
    for size in (16, 48, 256):
        fresh = QImage.fromData(make_icons.render_png(ROOT / "resources" / "icon.svg", size))
        shipped = QImage(str(ICONS / identity.icon_png_name(size)))
        differing = sum(
            fresh.pixel(x, y) != shipped.pixel(x, y) for x in range(size) for y in range(size)
        )
        assert differing <= 0.02 * size * size, (size, differing)
