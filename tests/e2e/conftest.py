"""A real OCS (ocs.app.run) on 127.0.0.1 with an initialised SQLite database, and a
Diameter client built from protocol/ only: what a gateway sees."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import trio
from typer.testing import CliRunner

from ocs.app import Bound, run
from ocs.cli import app as cli
from ocs.config import OcsConfig
from protocol.capabilities import Capabilities
from protocol.cc_client import MsccRequest, encode_ccr, parse_cca
from protocol.codec import Message
from protocol.codes import CcRequestType, RequestedAction, SubscriptionIdType
from protocol.peer import PeerConfig, PeerConnection, Role
from protocol.trio_peer import BatchHandler, PeerHandle, open_peer
from protocol.units import ServiceUnits
from tests.storage.conftest import pg_schema, pg_url

GW = Capabilities(origin_host="pgw.test", origin_realm="test", host_ip_addresses=("127.0.0.1",))
MSISDN = "491700000001"  # the demo prepaid account with 10.00 EUR


def init_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'ocs.db'}"
    result = CliRunner().invoke(cli, ["init", "--db", url, "--demo"])
    assert result.exit_code == 0, result.output
    return url


def ocs_config(url: str) -> OcsConfig:
    config = OcsConfig()
    return replace(
        config,
        database=replace(config.database, url=url),
        listen=replace(config.listen, hosts=("127.0.0.1",), port=0),
        metrics=replace(config.metrics, port=0),
        admin_port=0,
    )


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return init_db(tmp_path)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def any_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An initialised demo database on SQLite and on the real PostgreSQL server."""
    if request.param == "sqlite":
        yield init_db(tmp_path)
        return
    with pg_schema("e2e") as schema:
        url = pg_url(schema)
        result = CliRunner().invoke(cli, ["init", "--db", url, "--demo"])
        assert result.exit_code == 0, result.output
        yield url


@asynccontextmanager
async def running_ocs(config: OcsConfig) -> AsyncIterator[Bound]:
    async with trio.open_nursery() as nursery:
        bound: Bound = await nursery.start(run, config)
        yield bound
        nursery.cancel_scope.cancel()


@dataclass
class Gateway:
    """A test gateway: builds CCRs with sequential ids and reads the CCAs."""

    handle: PeerHandle
    ids: itertools.count[int]

    def ccr(
        self,
        session: str,
        kind: CcRequestType,
        number: int,
        *,
        msisdn: str = MSISDN,
        msccs: Sequence[MsccRequest] = (),
        context: str = "32251@3gpp.org",
        action: RequestedAction | None = None,
        requested: ServiceUnits | None = None,
        retransmission: bool = False,
    ) -> bytes:
        n = next(self.ids)
        return encode_ccr(
            session_id=session,
            origin_host=GW.origin_host,
            origin_realm=GW.origin_realm,
            destination_realm="localdomain",
            service_context_id=context,
            cc_request_type=kind,
            cc_request_number=number,
            hop_by_hop=n,
            end_to_end=n,
            subscription_ids=[(SubscriptionIdType.END_USER_E164, msisdn)],
            msccs=msccs,
            requested_action=action,
            requested_service_unit=requested,
            retransmission=retransmission,
        )

    async def ask(self, raw: bytes) -> Message:
        return await self.handle.request(raw)


@asynccontextmanager
async def gateway(
    bound: Bound, *, caps: Capabilities = GW, handler: BatchHandler | None = None
) -> AsyncIterator[Gateway]:
    host, port = bound.diameter[0]
    conn = PeerConnection(
        PeerConfig(capabilities=caps), role=Role.INITIATOR, now=trio.current_time()
    )
    async with open_peer(host, port, conn, handler=handler) as handle:
        yield Gateway(handle, itertools.count(1))


__all__ = ["Gateway", "MsccRequest", "ServiceUnits", "gateway", "parse_cca", "running_ocs"]
