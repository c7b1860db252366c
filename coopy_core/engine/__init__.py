"""The engine: `Engine` (engine.py, the facade) over parts that each do one job and never import it.

book.py       run records, counts per stage, queues and backoff timers
outputs.py    what a run is over and makes: target, recipe, outputs, skip_if_done, its metrics file
settle.py     applying what Readiness said (ready, blocked, reset, replaced; priorities carried)
dispatch.py   `select` (pure: queue heads and pools -> the run to serve) and the loop that starts runs
ending.py     an attempt's end as named rules in order (refused start ... settle, hooks)
finish.py     the pipeline's end (FINISHED, on_finished)
reconcile.py  at start: load the store, judge what is stale, re-adopt what runs
commands.py   the answers to `coopy_core.commands.Commands`; queries.py: snapshot, summary, history
queues.py     StageQueue; views.py: RunView / StageView
"""

from coopy_core.commands import CommandError
from coopy_core.engine.engine import Engine
from coopy_core.state.journal import Subscriber

__all__ = ["CommandError", "Engine", "Subscriber"]
