"""The ``Info.plist`` keys of ONNX Inspector.app: identity, the ONNX document type and its UTI.

``onnx-inspector.spec`` passes :func:`info_plist` to PyInstaller's ``BUNDLE``, which merges it into
the plist it writes. ``python packaging/macos/info_plist.py OUT.plist`` writes it alone, to inspect.
"""

from __future__ import annotations

import plistlib
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyinstaller_common import VERSION, identity

ICON_FILE = f"{identity.APP_ID}.icns"


def info_plist(version: str = VERSION) -> dict[str, Any]:
    """The keys, for ``version``."""
    return {
        "CFBundleName": identity.APP_NAME,
        "CFBundleDisplayName": identity.APP_NAME,
        "CFBundleIdentifier": identity.MACOS_BUNDLE_ID,
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "CFBundleIconFile": ICON_FILE,
        "CFBundlePackageType": "APPL",
        "LSMinimumSystemVersion": "11.0",
        "NSHighResolutionCapable": True,
        # Follow the system's light/dark appearance (the window's theme setting can override it).
        "NSRequiresAquaSystemAppearance": False,
        "CFBundleDocumentTypes": [
            {
                "CFBundleTypeName": identity.MIME_COMMENT,
                "CFBundleTypeRole": "Viewer",
                "LSHandlerRank": "Default",
                "LSItemContentTypes": [identity.MACOS_UTI],
                "CFBundleTypeIconFile": ICON_FILE,
            }
        ],
        # Imported, not exported: the format is onnx.ai's; an app that declares the same UTI
        # (e.g. Netron) then agrees with us instead of competing for ownership.
        "UTImportedTypeDeclarations": [
            {
                "UTTypeIdentifier": identity.MACOS_UTI,
                "UTTypeDescription": identity.MIME_COMMENT,
                "UTTypeConformsTo": ["public.data"],
                "UTTypeIconFile": ICON_FILE,
                "UTTypeTagSpecification": {
                    "public.filename-extension": list(identity.EXTENSIONS),
                    "public.mime-type": [identity.MIME_TYPE],
                },
            }
        ],
    }


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python packaging/macos/info_plist.py OUT.plist")
    Path(sys.argv[1]).write_bytes(plistlib.dumps(info_plist()))
