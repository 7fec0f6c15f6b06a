"""Home Assistant's public API only: the integration never reads or writes an attribute of a
Home Assistant class that starts with `_` (other than `_attr_*`, which Home Assistant's
entities are made to take), and never overrides one of its private methods. Either can break
silently on an upgrade."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path
import pkgutil
import re

from homeassistant.config_entries import ConfigEntry, ConfigFlow, OptionsFlow
from homeassistant.core import HomeAssistant, ServiceCall, State
from homeassistant.helpers.device_registry import DeviceEntry, DeviceRegistry
from homeassistant.helpers.entity_registry import EntityRegistry, RegistryEntry
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

import custom_components.botslab as package

ROOT = Path(package.__file__).parent
# Home Assistant classes the integration touches without deriving from them
TOUCHED = [
    ConfigEntry,
    HomeAssistant,
    ServiceCall,
    State,
    DeviceEntry,
    DeviceRegistry,
    EntityRegistry,
    RegistryEntry,
    Store,
    DataUpdateCoordinator,
    ConfigFlow,
    OptionsFlow,
]


# What Home Assistant's developer documentation gives subclasses to call or to override,
# though its names start with `_`: firing an event entity's event; the config flow's unique-id
# and reauth/reconfigure helpers; a coordinator's update and its entities' update hook; a
# store's migration
DOCUMENTED = frozenset(
    {
        "_trigger_event",
        "_abort_if_unique_id_configured",
        "_abort_if_unique_id_mismatch",
        "_get_reauth_entry",
        "_get_reconfigure_entry",
        "_async_update_data",
        "_handle_coordinator_update",
        "_async_migrate_func",
    }
)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith(("__", "_attr_")) and name not in DOCUMENTED


def _our_classes() -> list[type]:
    found = []
    for info in pkgutil.walk_packages([str(ROOT)], prefix=f"{package.__name__}."):
        if ".api" in info.name:
            continue  # the client imports no Home Assistant at all (a house rule checked elsewhere)
        module = importlib.import_module(info.name)
        found.extend(
            cls
            for _name, cls in inspect.getmembers(module, inspect.isclass)
            if cls.__module__ == module.__name__
        )
    return found


# attributes a Home Assistant class's own source sets on its instances, which `dir(cls)` does
# not list: `self._name = …` (`: T =`, `+=` too), and ConfigEntry's `_setter(self, "_name", …)`
# or `object.__setattr__(self, "_name", …)`
_SELF_ASSIGNED = re.compile(
    r"\bself\.(_[A-Za-z]\w*)\s*(?::[^=\n]+)?[-+*|&]?=(?!=)"
    r"|(?:_setter|__setattr__)\(\s*self\s*,\s*[\"'](_[A-Za-z]\w*)[\"']"
)
# names only annotated in the class body (`    _name: T`), set elsewhere
_CLASS_ANNOTATED = re.compile(r"^    (_[A-Za-z]\w*)\s*:", re.MULTILINE)


def _private_names(bases: set[type]) -> set[str]:
    """The private names of the classes: their members, and the attributes their code sets
    on an instance."""
    names = set()
    for base in bases:
        names.update(dir(base))
        for klass in base.__mro__:
            if not klass.__module__.startswith("homeassistant."):
                continue
            try:
                source = inspect.getsource(klass)
            except (OSError, TypeError):
                continue
            names.update(name for pair in _SELF_ASSIGNED.findall(source) for name in pair if name)
            names.update(_CLASS_ANNOTATED.findall(source))
    return {name for name in names if _private(name)}


def _home_assistant_bases() -> set[type]:
    bases = set(TOUCHED)
    for cls in _our_classes():
        bases.update(b for b in cls.__mro__ if b.__module__.startswith("homeassistant."))
    return bases


def test_no_private_method_of_home_assistant_is_overridden() -> None:
    overridden = []
    for cls in _our_classes():
        ha_bases = [b for b in cls.__mro__[1:] if b.__module__.startswith("homeassistant.")]
        for name, value in vars(cls).items():
            code = value.fget if isinstance(value, property) else value
            ours = getattr(code, "__module__", "") == cls.__module__  # not set by a metaclass
            if ours and _private(name) and any(name in vars(base) for base in ha_bases):
                overridden.append(f"{cls.__module__}.{cls.__qualname__}.{name}")
    assert not overridden, overridden


def _on_self(node: ast.Attribute) -> bool:
    return isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")


def test_no_private_attribute_of_home_assistant_is_used() -> None:
    """Every `x._name` in the integration's code (outside api/) whose name a Home Assistant
    class it touches or derives from has, as a member or as an attribute its code sets on
    an instance (`entry._on_unload`, `hass._tasks`, a coordinator's `_listeners`): reads and
    writes alike, name-mangled ones too. On `self`, within one of our classes, the names of
    that class's own Home Assistant bases (a name of ours that is also theirs overwrites
    theirs); elsewhere, the names of every Home Assistant class it touches."""
    anywhere = _private_names(_home_assistant_bases())
    used = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if "api" in rel.parts:
            continue
        module = importlib.import_module(
            ".".join((package.__name__, *rel.with_suffix("").parts)).removesuffix(".__init__")
        )
        tree = ast.parse(path.read_text(encoding="utf-8"))
        on_self: set[int] = set()
        for klass in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            cls = getattr(module, klass.name, None)
            if not isinstance(cls, type):
                continue
            bases = {b for b in cls.__mro__[1:] if b.__module__.startswith("homeassistant.")}
            theirs = _private_names(bases)
            for node in ast.walk(klass):
                if isinstance(node, ast.Attribute) and _on_self(node):
                    on_self.add(id(node))
                    if node.attr in theirs:
                        used.append(f"{rel}:{node.lineno} self.{node.attr}")
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and id(node) not in on_self
                and node.attr in anywhere
            ):
                used.append(f"{rel}:{node.lineno} {node.attr}")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "setattr", "hasattr")
                and len(node.args) > 1
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value in anywhere
            ):
                used.append(f"{rel}:{node.lineno} {node.args[1].value}")
    assert not used, used


def test_the_check_finds_what_it_looks_for() -> None:
    """The two checks above see a private override and a private attribute when there is one
    (so that they cannot pass by looking at nothing)."""
    from homeassistant.components.camera import Camera
    from homeassistant.components.event import EventEntity

    private = {name for name in dir(EventEntity) if _private(name)}
    assert "_EventEntity__last_event_triggered" in private
    tree = ast.parse("entity._EventEntity__last_event_triggered = now")
    assert any(isinstance(n, ast.Attribute) and n.attr in private for n in ast.walk(tree))
    assert any(_private(n) for n in vars(Camera))
    # attributes Home Assistant sets on its instances, which dir() does not list
    touched = _private_names(_home_assistant_bases())
    for name, cls in (
        ("_on_unload", ConfigEntry),
        ("_background_tasks", ConfigEntry),
        ("_tasks", HomeAssistant),
        ("_listeners", DataUpdateCoordinator),
    ):
        assert name in touched and name not in dir(cls), name
    tree = ast.parse("entry._on_unload.append(x)")
    assert any(isinstance(n, ast.Attribute) and n.attr in touched for n in ast.walk(tree))
