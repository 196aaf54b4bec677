"""Writing PHI through the gateway: registering patients and workforce, adding documents and
encounters, and crypto-shredding a patient. Mixed into AccessGateway; every write is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from auditor.audit.events import AuditEvent
from auditor.crypto.envelope import new_key_id
from auditor.errors import AccessDenied, InputError, NotFound
from auditor.vault.access_policy import Decision
from auditor.vault.gateway import sealing
from auditor.vault.gateway.bulk import insert_rows
from auditor.vault.gateway.context import AccessContext, Actor
from auditor.vault.gateway.keyed import among, loaded
from auditor.vault.gateway.sealing import DocumentRecord, PatientDemographics, WorkforceRecord
from auditor.vault.records import (PATIENT_SEALED, WORKFORCE_SEALED, CareTeamMember, ClinicalDocument, Encounter,
                                   Patient, VaultSetting, WorkforceMember)

if TYPE_CHECKING:  # pragma: no cover
    from auditor.vault.gateway.core import AccessGateway


@dataclass(frozen=True)
class Registration:
    ids: dict[str, int]  # MRN or user id -> internal id, for every one given
    created: int  # how many were new


@dataclass(frozen=True)
class EncounterRecord:
    source: str
    source_id: str
    mrn: str
    type: str
    start: datetime
    end: datetime
    department: str | None = None
    attending_user_id: str | None = None


@dataclass(frozen=True)
class CareTeamRecord:
    """`source` and `source_start` (the start as the export writes it) go together: given, they are
    the row's key, which no time zone changes; without them the key is the UTC start."""

    mrn: str
    user_id: str
    start: datetime
    end: datetime | None = None
    role: str | None = None
    source: str | None = None
    source_start: str | None = None


class RecordWriting:
    def _require(self: "AccessGateway", session: Session, ctx: AccessContext, events: list, action: str,
                 at: datetime) -> Actor:
        """Only the auditor's service accounts write records (people write in the EHR) and do the
        auditor's own work (service_work.ServiceWork.unit_of_work). A signed-in member of the office
        may run a desk's "view" work as themselves (a name, an MRN, a requester read for a page), within
        their staff role's actions and purposes: the read is then audited in their own name."""
        actor = self._actor(session, ctx, events, action, at)
        if actor.service is not None:
            decision = self.policy.decide_service(actor.service, action, ctx.purpose)
        elif actor.staff and action == "view":
            decision = self.policy.decide_staff(actor.role, action, ctx.purpose, "demographics")
        else:
            decision = Decision(False, f"{ctx.user_id} is not one of the auditor's service accounts")
        if not decision.allowed:
            events.append(self._event(ctx, actor, action, at, outcome="denied", detail=decision.basis))
            raise AccessDenied(f"access denied: {decision.basis}")
        return actor

    def patient_ids(self: "AccessGateway", session: Session, mrns: list[str]) -> dict[str, int]:
        """Internal ids of patients by MRN (blind-index lookup; an MRN is not itself returned)."""
        wanted = {self.indexer.mrn(m): m for m in mrns}
        return {wanted[bidx]: pid for bidx, pid in among(session, select(Patient.mrn_bidx, Patient.id), Patient.mrn_bidx,
                                                         list(wanted))}

    def register_patients(self: "AccessGateway", ctx: AccessContext, patients: list[PatientDemographics],
                          source: str = "vault") -> Registration:
        """Create the patients not yet known (by MRN)."""

        def work(session: Session, events: list[AuditEvent]) -> Registration:
            at = self.clock.now()
            writer = self._require(session, ctx, events, "create", at)
            ids = self.patient_ids(session, [p.mrn for p in patients])
            new = [p for p in {p.mrn.strip(): p for p in patients}.values() if p.mrn.strip() not in ids]
            keys = self.envelope.create_keys(len(new), "patient")
            rows = []
            for p, key_id in zip(new, keys):
                pid = new_key_id()
                rows.append({**sealing.seal_patient(self.envelope, self.indexer, pid, key_id, p), "source": source,
                             "created_at": at})
                ids[p.mrn.strip()] = pid
            self._each_event(events, ctx, writer, "create", at, {
                "patient_id": [r["id"] for r in rows],
                "fields": [tuple(c for c in PATIENT_SEALED if r[c] is not None) for r in rows]}, record_type="demographics")
            if rows:
                insert_rows(session, Patient, rows)
                self._record_rows(session, events, ctx, writer, at, "patients", "create", [r["id"] for r in rows])
            return Registration(ids, len(rows))

        return self._audited(work)

    def register_workforce(self: "AccessGateway", ctx: AccessContext, members: list[WorkforceRecord],
                           source: str = "vault") -> Registration:
        """Create the workforce members not yet known (by user id)."""

        def work(session: Session, events: list[AuditEvent]) -> Registration:
            at = self.clock.now()
            writer = self._require(session, ctx, events, "create", at)
            existing = dict(session.execute(select(WorkforceMember.user_id, WorkforceMember.id)
                                            .where(WorkforceMember.user_id.in_([m.user_id for m in members]))).all())
            new = [m for m in {m.user_id: m for m in members}.values() if m.user_id not in existing]
            links = self.patient_ids(session, [m.patient_mrn for m in new if m.patient_mrn])
            keys = self.envelope.create_keys(len(new), "workforce")
            rows = []
            for m, key_id in zip(new, keys):
                wid = new_key_id()
                row = sealing.seal_workforce(self.envelope, self.indexer, wid, key_id, m)
                rows.append({**row, "patient_id": links.get(m.patient_mrn or ""), "source": source, "created_at": at})
                existing[m.user_id] = wid
            self._each_event(events, ctx, writer, "create", at, {
                "record_id": [r["user_id"] for r in rows], "patient_id": [r["patient_id"] for r in rows],
                "fields": [tuple(c for c in WORKFORCE_SEALED if r[c] is not None) for r in rows]}, record_type="workforce")
            if rows:
                insert_rows(session, WorkforceMember, rows)
                self._record_rows(session, events, ctx, writer, at, "workforce", "create", [r["id"] for r in rows])
            return Registration(existing, len(rows))

        return self._audited(work)

    def add_encounters(self: "AccessGateway", ctx: AccessContext, encounters: list[EncounterRecord],
                       care_team: list[CareTeamRecord] = ()) -> int:
        """Add encounters (skipping ones already loaded, by source id) and care-team memberships."""

        def work(session: Session, events: list[AuditEvent]) -> int:
            at = self.clock.now()
            writer = self._require(session, ctx, events, "create", at)
            patients = self.patient_ids(session, [e.mrn for e in encounters] + [c.mrn for c in care_team])
            users = dict(session.execute(select(WorkforceMember.user_id, WorkforceMember.id)).all())
            seen = loaded(session, Encounter, encounters)
            rows, touched = [], set()
            for e in encounters:
                if (e.source, e.source_id) in seen:
                    continue
                if e.mrn not in patients:
                    raise InputError(f"encounter {e.source_id} names an unknown patient")
                seen.add((e.source, e.source_id))
                rows.append({"source": e.source, "source_id": e.source_id, "patient_id": patients[e.mrn],
                             "department": e.department, "attending_id": users.get(e.attending_user_id or ""),
                             "type": e.type, "start": e.start, "end": e.end})
                touched.add(patients[e.mrn])
            if rows:
                made = insert_rows(session, Encounter, rows, ids=True)
                self._record_rows(session, events, ctx, writer, at, "encounters", "create", made)
            added, team_ids, keyed = _insert_care_team(session, patients, users, care_team)
            touched.update(added)
            if team_ids:
                self._record_rows(session, events, ctx, writer, at, "care_team", "create", team_ids)
            if keyed:
                self._record_rows(session, events, ctx, writer, at, "care_team", "update", keyed)
            self._each_event(events, ctx, writer, "create", at, {"patient_id": sorted(touched)}, record_type="encounter")
            return len(rows)

        return self._audited(work)

    def add_care_team(self: "AccessGateway", ctx: AccessContext, members: list[CareTeamRecord]) -> int:
        """Add care-team memberships not yet known (by patient, workforce member and start)."""

        def work(session: Session, events: list[AuditEvent]) -> int:
            at = self.clock.now()
            writer = self._require(session, ctx, events, "create", at)
            patients = self.patient_ids(session, [c.mrn for c in members])
            users = dict(session.execute(select(WorkforceMember.user_id, WorkforceMember.id)
                                         .where(WorkforceMember.user_id.in_({c.user_id for c in members}))).all())
            touched, team_ids, keyed = _insert_care_team(session, patients, users, members)
            if team_ids:
                self._record_rows(session, events, ctx, writer, at, "care_team", "create", team_ids)
            if keyed:
                self._record_rows(session, events, ctx, writer, at, "care_team", "update", keyed)
            self._each_event(events, ctx, writer, "create", at, {"patient_id": sorted(touched)}, record_type="care_team")
            return sum(touched.values())

        return self._audited(work)

    def add_documents(self: "AccessGateway", ctx: AccessContext, documents: list[DocumentRecord]) -> int:
        """Add clinical documents, each sealed under its patient's data key; one event per patient."""

        def work(session: Session, events: list[AuditEvent]) -> int:
            at = self.clock.now()
            writer = self._require(session, ctx, events, "create", at)
            patients = self.patient_ids(session, [d.mrn for d in documents])
            keys = dict(session.execute(select(Patient.id, Patient.data_key_id)
                                        .where(Patient.id.in_(list(patients.values())))).all())
            seen = loaded(session, ClinicalDocument, documents)
            rows, per_patient = [], {}
            for d in documents:
                if d.source_id and (d.source, d.source_id) in seen:
                    continue
                seen.add((d.source, d.source_id))
                if d.mrn not in patients:
                    raise InputError("a document names an unknown patient")
                pid = patients[d.mrn]
                rows.append(sealing.seal_document(self.envelope, new_key_id(), keys[pid], pid, d))
                per_patient.setdefault(pid, set()).add(d.doc_type)
            if rows:
                insert_rows(session, ClinicalDocument, rows)
                self._record_rows(session, events, ctx, writer, at, "documents", "create", [r["id"] for r in rows])
            self._each_event(events, ctx, writer, "create", at, {
                "patient_id": list(per_patient), "fields": [tuple(sorted(types)) for types in per_patient.values()]},
                record_type="document")
            return len(rows)

        return self._audited(work)

    def set_setting(self: "AccessGateway", ctx: AccessContext, name: str, value: str) -> str | None:
        """Store a vault setting (the organisation's time zone); returns the value it replaced. Recorded
        in the ledger: the engine draws its day boundaries by it."""

        def work(session: Session, events: list[AuditEvent]) -> str | None:
            at = self.clock.now()
            writer = self._require(session, ctx, events, "update", at)
            previous = session.scalar(select(VaultSetting.value).where(VaultSetting.name == name))
            if previous == value:
                return previous
            if previous is None:
                session.execute(insert(VaultSetting).values(name=name, value=value))
            else:
                session.execute(update(VaultSetting).where(VaultSetting.name == name).values(value=value))
            self._record_rows(session, events, ctx, writer, at, "vault_settings",
                              "create" if previous is None else "update", [name])
            return previous

        return self._audited(work)

    def shred_patient(self: "AccessGateway", ctx: AccessContext, patient_id: int) -> None:
        """Crypto-shredding: destroy the patient's data key (retention's primitive). Their ciphertext, in this database and in
        every copy of it, can no longer be decrypted; the audit log, which names the patient only by
        internal id, still verifies."""

        def work(session: Session, events: list[AuditEvent]) -> int:
            at = self.clock.now()
            actor = self._actor(session, ctx, events, "destroy", at, patient_id)
            decision = self.policy.decide_service(actor.service or "", "destroy", ctx.purpose)
            if not decision.allowed:
                events.append(self._event(ctx, actor, "destroy", at, patient_id=patient_id, outcome="denied",
                                          detail=decision.basis))
                raise AccessDenied(f"access denied: {decision.basis}")
            key_id = session.scalar(select(Patient.data_key_id).where(Patient.id == patient_id))
            if key_id is None:
                raise NotFound(f"no patient with internal id {patient_id}")
            events.append(self._event(ctx, actor, "destroy", at, patient_id=patient_id, record_type="data_key",
                                      detail="data key destroyed (cryptographic erasure)"))
            return key_id

        # The destruction is logged first: if destroying then fails, the log is re-run, never missing.
        self.envelope.destroy(self._audited(work))


def _insert_care_team(session: Session, patients: dict[str, int], users: dict[str, int],
                      care_team: list[CareTeamRecord]) -> tuple[dict[int, int], list[int], list[int]]:
    """Insert the memberships not yet there, skipping unknown patients or users; returns how many
    were added per patient, the new rows' ids and the ids of rows given their key (for the ledger).
    One from an export is known by source, patient, member and start as written (r0011), one
    without a source by patient, member and UTC start; a row loaded before r0011 (no key) is
    recognised by its UTC start and given its key."""
    team = {_team_key(patients[c.mrn], users[c.user_id], c): c for c in care_team
            if c.mrn in patients and c.user_id in users}
    pids = sorted({pid for _, pid, _, _ in team})
    keyless: dict[tuple, int] = {}
    keyed: list[int] = []
    for i in range(0, len(pids), 900):
        for row_id, pid, wid, start, source, written in session.execute(
                select(CareTeamMember.id, CareTeamMember.patient_id, CareTeamMember.workforce_id, CareTeamMember.start,
                       CareTeamMember.source, CareTeamMember.source_start)
                .where(CareTeamMember.patient_id.in_(pids[i : i + 900]))):
            team.pop((None, pid, wid, start), None)
            if source is not None:
                team.pop((source, pid, wid, written), None)
            else:
                keyless[(pid, wid, start)] = row_id
    for (source, pid, wid, written), c in list(team.items()):
        row_id = keyless.pop((pid, wid, c.start), None) if source is not None else None
        if row_id is not None:  # loaded before r0011 in this same zone: the same row, now keyed
            session.execute(update(CareTeamMember).where(CareTeamMember.id == row_id)
                            .values(source=source, source_start=written))
            keyed.append(row_id)
            del team[(source, pid, wid, written)]
    added: dict[int, int] = {}
    ids: list[int] = []
    if team:
        ids = insert_rows(session, CareTeamMember,
                          [{"patient_id": pid, "workforce_id": wid, "role": c.role, "start": c.start, "end": c.end,
                            "source": c.source, "source_start": c.source_start} for (_, pid, wid, _), c in team.items()],
                          ids=True)
        for _, pid, _, _ in team:
            added[pid] = added.get(pid, 0) + 1
    return added, ids, keyed


def _team_key(pid: int, wid: int, c: CareTeamRecord) -> tuple:
    return (c.source, pid, wid, c.source_start) if c.source is not None else (None, pid, wid, c.start)
