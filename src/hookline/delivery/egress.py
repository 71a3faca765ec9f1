"""Safe egress: refuse to deliver webhooks to loopback, private, link-local and other
non-public addresses, unless an operator allows those networks.

Two checks guard the way out (`Sender`, over the connection pool of `http1`):

- Every connection the pool opens goes to an address its resolver handed back, and
  `PolicyResolver` checks every address a name resolves to (and parses numeric hosts in any
  spelling, which never reach DNS), handing back only those checked addresses: a DNS answer
  cannot change between the check and the connect (rebinding).
- Before that, `Sender` checks each URL's text with `EgressPolicy.check_url_literal`, so a
  blocked literal (``127.0.0.1``, ``[::1]``, ``localhost``) is refused with its reason before
  any connection, and it never follows a redirect.

`EgressBlocked` is an `OSError` that the pool lets through unwrapped (a lookup failure
becomes its `DNSError`); `egress_block_reason` finds it anywhere in an exception's chain to
classify the outcome as blocked.
"""

from __future__ import annotations

import errno
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

__all__ = [
    "ALLOW_SETTING",
    "LOCALHOST_ADDRESS",
    "EgressBlocked",
    "EgressPolicy",
    "IPAddress",
    "IPNetwork",
    "PolicyResolver",
    "egress_block_reason",
    "is_localhost",
    "resolve_and_check",
]

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

#: The setting an operator uses to allow blocked networks; named in every refusal.
ALLOW_SETTING = "HOOKLINE_EGRESS_ALLOW"
_REASON_SUFFIX = f" (blocked by egress policy; allow it with {ALLOW_SETTING})"

# First match names the reason, so specific ranges come before the ranges that contain them.
_BLOCKED_IPV4: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(cidr), kind)
    for cidr, kind in (
        ("0.0.0.0/8", 'an unspecified ("this network") address'),
        ("127.0.0.0/8", "a loopback address"),
        ("10.0.0.0/8", "a private (RFC 1918) address"),
        ("172.16.0.0/12", "a private (RFC 1918) address"),
        ("192.168.0.0/16", "a private (RFC 1918) address"),
        ("100.64.0.0/10", "a carrier-grade NAT (RFC 6598) address"),
        ("169.254.169.254/32", "the link-local cloud metadata address"),
        ("169.254.0.0/16", "a link-local address"),
        ("192.0.0.0/24", "an IETF protocol assignment address"),
        ("192.0.2.0/24", "a documentation (TEST-NET-1) address"),
        ("198.51.100.0/24", "a documentation (TEST-NET-2) address"),
        ("203.0.113.0/24", "a documentation (TEST-NET-3) address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("224.0.0.0/4", "a multicast address"),
        ("255.255.255.255/32", "the broadcast address"),
        ("240.0.0.0/4", "a reserved address"),
    )
)
_BLOCKED_IPV6: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(cidr), kind)
    for cidr, kind in (
        ("::/128", "the unspecified address"),
        ("::1/128", "a loopback address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address"),
        ("fc00::/7", "a unique-local address"),
        ("ff00::/8", "a multicast address"),
        ("2001:db8::/32", "a documentation address"),
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
    )
)
_NOT_GLOBAL = "an address that is not globally routable"

# IPv6 forms that carry an IPv4 address in their last 32 bits (6to4 is handled by `sixtofour`).
_IPV4_COMPATIBLE = IPv6Network("::/96")
_NAT64 = IPv6Network("64:ff9b::/96")

# One part of an inet_aton-style IPv4 address: 0x-hex, 0-octal or decimal.
_IPV4_PART = re.compile(r"0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*")
_WHITESPACE = re.compile(r"\s")
_NUMERIC_FLAGS = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
#: What ``localhost`` names are checked as, before and without any DNS lookup.
LOCALHOST_ADDRESS = IPv4Address("127.0.0.1")


class EgressBlocked(OSError):
    """The destination is not allowed by the egress policy."""

    def __init__(self, reason: str) -> None:
        # (errno, strerror) so aiohttp's wrappers, which copy errno and strerror, show the reason.
        super().__init__(errno.EACCES, reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason

    def __reduce__(self) -> tuple[type[EgressBlocked], tuple[str]]:
        return (type(self), (self.reason,))


@dataclass(frozen=True)
class EgressPolicy:
    """Which destinations Hookline may deliver to: all public addresses, plus `allow`."""

    allow: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_cidrs(cls, cidrs: str | Iterable[str]) -> EgressPolicy:
        """Build a policy from a comma-separated string or a list of CIDRs ("" allows nothing)."""
        items = cidrs.split(",") if isinstance(cidrs, str) else cidrs
        return cls(allow=tuple(_parse_network(item.strip()) for item in items if item.strip()))

    def blocked_reason(self, ip: IPAddress | str) -> str | None:
        """Why `ip` may not be reached, in words for the operator; None if it may."""
        address = _as_address(ip)
        kind = self._blocked_kind(address)
        return None if kind is None else f"{_unscoped(address)} is {kind}{_REASON_SUFFIX}"

    def explicitly_allows(self, ip: IPAddress | str) -> bool:
        """Whether `ip` is in a network the operator allowed, as opposed to merely public."""
        return self._allows(_unscoped(_as_address(ip)))

    def allows_plain_http(self, host: str) -> bool:
        """Production mode sends plain http:// only to hosts that are, without a DNS lookup,
        addresses in a network the operator allowed (or `localhost` when loopback is)."""
        address = self.literal_host_address(host)
        if address is None and is_localhost(host):
            address = LOCALHOST_ADDRESS
        return address is not None and self.explicitly_allows(address)

    def check_ip(self, ip: IPAddress | str) -> None:
        """Raise EgressBlocked unless `ip` may be reached."""
        reason = self.blocked_reason(ip)
        if reason is not None:
            raise EgressBlocked(reason)

    @staticmethod
    def literal_host_address(host: str) -> IPAddress | None:
        """The address a numeric host means, in any spelling the C library accepts
        (``127.1``, ``0x7f.1``, ``0177.0.0.1``, ``2130706433``, ``[::ffff:127.0.0.1]``,
        ``fe80::1%eth0``); None for a host name."""
        text = host.strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        if ":" in text:
            # The zone (``%eth0``, or ``%25eth0`` as written in URLs) only picks an interface.
            try:
                return IPv6Address(text.partition("%")[0])
            except ValueError:
                return None
        return _parse_inet_aton(text)

    def check_url_literal(self, url: str | URL) -> None:
        """Raise EgressBlocked if the URL's host is a blocked numeric address; no DNS lookup.

        Host names pass here (`PolicyResolver` checks them when the delivery connects), except
        ``localhost`` and ``*.localhost``, which are loopback by definition (RFC 6761).
        """
        parsed = url if isinstance(url, URL) else URL(url)
        host = parsed.raw_host
        if not host:
            raise ValueError(f"URL {str(url)!r} has no host")
        address = self.literal_host_address(host)
        if address is None:
            if ":" in host:
                raise ValueError(f"{host!r} in URL {str(url)!r} is not a valid IPv6 address")
            if is_localhost(host):
                self._check_host(host, LOCALHOST_ADDRESS, verb="means")
            return
        self._check_host(host, address, verb="is")

    def _check_host(self, host: str, address: IPAddress, *, verb: str) -> None:
        """Raise EgressBlocked naming both the host as written and the address it means."""
        kind = self._blocked_kind(address)
        if kind is None:
            return
        shown = _unscoped(address)
        if host.strip("[]") == str(shown):
            raise EgressBlocked(f"{shown} is {kind}{_REASON_SUFFIX}")
        raise EgressBlocked(f"{host} {verb} {shown}, which is {kind}{_REASON_SUFFIX}")

    def _allows(self, address: IPAddress) -> bool:
        return any(address in network for network in self.allow)

    def _blocked_kind(self, address: IPAddress) -> str | None:
        """What kind of blocked address this is ("a loopback address"), or None if allowed."""
        address = _unscoped(address)
        if self._allows(address):
            return None
        if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
            # The kernel sends IPv4-mapped addresses to the IPv4 address itself, so the IPv4
            # rules, allow list included, decide.
            mapped = address.ipv4_mapped
            kind = self._blocked_kind(mapped)
            return None if kind is None else f"the IPv4-mapped form of {mapped}, {kind}"
        kind = _listed_kind(address)
        if kind is not None:
            return kind
        if isinstance(address, IPv6Address):
            # Tunnels and translators deliver these to an IPv4 address on someone else's network,
            # so an allowed IPv4 network does not extend to them; only allowing the IPv6 range does.
            embedded = _embedded_ipv4(address)
            if embedded is not None:
                form, ipv4 = embedded
                ipv4_kind = _listed_kind(ipv4) or _unless_global(ipv4)
                if ipv4_kind is not None:
                    return f"{form} embedding {ipv4}, {ipv4_kind}"
        return _unless_global(address)


class PolicyResolver(AbstractResolver):
    """Resolves with an inner resolver (default aiohttp's ThreadedResolver), checks EVERY address
    returned, raises EgressBlocked if any is blocked, and returns exactly the checked addresses
    so the connection goes to a checked address (no DNS rebinding between check and connect).

    Numeric host names that aiohttp does not recognise as IP literals (``0x7f.1``) are parsed
    here and never reach DNS. Closing this resolver closes the inner one.
    """

    def __init__(self, policy: EgressPolicy, inner: AbstractResolver | None = None) -> None:
        self.policy = policy
        # Created on first use: ThreadedResolver needs a running event loop.
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        literal = EgressPolicy.literal_host_address(host)
        if literal is not None:
            self.policy._check_host(host, literal, verb="means")
            return [_literal_result(host, literal, port, family)]
        if self._inner is None:
            self._inner = ThreadedResolver()
        answers = await self._inner.resolve(host, port, family)
        # Check all before returning any: one blocked address refuses the whole name, since
        # aiohttp would fall through to the next address when the first one fails.
        return [self._checked(host, answer) for answer in answers]

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.close()

    def _checked(self, host: str, answer: ResolveResult) -> ResolveResult:
        try:
            address = ip_address(answer["host"])
        except ValueError:
            raise EgressBlocked(
                f"resolving {host} gave {answer['host']!r}, which is not an IP address"
            ) from None
        self.policy._check_host(host, address, verb="resolves to")
        checked = answer.copy()
        # The canonical spelling of the address just checked is what the socket will get.
        checked["host"] = str(address)
        return checked


async def resolve_and_check(
    policy: EgressPolicy, host: str, port: int, resolver: AbstractResolver | None = None
) -> list[IPAddress]:
    """Resolve `host` (both address families) and raise EgressBlocked if any address is blocked.

    For deliveries through a proxy, which resolves the target itself: this checks the name, but
    the proxy's own lookup may still differ, so allow only proxies that enforce their own policy.
    """
    policy_resolver = PolicyResolver(policy, resolver)
    try:
        answers = await policy_resolver.resolve(host, port, family=socket.AF_UNSPEC)
    finally:
        if resolver is None:
            await policy_resolver.close()
    return [ip_address(answer["host"]) for answer in answers]


def egress_block_reason(exc: BaseException) -> str | None:
    """The reason of an EgressBlocked anywhere in `exc`'s chain (cause, context, aiohttp's
    ``os_error``, exception groups); None if the failure was not an egress refusal."""
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, EgressBlocked):
            return current.reason
        linked: list[object] = [
            current.__cause__,
            current.__context__,
            getattr(current, "os_error", None),
        ]
        if isinstance(current, BaseExceptionGroup):
            linked.extend(current.exceptions)
        pending.extend(item for item in linked if isinstance(item, BaseException))
    return None


def is_localhost(host: str) -> bool:
    """Whether `host` is ``localhost`` or a name under it, which RFC 6761 reserves for loopback
    (resolvers may still send ``*.localhost`` to DNS, so the name itself decides)."""
    name = host.strip().lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


def _parse_network(text: str) -> IPNetwork:
    try:
        return ip_network(text)
    except ValueError as exc:
        error = exc
    try:
        loose = ip_network(text, strict=False)
    except ValueError:
        raise ValueError(
            f"{text!r} in {ALLOW_SETTING} is not a network in CIDR notation "
            f"(like 127.0.0.0/8 or ::1/128): {error}"
        ) from None
    raise ValueError(f"{text!r} in {ALLOW_SETTING} has host bits set; did you mean {loose}?")


def _parse_inet_aton(text: str) -> IPv4Address | None:
    """Parse IPv4 the way inet_aton (and so getaddrinfo) does: one to four parts, each
    decimal, 0-octal or 0x-hex, the last filling the remaining bytes."""
    # inet_aton ignores anything after whitespace; URL parsers allow one trailing dot.
    text = _WHITESPACE.split(text, maxsplit=1)[0]
    if text.endswith("."):
        text = text[:-1]
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers: list[int] = []
    for part in parts:
        if not part.isascii() or not _IPV4_PART.fullmatch(part):
            return None
        if part[:2].lower() == "0x":
            numbers.append(int(part[2:] or "0", 16))
        else:
            numbers.append(int(part, 8 if part.startswith("0") else 10))
    *leading, last = numbers
    if any(number > 0xFF for number in leading) or last >= 1 << (8 * (5 - len(numbers))):
        return None
    value = last
    for index, number in enumerate(leading):
        value |= number << (8 * (3 - index))
    return IPv4Address(value)


def _as_address(ip: IPAddress | str) -> IPAddress:
    if isinstance(ip, IPv4Address | IPv6Address):
        return ip
    address = EgressPolicy.literal_host_address(ip)
    if address is None:
        raise ValueError(f"{ip!r} is not an IP address")
    return address


def _unscoped(address: IPAddress) -> IPAddress:
    if isinstance(address, IPv6Address) and address.scope_id:
        return IPv6Address(int(address))
    return address


def _listed_kind(address: IPAddress) -> str | None:
    """The kind named by the first block-list range `address` falls in, if any."""
    table: Iterable[tuple[IPNetwork, str]] = (
        _BLOCKED_IPV4 if isinstance(address, IPv4Address) else _BLOCKED_IPV6
    )
    for network, kind in table:
        if address in network:
            return kind
    return None


def _unless_global(address: IPAddress) -> str | None:
    """Catch-all for what the list misses: whatever Python's ipaddress deems not global."""
    return None if address.is_global else _NOT_GLOBAL


def _embedded_ipv4(address: IPv6Address) -> tuple[str, IPv4Address] | None:
    if address in _IPV4_COMPATIBLE:
        return "an IPv4-compatible address", IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _NAT64:
        return "a NAT64 address", IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return "a 6to4 address", address.sixtofour
    return None


def _literal_result(
    host: str, address: IPAddress, port: int, family: socket.AddressFamily
) -> ResolveResult:
    address_family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    if family not in (socket.AF_UNSPEC, address_family):
        raise OSError(errno.EAFNOSUPPORT, f"{host} is an IPv{address.version} address")
    return ResolveResult(
        hostname=host,
        host=str(address),
        port=port,
        family=address_family,
        proto=0,
        flags=_NUMERIC_FLAGS,
    )
