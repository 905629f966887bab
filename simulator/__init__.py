"""ocs-sim: a black-box Gy/Ro client (SAE-GW/SMF for data, IMS/MSC for voice and SMS).

What lives here: the scenarios (sans-IO, `scenarios`), the gateway profiles that
reproduce real clients' quirks (`profiles`), the price table verify mode checks balances
with (`pricing`), answer checks (`checks`), statistics (`stats`), the trio driver
(`driver`), the operator-command balance reader (`balances`) and the typer CLI (`cli`).
What must not: any import of ocs/, rating/ or storage/ (tests/test_layering.py): the
simulator sees the OCS only through Diameter and through operator commands.
"""
