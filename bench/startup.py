"""Start-up at 10,000 configurations: launch -> first job started, per system.

W1's pipeline (3 stages, caps 4/2/3) with 10,000 configurations and its durations scaled to a hundredth;
each system is launched as in W1 and stopped once its first job has stamped (`systems.first_job`), so
this costs seconds, not a whole run. W1's own launch -> first job and last job -> exit come from the
W1 runs themselves (see `report.start_and_end`).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import workloads as W
from bench.systems import SYSTEMS, first_job


def run(systems: list[str], quick: bool, keep_failed: bool = False) -> dict[str, Any]:
    n = 2_000 if quick else 10_000
    w = W.w1(n, scale=0.01)
    rows = []
    for name in systems:
        wd = Path(tempfile.mkdtemp(prefix=f"bench-start-{name}-"))
        plan = SYSTEMS[name](w, wd)
        seconds, why = first_job(plan, wd, timeout=120)
        rows.append(
            {
                "system": plan.system,
                "configurations": n,
                "launch_to_first_job_s": round(seconds, 4) if seconds is not None else None,
                "note": why,
            }
        )
        print(
            f"S{n // 1000}k {plan.system:16} launch -> first job {rows[-1]['launch_to_first_job_s']} s  {why}",
            flush=True,
        )
        time.sleep(0.1)  # detached commands of a stopped system end (each lasts milliseconds)
        if why and keep_failed and not plan.missing:
            print(f"     kept {wd}", flush=True)
        else:
            shutil.rmtree(wd, ignore_errors=True)
    return {"configurations": n, "rows": rows}
