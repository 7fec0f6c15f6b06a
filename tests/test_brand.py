"""The integration's own brand images (served by Home Assistant 2026.3 and newer)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

BRAND = Path(__file__).resolve().parents[1] / "custom_components" / "botslab" / "brand"


def test_brand_images_have_the_sizes_home_assistant_asks_for() -> None:
    for name, size in (("icon.png", 256), ("icon@2x.png", 512)):
        with Image.open(BRAND / name) as image:
            assert image.format == "PNG" and image.size == (size, size), name
            assert image.mode == "RGBA" and image.getpixel((0, 0))[3] == 0, "transparent corner"
    for stem, height in (("logo", 128), ("logo@2x", 256)):
        for name in (f"{stem}.png", f"dark_{stem}.png"):
            with Image.open(BRAND / name) as image:
                assert image.format == "PNG" and image.height == height, name
                assert image.width > image.height, "a logo is landscape"


@pytest.mark.skipif(
    importlib.util.find_spec("homeassistant.components.brands") is None,
    reason="Home Assistant before 2026.3 takes brand images from its CDN only",
)
async def test_home_assistant_serves_our_images(
    hass: HomeAssistant, enable_custom_integrations: None, hass_client: ClientSessionGenerator
) -> None:
    assert await async_setup_component(hass, "brands", {})
    client = await hass_client()
    for name in ("icon.png", "icon@2x.png", "logo.png", "logo@2x.png", "dark_logo.png"):
        resp = await client.get(f"/api/brands/integration/botslab/{name}")
        assert resp.status == 200, name
        assert await resp.read() == (BRAND / name).read_bytes(), name
    # dark_icon.png falls back to icon.png
    resp = await client.get("/api/brands/integration/botslab/dark_icon.png")
    assert await resp.read() == (BRAND / "icon.png").read_bytes()
