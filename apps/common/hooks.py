"""Explicit follow-up points between apps, so imports keep going one way.

The app that owns an event declares a ``Hook`` and calls it; an app above it in the layers (see
``[tool.importlinter]`` in pyproject.toml) connects a receiver in its ``AppConfig.ready``. Unlike
Django signals a hook has one declared home, its receivers are listed at start-up and a failure in
a receiver is not swallowed: the caller sees it, as it would a direct call.
"""

from collections.abc import Callable
from typing import Any


class Hook:
    def __init__(self, name: str) -> None:
        self.name = name
        self._receivers: list[Callable[..., Any]] = []

    def connect(self, receiver: Callable[..., Any]) -> Callable[..., Any]:
        """Add a receiver once (usable as a decorator); connecting it again changes nothing."""
        if receiver not in self._receivers:
            self._receivers.append(receiver)
        return receiver

    def disconnect(self, receiver: Callable[..., Any]) -> None:
        if receiver in self._receivers:
            self._receivers.remove(receiver)

    @property
    def receivers(self) -> tuple[Callable[..., Any], ...]:
        return tuple(self._receivers)

    def send(self, **kwargs: Any) -> list[Any]:
        """Call every receiver in the order connected, with keyword arguments only."""
        return [receiver(**kwargs) for receiver in self._receivers]

    def __repr__(self) -> str:
        return f"<Hook {self.name} receivers={len(self._receivers)}>"
