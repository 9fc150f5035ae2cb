"""How webhooks reach partners: only public addresses, checked when connecting.

A URL's host name is accepted when the subscription is made and judged here at every new
connection, on the addresses it resolves to then: a name can be pointed at an internal address
later (DNS rebinding). The connection goes to an address so checked, while TLS (SNI, the
certificate) and the Host header keep the URL's name."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable

import httpcore
import httpx

from yts_notifications.domain import IPAddress, ip_literal, resolution_problem

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The addresses the operating system's resolver gives for ``host``, in its order."""
    literal = ip_literal(host)
    if literal is not None:
        return [literal]
    found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(sockaddr[0]) for *_, sockaddr in found))


class DestinationRefused(Exception):
    """The host resolved to an address a webhook may not go to; nothing was connected."""


class PublicOnlyNetwork(httpcore.AsyncNetworkBackend):
    """httpcore's network for webhooks: resolves each new connection's host itself, refuses it
    when any address is not public, and connects to the addresses it checked. TLS still names
    the URL's host (SNI and certificate), since httpcore hands it to ``start_tls``."""

    def __init__(self, resolver: Resolver, *, allow_loopback: bool) -> None:
        self.resolver = resolver
        self.allow_loopback = allow_loopback
        self.network = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self.resolver(host, port)
        except OSError as error:
            raise httpcore.ConnectError(f"{host} could not be resolved: {error}") from error
        problem = resolution_problem(host, addresses, allow_loopback=self.allow_loopback)
        if problem is not None:
            raise DestinationRefused(problem)
        failure: Exception = httpcore.ConnectError(f"{host} resolves to no address")
        for address in addresses:
            try:
                return await self.network.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error  # the next address may answer
        raise failure

    async def sleep(self, seconds: float) -> None:
        await self.network.sleep(seconds)


class PublicOnlyTransport(httpx.AsyncHTTPTransport):
    def __init__(self, network: PublicOnlyNetwork, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        # httpx 0.28 takes no network backend (encode/httpx#3749 proposes one): the pool it
        # made is replaced by the same pool on ours, keeping httpx's mapping of errors and
        # streams. The connect-time tests fail if this stops taking effect.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=network,
        )
