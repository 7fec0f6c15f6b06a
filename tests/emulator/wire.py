"""A minimal, independent encoder of the BOTSLAB protocol for the emulator's tests.

Written from docs/protocol/README.md alone, deliberately separate from both the client package and
the emulator, so that each of the three checks the others.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import string
import struct
import time
from typing import Any
from urllib.parse import quote, quote_plus, unquote

import aiohttp
from Crypto.Cipher import DES, PKCS1_v1_5
from Crypto.PublicKey import RSA

APP_SECRET = "qihu_adr_3afg139513ksgnlah1951365saa351a9z_360"
ALNUM = string.ascii_letters + string.digits


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def sig(params: dict[str, str], suffix: str = "") -> str:
    return md5("".join(f"{k}={params[k]}" for k in sorted(params) if k != "sig") + suffix)


def des_cbc(plain: bytes, key8: bytes) -> bytes:
    pad = 8 - len(plain) % 8
    return DES.new(key8, DES.MODE_CBC, iv=key8).encrypt(plain + bytes([pad]) * pad)


def des_cbc_decrypt(data: bytes, key8: bytes) -> bytes:
    out = DES.new(key8, DES.MODE_CBC, iv=key8).decrypt(data)
    return out[: -out[-1]]


def base_params(mid: str, androidid: str) -> dict[str, str]:
    return {
        "os_sdk_version": "android_30",
        "mid": mid,
        "quc_sdk_version": "v3.2.7",
        "mname": "Pixel 7",
        "ua": "Dalvik/2.1.0 (Linux; U; Android 11)",
        "os_manufacturer": "Google",
        "mSystemVersion": "11",
        "os_board": "panther",
        "os_model": "Pixel 7",
        "quc_lang": "en",
        "sh": "2400",
        "sw": "1080",
        "sdpi": "420",
        "from": "mpl_cloudsmartoem_and",
        "oaid": "",
        "app": "Botslab",
        "ui_ver": "1",
        "res_mode": "1",
        "format": "json",
        "qh_id": "",
        "device_os": "android",
        "device_lang": "zh-CN",
        "v": "2.28.5",
        "androidid": androidid,
    }


class QucCaller:
    """Builds QUC envelopes in any of the variants of docs/protocol/README.md#variants."""

    def __init__(
        self,
        url: str,
        rsa_spki_b64: str,
        *,
        key_len: int = 117,
        suffix: str = "",
        space: str = "+",
        pad: bool = True,
        mid: str | None = None,
    ) -> None:
        self.url = url
        self.rsa = RSA.import_key(base64.b64decode(rsa_spki_b64))
        self.key_len, self.suffix, self.space, self.pad = key_len, suffix, space, pad
        self.mid = mid or "".join(random.choice("0123456789abcdef") for _ in range(32))
        self.androidid = "".join(random.choice("0123456789abcdef") for _ in range(16))
        self.last_key8 = b""

    def envelope(self, inner: dict[str, str]) -> dict[str, str]:
        inner = dict(inner)
        inner["sig"] = sig(inner, self.suffix)
        enc = quote_plus if self.space == "+" else quote
        plain = "&".join(f"{k}={enc(v, safe='')}" for k, v in inner.items())
        key_string = "".join(random.choice(ALNUM) for _ in range(self.key_len))
        key8 = key_string[-8:].encode()
        self.last_key8 = key8
        parad = base64.b64encode(des_cbc(plain.encode(), key8)).decode()
        key = base64.b64encode(PKCS1_v1_5.new(self.rsa).encrypt(key_string.encode())).decode()
        if not self.pad:
            parad, key = parad.rstrip("="), key.rstrip("=")
        return {
            "method": inner.get("method", ""),
            "from": "mpl_cloudsmartoem_and",
            "device_lang": "zh-CN",
            "quc_lang": "en",
            "trace_id": inner.get("trace_id", ""),
            "parad": parad,
            "key": key,
        }

    def login_params(self, username: str, password: str, **extra: str) -> dict[str, str]:
        ms = str(int(time.time() * 1000))
        p = base_params(self.mid, self.androidid)
        p.update(
            {
                "loginType": "801",
                "vt_guid": ms,
                "is_keep_alive": "1",
                "needDeviceCheck": "1",
                "trace_id": f"src_and_1217_{ms}",
                "method": "UserIntf.login",
                "head_type": "q",
                "sec_type": "bool",
                "fields": "qid,username,nickname,loginemail,head_pic,mobile",
                "username": username,
                "password": md5(password),
            }
        )
        p.update(extra)
        return p

    async def call(
        self, http: aiohttp.ClientSession, form: dict[str, str]
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        async with http.post(
            self.url, data=form, headers={"User-Agent": "Botslab/2.28.5 (Android)"}
        ) as resp:
            outer = await resp.json(content_type=None)
        inner = None
        if outer.get("ret"):
            inner = json.loads(des_cbc_decrypt(base64.b64decode(outer["ret"]), self.last_key8))
        return outer, inner

    async def login(
        self, http: aiohttp.ClientSession, username: str, password: str, **extra: str
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        return await self.call(http, self.envelope(self.login_params(username, password, **extra)))

    async def captcha(self, http: aiohttp.ClientSession) -> tuple[bytes, str]:
        ms = str(int(time.time() * 1000))
        p = base_params(self.mid, self.androidid)
        p.update({"vt_guid": ms, "trace_id": f"src_and_1217_{ms}", "method": "UserIntf.getCaptcha"})
        async with http.post(self.url, data=self.envelope(p)) as resp:
            return await resp.read(), unquote(resp.headers.get("sc", ""))


def tokens(inner: dict[str, Any]) -> tuple[str, str]:
    user = inner["user"]
    # as received: URL-encoded (docs/protocol/cloud-api.md#account-login)
    return str(user["q"]), str(user["t"])


class ApiCaller:
    """Signs and authorises sapp-api calls (docs/protocol/cloud-api.md#gateway)."""

    def __init__(
        self,
        api_url: str,
        q: str = "",
        t: str = "",
        *,
        m2: str | None = None,
        spaces: bool = False,
        hex_nonce: bool = False,
    ) -> None:
        self.api_url = api_url
        self.q, self.t, self.sid = q, t, ""
        self.m2 = m2 or "".join(random.choice("0123456789abcdef") for _ in range(32))
        self.spaces, self.hex_nonce = spaces, hex_nonce

    def query(
        self, *, sign_ts: int | None = None, sign_no: str | None = None, bad_sign: bool = False
    ) -> dict[str, str]:
        ts = str(int(time.time()) if sign_ts is None else sign_ts)
        if sign_no is None:
            sign_no = (
                "".join(random.choice("0123456789abcdef") for _ in range(32))
                if self.hex_nonce
                else "".join(random.choice(ALNUM) for _ in range(20))
            )
        sign = md5("botslabadr" + self.m2 + ts + sign_no + APP_SECRET)
        if bad_sign:
            sign = "0" * 32
        return {
            "m2": self.m2,
            "appkey": "botslabadr",
            "appver": "2.28.5",
            "sign": sign,
            "sign_ts": ts,
            "sign_no": sign_no,
            "ci_brand": "Google",
            "ci_model": "Pixel 7",
            "ci_net": "wifi",
            "ci_osver": "11",
            "appch": "botslabadr",
            "ci_lang": "en-US",
            "ci_tz": "UTC",
            "app_type_id": "1",
            "ci_cy": "DE",
            "appflag": "botslab",
        }

    def headers(self) -> dict[str, str]:
        if not (self.q and self.t):
            return {}
        obj: dict[str, str] = {"Q": self.q, "T": self.t}
        if self.sid:
            obj["sid"] = self.sid
        text = json.dumps(obj) if self.spaces else json.dumps(obj, separators=(",", ":"))
        return {"Authorization": "jws " + base64.b64encode(text.encode()).decode()}

    async def get(
        self, http: aiohttp.ClientSession, path: str, params: dict[str, Any] | None = None, **q: Any
    ) -> dict[str, Any]:
        query = self.query(**q)
        query.update({k: str(v) for k, v in (params or {}).items()})
        async with http.get(self.api_url + path, params=query, headers=self.headers()) as resp:
            return await resp.json(content_type=None)

    async def post(
        self, http: aiohttp.ClientSession, path: str, form: dict[str, Any] | None = None, **q: Any
    ) -> dict[str, Any]:
        data = {
            k: v if isinstance(v, str) else json.dumps(v) if isinstance(v, dict) else str(v)
            for k, v in (form or {}).items()
        }
        async with http.post(
            self.api_url + path, params=self.query(**q), data=data, headers=self.headers()
        ) as resp:
            return await resp.json(content_type=None)

    async def app_login(self, http: aiohttp.ClientSession) -> dict[str, Any]:
        answer = await self.post(http, "/v1/app/login")
        if answer["code"] == 0:
            self.sid = answer["data"]["sid"]
        return answer


# --- QPush frames -----------------------------------------------------------------------------


def push_frame(
    opcode: int, props: dict[str, str] | None = None, body: bytes | None = None
) -> bytes:
    head = struct.pack(">HH", 5, opcode)
    if opcode == 0:
        return head
    block = "\n".join(f"{k}:{v}" for k, v in (props or {}).items()).encode()
    out = head + struct.pack(">H", len(block)) + block
    if opcode == 3:
        out += struct.pack(">I", len(body or b"")) + (body or b"")
    return out


async def read_push_frame(
    reader: asyncio.StreamReader, timeout: float = 5.0
) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readexactly(4), timeout)
    version, opcode = struct.unpack(">HH", head)
    assert version == 5
    if opcode in (0, 1):
        return opcode, {}, b""
    (length,) = struct.unpack(">H", await asyncio.wait_for(reader.readexactly(2), timeout))
    block = (await asyncio.wait_for(reader.readexactly(length), timeout)).decode()
    props = dict(line.split(":", 1) for line in block.split("\n") if line)
    body = b""
    if opcode == 3:
        (blen,) = struct.unpack(">I", await asyncio.wait_for(reader.readexactly(4), timeout))
        body = await asyncio.wait_for(reader.readexactly(blen), timeout)
    return opcode, props, body
