"""The calibration of the built-in rules, as data: the rows of docs/results.md, Calibration.

How often each rule called a true claim ``inconsistent`` (type I), and a planted false one
``consistent`` (false acceptance) or ``inconsistent`` (power), measured by resampling the
default design (4 seeds per N) from a pool of seeds (``benchmarks/calibrate.py``).  The HTML
report shows each verdict's rule with these rows (:func:`calibration_of`);
``tests/test_report_html.py`` checks them against docs/results.md, so the two do not drift.
A claim with no row here (``left-vectors``, ``one-step-spikes``, a user's claim) was not
calibrated.
"""

from __future__ import annotations

#: Where the rows come from, for a reader.
SOURCE = "docs/results.md, Calibration (benchmarks/calibrate.py, 200 resamples of 4 seeds per N)"

#: The columns of :data:`TRUE_CLAIMS` (``inconclusive``: the resamples no verdict decided,
#: ``blocked`` ones included: ``benchmarks/calibrate.py``'s ``Tally.undecided``).
TRUE_COLUMNS = ("rule", "subject", "resamples", "consistent", "inconclusive", "type I",
                "type I 95% CI")

#: The true claims: (rule, subject, resamples, consistent, inconclusive, type I, its 95% CI).
TRUE_CLAIMS: tuple[tuple[str, ...], ...] = (
    ("term-exponent", "exact term k=0 (a^1)", "200", "84%", "14%", "3%", "[1%, 6%]"),
    ("term-exponent", "exact term k=1 (a^2)", "200", "0%", "98%", "2%", "[1%, 6%]"),
    ("term-exponent", "exact term k=2 (a^3)", "200", "0%", "99%", "0%", "[0%, 3%]"),
    ("term-exponent", "exact term k=3 (a^4)", "200", "0%", "100%", "0%", "[0%, 2%]"),
    ("outlier-count", "count of new outliers", "200", "0%", "100%", "0%", "[0%, 2%]"),
    ("reuse-gap", "term k=0 (a^1): reuse vs independent", "200", "100%", "0%", "0%", "[0%, 2%]"),
    ("reuse-learning", "reuse: an outlier of W_2 carries beta_* (term k=0) (count)", "200", "100%",
     "0%", "0%", "[0%, 2%]"),
    ("reuse-learning", "independent: an outlier of W_2 carries beta_* (term k=0) (count)", "200",
     "100%", "0%", "0%", "[0%, 2%]"),
    ("reuse-learning", "reuse: an outlier of W_2 carries beta_* (term k=2) (learning)", "200",
     "0%", "100%", "0%", "[0%, 2%]"),
    ("reuse-learning", "independent: an outlier of W_2 carries beta_* (term k=2) (learning)",
     "200", "0%", "100%", "0%", "[0%, 2%]"),
    ("growth-exponent", "term k=0 (a^1)", "200", "76%", "24%", "0%", "[0%, 2%]"),
    ("growth-exponent", "term k=1 (a^2)", "200", "0%", "100%", "0%", "[0%, 2%]"),
    ("term-amplitude", "term k=0: measured / predicted amplitude", "200", "0%", "100%", "0%",
     "[0%, 3%]"),
    ("term-amplitude", "term k=1: measured / predicted amplitude", "200", "0%", "96%", "4%",
     "[2%, 8%]"),
    ("term-amplitude", "term k=2: measured / predicted amplitude", "200", "0%", "94%", "6%",
     "[3%, 10%]"),
    ("outlier-locations", "new outliers of terms k >= 1 minus predicted (independent)", "200",
     "0%", "100%", "0%", "[0%, 2%]"),
    ("outlier-locations", "new outliers of terms k >= 1 minus predicted (locations)", "200", "2%",
     "98%", "0%", "[0%, 2%]"),
    ("outlier-locations", "term k=1: outlier gap above the edge vs predicted (locations)", "200",
     "0%", "100%", "0%", "[0%, 2%]"),
    ("bbp", "outlier location", "200", "14%", "86%", "0%", "[0%, 2%]"),
    ("bbp", "squared overlap right vector / beta_*", "200", "30%", "70%", "0%", "[0%, 2%]"),
    ("bbp", "squared overlap left vector / a", "200", "66%", "34%", "0%", "[0%, 2%]"),
)

#: The planted false claims per rule: (the kind of error, the planted errors, and per subject
#: "false acceptance / power" at each error; "-": that plant changed no finding).
PLANTED: dict[str, tuple[str, tuple[str, ...], tuple[tuple[str, ...], ...]]] = {
    "term-exponent": ("exponent errors",
        ("-0.3", "-0.2", "-0.1", "-0.05", "+0.05", "+0.1", "+0.2", "+0.3"),
        (
            ("exact term k=0 (a^1)", "0% / 100%", "0% / 100%", "0% / 92%", "5% / 42%", "21% / 38%",
             "0% / 96%", "0% / 100%", "0% / 100%"),
            ("exact term k=1 (a^2)", "0% / 94%", "0% / 64%", "0% / 19%", "0% / 8%", "0% / 2%",
             "0% / 10%", "0% / 72%", "0% / 92%"),
            ("exact term k=2 (a^3)", "0% / 38%", "0% / 22%", "0% / 8%", "0% / 4%", "0% / 0%",
             "0% / 2%", "0% / 16%", "0% / 31%"),
            ("exact term k=3 (a^4)", "0% / 0%", "0% / 0%", "0% / 0%", "0% / 0%", "0% / 0%",
             "0% / 0%", "0% / 0%", "0% / 0%"),
        )),
    "outlier-count": ("count errors",
        ("count -1", "count +1"),
        (
            ("count of new outliers", "0% / 20%", "0% / 0%"),
        )),
    "reuse-gap": ("direction errors",
        ("flipped (reuse)", "flipped (independent)"),
        (
            ("term k=0 (a^1): reuse vs independent", "0% / 100%", "0% / 100%"),
        )),
    "reuse-learning": ("direction errors",
        ("flipped (reuse)", "flipped (independent)"),
        (
            ("reuse: an outlier of W_2 carries beta_* (term k=0) (count)", "0% / 100%", "-"),
            ("independent: an outlier of W_2 carries beta_* (term k=0) (count)", "-", "0% / 100%"),
            ("reuse: an outlier of W_2 carries beta_* (term k=2) (learning)", "0% / 0%", "-"),
            ("independent: an outlier of W_2 carries beta_* (term k=2) (learning)", "-",
             "0% / 0%"),
        )),
    "growth-exponent": ("exponent errors",
        ("-0.3", "-0.2", "-0.1", "-0.05", "+0.05", "+0.1", "+0.2", "+0.3"),
        (
            ("term k=0 (a^1)", "0% / 99%", "0% / 98%", "0% / 56%", "12% / 6%", "20% / 18%",
             "0% / 55%", "0% / 90%", "0% / 98%"),
            ("term k=1 (a^2)", "0% / 0%", "0% / 0%", "0% / 0%", "0% / 0%", "0% / 0%", "0% / 0%",
             "0% / 0%", "0% / 0%"),
        )),
    "term-amplitude": ("constant errors",
        ("-30%", "-10%", "-5%", "-2%", "+2%", "+5%", "+10%", "+30%"),
        (
            ("term k=0: measured / predicted amplitude", "0% / 100%", "0% / 48%", "0% / 8%",
             "0% / 0%", "0% / 2%", "0% / 8%", "0% / 42%", "0% / 100%"),
            ("term k=1: measured / predicted amplitude", "0% / 98%", "0% / 10%", "0% / 2%",
             "0% / 2%", "0% / 7%", "0% / 12%", "0% / 22%", "0% / 100%"),
            ("term k=2: measured / predicted amplitude", "0% / 21%", "0% / 2%", "0% / 3%",
             "0% / 5%", "0% / 6%", "0% / 10%", "0% / 13%", "0% / 48%"),
        )),
    "outlier-locations": ("constant errors",
        ("-30%", "-10%", "-5%", "-2%", "+2%", "+5%", "+10%", "+30%"),
        (
            ("new outliers of terms k >= 1 minus predicted (independent)", "-", "-", "-", "-", "-",
             "-", "-", "-"),
            ("new outliers of terms k >= 1 minus predicted (locations)", "0% / 0%", "0% / 0%",
             "0% / 0%", "0% / 0%", "0% / 1%", "0% / 1%", "0% / 1%", "0% / 1%"),
            ("term k=1: outlier gap above the edge vs predicted (locations)", "0% / 0%", "0% / 0%",
             "0% / 0%", "0% / 0%", "0% / 0%", "0% / 0%", "0% / 0%", "0% / 0%"),
        )),
    "bbp": ("constant errors",
        ("-30%", "-10%", "-5%", "-2%", "+2%", "+5%", "+10%", "+30%"),
        (
            ("outlier location", "0% / 100%", "0% / 98%", "2% / 13%", "14% / 0%", "10% / 0%",
             "0% / 8%", "0% / 98%", "0% / 100%"),
            ("squared overlap right vector / beta_*", "0% / 97%", "0% / 74%", "20% / 5%",
             "30% / 0%", "30% / 0%", "24% / 0%", "0% / 42%", "0% / 100%"),
            ("squared overlap left vector / a", "0% / 100%", "0% / 100%", "0% / 52%", "62% / 0%",
             "56% / 0%", "0% / 68%", "0% / 100%", "0% / 100%"),
        )),
}


def calibration_of(claim: str) -> tuple[list[tuple[str, ...]], tuple | None]:
    """The rows of ``claim``'s rule: its true-claim rows (:data:`TRUE_COLUMNS`) and its
    planted errors (an entry of :data:`PLANTED`, or None); ``([], None)``: not calibrated."""
    return [r for r in TRUE_CLAIMS if r[0] == claim], PLANTED.get(claim)
