"""Rewrite rules as data, a cost model and the engine that applies them in phases.

* :mod:`.rules`    -- the rule library (named rule sets, one rule per line, guarded);
* :mod:`.patterns` -- matchers/builders for rules a ``Wild`` pattern cannot express;
* :mod:`.cost`     -- approximate CPU cycles per operation, operation counts;
* :mod:`.engine`   -- bottom-up application in ordered phases.
"""
from .cost import CYCLES, cost, op_counts
from .engine import (ALL_PHASES, LOWERING, PHASES, UnknownPhaseError, apply_rules, lower, lower_all,
                     simplify, simplify_with_stats)
from .rules import RULESETS, Rule, all_rules

__all__ = ["CYCLES", "cost", "op_counts", "PHASES", "ALL_PHASES", "LOWERING", "apply_rules",
           "lower", "lower_all", "simplify", "simplify_with_stats", "RULESETS", "Rule", "all_rules",
           "UnknownPhaseError"]
