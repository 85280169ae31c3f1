"""Turns pip's installation reports (`pip install --dry-run --report`) into what containers/lock.sh needs.

  python lock_report.py sdists REPORT               the source distributions in REPORT, one `name @ url#sha256=...` a line
  python lock_report.py write LOCK HEADER REPORT... the lock file: every distribution of the reports pinned by version
                                                    and sha256 (the project itself, a local folder, is left out),
                                                    and a header line naming those that are source distributions

Standard library only: it runs in the throwaway virtualenv lock.sh resolves with.
"""

from __future__ import annotations

import json
import sys

PROJECT = "scoder-harness"  # the local folder the roles' extras come from; images and install.sh install it apart


def _distributions(report_path: str) -> list[dict]:
    report = json.load(open(report_path))
    distributions = []
    for item in report["install"]:
        name, info = item["metadata"]["name"], item["download_info"]
        if "archive_info" not in info:  # a local folder: only the project itself may be one
            if name != PROJECT:
                raise SystemExit(f"{name} resolved to {info['url']}, which is not an archive with a hash; refusing to lock it")
            continue
        distributions.append({
            "name": name,
            "version": item["metadata"]["version"],
            "url": info["url"],
            "sha256": info["archive_info"]["hashes"]["sha256"],
        })
    return distributions


def sdists(report_path: str) -> None:
    for item in _distributions(report_path):
        if not item["url"].endswith(".whl"):
            print(f"{item['name']} @ {item['url']}#sha256={item['sha256']}")


def write(lock_path: str, header: str, *report_paths: str) -> None:
    pinned: dict[str, dict] = {}
    for report_path in report_paths:
        for item in _distributions(report_path):
            key = item["name"].lower().replace("_", "-")
            if key in pinned and pinned[key]["version"] != item["version"]:
                raise SystemExit(f"{item['name']} resolved to both {pinned[key]['version']} and {item['version']}")
            pinned[key] = item
    lines = [f"# {line}" for line in header.splitlines()]
    sources = [item["name"] for item in pinned.values() if not item["url"].endswith(".whl")]
    if sources:  # an image must build these with --build-constraint, so their build tools are locked too
        lines.append(f"# Source distributions, built at install: {', '.join(sorted(sources))}")
    lines.append("# Install: pip install --require-hashes --no-deps -r requirements.lock")
    for key in sorted(pinned):
        item = pinned[key]
        lines.append(f"{item['name']}=={item['version']} \\\n    --hash=sha256:{item['sha256']}")
    open(lock_path, "w").write("\n".join(lines) + "\n")


if __name__ == "__main__":
    command, *arguments = sys.argv[1:]
    {"sdists": sdists, "write": write}[command](*arguments)
