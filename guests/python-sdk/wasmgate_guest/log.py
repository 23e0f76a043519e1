"""Logging through the host: lines are tagged with the adapter's name and respect the
gateway's log level. Never log credentials or request bodies."""

from wit_world.imports import logging as _host
from wit_world.imports import wasmgate_provider_types as _t


def debug(message: str) -> None:
    """A debug line."""
    _host.log(_t.LogLevel.DEBUG, message)


def info(message: str) -> None:
    """An informational line."""
    _host.log(_t.LogLevel.INFO, message)


def warn(message: str) -> None:
    """A warning."""
    _host.log(_t.LogLevel.WARN, message)


def error(message: str) -> None:
    """An error line."""
    _host.log(_t.LogLevel.ERROR, message)
