"""The model configuration shared by theory, simulate and compare.

``ModelConfig`` describes the canonical two-layer model of docs/model.md ("The canonical model"):

- inputs ``x ~ N(0, I_d)``, target ``y = sigma_*(<beta_*, x>) + eps``,
  ``eps ~ N(0, tau^2)`` (``noise`` = tau);
- ``f(x) = N^{-1/2} sum_i a_i sigma(<w_i, x>)``, ``a`` fixed;
- step t: ``W_{t+1} = W_t + (eta_t / n) diag(a) [sigma'(W_t X_t^T) * r_t^T] X_t``
  with ``eta_t = etabar_t N^{alpha_t}``;
- ``psi_d = d/N`` and ``psi_n = n/N`` fixed as N grows;
- ``batch = "reuse"`` (``X_1 = X_0``) or ``"independent"`` (fresh X_1).

The scaling options (``first_layer``, ``loss``) select the non-canonical variants a user may
simulate; ``scaling`` names the combination.  ``second_layer`` is the law of ``a`` (``gaussian``,
``uniform``, ``sign``; variance 1/N each): not a scaling, and each prediction assumes the
config's law (docs/model.md, "The second layer's law").
The config is frozen, hashable and JSON-serialisable; :meth:`ModelConfig.key`
is the stable hash that keys the result store.
"""

from __future__ import annotations

import codecs
import dataclasses
import hashlib
import json
import math
import reprlib
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .errors import ConfigError

BATCH_MODES = ("reuse", "independent")
#: Other spellings of a batch mode, read as the mode wherever one is read (ModelConfig, so
#: config files too; the --batch flags; sweep grids): ``fresh`` is the steps' word for a new batch.
BATCH_ALIASES = {"fresh": "independent"}
#: Largest label noise tau accepted.  tau^2 must stay a finite float (the step-one
#: prediction uses it, and a simulation squares the residuals); a tau of this size already
#: drowns any target by six orders of magnitude.
MAX_NOISE = 1e6
SECOND_LAYER = ("gaussian", "uniform", "sign")
FIRST_LAYER = ("gaussian", "sphere")
LOSSES = ("squared", "correlation")


def exact(value: float | str | Fraction) -> Fraction:
    """The exact rational a decimal input stands for: ``0.3 -> 3/10``.

    Floats are read through their shortest decimal representation, so
    ``alpha2 / (1/2 - alpha1)`` for ``(0.25, 0.25)`` is exactly 1, never
    0.9999999999999999.
    """
    if isinstance(value, Fraction):
        return value
    if isinstance(value, float):
        return Fraction(repr(value))
    return Fraction(str(value))


#: The numeric fields of a :class:`ModelConfig`.
NUMBER_FIELDS = ("noise", "psi_d", "psi_n", "alpha1", "alpha2", "etabar1", "etabar2")

#: Byte-order marks and their encodings; UTF-32 first (its little-endian mark starts with
#: UTF-16's).
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


def decode_text(data: bytes, what: str = "file") -> str:
    """The text of a file's bytes: UTF-8, or UTF-8, UTF-16 or UTF-32 with a byte-order mark
    (as Windows editors save it); anything else is a one-line ConfigError naming ``what``."""
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), "utf-8")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        raise ConfigError(f"{what} is not {encoding.upper()} text (byte {err.start}); save it "
                          "as UTF-8 (UTF-16 and UTF-32 need a byte-order mark)") from None


#: Most digits of an integer in a config: a numeric field is a finite float (below 1.8e308, 309
#: digits), so a longer integer is refused before Python converts it (whose own limit, 4300
#: digits, would raise a bare ValueError).
MAX_INT_DIGITS = 309

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlong = 3, 80, 80, 40


def shown(value: Any) -> str:
    """A value as an error message quotes it: its repr, shortened (a long string, a deeply
    nested list, an integer of thousands of digits stay one short line)."""
    if isinstance(value, int) and value.bit_length() > 3 * MAX_INT_DIGITS:
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    return _REPR.repr(value)


def number_text(value: float) -> str:
    """A number as the commands print a config: the shortest text that reads back as the same
    float (``repr``), without a trailing ``.0``, and 0 for -0.  So ``0.49999999999999994``
    is told from the bound 1/2 (``:g`` prints 0.5), and 0.3 stays ``0.3``."""
    text = repr(float(value) + 0.0)
    return text[:-2] if text.endswith(".0") else text


def _json_int(text: str) -> int:
    """An integer of a config's JSON, at most :data:`MAX_INT_DIGITS` digits."""
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise ConfigError(f"config holds an integer of {digits} digits; a field holds a finite "
                          f"number (at most {MAX_INT_DIGITS} digits)")
    return int(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's pairs as a dict, refusing a key given twice (``json.loads`` would keep
    the last silently, so ``{"alpha1": 0.6, "alpha1": 0.3}`` would run at 0.3)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ConfigError(f"config gives {shown(key)} more than once; give each field once")
        out[key] = value
    return out


def _number(name: str, value: Any) -> float:
    """A numeric field's value as a finite float.  One rule for the API, config files and
    flags: a number (int, float, Fraction, a numpy scalar, ...), never a string or a bool
    (the command line converts its flags' text first, naming the flag)."""
    if isinstance(value, (str, bytes, bytearray)):
        raise ConfigError(f"{name} must be a number, got {shown(value)} (a string)")
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a number, got {shown(value)}")
    try:
        out = float(value)
    except OverflowError:  # an integer beyond the largest float
        raise ConfigError(f"{name} must be finite, got {shown(value)}") from None
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {shown(value)}") from None
    if not math.isfinite(out):
        raise ConfigError(f"{name} must be finite, got {shown(value)}")
    return out + 0.0  # -0.0 is 0: one config, one store key, one printed value


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {shown(value)}")
    return value


def batch_mode(value: Any) -> str:
    """``value`` as one of :data:`BATCH_MODES` (an alias of :data:`BATCH_ALIASES` as its mode);
    else a one-line ConfigError naming the accepted values."""
    mode = BATCH_ALIASES.get(value, value) if isinstance(value, str) else value
    if mode not in BATCH_MODES:
        raise ConfigError(f"batch must be one of {', '.join(BATCH_MODES)} (fresh is accepted for "
                          f"independent); got {shown(value)}")
    return mode


def check_alpha(name: str, value: float | Fraction, shown: Any = None) -> None:
    """The one check of a step-size exponent: ``value`` in [0, 1/2) (docs/model.md), else a
    one-line ConfigError naming it (and ``shown``, the value as the user gave it)."""
    if not 0 <= value < Fraction(1, 2):
        raise ConfigError(f"{name} must be in [0, 1/2), got {value if shown is None else shown!r}")


@dataclass(frozen=True)
class ModelConfig:
    """One point of the model: activation, target and the two steps.

    Ranges (refused otherwise with a one-line :class:`ConfigError`):
    ``alpha1, alpha2 in [0, 1/2)``, ``psi_d, psi_n > 0``, ``0 <= noise <= 1e6``,
    ``etabar1, etabar2 > 0``, all finite numbers (a string such as ``"0.3"`` is refused, from
    Python as from a config file).
    """

    activation: str = "tanh"
    target: str = "He1"
    noise: float = 0.0
    psi_d: float = 1.0
    psi_n: float = 1.0
    alpha1: float = 0.3
    alpha2: float = 0.45
    etabar1: float = 1.0
    etabar2: float = 1.0
    batch: str = "reuse"
    second_layer: str = "gaussian"
    first_layer: str = "gaussian"
    loss: str = "squared"

    def __post_init__(self) -> None:
        from .functions import parse_function  # sympy: loaded by the first config, not on import

        set_ = object.__setattr__
        for name in ("activation", "target"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise ConfigError(f"{name} must be a string, got {shown(value)}")
            try:
                set_(self, name, parse_function(value).text)
            except ConfigError as err:
                raise ConfigError(f"{name}: {err}") from None
        for name in NUMBER_FIELDS:
            set_(self, name, _number(name, getattr(self, name)))
        for name in ("alpha1", "alpha2"):
            check_alpha(name, getattr(self, name))
        for name in ("psi_d", "psi_n", "etabar1", "etabar2"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not 0 <= self.noise <= MAX_NOISE:
            raise ConfigError(f"noise (tau) must be >= 0 and <= {MAX_NOISE:g}, got {self.noise!r}")
        set_(self, "batch", batch_mode(self.batch))
        _choice("second_layer", self.second_layer, SECOND_LAYER)
        _choice("first_layer", self.first_layer, FIRST_LAYER)
        _choice("loss", self.loss, LOSSES)

    # -- derived -----------------------------------------------------------
    @property
    def reuse(self) -> bool:
        return self.batch == "reuse"

    @property
    def scaling(self) -> str:
        """``"canonical"`` (docs/model.md, "The canonical model") or the list of deviations
        (``"canonical+first_layer=sphere,loss=correlation"``).  The second layer's law is not a
        scaling: every law has variance 1/N (docs/model.md, "The second layer's law"), so
        ``second_layer`` is not listed; ``config.second_layer`` names it."""
        parts = []
        if self.first_layer != "gaussian":
            parts.append(f"first_layer={self.first_layer}")
        if self.loss != "squared":
            parts.append(f"loss={self.loss}")
        return "canonical" if not parts else "canonical+" + ",".join(parts)

    def exact(self, name: str) -> Fraction:
        """A numeric field (:data:`NUMBER_FIELDS`) as the exact rational of its decimal
        value."""
        if name not in NUMBER_FIELDS:
            raise ConfigError(f"{shown(name)} is not a numeric field of ModelConfig; allowed: "
                              f"{', '.join(NUMBER_FIELDS)}")
        return exact(getattr(self, name))

    def dimensions(self, N: int) -> tuple[int, int]:
        """``d = round(psi_d N)``, ``n = round(psi_n N)`` at width N (halves rounded up,
        exactly): the exact rational of the decimal ``psi`` is used, so ``psi_d = 0.3``,
        ``N = 5`` gives ``d = 2`` on every platform.  A simulation draws these sizes and a
        prediction at N uses them."""
        half = Fraction(1, 2)
        d = math.floor(self.exact("psi_d") * N + half)
        n = math.floor(self.exact("psi_n") * N + half)
        if d < 1 or n < 1:
            raise ConfigError(
                f"psi_d N and psi_n N must round to >= 1; got d={d}, n={n} at N={N}")
        return d, n

    def replace(self, **changes: Any) -> ModelConfig:
        return dataclasses.replace(self, **changes)

    # -- serialisation -----------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def fields(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        if not isinstance(data, dict):
            raise ConfigError(f"a config must be a mapping of fields, got {type(data).__name__}")
        # a name as written, unless it is long or not a string (shortened, quoted)
        unknown = sorted(k if isinstance(k, str) and len(k) <= 40 else shown(k)
                         for k in data if k not in cls.fields())
        if unknown:
            raise ConfigError(f"unknown config field(s) {', '.join(unknown)}; "
                              f"allowed: {', '.join(cls.fields())}")
        for name in NUMBER_FIELDS:
            # JSON has numbers: a quoted "0.2" is a mistake (the constructor refuses it too;
            # here the message says how to write it)
            if isinstance(data.get(name), str):
                raise ConfigError(f"{name} must be a number, got {shown(data[name])} (a string; "
                                  "write it without quotes)")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelConfig:
        """The config of a JSON object; ``bytes`` are decoded by :func:`decode_text` (UTF-8,
        or UTF-8/16/32 with a byte-order mark), a leading byte-order mark is ignored."""
        if isinstance(text, (bytes, bytearray)):
            text = decode_text(bytes(text), "config")
        elif not isinstance(text, str):
            raise ConfigError(f"a config's JSON must be text (str or bytes), got "
                              f"{type(text).__name__}")
        try:
            data = json.loads(text.removeprefix("\ufeff"), object_pairs_hook=_unique_keys,
                              parse_int=_json_int)
        except json.JSONDecodeError as err:
            raise ConfigError(f"config is not valid JSON: {err.msg} at line {err.lineno}") from None
        except RecursionError:  # json parses nested arrays and objects by recursion
            raise ConfigError("config is nested too deeply to read; a config is one JSON "
                              "object of fields (numbers and strings)") from None
        return cls.from_dict(data)

    def key(self) -> str:
        """Stable sha256 of the canonical JSON (keys the result store)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()
