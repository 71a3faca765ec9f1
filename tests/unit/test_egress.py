"""Egress policy: webhook URLs are chosen by outsiders, so they must not reach Hookline's own
network. Every DNS lookup here goes to a fake resolver, except resolving ``localhost``; every
connection goes to a receiver on loopback."""

from __future__ import annotations

import pickle
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from hypothesis import given
from hypothesis import strategies as st

from hookline.delivery.egress import (
    EgressBlocked,
    EgressPolicy,
    PolicyResolver,
    egress_block_reason,
    resolve_and_check,
)
from hookline.delivery.request import PreparedRequest
from hookline.delivery.sender import Sender
from hookline.models import ErrorKind
from tests.support.api import make_settings

LOOPBACK = EgressPolicy.from_cidrs("127.0.0.0/8")

BLOCKED_URLS = [
    "http://127.0.0.1/",
    "http://2130706433/",
    "http://127.1/",
    "http://0x7f.1/",
    "http://0177.0.0.1/",
    "http://0x7f000001/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::1]/",
    "http://[::ffff:7f00:1]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://100.64.0.1/",
    "http://[fd00::1]/",
    "http://[fe80::1%25eth0]/",
    "http://0.0.0.0/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:7f00:1::]/",
    "http://[::127.0.0.1]/",
    "http://255.255.255.255/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://192.0.0.8/",
    "http://192.0.2.1/",
    "http://198.18.0.1/",
    "http://198.51.100.1/",
    "http://203.0.113.1/",
    "http://[2001:db8::1]/",
    "http://[ff02::1]/",
    "http://[::]/",
    "http://[2001::1]/",
    "http://[100::1]/",
    "http://127.0.0.1./",
    "http://0x7F.0.0.1:8080/hook?x=1",
]
PUBLIC_URLS = [
    "http://93.184.216.34/",
    "http://[2606:4700::1111]/",
    "https://8.8.8.8:8443/hook",
    "http://[::ffff:93.184.216.34]/",
    "http://[64:ff9b::808:808]/",
    "http://[2002:808:808::]/",
]

# The block list as the requirements state it, kept apart from the module's own table.
BLOCKED_IPV4_NETWORKS = [
    IPv4Network(cidr)
    for cidr in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
]


class FakeResolver(AbstractResolver):
    """Answers host names from a script, one answer per lookup in turn (the last one repeats),
    and records every lookup; never touches the network."""

    def __init__(self, answers: dict[str, Sequence[Sequence[str]]]) -> None:
        self.answers = {host: list(script) for host, script in answers.items()}
        self.lookups: list[tuple[str, int]] = []

    @classmethod
    def fixed(cls, host: str, *addresses: str) -> FakeResolver:
        return cls({host: [addresses]})

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.lookups.append((host, family))
        script = self.answers.get(host)
        if not script:
            raise OSError(f"fake resolver: no answer for {host}")
        addresses = script.pop(0) if len(script) > 1 else script[0]
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        pass


@dataclass
class Receiver:
    """A real HTTP server on a loopback address that records the bodies it receives."""

    host: str
    port: int
    bodies: list[bytes] = field(default_factory=list)

    def url(self, host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}/hook"


StartReceiver = Callable[..., Awaitable[Receiver]]


@pytest.fixture
async def start_receiver() -> AsyncIterator[StartReceiver]:
    runners: list[web.AppRunner] = []

    async def start(host: str = "127.0.0.1", redirect_to: str | None = None) -> Receiver:
        receiver = Receiver(host, 0)

        async def record(request: web.Request) -> web.StreamResponse:
            receiver.bodies.append(await request.read())
            if redirect_to is not None:
                raise web.HTTPTemporaryRedirect(redirect_to)
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", record)
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, host, 0).start()
        receiver.port = runner.addresses[0][1]
        return receiver

    yield start
    for runner in runners:
        await runner.cleanup()


@asynccontextmanager
async def policy_session(
    policy: EgressPolicy,
    inner: AbstractResolver,
    *,
    use_dns_cache: bool = True,
) -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(
        resolver=PolicyResolver(policy, inner), use_dns_cache=use_dns_cache
    )
    async with aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=5),
    ) as session:
        yield session


# URL literals, checked when an endpoint is created


@pytest.mark.parametrize("url", BLOCKED_URLS)
def test_every_spelling_of_a_blocked_address_is_refused(url: str) -> None:
    with pytest.raises(EgressBlocked):
        EgressPolicy().check_url_literal(url)


@pytest.mark.parametrize("url", PUBLIC_URLS)
def test_public_address_literal_is_accepted(url: str) -> None:
    EgressPolicy().check_url_literal(url)


def test_host_name_is_left_to_the_resolver() -> None:
    EgressPolicy().check_url_literal("https://hooks.example.test/in")


@pytest.mark.parametrize("url", ["/relative/path", "mailto:ops@example.test", "http:///x"])
def test_url_without_host_is_invalid(url: str) -> None:
    with pytest.raises(ValueError, match="has no host"):
        EgressPolicy().check_url_literal(url)


def test_refusal_says_what_the_address_is_and_how_to_allow_it() -> None:
    with pytest.raises(EgressBlocked) as refused:
        EgressPolicy().check_url_literal("http://127.0.0.1/")

    assert refused.value.reason == (
        "127.0.0.1 is a loopback address "
        "(blocked by egress policy; allow it with HOOKLINE_EGRESS_ALLOW)"
    )


def test_refusal_of_an_odd_spelling_names_the_address_it_means() -> None:
    with pytest.raises(EgressBlocked, match=r"^0x7f\.1 is 127\.0\.0\.1, which is a loopback"):
        EgressPolicy().check_url_literal("http://0x7f.1/")


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0X7F.0x0.0.01", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("0xffffffff", "255.255.255.255"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("::ffff:7f00:1", "::ffff:7f00:1"),
        ("[::1]", "::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("fe80::1%25eth0", "fe80::1"),
        ("[FE80::1%25eth0]", "fe80::1"),
    ],
)
def test_literal_host_address_reads_every_numeric_spelling(host: str, address: str) -> None:
    assert EgressPolicy.literal_host_address(host) == ip_address(address)


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "localhost",
        "deadbeef",
        "0x7f.example",
        "09.1",
        "256.0.0.1",
        "1.2.3.4.5",
        "4294967296",
        "1e3",
        "",
        "::nonsense",
    ],
)
def test_literal_host_address_is_none_for_host_names(host: str) -> None:
    assert EgressPolicy.literal_host_address(host) is None


# The allow list


def test_allowed_network_overrides_the_block_list() -> None:
    policy = EgressPolicy.from_cidrs("127.0.0.0/8,::1/128")

    for url in ("http://127.0.0.1/", "http://2130706433/", "http://0x7f.1/", "http://[::1]/"):
        policy.check_url_literal(url)


def test_allowing_ipv4_loopback_leaves_ipv6_loopback_blocked() -> None:
    assert LOOPBACK.blocked_reason("::1") is not None


def test_allowed_ipv4_network_allows_its_ipv4_mapped_form() -> None:
    assert LOOPBACK.blocked_reason("::ffff:127.0.0.1") is None


def test_allowed_ipv4_network_does_not_open_tunnelled_forms_of_it() -> None:
    # NAT64 and 6to4 reach the IPv4 address on a translator's network, not this machine's.
    assert LOOPBACK.blocked_reason("64:ff9b::7f00:1") is not None
    assert LOOPBACK.blocked_reason("2002:7f00:1::") is not None


def test_from_cidrs_accepts_a_comma_separated_string_or_a_list() -> None:
    expected = (IPv4Network("10.1.0.0/16"), IPv6Network("::1/128"))

    assert EgressPolicy.from_cidrs(" 10.1.0.0/16 , ::1/128, ").allow == expected
    assert EgressPolicy.from_cidrs(["10.1.0.0/16", "::1/128"]).allow == expected
    assert EgressPolicy.from_cidrs("").allow == ()


def test_from_cidrs_reads_a_bare_address_as_a_single_host() -> None:
    assert EgressPolicy.from_cidrs("10.0.0.7").allow == (IPv4Network("10.0.0.7/32"),)


@pytest.mark.parametrize(
    ("cidrs", "message"),
    [
        ("localhost", r"'localhost' in HOOKLINE_EGRESS_ALLOW is not a network in CIDR notation"),
        ("10.0.0.0/33", r"'10.0.0.0/33' .* is not a network in CIDR notation"),
        ("127.0.0.0/8,fe80::/x", r"'fe80::/x' .* is not a network in CIDR notation"),
        ("127.0.0.1/8", r"'127.0.0.1/8' .* has host bits set; did you mean 127\.0\.0\.0/8\?"),
    ],
)
def test_from_cidrs_rejects_what_is_not_a_network(cidrs: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EgressPolicy.from_cidrs(cidrs)


def test_blocked_reason_of_a_non_address_is_an_error() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        EgressPolicy().blocked_reason("example.com")


# Properties


blocked_ipv4 = st.sampled_from(BLOCKED_IPV4_NETWORKS).flatmap(
    lambda network: st.builds(
        IPv4Address,
        st.integers(int(network.network_address), int(network.broadcast_address)),
    )
)


@given(blocked_ipv4)
def test_every_address_in_a_blocked_ipv4_network_is_blocked_in_ipv4_mapped_form(
    address: IPv4Address,
) -> None:
    policy = EgressPolicy()

    assert policy.blocked_reason(address) is not None
    assert policy.blocked_reason(IPv6Address(f"::ffff:{address}")) is not None


@given(st.builds(IPv4Address, st.integers(0, 2**32 - 1)))
def test_ipv4_mapped_form_is_judged_like_the_ipv4_address(address: IPv4Address) -> None:
    policy = EgressPolicy()
    mapped = IPv6Address(f"::ffff:{address}")

    assert (policy.blocked_reason(mapped) is None) == (policy.blocked_reason(address) is None)


def _spell(value: int, radix: str) -> str:
    return {"dec": str(value), "oct": f"0{value:o}", "hex": f"0x{value:x}", "HEX": f"0X{value:X}"}[
        radix
    ]


@st.composite
def ipv4_spellings(draw: st.DrawFn) -> tuple[IPv4Address, str]:
    """An IPv4 address and one of its inet_aton spellings: 1 to 4 parts, each in any radix."""
    value = draw(st.integers(0, 2**32 - 1))
    count = draw(st.integers(1, 4))
    radixes = draw(st.lists(st.sampled_from(["dec", "oct", "hex", "HEX"]), min_size=4, max_size=4))
    octets = value.to_bytes(4, "big")
    last = value & ((1 << (8 * (5 - count))) - 1)
    parts = [*octets[: count - 1], last]
    return IPv4Address(value), ".".join(_spell(p, r) for p, r in zip(parts, radixes, strict=False))


@given(ipv4_spellings())
def test_integer_spellings_parse_to_the_address_the_c_library_would_use(
    case: tuple[IPv4Address, str],
) -> None:
    address, spelling = case

    assert EgressPolicy.literal_host_address(spelling) == address
    assert socket.inet_aton(spelling) == address.packed


# The resolver


async def test_name_resolving_to_loopback_is_refused() -> None:
    resolver = PolicyResolver(EgressPolicy(), FakeResolver.fixed("hooks.example.test", "127.0.0.1"))

    with pytest.raises(EgressBlocked, match=r"hooks\.example\.test resolves to 127\.0\.0\.1"):
        await resolver.resolve("hooks.example.test", 443)


async def test_name_resolving_to_one_public_and_one_private_address_is_refused() -> None:
    inner = FakeResolver.fixed("hooks.example.test", "93.184.216.34", "10.0.0.5")
    resolver = PolicyResolver(EgressPolicy(), inner)

    with pytest.raises(EgressBlocked, match=r"10\.0\.0\.5, which is a private"):
        await resolver.resolve("hooks.example.test", 443)


async def test_name_resolving_to_public_addresses_gives_exactly_those_addresses() -> None:
    inner = FakeResolver.fixed("hooks.example.test", "93.184.216.34", "2606:4700:0::1111")
    resolver = PolicyResolver(EgressPolicy(), inner)

    answers = await resolver.resolve("hooks.example.test", 443)

    assert [(a["host"], a["port"]) for a in answers] == [
        ("93.184.216.34", 443),
        ("2606:4700::1111", 443),
    ]


async def test_rebinding_name_connects_only_to_the_answer_that_was_checked() -> None:
    inner = FakeResolver({"rebind.example.test": [["93.184.216.34"], ["169.254.169.254"]]})
    resolver = PolicyResolver(EgressPolicy(), inner)

    first = await resolver.resolve("rebind.example.test", 80)
    with pytest.raises(EgressBlocked, match="cloud metadata"):
        await resolver.resolve("rebind.example.test", 80)

    assert [answer["host"] for answer in first] == ["93.184.216.34"]
    assert len(inner.lookups) == 2


@pytest.mark.parametrize("host", ["0x7f.1", "0x7f000001", "2130706433", "127.1"])
async def test_numeric_host_name_is_refused_without_a_dns_lookup(host: str) -> None:
    inner = FakeResolver({})
    resolver = PolicyResolver(EgressPolicy(), inner)

    with pytest.raises(EgressBlocked, match=rf"^{host} means 127\.0\.0\.1, which is a loopback"):
        await resolver.resolve(host, 80)
    assert inner.lookups == []


async def test_allowed_numeric_host_name_resolves_to_the_address_it_spells() -> None:
    inner = FakeResolver({})
    resolver = PolicyResolver(LOOPBACK, inner)

    answers = await resolver.resolve("0x7f.1", 8080, family=socket.AF_UNSPEC)

    assert [(a["host"], a["port"], a["family"]) for a in answers] == [
        ("127.0.0.1", 8080, socket.AF_INET)
    ]
    assert inner.lookups == []


async def test_resolver_answer_that_is_not_an_address_is_refused() -> None:
    resolver = PolicyResolver(LOOPBACK, FakeResolver.fixed("odd.example.test", "0x7f.1"))

    with pytest.raises(EgressBlocked, match="not an IP address"):
        await resolver.resolve("odd.example.test", 80)


async def test_localhost_is_refused_by_default() -> None:
    with pytest.raises(EgressBlocked, match=r"localhost resolves to 127\.0\.0\.1"):
        await PolicyResolver(EgressPolicy()).resolve("localhost", 80)


async def test_localhost_resolves_when_loopback_is_allowed() -> None:
    answers = await PolicyResolver(LOOPBACK).resolve("localhost", 80)

    assert {answer["host"] for answer in answers} == {"127.0.0.1"}


async def test_resolve_and_check_returns_the_checked_addresses_of_both_families() -> None:
    inner = FakeResolver.fixed("hooks.example.test", "93.184.216.34", "2606:4700::1111")

    addresses = await resolve_and_check(EgressPolicy(), "hooks.example.test", 443, resolver=inner)

    assert addresses == [ip_address("93.184.216.34"), ip_address("2606:4700::1111")]
    assert inner.lookups == [("hooks.example.test", socket.AF_UNSPEC)]


async def test_resolve_and_check_refuses_a_name_with_a_blocked_address() -> None:
    inner = FakeResolver.fixed("hooks.example.test", "93.184.216.34", "fd00::1")

    with pytest.raises(EgressBlocked, match="unique-local"):
        await resolve_and_check(EgressPolicy(), "hooks.example.test", 443, resolver=inner)


# Finding a refusal inside aiohttp's errors


def test_egress_blocked_survives_pickling_with_its_reason() -> None:
    copy = pickle.loads(pickle.dumps(EgressBlocked("10.0.0.1 is a private address")))

    assert isinstance(copy, EgressBlocked)
    assert isinstance(copy, OSError)
    assert copy.reason == "10.0.0.1 is a private address"


def test_block_reason_is_found_behind_cause_context_and_os_error() -> None:
    blocked = EgressBlocked("nope")
    wrapped = aiohttp.ClientOSError(*blocked.args)
    wrapped.__cause__ = blocked
    in_context = RuntimeError("while sending")
    in_context.__context__ = wrapped
    key = aiohttp.client_reqrep.ConnectionKey("h", 80, False, True, None, None, None)

    assert egress_block_reason(in_context) == "nope"
    assert egress_block_reason(aiohttp.ClientConnectorDNSError(key, blocked)) == "nope"
    assert egress_block_reason(ExceptionGroup("many", [ValueError(), blocked])) == "nope"


def test_block_reason_is_none_for_other_failures() -> None:
    looping = OSError("connection refused")
    looping.__context__ = looping

    assert egress_block_reason(looping) is None


# Real deliveries through aiohttp to a receiver on loopback


async def test_delivery_to_a_name_resolving_to_loopback_never_reaches_the_receiver(
    start_receiver: StartReceiver,
) -> None:
    receiver = await start_receiver()
    inner = FakeResolver.fixed("hooks.example.test", "127.0.0.1")

    async with policy_session(EgressPolicy(), inner) as session:
        with pytest.raises(aiohttp.ClientConnectorDNSError) as failed:
            await session.post(receiver.url("hooks.example.test"), data=b"{}")

    assert isinstance(failed.value.os_error, EgressBlocked)
    assert "is a loopback address" in (egress_block_reason(failed.value) or "")
    assert receiver.bodies == []


async def test_delivery_to_a_name_resolving_to_allowed_loopback_arrives(
    start_receiver: StartReceiver,
) -> None:
    receiver = await start_receiver()
    inner = FakeResolver.fixed("hooks.example.test", "127.0.0.1")

    async with policy_session(LOOPBACK, inner) as session:
        async with session.post(receiver.url("hooks.example.test"), data=b"{}") as response:
            assert response.status == 200

    assert receiver.bodies == [b"{}"]


async def test_hex_host_is_refused_by_our_resolver_without_dns(
    start_receiver: StartReceiver,
) -> None:
    # aiohttp takes only all-digit hosts for IP literals, so "0x7f.1" goes to the resolver.
    receiver = await start_receiver()
    inner = FakeResolver({})

    async with policy_session(EgressPolicy(), inner) as session:
        with pytest.raises(aiohttp.ClientConnectorDNSError) as failed:
            await session.post(receiver.url("0x7f.1"), data=b"{}")

    assert (egress_block_reason(failed.value) or "").startswith("0x7f.1 means 127.0.0.1")
    assert inner.lookups == []
    assert receiver.bodies == []


async def test_allowed_hex_host_is_delivered_to_the_address_it_spells_without_dns(
    start_receiver: StartReceiver,
) -> None:
    receiver = await start_receiver()
    inner = FakeResolver({})

    async with policy_session(LOOPBACK, inner) as session:
        async with session.post(receiver.url("0x7f.1"), data=b"{}") as response:
            assert response.status == 200

    assert inner.lookups == []
    assert receiver.bodies == [b"{}"]


async def test_rebinding_name_is_connected_to_the_checked_address_only(
    start_receiver: StartReceiver,
) -> None:
    allowed = await start_receiver("127.0.0.1")
    internal = await start_receiver("127.0.0.2")
    name = "rebind.example.test"
    inner = FakeResolver({name: [["127.0.0.1"], ["127.0.0.2"]]})
    policy = EgressPolicy.from_cidrs("127.0.0.1/32")

    async with policy_session(policy, inner, use_dns_cache=False) as session:
        async with session.post(f"http://{name}:{allowed.port}/hook", data=b"1") as response:
            assert response.status == 200
        with pytest.raises(aiohttp.ClientConnectorDNSError) as failed:
            await session.post(f"http://{name}:{internal.port}/hook", data=b"2")

    assert allowed.bodies == [b"1"]
    assert internal.bodies == []
    assert "127.0.0.2, which is a loopback" in (egress_block_reason(failed.value) or "")
    assert len(inner.lookups) == 2


def egress_sender(policy: EgressPolicy, tmp_path: Path) -> Sender:
    """The real sender, as the runtime builds it, with DNS answered by an empty fake."""
    settings = make_settings("sqlite:///unused.db", tmp_path)
    return Sender(settings, policy, resolver=FakeResolver({}))


@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "127.1", "[::ffff:127.0.0.1]"])
async def test_sender_refuses_ip_literal_urls_the_resolver_never_sees(
    start_receiver: StartReceiver, host: str, tmp_path: Path
) -> None:
    receiver = await start_receiver()

    async with egress_sender(EgressPolicy(), tmp_path) as sender:
        outcome = await sender.send(PreparedRequest(receiver.url(host), b"{}", {}), 5.0)

    assert outcome.error_kind is ErrorKind.BLOCKED
    assert not outcome.retryable
    assert receiver.bodies == []


async def test_sender_never_follows_a_redirect_to_a_blocked_literal(
    start_receiver: StartReceiver, tmp_path: Path
) -> None:
    internal = await start_receiver("127.0.0.2")
    redirecting = await start_receiver("127.0.0.1", redirect_to=internal.url())
    policy = EgressPolicy.from_cidrs("127.0.0.1/32")

    async with egress_sender(policy, tmp_path) as sender:
        outcome = await sender.send(PreparedRequest(redirecting.url(), b"{}", {}), 5.0)

    assert redirecting.bodies == [b"{}"]
    assert internal.bodies == []
    assert outcome.status_code == 307
    assert not outcome.succeeded
