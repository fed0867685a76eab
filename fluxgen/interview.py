"""The questions of `init` (the PRD's conversation), their checks, and the text they add.

Pure: cli.py asks the questions (or takes flags) and writes the file. Every answer is checked
with the very rules fluxgen.yaml is validated with (schema.py), so `init` never writes a spec
that `render` would refuse. New apps are added to the text of an existing spec, so everything
in it, comments included, stays as it was.
"""

import re
from typing import Callable

import cerberus

from fluxgen import document
from fluxgen.errors import FluxgenError
from fluxgen.output import dump
from fluxgen.problems import messages
from fluxgen.schema import API_VERSION, APP, CHART, GIT, KUSTOMIZE

SCENARIOS = {
    "chart": "a chart from a Helm or OCI repository",
    "git-chart": "a Helm chart kept in Git",
    "kustomize": "a Kustomize overlay kept in Git",
}
IN_GIT = ("git-chart", "kustomize")


class Question:
    """One question: the answer's key, its flag, the prompt, when it is asked, its default."""

    def __init__(self, key: str, flag: str, prompt: str, rules: dict | None, default: Callable | None = None,
                 when: tuple = tuple(SCENARIOS), optional: bool = False):
        self.key, self.flag, self.prompt, self.rules = key, flag, prompt, rules
        self.default, self.when, self.optional = default, when, optional


def questions(known: dict) -> list[Question]:
    """The PRD's questions; `known` holds what the existing spec already says (its defaults)."""
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
                 (lambda a: git["url"]) if git.get("url") else None, when=IN_GIT),
        Question("branch", "--branch", "Git branch", GIT["branch"], lambda a: git.get("branch", "main"), when=IN_GIT),
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
    validator = cerberus.Validator({"answer": rules})
    if validator.validate({"answer": answer}):
        return None
    return "; ".join(message for _, message in messages(validator._errors, {"answer": rules}))


def scenario_of(answer: str) -> str | None:
    """`1`, `2`, `3` or a scenario's key -> the key; None for anything else."""
    keys = list(SCENARIOS)
    if answer.isdigit() and 1 <= int(answer) <= len(keys):
        return keys[int(answer) - 1]
    return answer if answer in SCENARIOS else None


def app_objects(apps: list[dict], name: str) -> list[dict]:
    """What the app `name` renders to: its source, then its HelmRelease or Kustomization."""
    from fluxgen.resources import build_resources

    docs = [doc for _, doc in build_resources(apps)]
    [mine] = [doc for doc in docs if doc["metadata"]["name"] == name and doc["kind"] in ("HelmRelease", "Kustomization")]
    ref = mine["spec"].get("chartRef") or mine["spec"].get("sourceRef") or mine["spec"]["chart"]["spec"]["sourceRef"]
    return [doc for doc in docs if doc["kind"] == ref["kind"] and doc["metadata"]["name"] == ref["name"]] + [mine]


def app_entry(scenario: str, answers: dict, known: dict) -> dict:
    """The new app, saying only what differs from the spec's defaults."""
    entry: dict = {"name": answers["name"]}
    for key, builtin in (("namespace", "flux-system"), ("interval", "5m")):
        if answers[key] != known.get(key, builtin):
            entry[key] = answers[key]
    if answers["targetNamespace"] != answers["name"]:
        entry["targetNamespace"] = answers["targetNamespace"]
    if scenario == "chart":
        entry["chart"] = {"repository": answers["repository"], "name": answers["chart"]}
        if answers.get("version"):
            entry["chart"]["version"] = answers["version"]
        return entry
    entry["chart" if scenario == "git-chart" else "kustomize"] = {"path": answers["path"]}
    git = known.get("git", {})
    if answers["gitUrl"] != git.get("url"):
        entry["git"] = {"url": answers["gitUrl"], "branch": answers["branch"]}
    elif answers["branch"] != git.get("branch", "main"):
        entry["git"] = {"branch": answers["branch"]}
    return entry


def new_spec(scenario: str, answers: dict) -> str:
    """A fresh fluxgen.yaml: the PRD's defaults in `defaults:`, then the app."""
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
    indent = re.match(r"^(\s*)- ", source[first - 1])[1]
    item = "".join(indent + line if line.strip() else line for line in dump([entry]).splitlines(keepends=True))
    end = _end_of_apps(source, lines[("apps",)])
    if end > 0 and not source[end - 1].endswith("\n"):
        source[end - 1] += "\n"
    return "".join(source[:end]) + item + "".join(source[end:])


def _end_of_apps(source: list[str], apps_line: int) -> int:
    """Index of the first line after the apps list: the next top-level key, minus the comments
    and blank lines just above it (they belong to that key)."""
    end = len(source)
    for index in range(apps_line, len(source)):
        if re.match(r"^[^\s#-]", source[index]):
            end = index
            break
    while end > apps_line and (not source[end - 1].strip() or source[end - 1].lstrip().startswith("#")) \
            and end < len(source):
        end -= 1
    return end
