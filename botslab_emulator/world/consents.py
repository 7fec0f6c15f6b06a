"""Consents: what each account allows, account-wide and per device."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import codes
from .model import ACCOUNT_SCOPES, DEVICE_SCOPES, Clock, Device, WorldError

if TYPE_CHECKING:
    from .accounts import AccountStore
    from .devices import DeviceStore
    from .sharing import SharingStore


class ConsentStore:
    """Privacy consents (docs/protocol/cloud-api.md#privacy-and-consent): account-wide scopes and
    per-device ones, kept on the account as `scope|product_key|device_name`."""

    def __init__(
        self, clock: Clock, accounts: AccountStore, devices: DeviceStore, sharing: SharingStore
    ) -> None:
        self._clock = clock
        self._accounts = accounts
        self._devices = devices
        self._sharing = sharing

    def granted(self, qid: str, scope: str, pk: str = "", dn: str = "") -> bool:
        acc = self._accounts.get(qid)
        if acc is None:
            return False
        entry = acc.consents.get(f"{scope}|{pk}|{dn}")
        return bool(entry and entry["granted"])

    def device_granted(self, dev: Device, scope: str) -> bool:
        return self.granted(dev.owner_qid, scope, dev.product_key, dev.device_name)

    def items_of(self, qid: str) -> list[dict[str, Any]]:
        acc = self._accounts.require(qid)
        items = []
        for key, entry in sorted(acc.consents.items()):
            scope, pk, dn = key.split("|")
            if dn and dn not in self._devices:
                continue
            items.append(
                {
                    "scope": scope,
                    "product_key": pk,
                    "device_name": dn,
                    "granted": int(entry["granted"]),
                    "mtime": entry["mtime"],
                }
            )
        return items

    def set(self, qid: str, scope: str, granted: int, pk: str = "", dn: str = "") -> None:
        acc = self._accounts.require(qid)
        if scope in ACCOUNT_SCOPES:
            if pk or dn:
                raise WorldError(codes.INVALID_PARAM, f"{scope} is account-wide")
        elif scope in DEVICE_SCOPES:
            if not (pk and dn):
                raise WorldError(codes.INVALID_PARAM, f"{scope} needs a device")
            self._sharing.owned_device(qid, pk, dn)
        else:
            raise WorldError(codes.INVALID_PARAM, f"unknown scope {scope}")
        if granted not in (0, 1):
            raise WorldError(codes.INVALID_PARAM, "granted must be 0 or 1")
        acc.consents[f"{scope}|{pk}|{dn}"] = {"granted": granted, "mtime": int(self._clock.now())}
