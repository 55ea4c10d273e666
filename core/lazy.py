"""Heavy libraries (torch, diffusers, transformers, ptflops, the providers' SDKs) imported on first use, not when
a module of ours is imported: a page or `--help` that never loads a model never pays for them.

`torch = lazy_module("torch")` at the top of a module reads like the import it replaces; the first attribute
read (`torch.float16`, `torch.cuda.is_available()`) imports the library and rebinds the module's global to it,
so later reads are plain global lookups (no proxy in hot loops such as FLOP counting). Unlike the standard
library's `importlib.util.LazyLoader`, nothing is put in `sys.modules` before the real import, so
`"torch" in sys.modules` still says whether torch was loaded.
"""
from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any


class LazyModule:
    """Stands for module `name` until an attribute is read; then imports it (once) and answers from it."""

    __slots__ = ("_name", "_module", "_owner")

    def __init__(self, name: str, owner: dict[str, Any] | None = None) -> None:
        self._name = name
        self._module: ModuleType | None = None
        self._owner = owner  # the globals of the module that holds this stand-in

    def _load(self) -> ModuleType:
        if self._module is None:
            self._module = importlib.import_module(self._name)
            if self._owner is not None:  # from now on the owner's global is the module itself
                for key, value in list(self._owner.items()):
                    if value is self:
                        self._owner[key] = self._module
        return self._module

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._load(), attr)

    def __repr__(self) -> str:
        state = "loaded" if self._module is not None else "not loaded yet"
        return f"<lazy module {self._name!r} ({state})>"


def lazy_module(name: str) -> Any:
    """A stand-in for `import name` that imports on first attribute access (typed Any, as a module is used); call
    it at module level: the caller's global bound to it becomes the real module at that first access."""
    return LazyModule(name, sys._getframe(1).f_globals)
