"""Interoperability: python-diameter's stock client against a real OCS (issue 4, "Done when").

python-diameter (PyPI ``python-diameter``, import ``diameter``) is a Diameter stack that
shares no code with this project. Its own ``Node`` connects to ``ocs.app.run`` over
loopback and runs, with its own state machine and codec: CER/CEA, a CCR-I/U/T data
session, an SMS CCR-Event (DIRECT_DEBITING), DWR/DWA from its idle timer, and DPR/DPA
from ``Node.stop``. Every answer must decode into python-diameter's typed classes with
Result-Code 2001, the bytes the OCS sent must decode AVP by AVP in python-diameter's
codec with the M bits its dictionary expects, the balance must show exactly what was
charged, and neither side may log a decode problem.

python-diameter runs its own threads and blocking sockets; every call into it goes
through ``trio.to_thread.run_sync`` with a timeout of its own, so trio keeps serving the
OCS and a cancelled test never leaves a thread blocked for long.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
from diameter.message import Message as PdMessage
from diameter.message import constants as pd
from diameter.message.avp import AvpGrouped
from diameter.message.avp.avp import get_avp_dictionary_entry
from diameter.message.avp.grouped import (
    MultipleServicesCreditControl,
    RequestedServiceUnit,
    SubscriptionId,
    UsedServiceUnit,
)
from diameter.message.commands import (
    CapabilitiesExchangeAnswer,
    CreditControlAnswer,
    CreditControlRequest,
    DeviceWatchdogAnswer,
    DisconnectPeerAnswer,
)
from diameter.node import Node
from diameter.node.application import SimpleThreadingApplication
from diameter.node.peer import PeerConnection
from typer.testing import CliRunner

from ocs.app import Bound, run
from ocs.cli import app as cli
from ocs.config import OcsConfig
from tests.e2e.conftest import init_db

MSISDN = "491700000001"  # the demo prepaid account, 10.00 EUR
CLIENT_HOST, CLIENT_REALM = "pgw.interop.test", "interop.test"
OCS_HOST, OCS_REALM = "ocs.localdomain", "localdomain"  # OcsConfig's defaults
DATA, SMS = "32251@3gpp.org", "32274@3gpp.org"
MB = 1_000_000

#: bound for each blocking python-diameter call (CER, one request, DWR, DPR)
STEP_TIMEOUT = 10
#: python-diameter's idle timer and its select() wake-up, in whole seconds: its timers
#: are ints compared with ``>``, so a DWR leaves 2 to 3 s after the last bytes read
IDLE_TIMEOUT = 1

# python-diameter logs at WARNING for things that are not problems: its non-blocking
# connect() is "not yet ready" (EINPROGRESS); the OCS, having received the DPR, sends DPA
# and closes the transport (RFC 6733 §5.6, R-Rcv-DPR: R-Snd-DPA, R-Disc), which
# python-diameter reports as "gone away", and its application then has no peer left.
# Every other warning (received garbage, an AVP it cannot decode, failed AVP validation,
# an answer nobody waits for, a message it cannot process in its state) is a decode or
# protocol complaint and fails the test.
BENIGN_CLIENT_WARNINGS = (
    "socket not yet ready, waiting",
    "flagging app as not ready",
    "has gone away (read zero bytes)",
)
# Any OCS warning (a rejected request, a failed watchdog) fails the test; a graceful DPR
# (RFC 6733 §5.4) is logged at INFO.
BENIGN_OCS_WARNINGS: tuple[str, ...] = ()


# python-diameter's AVP dictionary calls every base AVP "mandatory", but RFC 6733 §4.5
# says the M bit MUST NOT be set on these two (its own CER clears it as well): the CEA's
# M-less Product-Name and Firmware-Revision are right.
M_BIT_MUST_NOT = frozenset({pd.AVP_PRODUCT_NAME, pd.AVP_FIRMWARE_REVISION})


def ocs_config(url: str) -> OcsConfig:
    config = OcsConfig()
    assert (config.diameter.origin_host, config.diameter.origin_realm) == (OCS_HOST, OCS_REALM)
    return replace(
        config,
        database=replace(config.database, url=url),
        listen=replace(config.listen, hosts=("127.0.0.1",), port=0),
        metrics=replace(config.metrics, port=0),
        admin_port=0,  # off: its fixed default port may be taken by another OCS
    )


def account(url: str) -> dict[str, Any]:
    """``ocs account show MSISDN --json``, as an operator would read it."""
    shown = CliRunner().invoke(cli, ["account", "show", MSISDN, "--db", url, "--json"])
    assert shown.exit_code == 0, shown.output
    view: dict[str, Any] = json.loads(shown.output)
    return view


def all_avps(avps: list[Any]) -> Iterator[Any]:
    """Every AVP of a message as received, depth first, each value decoded once."""
    for avp in avps:
        value = avp.value  # raises AvpDecodeError if python-diameter cannot decode it
        yield avp
        if isinstance(avp, AvpGrouped):
            yield from all_avps(value)


def split_messages(stream: bytes) -> list[bytes]:
    """Cut a received byte stream into whole Diameter messages by their header lengths."""
    messages = []
    while stream:
        length = int.from_bytes(stream[1:4], "big")
        assert stream[0] == 1 and 20 <= length <= len(stream), stream[:20].hex()
        messages.append(stream[:length])
        stream = stream[length:]
    return messages


def check_wire(raw: bytes) -> Any:
    """One message exactly as the OCS sent it, through python-diameter's decoder.

    Typed messages (``Message.from_bytes``) keep attributes only and re-encode their
    AVPs with python-diameter's own flags, so the wire's AVPs are walked in a plain
    decode: every value must decode, and every AVP that python-diameter's dictionary
    marks mandatory must carry the M bit.
    """
    plain = PdMessage.from_bytes(raw, plain_msg=True)
    assert plain.header.length == len(raw)
    assert plain.header.is_request is False and plain.header.is_error is False, plain
    for avp in all_avps(plain.avps):
        entry = get_avp_dictionary_entry(avp.code, avp.vendor_id)
        assert entry is not None, f"{raw.hex()}: AVP {avp.code}/{avp.vendor_id} unknown"
        if entry.get("mandatory"):
            assert avp.is_mandatory or avp.code in M_BIT_MUST_NOT, f"{raw.hex()}: {avp} lacks M"
        assert bool(avp.is_vendor) == (avp.vendor_id != 0), f"{raw.hex()}: {avp}"
    return PdMessage.from_bytes(raw)


@dataclass
class Client:
    """python-diameter's Node and a credit-control application, driven from threads.

    Base-protocol answers are caught by wrapping the Node's own ``receive_cea``,
    ``receive_dwa`` and ``receive_dpa`` (it calls them for every CEA/DWA/DPA it decoded):
    the wrapper records the typed message and sets an event, then hands it on.
    """

    port: int
    node: Any = field(init=False)
    app: Any = field(init=False)
    peer: Any = field(init=False)
    received: dict[str, list[Any]] = field(default_factory=dict)
    seen: dict[str, threading.Event] = field(default_factory=dict)
    dwr_sent: threading.Event = field(default_factory=threading.Event)
    #: every byte python-diameter read from the OCS (its connection thread appends)
    wire: bytearray = field(default_factory=bytearray)
    stopping: bool = False

    def __post_init__(self) -> None:
        node = Node(CLIENT_HOST, CLIENT_REALM, vendor_ids=[pd.VENDOR_TGPP])
        node.product_name = "python-diameter interop client"
        node.wakeup_interval = IDLE_TIMEOUT
        self.peer = node.add_peer(
            f"aaa://{OCS_HOST}:{self.port};transport=tcp",
            OCS_REALM,
            ip_addresses=["127.0.0.1"],
            is_persistent=True,  # connect at start (and CER) on its own
            is_default=True,
        )
        self.app = SimpleThreadingApplication(
            pd.APP_DIAMETER_CREDIT_CONTROL_APPLICATION, is_auth_application=True
        )
        node.add_application(self.app, [self.peer])
        for name in ("receive_cea", "receive_dwa", "receive_dpa"):
            self.received[name] = []
            self.seen[name] = threading.Event()
            setattr(node, name, self._recorder(name, getattr(node, name)))
        send_dwr = node.send_dwr

        def counting_send_dwr(conn: Any) -> None:
            send_dwr(conn)
            self.dwr_sent.set()

        node.send_dwr = counting_send_dwr
        self.node = node

    def _recorder(self, name: str, original: Callable[[Any, Any], None]) -> Any:
        def record(conn: Any, message: Any) -> None:
            self.received[name].append(message)
            self.seen[name].set()
            original(conn, message)

        return record

    # --- blocking calls, each bounded: run them with trio.to_thread.run_sync ---------

    def connect(self) -> None:
        """Start the node (it connects and sends CER) and wait for the CEA: OPEN."""
        self.node.start()
        self.app.wait_for_ready(STEP_TIMEOUT)

    def request(self, message: Any) -> Any:
        return self.app.send_request(message, timeout=STEP_TIMEOUT)

    def wait(self, event: threading.Event) -> bool:
        return event.wait(STEP_TIMEOUT)

    def stop(self, *, force: bool = False) -> None:
        """Graceful: DPR to the OCS and wait for DPA and the socket's close."""
        if self.node._started and not self.stopping:
            self.stopping = True
            self.node.stop(wait_timeout=STEP_TIMEOUT, force=force)

    # --- messages ----------------------------------------------------------------------

    def ccr(self, session_id: str, request_type: int, number: int, context: str = DATA) -> Any:
        # python-diameter 0.9 writes Origin-Host and Origin-Realm of a CCR with the M bit
        # cleared (RFC 6733 §4.5 says MUST be set): the OCS must tolerate that, and does.
        msg = CreditControlRequest()
        msg.header.is_proxyable = True
        msg.session_id = session_id
        msg.origin_host = CLIENT_HOST.encode()
        msg.origin_realm = CLIENT_REALM.encode()
        msg.destination_realm = OCS_REALM.encode()
        msg.auth_application_id = pd.APP_DIAMETER_CREDIT_CONTROL_APPLICATION
        msg.service_context_id = context
        msg.cc_request_type = request_type
        msg.cc_request_number = number
        msg.subscription_id = [
            SubscriptionId(
                subscription_id_type=pd.E_SUBSCRIPTION_ID_TYPE_END_USER_E164,
                subscription_id_data=MSISDN,
            )
        ]
        return msg


def check_cca(answer: Any, request: Any) -> list[Any]:
    """A CCA that python-diameter decoded into its typed class, 2001, echoing the request."""
    assert isinstance(answer, CreditControlAnswer), answer
    assert not answer.header.is_request and not answer.header.is_error, answer.header
    assert answer.header.is_proxyable, answer.header  # RFC 6733 §6.2: copied from the request
    assert answer.header.application_id == pd.APP_DIAMETER_CREDIT_CONTROL_APPLICATION
    assert answer.header.hop_by_hop_identifier == request.header.hop_by_hop_identifier
    assert answer.header.end_to_end_identifier == request.header.end_to_end_identifier
    assert answer.result_code == pd.E_RESULT_CODE_DIAMETER_SUCCESS, answer
    assert answer.session_id == request.session_id
    assert answer.origin_host == OCS_HOST.encode()
    assert answer.origin_realm == OCS_REALM.encode()
    assert answer.auth_application_id == pd.APP_DIAMETER_CREDIT_CONTROL_APPLICATION
    assert answer.cc_request_type == request.cc_request_type
    assert answer.cc_request_number == request.cc_request_number
    msccs: list[Any] = answer.multiple_services_credit_control
    return msccs


def check_base_answer(answer: Any, kind: Any) -> None:
    assert isinstance(answer, kind), answer
    assert not answer.header.is_request and not answer.header.is_error, answer.header
    assert answer.result_code == pd.E_RESULT_CODE_DIAMETER_SUCCESS, answer
    assert answer.origin_host == OCS_HOST.encode()
    assert answer.origin_realm == OCS_REALM.encode()


async def in_thread(fn: Callable[[], Any]) -> Any:
    return await trio.to_thread.run_sync(fn)


@pytest.mark.slow  # python-diameter's timers tick in whole seconds: about 6 s in all
async def test_python_diameter_client_runs_a_full_session(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO)
    url = init_db(tmp_path)
    assert Decimal(account(url)["balance"]) == Decimal("10.00")

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            bound: Bound = await nursery.start(run, ocs_config(url))
            host, port = bound.diameter[0]
            assert host == "127.0.0.1"
            client = Client(port)
            # keep the raw bytes too: python-diameter hands each socket read to this
            add_in_bytes = PeerConnection.add_in_bytes

            def recording(conn: Any, data: bytes) -> None:
                client.wire.extend(data)
                add_in_bytes(conn, data)

            monkeypatch.setattr(PeerConnection, "add_in_bytes", recording)
            try:
                await run_scenario(client)
            finally:
                # a failed step still stops python-diameter's threads, without DPR
                with trio.CancelScope(shield=True):
                    await in_thread(partial(client.stop, force=True))
            # The acks are durable: every debit answered is in the database already.
            # 10 EUR - 5 MB (0.05) - 1 MB (0.01) at 0.01 EUR/MB - one SMS (0.05)
            view = account(url)
            assert view["balance"] == "9.89", view
            assert Decimal(view["reserved"]) == 0, view
            nursery.cancel_scope.cancel()

    # everything the OCS sent, byte for byte, through python-diameter's decoder
    received = [check_wire(raw) for raw in split_messages(bytes(client.wire))]
    assert [type(m) for m in received] == [
        CapabilitiesExchangeAnswer,
        *[CreditControlAnswer] * 4,
        DeviceWatchdogAnswer,
        DisconnectPeerAnswer,
    ]

    problems = [
        f"{r.name} {r.levelname}: {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.ERROR
        or (
            r.levelno >= logging.WARNING
            and r.name.startswith("diameter")
            and not any(benign in r.getMessage() for benign in BENIGN_CLIENT_WARNINGS)
        )
    ]
    assert not problems, "\n".join(problems)
    ocs_warnings = [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.WARNING
        and not r.name.startswith("diameter")
        and r.getMessage() not in BENIGN_OCS_WARNINGS
    ]
    assert not ocs_warnings, "\n".join(ocs_warnings)


async def run_scenario(client: Client) -> None:
    # CER/CEA: wait_for_ready returns once python-diameter got a CEA 2001 (its OPEN)
    await in_thread(client.connect)
    (cea,) = client.received["receive_cea"]
    check_base_answer(cea, CapabilitiesExchangeAnswer)
    assert pd.APP_DIAMETER_CREDIT_CONTROL_APPLICATION in cea.auth_application_id

    # a data session: CCR-I with an empty RSU, CCR-U reporting 5 MB, CCR-T reporting 1 MB
    sid = client.node.session_generator.next_id()
    ccr = client.ccr(sid, pd.E_CC_REQUEST_TYPE_INITIAL_REQUEST, 0)
    ccr.multiple_services_indicator = pd.E_MULTIPLE_SERVICES_INDICATOR_MULTIPLE_SERVICES_SUPPORTED
    ccr.multiple_services_credit_control = [
        MultipleServicesCreditControl(
            requested_service_unit=RequestedServiceUnit(), rating_group=10
        )
    ]
    (mscc,) = check_cca(await in_thread(partial(client.request, ccr)), ccr)
    assert mscc.rating_group == 10
    assert mscc.result_code == pd.E_RESULT_CODE_DIAMETER_SUCCESS
    assert mscc.granted_service_unit is not None
    assert mscc.granted_service_unit.cc_total_octets > 0

    ccr = client.ccr(sid, pd.E_CC_REQUEST_TYPE_UPDATE_REQUEST, 1)
    ccr.multiple_services_indicator = pd.E_MULTIPLE_SERVICES_INDICATOR_MULTIPLE_SERVICES_SUPPORTED
    ccr.multiple_services_credit_control = [
        MultipleServicesCreditControl(
            requested_service_unit=RequestedServiceUnit(),
            used_service_unit=[UsedServiceUnit(cc_total_octets=5 * MB)],
            rating_group=10,
        )
    ]
    (mscc,) = check_cca(await in_thread(partial(client.request, ccr)), ccr)
    assert mscc.rating_group == 10
    assert mscc.result_code == pd.E_RESULT_CODE_DIAMETER_SUCCESS
    assert mscc.granted_service_unit is not None
    assert mscc.granted_service_unit.cc_total_octets > 0

    ccr = client.ccr(sid, pd.E_CC_REQUEST_TYPE_TERMINATION_REQUEST, 2)
    ccr.termination_cause = pd.E_TERMINATION_CAUSE_DIAMETER_LOGOUT
    ccr.multiple_services_indicator = pd.E_MULTIPLE_SERVICES_INDICATOR_MULTIPLE_SERVICES_SUPPORTED
    ccr.multiple_services_credit_control = [
        MultipleServicesCreditControl(
            used_service_unit=[UsedServiceUnit(cc_total_octets=1 * MB)], rating_group=10
        )
    ]
    for mscc in check_cca(await in_thread(partial(client.request, ccr)), ccr):
        assert mscc.granted_service_unit is None

    # an SMS: one event, debited directly
    ccr = client.ccr(
        client.node.session_generator.next_id(), pd.E_CC_REQUEST_TYPE_EVENT_REQUEST, 0, SMS
    )
    ccr.requested_action = pd.E_REQUESTED_ACTION_DIRECT_DEBITING
    ccr.multiple_services_credit_control = [
        MultipleServicesCreditControl(
            requested_service_unit=RequestedServiceUnit(cc_service_specific_units=1)
        )
    ]
    (mscc,) = check_cca(await in_thread(partial(client.request, ccr)), ccr)
    assert mscc.result_code == pd.E_RESULT_CODE_DIAMETER_SUCCESS
    assert mscc.granted_service_unit is not None
    assert mscc.granted_service_unit.cc_service_specific_units == 1

    # DWR/DWA from python-diameter's own watchdog: its idle timer (per peer, whole
    # seconds, default 30) is shortened only now, so the DWR comes after the traffic
    client.peer.idle_timeout = IDLE_TIMEOUT
    assert await in_thread(partial(client.wait, client.dwr_sent)), "python-diameter sent no DWR"
    assert await in_thread(partial(client.wait, client.seen["receive_dwa"])), "no DWA decoded"
    check_base_answer(client.received["receive_dwa"][0], DeviceWatchdogAnswer)
    client.peer.idle_timeout = 3600  # no further DWR racing the DPR

    # DPR/DPA: Node.stop sends DPR (Disconnect-Cause REBOOTING) and waits for the close
    await in_thread(client.stop)
    assert client.seen["receive_dpa"].is_set(), "no DPA decoded"
    (dpa,) = client.received["receive_dpa"]
    check_base_answer(dpa, DisconnectPeerAnswer)
    assert not client.node.connections, "python-diameter still holds a connection"
