"""Quality scores (CLIPScore, PickScore, LAION aesthetic) and image-against-image comparison.

    from core.scoring import make_scorer, compare, score_missing
"""
from core.scoring.backfill import ScorerSet, score_missing
from core.scoring.compare import Comparison, compare
from core.scoring.scorers import METRICS, SCORERS, Scorer, make_scorer, parse_metrics
from core.scoring.sources import ScorerWeightsError

__all__ = ["METRICS", "SCORERS", "Comparison", "Scorer", "ScorerSet", "ScorerWeightsError", "compare",
           "make_scorer", "parse_metrics", "score_missing"]
