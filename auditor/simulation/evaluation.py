"""`auditor evaluate`: the rules' findings on a vault against a simulation's labels.

The engine runs exactly as `auditor findings` runs it (load_policy, load_frames, engine.run,
build_findings); the findings' event ids per rule are compared with labels.csv, event by event:
precision (of the events a rule reported, the share labelled with it), recall (of the events
labelled with a rule, the share it reported), and the share of normal traffic (every access the
simulation did not inject) that the contract's explanations cover. No name or MRN is read: the
findings are built without a directory, so the evaluation decrypts nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from auditor.errors import InputError
from auditor.policy import engine
from auditor.policy.explanations import EXPLANATIONS, shares_text
from auditor.policy.findings import build_findings
from auditor.policy.frames import Period, load_frames
from auditor.policy.rules import Policy
from auditor.simulation.writer import MANIFEST

LABEL_COLUMNS = ("event_id", "rule", "injected")


@dataclass(frozen=True)
class RuleScore:
    rule: str
    labelled: int
    reported: int
    correct: int
    injected: int = 0  # of the labelled events, those injected as violations (the rest: normal work's residue)

    @property
    def precision(self) -> float | None:
        return self.correct / self.reported if self.reported else None

    @property
    def recall(self) -> float | None:
        return self.correct / self.labelled if self.labelled else None


@dataclass(frozen=True)
class Triage:
    """How the one ranking (auditor.review.triage) serves the violations: of the injected violations'
    events, the share whose case is inside the review budget (all of them; those of a critical rule;
    not normal work's residue, which a rule rightly reports and the budget is there to push down), and
    the ROC AUC of the risk score (an event's: the highest risk of the findings citing it, 0 for none)
    over labelled against unlabelled events. Cases are as the case store makes them: one per member
    and period."""

    budget: int
    cases: int
    inside_share: float | None
    critical_inside_share: float | None
    auc: float | None

    def meets(self, inside: float = 0.95, auc: float = 0.9) -> bool:
        return ((self.inside_share is None or self.inside_share >= inside)
                and (self.critical_inside_share is None or self.critical_inside_share == 1.0)
                and (self.auc is None or self.auc >= auc))


@dataclass(frozen=True)
class Evaluation:
    rules: list[RuleScore]
    normal_accesses: int
    explained_share: float | None  # of normal traffic
    findings: int
    period: Period
    triage: Triage | None = None
    explained_by: dict[str, float] = field(default_factory=dict)  # of normal traffic, per explanation

    @property
    def precision(self) -> float | None:
        """Event-level precision over every (event, rule) the findings report."""
        reported = sum(r.reported for r in self.rules)
        return sum(r.correct for r in self.rules) / reported if reported else None

    @property
    def recall(self) -> float | None:
        labelled = sum(r.labelled for r in self.rules)
        return sum(r.correct for r in self.rules) / labelled if labelled else None

    def meets(self, recall: float = 0.95, precision: float = 0.95, explained: float = 0.97) -> bool:
        """The acceptance bar: every labelled rule's recall, overall precision, explained share."""
        return (all(r.recall is None or r.recall >= recall for r in self.rules)
                and (self.precision or 0.0) >= precision and (self.explained_share or 0.0) >= explained)


def read_labels(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(f"{path} is not a labels file")
    try:
        labels = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError):
        raise InputError(f"{path.name}: not a readable CSV file") from None
    missing = [c for c in LABEL_COLUMNS if c not in labels.columns]
    if missing:
        raise InputError(f"{path.name}: missing column(s) {', '.join(missing)}")
    labels["injected"] = labels["injected"].str.strip().str.casefold().isin(("true", "1", "yes"))
    return labels


def simulated_month(labels_path: Path) -> tuple[date, date]:
    """The first and last day of the month simulation.json (beside the labels) names."""
    manifest = labels_path.parent / MANIFEST
    try:
        month = json.loads(manifest.read_text())["month"]
        first = date.fromisoformat(f"{month}-01")
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"no readable {MANIFEST} beside {labels_path.name}: give --from and --to") from None
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, date.fromordinal(following.toordinal() - 1)


def _reported(findings) -> pd.DataFrame:
    rows = [(event_id, f.rule) for f in findings for event_id in f.event_ids]
    return pd.DataFrame(rows, columns=["event_id", "rule"]).drop_duplicates()


def score(labels: pd.DataFrame, reported: pd.DataFrame, rules: list[str]) -> list[RuleScore]:
    truth = labels[["event_id", "rule"]].drop_duplicates()
    both = truth.merge(reported, on=["event_id", "rule"])
    count = lambda frame: frame.groupby("rule").size()  # noqa: E731
    labelled, found, correct = count(truth), count(reported), count(both)
    planted = count(labels[labels["injected"]].drop_duplicates(["event_id", "rule"])) if "injected" in labels \
        else pd.Series(dtype=int)
    return [RuleScore(rule, int(labelled.get(rule, 0)), int(found.get(rule, 0)), int(correct.get(rule, 0)),
                      int(planted.get(rule, 0))) for rule in rules]


def roc_auc(scores: pd.Series, positive: pd.Series, weight: pd.Series | None = None) -> float | None:
    """The area under the ROC curve of `scores` for telling `positive` rows from the rest: the chance
    that a positive row scores above a negative one, ties counting half (Mann-Whitney's U over n+ n-).
    `weight`: how many rows each row stands for (the unscored events, counted rather than listed)."""
    positive = positive.astype(bool).to_numpy()
    weight = np.ones(len(positive)) if weight is None else weight.to_numpy(dtype=float)
    n_pos, n_neg = weight[positive].sum(), weight[~positive].sum()
    if not n_pos or not n_neg:
        return None
    by = pd.DataFrame({"score": scores.to_numpy(dtype=float), "pos": np.where(positive, weight, 0.0),
                       "neg": np.where(positive, 0.0, weight)}).groupby("score", sort=True)[["pos", "neg"]].sum()
    below = by["neg"].cumsum() - by["neg"]  # negatives scoring under each score
    return float((by["pos"] * (below + by["neg"] / 2)).sum() / (n_pos * n_neg))


@dataclass(frozen=True)
class LabelTally:
    """What evaluate counts of a Detection, as plain data that adds up over partitions holding whole
    members (a cluster's: auditor.cluster.partitions.Tally): normal traffic (the source's accesses
    not injected) and how much of it each explanation covers, and the period's events of the source
    (the AUC's unscored events) with those of them labelled."""

    source: str
    injected: frozenset
    labelled: frozenset

    def __call__(self, detection) -> dict:
        acc, events = detection.context.accesses, detection.context.events
        normal = acc[(acc["source"].astype("string") == self.source).to_numpy(dtype=bool)
                     & ~acc["event_ref"].isin(self.injected).to_numpy(dtype=bool)]
        refs = events.loc[events["in_period"] & (events["source"].astype("string") == self.source), "event_ref"]
        return {"normal": len(normal), "explained": int(normal["explained"].sum()) if len(normal) else 0,
                "explained_by": {str(k): int(v) for k, v in normal["explained_by"].value_counts().items()},
                "events": int(refs.nunique()), "labelled": sorted(set(refs.astype(str)) & self.labelled)}


def label_tally(labels: pd.DataFrame, source: str) -> LabelTally:
    return LabelTally(source, frozenset(labels.loc[labels["injected"], "event_id"]), frozenset(labels["event_id"]))


def in_period(labels: pd.DataFrame, period: Period) -> pd.DataFrame:
    """The labels of the period's events (only those can be reported)."""
    if "day" not in labels:
        return labels
    day = labels["day"].astype(str)
    return labels[(day >= period.first_day.isoformat()) & (day <= period.last_day.isoformat())]


def triage_of(findings, labels: pd.DataFrame, tallies: list[dict], scored_refs: set, policy: Policy,
              budget: int) -> Triage:
    """Triage (above) for `findings` and `labels`. The AUC scores the period's events of the source
    and the labelled ones: those the findings cite at their highest risk, every other one at 0;
    `tallies` (LabelTally's) count them, `scored_refs` says which cited events are among them."""
    from auditor.review.triage import ranked_finding_groups

    cases: dict[str, list] = {}
    for f in findings:
        cases.setdefault(f.user_id, []).append(f)
    inside = set(ranked_finding_groups(cases)[:budget])
    cited = pd.DataFrame([(e, f.user_id, f.risk) for f in findings for e in f.event_ids],
                         columns=["event_id", "user_id", "risk"])
    truth = labels[["event_id", "rule", "injected"]].drop_duplicates(["event_id", "rule"])
    violations = truth[truth["injected"]]
    critical = {r for r, rule in policy.rules.items() if rule.severity == "critical"}
    reached = set(cited.loc[cited["user_id"].isin(inside), "event_id"])
    share = lambda ids: sum(i in reached for i in ids) / len(ids) if len(ids) else None  # noqa: E731
    return Triage(budget, len(cases), share(set(violations["event_id"])),
                  share(set(violations.loc[violations["rule"].isin(critical), "event_id"])),
                  _auc(cited, set(truth["event_id"]), tallies, scored_refs))


def _auc(cited: pd.DataFrame, labelled: set, tallies: list[dict], scored_refs: set) -> float | None:
    """The risk score's AUC over the period's events of the source and the labelled ones: the cited of
    them listed with their highest risk, the rest counted at 0."""
    seen = set().union(*(t["labelled"] for t in tallies)) if tallies else set()
    everything = sum(t["events"] for t in tallies) + len(labelled - seen)
    risk = cited.groupby("event_id")["risk"].max()
    risk = risk[risk.index.isin(labelled) | risk.index.isin(scored_refs)]
    listed = pd.Series(risk.index.isin(labelled), index=risk.index)
    rest_pos = len(labelled) - int(listed.sum())
    rest_neg = everything - len(labelled) - int((~listed).sum())
    scores = pd.concat([risk.astype(float), pd.Series([0.0, 0.0])], ignore_index=True)
    positive = pd.concat([listed, pd.Series([True, False])], ignore_index=True)
    weight = pd.Series([1.0] * len(risk) + [float(rest_pos), float(rest_neg)])
    return roc_auc(scores, positive, weight)


def evaluate(records, policy: Policy, labels: pd.DataFrame, period: Period, source: str = "ehr",
             log_key: bytes | None = None, budget: int = 1000) -> Evaluation:
    """Run the rules over `period` on the vault's records engine and score them against `labels`
    (`log_key`: the log's MAC key, to pass over sealed blocks outside the period; see load_frames)."""
    detection = engine.run(load_frames(records, period, policy.lookback(), log_key=log_key), policy)
    return scored(detection, policy, labels, period, source, budget)


def scored(detection, policy: Policy, labels: pd.DataFrame, period: Period, source: str = "ehr",
           budget: int = 1000) -> Evaluation:
    """A Detection (this machine's engine's, or a cluster's whose context carries LabelTally's counts
    of each partition in `tallies`) scored against `labels`."""
    labels = in_period(labels, period)
    tallies = getattr(detection.context, "tallies", None)
    if tallies is None:  # the whole period is here: count it now
        tallies = [label_tally(labels, source)(detection)]
    elif not tallies or any(t is None for t in tallies):  # partitions that were not asked to count
        raise ValueError("a Detection judged by partitions is scored from LabelTally's counts: ask the engine for them")
    findings = build_findings(detection, policy)  # no directory: nothing is decrypted
    normal = sum(t["normal"] for t in tallies)
    by: dict[str, int] = {}
    for t in tallies:
        for name, n in t["explained_by"].items():
            by[name] = by.get(name, 0) + n
    share = sum(t["explained"] for t in tallies) / normal if normal else None
    by_explanation = {name: by.get(name, 0) / normal for name in EXPLANATIONS} if normal else {}
    events = detection.context.events  # every event a finding cites is here, on a cluster too
    refs = set(events.loc[events["in_period"] & (events["source"].astype("string") == source), "event_ref"].astype(str))
    return Evaluation(score(labels, _reported(findings), sorted(policy.rules)), normal, share, len(findings),
                      period, triage_of(findings, labels, tallies, refs, policy, budget), by_explanation)


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def render(result: Evaluation) -> str:
    """A plain table, one rule a line, then the totals and the explained share of normal traffic."""
    width = max(len(r.rule) for r in result.rules)
    lines = [f"{'rule':<{width}}  {'labelled':>8}  {'injected':>8}  {'reported':>8}  {'correct':>7}  "
             f"{'precision':>9}  {'recall':>6}"]
    for r in result.rules:
        lines.append(f"{r.rule:<{width}}  {r.labelled:>8}  {r.injected:>8}  {r.reported:>8}  {r.correct:>7}  "
                     f"{_ratio(r.precision):>9}  {_ratio(r.recall):>6}")
    total = [sum(getattr(r, name) for r in result.rules) for name in ("labelled", "injected", "reported", "correct")]
    lines.append(f"{'all rules (events)':<{width}}  {total[0]:>8}  {total[1]:>8}  {total[2]:>8}  {total[3]:>7}  "
                 f"{_ratio(result.precision):>9}  {_ratio(result.recall):>6}")
    explained = "-" if result.explained_share is None else f"{result.explained_share:.1%}"
    by = f" ({shares_text(result.explained_by)})" if result.explained_by and result.explained_share else ""
    lines.append(f"normal traffic: {result.normal_accesses} accesses, {explained} explained{by}; "
                 f"{result.findings} finding(s), {result.period.first_day} to {result.period.last_day} "
                 f"({result.period.tz.key})")
    lines.append("targets (recall >= 0.95 per rule, precision >= 0.95, explained >= 97%): "
                 + ("met" if result.meets() else "NOT met"))
    t = result.triage
    if t is not None:
        lines.append(f"triage: {t.cases} case(s), review budget {t.budget}: injected violations whose case is inside it "
                     f"{_share(t.inside_share)}, of critical rules {_share(t.critical_inside_share)}; "
                     f"risk score ROC AUC {_ratio(t.auc)} (labelled against unlabelled events)")
        lines.append("triage targets (>= 95% inside the budget, every critical one, AUC >= 0.9): "
                     + ("met" if t.meets() else "NOT met"))
    return "\n".join(lines) + "\n"
