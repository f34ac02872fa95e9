"""Desktop integration without Qt: the names and types ONNX Inspector registers, the freedesktop
files (``.desktop`` entry, shared-mime-info package, icons) and their install/uninstall.

Windows and macOS packaging (``packaging/``) read their ids and types from :mod:`.identity`.
"""
