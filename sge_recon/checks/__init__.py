"""The reconciliation checks engine (DESIGN §5): catalogue, thresholds, runner, history.

The catalogue lives in ``checks/`` (one ``<name>.sql`` per check + ``checks.yml``). Two engines
run it with the same statuses and counts: plain SQL (default, fast) and Great Expectations
(imported only when that engine is asked for).
"""

from .model import CheckDefinition, CheckResult, RunResult
from .service import CheckService

__all__ = ["CheckDefinition", "CheckResult", "CheckService", "RunResult"]
