"""The questions of `init`, their checks, and the text they add to a spec.

Pure: cli.py asks the questions (or takes flags) and writes the file. Every answer is checked
with the very rules fluxgen.yaml is validated with (schema.py), so `init` never writes a spec
that `render` would refuse. New apps are added to the text of an existing spec, so everything
in it, comments included, stays as it was.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fluxgen import document
from fluxgen.errors import FluxgenError
from fluxgen.output import dump
from fluxgen.problems import messages
from fluxgen.schema import API_VERSION, APP, CHART, GIT, KUSTOMIZE
from fluxgen.validator import Validator

SCENARIOS = {
    "chart": "a chart from a Helm or OCI repository",
    "git-chart": "a Helm chart kept in Git",
    "kustomize": "a Kustomize overlay kept in Git",
}
IN_GIT = ("git-chart", "kustomize")


@dataclass(frozen=True)
class Question:
    """One question: the answer's key, its flag, the prompt, the schema rules the answer must
    pass, its default (computed from the answers so far), and for which scenarios it is asked."""

    key: str
    flag: str
    prompt: str
    rules: dict
    default: Callable[[dict], str] | None = None
    when: tuple = tuple(SCENARIOS)
    optional: bool = False


@dataclass(frozen=True)
class Layout:
    """How a spec file starts on disk: with a byte order mark or not. init keeps it (and each
    line keeps its own line end, see add_app)."""

    bom: bool = False

    @classmethod
    def of(cls, text: str, bom: bool) -> tuple[str, "Layout"]:
        return text, cls(bom)

    def apply(self, text: str) -> str:
        return "\ufeff" + text if self.bom else text


def questions(known: dict) -> list[Question]:
    """What init asks; `known` holds what the existing spec already says (its defaults). A spec
    whose defaults name the source of kustomize apps (sourceRef) is not asked for a Git URL."""
    reads_git = IN_GIT if "sourceRef" not in known else ("git-chart",)
    git = known.get("git", {})
    return [
        Question("name", "--name", "App name (the HelmRelease or Kustomization)", APP["name"]),
        Question("namespace", "--namespace", "Flux namespace", APP["namespace"],
                 lambda a: known.get("namespace", "flux-system")),
        Question("interval", "--interval", "Reconcile interval", APP["interval"],
                 lambda a: known.get("interval", "5m")),
        Question("targetNamespace", "--target-namespace", "Target namespace (where the app runs)",
                 APP["targetNamespace"], lambda a: a["name"]),
        Question("repository", "--repository", "Chart repository URL (https:// or oci://)", CHART["repository"],
                 when=("chart",)),
        Question("chart", "--chart", "Chart name", CHART["name"], when=("chart",)),
        Question("version", "--chart-version", "Chart version or range (Enter: the newest)", CHART["version"],
                 lambda a: "", when=("chart",), optional=True),
        Question("gitUrl", "--git-url", "Git repository URL (https:// or ssh://)", GIT["url"],
                 (lambda a: git["url"]) if git.get("url") else None, when=reads_git),
        Question("branch", "--branch", "Git branch", GIT["branch"], lambda a: git.get("branch", "main"),
                 when=reads_git),
        Question("path", "--path", "Path in the Git repository", KUSTOMIZE["path"],
                 lambda a: f"./apps/{a['name']}", when=IN_GIT),
    ]


def check(question: Question, answer: str, taken: set) -> str | None:
    """Why `answer` will not do, or None; the same rules `render` applies."""
    if question.optional and answer == "":
        return None
    if question.key == "name" and answer in taken:
        return f"{answer!r} is already an app in this spec; choose another name"
    rules = {key: value for key, value in question.rules.items()
             if key not in ("required", "excludes", "dependencies", "nullable")}
    validator = Validator({"answer": rules})
    if validator.validate({"answer": answer}):
        return None
    return "; ".join(message for _, message in messages(validator._errors, {"answer": rules}))


def scenario_of(answer: str) -> str | None:
    """`1`, `2`, `3` or a scenario's key -> the key; None for anything else."""
    keys = list(SCENARIOS)
    if answer.isdigit() and 1 <= int(answer) <= len(keys):
        return keys[int(answer) - 1]
    return answer if answer in SCENARIOS else None


def app_objects(spec, name: str) -> list[dict]:
    """What the app `name` renders to: its Namespace and the source generated for it, if any, then
    its HelmRelease or Kustomization (the last app of that name: the one init just added)."""
    from fluxgen.resources import build

    docs = [placed.obj for placed in build(spec.apps, spec.sources).objects]
    mine = [doc for doc in docs if doc["metadata"]["name"] == name and doc["kind"] in ("HelmRelease", "Kustomization")]
    ref = mine[-1]["spec"].get("chartRef") or mine[-1]["spec"].get("sourceRef") or \
        mine[-1]["spec"]["chart"]["spec"]["sourceRef"]
    namespace = ref.get("namespace", mine[-1]["metadata"]["namespace"])
    target = mine[-1]["spec"].get("targetNamespace") if mine[-1]["kind"] == "HelmRelease" else None
    wanted = {(ref["kind"], namespace, ref["name"]), ("Namespace", None, target)}
    return [doc for doc in docs if (doc["kind"], doc["metadata"].get("namespace"), doc["metadata"]["name"]) in
            wanted] + mine[-1:]


def app_entry(scenario: str, answers: dict, known: dict, catalogue: list = []) -> dict:  # noqa: B006
    """The new app, saying only what differs from the spec's defaults, and naming a `sources:`
    entry (`catalogue`) where one has the repository asked for."""
    entry: dict = {"name": answers["name"]}
    for key, builtin in (("namespace", "flux-system"), ("interval", "5m")):
        if answers[key] != known.get(key, builtin):
            entry[key] = answers[key]
    if answers["targetNamespace"] != answers["name"]:
        entry["targetNamespace"] = answers["targetNamespace"]
    if scenario == "chart":
        declared = _declared(catalogue, "HelmRepository", answers["repository"], {})
        entry["chart"] = {"sourceRef": declared} if declared else {"repository": answers["repository"]}
        entry["chart"]["name"] = answers["chart"]
        if answers.get("version"):
            entry["chart"]["version"] = answers["version"]
        return entry
    entry["chart" if scenario == "git-chart" else "kustomize"] = {"path": answers["path"]}
    if scenario == "kustomize" and "sourceRef" in known:
        return entry  # defaults.sourceRef names its source
    declared = _declared(catalogue, "GitRepository", answers["gitUrl"], {"branch": answers["branch"]})
    git = known.get("git", {})
    if declared and declared != known.get("sourceRef" if scenario == "kustomize" else "-"):
        if scenario == "kustomize":
            entry["sourceRef"] = declared
        else:
            entry["chart"]["sourceRef"] = declared
    elif declared:
        pass  # defaults.sourceRef names it already
    elif answers["gitUrl"] != git.get("url"):
        entry["git"] = {"url": answers["gitUrl"], "branch": answers["branch"]}
    elif answers["branch"] != git.get("branch", "main"):
        entry["git"] = {"branch": answers["branch"]}
    return entry


def _declared(catalogue: list, kind: str, url: str, ref: dict) -> str | None:
    """NAME (or NAMESPACE/NAME when the name is not unique) of the `sources:` entry of this kind,
    URL and ref, if there is one."""
    from fluxgen.sources import normalize_url, same_ref

    for source in catalogue:
        if source.kind == kind and source.url and normalize_url(source.url, kind) == normalize_url(url, kind) \
                and (kind != "GitRepository" or same_ref(ref, source.ref or {"branch": "main"})):
            unique = sum(other.name == source.name for other in catalogue) == 1
            return source.name if unique else f"{source.namespace}/{source.name}"
    return None


def new_spec(scenario: str, answers: dict) -> str:
    """A fresh fluxgen.yaml: the answers that are defaults in `defaults:`, then the app."""
    defaults = {"namespace": answers["namespace"], "interval": answers["interval"]}
    if scenario in IN_GIT:
        defaults["git"] = {"url": answers["gitUrl"], "branch": answers["branch"]}
    known = dict(defaults)
    head = ("# fluxgen.yaml, started by `kubectl fluxgen init`; every field: `kubectl fluxgen schema`.\n"
            "# Render it with `kubectl fluxgen render`.\n")
    return head + dump({"apiVersion": API_VERSION, "defaults": defaults,
                        "apps": [app_entry(scenario, answers, known)]})


def add_app(text: str, name: str, entry: dict) -> str:
    """`text` with `entry` appended to its `apps:` list; every other byte stays as it was."""
    data, lines = document.load(text, name)
    first = lines.get(("apps", 0))
    source = text.splitlines(keepends=True)
    if ("apps",) not in lines or first is None or not re.match(r"^\s*- ", source[first - 1]):
        raise FluxgenError(f"{name}: `apps:` is not a block list (`- name: ...` items), so init cannot add to it; "
                           "add this app by hand:\n" + dump([entry]))
    indent = source[first - 1][:len(source[first - 1]) - len(source[first - 1].lstrip())]
    end = document.end_line(text, ("apps", len(data["apps"]) - 1))
    newline = "\r\n" if source[end - 1].endswith("\r\n") else "\n"  # the line end of the line it follows
    item = "".join(indent + line + newline if line.strip() else newline for line in dump([entry]).splitlines())
    if end > 0 and not source[end - 1].endswith("\n"):
        source[end - 1] += newline
    return "".join(source[:end]) + item + "".join(source[end:])


def leave_out(text: str, name: str, app: str, clusters: list[str]) -> str:
    """`text` with `app: false` under `clusters.NAME.apps` of each of `clusters`; every other byte
    stays as it was."""
    data, lines = document.load(text, name)
    source = text.splitlines(keepends=True)
    inserts: list[tuple[int, str]] = []
    for cluster in clusters:
        try:
            found = _insertion(text, source, data, lines, cluster, app)
        except (StopIteration, IndexError, AttributeError, KeyError):  # aliases, merge keys: not plain text to edit
            found = None
        if found is not None:
            inserts.append(found)
        else:
            raise FluxgenError(f"{name}: clusters.{cluster} is not written as a plain block mapping, so init cannot "
                               f"leave {app} out of it; add this under clusters.{cluster}.apps by hand:\n{app}: false")
    for end, line in sorted(inserts, reverse=True):
        if line == "":
            continue
        newline = "\r\n" if source[end - 1].endswith("\r\n") else "\n"
        if not source[end - 1].endswith("\n"):
            source[end - 1] += newline
        source.insert(end, line + newline)
    return "".join(source)


def _insertion(text: str, source: list[str], data: dict, lines: Mapping, cluster: str, app: str,
               ) -> tuple[int, str] | None:
    """(line index, text) of the line that leaves `app` out of `cluster`; "" as text when the
    cluster's own line was rewritten instead; None when the cluster is not written plainly."""
    changes = data["clusters"][cluster] or {}
    if "apps" in changes:
        indent = document.block_indent(text, ("clusters", cluster, "apps"))
        line = None if indent is None else f"{indent}{app}: false"
        at: tuple = ("clusters", cluster, "apps")
    else:
        indent = document.block_indent(text, ("clusters", cluster))
        line = None if indent is None else f"{indent}apps: {{{app}: false}}"
        at = ("clusters", cluster)
    if line is None and not changes:  # `production: {}` or `production:` becomes a block mapping
        line = _emptied(source, lines[("clusters", cluster)], cluster, app)
        at = ("clusters", cluster)
    return None if line is None else (document.end_line(text, at), line)


def _emptied(source: list[str], line: int, cluster: str, app: str) -> str | None:
    """Rewrites the line `  NAME: {}` (or `NAME:`, `NAME: null`) where the cluster's value is (line
    `line`, or the one before) as a block mapping that leaves `app` out; "" when done, None when
    that line is written otherwise."""
    pattern = re.compile(rf"^([ \t]*){re.escape(cluster)}([ \t]*:)[ \t]*(\{{[ \t]*\}}|null|~)?[ \t]*(#[^\r\n]*)?"
                         rf"(\r?\n)?$")
    for index in (line - 1, line - 2):
        found = pattern.match(source[index]) if 0 <= index < len(source) else None
        if found:
            indent, colon, _, comment, newline = found.groups()
            newline = newline or "\n"
            source[index] = (f"{indent}{cluster}{colon}{' ' + comment if comment else ''}{newline}"
                             f"{indent}  apps: {{{app}: false}}{newline}")
            return ""
    return None
