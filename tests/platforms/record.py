"""Record the answer set that the fast Home Assistant tests replay (tests/platforms/answers.json).

    .venv/3.13.0/bin/python -m tests.platforms.record

starts the emulator with its demo world, signs in as the demo account with the real client,
and keeps the `data` of every read the integration makes at setup: the device list, each
device's properties, firmware, notifications, shares and plan, the consents, do-not-disturb
and the message list. The fast tests parse these with the client's own models
(`Device.from_api`, …) and hand them to Home Assistant through an autospec'd client, at the
recorded time. Record again when the emulator's demo world or the models change; then
regenerate the snapshots (tests/platforms/conftest.py says how).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
import re
import sys
from typing import Any

import aiohttp

from botslab_emulator import Emulator
from botslab_emulator.seed import DEMO_PASSWORD, DEMO_USER
from custom_components.botslab.api import BotslabClient, Endpoints, Identity, QucLogin
import custom_components.botslab.api.paths as ep

ANSWERS = Path(__file__).with_name("answers.json")
# the emulator's port changes at every start: media URLs are kept with a fixed one
FIXED_BASE = "http://127.0.0.1:8720"


async def record() -> dict[str, Any]:
    async with Emulator(demo=True) as emu, aiohttp.ClientSession() as http:
        endpoints = Endpoints.from_emulator_config(emu.config())
        identity = Identity.generate()
        credentials = await QucLogin(http, endpoints, identity).login(DEMO_USER, DEMO_PASSWORD)
        client = BotslabClient(http, endpoints, identity, credentials)
        try:
            session = await client.login()

            async def read(method: str, path: str, params: dict[str, Any] | None = None) -> Any:
                return await client._call(method, path, params)  # the raw answers

            devices = await read("GET", ep.DEVICE_LIST, {"page": 1, "page_size": 50})
            device_items = devices.get("devices") or devices.get("list") or []
            per_device: dict[str, dict[str, Any]] = {}
            for item in device_items:
                dev = {"product_key": item["product_key"], "device_name": item["device_name"]}
                serial = str(item["device_name"])
                answers: dict[str, Any] = {
                    "properties": await read("GET", ep.GET_PROPERTY, dev),
                }
                if str(item.get("roles", "owner")) == "owner":
                    key = f"{dev['product_key']}_{serial}"
                    answers |= {
                        "firmware": await read("GET", ep.OTA_CHECK, dev),
                        "notifications": await read(
                            "GET", ep.PUSH_DEVICE_SETTING, {"key": key, **dev}
                        ),
                        "shares": await read("GET", ep.SHARE_LIST, dev),
                        "plan": await read("GET", ep.CLOUD_SERVICE, dev),
                    }
                per_device[serial] = answers
            messages = await read("GET", ep.MESSAGE_LIST, {"page": 1, "page_size": 100})
            recorded = {
                "recorded_at": int(emu.world.now()),
                "region": credentials.region,
                "qid": credentials.qid,
                "user_id": session.user_id,
                "devices": device_items,
                "per_device": per_device,
                "consents": await read("GET", ep.PRIVACY_CONSENT),
                "do_not_disturb": await read("GET", ep.PUSH_DND),
                "messages": messages.get("items") or [],
            }
            base = emu.base_url.rstrip("/")
        finally:
            await client.close()
    fixed: dict[str, Any] = json.loads(json.dumps(recorded).replace(base, FIXED_BASE))
    return fixed


def main() -> None:
    """Writes answers.json (or the path given as the first argument)."""
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ANSWERS
    recorded = asyncio.run(record())
    text = json.dumps(recorded, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    # no secret of the emulator's signed URLs is worth keeping: the tests never fetch them
    text = re.sub(r"(Signature|OSSAccessKeyId)=[^&\"]+", r"\1=recorded", text)
    out.write_text(text, encoding="utf-8")
    devices, messages = len(recorded["devices"]), len(recorded["messages"])
    sys.stdout.write(f"wrote {out} ({devices} devices, {messages} messages)\n")


if __name__ == "__main__":
    main()
