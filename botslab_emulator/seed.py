"""The default demo world (docs/emulator.md)."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .cloud import Cloud

DEMO_USER = "demo@botslab.local"
DEMO_PASSWORD = "botslab-demo"  # noqa: S105 - the emulator's published demo password
NEIGHBOUR_USER = "neighbour@botslab.local"
TRAVELLER_USER = "traveller@botslab.local"


async def seed_demo(cloud: Cloud) -> None:
    """One eu1 account owning two cameras and a video doorbell, one camera shared to it by
    another account, and a few hours of events. A third account lives in na1 (region fallback).
    """
    world = cloud.world
    if world.accounts.find(DEMO_USER) is not None:
        return
    now = int(world.now())
    demo = world.accounts.add(
        DEMO_USER, DEMO_PASSWORD, "eu1", nickname="Demo", mobile="4915123456789"
    )
    neighbour = world.accounts.add(NEIGHBOUR_USER, "neighbour-demo", "eu1", nickname="Neighbour")
    world.accounts.add(TRAVELLER_USER, "traveller-demo", "na1", nickname="Traveller")
    plan = {
        "commodity_name": "Cloud Basic 30 days",
        "start_timestamp": now - 20 * 86400,
        "end_timestamp": now + 10 * 86400,
        "service_day_num": 30,
        "storage_day_num": 30,
    }
    door = world.devices.add(
        demo.qid,
        title="Front Door",
        category_key="doorbell",
        product_name="Video Doorbell X3",
        product_key="pk_doorbell_x3",
        device_name="BDX3A1B2C3D4",
        battery=True,
        clip_encrypt="chacha2",
        plan=plan,
    )
    garden = world.devices.add(
        demo.qid,
        title="Garden",
        category_key="camera",
        product_name="Outdoor Camera C5",
        product_key="pk_camera_c5",
        device_name="BCC5E5F6A7B8",
        firmware="2.1.0",
        latest_firmware="2.2.0",
    )
    living = world.devices.add(
        demo.qid,
        title="Living Room",
        category_key="camera",
        product_name="Indoor Camera C2",
        product_key="pk_camera_c2",
        device_name="BCC2C9D0E1F2",
        firmware="2.2.0",
        latest_firmware="2.2.0",
    )
    drive = world.devices.add(
        neighbour.qid,
        title="Driveway",
        category_key="camera",
        product_name="Outdoor Camera C5",
        product_key="pk_camera_c5",
        device_name="BCC5A0B1C2D3",
    )
    share = world.sharing.share(
        neighbour.qid, drive.product_key, drive.device_name, email=DEMO_USER, level=2
    )
    share.status = 2
    rnd = random.Random(42)
    plan_events = [
        (door, "ring"),
        (door, "person"),
        (door, "package"),
        (door, "motion"),
        (garden, "motion"),
        (garden, "pet"),
        (garden, "person"),
        (garden, "vehicle"),
        (living, "motion"),
        (living, "sound"),
        (living, "person"),
        (drive, "vehicle"),
        (drive, "person"),
    ]
    stamps = sorted(now - rnd.randrange(600, 4 * 3600) for _ in range(24))
    for idx, ctime in enumerate(stamps):
        dev, kind = plan_events[idx % len(plan_events)]
        await cloud.trigger(dev.device_name, kind, ctime=ctime, push=False)
