"""The incident lifecycle and alert delivery: ``Recon.incidents``.

``evaluate(now)`` compares what the rules find with the incidents already open, in one
transaction under an advisory lock (two schedulers never open the same incident twice):

* a new finding opens an incident and enqueues one *open* message per configured channel;
* a finding that is still there refreshes the incident, and enqueues a *reminder* only when
  ALERT_REMINDER_HOURS have passed since the last message (never one per minute; an acknowledged
  incident gets no reminders: somebody is on it);
* an incident whose finding is gone is resolved, with one *resolve* message (its duration).

Messages are rows in ``recon.alert_deliveries`` written in the same transaction as the incident
change; ``deliver_pending(now)`` posts them (sge_recon/alerts/delivery.py). A channel that is
down (refused, 5xx, 429, a bad answer, past the deadline) gets the alert again later with
back-off, and never blocks the other channels or the scheduler; a permanent 4xx gives that
message up at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Callable

from ..db import alert_outbox
from ..db import incidents as incident_rows
from ..db import silences as silence_rows
from .message import _stamp, duration_text  # noqa: F401 (duration_text re-exported)
from .evidence import carry_evidence, snapshot
from .hooks import pagerduty_superseded
from .spread import COVERED, worse
from ..metrics.facts import Facts, gather_facts
from . import channels as ch
from . import delivery
from . import silences as silencing
from .delivery import DeliveryReport
from ..money import money_text, stakes_text
from .catalogue_links import apply_catalogue, cause_of
from .rules import RULES, Finding, evaluate_rules, id_list

if TYPE_CHECKING:
    from ..checks.model import CheckDefinition
    from ..config import Settings
    from ..db import Database
    from ..db.databases import Databases

log = logging.getLogger(__name__)


@dataclass
class Evaluation:
    opened: list[dict] = field(default_factory=list)
    reminded: list[dict] = field(default_factory=list)
    resolved: list[dict] = field(default_factory=list)
    ongoing: list[dict] = field(default_factory=list)
    facts: Facts | None = None

    def summary(self) -> dict:
        return {"opened": [i["id"] for i in self.opened],
                "reminded": [i["id"] for i in self.reminded],
                "resolved": [i["id"] for i in self.resolved],
                "open": len(self.opened) + len(self.reminded) + len(self.ongoing)}


@dataclass
class Notified:
    """What :meth:`AlertService.notify` did, per channel."""
    queued: list[str] = field(default_factory=list)
    already_queued: list[str] = field(default_factory=list)  # this dedup_key was there already

    @property
    def channels(self) -> int:
        """Channels that have the message (queued now or before)."""
        return len(self.queued) + len(self.already_queued)


class AlertService:
    def __init__(self, settings: "Settings", databases: "Databases",
                 catalogue: Callable[[], list["CheckDefinition"]]):
        """``databases``: incidents and deliveries are sge-recon's state (``db``); the live facts
        read the platform (``platform_db``). ``catalogue``: the check catalogue (CheckService's),
        whose priorities, runbook steps and causes the incidents take."""
        self.settings = settings
        self._databases = databases
        self._load_catalogue = catalogue
        self._silences: list[dict] = []

    @property
    def db(self) -> "Database":
        return self._databases.db

    # -- incidents ----------------------------------------------------------------------------
    def evaluate(self, now: datetime, facts: Facts | None = None,
                 check_run_id: str | None = None) -> Evaluation:
        db = self.db
        facts = facts or gather_facts(db, self.settings, now, self._databases.platform_db)
        catalogue = self._catalogue()
        unevaluated: set[str] = set()  # kinds whose rule raised: their incidents stay as they are
        found = apply_catalogue(evaluate_rules(facts, self.settings, unevaluated), catalogue)
        causes = cause_of(found, catalogue)
        _escalate_causes(found, causes)
        # causes first: an effect is linked to its cause's incident, opened in this same pass
        found.sort(key=lambda f: (f.kind, f.key) in causes)
        findings = {(f.kind, f.key): f for f in found}
        channels = ch.configured_channels(self.settings)
        result = Evaluation(facts=facts)
        with db.transaction() as conn:
            incident_rows.lock_alerts(conn)
            current = {(i["kind"], i["key"]): i for i in incident_rows.unresolved_incidents(conn)}
            self._silences = silence_rows.active_silences(conn, now)
            for silence in silence_rows.silences_to_remind(conn, now, now + silencing.EXPIRY_REMINDER):
                self._announce(conn, silencing.expiry_message(silence, self.settings.CONSOLE_URL),
                               "silence_expiring", channels, now)
            self._acknowledge_pages(conn, current.values(), channels, now)
            _adopt_ungrouped(current, findings)
            rows: dict[tuple[str, str], dict | None] = {}
            for key, finding in findings.items():
                cause = causes.get(key)
                parent = rows.get((cause.kind, cause.key)) if cause else None
                inhibit = ({"kind": cause.kind, "incident_id": parent["id"] if parent else None,
                            "title": cause.title} if cause else None)
                if key in current:
                    rows[key] = self._continue(conn, current[key], finding, channels, now, result,
                                               check_run_id, inhibit)
                else:
                    rows[key] = self._open(conn, finding, channels, now, check_run_id, result,
                                           inhibit)
            for key, incident in current.items():
                if key in findings or incident["kind"] not in RULES:
                    continue  # others' are not ours
                check = RULES[incident["kind"]].check
                if incident["kind"] in unevaluated or check in facts.errored:
                    # a check that errored this round proves nothing: still open, still reminded
                    self._unknown(conn, incident, channels, now, result,
                                  facts.unavailable.get(check) or "its rule failed")
                else:
                    self._clearing(conn, incident, channels, now, result)
        return result

    def _open(self, conn, finding: Finding, channels: list[str], now: datetime,
              check_run_id: str | None, result: Evaluation,
              inhibit: dict | None = None) -> dict | None:
        details = _details(finding)
        details["evidence_at_open"] = snapshot(details, now, check_run_id)
        details["run_ids"] = [check_run_id] if check_run_id else []
        silence = silencing.matching(self._silences, finding.kind, details, now)
        if silence:  # recorded and counted, but nobody is paged until the silence ends
            details["silenced"] = _silence_note(silence, paged=False)
        if inhibit:  # an effect of an open cause: a child of its incident, not a new page
            details["inhibited_by"] = {**inhibit, "paged": False}
        row = incident_rows.insert_incident(
            conn, kind=finding.kind, key=finding.key, priority=finding.priority,
            title=finding.title, details=details, money_at_stake=finding.money_at_stake,
            now=now, check_run_id=check_run_id)
        if row is not None and not silence and not inhibit:
            self._enqueue(conn, row, "open", channels, now)
        if row is not None:  # None: an open incident already holds this key; nothing was opened
            result.opened.append(row)
        return row

    def _continue(self, conn, incident: dict, finding: Finding, channels: list[str],
                  now: datetime, result: Evaluation, check_run_id: str | None = None,
                  inhibit: dict | None = None) -> dict:
        """Still there: keep its facts current (the evidence at open stays frozen; a change of
        the failing set or the money is recorded, never a new page); a reminder only once the
        interval has passed. Muted (silenced, or an effect of an open cause) it gets no message;
        if it was never paged and the mute is over, its opening message goes out now."""
        remind = self._reminder_due(incident, now)
        old = incident.get("details") or {}
        details = carry_evidence(old, _details(finding), now, check_run_id)
        silence = silencing.matching(self._silences, finding.kind, details, now)
        was_paged = not _never_paged(old)
        if silence:
            details["silenced"] = _silence_note(silence, paged=was_paged)
        if inhibit:
            details["inhibited_by"] = {**inhibit, "paged": was_paged}
        event = "reminder"
        # more urgent now (e.g. a paused queue whose stuck intents are P1): the incident takes the
        # higher priority, announced (PagerDuty: the same dedup_key, the new severity); never
        # lowered while it is open
        priority = min(incident["priority"], finding.priority)
        if priority != incident["priority"]:
            remind, event = True, "escalate"
        # worse than when it was acknowledged/accepted: reopened. The fault as it was then is
        # kept (details.covered) while it stays covered: a part that clears and comes back as it
        # was is no news (compared with the last evaluation it paged on every return)
        covered = old.get("covered") or {k: old.get(k) for k in ("keys", "money", "money_apart")}
        news = worse(incident, covered, details)
        if event == "escalate" and incident["status"] in COVERED:
            # more urgent than when somebody took it on: worse too. PagerDuty never notifies for
            # a trigger into the alert it holds acknowledged, so an escalation is a new round
            news.append(f"priority {priority} (was {incident['priority']})")
        # worse while muted: reopened at once, but its page waits for the mute's end
        # (acknowledged or accepted again meanwhile: somebody took on the worse fault, no page)
        owed = bool(old.get("reopen_owed")) and was_paged and incident["status"] not in COVERED
        if incident["status"] in COVERED and not news:
            details["covered"] = covered
        if news:
            details["reopened"] = {"at": now.isoformat(), "new": news[:20]}
            remind, event = True, "reopen"
        elif owed:
            details["reopened"] = old.get("reopened") or {"at": now.isoformat(), "new": []}
        if silence or inhibit:
            remind = False
            if (news or owed) and was_paged:
                details["reopen_owed"] = True
        elif not was_paged:  # the silence ended / the cause resolved, the fault still there
            remind, event = True, "open"
        elif owed:  # the mute is over: the reopened incident is paged now (its next round)
            remind, event = True, "reopen"
        if remind and event == "reopen":  # paged again: PagerDuty's next round (alerts/hooks.py)
            details["page_round"] = int(old.get("page_round") or 0) + 1
        incident_rows.refresh_incident(conn, incident["id"], title=finding.title, details=details,
                             money_at_stake=finding.money_at_stake, now=now, notified=remind,
                             key=finding.key if finding.key != incident["key"] else None,
                             priority=priority)
        incident = {**incident, "title": finding.title, "details": details, "priority": priority,
                    "money_at_stake": finding.money_at_stake, "key": finding.key}
        if news:
            incident = incident_rows.reopen_incident(conn, incident["id"], news) or incident
        if remind:
            self._enqueue(conn, incident, event, channels, now)
            if event == "reopen" and "pagerduty" in channels:  # the previous round's alert,
                # acknowledged and so silent for good, is resolved: one alert per incident open
                alert_outbox.enqueue_alert(conn, incident_id=incident["id"], channel="pagerduty",
                                           event="supersede", now=now, payload=pagerduty_superseded(
                                               incident["id"], details["page_round"]))
            result.reminded.append(incident)
        else:
            result.ongoing.append(incident)
        return incident

    def _unknown(self, conn, incident: dict, channels: list[str], now: datetime,
                 result: Evaluation, why: str) -> None:
        """Its check errored (broken SQL, a timeout): not a pass, so the incident stays open and
        its reminders keep their cadence, saying that its state is unknown right now."""
        details = incident.get("details") or {}
        if not self._reminder_due(incident, now) or _never_paged(details) \
                or details.get("inhibited_by") \
                or silencing.matching(self._silences, incident["kind"], details, now):
            result.ongoing.append(incident)
            return
        incident_rows.touch_incident_notified(conn, incident["id"], now)
        unknown = {**incident, "title": f"{incident['title']} (state unknown now: its check "
                                        f"errored: {why})"[:1000]}
        self._enqueue(conn, unknown, "reminder", channels, now)
        result.reminded.append(incident)

    def _clearing(self, conn, incident: dict, channels: list[str], now: datetime,
                  result: Evaluation) -> None:
        """The finding is gone: resolved once it has stayed away ALERT_RESOLVE_AFTER_MINUTES
        (hysteresis: a check that flaps fail/pass stays one open incident and pages once, not
        a resolution and a new page per flap). Meanwhile ``details.clear_since`` says since when
        it has been clear; the finding coming back removes it (``_continue`` rebuilds the
        details), and the resolution is dated from it."""
        hold = timedelta(minutes=self.settings.ALERT_RESOLVE_AFTER_MINUTES)
        details = incident.get("details") or {}
        since = _clear_since(details)
        if hold and since is None:
            incident_rows.mark_incident_clear_since(conn, incident["id"], now)
            result.ongoing.append(incident)
        elif hold and now - since < hold:  # type: ignore[operator]
            result.ongoing.append(incident)
        else:
            self._resolve(conn, incident, channels, now, result, since or now)

    def _resolve(self, conn, incident: dict, channels: list[str], now: datetime,
                 result: Evaluation, cleared_at: datetime | None = None) -> None:
        row = incident_rows.resolve_passed_incident(conn, incident["id"], now,
                                                    cleared_at or now)
        if not _never_paged(incident.get("details") or {}):  # else nothing to announce
            self._enqueue(conn, row, "resolve", channels, now)
        if "pagerduty" in channels:  # an earlier round's alert still open there: resolved too
            for payload in alert_outbox.unsent_supersedes(conn, incident["id"], "pagerduty"):
                alert_outbox.enqueue_alert(conn, incident_id=incident["id"], channel="pagerduty",
                                           event="resolve", payload=payload, now=now)
        result.resolved.append(row)

    def _catalogue(self) -> dict:
        """The check catalogue by name; empty when it cannot be loaded (the rules' own
        priorities and steps apply, so a broken checks.yml never silences an alert)."""
        try:
            return {d.name: d for d in self._load_catalogue()}
        except Exception as exc:  # noqa: BLE001
            log.warning("alerts: check catalogue unavailable, using built-in runbook steps: %s",
                        exc)
            return {}

    def _acknowledge_pages(self, conn, incidents, channels: list[str], now: datetime) -> None:
        """Acknowledged or accepted in the console: PagerDuty's alert is acknowledged too (once:
        the outbox's dedup_key), so its escalation policy stops paging the next on-call."""
        for incident in incidents:
            if "pagerduty" in channels and incident["status"] in ("acknowledged", "accepted") \
                    and not _never_paged(incident.get("details") or {}):
                payload = ch.render("pagerduty", incident_message(
                    incident, "acknowledge", now, self.settings.CONSOLE_URL))
                alert_outbox.enqueue_alert(conn, incident_id=incident["id"], channel="pagerduty",
                                           event="acknowledge", payload=payload or {}, now=now,
                                           dedup_key=f"incident:{incident['id']}:acknowledge"
                                           + _round_suffix(incident.get("details") or {}))

    def _reminder_due(self, incident: dict, now: datetime) -> bool:
        hours = self.settings.ALERT_REMINDER_HOURS
        if incident["status"] != "open" or hours <= 0:
            return False
        last = incident["last_notified_at"] or incident["opened_at"]
        return now - last >= timedelta(seconds=int(hours * 3600))

    def _enqueue(self, conn, incident: dict, event: str, channels: list[str],
                 now: datetime) -> None:
        message = incident_message(incident, event, now, self.settings.CONSOLE_URL,
                                   self.settings.SGE_ENVIRONMENT)
        for channel in channels:
            payload, sent_as = ch.render(channel, message), event
            if payload is None and event == "reminder" and alert_outbox.trigger_given_up(
                    conn, incident["id"], channel):  # its page never got there: paged now
                payload, sent_as = ch.render(channel, replace(message, event="open")), "open"
            if payload is not None:  # PagerDuty pages openings and resolutions only
                alert_outbox.enqueue_alert(conn, incident_id=incident["id"], channel=channel,
                                           event=sent_as, payload=payload, now=now)

    def _announce(self, conn, message: ch.Message, event: str, channels: list[str],
                  now: datetime) -> None:
        message.environment = self.settings.SGE_ENVIRONMENT
        message.headline = f"[{message.environment}] {message.headline}"
        message.at = now
        for channel in channels:
            payload = ch.render(channel, message)
            if payload is not None:
                alert_outbox.enqueue_alert(conn, incident_id=None, channel=channel, event=event,
                                  payload=payload, now=now)

    def notify(self, event: str, message: ch.Message, now: datetime,
               dedup_key: str | None = None) -> Notified:
        """Enqueue a message that is not about an incident (the weekly payout reminder).

        ``dedup_key`` ('<job>:<slot>' for a job's notice) makes it once per channel: a re-run of
        an interrupted slot queues nothing for a channel that already has the slot's message
        (one still pending is delivered by the normal outbox delivery, with its own id)."""
        if not message.environment:
            message.environment = self.settings.SGE_ENVIRONMENT
            message.headline = f"[{message.environment}] {message.headline}"
        result = Notified()
        with self.db.transaction() as conn:
            for channel in ch.configured_channels(self.settings):
                payload = ch.render(channel, message)
                if payload is None:
                    continue
                queued = alert_outbox.enqueue_alert(conn, incident_id=None, channel=channel,
                                                    event=event, payload=payload, now=now,
                                                    dedup_key=dedup_key)
                (result.queued if queued is not None else result.already_queued).append(channel)
        if result.already_queued:
            log.info("notice %s (%s): already queued for %s, not queued again", event, dedup_key,
                     ", ".join(result.already_queued))
        return result

    # -- silences ------------------------------------------------------------------------------
    def silences(self, now: datetime) -> list[dict]:
        return silence_rows.silences(self.db, now)

    def incidents(self, status: str | None = None, limit: int = 200) -> list[dict]:
        return incident_rows.incidents_by_status(self.db, status, limit)

    def deliveries(self, incident_id: int | None = None) -> list[dict]:
        return alert_outbox.alert_deliveries(self.db, incident_id)

    def acknowledge(self, incident_id: int, who: str, now: datetime) -> dict | None:
        """Somebody is on it: no more reminders (the resolution is still announced)."""
        with self.db.transaction() as conn:
            return incident_rows.acknowledge_incident(conn, incident_id, who, now)

    # -- delivery -----------------------------------------------------------------------------
    def deliver_pending(self, now: datetime, limit: int = 50) -> DeliveryReport:
        """Post due alerts (sge_recon/alerts/delivery.py): a channel that fails is left for
        later and never stops the others."""
        return delivery.deliver_pending(self.db, self.settings, now, limit)


# -- messages -----------------------------------------------------------------------------------
def incident_message(incident: dict, event: str, now: datetime, console_url: str,
                     environment: str = "unnamed") -> ch.Message:
    """What a person needs to act: where (environment first, then the place), what, how much
    per currency, the ids involved (the first few, then "and N more"), the runbook's first steps,
    and a link straight to the incident in the console (DESIGN §9: /incidents?id=<id>)."""
    rule = RULES.get(incident["kind"])
    priority = incident["priority"]
    details = incident.get("details") or {}
    ident = f"[{environment}] {priority} incident #{incident['id']}"
    fields = [("Environment", environment), ("What", rule.summary if rule else incident["kind"])]
    if details.get("where"):
        fields.append(("Where", details["where"]))
    money = _money_field(incident)
    if money:
        fields.append(("Money at stake", money))
    if details.get("ids"):
        fields.append((f"{str(details.get('ids_kind') or 'ids').capitalize()}",
                       id_list(details["ids"], int(details.get("ids_total") or 0))))
    fields.append(("Opened", _stamp(incident["opened_at"])))
    link = f"{console_url.rstrip('/')}/incidents?id={incident['id']}"
    steps = details.get("first_steps") or (list(rule.first_steps) if rule else [])
    common = {"priority": priority, "at": now, "event": event, "incident_id": incident["id"],
              "kind": incident["kind"], "environment": environment,
              "component": rule.console_page if rule else "incidents",
              "details": _machine_details(details),
              "page_round": int(details.get("page_round") or 0)}
    if event in ("open", "reopen"):  # reopen: worse since acknowledged/accepted (spread.py)
        new = ("Reopened, worse since acknowledged/accepted: " if event == "reopen" else "")
        return ch.Message(f"{new}{ident}: {incident['title']}", fields + [
            ("New", ", ".join((details.get("reopened") or {}).get("new") or []))]
            if event == "reopen" else fields, steps, link, link_label="Open the incident",
            **common)
    if event == "escalate":
        return ch.Message(f"Escalated to {priority}: {ident}: {incident['title']}",
                          fields + [("Escalated by", _escalated_by(details))], steps, link,
                          link_label="Open the incident", **common)
    if event == "reminder":
        open_for = duration_text(now - incident["opened_at"])
        return ch.Message(f"Reminder: {ident} still open after {open_for}: {incident['title']}",
                          fields + [("Open for", open_for)], steps, link,
                          link_label="Open the incident", **common)
    lasted = duration_text((incident["resolved_at"] or now) - incident["opened_at"])
    return ch.Message(f"Resolved: {ident} after {lasted}: {incident['title']}",
                      fields + [("Resolved", _stamp(incident["resolved_at"] or now)),
                                ("Duration", lasted)],
                      [], link, link_label="Incident history", resolved=True, **common)


def _escalate_causes(found: list[Finding], causes: dict) -> None:
    """A cause pages for its effects (they are its children, not paged themselves): it takes
    the most urgent priority among them (a P3 paused queue with P1 stuck intents pages P1)."""
    for effect in found:
        cause = causes.get((effect.kind, effect.key))
        if cause is not None and effect.priority < cause.priority:
            cause.priority = effect.priority
            cause.details["escalated_by"] = {"kind": effect.kind, "priority": effect.priority}


def _escalated_by(details: dict) -> str:
    by = details.get("escalated_by") or {}
    return f"{by.get('kind', 'its effects')} ({by.get('priority', '?')})"


def _machine_details(details: dict) -> dict:
    """The incident's facts for machine receivers (PagerDuty custom_details, the webhook)."""
    return {k: v for k, v in details.items() if k not in ("first_steps",)}


def _money_field(incident: dict) -> str | None:
    details = incident.get("details") or {}
    if details.get("money") or details.get("money_apart"):
        return stakes_text(details.get("money"), details.get("money_apart"))
    if incident.get("money_at_stake") is not None:
        return money_text(Decimal(incident["money_at_stake"]), "")
    return None


def _details(finding: Finding) -> dict:
    return {**finding.details, "money": {c: str(v) for c, v in finding.money.items()},
            "first_steps": finding.first_steps,
            **({"money_apart": finding.apart} if finding.apart else {})}


def _round_suffix(details: dict) -> str:
    """The acknowledge of each paging round is its own (once per round, not once ever)."""
    return f":{details['page_round']}" if details.get("page_round") else ""


def _clear_since(details: dict) -> datetime | None:
    text = details.get("clear_since")
    return datetime.fromisoformat(text) if isinstance(text, str) else None


def _never_paged(details: dict) -> bool:
    """Opened while muted (silenced, or as an effect of an open cause) and not paged since."""
    mutes = [details[k] for k in ("silenced", "inhibited_by") if details.get(k)]
    return bool(mutes) and not any(m.get("paged") for m in mutes)


def _silence_note(silence: dict, paged: bool) -> dict:
    return {"id": silence["id"], "reason": silence["reason"], "owner": silence["owner"],
            "ends_at": silence["ends_at"].isoformat(), "paged": paged}


def _adopt_ungrouped(current: dict, findings: dict) -> None:
    """An incident opened per program/currency before grouping (kind, "prog/USD") carries on as
    the grouped one (kind, "") instead of paging again."""
    for kind, key in findings:
        if (kind, key) in current:
            continue
        legacy = [k for k in current if k[0] == kind and k[1] != key]
        if legacy:
            current[(kind, key)] = current.pop(legacy[0])
