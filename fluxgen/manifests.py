"""read_manifests: a folder of plain Kubernetes manifests -> the objects in it, checked.

Reads every .yaml, .yml and .json file below the folder (in sorted path order, so the result
never depends on the file system), every document of a YAML stream, and the items of a
`kind: List`. Each object must have apiVersion, kind and metadata.name, and no two objects may
share a kind and name. A symbolic link inside the folder is refused, never followed. Problems
name the file and line.
"""

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from fluxgen import document, files
from fluxgen.errors import Problem, SpecError

SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Manifest:
    """One object and where it was read."""

    file: str
    line: int
    obj: dict


def read_manifests(folder: Path, shown: str) -> list[Manifest]:
    """Every object under `folder` (called `shown` in messages)."""
    if not folder.is_dir():
        raise SpecError([Problem(shown, 0, "", "no such folder")])
    found: list[Manifest] = []
    problems: list[Problem] = []
    for path in _files(folder, shown, problems):
        name = f"{shown}/{path.relative_to(folder).as_posix()}"
        try:
            documents = _documents(path, name)
        except SpecError as err:
            problems += err.problems
            continue
        for line, data in documents:
            for item in _items(data):
                problem = _missing_fields(item)
                if problem:
                    problems.append(Problem(name, line, "", problem))
                else:
                    found.append(Manifest(name, line, item))
    if not found and not problems:
        problems.append(Problem(shown, 0, "", f"holds no Kubernetes manifests ({', '.join(SUFFIXES)} files)"))
    problems += _duplicates(found)
    if problems:
        raise SpecError(problems)
    return found


def _files(folder: Path, shown: str, problems: list[Problem]) -> list[Path]:
    """The manifest files below `folder`, sorted; links are reported, not followed."""
    found = []
    for root, dirs, names in os.walk(folder):
        for name in sorted(dirs + names):
            path = Path(root) / name
            if path.is_symlink() and (name in dirs or path.suffix in SUFFIXES):
                problems.append(Problem(f"{shown}/{path.relative_to(folder).as_posix()}", 0, "",
                                        "is a symbolic link; fluxgen does not follow links in a package folder "
                                        "(copy the files in instead)"))
            elif name in names and path.suffix in SUFFIXES:
                found.append(path)
    return sorted(found)


def _documents(path: Path, name: str) -> list[tuple[int, object]]:
    try:
        text = document.decode(files.read_bytes(path, follow_links=False), name)
    except files.Unreadable as err:
        raise SpecError([Problem(name, 0, "", f"cannot read: {err}")]) from err
    if path.suffix != ".json":
        return document.load_all(text, name)
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys(name), parse_constant=_no_constant(name),
                          parse_float=_finite(name))
    except json.JSONDecodeError as err:
        raise SpecError([Problem(name, err.lineno, "", f"not valid JSON: {err.msg}")]) from err
    except RecursionError as err:
        data = err
    if isinstance(data, RecursionError) or document.depth_of(data) > document.MAX_DEPTH:
        raise SpecError([Problem(name, 1, "", f"nested more than {document.MAX_DEPTH} levels deep")])
    return [(1, data)]


def _no_duplicate_keys(name: str):
    def build(pairs):
        result = {}
        for key, value in pairs:
            if key in result:
                raise SpecError([Problem(name, 0, "", f"duplicate key {key!r} in one JSON object")])
            result[key] = value
        return result
    return build


def _no_constant(name: str):
    def refuse(word):
        raise SpecError([Problem(name, 0, "", f"{word} is not JSON, and Kubernetes has no such number")])
    return refuse


def _finite(name: str):
    def number(text):
        value = float(text)
        if math.isinf(value):
            raise SpecError([Problem(name, 0, "", f"{text} is too large for a 64-bit number")])
        return value
    return number


def _items(data) -> list:
    """The objects in one document: itself, or the items of a List."""
    if isinstance(data, dict) and data.get("kind") == "List" and isinstance(data.get("items"), list):
        return data["items"]
    return [data]


def _missing_fields(obj) -> str | None:
    if not isinstance(obj, dict):
        return "is not a Kubernetes object (a mapping with apiVersion, kind and metadata)"
    missing = [field for field in ("apiVersion", "kind") if not isinstance(obj.get(field), str) or not obj[field]]
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str) or not metadata["name"]:
        missing.append("metadata.name")
    if missing:
        what = f"{obj.get('kind')} object" if isinstance(obj.get("kind"), str) else "object"
        return f"this {what} has no {' or '.join(missing)}"
    return None


def _duplicates(found: list[Manifest]) -> list[Problem]:
    first: dict[tuple, Manifest] = {}
    problems = []
    for item in found:
        key = (item.obj["kind"], item.obj["metadata"]["name"])
        if key in first:
            other = first[key]
            problems.append(Problem(item.file, item.line, "", f"{key[0]} {key[1]!r} is also defined in "
                                                              f"{other.file}:{other.line} (one object per kind and "
                                                              "name)"))
        first.setdefault(key, item)
    return problems
