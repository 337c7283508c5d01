"""Name -> constructor registries for envs and agents (no if/elif chains).

    ENVS = Registry("env")
    ENVS.register("cartpole", CartPole, "Balance a pole on a cart (Gymnasium CartPole-v1)")
    ENVS.make("cartpole", **kwargs)

An unknown name raises a KeyError listing the closest registered names.
"""
from __future__ import annotations

import difflib
from typing import Any, Callable, NamedTuple


class Entry(NamedTuple):
    name: str
    factory: Callable[..., Any]
    description: str


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, factory: Callable[..., Any], description: str = "") -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = Entry(name, factory, description)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        return [self._entries[n] for n in self.names()]

    def get(self, name: str) -> Entry:
        if name not in self._entries:
            close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.4)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise KeyError(f"unknown {self.kind} {name!r}{hint} Known: {', '.join(self.names())}")
        return self._entries[name]

    def make(self, name: str, **kwargs: Any) -> Any:
        return self.get(name).factory(**kwargs)

    def __contains__(self, name: str) -> bool:
        return name in self._entries
