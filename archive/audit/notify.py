"""Tell someone when an audit run finds trouble: a JSON POST to a webhook and/or a shell command.

Called once per failing run, never for a clean one. Notification problems are reported back as
text (recorded on the run), never raised: a broken webhook must not hide the audit's result.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from typing import Any

#: most findings put in one notification (the run id leads to the rest)
MAX_FINDINGS = 1000
TIMEOUT = 30


def payload(run: dict[str, Any], findings: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "event": "archive.audit.trouble",
        "run": run,
        "findings": findings[:MAX_FINDINGS],
        "findings_total": len(findings),
        "findings_truncated": len(findings) > MAX_FINDINGS,
    }


def post_webhook(url: str, body: dict[str, Any], timeout: float = TIMEOUT) -> str:
    data = json.dumps(body, default=str).encode("utf-8")
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json", "User-Agent": "archive-audit"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return f"webhook {response.status}"
    except urllib.error.HTTPError as exc:
        return f"webhook failed: HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"webhook failed: {getattr(exc, 'reason', exc)}"


def run_command(command: str, body: dict[str, Any], timeout: float = 120) -> str:
    """Run ``command`` with ``sh -c``, the JSON on stdin and ARCHIVE_AUDIT_* variables in its environment."""
    run = body.get("run", {})
    env = {
        **os.environ,
        "ARCHIVE_AUDIT_RUN": str(run.get("id", "")),
        "ARCHIVE_AUDIT_OUTCOME": str(run.get("outcome", "")),
        "ARCHIVE_AUDIT_FAILURES": str(run.get("failures", 0)),
        "ARCHIVE_AUDIT_UNCHECKED": str(run.get("unchecked", 0)),
    }
    try:
        done = subprocess.run(
            command,
            shell=True,
            input=json.dumps(body, default=str).encode("utf-8"),
            env=env,
            timeout=timeout,
            capture_output=True,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"command failed: {exc}"
    if done.returncode != 0:
        return f"command exited {done.returncode}: {done.stderr.decode('utf-8', 'replace').strip()[:200]}"
    return "command ok"


def notify(webhook: str, command: str, run: dict[str, Any], findings: list[dict[str, Any]]) -> str:
    """Send to every configured destination; return what happened ("" when nothing is configured)."""
    body = payload(run, findings)
    results = []
    if webhook:
        results.append(post_webhook(webhook, body))
    if command:
        results.append(run_command(command, body))
    return "; ".join(results)
