"""Errors a user can cause. The CLI prints each as one line and exits with code 2."""

from __future__ import annotations


class MlpvmError(Exception):
    """Base of every error that is the input's fault, not a bug."""

    exit_code = 2

    def report(self) -> str:
        """The one line the CLI prints."""
        return f"mlpvm: error: {self}"


class ConfigError(MlpvmError):
    """A machine configuration that cannot exist (bad width, memory size, ...)."""


class ImageError(MlpvmError):
    """A program image that cannot be loaded; names the file and, where known, line and column."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None, col: int | None = None):
        self.path, self.line, self.col, self.message = path, line, col, message
        self.where = ":".join(str(p) for p in (path, line, col) if p is not None)
        super().__init__(f"{self.where}: {message}" if self.where else message)

    def report(self) -> str:
        return f"{self.where}: error: {self.message}" if self.where else super().report()


class BatchError(ImageError):
    """A batch file (``mlpvm run --batch``) that cannot be read; names the file and line."""


class WeightsError(MlpvmError):
    """A weight file that is corrupt, of another format, or of another configuration."""


class NetworkFault(MlpvmError):
    """The network left {0,1}: the state is corrupt and the run stops rather than continue on it."""

    exit_code = 4

    def __init__(self, layer: str, detail: str = ""):
        self.layer = layer
        super().__init__(f"network fault after layer {layer}" + (f": {detail}" if detail else ""))
