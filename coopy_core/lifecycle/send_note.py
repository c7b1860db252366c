"""One notification through apprise: `python -m coopy_core.lifecycle.send_note --title T --body B [--log F]`.

Started by the engine as a hook (detached, its output in `log_dir/hooks/<id>.log`), so a slow or unreachable
service never holds the engine's loop. The URLs come in `$COOPY_NOTIFY_URLS` (a JSON list), not as arguments:
a URL may carry a password or a token, and a command line is readable by every user of the machine. Exit 0 when
every service took it, 1 when one did not, 2 when apprise is missing. Imports nothing of coopy_core's but this.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

URLS_VAR = "COOPY_NOTIFY_URLS"
KINDS = ("info", "success", "warning", "failure")  # apprise.NotifyType's values
TAIL_LINES = 20  # the end of a failed run's log, where its error usually is
TAIL_BYTES = 4096


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coopy_core.lifecycle.send_note")
    parser.add_argument("--title", required=True)
    parser.add_argument("--body", required=True)
    parser.add_argument("--log", help="a run's log: its last lines are added to the body")
    parser.add_argument("--kind", choices=KINDS, default="info", help="apprise's notify type (ntfy: its tag)")
    args = parser.parse_args(argv)
    try:
        urls = json.loads(os.environ.get(URLS_VAR, "[]"))
    except ValueError:
        urls = None
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
        print(f"send_note: ${URLS_VAR} holds no list of URLs", file=sys.stderr)
        return 2
    try:
        import apprise
    except ImportError:
        print("send_note: apprise is not installed: pip install 'coopy[notify]'", file=sys.stderr)
        return 2
    handler = logging.StreamHandler(sys.stderr)  # why a service refused it, in the hook's log
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("apprise")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    body = args.body + (_tail(Path(args.log)) if args.log else "")
    sender = apprise.Apprise()
    for url in urls:
        if not sender.add(url):
            print(f"send_note: apprise cannot use a URL of scheme {url.partition('://')[0]!r}", file=sys.stderr)
    if not len(sender):
        return 1
    sent = bool(sender.notify(body=body, title=args.title, notify_type=args.kind))
    print(f"{'sent' if sent else 'not sent to every service'}: {args.title}")
    return 0 if sent and len(sender) == len(urls) else 1


def _tail(log: Path) -> str:
    """The last lines of the log, or nothing when it cannot be read."""
    try:
        with log.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - TAIL_BYTES))
            data = f.read()
    except OSError:
        return ""
    lines = data.decode("utf-8", "replace").splitlines()
    if size > TAIL_BYTES and lines:
        lines = lines[1:]  # the first one was cut
    lines = lines[-TAIL_LINES:]
    return "\n\nthe end of its log:\n" + "\n".join(lines) if lines else ""


if __name__ == "__main__":
    sys.exit(main())
