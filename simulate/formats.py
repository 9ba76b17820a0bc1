"""The formats of a stored :class:`~twostep.simulate.Measurement` and how earlier ones are read.

Format 3 (twostep 0.3) shares its names with the prediction (docs/reference.md, Renamed in
0.3); formats 1 (0.1) and 2 (0.2) are read under the current names by :func:`upgrade`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .options import Provenance, RunOptions

FORMAT = "twostep.simulate.Measurement/3"
#: Earlier formats :meth:`Measurement.from_dict` reads (renamed to the current names):
#: 1 (twostep 0.1), 2 (0.2: before the names were shared with the prediction).
OLD_FORMATS = ("twostep.simulate.Measurement/1", "twostep.simulate.Measurement/2")


def upgrade(data: dict[str, Any], fmt: str) -> dict[str, Any]:
    """A measurement of an earlier format under the current names."""
    data = dict(data)
    if fmt == OLD_FORMATS[0]:
        data = _upgrade_1(data)
    return _upgrade_2(data)


def _upgrade_1(data: dict[str, Any]) -> dict[str, Any]:
    """Format 1 (twostep 0.1) under the names of format 2."""
    renames = {"outlier_count": "visible_new_outliers", "learned_beta": "beta"}
    for old, new in renames.items():
        if old in data:
            data[new] = data.pop(old)
    if "step_one" in data:
        s = data.pop("step_one")
        data["step_one_spike"] = None if s is None else {
            "value": s.get("outlier"), "overlap_right": s.get("overlap_right"),
            "overlap_left": s.get("overlap_left"), "overlap_beta": s.get("overlap_beta"),
            "u_norm": s.get("u_norm")}
    return data


#: Format-2 names of the observables' fields that format 3 renamed.
_SPIKE_NAMES = {"overlap_right": "right_u_overlap", "overlap_left": "left_a_overlap",
                "overlap_beta": "right_beta_overlap"}


def _renamed(entry: Any, names: Mapping[str, str]) -> Any:
    if not isinstance(entry, Mapping):
        return entry
    return {names.get(k, k): v for k, v in entry.items()}


def _upgrade_2(data: dict[str, Any]) -> dict[str, Any]:
    """Format 2 under the names of format 3: the step-one spike's and the outliers' overlaps,
    ``beta.best_term``, and the options split into :class:`RunOptions` and
    :class:`Provenance`."""
    outlier_names = {"beta_overlap": "right_beta_overlap"}
    data["step_one_spike"] = _renamed(data.get("step_one_spike"), _SPIKE_NAMES)
    if data.get("outliers") is not None:
        data["outliers"] = [_renamed(o, outlier_names) for o in data["outliers"]]
    spectra = {}
    for name, spec in (data.get("spectra") or {}).items():
        if isinstance(spec, Mapping) and spec.get("outliers") is not None:
            spec = {**spec, "outliers": [_renamed(o, outlier_names) for o in spec["outliers"]]}
        spectra[name] = spec
    data["spectra"] = spectra
    data["beta"] = _renamed(data.get("beta"), {"term": "best_term"})
    options = dict(data.get("options") or {})
    kept = {k: v for k, v in options.items() if k in RunOptions.fields()}
    data["provenance"] = {k: v for k, v in options.items()
                          if k in Provenance.__dataclass_fields__}
    kept.pop("block_rows", None)  # format 2 recorded the rows used (now the provenance's)
    data["options"] = kept
    return data
