"""What the window remembers between runs (QSettings): recent files, last session, theme, layout,
the runtime target and the inference panel's run options. Every setting goes through here."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

MAX_RECENT = 12
#: The inference panel's run options and their defaults, kept under ``inference/``. The provider
#: is not among them: a run starts on the runtime target's provider (:attr:`target_provider`).
RUN_OPTION_DEFAULTS: dict[str, str] = {
    "opt_level": "all",
    "threads": "0",
    "warmup": "1",
    "repeat": "10",
    "timeout": "600",
    "capture": "false",
    "profile": "false",
}

_EXPORT_SOURCE_KEYS = ("path", "kind", "factory", "weights")


class Settings:
    """Typed access to the application's QSettings (organisation "ONNX Inspector")."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self.q = qsettings or QSettings("ONNX Inspector", "ONNX Inspector")

    def _list(self, key: str) -> list[str]:
        value = self.q.value(key, [])
        if isinstance(value, str):  # QSettings returns a lone string for one-item lists
            return [value] if value else []
        return [str(v) for v in (value or [])]

    @property
    def recent_files(self) -> list[str]:
        return self._list("recent_files")

    def add_recent(self, path: str | Path) -> None:
        p = str(Path(path))
        files = [f for f in self.recent_files if f != p]
        self.q.setValue("recent_files", [p, *files][:MAX_RECENT])

    def remove_recent(self, path: str) -> None:
        self.q.setValue("recent_files", [f for f in self.recent_files if f != path])

    def clear_recent(self) -> None:
        self.q.setValue("recent_files", [])

    @property
    def last_session(self) -> list[str]:
        return self._list("last_session")

    @last_session.setter
    def last_session(self, files: list[str]) -> None:
        self.q.setValue("last_session", files)

    def _bool(self, key: str, default: bool) -> bool:
        # INI-backed QSettings hands booleans back as strings
        return str(self.q.value(key, "true" if default else "false")).lower() == "true"

    def _set_bool(self, key: str, on: bool) -> None:
        self.q.setValue(key, "true" if on else "false")

    @property
    def reopen_last_session(self) -> bool:
        return self._bool("reopen_last_session", False)

    @reopen_last_session.setter
    def reopen_last_session(self, on: bool) -> None:
        self._set_bool("reopen_last_session", on)

    @property
    def theme(self) -> str:
        return str(self.q.value("theme", "system"))

    @theme.setter
    def theme(self, choice: str) -> None:
        self.q.setValue("theme", choice)

    @property
    def show_edge_labels(self) -> bool:
        return self._bool("show_edge_labels", True)

    @show_edge_labels.setter
    def show_edge_labels(self, on: bool) -> None:
        self._set_bool("show_edge_labels", on)

    @property
    def show_minimap(self) -> bool:
        return self._bool("show_minimap", True)

    @show_minimap.setter
    def show_minimap(self, on: bool) -> None:
        self._set_bool("show_minimap", on)

    @property
    def first_run_done(self) -> bool:
        """Whether the one-line "what to try" hint has been shown (it is, once)."""
        return self._bool("first_run_done", False)

    @first_run_done.setter
    def first_run_done(self, on: bool) -> None:
        self._set_bool("first_run_done", on)

    @property
    def last_dir(self) -> str:
        return str(self.q.value("last_dir", str(Path.home())))

    @last_dir.setter
    def last_dir(self, folder: str) -> None:
        self.q.setValue("last_dir", folder)

    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        return self.q.value("geometry"), self.q.value("window_state")

    def save_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self.q.setValue("geometry", geometry)
        self.q.setValue("window_state", state)

    @property
    def target_provider(self) -> str:
        return str(self.q.value("target_provider", "CPUExecutionProvider"))

    @target_provider.setter
    def target_provider(self, provider: str) -> None:
        self.q.setValue("target_provider", provider)

    @property
    def target_fallbacks(self) -> tuple[str, ...]:
        """The providers after :attr:`target_provider` in the target's order (the CPU is last)."""
        return tuple(p for p in str(self.q.value("target_fallbacks", "")).split(",") if p)

    @target_fallbacks.setter
    def target_fallbacks(self, providers: tuple[str, ...]) -> None:
        self.q.setValue("target_fallbacks", ",".join(providers))

    @property
    def target_opset(self) -> int | None:
        """The ai.onnx opset to check the model at; None: the model's own."""
        value = self.q.value("target_opset", "")
        return int(value) if str(value).isdigit() else None

    @target_opset.setter
    def target_opset(self, opset: int | None) -> None:
        self.q.setValue("target_opset", "" if opset is None else str(opset))

    @property
    def export_source(self) -> dict[str, str]:
        """The export wizard's last source: ``path``, ``kind``, ``factory``, ``weights`` (empty
        strings when it never exported)."""
        return {k: str(self.q.value(f"export/{k}", "")) for k in _EXPORT_SOURCE_KEYS}

    @export_source.setter
    def export_source(self, source: dict[str, str]) -> None:
        for key in _EXPORT_SOURCE_KEYS:
            self.q.setValue(f"export/{key}", source.get(key, ""))

    def run_options(self) -> dict[str, str]:
        """The inference panel's run options as saved (text: INI files keep no types)."""
        return {k: str(self.q.value(f"inference/{k}", d)) for k, d in RUN_OPTION_DEFAULTS.items()}

    def save_run_options(self, options: dict[str, str]) -> None:
        for key in RUN_OPTION_DEFAULTS:
            self.q.setValue(f"inference/{key}", options[key])
