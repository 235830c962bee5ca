"""Realistic value samplers, named so that catalogue schemas can ask for them (``x-sample: email``).

Each sampler is a pure function of a ``random.Random``: the same seed gives the same values. ``guess`` picks
a sampler from a property name when a schema gives no hint, which is how imported tools get plausible values.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from random import Random
from typing import Any

FIRST = [
    "Alice",
    "Bob",
    "Carla",
    "Daniel",
    "Emma",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemi",
    "Luca",
    "Maya",
    "Nikhil",
    "Olga",
    "Pablo",
    "Qing",
    "Rosa",
    "Samir",
    "Tara",
    "Umar",
    "Vera",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zoe",
    "Aisha",
    "Bruno",
    "Chen",
    "Dmitri",
    "Elena",
    "Fatima",
    "Gustavo",
    "Hana",
    "Ivan",
    "Julia",
    "Kofi",
    "Lena",
    "Mateo",
    "Nora",
    "Omar",
    "Priya",
    "Rafael",
    "Sofia",
    "Tomas",
    "Ugo",
    "Valentina",
    "William",
    "Yara",
]
LAST = [
    "Smith",
    "Garcia",
    "Chen",
    "Okafor",
    "Muller",
    "Rossi",
    "Tanaka",
    "Kowalski",
    "Novak",
    "Silva",
    "Haddad",
    "Jensen",
    "Patel",
    "Kim",
    "Dubois",
    "Nguyen",
    "Andersson",
    "Moreau",
    "Costa",
    "Ivanova",
    "Hughes",
    "Schmidt",
    "Ali",
    "Santos",
    "Romero",
    "Fischer",
    "Yamamoto",
    "Brown",
    "Osei",
    "Lindqvist",
    "Park",
    "Weber",
    "Murphy",
    "Kaya",
    "Horvat",
]
CITIES = [
    "Oslo",
    "Lisbon",
    "Nairobi",
    "Osaka",
    "Toronto",
    "Lyon",
    "Porto",
    "Austin",
    "Denver",
    "Seoul",
    "Krakow",
    "Dublin",
    "Cairo",
    "Lima",
    "Hanoi",
    "Madrid",
    "Vienna",
    "Zurich",
    "Helsinki",
    "Auckland",
    "Chicago",
    "Boston",
    "Mumbai",
    "Accra",
    "Bogota",
    "Prague",
    "Munich",
    "Perth",
    "Montreal",
    "Valencia",
    "Tallinn",
    "Reykjavik",
    "Singapore",
    "Manila",
]
COUNTRIES = [
    "Norway",
    "Portugal",
    "Kenya",
    "Japan",
    "Canada",
    "France",
    "USA",
    "Korea",
    "Poland",
    "Ireland",
    "Egypt",
    "Peru",
    "Vietnam",
    "Spain",
    "Austria",
    "Switzerland",
    "Finland",
    "Brazil",
    "India",
    "Ghana",
    "Germany",
]
COMPANIES = [
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Health",
    "Stark Logistics",
    "Wayne Analytics",
    "Hooli",
    "Vandelay Imports",
    "Soylent Foods",
    "Tyrell Systems",
    "Cyberdyne Labs",
    "Wonka Retail",
    "Aperture Science",
    "Pied Piper",
    "Gringotts Bank",
    "Oceanic Airlines",
    "Blue Sun",
    "Monarch Studios",
    "Nakatomi Trading",
    "Duff Brewing",
]
DOMAINS = [
    "example.com",
    "example.org",
    "acme.io",
    "globex.net",
    "initech.dev",
    "mailbox.example",
    "contoso.com",
    "fabrikam.io",
    "northwind.example",
    "tailspin.dev",
]
WORDS = [
    "quarterly",
    "budget",
    "roadmap",
    "invoice",
    "contract",
    "onboarding",
    "migration",
    "backup",
    "release",
    "audit",
    "payroll",
    "forecast",
    "design",
    "review",
    "retro",
    "launch",
    "hiring",
    "renewal",
    "incident",
    "outage",
    "proposal",
    "summary",
    "draft",
    "report",
    "benchmark",
    "dataset",
    "pipeline",
    "schedule",
    "inventory",
    "shipment",
    "refund",
    "warranty",
    "campaign",
    "newsletter",
]
PRODUCTS = [
    "wireless mouse",
    "standing desk",
    "noise-cancelling headphones",
    "USB-C hub",
    "mechanical keyboard",
    "4K monitor",
    "office chair",
    "laptop stand",
    "webcam",
    "external SSD",
    "coffee grinder",
    "water bottle",
    "desk lamp",
    "backpack",
    "running shoes",
    "yoga mat",
    "smart speaker",
    "e-reader",
    "phone case",
    "travel adapter",
]
EXTS = ["txt", "md", "csv", "json", "pdf", "docx", "xlsx", "log", "yaml", "py"]
DIRS = [
    "docs",
    "reports",
    "projects",
    "notes",
    "finance",
    "hr",
    "data",
    "archive",
    "src",
    "config",
    "invoices",
    "drafts",
]
TOPICS = [
    "the Q3 budget",
    "next week's release",
    "the onboarding checklist",
    "the vendor contract",
    "the database migration",
    "the incident review",
    "the hiring plan",
    "the marketing campaign",
    "the security audit",
    "the team offsite",
    "the customer escalation",
    "the pricing update",
    "the API deprecation",
    "the office move",
]
SENTENCES = (
    "Please review the attached numbers before Friday.",
    "The deployment finished without errors.",
    "Can we move the sync to Thursday afternoon?",
    "Reminder: the report is due at the end of the month.",
    "All tests passed on the release branch.",
    "The client approved the revised proposal.",
    "We need two more reviewers for this change.",
    "Shipping is delayed by two days because of the weather.",
    "The new onboarding guide is ready for feedback.",
    "Budget figures were updated with the latest invoices.",
    "Let's keep the scope small for the first iteration.",
    "The vendor confirmed the renewal terms.",
)
CONDITIONS = [
    "sunny",
    "partly cloudy",
    "overcast",
    "light rain",
    "heavy rain",
    "snow",
    "fog",
    "thunderstorms",
    "windy",
    "clear",
]
ROOMS = ["living room", "kitchen", "bedroom", "office", "garage", "hallway", "bathroom", "porch"]
DEVICES = [
    "thermostat",
    "front door lock",
    "porch light",
    "living room lamp",
    "garage door",
    "robot vacuum",
    "smoke alarm",
]
DEPARTMENTS = [
    "Engineering",
    "Finance",
    "Sales",
    "Marketing",
    "Support",
    "Legal",
    "Operations",
    "People",
    "Design",
    "Research",
]
JOBS = [
    "software engineer",
    "data analyst",
    "product manager",
    "account executive",
    "support specialist",
    "financial controller",
    "designer",
    "recruiter",
    "site reliability engineer",
    "legal counsel",
]
MEDICATIONS = [
    "ibuprofen",
    "amoxicillin",
    "metformin",
    "lisinopril",
    "atorvastatin",
    "levothyroxine",
    "cetirizine",
    "omeprazole",
]
CONDITIONS_MED = [
    "hypertension",
    "type 2 diabetes",
    "seasonal allergies",
    "asthma",
    "migraine",
    "high cholesterol",
]
LANGS = [
    "English",
    "Spanish",
    "French",
    "German",
    "Japanese",
    "Portuguese",
    "Italian",
    "Korean",
    "Dutch",
    "Swedish",
]
CURRENCIES = ["USD", "EUR", "GBP", "JPY", "CAD", "CHF", "NOK", "SEK", "AUD"]
SERVICES = [
    "api-gateway",
    "auth-service",
    "billing-worker",
    "search-indexer",
    "web-frontend",
    "notification-service",
]
TABLES = [
    "customers",
    "orders",
    "invoices",
    "employees",
    "products",
    "shipments",
    "tickets",
    "events",
    "payments",
    "sessions",
]
STATUSES = ["open", "in progress", "resolved", "closed", "pending", "blocked"]
LABEL_TAGS = [
    "bug",
    "feature",
    "urgent",
    "docs",
    "security",
    "billing",
    "ux",
    "backend",
    "frontend",
    "question",
]
AIRLINES = ["Oceanic", "Nordic Air", "Sky Pacific", "Iberia Connect", "Atlas Wings"]
COMMANDS = [
    "ls -la",
    "df -h",
    "git status",
    "npm test",
    "pytest -q",
    "du -sh .",
    "uptime",
    "docker ps",
    "systemctl status nginx",
    "tail -n 50 app.log",
]


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
    "duration_minutes": lambda r: r.choice((15, 30, 45, 60, 90)),
    "timezone": lambda r: r.choice(("UTC", "Europe/Oslo", "America/Toronto", "Asia/Tokyo", "Europe/Lisbon")),
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
    "port": lambda r: r.choice((80, 443, 5432, 6379, 8080, 9000)),
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
    "percentage": lambda r: r.choice((5, 10, 15, 20, 25, 50)),
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
    "ok_status": lambda r: r.choice(("ok", "success", "done", "completed")),
}

# Property-name hints for schemas without an x-sample (imported tools): first match wins.
_HINTS: tuple[tuple[str, str], ...] = (
    (r"e_?mail|recipient|^to$|^cc$|sender", "email"),
    (r"phone|mobile", "phone"),
    (r"patient", "patient_id"),
    (r"employee", "employee_id"),
    (r"customer|client_id", "customer_id"),
    (r"account", "account_id"),
    (r"user_?id|userid", "user_id"),
    (r"user_?name|login|handle", "username"),
    (r"order", "order_id"),
    (r"ticket|issue_?id", "ticket_id"),
    (r"invoice", "invoice_id"),
    (r"transaction|txn|payment_id", "transaction_id"),
    (r"event_?id", "event_id"),
    (r"session", "session_id"),
    (r"otp|verification_?code|pin$|2fa|mfa", "otp"),
    (r"token|api_?key|secret", "token"),
    (r"_id$|^id$|uuid", "uuid"),
    (r"(^|_)(path|file)", "file_path"),
    (r"dir|folder", "dir_path"),
    (r"url|link|endpoint|website", "url"),
    (r"repo", "repo"),
    (r"branch", "branch"),
    (r"sha|commit", "commit_sha"),
    (r"host", "hostname"),
    (r"service", "service_name"),
    (r"command|cmd", "shell_command"),
    (r"version", "version"),
    (r"port", "port"),
    (r"table", "table_name"),
    (r"sql|query_string", "sql_select"),
    (r"bucket", "bucket"),
    (r"key$", "object_key"),
    (r"subject|title|summary", "subject_line"),
    (r"body|text|content|message|comment|note|description", "message_text"),
    (r"channel", "channel"),
    (r"query|search|keyword|term", "search_query"),
    (r"first_?name", "first_name"),
    (r"last_?name|surname", "last_name"),
    (r"name|author|owner|assignee", "person"),
    (r"company|organi[sz]ation|employer", "company"),
    (r"department|team", "department"),
    (r"city|location|place|destination|origin", "city"),
    (r"country", "country"),
    (r"address", "address"),
    (r"datetime|timestamp", "datetime"),
    (r"date|day|deadline|due", "date"),
    (r"time", "time"),
    (r"duration|minutes", "duration_minutes"),
    (r"timezone|tz", "timezone"),
    (r"lat", "latitude"),
    (r"lon|lng", "longitude"),
    (r"currency", "currency"),
    (r"amount|total|balance|cost|fee", "amount"),
    (r"price", "price"),
    (r"quantity|qty", "quantity"),
    (r"percent|rate", "percentage"),
    (r"product|item", "product"),
    (r"sku", "sku"),
    (r"weight", "weight_kg"),
    (r"height", "height_m"),
    (r"temp", "temperature_c"),
    (r"humidity", "humidity"),
    (r"condition|weather", "weather_condition"),
    (r"medication|drug", "medication"),
    (r"room", "room"),
    (r"device", "device"),
    (r"status|state", "status"),
    (r"lang", "language"),
    (r"tag|label|category", "tag"),
    (r"count|limit|num|size|max|top_?k|page", "small_int"),
)
_HINTS_RX = tuple((re.compile(rx, re.IGNORECASE), name) for rx, name in _HINTS)


def sample(name: str, rng: Random) -> Any:
    try:
        return SAMPLERS[name](rng)
    except KeyError:
        raise KeyError(f"unknown sampler {name!r}; known: {', '.join(sorted(SAMPLERS))}") from None


def guess(prop: str) -> str | None:
    """A sampler name for a property name, or None."""
    for rx, name in _HINTS_RX:
        if rx.search(prop):
            return name
    return None
