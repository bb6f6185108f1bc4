"""Random-variate specs (the scenario's distribution kinds) and samplers bound to a stream.

All times are seconds. Normal and lognormal are given by the mean and standard deviation of the
variate itself; the normal is truncated at zero by redrawing (a true truncation, not a clip).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from plant_sim.durations import parse_duration

Seconds = Annotated[
    float,
    BeforeValidator(parse_duration),
    Field(ge=0),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": r"^\s*(\d+(\.\d*)?\s*[smhdw]\s*)+$"},
            ],
            "description": "Seconds, or a duration such as '30s', '15m', '8h', '2d6h'.",
        }
    ),
]
"""A non-negative duration in seconds; accepts ``"8h"``-style strings."""

Sampler = Callable[[], float]
MAX_LOGNORMAL_CV = 1e150
"""Largest lognormal sd / mean (the sampler's parameters overflow beyond about 1e154)."""


class _Spec(BaseModel):
    # defer_build: a model's validator is built when it is first used, not at import; the
    # scenario's one validator covers its nested models, so theirs are never built.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)


class Constant(_Spec):
    """Always ``value``."""

    kind: Literal["constant"]
    value: Seconds

    @property
    def mean(self) -> float:
        """Mean of the variate."""
        return self.value


class Exponential(_Spec):
    """Exponential with the given mean."""

    kind: Literal["exponential"]
    mean: Seconds = Field(gt=0)


class Normal(_Spec):
    """Normal with ``mean`` and ``sd``, truncated at zero."""

    kind: Literal["normal"]
    mean: Seconds
    sd: Seconds


class LogNormal(_Spec):
    """Lognormal whose own mean and standard deviation are ``mean`` and ``sd``."""

    kind: Literal["lognormal"]
    mean: Seconds = Field(gt=0)
    sd: Seconds

    @model_validator(mode="after")
    def _spread(self) -> LogNormal:
        # Beyond this the variance of the underlying normal, log(1 + (sd / mean)**2), overflows.
        if self.sd > MAX_LOGNORMAL_CV * self.mean:
            raise ValueError(f"lognormal needs sd <= {MAX_LOGNORMAL_CV:g} * mean")
        return self


class Triangular(_Spec):
    """Triangular on ``[low, high]`` with mode ``mode``."""

    kind: Literal["triangular"]
    low: Seconds
    mode: Seconds
    high: Seconds

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not self.low <= self.mode <= self.high:
            raise ValueError("triangular needs low <= mode <= high")
        return self

    @property
    def mean(self) -> float:
        """Mean of the variate."""
        return (self.low + self.mode + self.high) / 3.0


class Uniform(_Spec):
    """Uniform on ``[low, high]``."""

    kind: Literal["uniform"]
    low: Seconds
    high: Seconds

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.low > self.high:
            raise ValueError("uniform needs low <= high")
        return self

    @property
    def mean(self) -> float:
        """Mean of the variate."""
        return (self.low + self.high) / 2.0


class Empirical(_Spec):
    """One of ``values``, with optional relative ``weights``."""

    kind: Literal["empirical"]
    values: list[Seconds] = Field(min_length=1)
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _weights_match(self) -> Empirical:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError("empirical needs as many weights as values")
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError("empirical weights must be >= 0 with a positive sum")
            if not math.isfinite(self.mean):
                raise ValueError("empirical weights are too large: their sum or mean overflows")
        return self

    @property
    def mean(self) -> float:
        """Mean of the variate."""
        weights = self.weights or [1.0] * len(self.values)
        return sum(v * w for v, w in zip(self.values, weights, strict=True)) / sum(weights)


Distribution = Annotated[
    Constant | Exponential | Normal | LogNormal | Triangular | Uniform | Empirical,
    Field(discriminator="kind"),
]


def mean_of(spec: Distribution) -> float:
    """Return the mean of a distribution spec (the normal's mean before truncation)."""
    return float(spec.mean)


def make_sampler(spec: Distribution, rng: random.Random) -> Sampler:
    """Return a zero-argument function drawing from ``spec`` with ``rng``."""
    if isinstance(spec, Constant):
        value = spec.value
        return lambda: value
    if isinstance(spec, Exponential):
        rate = 1.0 / spec.mean
        return lambda: rng.expovariate(rate)
    if isinstance(spec, Normal):
        return _truncated_normal(spec.mean, spec.sd, rng)
    if isinstance(spec, LogNormal):
        sigma2 = math.log(1.0 + (spec.sd / spec.mean) ** 2)
        mu, sigma = math.log(spec.mean) - sigma2 / 2.0, math.sqrt(sigma2)
        return lambda: rng.lognormvariate(mu, sigma)
    if isinstance(spec, Triangular):
        low, high, mode = spec.low, spec.high, spec.mode
        return lambda: rng.triangular(low, high, mode)
    if isinstance(spec, Uniform):
        low, high = spec.low, spec.high
        return lambda: rng.uniform(low, high)
    values, weights = list(spec.values), spec.weights
    if weights is None:
        return lambda: rng.choice(values)
    cum = list(_accumulate(weights))
    return lambda: rng.choices(values, cum_weights=cum)[0]


def _accumulate(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


def _truncated_normal(mean: float, sd: float, rng: random.Random) -> Sampler:
    if sd == 0:
        return lambda: mean

    def draw() -> float:
        for _ in range(1000):
            x = rng.gauss(mean, sd)
            if x >= 0.0:
                return x
        return 0.0  # mean far below zero: the truncated mass is ~0

    return draw
