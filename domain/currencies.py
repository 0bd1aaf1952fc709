"""ISO 4217 currencies in circulation and their minor units (reference data, not logic).

The data comes from the `iso4217` package, which ships the table published by the ISO 4217 maintenance agency
and is re-released with each amendment (so a withdrawn currency, such as BGN on 2026-01-01, drops out on
upgrade). "In circulation" is that table without its fund codes (BOV, CLF, USN…) and without the codes that have
no minor unit (precious metals, SDR, test and no-currency codes).

Amounts are stored as NUMERIC(14,2): a currency whose minor unit needs more than two decimals (BHD, KWD, TND…)
cannot be held exactly and is refused where it enters (accounts, batches).
"""

from collections.abc import Mapping
from types import MappingProxyType

import iso4217

from domain.errors import ErrorCode, Problem

STORED_DECIMALS = 2  # the scale of every money column


def _fund_codes() -> frozenset[str]:
    """Codes the ISO table marks as funds (`<CcyNm IsFund="true">`): units of account, not money in circulation."""
    return frozenset(entry.findtext("Ccy", "").strip() for entry in iso4217.raw_xml.iter("CcyNtry")
                     if (name := entry.find("CcyNm")) is not None and name.get("IsFund") == "true")


def _circulating() -> dict[str, int]:
    funds = _fund_codes()
    return {currency.code: currency.exponent for currency in iso4217.Currency
            if currency.exponent is not None and currency.code not in funds}


MINOR_UNITS: Mapping[str, int] = MappingProxyType(_circulating())


def is_currency(code: str) -> bool:
    """True for an ISO 4217 currency in circulation."""
    return code in MINOR_UNITS


def minor_unit(code: str) -> int:
    """The decimals of a currency's minor unit (USD 2, JPY 0, BHD 3); ValueError for a code not in circulation."""
    try:
        return MINOR_UNITS[code]
    except KeyError:
        raise ValueError(f"{code!r} is not an ISO 4217 currency in circulation.") from None


def decimals_text(code: str) -> str:
    """How many decimals an amount in this currency may have, in words: "JPY amounts have no decimals"."""
    places = minor_unit(code)
    if places == 0:
        return f"{code} amounts have no decimals"
    return f"{code} amounts have at most {places} decimal{'s' if places > 1 else ''}"


def currency_problem(code: str, field: str = "currency") -> Problem | None:
    """Why a currency cannot be billed (unknown, or more decimals than storage holds), or None when it can."""
    if not is_currency(code):
        return Problem(ErrorCode.INVALID_CURRENCY, f"{code!r} is not an ISO 4217 currency in circulation.", field)
    places = minor_unit(code)
    if places > STORED_DECIMALS:
        return Problem(ErrorCode.INVALID_CURRENCY,
                       f"{code} amounts have {places} decimals (its ISO 4217 minor unit), but amounts are stored "
                       f"with {STORED_DECIMALS} decimals: {code} cannot be billed exactly.", field)
    return None


def is_billable(code: str) -> bool:
    """True when amounts in this currency can be billed and stored exactly."""
    return currency_problem(code) is None
