"""Cost of a request from a price table (USD per million tokens) the user can extend.

Extra or overriding prices go in the store's ``config.toml``::

    [evals.prices]
    "my-finetune" = { input = 0.30, output = 1.20 }
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptver.errors import ConfigError
from promptver.evals.execution.providers import Usage


@dataclass(frozen=True)
class Price:
    input: float  # USD per million input tokens
    output: float  # USD per million output tokens


# List prices in USD per million tokens; a model name matches its longest listed prefix,
# so dated snapshots (``gpt-4o-mini-2024-07-18``) use their family's price.
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "gpt-4-turbo": Price(10.00, 30.00),
    "gpt-3.5-turbo": Price(0.50, 1.50),
    "o1": Price(15.00, 60.00),
    "o3-mini": Price(1.10, 4.40),
    "claude-3-5-sonnet": Price(3.00, 15.00),
    "claude-3-7-sonnet": Price(3.00, 15.00),
    "claude-sonnet-4": Price(3.00, 15.00),
    "claude-3-5-haiku": Price(0.80, 4.00),
    "claude-3-haiku": Price(0.25, 1.25),
    "claude-3-opus": Price(15.00, 75.00),
    "claude-opus-4": Price(15.00, 75.00),
}


class PriceTable:
    def __init__(self, prices: dict[str, Price] | None = None) -> None:
        self.prices = dict(DEFAULT_PRICES if prices is None else prices)

    @classmethod
    def from_config(cls, config_file: Path | None) -> PriceTable:
        """Defaults plus ``[evals.prices]`` from a config.toml, when the file exists."""
        table = cls()
        if config_file is None or not config_file.is_file():
            return table
        try:
            config = tomllib.loads(config_file.read_text("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"not valid TOML: {exc}", location=str(config_file)) from exc
        extra = (config.get("evals") or {}).get("prices") or {}
        for model, entry in extra.items():
            table.prices[model] = _price(entry, f"{config_file} [evals.prices] {model!r}")
        return table

    def price(self, model: str) -> Price | None:
        if model in self.prices:
            return self.prices[model]
        best = max((m for m in self.prices if model.startswith(m)), key=len, default=None)
        return self.prices[best] if best else None

    def cost(self, model: str, usage: Usage | None) -> float | None:
        price = self.price(model)
        if price is None or usage is None:
            return None
        return (usage.input_tokens * price.input + usage.output_tokens * price.output) / 1e6


def _price(entry: Any, where: str) -> Price:
    if not isinstance(entry, dict) or not {"input", "output"} <= set(entry):
        raise ConfigError(f"{where} needs 'input' and 'output' (USD per million tokens)")
    try:
        return Price(float(entry["input"]), float(entry["output"]))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: prices must be numbers") from exc
