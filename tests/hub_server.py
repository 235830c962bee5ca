"""A fake Hugging Face Hub on 127.0.0.1 for tests: enough of the Hub's HTTP API for huggingface_hub 2.4's own
client (and datasets / transformers on top of it) to create repos, upload, list and download, in model and
dataset repos, with no network.

Routes (``{t}`` is ``models`` or ``datasets``; ``{prefix}`` is empty for models, ``datasets/`` for datasets):

    POST /api/repos/create                           create_repo (409 when it exists)
    POST /api/validate-yaml                          README.md front matter check before a commit
    GET  /api/{t}/{id}[/revision/{rev}]              repo_info / model_info / dataset_info
    POST /api/{t}/{id}/preupload/{rev}               upload mode per file: "lfs" for weights, parquet and
                                                     files >= 10 MB, "regular" (inline in the commit) otherwise
    POST /{prefix}{id}.git/info/lfs/objects/batch    LFS batch API, basic transfer
    PUT  /lfs/{oid}, POST /lfs/{oid}/verify          LFS object upload (sha256-checked) and verify
    POST /api/{t}/{id}/commit/{rev}                  NDJSON commit: file, lfsFile, deletedFile, deletedFolder
    GET  /api/{t}/{id}/tree/{rev}[/{path}]           list_repo_tree (recursive or not)
    POST /api/{t}/{id}/paths-info/{rev}              get_paths_info
    HEAD|GET /{prefix}{id}/resolve/{rev}/{path}      download, with ETag, X-Repo-Commit, Content-Length, Range
    GET  /api/agent-harnesses                        the client's agent registry for its user agent (empty)

Clients read HF_ENDPOINT and HF_HUB_OFFLINE at import, so point one at the server from a subprocess
(HF_ENDPOINT=hub.url, HF_HUB_OFFLINE=0, HF_HUB_DISABLE_XET=1: the xet transfer path needs the real Hub's CAS).
Every request's method, path and headers are kept in ``hub.requests``; anything unrouted in ``hub.unhandled``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".parquet", ".arrow", ".gguf")
LFS_MIN_SIZE = 10 * 1000 * 1000
REPO = r"(?P<repo>[^/]+/[^/]+)"


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Blob:
    data: bytes
    lfs: bool

    @property
    def oid(self) -> str:
        return hashlib.sha256(self.data).hexdigest() if self.lfs else git_sha1(self.data)


@dataclass
class Repo:
    private: bool
    commits: list[tuple[str, dict[str, Blob]]] = field(default_factory=list)  # (sha, snapshot), oldest first

    def snapshot(self, rev: str) -> tuple[str, dict[str, Blob]] | None:
        if rev == "main":
            return self.commits[-1]
        return next((c for c in self.commits if c[0] == rev), None)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names


@dataclass
class Call:
    """One routed request: the URL's named groups, the headers and the body."""

    headers: dict[str, str]
    body: bytes
    query: dict[str, list[str]]
    kind: str = "models"  # models | datasets
    repo: str = ""
    rev: str = "main"
    path: str = ""
    oid: str = ""

    def json(self):
        return json.loads(self.body)


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.headers = status, code, headers or {}


class FakeHub:
    def __init__(self, token: str | None = None):
        """``token``: when set, write routes (and reads of private repos) require ``Bearer <token>``."""
        self.token = token
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lfs: dict[str, bytes] = {}
        self.requests: list[Request] = []
        self.unhandled: list[str] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- helpers ---------------------------------------------------------------------------------------------

    def files(self, repo_type: str, repo_id: str, rev: str = "main") -> dict[str, bytes]:
        """The repo's files at ``rev`` (for assertions)."""
        return {p: b.data for p, b in self.repos[(repo_type, repo_id)].snapshot(rev)[1].items()}

    def _auth(self, headers: dict[str, str], required: bool) -> None:
        sent = headers.get("authorization")
        if sent is None:
            if required:
                raise HubError(401, "Unauthorized: this route needs a token")
        elif self.token is not None and sent != f"Bearer {self.token}":
            raise HubError(401, "Invalid credentials in Authorization header")

    def _repo(self, kind: str, repo_id: str, headers: dict[str, str]) -> Repo:
        repo = self.repos.get((kind.rstrip("s"), repo_id))
        if repo is None:
            raise HubError(404, f"Repository {repo_id} not found", "RepoNotFound")
        self._auth(headers, required=repo.private)
        return repo

    def _snapshot(self, repo: Repo, rev: str) -> tuple[str, dict[str, Blob]]:
        found = repo.snapshot(rev)
        if found is None:
            raise HubError(404, f"Revision {rev} not found", "RevisionNotFound")
        return found

    def _url(self, kind: str, repo_id: str) -> str:
        return f"{self.url}/{'' if kind.startswith('model') else 'datasets/'}{repo_id}"

    @staticmethod
    def _entry(path: str, blob: Blob | None) -> dict:
        if blob is None:
            return {
                "type": "directory",
                "oid": hashlib.sha1(path.encode()).hexdigest(),
                "size": 0,
                "path": path,
            }
        entry = {"type": "file", "oid": git_sha1(blob.data), "size": len(blob.data), "path": path}
        if blob.lfs:
            entry["lfs"] = {"oid": blob.oid, "size": len(blob.data), "pointerSize": 134}
        return entry

    @staticmethod
    def _dirs(files: dict[str, Blob]) -> set[str]:
        return {"/".join(p.split("/")[:i]) for p in files for i in range(1, p.count("/") + 1)}

    # -- routes: each returns (status, json body or bytes, extra headers) --------------------------------------

    def create_repo(self, c: Call):
        self._auth(c.headers, required=True)
        body = c.json()
        kind = body.get("type") or "model"
        repo_id = f"{body['organization']}/{body['name']}" if body.get("organization") else body["name"]
        if "/" not in repo_id:
            repo_id = f"tester/{repo_id}"  # the namespace of the token's user
        url = self._url(kind, repo_id)
        if (kind, repo_id) in self.repos:
            raise HubError(409, f"You already created this {kind} repo: {url}")
        private = body.get("visibility") == "private" or bool(body.get("private"))
        self.repos[(kind, repo_id)] = Repo(private, [(hashlib.sha1(repo_id.encode()).hexdigest(), {})])
        return 200, {"url": url, "name": repo_id, "id": repo_id}, {}

    def agent_harnesses(self, c: Call):
        return 200, {"standardEnvVars": [], "harnesses": {}}, {}

    def validate_yaml(self, c: Call):
        self._auth(c.headers, required=True)
        match = re.match(r"^---\n(.*?)\n---", c.json().get("content", ""), re.DOTALL)
        try:
            meta = yaml.safe_load(match.group(1)) if match else {}
        except yaml.YAMLError as err:
            return 400, {"errors": [{"message": f"invalid YAML: {err}"}]}, {}
        if not isinstance(meta, (dict, type(None))):
            return 400, {"errors": [{"message": "metadata must be a mapping"}]}, {}
        return 200, {"errors": [], "warnings": []}, {}

    def repo_info(self, c: Call):
        repo = self._repo(c.kind, c.repo, c.headers)
        sha, files = self._snapshot(repo, c.rev)
        siblings = [{"rfilename": p, "size": len(b.data)} for p, b in sorted(files.items())]
        info = {"id": c.repo, "sha": sha, "private": repo.private, "siblings": siblings, "tags": []}
        return 200, info, {}

    def preupload(self, c: Call):
        self._auth(c.headers, required=True)
        repo = self._repo(c.kind, c.repo, c.headers)
        _, files = self._snapshot(repo, c.rev)
        out = []
        for f in c.json()["files"]:
            lfs = f["path"].endswith(LFS_SUFFIXES) or f["size"] >= LFS_MIN_SIZE
            old = files.get(f["path"])
            oid = old.oid if old is not None and old.lfs == lfs else None
            out.append(
                {
                    "path": f["path"],
                    "uploadMode": "lfs" if lfs else "regular",
                    "shouldIgnore": False,
                    "oid": oid,
                }
            )
        return 200, {"files": out, "commitOid": repo.commits[-1][0]}, {}

    def lfs_batch(self, c: Call):
        self._auth(c.headers, required=True)
        self._repo(c.kind, c.repo, c.headers)
        objects = []
        for obj in c.json()["objects"]:
            entry = {"oid": obj["oid"], "size": obj["size"], "authenticated": True}
            if obj["oid"] not in self.lfs:
                entry["actions"] = {
                    "upload": {"href": f"{self.url}/lfs/{obj['oid']}"},
                    "verify": {"href": f"{self.url}/lfs/{obj['oid']}/verify"},
                }
            objects.append(entry)
        return 200, {"transfer": "basic", "objects": objects}, {}

    def lfs_upload(self, c: Call):
        if hashlib.sha256(c.body).hexdigest() != c.oid:
            raise HubError(400, f"LFS object does not match its oid {c.oid}")
        self.lfs[c.oid] = c.body
        return 200, {}, {}

    def lfs_verify(self, c: Call):
        self._auth(c.headers, required=True)
        if c.oid not in self.lfs or len(self.lfs[c.oid]) != c.json().get("size"):
            raise HubError(404, f"LFS object {c.oid} was not uploaded")
        return 200, {}, {}

    def commit(self, c: Call):
        self._auth(c.headers, required=True)
        repo = self._repo(c.kind, c.repo, c.headers)
        parent, files = self._snapshot(repo, c.rev)
        if c.rev != "main":
            raise HubError(400, "commits go to main only in the fake hub")
        files = dict(files)
        lines = [json.loads(line) for line in c.body.decode().splitlines() if line.strip()]
        header = next(x["value"] for x in lines if x["key"] == "header")
        if header.get("parentCommit") not in (None, parent):
            raise HubError(412, "A commit has happened since. Please refresh and try again.")
        for op in (x for x in lines if x["key"] != "header"):
            v = op["value"]
            if op["key"] == "file":
                files[v["path"]] = Blob(base64.b64decode(v["content"]), lfs=False)
            elif op["key"] == "lfsFile":
                if v["oid"] not in self.lfs:
                    raise HubError(400, f"LFS object {v['oid']} for {v['path']} was never uploaded")
                files[v["path"]] = Blob(self.lfs[v["oid"]], lfs=True)
            elif op["key"] == "deletedFile":
                if files.pop(v["path"], None) is None:
                    raise HubError(404, f"A file with this name doesn't exist: {v['path']}", "EntryNotFound")
            elif op["key"] == "deletedFolder":
                files = {p: b for p, b in files.items() if not p.startswith(v["path"].rstrip("/") + "/")}
            else:
                raise HubError(400, f"unsupported commit operation {op['key']}")
        sha = hashlib.sha1(parent.encode() + c.body).hexdigest()
        repo.commits.append((sha, files))
        url = self._url(c.kind, c.repo)
        return 200, {"commitUrl": f"{url}/commit/{sha}", "commitOid": sha, "success": True}, {}

    def tree(self, c: Call):
        _, files = self._snapshot(self._repo(c.kind, c.repo, c.headers), c.rev)
        path = c.path.strip("/")
        dirs = self._dirs(files)
        if path and path not in dirs:
            raise HubError(404, f"{path} does not exist on main", "EntryNotFound")
        prefix = f"{path}/" if path else ""
        recursive = c.query.get("recursive", ["False"])[0].lower() == "true"
        under = [p for p in sorted(set(files) | dirs) if p.startswith(prefix)]
        if not recursive:
            under = [p for p in under if "/" not in p[len(prefix) :]]
        return 200, [self._entry(p, files.get(p)) for p in under], {}

    def paths_info(self, c: Call):
        _, files = self._snapshot(self._repo(c.kind, c.repo, c.headers), c.rev)
        dirs = self._dirs(files)
        paths = [p.strip("/") for p in parse_qs(c.body.decode()).get("paths", [])]
        return 200, [self._entry(p, files.get(p)) for p in paths if p in files or p in dirs], {}

    def resolve(self, c: Call):
        sha, files = self._snapshot(self._repo(c.kind, c.repo, c.headers), c.rev)
        blob = files.get(c.path)
        if blob is None:
            raise HubError(404, f"{c.path} not found", "EntryNotFound", {"X-Repo-Commit": sha})
        data, status, extra = blob.data, 200, {}
        if m := re.match(r"bytes=(\d*)-(\d*)$", c.headers.get("range", "")):
            start = int(m.group(1) or 0)
            end = min(int(m.group(2)) if m.group(2) else len(data) - 1, len(data) - 1)
            data, status = data[start : end + 1], 206
            extra["Content-Range"] = f"bytes {start}-{end}/{len(blob.data)}"
        extra.update({"ETag": f'"{blob.oid}"', "X-Repo-Commit": sha, "Accept-Ranges": "bytes"})
        return status, data, extra


ROUTES = [
    ("POST", r"^/api/repos/create$", "create_repo"),
    ("POST", r"^/api/validate-yaml$", "validate_yaml"),
    ("GET", r"^/api/agent-harnesses$", "agent_harnesses"),
    ("POST", rf"^/api/(?P<kind>models|datasets)/{REPO}/preupload/(?P<rev>[^/]+)$", "preupload"),
    ("POST", rf"^/api/(?P<kind>models|datasets)/{REPO}/commit/(?P<rev>[^/]+)$", "commit"),
    ("POST", rf"^/api/(?P<kind>models|datasets)/{REPO}/paths-info/(?P<rev>[^/]+)$", "paths_info"),
    ("GET", rf"^/api/(?P<kind>models|datasets)/{REPO}/tree/(?P<rev>[^/]+)(?P<path>/.*)?$", "tree"),
    ("GET", rf"^/api/(?P<kind>models|datasets)/{REPO}(?:/revision/(?P<rev>[^/]+))?$", "repo_info"),
    ("POST", rf"^/(?P<kind>datasets/)?{REPO}\.git/info/lfs/objects/batch$", "lfs_batch"),
    ("PUT", r"^/lfs/(?P<oid>[0-9a-f]{64})$", "lfs_upload"),
    ("POST", r"^/lfs/(?P<oid>[0-9a-f]{64})/verify$", "lfs_verify"),
    ("GET", rf"^/(?P<kind>datasets/)?{REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)$", "resolve"),
]


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0].strip(), 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                self.rfile.readline()
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _send(self, status: int, body, headers: dict, head: bool = False) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header(
                "Content-Type", "application/octet-stream" if isinstance(body, bytes) else "application/json"
            )
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            if not head:
                self.wfile.write(data)

        def _dispatch(self, method: str) -> None:
            url = urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            body = self._body() if method in ("POST", "PUT") else b""
            with hub.lock:
                hub.requests.append(Request(method, self.path, headers))
            route_method = "GET" if method == "HEAD" else method
            for m, pattern, name in ROUTES:
                match = re.match(pattern, url.path)
                if m != route_method or not match:
                    continue
                groups = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                groups["kind"] = "datasets" if groups.get("kind", "").startswith("dataset") else "models"
                call = Call(headers, body, parse_qs(url.query), **groups)
                try:
                    with hub.lock:
                        result = getattr(hub, name)(call)
                except HubError as err:
                    extra = {"X-Error-Message": str(err), **err.headers}
                    if err.code:
                        extra["X-Error-Code"] = err.code
                    result = (err.status, {"error": str(err)}, extra)
                self._send(*result, head=method == "HEAD")
                return
            with hub.lock:
                hub.unhandled.append(f"{method} {self.path}")
            self._send(404, {"error": f"fake hub: no route for {method} {url.path}"}, {})

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_HEAD(self) -> None:
            self._dispatch("HEAD")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_PUT(self) -> None:
            self._dispatch("PUT")

    return Handler
