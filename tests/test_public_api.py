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


def test_no_private_attribute_of_home_assistant_is_used() -> None:
    """Every `x._name` in the integration's code (outside api/) whose name a Home Assistant
    class it touches or derives from has: reads and writes alike, name-mangled ones too."""
    private = {name for base in _home_assistant_bases() for name in dir(base) if _private(name)}
    used = []
    for path in ROOT.rglob("*.py"):
        if "api" in path.relative_to(ROOT).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in private:
                used.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.attr}")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "setattr", "hasattr")
                and len(node.args) > 1
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value in private
            ):
                used.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.args[1].value}")
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
