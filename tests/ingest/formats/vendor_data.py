"""A site's own mapping file, for a system no shipped mapping covers (a Meditech-like audit extract:
pipe-delimited, US dates, short codes), and an interchange access_log.csv written in that shape:
the round trip CSV -> vendor extract -> vault."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

COLUMNS = ["AuditSeq", "UserMnemonic", "PatientAcct", "AccessDate", "Func", "Screen", "Result", "Purpose",
           "Override", "OverrideText", "Terminal"]
ACTIONS = {"view": "V", "create": "A", "update": "E", "delete": "X", "print": "P", "export": "XP",
           "search": "Q", "disclose": "ROI", "login_failed": "LF"}
SCREENS = {"demographics": "REG", "note": "DOC", "lab": "LAB", "imaging": "RAD", "medication": "PHA",
           "order": "OE", "psychotherapy_note": "PSY", "substance_use": "SUD", "hiv": "HIV", "genetic": "GEN",
           "other": "OTH"}

SITE_MAPPING = f"""\
# A site's mapping of its Meditech-like audit extract (written by the site, kept in its own folder)
mapping: 1
name: meditech-audit
title: Our Meditech audit extract
file: {{suffixes: [.txt], delimiter: "|", encoding: utf-8}}
fields:
  event_id: {{column: AuditSeq}}
  user_id: {{column: UserMnemonic}}
  mrn: {{column: PatientAcct}}
  time: {{column: AccessDate, formats: ["%m/%d/%Y %H:%M:%S"], zone: organisation}}
  action:
    column: Func
    codes: {{{", ".join(f"{code}: {action}" for action, code in ACTIONS.items())}}}
  record_type:
    column: Screen
    codes: {{{", ".join(f"{code}: {kind}" for kind, code in SCREENS.items())}}}
  outcome: {{column: Result, codes: {{OK: success, DENY: denied}}}}
  purpose: {{column: Purpose}}
  break_glass: {{column: Override, codes: {{"Y": true, "N": false}}}}
  reason: {{column: OverrideText}}
  workstation: {{column: Terminal}}
"""


def write_site_policies(folder: Path, text: str = SITE_MAPPING) -> Path:
    (folder / "formats").mkdir(parents=True, exist_ok=True)
    (folder / "formats" / "meditech-audit.yaml").write_text(text, encoding="utf-8")
    return folder


def write_extract(access_log: Path, out: Path) -> int:
    """access_log.csv as the site's extract; the number of events written."""
    with access_log.open(encoding="utf-8", newline="") as source, out.open("w", encoding="utf-8", newline="") as sink:
        writer = csv.writer(sink, delimiter="|")
        writer.writerow(COLUMNS)
        n = 0
        for row in csv.DictReader(source):
            at = datetime.fromisoformat(row["timestamp"]).strftime("%m/%d/%Y %H:%M:%S")
            writer.writerow([row["event_id"], row["user_id"], row["mrn"], at, ACTIONS[row["action"]],
                             SCREENS.get(row["record_type"], ""), "DENY" if row["outcome"] == "denied" else "OK",
                             row["purpose_of_use"], "Y" if row["break_glass"] == "true" else "N", row["reason"],
                             row["workstation"]])
            n += 1
    return n
