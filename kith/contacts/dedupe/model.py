"""The Fellegi-Sunter match model: for every comparison level an m probability (how often
two records of the same person fall in that level) and a u probability (how often two
records of different people do), plus the prior λ that two records picked at random are
the same person. A pair's match weight is ``log2(λ/(1-λ)) + Σ log2(m/u)`` over its
levels (null levels add nothing); its probability is the logistic of that in base 2.

Exact first and last names use term frequencies, as Splink does: an exact match on a
rare name is stronger evidence than on "John", so the exact level's u is the frequency
of the value itself (top values stored with the model; rarer ones get the floor).

Fellegi-Sunter multiplies the evidence of the comparisons as if they were independent.
Among different people two of them are not: relatives share a last name *and* an
address (twins a last name *and* a birthday). A pair agreeing on both is about as
likely among different people as a pair of relatives is — ``joint_u``, counted in the
data — not as the product of the two frequencies. So when a pair agrees on both, the
two weights are replaced by ``log2(m_last · m_other / joint_u)`` if that is smaller
(:data:`JOINTS`). Without it every couple living together looks like one person.

Pure Python + rapidfuzz; scoring a pair is a few dozen operations on precomputed
features (:mod:`kith.contacts.dedupe.features`).
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from kith.contacts.dedupe.comparisons import (
    ADDRESS,
    BIRTHDAY,
    COMPARISONS,
    FIRST_NAME,
    LAST_NAME,
)
from kith.contacts.dedupe.features import Features, features_of
from kith.contacts.dedupe.record import MatchRecord

DEFAULT_THRESHOLD = 0.5
MODEL_FORMAT = "kith.dedupe.model/1"
# A Bayes factor is never trusted beyond 2^±MAX_WEIGHT: one level never outvotes
# everything else by more than that.
MAX_WEIGHT = 24.0
_MIN_PROB = 1e-9

# name → the agreements (comparison, its levels) that, together with an exact last name,
# are counted as one. The largest joint that holds is used; if none of the largest size
# holds, every smaller one that does.
_SAME_ADDRESS = (ADDRESS.name, ("same", "street"))
_SAME_BIRTHDAY = (BIRTHDAY.name, ("exact",))
JOINTS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "last+address": (_SAME_ADDRESS,),
    "last+birthday": (_SAME_BIRTHDAY,),
    "last+address+birthday": (_SAME_ADDRESS, _SAME_BIRTHDAY),
}


@dataclass(frozen=True, slots=True)
class Match:
    probability: float
    weight: float  # log2 odds, prior included
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LevelParams:
    m: float
    u: float


def _weight(m: float, u: float) -> float:
    w = math.log2(max(m, _MIN_PROB) / max(u, _MIN_PROB))
    return max(-MAX_WEIGHT, min(MAX_WEIGHT, w))


def probability_from_weight(weight: float) -> float:
    if weight > 60:
        return 1.0
    if weight < -60:
        return 0.0
    return 1.0 / (1.0 + math.pow(2.0, -weight))


def weight_from_probability(probability: float) -> float:
    p = min(max(probability, 1e-15), 1 - 1e-15)
    return math.log2(p / (1 - p))


_CI = {c.name: i for i, c in enumerate(COMPARISONS)}
_LAST_CI = _CI[LAST_NAME.name]
_LAST_EXACT = LAST_NAME.index("exact")
_FIRST_CI = _CI[FIRST_NAME.name]
_FIRST_EXACT = FIRST_NAME.index("exact")
_SWAPPED = FIRST_NAME.index("swapped")


class MatchModel:
    """Trained parameters and the scoring of a pair. Treat as immutable."""

    def __init__(
        self,
        *,
        prior: float,
        levels: dict[str, dict[str, LevelParams]],
        term_frequencies: dict[str, dict[str, float]] | None = None,
        tf_floor: dict[str, float] | None = None,
        joint_u: dict[str, float] | None = None,
        trained_records: int = 0,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if not 0 < prior < 1:
            raise ValueError("prior must be in (0, 1)")
        self.prior = prior
        self.levels = {
            c.name: {
                lv.key: levels.get(c.name, {}).get(lv.key, LevelParams(lv.m_prior, lv.u_prior))
                for lv in c.levels
                if not lv.is_null
            }
            for c in COMPARISONS
        }
        self.term_frequencies = term_frequencies or {}
        self.tf_floor = tf_floor or {}
        self.joint_u = {k: v for k, v in (joint_u or {}).items() if k in JOINTS and v > 0}
        self.trained_records = trained_records
        self.metadata = dict(metadata or {})
        self.prior_weight = weight_from_probability(prior)
        # Per comparison, per level index: the weight (0 for the null level), and for
        # term-frequency levels the column and m used to adjust it.
        self._weights: list[list[float]] = []
        self._tf: list[dict[int, tuple[str, float]]] = []
        for c in COMPARISONS:
            weights: list[float] = []
            tf: dict[int, tuple[str, float]] = {}
            for index, lv in enumerate(c.levels):
                if lv.is_null:
                    weights.append(0.0)
                    continue
                params = self.levels[c.name][lv.key]
                weights.append(_weight(params.m, params.u))
                if lv.tf_column and lv.tf_column in self.term_frequencies:
                    tf[index] = (lv.tf_column, params.m)
            self._weights.append(weights)
            self._tf.append(tf)
        # Swapped names are weighed by the frequencies of the names, as exact ones are:
        # u ≈ tf(first) · tf(last), of whichever record has the more common reading.
        self._swap_tf: float | None = None
        if "first" in self.term_frequencies and "last" in self.term_frequencies:
            self._swap_tf = math.log2(
                max(self.levels[FIRST_NAME.name]["swapped"].m, _MIN_PROB)
                / max(self.levels[FIRST_NAME.name]["exact"].m, _MIN_PROB)
                / max(self.levels[LAST_NAME.name]["exact"].m, _MIN_PROB)
            )
        # (name, comparison indices, {their level indices: joint weight}), largest first
        self._joints: list[tuple[str, tuple[int, ...], dict[tuple[int, ...], float]]] = []
        m_last = self.levels[LAST_NAME.name]["exact"].m
        for name, u in self.joint_u.items():
            parts = JOINTS[name]
            indices = tuple(_CI[comparison_name] for comparison_name, _keys in parts)
            table: dict[tuple[int, ...], float] = {}
            for combination in itertools.product(*(keys for _c, keys in parts)):
                m = m_last
                for (comparison_name, _keys), key in zip(parts, combination, strict=True):
                    m *= self.levels[comparison_name][key].m
                level_indices = tuple(
                    COMPARISONS[ci].index(key) for ci, key in zip(indices, combination, strict=True)
                )
                table[level_indices] = _weight(m, u)
            self._joints.append((name, indices, table))
        self._joints.sort(key=lambda joint: (-len(joint[1]), joint[0]))

    # --- scoring ---------------------------------------------------------------------

    def tf_weight(self, column: str, m: float, value: str) -> float:
        """Weight of an exact match on ``value`` of a term-frequency column."""
        freq = self.term_frequencies.get(column, {}).get(value)
        if freq is None:
            freq = self.tf_floor.get(column, 1e-6)
        return _weight(m, freq)

    def level_weights(
        self, a: Features, b: Features
    ) -> tuple[list[tuple[int, float]], dict[str, float]]:
        """(level index, weight) for every comparison, in COMPARISONS order, and the
        joint corrections (each ≤ 0) to add to their sum."""
        out: list[tuple[int, float]] = []
        for ci, comparison in enumerate(COMPARISONS):
            index = comparison.level_of(a, b)
            tf = self._tf[ci].get(index)
            if tf is not None:
                weight = self.tf_weight(tf[0], tf[1], getattr(a, tf[0]))
            elif ci == _FIRST_CI and index == _SWAPPED and self._swap_tf is not None:
                weight = self._swapped_weight(a, b)
            else:
                weight = self._weights[ci][index]
            out.append((index, weight))
        return out, self._corrections(out)

    def _corrections(self, levels: list[tuple[int, float]]) -> dict[str, float]:
        corrections: dict[str, float] = {}
        last_index, last_weight = levels[_LAST_CI]
        if last_index != _LAST_EXACT:
            return corrections
        size = 0
        for name, indices, table in self._joints:
            if len(indices) < size:
                break
            joint = table.get(tuple(levels[ci][0] for ci in indices))
            if joint is None:
                continue
            size = len(indices)
            separate = last_weight + sum(levels[ci][1] for ci in indices)
            corrections[name] = min(0.0, joint - separate)
        return corrections

    def _swapped_weight(self, a: Features, b: Features) -> float:
        m_first = self.levels[FIRST_NAME.name]["exact"].m
        m_last = self.levels[LAST_NAME.name]["exact"].m
        reading = min(
            self.tf_weight("first", m_first, f.first) + self.tf_weight("last", m_last, f.last)
            for f in (a, b)
        )
        return max(-MAX_WEIGHT, min(MAX_WEIGHT, (self._swap_tf or 0.0) + reading))

    def weight_of_features(self, a: Features, b: Features) -> float:
        """Total match weight (prior included) of two feature sets."""
        levels, corrections = self.level_weights(a, b)
        return self.prior_weight + sum(w for _i, w in levels) + sum(corrections.values())

    def score(self, a: MatchRecord, b: MatchRecord) -> Match:
        """Match probability, weight and the reasons (strongest first) for two records."""
        fa, fb = features_of(a), features_of(b)
        levels, corrections = self.level_weights(fa, fb)
        total = self.prior_weight + sum(corrections.values())
        found: list[tuple[float, str]] = []
        for (index, weight), comparison in zip(levels, COMPARISONS, strict=True):
            total += weight
            if weight > 0.5:
                text = comparison.reason(comparison.levels[index].key, a, b, fa, fb)
                if text:
                    found.append((weight, text))
        found.sort(key=lambda item: (-item[0], item[1]))
        return Match(probability_from_weight(total), total, [text for _w, text in found])

    def explain(self, a: MatchRecord, b: MatchRecord) -> dict[str, tuple[str, float]]:
        """Level and weight per comparison, the joint corrections and the prior (for
        debugging and the review UI)."""
        fa, fb = features_of(a), features_of(b)
        levels, corrections = self.level_weights(fa, fb)
        out = {
            c.name: (c.levels[index].key, weight)
            for (index, weight), c in zip(levels, COMPARISONS, strict=True)
        }
        for name, correction in corrections.items():
            out[name] = ("joint", correction)
        out["prior"] = ("λ", self.prior_weight)
        return out

    def weight_sql(
        self, level_columns: list[str], left_tf: dict[str, str], right_tf: dict[str, str]
    ) -> str:
        """SQL for the total match weight, given columns holding each comparison's level
        index (COMPARISONS order) and the term-frequency weights of the left and right
        records (``{"first": col, …}``) — the same sum as :meth:`weight_of_features`."""
        terms = [repr(self.prior_weight)]
        values_of: list[list[str]] = []
        for ci in range(len(COMPARISONS)):
            values = [
                left_tf[self._tf[ci][index][0]] if index in self._tf[ci] else repr(weight)
                for index, weight in enumerate(self._weights[ci])
            ]
            if ci == _FIRST_CI and self._swap_tf is not None:
                reading = (
                    f"least({left_tf['first']} + {left_tf['last']}, "
                    f"{right_tf['first']} + {right_tf['last']})"
                )
                values[_SWAPPED] = (
                    f"greatest({-MAX_WEIGHT!r}, least({MAX_WEIGHT!r}, "
                    f"{self._swap_tf!r} + {reading}))"
                )
            values_of.append(values)
            terms.append(f"([{', '.join(values)}])[{level_columns[ci]} + 1]")
        if self._joints:
            terms.append(self._corrections_sql(level_columns, values_of))
        return " + ".join(terms)

    def _corrections_sql(self, level_columns: list[str], values_of: list[list[str]]) -> str:
        last_weight = values_of[_LAST_CI][_LAST_EXACT]
        by_size: dict[int, list[tuple[str, str]]] = {}
        for _name, indices, table in self._joints:
            applies = " OR ".join(
                "("
                + " AND ".join(
                    f"{level_columns[ci]} = {index}" for ci, index in zip(indices, key, strict=True)
                )
                + ")"
                for key in sorted(table)
            )
            cases = " ".join(
                "WHEN "
                + " AND ".join(
                    f"{level_columns[ci]} = {index}" for ci, index in zip(indices, key, strict=True)
                )
                + f" THEN least(0.0, {weight!r} - {last_weight} - ("
                + " + ".join(values_of[ci][index] for ci, index in zip(indices, key, strict=True))
                + "))"
                for key, weight in sorted(table.items())
            )
            by_size.setdefault(len(indices), []).append(
                (f"({applies})", f"(CASE {cases} ELSE 0.0 END)")
            )
        expression = "0.0"
        for size in sorted(by_size):  # smallest first, each larger one wrapping them
            joints = by_size[size]
            any_applies = " OR ".join(applies for applies, _c in joints)
            total = " + ".join(correction for _a, correction in joints)
            expression = f"(CASE WHEN {any_applies} THEN {total} ELSE {expression} END)"
        return (
            f"(CASE WHEN {level_columns[_LAST_CI]} = {_LAST_EXACT} THEN {expression} ELSE 0.0 END)"
        )

    # --- population ------------------------------------------------------------------

    def _replace(self, **changes: Any) -> MatchModel:
        values: dict[str, Any] = {
            "prior": self.prior,
            "levels": self.levels,
            "term_frequencies": self.term_frequencies,
            "tf_floor": dict(self.tf_floor),
            "joint_u": dict(self.joint_u),
            "trained_records": self.trained_records,
            "metadata": self.metadata,
        }
        values.update(changes)
        return MatchModel(**values)

    def with_prior(self, prior: float) -> MatchModel:
        return self._replace(prior=prior)

    def with_term_frequencies(
        self, frequencies: dict[str, dict[str, float]], floors: dict[str, float]
    ) -> MatchModel:
        """The same model with the value frequencies of another data set (the one being
        scanned: frequencies are a property of the data, not of the person-matching)."""
        return self._replace(term_frequencies=frequencies, tf_floor=dict(floors))

    def for_population(self, records: int) -> MatchModel:
        """The same model for a data set of another size. λ is "expected duplicates of a
        record / records", so it scales as 1/N; so do the term-frequency floor (a value
        seen once) and the joint u's (a record's relatives / records)."""
        if self.trained_records <= 0 or records <= 1:
            return self
        ratio = self.trained_records / records
        return self._replace(
            prior=min(0.5, max(1e-12, self.prior * ratio)),
            tf_floor={k: max(1e-12, v * ratio) for k, v in self.tf_floor.items()},
            joint_u={k: max(1e-15, v * ratio) for k, v in self.joint_u.items()},
            trained_records=records,
        )

    # --- storage ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "prior": self.prior,
            "trained_records": self.trained_records,
            "metadata": self.metadata,
            "comparisons": {
                c.name: {
                    key: {"m": params.m, "u": params.u}
                    for key, params in self.levels[c.name].items()
                }
                for c in COMPARISONS
            },
            "joint_u": self.joint_u,
            "term_frequencies": self.term_frequencies,
            "tf_floor": self.tf_floor,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MatchModel:
        if data.get("format") != MODEL_FORMAT:
            raise ValueError(f"not a {MODEL_FORMAT} model: {data.get('format')!r}")
        levels = {
            name: {key: LevelParams(float(p["m"]), float(p["u"])) for key, p in by_level.items()}
            for name, by_level in data["comparisons"].items()
        }
        return cls(
            prior=float(data["prior"]),
            levels=levels,
            term_frequencies={
                col: {str(k): float(v) for k, v in values.items()}
                for col, values in data.get("term_frequencies", {}).items()
            },
            tf_floor={k: float(v) for k, v in data.get("tf_floor", {}).items()},
            joint_u={k: float(v) for k, v in data.get("joint_u", {}).items()},
            trained_records=int(data.get("trained_records", 0)),
            metadata=dict(data.get("metadata", {})),
        )

    @classmethod
    def from_json(cls, text: str) -> MatchModel:
        return cls.from_dict(json.loads(text))

    @classmethod
    def default(cls) -> MatchModel:
        """The model shipped with Kith, trained on generated data (see
        ``kith.contacts.dedupe.train.train_default_model``)."""
        return _default_model()

    @classmethod
    def from_priors(cls, prior: float = 1e-4) -> MatchModel:
        """Hand-set starting values, no term frequencies (tests; EM's starting point)."""
        return cls(prior=prior, levels={})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MatchModel) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"MatchModel(prior={self.prior:.3g}, trained_records={self.trained_records})"


@cache
def _default_model() -> MatchModel:
    text = resources.files("kith.contacts.dedupe").joinpath("default_model.json").read_text()
    return MatchModel.from_json(text)
