"""Realistic value samplers, named so that catalogue schemas can ask for them (``x-sample: email``).

Each sampler is a pure function of a ``random.Random``: the same seed gives the same values. ``guess`` picks
a sampler from a property name when a schema gives no hint, which is how imported tools get plausible values.
The data lives beside this file in ``samplers.yaml``: the word lists the samplers draw from (``words``) and the
samplers that pick one value of a fixed list (``choices``); this module holds what is computed.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from pathlib import Path
from random import Random
from typing import Any

import yaml

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DATA = yaml.load(Path(__file__).with_name("samplers.yaml").read_text(encoding="utf-8"), Loader=_YAML_LOADER)
FIRST = _DATA["words"]["first"]
LAST = _DATA["words"]["last"]
CITIES = _DATA["words"]["cities"]
COUNTRIES = _DATA["words"]["countries"]
COMPANIES = _DATA["words"]["companies"]
DOMAINS = _DATA["words"]["domains"]
WORDS = _DATA["words"]["words"]
PRODUCTS = _DATA["words"]["products"]
EXTS = _DATA["words"]["exts"]
DIRS = _DATA["words"]["dirs"]
TOPICS = _DATA["words"]["topics"]
SENTENCES = tuple(_DATA["words"]["sentences"])
CONDITIONS = _DATA["words"]["conditions"]
ROOMS = _DATA["words"]["rooms"]
DEVICES = _DATA["words"]["devices"]
DEPARTMENTS = _DATA["words"]["departments"]
JOBS = _DATA["words"]["jobs"]
MEDICATIONS = _DATA["words"]["medications"]
CONDITIONS_MED = _DATA["words"]["conditions_med"]
LANGS = _DATA["words"]["langs"]
CURRENCIES = _DATA["words"]["currencies"]
SERVICES = _DATA["words"]["services"]
TABLES = _DATA["words"]["tables"]
STATUSES = _DATA["words"]["statuses"]
LABEL_TAGS = _DATA["words"]["label_tags"]
AIRLINES = _DATA["words"]["airlines"]
COMMANDS = _DATA["words"]["commands"]


def _choice(name: str) -> Callable[[Random], Any]:
    """The sampler ``name`` of ``samplers.yaml``'s ``choices``: one of its values."""
    values = _DATA["choices"][name]
    return lambda r: r.choice(values)


def _id(prefix: str, digits: int = 6) -> Callable[[Random], str]:
    return lambda r: f"{prefix}-{r.randrange(10 ** (digits - 1), 10**digits)}"


def _person(r: Random) -> str:
    return f"{r.choice(FIRST)} {r.choice(LAST)}"


def _email(r: Random) -> str:
    return f"{r.choice(FIRST).lower()}.{r.choice(LAST).lower()}@{r.choice(DOMAINS)}"


def _date(r: Random, start: int = 2026) -> str:
    return f"{start + r.randrange(0, 2)}-{r.randrange(1, 13):02d}-{r.randrange(1, 29):02d}"


def _time(r: Random) -> str:
    return f"{r.randrange(8, 19):02d}:{r.choice(('00', '15', '30', '45'))}"


def _path(r: Random) -> str:
    return f"/home/user/{r.choice(DIRS)}/{r.choice(WORDS)}_{r.choice(WORDS)}.{r.choice(EXTS)}"


def _amount(r: Random) -> float:
    return round(r.choice((r.uniform(5, 100), r.uniform(100, 2000), r.uniform(2000, 20000))), 2)


def _sha(r: Random) -> str:
    return "".join(r.choice("0123456789abcdef") for _ in range(12))


SAMPLERS: dict[str, Callable[[Random], Any]] = {
    # people and organisations
    "person": _person,
    "first_name": lambda r: r.choice(FIRST),
    "last_name": lambda r: r.choice(LAST),
    "email": _email,
    "phone": lambda r: f"+1-{r.randrange(200, 999)}-{r.randrange(200, 999)}-{r.randrange(1000, 9999)}",
    "company": lambda r: r.choice(COMPANIES),
    "department": lambda r: r.choice(DEPARTMENTS),
    "job_title": lambda r: r.choice(JOBS),
    "username": lambda r: f"{r.choice(FIRST).lower()}{r.randrange(1, 99)}",
    # places and time
    "city": lambda r: r.choice(CITIES),
    "country": lambda r: r.choice(COUNTRIES),
    "address": lambda r: f"{r.randrange(1, 400)} {r.choice(LAST)} Street, {r.choice(CITIES)}",
    "date": _date,
    "past_date": lambda r: _date(r, 2024),
    "time": _time,
    "datetime": lambda r: f"{_date(r)}T{_time(r)}:00",
    "duration_minutes": _choice("duration_minutes"),
    "timezone": _choice("timezone"),
    "latitude": lambda r: round(r.uniform(-60, 70), 4),
    "longitude": lambda r: round(r.uniform(-150, 150), 4),
    # identifiers
    "uuid": lambda r: "-".join(
        "".join(r.choice("0123456789abcdef") for _ in range(n)) for n in (8, 4, 4, 4, 12)
    ),
    "user_id": _id("usr"),
    "account_id": _id("acct", 8),
    "customer_id": _id("cus"),
    "patient_id": _id("pat"),
    "employee_id": _id("emp", 5),
    "order_id": _id("ord", 7),
    "ticket_id": _id("TCK", 5),
    "invoice_id": _id("INV", 6),
    "transaction_id": _id("txn", 9),
    "event_id": _id("evt", 7),
    "message_id": _id("msg", 8),
    "session_id": _id("sess", 8),
    "otp": lambda r: f"{r.randrange(0, 10**6):06d}",
    "token": lambda r: "tok_" + "".join(r.choice(string.ascii_letters + string.digits) for _ in range(16)),
    "commit_sha": _sha,
    "sku": lambda r: f"SKU-{r.randrange(10000, 99999)}",
    "iban": lambda r: (
        f"NO{r.randrange(10, 99)} {r.randrange(1000, 9999)} {r.randrange(1000, 9999)} {r.randrange(100, 999)}"
    ),
    # files, code and infrastructure
    "file_path": _path,
    "dir_path": lambda r: f"/home/user/{r.choice(DIRS)}",
    "filename": lambda r: f"{r.choice(WORDS)}_{r.choice(WORDS)}.{r.choice(EXTS)}",
    "file_content": lambda r: " ".join(r.sample(SENTENCES, 2)),
    "url": lambda r: f"https://{r.choice(DOMAINS)}/{r.choice(WORDS)}/{r.choice(WORDS)}",
    "domain": lambda r: r.choice(DOMAINS),
    "repo": lambda r: f"{r.choice(FIRST).lower()}/{r.choice(WORDS)}-{r.choice(WORDS)}",
    "branch": lambda r: r.choice(("main", "develop", f"feature/{r.choice(WORDS)}", f"fix/{r.choice(WORDS)}")),
    "issue_title": lambda r: (
        f"{r.choice(('Fix', 'Update', 'Add', 'Investigate', 'Remove'))} {r.choice(WORDS)} {r.choice(WORDS)}"
    ),
    "hostname": lambda r: (
        f"{r.choice(('web', 'db', 'cache', 'worker', 'api'))}-{r.randrange(1, 20):02d}.internal"
    ),
    "service_name": lambda r: r.choice(SERVICES),
    "shell_command": lambda r: r.choice(COMMANDS),
    "version": lambda r: f"{r.randrange(0, 5)}.{r.randrange(0, 20)}.{r.randrange(0, 10)}",
    "port": _choice("port"),
    "table_name": lambda r: r.choice(TABLES),
    "sql_select": lambda r: (
        f"SELECT * FROM {r.choice(TABLES)} WHERE created_at > '{_date(r, 2025)}' LIMIT {r.choice((10, 50, 100))}"
    ),
    "bucket": lambda r: f"{r.choice(WORDS)}-{r.choice(('prod', 'staging', 'backups', 'assets'))}",
    "object_key": lambda r: f"{r.choice(DIRS)}/{r.choice(WORDS)}-{r.randrange(1, 999)}.{r.choice(EXTS)}",
    # communication and content
    "topic": lambda r: r.choice(TOPICS),
    "subject_line": lambda r: (
        f"{r.choice(('Re:', 'Update on', 'Question about', 'Notes from'))} {r.choice(TOPICS)}"
    ),
    "message_text": lambda r: r.choice(SENTENCES),
    "channel": lambda r: f"#{r.choice(WORDS)}-{r.choice(('team', 'alerts', 'general', 'ops', 'dev'))}",
    "search_query": lambda r: f"{r.choice(WORDS)} {r.choice(WORDS)}",
    "word": lambda r: r.choice(WORDS),
    "tag": lambda r: r.choice(LABEL_TAGS),
    "status": lambda r: r.choice(STATUSES),
    "language": lambda r: r.choice(LANGS),
    "note_text": lambda r: r.choice(SENTENCES),
    # money and commerce
    "amount": _amount,
    "small_amount": lambda r: round(r.uniform(5, 300), 2),
    "currency": lambda r: r.choice(CURRENCIES),
    "product": lambda r: r.choice(PRODUCTS),
    "quantity": lambda r: r.randrange(1, 6),
    "price": lambda r: round(r.uniform(4, 900), 2),
    "percentage": _choice("percentage"),
    "airline": lambda r: r.choice(AIRLINES),
    "flight_number": lambda r: f"{r.choice(('OC', 'NA', 'SP', 'IC', 'AW'))}{r.randrange(100, 999)}",
    # health, home, weather
    "medication": lambda r: r.choice(MEDICATIONS),
    "medical_condition": lambda r: r.choice(CONDITIONS_MED),
    "weight_kg": lambda r: round(r.uniform(50, 110), 1),
    "height_m": lambda r: round(r.uniform(1.5, 2.0), 2),
    "heart_rate": lambda r: r.randrange(55, 110),
    "temperature_c": lambda r: round(r.uniform(-10, 35), 1),
    "humidity": lambda r: r.randrange(20, 95),
    "weather_condition": lambda r: r.choice(CONDITIONS),
    "room": lambda r: r.choice(ROOMS),
    "device": lambda r: r.choice(DEVICES),
    # generic
    "count": lambda r: r.randrange(0, 40),
    "small_int": lambda r: r.randrange(1, 10),
    "boolean": lambda r: r.random() < 0.8,
    "ok_status": _choice("ok_status"),
    # -- catalogue additions (servers in catalogue/servers/*.yaml) --
    # code hosting and CI
    "pr_number": lambda r: r.randrange(12, 1400),
    "repo_file": _choice("repo_file"),
    "pr_title": lambda r: (
        f"{r.choice(('Add', 'Fix', 'Refactor', 'Bump', 'Document', 'Speed up'))} "
        f"{r.choice(WORDS)} {r.choice(('handler', 'client', 'parser', 'tests', 'config', 'export', 'docs'))}"
    ),
    "commit_message": _choice("commit_message"),
    "pipeline": _choice("pipeline"),
    "run_id": lambda r: r.randrange(100000, 9999999),
    "environment": _choice("environment"),
    "log_line": _choice("log_line"),
    "release_tag": lambda r: f"v{r.randrange(0, 5)}.{r.randrange(0, 20)}.{r.randrange(0, 10)}",
    # kubernetes and cloud
    "namespace": _choice("namespace"),
    "deployment": lambda r: r.choice(SERVICES),
    "pod_name": lambda r: (
        f"{r.choice(SERVICES)}-{''.join(r.choice('0123456789abcdef') for _ in range(9))}-"
        f"{''.join(r.choice(string.ascii_lowercase + string.digits) for _ in range(5))}"
    ),
    "container_image": lambda r: (
        f"registry.example.com/{r.choice(SERVICES)}:{r.randrange(0, 5)}.{r.randrange(0, 20)}.{r.randrange(0, 10)}"
    ),
    "replicas": lambda r: r.randrange(1, 9),
    "cluster": _choice("cluster"),
    "cloud_region": _choice("cloud_region"),
    "ip_address": lambda r: f"10.{r.randrange(0, 255)}.{r.randrange(0, 255)}.{r.randrange(1, 255)}",
    "manifest_path": lambda r: (
        f"k8s/{r.choice(SERVICES)}/{r.choice(('deployment', 'service', 'configmap', 'hpa'))}.yaml"
    ),
    "sql_statement": lambda r: r.choice(
        (
            f"UPDATE {r.choice(TABLES)} SET status = 'archived' WHERE created_at < '{_date(r, 2024)}'",
            f"DELETE FROM {r.choice(TABLES)} WHERE created_at < '{_date(r, 2024)}'",
            f"INSERT INTO audit_log (event, at) VALUES ('{r.choice(WORDS)}', now())",
            f"ALTER TABLE {r.choice(TABLES)} ADD COLUMN notes text",
        )
    ),
    "column_name": _choice("column_name"),
    "sql_type": _choice("sql_type"),
    # identifiers
    "deal_id": _id("deal", 6),
    "lead_id": _id("lead", 6),
    "contact_id": _id("ct", 6),
    "page_id": _id("page", 6),
    "note_id": _id("note", 6),
    "task_id": _id("TASK", 4),
    "issue_key": lambda r: f"{r.choice(('ENG', 'OPS', 'WEB', 'MOB', 'DATA', 'SEC'))}-{r.randrange(10, 2000)}",
    "post_id": _id("post", 9),
    "track_id": _id("trk", 7),
    "playlist_id": _id("pl", 6),
    "article_id": _id("art", 7),
    "request_id": _id("req", 6),
    "approval_id": _id("apr", 6),
    "backup_id": _id("bkp", 7),
    "snapshot_id": _id("snap", 7),
    "plan_id": _id("plan", 6),
    "device_id": _id("dev", 5),
    "appointment_id": _id("appt", 6),
    "bill_id": _id("BILL", 6),
    "cart_id": _id("cart", 7),
    "flight_offer_id": _id("offer", 7),
    "hotel_id": _id("htl", 5),
    "refund_id": _id("re", 8),
    "job_id": _id("job", 6),
    "dashboard_id": _id("dash", 4),
    "thread_ts": lambda r: f"{r.randrange(1767225600, 1798761600)}.{r.randrange(100000, 999999)}",
    "clinician_id": _id("clin", 5),
    "assignment_id": _id("asg", 5),
    "subscription_id": _id("sub", 6),
    "lock_token": lambda r: (
        "lock_" + "".join(r.choice(string.ascii_lowercase + string.digits) for _ in range(10))
    ),
    "secret_version": lambda r: r.randrange(1, 30),
    # people, organisations and access
    "role": _choice("role"),
    "group_name": _choice("group_name"),
    "permission": _choice("permission"),
    "justification": _choice("justification"),
    "social_handle": lambda r: (
        f"@{r.choice(FIRST).lower()}{r.choice(('_dev', 'hq', '_writes', '', '_design'))}"
    ),
    "deal_name": lambda r: (
        f"{r.choice(COMPANIES)} {r.choice(('renewal', 'expansion', 'pilot', 'enterprise plan', 'new licences'))}"
    ),
    "deal_stage": _choice("deal_stage"),
    "activity_type": _choice("activity_type"),
    "leave_type": _choice("leave_type"),
    "salary": lambda r: r.randrange(40, 180) * 1000,
    "national_id": lambda r: f"{r.randrange(100, 999)}-{r.randrange(10, 99)}-{r.randrange(1000, 9999)}",
    # places and travel
    "place": _choice("place"),
    "place_type": _choice("place_type"),
    "postal_code": lambda r: f"{r.randrange(10000, 99999)}",
    "distance_km": lambda r: round(r.uniform(0.4, 480), 1),
    "airport": _choice("airport"),
    "hotel": lambda r: (
        f"{r.choice(('Grand', 'Harbor', 'Park', 'Central', 'Riverside', 'Old Town', 'Skyline'))} "
        f"{r.choice(('Hotel', 'Inn', 'Suites', 'Lodge'))}"
    ),
    "booking_ref": lambda r: "".join(r.choice(string.ascii_uppercase + "23456789") for _ in range(6)),
    "nights": lambda r: r.randrange(1, 8),
    "seat": lambda r: f"{r.randrange(1, 40)}{r.choice('ABCDEF')}",
    # health
    "allergy": _choice("allergy"),
    "lab_test": _choice("lab_test"),
    "lab_value": _choice("lab_value"),
    "blood_pressure": lambda r: f"{r.randrange(105, 155)}/{r.randrange(65, 98)}",
    "dose": _choice("dose"),
    "dosage_schedule": _choice("dosage_schedule"),
    # home
    "scene": _choice("scene"),
    "brightness": lambda r: r.randrange(1, 11) * 10,
    "home_pin": lambda r: f"{r.randrange(0, 10**4):04d}",
    "door": _choice("door"),
    # commerce, money, accounting
    "tracking_number": lambda r: (
        "1Z" + "".join(r.choice(string.ascii_uppercase + string.digits) for _ in range(16))
    ),
    "carrier": _choice("carrier"),
    "shipping_status": _choice("shipping_status"),
    "refund_reason": _choice("refund_reason"),
    "payment_method": _choice("payment_method"),
    "expense_category": _choice("expense_category"),
    "vendor": lambda r: r.choice(COMPANIES),
    "coupon_code": lambda r: f"{r.choice(('SAVE', 'WELCOME', 'SPRING', 'VIP'))}{r.choice((10, 15, 20, 25))}",
    "rating": lambda r: r.randrange(1, 6),
    # work and content
    "event_title": lambda r: r.choice(
        (
            "Weekly sync",
            f"1:1 with {r.choice(FIRST)}",
            "Design review",
            "Sprint planning",
            "Dentist appointment",
            f"Lunch with {r.choice(FIRST)}",
            "Quarterly business review",
            "Team retro",
            "Budget walkthrough",
        )
    ),
    "note_title": lambda r: (
        f"{r.choice(WORDS).capitalize()} {r.choice(('notes', 'ideas', 'checklist', 'plan', 'todo'))}"
    ),
    "notebook": _choice("notebook"),
    "page_title": lambda r: (
        f"{r.choice(WORDS).capitalize()} {r.choice(('guide', 'runbook', 'FAQ', 'policy', 'overview', 'handbook'))}"
    ),
    "wiki_space": _choice("wiki_space"),
    "project_name": _choice("project_name"),
    "task_title": lambda r: (
        f"{r.choice(('Draft', 'Review', 'Update', 'Prepare', 'Finalize', 'Test'))} {r.choice(WORDS)} "
        f"{r.choice(('plan', 'doc', 'slides', 'checklist', 'report', 'spec'))}"
    ),
    "sprint": lambda r: f"Sprint {r.randrange(10, 60)}",
    "priority": _choice("priority"),
    "complaint": _choice("complaint"),
    "support_reply": _choice("support_reply"),
    # media, news, language, social, analytics, education
    "song": _choice("song"),
    "artist": _choice("artist"),
    "playlist": _choice("playlist"),
    "track_seconds": lambda r: r.randrange(140, 330),
    "feed_url": lambda r: (
        f"https://{r.choice(('news', 'blog', 'updates', 'press'))}.{r.choice(DOMAINS)}/rss.xml"
    ),
    "headline": lambda r: (
        f"{r.choice(COMPANIES)} "
        f"{r.choice(('announces', 'reports', 'launches', 'delays', 'wins'))} "
        f"{r.choice(('new product line', 'record quarter', 'partnership', 'expansion into ' + r.choice(CITIES), 'major contract'))}"
    ),
    "news_source": _choice("news_source"),
    "phrase": _choice("phrase"),
    "language_code": _choice("language_code"),
    "post_text": _choice("post_text"),
    "hashtag": lambda r: (
        "#" + r.choice(("launch", "devlife", "opensource", "hiring", "productupdate", "remotework"))
    ),
    "metric": _choice("metric"),
    "date_range": _choice("date_range"),
    "dashboard": _choice("dashboard"),
    "metric_value": lambda r: round(r.uniform(10, 50000), 1),
    "frequency": _choice("frequency"),
    "course_code": lambda r: (
        f"{r.choice(('CS', 'MATH', 'BIO', 'HIST', 'ECON', 'PHYS'))}{r.randrange(100, 499)}"
    ),
    "course_name": _choice("course_name"),
    "assignment_title": _choice("assignment_title"),
    "letter_grade": _choice("letter_grade"),
    "score": lambda r: r.randrange(55, 101),
    "air_quality_index": lambda r: r.randrange(8, 180),
    "wind_kph": lambda r: round(r.uniform(0, 60), 1),
    "precip_chance": lambda r: r.randrange(0, 101, 5),
    "weather_alert": _choice("weather_alert"),
    "css_selector": _choice("css_selector"),
    "http_status": _choice("http_status"),
    "vault_item": _choice("vault_item"),
    "secret_path": lambda r: (
        f"{r.choice(('prod', 'staging', 'dev'))}/{r.choice(SERVICES)}/"
        f"{r.choice(('db-password', 'api-key', 'stripe-key', 'jwt-secret', 'smtp-password'))}"
    ),
    "password": lambda r: "".join(
        r.choice(string.ascii_letters + string.digits + "!#$%&*+-=?@^_") for _ in range(18)
    ),
    "emoji": _choice("emoji"),
    "sql_condition": _choice("sql_condition"),
    "foreign_phrase": _choice("foreign_phrase"),
    "charge_id": lambda r: "ch_" + "".join(r.choice(string.ascii_letters + string.digits) for _ in range(14)),
    "payout_id": lambda r: "po_" + "".join(r.choice(string.ascii_letters + string.digits) for _ in range(14)),
    "spreadsheet_id": lambda r: "".join(
        r.choice(string.ascii_letters + string.digits + "_-") for _ in range(24)
    ),
    "cell_range": _choice("cell_range"),
    "spreadsheet_title": lambda r: (
        f"{r.choice(('Q1', 'Q2', 'Q3', 'Q4', '2026', 'Team', 'Project'))} "
        f"{r.choice(('budget', 'headcount plan', 'sales pipeline', 'expenses', 'roadmap', 'inventory'))}"
    ),
    "systemd_service": _choice("systemd_service"),
    "log_file": _choice("log_file"),
    "arrival_airport": _choice("arrival_airport"),
    "album": _choice("album"),
    "feature_branch": lambda r: (
        f"{r.choice(('feature', 'fix', 'chore'))}/{r.choice(WORDS)}-{r.choice(WORDS)}"
    ),
}

# Property-name hints for schemas without an x-sample (imported tools). A hint matches whole words of the
# property name (snake_case, camelCase, kebab-case and dotted names are split into lower-case words; a plural
# "s"/"es" is allowed), so `timezone` is no `time` and `stage` no `tag`; `^`/`$` anchor to the first/last
# word. First match wins: specific words come before generic ones (`ip address` before `address`,
# `tracking number` before `number`).
_HINTS: tuple[tuple[str, str], ...] = (
    (r"e ?mail|recipient|^to$|^cc$|^bcc$|sender", "email"),
    (r"phone|mobile|telephone|phone ?number", "phone"),
    (r"patient", "patient_id"),
    (r"employee", "employee_id"),
    (r"customer|client ?id", "customer_id"),
    (r"account", "account_id"),
    (r"user ?id", "user_id"),
    (r"user ?name|login|handle", "username"),
    (r"order", "order_id"),
    (r"ticket|issue ?id", "ticket_id"),
    (r"invoice", "invoice_id"),
    (r"transaction|txn|payment ?id", "transaction_id"),
    (r"event ?id", "event_id"),
    (r"session ?id|session", "session_id"),
    (r"otp|verification ?code|pin|2fa|mfa", "otp"),
    (r"(?:csrf|access|auth|refresh|bearer)? ?token|api ?key|secret", "token"),
    (r"id$|uuid|guid", "uuid"),
    (r"path|file|file ?path|file ?name", "file_path"),
    (r"dir|directory|folder|dir ?name", "dir_path"),
    (r"url|uri|link|endpoint|website", "url"),
    (r"repo|repository|repositories", "repo"),
    (r"branch", "branch"),
    (r"sha|commit", "commit_sha"),
    (r"host|host ?name", "hostname"),
    (r"service", "service_name"),
    (r"command|cmd", "shell_command"),
    (r"version", "version"),
    (r"port", "port"),
    (r"table", "table_name"),
    (r"sql|query ?string", "sql_select"),
    (r"bucket", "bucket"),
    (r"key$", "object_key"),
    (r"subject|title|summary", "subject_line"),
    (r"body|text|content|message|comment|note|description", "message_text"),
    (r"channel", "channel"),
    (r"query|search|keyword|term", "search_query"),
    (r"first ?name|given ?name", "first_name"),
    (r"last ?name|surname|family ?name", "last_name"),
    (r"name|(?:full|middle|nick|display) ?name|author|owner|assignee", "person"),
    (r"company|organi[sz]ation|employer", "company"),
    (r"department|team", "department"),
    (r"iata|airport", "airport"),
    (r"city|cities|location|place|destination|origin", "city"),
    (r"country|countries", "country"),
    (r"^ip$|ip ?addr(?:ess)?", "ip_address"),
    (r"address", "address"),
    (r"date ?time|time ?stamp", "datetime"),
    (r"date|day|deadline|due|birth ?date|birthday", "date"),
    (r"time ?zone|tz", "timezone"),
    (r"time", "time"),
    (r"duration|minutes|mins", "duration_minutes"),
    (r"lat|latitude", "latitude"),
    (r"lon|lng|longitude", "longitude"),
    (r"currency", "currency"),
    (r"amount|total|balance|cost|fee", "amount"),
    (r"price", "price"),
    (r"quantity|qty", "quantity"),
    (r"percent|percentage|rate", "percentage"),
    (r"product|item", "product"),
    (r"sku", "sku"),
    (r"weight", "weight_kg"),
    (r"height", "height_m"),
    (r"temp|temperature", "temperature_c"),
    (r"humidity", "humidity"),
    (r"condition|weather", "weather_condition"),
    (r"medication|drug|medicine", "medication"),
    (r"room", "room"),
    (r"device", "device"),
    (r"status|state", "status"),
    (r"lang|language", "language"),
    (r"tag|label|category|categories", "tag"),
    (r"tracking|tracking ?number", "tracking_number"),
    (r"count|limit|num|number|size|max|top ?k|page|page ?size", "small_int"),
    # catalogue additions: only reached by property names that no earlier hint matches
    (r"namespace|^ns$", "namespace"),
    (r"replica", "replicas"),
    (r"image", "container_image"),
    (r"region|zone", "cloud_region"),
    (r"role", "role"),
    (r"group", "group_name"),
    (r"permission|scope", "permission"),
    (r"hotel", "hotel"),
    (r"carrier", "carrier"),
    (r"playlist", "playlist"),
    (r"artist", "artist"),
    (r"song|track", "song"),
    (r"headline", "headline"),
    (r"grade", "letter_grade"),
    (r"course", "course_code"),
    (r"priority|severity", "priority"),
    (r"selector", "css_selector"),
    (r"scene", "scene"),
    (r"brightness", "brightness"),
    (r"allergy|allergies|allergen", "allergy"),
    (r"dose|dosage", "dose"),
    (r"stage", "deal_stage"),
    (r"password|passphrase", "password"),
    (r"env|environment", "environment"),
    (r"pipeline|workflow", "pipeline"),
    (r"metric", "metric"),
    (r"freq|frequency", "frequency"),
)
# A hint's words must start and end on word boundaries of the space-joined name; "s"/"es" may follow.
_HINTS_RX = tuple((re.compile(rf"(?:^|(?<= ))(?:{rx})(?:e?s)?(?= |$)"), name) for rx, name in _HINTS)


def sample(name: str, rng: Random) -> Any:
    try:
        return SAMPLERS[name](rng)
    except KeyError:
        raise KeyError(f"unknown sampler {name!r}; known: {', '.join(sorted(SAMPLERS))}") from None


def words(prop: str) -> str:
    """The property name as space-separated lower-case words: ``ipAddress``, ``ip_address``, ``IP-Address`` ->
    ``ip address``; ``HTTPServer`` -> ``http server``; ``file1Path`` -> ``file 1 path``."""
    split = re.sub(r"([A-Za-z])([0-9])", r"\1 \2", prop)
    split = re.sub(r"([a-z0-9])([A-Z])|([A-Z])([A-Z][a-z])", r"\1\3 \2\4", split)
    return " ".join(w for w in re.split(r"[^a-z0-9]+", split.lower()) if w)


def guess(prop: str) -> str | None:
    """A sampler name for a property name, or None; hints match whole words (see ``_HINTS``)."""
    text = words(prop)
    for rx, name in _HINTS_RX:
        if rx.search(text):
            return name
    return None
