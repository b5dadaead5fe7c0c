"""How a claim's verdict is reached: a Rule applied to numbers a lesson measured, or a Judgement.

    Rule(why, decide, cases)   decide(**measured) -> one of VERDICTS. ``why`` states the thresholds
                               and the reason for them. ``cases`` are (measured, expected verdict)
                               pairs on both sides of every threshold: tests/test_claim_rules.py
                               calls the rule on each and fails if a rule can give only one verdict.
    Judgement(verdict, why)    a reading of the article's text (a definition, history, notation),
                               not a measurement; ``why`` is the one-line reason shown in the table.

A lesson's ``@claim("A17")`` function returns ``(measured, value)``: ``measured`` is the dict of
numbers the rule takes (``None`` when this run cannot decide, e.g. a training result in --quick
mode), ``value`` the sentence the table shows. For a Judgement ``measured`` is ``{}``.
"""
import inspect

VERDICTS = ("correct", "wrong", "ambiguous", "unverifiable")


class Rule:
    """A verdict computed from measured values by ``decide``; see the module docstring."""
    kind = "computed"

    def __init__(self, why, decide, cases, inputs=None):
        self.why, self.decide, self.cases = why, decide, [(dict(m), v) for m, v in cases]
        self.inputs = tuple(inputs or inspect.signature(decide).parameters)   # the names of the measured values

    def __call__(self, measured):
        if set(measured) != set(self.inputs):
            raise TypeError(f"the rule takes {sorted(self.inputs)}, the lesson measured {sorted(measured)}")
        verdict = self.decide(**measured)
        if verdict not in VERDICTS:
            raise ValueError(f"a rule must give one of {VERDICTS}, got {verdict!r}")
        return verdict


class Judgement:
    """A verdict that is a reading of the text, with its one-line reason; nothing measured decides it."""
    kind = "judgement"

    def __init__(self, verdict, why):
        if verdict not in VERDICTS:
            raise ValueError(f"a judgement must be one of {VERDICTS}, got {verdict!r}")
        self.verdict, self.why = verdict, why

    def __call__(self, measured):
        return self.verdict


class Claim:
    """One article claim: id, article, where in it, the claim in our words, the lesson, and its basis."""

    def __init__(self, cid, lesson, article, where, text, basis):
        self.id, self.lesson, self.article, self.where, self.text, self.basis = cid, lesson, article, where, text, basis

    @property
    def kind(self):
        return self.basis.kind


def within(a, b, tol):
    """|a − b| ≤ tol (a helper for rules)."""
    return abs(a - b) <= tol
