"""The emulator process: one aiohttp server for every HTTP host, one TCP server for push."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web

from . import codes, quc
from .cloud import Cloud
from .control import add_control_routes
from .gateway import add_gateway_routes
from .live.http import add_live_routes
from .replay import DISPATCHER, make, reshape
from .seed import seed_demo
from .world import World


class Emulator(Cloud):
    """A faithful local BOTSLAB cloud. Use as `async with Emulator() as emu:`."""

    def __init__(
        self,
        world: World | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        push_port: int = 0,
        state_path: Path | None = None,
        demo: bool = False,
    ) -> None:
        stored = world is None and state_path is not None and state_path.exists()
        super().__init__(world, host=host, port=port, push_port=push_port, state_path=state_path)
        self._demo = demo and not stored
        self._runner: web.AppRunner | None = None

    # --- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> Emulator:
        if self._demo:
            await seed_demo(self)
        app = web.Application(middlewares=[self._faults_mw], client_max_size=256 * 1024)
        self._routes(app)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        await self.push.start()
        await self.live.start()
        return self

    async def stop(self) -> None:
        await self.live.stop()
        await self.push.stop()
        self.net.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.oss.close()
        self.save()

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- HTTP -----------------------------------------------------------------------------
    @web.middleware
    async def _faults_mw(self, request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path
        self.counters.hit(path)
        if path.startswith("/_emulator/"):  # the control API is not the cloud: never slowed
            control: web.StreamResponse = await handler(request)
            return control
        far = self.net.active
        if far:  # the cloud far away: the request takes half a round trip
            await asyncio.sleep(self.net.one_way())
        try:
            return await self._cloud_answer(request, handler, path)
        finally:
            if far:
                # and every answer the other half (a fault's, a raised 404 or 413 too): the
                # cloud answers from what it holds when the request reaches it, not a whole
                # round trip after it was sent (a list fetched then must not show what was
                # made while its answer was on its way back)
                await asyncio.sleep(self.net.one_way())

    async def _cloud_answer(
        self, request: web.Request, handler: Any, path: str
    ) -> web.StreamResponse:
        f = self.faults
        if f.delay_ms and path.startswith(f.delay_path):
            await asyncio.sleep(f.delay_ms / 1000)
        if f.errors_left > 0 and path.startswith(f.error_path):
            f.errors_left -= 1
            headers = {"Retry-After": f.error_retry_after} if f.error_retry_after else None
            return web.Response(status=f.error_status, text="Service Unavailable", headers=headers)
        if f.code_path and path.startswith(f.code_path):
            return web.json_response(
                {"code": f.code_answer, "msg": "error", "data": None}, status=f.code_status
            )
        response: web.StreamResponse = await handler(request)
        return response

    def _routes(self, app: web.Application) -> None:
        async def quc_handler(request: web.Request) -> web.StreamResponse:
            return await quc.handle_request(request, self)

        app.router.add_post("/quc/{region}/request.php", quc_handler)
        add_gateway_routes(app, self)
        app.router.add_get("/v1/list/ip", self._dispatcher)
        app.router.add_get("/oss/{bucket}/{obj:.+}", self.oss.serve)
        app.router.add_get("/oss-hop/{hop:[0-9]{1,3}}/{bucket}/{obj:.+}", self.oss.serve)
        add_control_routes(app, self)
        add_live_routes(app, self.live, self.world)
        app.router.add_route("*", "/api/{region}/{tail:.*}", self._not_found)

    async def _not_found(self, request: web.Request) -> web.Response:
        shape = self.replay.get("/" + request.match_info["tail"])
        if shape is not None:  # a path of a field report that the emulator does not serve
            return web.json_response(make(shape))
        return web.json_response(
            {"code": codes.NOT_FOUND, "msg": "not found", "data": None}, status=404
        )

    async def _dispatcher(self, request: web.Request) -> web.Response:
        if request.query.get("appId") not in {"venqoyon9hcc", "gqrwex6nq54m"}:
            return web.json_response({"code": 1, "msg": "unknown appId", "data": []})
        if not request.query.get("device_id"):
            return web.json_response({"code": 1, "msg": "device_id required", "data": []})
        server: dict[str, Any] = {
            "ip": self.faults.dispatcher_ip or self.push.host,
            "p": self.push.port,
        }
        # no `p`, or 0: the client must then take port 80 (here: the config's push_port)
        if self.faults.dispatcher_omit_port:
            del server["p"]
        elif self.faults.dispatcher_port_zero:
            server["p"] = 0
        answer: dict[str, Any] = {"code": 0, "data": [server]}
        if DISPATCHER in self.replay:  # a field report's shape (replay.py)
            answer = reshape(answer, self.replay[DISPATCHER])
        return web.json_response(answer)


__all__ = ["Emulator"]
