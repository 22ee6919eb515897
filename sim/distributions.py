"""Random durations: handle time, wrap-up, caller patience, ring delay.

Each distribution is a small frozen object with ``mean`` and ``sample(rng)``; the runner keeps
its own ``random.Random`` per purpose, so the same seed gives the same calls whatever strategy
routes them (common random numbers, which is what makes strategy comparisons sharp).

In scenario files a distribution is a table with a ``dist`` key::

    { dist = "exponential", mean = 180 }
    { dist = "lognormal", mean = 240, cv = 1.5 }     # cv: standard deviation / mean
    { dist = "gamma", mean = 240, cv = 0.5 }
    { dist = "uniform", low = 30, high = 90 }
    { dist = "fixed", value = 10 }
    { dist = "empirical", samples = [95, 130, 180, 410] }   # drawn uniformly from the list
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DistributionSpec",
    "Distribution",
    "Empirical",
    "Exponential",
    "Fixed",
    "Gamma",
    "Lognormal",
    "Uniform",
    "build",
]


class Distribution:
    """A non-negative random duration in seconds."""

    __slots__ = ()

    @property
    def mean(self) -> float:
        raise NotImplementedError

    def sample(self, rng: random.Random) -> float:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Exponential(Distribution):
    mean_s: float

    @property
    def mean(self) -> float:
        return self.mean_s

    def sample(self, rng: random.Random) -> float:
        return rng.expovariate(1.0 / self.mean_s)


@dataclass(frozen=True, slots=True)
class Lognormal(Distribution):
    """Parametrised as contact-center data is reported: mean and coefficient of variation."""

    mean_s: float
    cv: float
    _mu: float = field(init=False, repr=False)
    _sigma: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        sigma2 = math.log1p(self.cv * self.cv)
        object.__setattr__(self, "_mu", math.log(self.mean_s) - sigma2 / 2.0)
        object.__setattr__(self, "_sigma", math.sqrt(sigma2))

    @property
    def mean(self) -> float:
        return self.mean_s

    def sample(self, rng: random.Random) -> float:
        return rng.lognormvariate(self._mu, self._sigma)


@dataclass(frozen=True, slots=True)
class Gamma(Distribution):
    mean_s: float
    cv: float
    _shape: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_shape", 1.0 / (self.cv * self.cv))

    @property
    def mean(self) -> float:
        return self.mean_s

    def sample(self, rng: random.Random) -> float:
        return rng.gammavariate(self._shape, self.mean_s / self._shape)


@dataclass(frozen=True, slots=True)
class Uniform(Distribution):
    low: float
    high: float

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2.0

    def sample(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)


@dataclass(frozen=True, slots=True)
class Fixed(Distribution):
    value: float

    @property
    def mean(self) -> float:
        return self.value

    def sample(self, rng: random.Random) -> float:
        return self.value


@dataclass(frozen=True, slots=True)
class Empirical(Distribution):
    """Resampling of observed durations (e.g. last month's handle times)."""

    samples: tuple[float, ...]

    @property
    def mean(self) -> float:
        return math.fsum(self.samples) / len(self.samples)

    def sample(self, rng: random.Random) -> float:
        return self.samples[int(rng.random() * len(self.samples))]


# -- scenario-file schema ---------------------------------------------------------------------


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExponentialSpec(_Spec):
    dist: Literal["exponential"]
    mean: float = Field(gt=0, allow_inf_nan=False)


class LognormalSpec(_Spec):
    dist: Literal["lognormal"]
    mean: float = Field(gt=0, allow_inf_nan=False)
    cv: float = Field(gt=0, allow_inf_nan=False)


class GammaSpec(_Spec):
    dist: Literal["gamma"]
    mean: float = Field(gt=0, allow_inf_nan=False)
    cv: float = Field(gt=0, allow_inf_nan=False)


class UniformSpec(_Spec):
    dist: Literal["uniform"]
    low: float = Field(ge=0, allow_inf_nan=False)
    high: float = Field(ge=0, allow_inf_nan=False)


class FixedSpec(_Spec):
    dist: Literal["fixed"]
    value: float = Field(ge=0, allow_inf_nan=False)


class EmpiricalSpec(_Spec):
    dist: Literal["empirical"]
    samples: list[Annotated[float, Field(ge=0, allow_inf_nan=False)]] = Field(min_length=1)


DistributionSpec = Annotated[
    ExponentialSpec | LognormalSpec | GammaSpec | UniformSpec | FixedSpec | EmpiricalSpec,
    Field(discriminator="dist"),
]


def build(spec: DistributionSpec) -> Distribution:
    """The distribution a validated scenario table describes."""
    if isinstance(spec, ExponentialSpec):
        return Exponential(spec.mean)
    if isinstance(spec, LognormalSpec):
        return Lognormal(spec.mean, spec.cv)
    if isinstance(spec, GammaSpec):
        return Gamma(spec.mean, spec.cv)
    if isinstance(spec, UniformSpec):
        if spec.high < spec.low:
            raise ValueError(f"high ({spec.high}) is below low ({spec.low})")
        return Uniform(spec.low, spec.high)
    if isinstance(spec, FixedSpec):
        return Fixed(spec.value)
    samples: Sequence[float] = spec.samples
    return Empirical(tuple(samples))
