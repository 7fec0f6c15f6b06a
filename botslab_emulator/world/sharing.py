"""Sharing: roles and levels, invitations, what each account may see."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import codes
from .model import Clock, Device, Share, WorldError

if TYPE_CHECKING:
    from .accounts import AccountStore
    from .devices import DeviceStore


class SharingStore:
    """Who sees which device: the owner, and the accounts it is shared with (and at what level)."""

    def __init__(self, clock: Clock, accounts: AccountStore, devices: DeviceStore) -> None:
        self._clock = clock
        self._accounts = accounts
        self._devices = devices
        self.shares: dict[int, Share] = {}

    def forget_device(self, device_name: str) -> None:
        for sid in [s.id for s in self.shares.values() if s.device_name == device_name]:
            del self.shares[sid]

    def role(self, qid: str, dev: Device) -> tuple[str, int] | None:
        """('owner', 3) or ('shared', level) when the account sees the device, else None."""
        if dev.owner_qid == qid:
            return "owner", 3
        for share in self.shares.values():
            if (
                share.device_name == dev.device_name
                and share.target_qid == qid
                and share.status == 2
            ):
                return "shared", share.level
        return None

    def visible_devices(self, qid: str) -> list[tuple[Device, str, int]]:
        out = []
        for dev in self._devices.values():
            role = self.role(qid, dev)
            if role:
                out.append((dev, role[0], role[1]))
        return out

    def device_for(self, qid: str, product_key: str, device_name: str, *, level: int = 1) -> Device:
        dev = self._devices.get(device_name)
        if dev is None or dev.product_key != product_key:
            raise WorldError(codes.DEVICE_NOT_FOUND)
        role = self.role(qid, dev)
        if role is None:
            raise WorldError(codes.DEVICE_NOT_FOUND)
        if role[1] < level:
            raise WorldError(codes.NOT_OWNER)
        return dev

    def owned_device(self, qid: str, product_key: str, device_name: str) -> Device:
        dev = self.device_for(qid, product_key, device_name)
        if dev.owner_qid != qid:
            raise WorldError(codes.NOT_OWNER)
        return dev

    def share(
        self, qid: str, pk: str, dn: str, *, mobile: str = "", email: str = "", level: int = 1
    ) -> Share:
        dev = self.owned_device(qid, pk, dn)
        if level not in (1, 2, 3):
            raise WorldError(codes.INVALID_PARAM, "level must be 1, 2 or 3")
        target = self._accounts.find(mobile or email)
        me = self._accounts[qid]
        if target is not None and target.qid == qid:
            raise WorldError(codes.SHARE_TO_SELF)
        if (mobile and mobile == me.mobile) or (email and email.lower() == me.email.lower()):
            raise WorldError(codes.SHARE_TO_SELF)
        for existing in self.shares.values():
            same = (mobile and existing.mobile == mobile) or (
                email and existing.email.lower() == email.lower()
            )
            if existing.device_name == dev.device_name and same:
                existing.level = level
                return existing
        share = Share(
            id=self._clock.new_id(),
            product_key=pk,
            device_name=dn,
            owner_qid=qid,
            level=level,
            status=1,
            ctime=int(self._clock.now()),
            mobile=mobile,
            email=email,
            target_qid=target.qid if target else "",
            nickname=target.nickname if target else "",
        )
        self.shares[share.id] = share
        return share

    def device_shares(self, qid: str, pk: str, dn: str) -> list[Share]:
        dev = self.owned_device(qid, pk, dn)
        return [s for s in self.shares.values() if s.device_name == dev.device_name]

    def cancel_share(self, qid: str, share_id: int) -> None:
        share = self.shares.get(share_id)
        if share is None:
            raise WorldError(codes.SHARE_NOT_FOUND)
        if qid not in (share.owner_qid, share.target_qid):
            raise WorldError(codes.NOT_OWNER)
        del self.shares[share_id]

    def pending_for(self, qid: str) -> list[Share]:
        return [s for s in self.shares.values() if s.target_qid == qid and s.status == 1]

    def answer_invitation(self, qid: str, share_id: int, accept: bool) -> Share:
        share = self.shares.get(share_id)
        if share is None or share.target_qid != qid or share.status != 1:
            raise WorldError(codes.SHARE_NOT_FOUND)
        if accept:
            share.status = 2
        else:
            del self.shares[share_id]
        return share
