"""Errors shared by every layer of twostep.

``ConfigError`` is a user's mistake (bad name, value out of range): the CLI
prints its one-line message and exits 2.  ``NonFiniteError`` is a numerical
blow-up: it says where it happened and never lets a NaN reach a table.
``TimeBudgetError`` is an evaluation given up after its time budget (the CLI
exits 2 and says how to allow more time).
"""

from __future__ import annotations


class TwostepError(Exception):
    """Base class of twostep's own errors."""


class ConfigError(TwostepError, ValueError):
    """Bad input: the message names the problem and the allowed values."""


class NonFiniteError(TwostepError, FloatingPointError):
    """NaN or Inf appeared; the message says at which stage."""


class TimeBudgetError(TwostepError, TimeoutError):
    """A symbolic or numerical evaluation ran past its time budget; the message
    says which evaluation was given up and after how long."""


class UndefinedError(TwostepError, ArithmeticError):
    """A quantity that does not exist for this input (e.g. a product of
    distributional derivatives of a non-smooth activation)."""


class NoSuchTerm(ConfigError, KeyError):
    """A term (or projection) looked up by a k that is not there (``Observables.term``):
    a ConfigError (the CLI's exit 2) and a KeyError, whose message names the ks there are."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class NoSuchSpectrum(ConfigError, KeyError):
    """A spectrum looked up by a matrix name that is not there (``Observables.spectrum``): a
    ConfigError (the CLI's exit 2) and a KeyError, whose message names the spectra there are."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
