"""The simulator's symbols: KuCoin-like rules and realistic starting prices.

Increments follow the live KuCoin values for these pairs (shared/kucoin/samples/rest/symbols_v2.json
for BTC-USDT); the reference prices are where the synthetic market starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from dashboard.kucoin.protocol.numbers import fmt

D = Decimal


@dataclass(frozen=True, slots=True)
class SymbolRules:
    """One tradable pair and the rules the matching engine enforces."""

    symbol: str
    base: str
    quote: str
    market: str
    price_increment: Decimal
    base_increment: Decimal
    quote_increment: Decimal
    base_min_size: Decimal
    base_max_size: Decimal
    quote_min_size: Decimal
    quote_max_size: Decimal
    min_funds: Decimal
    price_limit_rate: Decimal
    ref_price: Decimal
    enable_trading: bool = True

    def to_wire(self) -> dict:
        """GET /api/v2/symbols element, KuCoin's spelling, numbers as strings."""
        return {
            "symbol": self.symbol, "name": self.symbol, "baseCurrency": self.base,
            "quoteCurrency": self.quote, "feeCurrency": self.quote, "market": self.market,
            "baseMinSize": fmt(self.base_min_size), "quoteMinSize": fmt(self.quote_min_size),
            "baseMaxSize": fmt(self.base_max_size), "quoteMaxSize": fmt(self.quote_max_size),
            "baseIncrement": fmt(self.base_increment), "quoteIncrement": fmt(self.quote_increment),
            "priceIncrement": fmt(self.price_increment),
            "priceLimitRate": fmt(self.price_limit_rate),
            "minFunds": fmt(self.min_funds), "isMarginEnabled": False,
            "enableTrading": self.enable_trading, "feeCategory": 1, "makerFeeCoefficient": "1.00",
            "takerFeeCoefficient": "1.00", "st": False, "callauctionIsEnabled": False,
            "callauctionPriceFloor": None, "callauctionPriceCeiling": None,
            "callauctionFirstStageStartTime": None, "callauctionSecondStageStartTime": None,
            "callauctionThirdStageStartTime": None, "tradingStartTime": None,
        }


def _rules(symbol: str, market: str, price_inc: str, base_inc: str, quote_inc: str, base_min: str,
           quote_min: str, min_funds: str, ref: str) -> SymbolRules:
    base, quote = symbol.split("-")
    return SymbolRules(
        symbol=symbol, base=base, quote=quote, market=market, price_increment=D(price_inc),
        base_increment=D(base_inc), quote_increment=D(quote_inc), base_min_size=D(base_min),
        base_max_size=D("10000000000"), quote_min_size=D(quote_min), quote_max_size=D("99999999"),
        min_funds=D(min_funds), price_limit_rate=D("0.1"), ref_price=D(ref),
    )


DEFAULT_SYMBOLS: tuple[SymbolRules, ...] = (
    _rules("BTC-USDT", "USDS", "0.1", "0.00000001", "0.000001", "0.00001", "0.1", "0.1", "91250"),
    _rules("ETH-USDT", "USDS", "0.01", "0.0000001", "0.000001", "0.0001", "0.1", "0.1", "3050"),
    _rules("SOL-USDT", "USDS", "0.01", "0.0001", "0.000001", "0.01", "0.1", "0.1", "142.5"),
    _rules("XRP-USDT", "USDS", "0.0001", "0.0001", "0.000001", "0.1", "0.1", "0.1", "2.215"),
    _rules("DOGE-USDT", "USDS", "0.00001", "0.0001", "0.000001", "1", "0.1", "0.1", "0.1625"),
    _rules("KCS-USDT", "USDS", "0.001", "0.0001", "0.000001", "0.01", "0.1", "0.1", "10.85"),
    _rules("ETH-BTC", "BTC", "0.00001", "0.0000001", "0.00000001", "0.0001", "0.000001", "0.000001",
           "0.03342"),
)

CURRENCY_NAMES = {
    "BTC": "Bitcoin", "ETH": "Ethereum", "SOL": "Solana", "XRP": "XRP", "DOGE": "Dogecoin",
    "KCS": "KuCoin Token", "USDT": "Tether",
}

# What the demo user starts with.
DEMO_BALANCES: dict[str, Decimal] = {
    "USDT": D("1000000"), "BTC": D("10"), "ETH": D("100"), "SOL": D("1000"), "XRP": D("100000"),
    "DOGE": D("1000000"), "KCS": D("10000"),
}
