"""Great Expectations suites (``quality.expectations_dir``) checked on Spark frames: ``validator`` runs
them (GX contexts, results, Data Docs), ``onepass`` computes their checks in one aggregation."""
from inlife.quality.validator import Failure, Outcome, QualityError, Validator, load_suite, suite_path

__all__ = ["Failure", "Outcome", "QualityError", "Validator", "load_suite", "suite_path"]
