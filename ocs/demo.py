"""The demo data of ``ocs init --demo``: a tariff catalog and a few accounts, as plain data.

What lives here: ``DEMO_TARIFFS`` (the TOML text of the demo catalog: a product ``demo``
pricing data on any rating group of ``32251@3gpp.org``, voice on ``32260@3gpp.org`` and
SMS on ``32274@3gpp.org``, in EUR) and ``DEMO_ACCOUNTS``. What must not: database access
(``ocs.cli`` stores them; only ``ocs/cli*.py`` and ``ocs/persist*.py`` may import
SQLAlchemy).

The same text is shipped as ``ocs/demo-tariffs.toml`` for operators to copy as the start of
their own tariff file; ``tests/ocs/test_cli.py`` checks that the two are identical. The
constant is the one the code uses, because package data would need a packaging rule and a
module constant needs none.

Demo prices: data 0.01 EUR per MB in 1 KB steps; voice 0.05 EUR per minute, 60/60, any
destination; SMS 0.05 EUR each. So 10 EUR buys 1 GB, 200 minutes or 200 SMS.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the catalog's file name, as stored in ``tariff_catalogs.source``
DEMO_SOURCE = "demo-tariffs.toml"

#: the product every demo account is on
DEMO_PRODUCT = "demo"

DEMO_TARIFFS = """\
# The demo catalog that `ocs init --demo` loads: one plan and one product, both named
# "demo", in EUR. Copy it as the start of your own tariff file (`ocs catalog load FILE`);
# rating/example-tariffs.toml documents every feature of the format.

[[plan]]
name = "demo"
currency = "EUR"

[[plan.version]]
active_from = 2024-01-01T00:00:00Z
timezone = "UTC"
rounding = "up"              # never in the customer's favour by accident

# Data on any rating group of the PS (Gy) context: 0.01 EUR per MB, in whole KB.
[[plan.version.service]]
name = "data"
unit = "total_octets"
service_context_id = "32251@3gpp.org"
price = "0.01"
per = "1 MB"
increment = "1 KB"

# Voice over the IMS (Ro) context: 0.05 EUR per minute, charged per started minute.
[[plan.version.service]]
name = "voice"
unit = "time"
service_context_id = "32260@3gpp.org"
per = "1 min"
first_interval = 60
next_interval = 60

[[plan.version.service.destination]]
name = "Rest of world"
prefix = ""                  # "" matches every destination
price = "0.05"

# SMS (event charging): 0.05 EUR per message.
[[plan.version.service]]
name = "sms"
unit = "event"
service_context_id = "32274@3gpp.org"
price = "0.05"

[[product]]
name = "demo"
plan = "demo"
currency = "EUR"
recurring_fee = "0"
"""


@dataclass(frozen=True, slots=True)
class DemoAccount:
    msisdn: str  #: E.164 digits, no '+'
    imsi: str
    customer: str
    balance: str  #: decimal string, EUR; credited with a top-up event
    credit_limit: str | None = None  #: decimal string: a postpaid customer with this limit


#: German-looking numbers from a test range, and IMSIs of MCC 262 / MNC 01
DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("491700000001", "262010000000001", "Demo prepaid 1", "10.00"),
    DemoAccount("491700000002", "262010000000002", "Demo prepaid 2", "10.00"),
    DemoAccount("491700000003", "262010000000003", "Demo postpaid", "10.00", credit_limit="50.00"),
)
