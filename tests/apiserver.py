"""A Kubernetes API server emulated over HTTPS on 127.0.0.1, enough for the real kubectl.

No kube-apiserver can be installed on these machines (../shared/notes/test-setup.md), and the
one emulator on PyPI (kmock 0.8) needs ten gaps closed through its internals before kubectl
accepts it. What kubectl needs from a server is small, so this is written against the API
conventions directly (standard library plus trustme for a throw-away CA):
- discovery (/version, /api, /apis, /api/v1, /apis/GROUP/VERSION) for core and, when
  `flux=True`, the Flux groups; lists with apiVersion and kind; NotFound and Status bodies
  worded as the real server words them;
- bearer-token authentication (401), forbidden resources (403), a delay (for timeouts);
- create with `dryRun=All`, validated with the real Flux CRDs (tests/crds.py), storing nothing;
- a log of every request (method, path), so tests can prove fluxgen only ever reads.
"""

import base64
import json
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import crds
import trustme

FLUX = {  # group -> (version, {plural: kind})
    "source.toolkit.fluxcd.io": ("v1", {"helmrepositories": "HelmRepository", "ocirepositories": "OCIRepository",
                                        "gitrepositories": "GitRepository"}),
    "helm.toolkit.fluxcd.io": ("v2", {"helmreleases": "HelmRelease"}),
    "kustomize.toolkit.fluxcd.io": ("v1", {"kustomizations": "Kustomization"}),
}
CORE = {"namespaces": ("Namespace", False), "configmaps": ("ConfigMap", True), "secrets": ("Secret", True)}
TOKEN = "emulated-token"


class Emulator:
    """Start with `with Emulator() as server:`; `server.kubeconfig(path)` writes a kubeconfig."""

    def __init__(self, flux: bool = True):
        self.flux = flux
        self.objects: dict[tuple, dict] = {}  # (plural, namespace, name) -> object
        self.forbidden: set[str] = set()  # plurals nobody may list
        self.delay = 0.0
        self.garbage = False  # answer lists with something that is not JSON
        self.requests: list[tuple[str, str]] = []
        self._ca = trustme.CA()

    # ---- life cycle -----------------------------------------------------------------------------
    def __enter__(self) -> "Emulator":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert("127.0.0.1").configure_cert(context)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def kubeconfig(self, path: Path, token: str = TOKEN, server: str | None = None) -> Path:
        """A kubeconfig with the contexts `emulated` (this server, the right token), `wrong-token`
        and `unreachable` (a port nothing listens on)."""
        ca = base64.b64encode(self._ca.cert_pem.bytes()).decode()
        clusters = {"emulated": server or self.url, "unreachable": "https://127.0.0.1:1"}
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "emulated",
            "clusters": [{"name": n, "cluster": {"server": u, "certificate-authority-data": ca}}
                         for n, u in clusters.items()],
            "users": [{"name": "tester", "user": {"token": token}}, {"name": "stranger", "user": {"token": "nope"}}],
            "contexts": [{"name": "emulated", "context": {"cluster": "emulated", "user": "tester"}},
                         {"name": "wrong-token", "context": {"cluster": "emulated", "user": "stranger"}},
                         {"name": "unreachable", "context": {"cluster": "unreachable", "user": "tester"}}],
        }
        path.write_text(json.dumps(config))
        return path

    def add(self, obj: dict) -> None:
        """Put an object in the cluster (as if someone had applied it)."""
        plural = _plural(obj["kind"])
        meta = obj["metadata"]
        self.objects[(plural, meta.get("namespace", ""), meta["name"])] = _stamped(obj)

    def writes(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path in self.requests if method != "GET"]


def _plural(kind: str) -> str:
    for _, (_, kinds) in FLUX.items():
        for plural, flux_kind in kinds.items():
            if flux_kind == kind:
                return plural
    return next(plural for plural, (core_kind, _) in CORE.items() if core_kind == kind)


def _stamped(obj: dict) -> dict:
    """What the API server adds to every stored object."""
    obj = json.loads(json.dumps(obj))
    obj["metadata"].update(uid=str(uuid.uuid4()), resourceVersion="1", generation=1,
                           creationTimestamp="2026-01-01T00:00:00Z")
    return obj


def _status(code: int, reason: str, message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


def _handler(emulator: Emulator):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def do_GET(self):
            self._serve("GET")

        def do_POST(self):
            self._serve("POST")

        def do_PUT(self):
            self._serve("PUT")

        def do_PATCH(self):
            self._serve("PATCH")

        def do_DELETE(self):
            self._serve("DELETE")

        def _serve(self, method: str):
            url = urlsplit(self.path)
            emulator.requests.append((method, url.path))
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._send(401, _status(401, "Unauthorized", "Unauthorized"))
            code, answer = _route(emulator, method, url.path.rstrip("/") or "/", parse_qs(url.query), body)
            if isinstance(answer, bytes):
                return self._send(code, answer, "text/plain")
            self._send(code, answer)

        def _send(self, code: int, answer, content_type: str = "application/json"):
            data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _groups(emulator: Emulator) -> dict:
    return FLUX if emulator.flux else {}


def _route(emulator: Emulator, method: str, path: str, query: dict, body: bytes):
    parts = path.strip("/").split("/")
    if path == "/version":
        return 200, {"major": "1", "minor": "32", "gitVersion": "v1.32.3", "platform": "linux/amd64"}
    if path == "/openapi/v3":  # kubectl reads it to learn that the server validates fields itself
        versions = {"api/v1": ("", "v1", {p: k for p, (k, _) in CORE.items()})} | {
            f"apis/{g}/{v}": (g, v, kinds) for g, (v, kinds) in _groups(emulator).items()}
        return 200, {"paths": {key: {"serverRelativeURL": f"/openapi/v3/{key}"} for key in versions}}
    if parts[0] == "openapi" and len(parts) > 2:
        return 200, _openapi(emulator, "/".join(parts[2:]))
    if path == "/api":
        return 200, {"kind": "APIVersions", "versions": ["v1"],
                     "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}
    if path == "/apis":
        return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
             "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v}} for g, (v, _) in _groups(emulator).items()]}
    if path == "/api/v1":
        return 200, _resource_list("v1", {p: k for p, (k, _) in CORE.items()},
                                   {p for p, (_, namespaced) in CORE.items() if namespaced})
    if parts[0] == "apis" and len(parts) == 3:
        group, version = parts[1], parts[2]
        if group not in _groups(emulator) or _groups(emulator)[group][0] != version:
            return 404, _status(404, "NotFound", "the server could not find the requested resource")
        kinds = _groups(emulator)[group][1]
        return 200, _resource_list(f"{group}/{version}", kinds, set(kinds))
    if parts[0] == "apis" and len(parts) >= 4 and parts[1] in _groups(emulator):
        return _resources(emulator, method, parts, query, body)
    if parts[:2] == ["api", "v1"] and len(parts) >= 3:  # core objects: none exist; a dry-run create is checked
        rest = parts[2:]
        rest = rest[2:] if rest[0] == "namespaces" and len(rest) >= 3 else rest
        if method == "POST" and query.get("dryRun") == ["All"]:
            obj = json.loads(body)
            problems = crds.problems(obj)
            if problems:
                return 422, _status(422, "Invalid", "; ".join(problems))
            return 201, _stamped(obj)
        if method == "GET" and len(rest) > 1:
            return 404, _status(404, "NotFound", f'{rest[0]} "{rest[1]}" not found')
        return 200, {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": []}
    return 404, _status(404, "NotFound", "the server could not find the requested resource")


def _openapi(emulator: Emulator, group_version: str) -> dict:
    """A group version's OpenAPI v3 document, as far as kubectl looks: each kind's PATCH takes
    `fieldValidation`, so kubectl sends fieldValidation=Strict and the server validates."""
    if group_version == "api/v1":
        group, version, kinds = "", "v1", {p: k for p, (k, _) in CORE.items()}
    else:
        group, version = group_version.split("/")[1:]
        kinds = _groups(emulator)[group][1]
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.3"}, "paths": {
        f"/{group_version}/namespaces/{{namespace}}/{plural}/{{name}}": {"patch": {
            "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": kind},
            "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
            "responses": {}}} for plural, kind in kinds.items()}}


def _resource_list(group_version: str, kinds: dict, namespaced: set) -> dict:
    verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": [
        {"name": plural, "singularName": kind.lower(), "namespaced": plural in namespaced, "kind": kind,
         "verbs": verbs} for plural, kind in kinds.items()]}


def _resources(emulator: Emulator, method: str, parts: list, query: dict, body: bytes):
    group, version = parts[1], parts[2]
    rest = parts[3:]
    namespace = rest[1] if rest[0] == "namespaces" and len(rest) >= 3 else None
    rest = rest[2:] if namespace else rest
    plural, name = rest[0], (rest[1] if len(rest) > 1 else None)
    kinds = FLUX[group][1]
    if plural not in kinds:
        return 404, _status(404, "NotFound", "the server could not find the requested resource")
    resource = f"{plural}.{group}"
    if method == "GET" and name is None:
        if plural in emulator.forbidden:
            scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
            return 403, _status(403, "Forbidden", f'{resource} is forbidden: User "tester" cannot list resource '
                                                  f'"{plural}" in API group "{group}" {scope}')
        time.sleep(emulator.delay)
        if emulator.garbage:
            return 200, b"<html>this is not the API server you are looking for</html>"
        items = [obj for (p, ns, _), obj in sorted(emulator.objects.items())
                 if p == plural and (namespace is None or ns == namespace)]
        return 200, {"apiVersion": f"{group}/{version}", "kind": f"{kinds[plural]}List",
                     "metadata": {"resourceVersion": "1"}, "items": items}
    if method == "GET":
        found = emulator.objects.get((plural, namespace or "", name))
        if found is None:
            return 404, _status(404, "NotFound", f'{resource} "{name}" not found')
        return 200, found
    if method == "POST" and query.get("dryRun") == ["All"]:
        obj = json.loads(body)
        problems = crds.problems(obj)
        if problems:
            return 422, _status(422, "Invalid", f'{kinds[plural]}.{group} "{obj["metadata"].get("name")}" is '
                                                f'invalid: {"; ".join(problems)}')
        return 201, _stamped(obj)
    return 405, _status(405, "MethodNotAllowed", "this emulator only reads, and creates with dryRun=All")


def main() -> None:
    """`python tests/apiserver.py --sources N --kubeconfig FILE`: serve a cluster holding N Flux
    sources (a mix of kinds, over 50 namespaces) until standard input closes. For benchmarks/,
    which must not hold the emulator in its own (measured-from) process."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=0)
    parser.add_argument("--kubeconfig", type=Path, required=True)
    args = parser.parse_args()
    kinds = [("HelmRepository", "https://charts{}.example.com", {}),
             ("OCIRepository", "oci://ghcr.io/org{}/charts/app", {"ref": {"tag": "1.0.0"}}),
             ("GitRepository", "https://github.com/org/repo{}", {"ref": {"branch": "main"}})]
    with Emulator() as server:
        for i in range(args.sources):
            kind, url, extra = kinds[i % 3]
            server.add({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": kind,
                        "metadata": {"name": f"source-{i}", "namespace": f"team-{i % 50}"},
                        "spec": {"interval": "1h", "url": url.format(i), **extra}})
        server.kubeconfig(args.kubeconfig)
        print("ready", flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
