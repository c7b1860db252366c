"""`notify` (`[pipeline]`'s, and a stage's own): apprise URLs, checked when the config is loaded so a URL apprise
cannot use is one line naming the key before anything starts. apprise (the optional `notify` extra) is imported
only here and only when the key is used: `import coopy_core` stays light."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from coopy_core.errors import ConfigError

INSTALL_HINT = "pip install 'coopy[notify]'"
WIKI = "https://github.com/caronc/apprise/wiki"


def notify_urls(value: list[str] | str | None) -> list[str]:
    """The URLs of the key: a list, or one URL as a string."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def check_notify(value: list[str] | str | None, shown: str, key: str = "pipeline.notify") -> None:
    """Every URL one apprise understands; apprise installed when the key names any URL."""
    urls = notify_urls(value)
    if not urls:
        return
    many = not isinstance(value, str)
    for i, url in enumerate(urls):
        if not url.strip():
            raise ConfigError(shown, _key(key, i, many), "is empty (an apprise URL: ntfys://topic, mailto://...)")
    apprise = import_apprise()
    if apprise is None:
        raise ConfigError(shown, key, f"sending notifications needs apprise: {INSTALL_HINT}")
    with _quiet():
        for i, url in enumerate(urls):
            if apprise.Apprise.instantiate(url.strip(), suppress_exceptions=True) is None:
                raise ConfigError(shown, _key(key, i, many), _why_not(apprise, url.strip()))


def import_apprise() -> Any:
    """The apprise module, or None when it is not installed (or hidden)."""
    try:
        import apprise
    except ImportError:
        return None
    return apprise


def _key(key: str, i: int, many: bool) -> str:
    return f"{key}[{i}]" if many else key


def _why_not(apprise: Any, url: str) -> str:
    """The scheme only: a URL may carry a password or a token, and this line may end up in a log."""
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme:
        return f"not an apprise URL (scheme://...: ntfys://topic, mailto://user:pass@host; {WIKI})"
    shown = scheme if len(scheme) <= 24 else scheme[:24] + "…"
    try:
        from apprise.manager_plugins import NotificationManager

        manager = NotificationManager()
        plugin = manager[scheme.lower()] if scheme.lower() in manager.schemas() else None
        lacking = (
            ""
            if plugin is None or getattr(plugin, "enabled", True)
            else str(plugin.requirements["details"]).rstrip(".")
        )
    except Exception:  # apprise's internals moved: say the general thing
        plugin, lacking = None, ""
    if lacking:
        return f"apprise cannot send to {shown}:// here: {lacking}"
    if plugin is not None:
        return f"apprise cannot use this {shown}:// URL (is it written as {WIKI} shows for {shown}?)"
    return f"unknown scheme {shown + '://'!r}: apprise does not know it ({WIKI})"


@contextmanager
def _quiet() -> Iterator[None]:
    """apprise logs why it refused a URL (with the URL); the one-line error says it instead."""
    logger = logging.getLogger("apprise")
    was = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = was
