"""Draws the integration's brand images (custom_components/botslab/brand/): our own mark, a
video doorbell with its lens and button on a teal tile, never BOTSLAB's trademark.

    .venv/<version>/bin/python scripts/draw_brand.py

Home Assistant (2026.3 and newer) serves these files to its frontend: the icon is square
(256 px, 512 px for @2x), the logo is landscape with a 128 px short side (256 px for @2x);
the dark_logo variants (white text) suit the dark theme. Everything is drawn at 4x and scaled
down (anti-aliasing).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

OUT = Path(__file__).resolve().parents[1] / "custom_components" / "botslab" / "brand"
TEAL = (15, 76, 92, 255)
AMBER = (242, 165, 65, 255)
WHITE = (255, 255, 255, 255)
INK = (22, 30, 38, 255)
GLASS = (34, 52, 64, 255)
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
SCALE = 4


def mark(size: int) -> Image.Image:
    """The square mark: a doorbell camera on a rounded teal tile."""
    s = size * SCALE
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((0, 0, s - 1, s - 1), radius=s * 0.22, fill=TEAL)
    # the doorbell's body
    w, h = s * 0.40, s * 0.72
    x0, y0 = (s - w) / 2, (s - h) / 2
    draw.rounded_rectangle((x0, y0, x0 + w, y0 + h), radius=w * 0.5, fill=WHITE)
    # the lens: amber ring, dark glass, a highlight
    cx, cy, r = s / 2, y0 + w * 0.62, w * 0.36
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=AMBER)
    r2 = r * 0.72
    draw.ellipse((cx - r2, cy - r2, cx + r2, cy + r2), fill=GLASS)
    r3 = r * 0.22
    hx, hy = cx - r2 * 0.35, cy - r2 * 0.35
    draw.ellipse((hx - r3, hy - r3, hx + r3, hy + r3), fill=(255, 255, 255, 200))
    # the button
    by, br = y0 + h - w * 0.55, w * 0.22
    draw.ellipse((cx - br, by - br, cx + br, by + br), outline=AMBER, width=int(s * 0.025))
    return img.resize((size, size), Image.Resampling.LANCZOS)


def logo(height: int, text: tuple[int, int, int, int]) -> Image.Image:
    """The mark and the product's name beside it (in a plain font: the name, never BOTSLAB's
    own logotype), on a transparent background."""
    s = height * SCALE
    icon = mark(height).resize((s, s), Image.Resampling.LANCZOS)
    lines = (("BOTSLAB", ImageFont.truetype(FONT, int(s * 0.36))),)
    lines += (("for Home Assistant", ImageFont.truetype(FONT, int(s * 0.17))),)
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    text_w = max(int(probe.textlength(line, font=font)) for line, font in lines)
    img = Image.new("RGBA", (s + int(s * 0.12) + text_w, s), (0, 0, 0, 0))
    img.paste(icon, (0, 0), icon)
    draw = ImageDraw.Draw(img)
    x = s + int(s * 0.12)
    draw.text((x, s * 0.14), lines[0][0], font=lines[0][1], fill=text)
    draw.text((x, s * 0.60), lines[1][0], font=lines[1][1], fill=text)
    return img.resize((img.width // SCALE, height), Image.Resampling.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for suffix, factor in (("", 1), ("@2x", 2)):
        icon = mark(256 * factor)
        icon.save(OUT / f"icon{suffix}.png", optimize=True)
        logo(128 * factor, INK).save(OUT / f"logo{suffix}.png", optimize=True)
        logo(128 * factor, WHITE).save(OUT / f"dark_logo{suffix}.png", optimize=True)


if __name__ == "__main__":
    main()
