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
    # -- catalogue additions (servers in catalogue/servers/*.yaml) --
    # code hosting and CI
    "pr_number": lambda r: r.randrange(12, 1400),
    "repo_file": lambda r: r.choice(
        (
            "README.md",
            "src/app.py",
            "src/api/routes.ts",
            "Dockerfile",
            "docs/setup.md",
            "pkg/server/handler.go",
            "tests/test_models.py",
            ".github/workflows/ci.yml",
            "config/settings.yaml",
            "scripts/deploy.sh",
        )
    ),
    "pr_title": lambda r: (
        f"{r.choice(('Add', 'Fix', 'Refactor', 'Bump', 'Document', 'Speed up'))} "
        f"{r.choice(WORDS)} {r.choice(('handler', 'client', 'parser', 'tests', 'config', 'export', 'docs'))}"
    ),
    "commit_message": lambda r: r.choice(
        (
            "Fix typo in README",
            "Bump dependencies to latest patch versions",
            "Add retry with backoff to the HTTP client",
            "Handle empty input in the CSV parser",
            "Update deployment docs",
            "Remove unused feature flag",
            "Add unit tests for the billing module",
        )
    ),
    "pipeline": lambda r: r.choice(
        ("build-and-test", "deploy-production", "nightly-e2e", "release", "lint", "security-scan")
    ),
    "run_id": lambda r: r.randrange(100000, 9999999),
    "environment": lambda r: r.choice(("staging", "production", "qa", "preview")),
    "log_line": lambda r: r.choice(
        (
            "ERROR connection refused to db-01.internal:5432",
            "WARN retrying request to payments API (attempt 3 of 5)",
            "INFO all 214 tests passed in 83.2s",
            "ERROR test_checkout_total failed: expected 41.90, got 41.89",
            "INFO image pushed to registry.example.com",
            "ERROR npm ERR! missing script: build",
            "WARN disk usage at 91% on runner-04",
        )
    ),
    "release_tag": lambda r: f"v{r.randrange(0, 5)}.{r.randrange(0, 20)}.{r.randrange(0, 10)}",
    # kubernetes and cloud
    "namespace": lambda r: r.choice(
        ("default", "production", "staging", "payments", "monitoring", "data-pipeline", "ingress")
    ),
    "deployment": lambda r: r.choice(SERVICES),
    "pod_name": lambda r: (
        f"{r.choice(SERVICES)}-{''.join(r.choice('0123456789abcdef') for _ in range(9))}-"
        f"{''.join(r.choice(string.ascii_lowercase + string.digits) for _ in range(5))}"
    ),
    "container_image": lambda r: (
        f"registry.example.com/{r.choice(SERVICES)}:{r.randrange(0, 5)}.{r.randrange(0, 20)}.{r.randrange(0, 10)}"
    ),
    "replicas": lambda r: r.randrange(1, 9),
    "cluster": lambda r: r.choice(("prod-eu-west-1", "staging-us-east", "analytics-cluster", "dev-cluster")),
    "cloud_region": lambda r: r.choice(
        ("eu-west-1", "us-east-1", "ap-northeast-1", "eu-central-1", "us-west-2")
    ),
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
    "column_name": lambda r: r.choice(
        ("id", "created_at", "email", "status", "total", "customer_id", "name", "updated_at", "country")
    ),
    "sql_type": lambda r: r.choice(("bigint", "text", "timestamptz", "numeric(12,2)", "boolean", "uuid")),
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
    "role": lambda r: r.choice(
        ("viewer", "editor", "billing-admin", "support-agent", "developer", "auditor", "org-admin")
    ),
    "group_name": lambda r: r.choice(
        ("engineering", "finance-team", "contractors", "on-call", "marketing", "security")
    ),
    "permission": lambda r: r.choice(
        ("repo:read", "billing:write", "users:read", "reports:export", "tickets:assign", "deploy:staging")
    ),
    "justification": lambda r: r.choice(
        (
            "needs access for the Q3 billing reconciliation",
            "joining the on-call rotation next week",
            "covering for a teammate on leave",
            "new hire onboarding",
            "temporary access for the security audit",
        )
    ),
    "social_handle": lambda r: (
        f"@{r.choice(FIRST).lower()}{r.choice(('_dev', 'hq', '_writes', '', '_design'))}"
    ),
    "deal_name": lambda r: (
        f"{r.choice(COMPANIES)} {r.choice(('renewal', 'expansion', 'pilot', 'enterprise plan', 'new licences'))}"
    ),
    "deal_stage": lambda r: r.choice(
        ("prospecting", "qualification", "proposal", "negotiation", "closed won", "closed lost")
    ),
    "activity_type": lambda r: r.choice(("call", "meeting", "email", "demo")),
    "leave_type": lambda r: r.choice(
        ("vacation", "sick leave", "parental leave", "unpaid leave", "bereavement")
    ),
    "salary": lambda r: r.randrange(40, 180) * 1000,
    "national_id": lambda r: f"{r.randrange(100, 999)}-{r.randrange(10, 99)}-{r.randrange(1000, 9999)}",
    # places and travel
    "place": lambda r: r.choice(
        (
            "Central Station",
            "City Museum",
            "Riverside Park",
            "the airport",
            "Old Town Square",
            "Harbor Market",
            "University Library",
            "the convention center",
        )
    ),
    "place_type": lambda r: r.choice(
        ("coffee shop", "pharmacy", "restaurant", "gas station", "gym", "bookstore")
    ),
    "postal_code": lambda r: f"{r.randrange(10000, 99999)}",
    "distance_km": lambda r: round(r.uniform(0.4, 480), 1),
    "airport": lambda r: r.choice(
        (
            "OSL",
            "LIS",
            "NBO",
            "KIX",
            "YYZ",
            "LYS",
            "OPO",
            "AUS",
            "DEN",
            "ICN",
            "KRK",
            "DUB",
            "MAD",
            "VIE",
            "ZRH",
        )
    ),
    "hotel": lambda r: (
        f"{r.choice(('Grand', 'Harbor', 'Park', 'Central', 'Riverside', 'Old Town', 'Skyline'))} "
        f"{r.choice(('Hotel', 'Inn', 'Suites', 'Lodge'))}"
    ),
    "booking_ref": lambda r: "".join(r.choice(string.ascii_uppercase + "23456789") for _ in range(6)),
    "nights": lambda r: r.randrange(1, 8),
    "seat": lambda r: f"{r.randrange(1, 40)}{r.choice('ABCDEF')}",
    # health
    "allergy": lambda r: r.choice(("penicillin", "peanuts", "latex", "shellfish", "pollen", "sulfa drugs")),
    "lab_test": lambda r: r.choice(
        ("complete blood count", "lipid panel", "HbA1c", "thyroid panel", "vitamin D", "metabolic panel")
    ),
    "lab_value": lambda r: r.choice(
        ("within normal range", "slightly elevated", "low", "borderline high", "normal")
    ),
    "blood_pressure": lambda r: f"{r.randrange(105, 155)}/{r.randrange(65, 98)}",
    "dose": lambda r: r.choice(("200 mg", "500 mg", "10 mg", "20 mg", "5 mg", "850 mg")),
    "dosage_schedule": lambda r: r.choice(("once daily", "twice daily", "every 8 hours", "at bedtime")),
    # home
    "scene": lambda r: r.choice(("movie night", "good morning", "away", "bedtime", "dinner", "focus")),
    "brightness": lambda r: r.randrange(1, 11) * 10,
    "home_pin": lambda r: f"{r.randrange(0, 10**4):04d}",
    "door": lambda r: r.choice(("front door", "back door", "garage side door", "patio door")),
    # commerce, money, accounting
    "tracking_number": lambda r: (
        "1Z" + "".join(r.choice(string.ascii_uppercase + string.digits) for _ in range(16))
    ),
    "carrier": lambda r: r.choice(("UPS", "DHL", "FedEx", "PostNord", "USPS", "DPD")),
    "shipping_status": lambda r: r.choice(("label created", "in transit", "out for delivery", "delivered")),
    "refund_reason": lambda r: r.choice(
        ("arrived damaged", "wrong size", "never arrived", "charged twice", "no longer needed")
    ),
    "payment_method": lambda r: r.choice(
        ("saved visa ending 4242", "saved mastercard ending 4444", "paypal", "gift card")
    ),
    "expense_category": lambda r: r.choice(
        (
            "Office supplies",
            "Software subscriptions",
            "Travel",
            "Consulting fees",
            "Rent",
            "Marketing",
            "Meals",
        )
    ),
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
    "notebook": lambda r: r.choice(("Work", "Personal", "Projects", "Reading", "Recipes", "Travel")),
    "page_title": lambda r: (
        f"{r.choice(WORDS).capitalize()} {r.choice(('guide', 'runbook', 'FAQ', 'policy', 'overview', 'handbook'))}"
    ),
    "wiki_space": lambda r: r.choice(("ENG", "OPS", "HR", "SALES", "PRODUCT", "SEC")),
    "project_name": lambda r: r.choice(
        (
            "Apollo",
            "Website redesign",
            "Mobile app v2",
            "Data platform",
            "Q3 launch",
            "Billing revamp",
            "Helios",
        )
    ),
    "task_title": lambda r: (
        f"{r.choice(('Draft', 'Review', 'Update', 'Prepare', 'Finalize', 'Test'))} {r.choice(WORDS)} "
        f"{r.choice(('plan', 'doc', 'slides', 'checklist', 'report', 'spec'))}"
    ),
    "sprint": lambda r: f"Sprint {r.randrange(10, 60)}",
    "priority": lambda r: r.choice(("low", "medium", "high", "urgent")),
    "complaint": lambda r: r.choice(
        (
            "My order arrived damaged and the box was open.",
            "I was charged twice for my subscription this month.",
            "I can't log in to my account since the last update.",
            "The app crashes every time I upload a photo.",
            "I'd like a refund for my last order, it never arrived.",
            "The invoice shows the wrong company address.",
        )
    ),
    "support_reply": lambda r: r.choice(
        (
            "Thanks for reaching out - we've issued a replacement and it ships tomorrow.",
            "Sorry about the double charge; the duplicate has been refunded.",
            "Could you try resetting your password from the login page and let us know?",
            "We've passed this to our engineers and will update you within 24 hours.",
        )
    ),
    # media, news, language, social, analytics, education
    "song": lambda r: r.choice(
        (
            "Glass Harbor",
            "Paper Lanterns",
            "Northern Lights",
            "Slow River",
            "Neon Rain",
            "Summer Static",
            "Tidal",
        )
    ),
    "artist": lambda r: r.choice(
        (
            "The Velvet Foxes",
            "Luna Park",
            "Kai Morrow",
            "Nova Trio",
            "Echo Valley",
            "Mira Sol",
            "Static Bloom",
        )
    ),
    "playlist": lambda r: r.choice(
        ("Focus Flow", "Morning Run", "Chill Evenings", "Road Trip", "Deep Work", "Party Mix")
    ),
    "track_seconds": lambda r: r.randrange(140, 330),
    "feed_url": lambda r: (
        f"https://{r.choice(('news', 'blog', 'updates', 'press'))}.{r.choice(DOMAINS)}/rss.xml"
    ),
    "headline": lambda r: (
        f"{r.choice(COMPANIES)} "
        f"{r.choice(('announces', 'reports', 'launches', 'delays', 'wins'))} "
        f"{r.choice(('new product line', 'record quarter', 'partnership', 'expansion into ' + r.choice(CITIES), 'major contract'))}"
    ),
    "news_source": lambda r: r.choice(
        ("Daily Ledger", "Tech Wire", "Metro Herald", "Market Pulse", "Global Dispatch")
    ),
    "phrase": lambda r: r.choice(
        (
            "Where is the train station?",
            "Thank you for your help yesterday.",
            "The meeting has been moved to Monday morning.",
            "Please find the invoice attached.",
            "Could you send me the report by Friday?",
            "Our office will be closed on the public holiday.",
        )
    ),
    "language_code": lambda r: r.choice(("en", "es", "fr", "de", "ja", "pt", "it", "ko", "nl", "sv")),
    "post_text": lambda r: r.choice(
        (
            "Excited to share our new release today - thanks to everyone who tested the beta!",
            "We're hiring backend engineers in three cities. DMs open.",
            "Our office will be closed Friday for the team offsite.",
            "New blog post: what we learned migrating our database without downtime.",
            "Thank you for 10k followers!",
        )
    ),
    "hashtag": lambda r: (
        "#" + r.choice(("launch", "devlife", "opensource", "hiring", "productupdate", "remotework"))
    ),
    "metric": lambda r: r.choice(
        (
            "page_views",
            "active_users",
            "signups",
            "conversion_rate",
            "bounce_rate",
            "revenue",
            "session_duration",
        )
    ),
    "date_range": lambda r: r.choice(
        ("last 7 days", "last 30 days", "this month", "last quarter", "yesterday")
    ),
    "dashboard": lambda r: r.choice(
        ("Growth overview", "Marketing funnel", "Product usage", "Revenue weekly", "Support KPIs")
    ),
    "metric_value": lambda r: round(r.uniform(10, 50000), 1),
    "frequency": lambda r: r.choice(("daily", "weekly", "monthly")),
    "course_code": lambda r: (
        f"{r.choice(('CS', 'MATH', 'BIO', 'HIST', 'ECON', 'PHYS'))}{r.randrange(100, 499)}"
    ),
    "course_name": lambda r: r.choice(
        (
            "Intro to Programming",
            "Linear Algebra",
            "Cell Biology",
            "Modern History",
            "Microeconomics",
            "Mechanics",
        )
    ),
    "assignment_title": lambda r: r.choice(
        (
            "Problem set 3",
            "Lab report 2",
            "Midterm essay",
            "Final project proposal",
            "Reading response 5",
            "Quiz 4",
        )
    ),
    "letter_grade": lambda r: r.choice(("A", "A-", "B+", "B", "B-", "C+")),
    "score": lambda r: r.randrange(55, 101),
    "air_quality_index": lambda r: r.randrange(8, 180),
    "wind_kph": lambda r: round(r.uniform(0, 60), 1),
    "precip_chance": lambda r: r.randrange(0, 101, 5),
    "weather_alert": lambda r: r.choice(
        (
            "Wind advisory",
            "Flood watch",
            "Heat advisory",
            "Winter storm warning",
            "Air quality alert",
            "Frost advisory",
        )
    ),
    "css_selector": lambda r: r.choice(
        ("h1", "article p", ".price", "#main", "table.results td", "a.download")
    ),
    "http_status": lambda r: r.choice((200, 200, 200, 301, 404)),
    "vault_item": lambda r: r.choice(
        (
            "GitHub",
            "AWS console",
            "Office wifi",
            "Bank portal",
            "Company VPN",
            "Payroll system",
            "Staging database",
        )
    ),
    "secret_path": lambda r: (
        f"{r.choice(('prod', 'staging', 'dev'))}/{r.choice(SERVICES)}/"
        f"{r.choice(('db-password', 'api-key', 'stripe-key', 'jwt-secret', 'smtp-password'))}"
    ),
    "password": lambda r: "".join(
        r.choice(string.ascii_letters + string.digits + "!#$%&*+-=?@^_") for _ in range(18)
    ),
    "emoji": lambda r: r.choice(("thumbsup", "eyes", "white_check_mark", "tada", "rocket", "heart")),
    "sql_condition": lambda r: r.choice(
        (
            "created_at < '2023-01-01'",
            "status = 'cancelled'",
            "archived = true",
            "last_login < '2022-06-30'",
            "deleted_at IS NOT NULL",
        )
    ),
    "foreign_phrase": lambda r: r.choice(
        (
            "¿Dónde está la estación de tren?",
            "Merci pour votre aide hier.",
            "Die Besprechung wurde auf Montag verschoben.",
            "Segue em anexo a fatura.",
            "金曜日までにレポートを送っていただけますか？",
            "La riunione è stata spostata a lunedì mattina.",
            "Ons kantoor is gesloten op de feestdag.",
        )
    ),
    "charge_id": lambda r: "ch_" + "".join(r.choice(string.ascii_letters + string.digits) for _ in range(14)),
    "payout_id": lambda r: "po_" + "".join(r.choice(string.ascii_letters + string.digits) for _ in range(14)),
    "spreadsheet_id": lambda r: "".join(
        r.choice(string.ascii_letters + string.digits + "_-") for _ in range(24)
    ),
    "cell_range": lambda r: r.choice(
        ("Sheet1!A1:D20", "Budget!B2:B14", "Q3!A1:F50", "Leads!A2:E100", "Summary!C3", "Expenses!A:D")
    ),
    "spreadsheet_title": lambda r: (
        f"{r.choice(('Q1', 'Q2', 'Q3', 'Q4', '2026', 'Team', 'Project'))} "
        f"{r.choice(('budget', 'headcount plan', 'sales pipeline', 'expenses', 'roadmap', 'inventory'))}"
    ),
    "systemd_service": lambda r: r.choice(
        ("nginx", "postgresql", "redis-server", "docker", "cron", "sshd", "gunicorn")
    ),
    "log_file": lambda r: r.choice(
        ("/var/log/syslog", "/var/log/nginx/error.log", "/var/log/auth.log", "/var/log/app/app.log")
    ),
    "arrival_airport": lambda r: r.choice(
        ("CDG", "FRA", "AMS", "JFK", "SFO", "NRT", "SIN", "CPH", "ARN", "BCN", "FCO", "MUC", "YVR", "MEX")
    ),
    "album": lambda r: r.choice(
        (
            "Harbor Lights",
            "Second Summer",
            "Low Tide",
            "Paper Moons",
            "Night Shift",
            "Open Windows",
            "Blue Hours",
        )
    ),
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
