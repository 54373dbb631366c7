"""Alert channels are plugins: the interface, the registry and the checks of their options.

A channel type is a class registered under the entry-point group ``monitor.alert_channels``.
The built-in types (log, webhook, email) are registered in monitor's own pyproject the
same way a third-party package registers its own, so nothing here knows them by name.
A rules file names channels (``[channels.NAME]`` with a ``type`` and options);
``build_channels`` turns those tables into ready channel objects or stops start-up with a
message that names the channel, the option and the fix.
"""

from __future__ import annotations

import difflib
import logging
import os
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar

from monitor.errors import StartupError

GROUP = "monitor.alert_channels"

# Not ``log``: importing the submodule ``log`` sets that name on this package.
logger = logging.getLogger("monitor.alerts.channels")


class DeliveryError(Exception):
    """A channel could not deliver an alert.

    ``permanent`` means that sending the same alert again cannot succeed (the receiver
    refused it: HTTP 4xx, SMTP 5xx); otherwise the sender tries again later.
    ``retry_after_seconds`` is the receiver's own hint (HTTP Retry-After), if any.
    """

    def __init__(
        self, message: str, permanent: bool = False, retry_after_seconds: float | None = None
    ):
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after_seconds = retry_after_seconds


class Channel:
    """Base of every channel type. A subclass declares its options and implements
    ``send`` and ``describe``.

    ``required_options`` and ``optional_options`` are checked by ``build_channels``
    before the constructor runs, so a constructor only checks values, not names.
    """

    required_options: ClassVar[tuple[str, ...]] = ()
    optional_options: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str, options: dict[str, Any], settings):
        self.name = name
        self.options = options
        self.settings = settings

    def send(self, alert: dict[str, Any]) -> None:
        """Deliver one alert or raise ``DeliveryError``. Called again with the same alert
        after a transient error or a crash, so it should pass ``alert["key"]`` on for
        the receiver to recognise a repeat."""
        raise NotImplementedError

    def describe(self) -> str:
        """One line for ``monitor alerts list``: where alerts go, never a secret."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections; the channel is not used afterwards."""

    def config_error(self, option: str, problem: str) -> StartupError:
        """A start-up error that names this channel and the option to fix."""
        return StartupError(f"alert channel `{self.name}`: option `{option}` {problem}")


def load_channel_types() -> dict[str, type[Channel]]:
    """Every installed channel type by name. A plugin that cannot be loaded is logged
    with its name and left out; a channel that uses it fails in ``build_channels``."""
    types, broken = _load_types()
    for name, error in broken.items():
        logger.warning("alert_channel_type_broken", extra={"channel_type": name, "error": error})
    return types


def build_channels(config: dict[str, dict[str, Any]], settings) -> dict[str, Channel]:
    """Channels by name from the ``[channels.NAME]`` tables of the rules file.

    Raises ``StartupError`` for an unknown or broken type, an unknown or missing option,
    or a bad value; the message names the channel and the option.
    """
    types, broken = _load_types()
    channels: dict[str, Channel] = {}
    for name, table in config.items():
        options = dict(table)
        type_name = options.pop("type", None)
        cls = _channel_type(name, type_name, types, broken)
        _check_option_names(name, type_name, cls, options)
        try:
            channels[name] = cls(name, options, settings)
        except StartupError:
            raise
        except Exception as exc:  # a plugin's own bug: name it instead of a traceback
            raise StartupError(
                f"alert channel `{name}` (type `{type_name}`) cannot be set up: "
                f"{type(exc).__name__}: {exc}"
            ) from None
    return channels


def read_secret(channel: Channel, key: str, required: bool = False) -> str | None:
    """A secret option given inline (``key``), in a file (``key_file``, first line) or
    in an environment variable (``key_env``); at most one of the three."""
    given = [k for k in (key, f"{key}_file", f"{key}_env") if channel.options.get(k)]
    if len(given) > 1:
        raise channel.config_error(given[1], f"and `{given[0]}` are both set; keep one")
    if not given:
        if required:
            raise channel.config_error(key, f"is missing; set `{key}`, `{key}_file` or `{key}_env`")
        return None
    source, value = given[0], str(channel.options[given[0]])
    if source.endswith("_file"):
        try:
            return Path(value).read_text(encoding="utf-8").strip()
        except OSError as exc:
            problem = f"names {value}, which cannot be read ({exc.strerror})"
            raise channel.config_error(source, problem) from None
    if source.endswith("_env"):
        secret = os.environ.get(value, "")
        if not secret:
            raise channel.config_error(source, f"names ${value}, which is not set or empty")
        return secret
    return value


def timeout_option(channel: Channel, default: float) -> float:
    """``timeout_seconds``: a number of seconds above 0 and at most 300."""
    value = channel.options.get("timeout_seconds", default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 300:
        raise channel.config_error("timeout_seconds", f"must be in (0, 300], not {value!r}")
    return float(value)


def _load_types() -> tuple[dict[str, type[Channel]], dict[str, str]]:
    types: dict[str, type[Channel]] = {}
    broken: dict[str, str] = {}
    for entry in entry_points(group=GROUP):
        try:
            cls = entry.load()
        except Exception as exc:  # an import error in a plugin must not stop the others
            broken[entry.name] = f"{entry.value} cannot be loaded: {type(exc).__name__}: {exc}"
            continue
        if not (isinstance(cls, type) and callable(getattr(cls, "send", None))):
            broken[entry.name] = f"{entry.value} is not a channel class (no send method)"
            continue
        types.setdefault(entry.name, cls)
    return types, broken


def _channel_type(name: str, type_name, types: dict, broken: dict) -> type[Channel]:
    known = ", ".join(sorted(types)) or "none installed"
    if not type_name:
        raise StartupError(f"alert channel `{name}` has no `type`; known types: {known}")
    if type_name in broken:
        raise StartupError(
            f"alert channel `{name}`: type `{type_name}` is installed but broken: "
            f"{broken[type_name]}"
        )
    if type_name not in types:
        raise StartupError(
            f"alert channel `{name}` has unknown type `{type_name}`; known types: {known} "
            f"(a plugin adds a type with an entry point in the group {GROUP})"
        )
    return types[type_name]


def _check_option_names(name: str, type_name: str, cls, options: dict[str, Any]) -> None:
    required = tuple(getattr(cls, "required_options", ()))
    allowed = required + tuple(getattr(cls, "optional_options", ()))
    for option in options:
        if option not in allowed:
            close = difflib.get_close_matches(option, allowed, n=1)
            hint = f"did you mean `{close[0]}`?" if close else f"known: {', '.join(allowed)}"
            raise StartupError(
                f"alert channel `{name}` (type `{type_name}`): unknown option `{option}`; {hint}"
            )
    for option in required:
        if option not in options:
            raise StartupError(
                f"alert channel `{name}` (type `{type_name}`): option `{option}` is missing"
            )
