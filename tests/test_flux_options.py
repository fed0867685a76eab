"""Flux options under Flux's own names, proven against the real CRDs: what fluxgen accepts the API
server accepts (and nothing the user set is lost), what the CRDs refuse fluxgen refuses first, with
the place named, and no CRD field is out of reach."""

import copy
import textwrap
from pathlib import Path

import crds
import pytest
import yaml
from conftest import lines, rendered
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fluxgen import flux_schema
from fluxgen.errors import SpecError
from fluxgen.resources import merge_options
from fluxgen.schema import APP, CHART, GIT
from fluxgen.spec import parse_spec

ROOT = Path(__file__).parent.parent
BASES = {  # one app per kind of object; {option} is where the option under test goes
    "HelmRelease": "apps:\n  - name: web\n    chart: {{repository: https://charts.example.com, name: web}}\n"
                   "    {option}\n",
    "Kustomization": "apps:\n  - name: site\n    kustomize: {{path: site}}\n    git: {{url: https://git.example.com/site}}\n"
                     "    {option}\n",
    "GitRepository": "apps:\n  - name: site\n    kustomize: {{path: site}}\n"
                     "    git: {{url: https://git.example.com/site, {option}}}\n",
    "HelmRepository": "apps:\n  - name: web\n    chart: {{repository: https://charts.example.com, name: web, "
                      "source: {{{option}}}}}\n",
    "OCIRepository": "apps:\n  - name: web\n    chart: {{repository: oci://ghcr.io/example, name: web, "
                     "source: {{{option}}}}}\n",
}


def objects(text: str) -> dict[str, dict]:
    spec = parse_spec(text, "fluxgen.yaml", Path("."))
    return {doc["kind"]: doc for doc in rendered(spec.apps)}


def refusal(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "fluxgen.yaml", Path("."))
    return lines(caught.value.problems)


def is_within(small, big) -> bool:
    """Every field of `small` is in `big` with the same value (lists compared whole)."""
    if isinstance(small, dict):
        return isinstance(big, dict) and all(k in big and is_within(v, big[k]) for k, v in small.items())
    return small == big


# ---- real-world configurations written by the Flux maintainers ------------------------------------

ADDED_BY_FLUXGEN = {("HelmRelease", ("releaseName",)), ("HelmRelease", ("chart", "spec", "reconcileStrategy")),
                    # the Flux maintainers' production guidance (README, "Best practices")
                    ("HelmRelease", ("install", "strategy", "name")), ("HelmRelease", ("install", "strategy", "retryInterval")),
                    ("HelmRelease", ("upgrade", "strategy", "name")), ("HelmRelease", ("upgrade", "strategy", "retryInterval")),
                    ("Kustomization", ("wait",)), ("Kustomization", ("timeout",))}


def _paths(value, prefix=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    else:
        yield prefix


def _has(value, path: tuple) -> bool:
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return False
        value = value[part]
    return True


REAL_WORLD = ["flux2-kustomize-helm-example", "flux2-monitoring-example"]


@pytest.mark.parametrize("name", REAL_WORLD)
def test_real_world_configurations_render_to_the_maintainers_objects(name):
    spec = parse_spec((ROOT / f"examples/{name}/fluxgen.yaml").read_text(), "fluxgen.yaml", Path("."))
    ours_by_key = {(d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]): d for d in rendered(spec.apps)}
    upstream = [d for d in yaml.safe_load_all((Path(__file__).parent / f"real-world/{name}.yaml").read_text()) if d]
    assert sorted(ours_by_key) == sorted((d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]) for d in upstream)
    for theirs in upstream:
        ours = ours_by_key[(theirs["kind"], theirs["metadata"]["namespace"], theirs["metadata"]["name"])]
        assert is_within(theirs, ours), theirs["metadata"]["name"]  # nothing lost, nothing changed
        added = {p for p in _paths(ours["spec"]) if not _has(theirs["spec"], p)}
        assert {(ours["kind"], p) for p in added} <= ADDED_BY_FLUXGEN, added
        assert crds.problems(ours) == []


# ---- options that work ---------------------------------------------------------------------------

ACCEPTED = [
    ("HelmRelease", "install: {crds: CreateReplace, strategy: {name: RetryOnFailure, retryInterval: 2m}}"),
    ("HelmRelease", "upgrade: {crds: CreateReplace, serverSideApply: auto, remediation: {retries: -1, "
                    "strategy: uninstall}, strategy: {name: RetryOnFailure}}"),
    ("HelmRelease", "driftDetection: {mode: enabled, ignore: [{paths: [/spec/replicas], target: {kind: Deployment}}]}"),
    ("HelmRelease", "valuesFrom: [{kind: Secret, name: web-values, valuesKey: values.yaml, targetPath: 'a.b[0]'}]"),
    ("HelmRelease", "test: {enable: true, filters: [{name: smoke, exclude: false}]}"),
    ("HelmRelease", "rollback: {cleanupOnFail: true, serverSideApply: disabled}"),
    ("HelmRelease", "uninstall: {deletionPropagation: foreground, keepHistory: false}"),
    ("HelmRelease", "postRenderers: [{kustomize: {patches: [{patch: '[]', target: {kind: Service}}], "
                    "images: [{name: web, newTag: '2.0'}]}}]"),
    ("HelmRelease", "kubeConfig: {secretRef: {name: remote, key: value}}"),
    ("HelmRelease", "{timeout: 10m, maxHistory: 3, suspend: true, persistentClient: false, serviceAccountName: deployer, "
                    "storageNamespace: helm, waitStrategy: {name: poller}, postRenderStrategy: nohooks}"),
    ("HelmRelease", "dependsOn: [{name: db, namespace: data, readyExpr: 'dep.status.ready == true'}]"),
    ("Kustomization", "{wait: true, timeout: 3m, retryInterval: 2m, force: true, deletionPolicy: Orphan, prune: false}"),
    ("Kustomization", "healthChecks: [{apiVersion: apps/v1, kind: Deployment, name: site, namespace: site}]"),
    ("Kustomization", r'patches: [{patch: "- op: remove\n  path: /spec/replicas", target: {kind: Deployment}}]'),
    ("Kustomization", "images: [{name: site, newName: ghcr.io/example/site, digest: 'sha256:0123'}]"),
    ("Kustomization", "postBuild: {substitute: {replicas: '3', env: prod}, substituteFrom: [{kind: ConfigMap, "
                      "name: vars, optional: true}], substituteStrategy: Always}"),
    ("Kustomization", "decryption: {provider: sops, secretRef: {name: sops-age}}"),
    ("Kustomization", "{components: [../c], ignoreMissingComponents: true, namePrefix: a-, nameSuffix: -b, "
                      "buildMetadata: [originAnnotations], commonMetadata: {labels: {team: web}}}"),
    ("GitRepository", r'interval: 10m, timeout: 90s, secretRef: {name: git-auth}, ignore: "/*\n!/deploy", '
                      "sparseCheckout: [deploy], recurseSubmodules: true"),
    ("GitRepository", "provider: azure, serviceAccountName: git-reader"),
    ("GitRepository", "verify: {mode: TagAndHEAD, secretRef: {name: pgp-keys}}, include: [{repository: {name: other}, "
                      "fromPath: a, toPath: b}]"),
    ("HelmRepository", "interval: 30m, timeout: 2m, secretRef: {name: helm-auth}, passCredentials: true"),
    ("OCIRepository", "interval: 24h, provider: aws, insecure: false, certSecretRef: {name: ca}, "
                      "verify: {provider: cosign, matchOIDCIdentity: [{issuer: '^https://token.actions', subject: '.*'}]}"),
]


def spec_with(kind: str, option: dict) -> str:
    """A one-app spec with `option` where an option for `kind` goes."""
    if kind == "HelmRelease":
        app = {"name": "web", "chart": {"repository": "https://charts.example.com", "name": "web"}} | option
    elif kind in ("HelmRepository", "OCIRepository"):
        url = "https://charts.example.com" if kind == "HelmRepository" else "oci://ghcr.io/example"
        app = {"name": "web", "chart": {"repository": url, "name": "web", "source": option}}
    else:
        app = {"name": "site", "kustomize": {"path": "site"}, "git": {"url": "https://git.example.com/site"}}
        app |= {"git": app["git"] | option} if kind == "GitRepository" else option
    return yaml.safe_dump({"apps": [app]})


@pytest.mark.parametrize("kind, fragment", ACCEPTED, ids=[f"{k}-{f[:30]}" for k, f in ACCEPTED])
def test_accepted_options_reach_the_object_unchanged_and_pass_the_crds(kind, fragment):
    option = yaml.safe_load(fragment if fragment.startswith("{") else f"{{{fragment}}}")
    obj = objects(spec_with(kind, option))[kind]
    assert crds.problems(obj) == []
    assert is_within(option, obj["spec"]), obj["spec"]


def test_chart_spec_fields_and_an_oci_helm_repository_reach_the_objects():
    found = objects(textwrap.dedent("""\
        apps:
          - name: web
            chart:
              repository: oci://ghcr.io/example/charts
              name: web
              version: 1.x
              interval: 30m
              reconcileStrategy: Revision
              valuesFiles: [values-prod.yaml]
              ignoreMissingValuesFiles: true
              verify: {provider: cosign}
              metadata: {labels: {team: web}}
              source: {type: oci, provider: aws, insecure: false}
    """))
    assert found["HelmRepository"]["spec"] == {"interval": "5m", "type": "oci", "provider": "aws", "insecure": False,
                                               "url": "oci://ghcr.io/example/charts"}
    chart = found["HelmRelease"]["spec"]["chart"]
    assert chart == {"metadata": {"labels": {"team": "web"}}, "spec": {
        "chart": "web", "version": "1.x", "interval": "30m", "reconcileStrategy": "Revision",
        "valuesFiles": ["values-prod.yaml"], "ignoreMissingValuesFiles": True, "verify": {"provider": "cosign"},
        "sourceRef": {"kind": "HelmRepository", "name": "example"}}}
    assert crds.problems(found["HelmRepository"]) == crds.problems(found["HelmRelease"]) == []


def test_defaults_apply_to_the_apps_and_sources_they_belong_to():
    found = objects(textwrap.dedent("""\
        defaults:
          git: {url: https://git.example.com/fleet, interval: 5m}
          install: {strategy: {name: RetryOnFailure}}
          wait: true
          chart: {source: {interval: 24h, passCredentials: true}}
        apps:
          - {name: web, chart: {repository: https://charts.example.com, name: web}}
          - {name: api, chart: {repository: oci://ghcr.io/example, name: api}}
          - {name: site, kustomize: {path: site}}
    """))
    assert found["HelmRelease"]["spec"]["install"] == {"strategy": {"name": "RetryOnFailure"}}  # the user's, whole
    assert found["Kustomization"]["spec"]["wait"] is True and "install" not in found["Kustomization"]["spec"]
    assert found["HelmRepository"]["spec"]["passCredentials"] is True
    assert found["OCIRepository"]["spec"]["interval"] == "24h" and "passCredentials" not in found["OCIRepository"]["spec"]
    assert found["GitRepository"]["spec"]["interval"] == "5m"
    for obj in found.values():
        assert crds.problems(obj) == []


def test_the_user_wins_over_what_fluxgen_generates():
    obj = objects(BASES["HelmRelease"].format(option="install: {remediation: {retries: 3}}\n    storageNamespace: helm"))
    assert obj["HelmRelease"]["spec"]["install"] == {"remediation": {"retries": 3}}  # no strategy of fluxgen's beside it
    assert obj["HelmRelease"]["spec"]["storageNamespace"] == "helm"


def test_apps_asking_for_other_source_options_get_their_own_source():
    found = parse_spec(textwrap.dedent("""\
        apps:
          - {name: a, chart: {repository: https://charts.example.com, name: a}}
          - {name: b, chart: {repository: https://charts.example.com, name: b}}
          - {name: c, chart: {repository: https://charts.example.com, name: c, source: {secretRef: {name: auth}}}}
    """), "fluxgen.yaml", Path("."))
    sources = [doc for doc in rendered(found.apps) if doc["kind"] == "HelmRepository"]
    assert [(s["metadata"]["name"], s["spec"].get("secretRef")) for s in sources] == [
        ("example", None), ("example-" + sources[1]["metadata"]["name"][-6:], {"name": "auth"})]


# ---- options the CRDs refuse: fluxgen refuses them first, with the place named ------------------

REFUSED = [
    ("HelmRelease", "driftDetection: {mode: on}",
     "fluxgen.yaml:4: apps[0].driftDetection.mode: must be 'enabled' or 'warn' or 'disabled', not true "
     "(YAML reads unquoted on, off, yes and no as true or false)"),
    ("HelmRelease", "timeout: 1d",
     "fluxgen.yaml:4: apps[0].timeout: must be a Go duration such as 30s, 5m, 1h or 1h30m (Flux has no 'd' unit: "
     "write 24h)"),
    ("HelmRelease", "install: {strategy: {name: RemediateOnFailure, retryInterval: 5m}}",
     "fluxgen.yaml:4: apps[0].install.strategy.retryInterval: can only be set when name is 'RetryOnFailure'"),
    ("HelmRelease", "upgrade: {strategy: {retryInterval: 5m}}",
     ["fluxgen.yaml:4: apps[0].upgrade.strategy.name: required field",
      "fluxgen.yaml:4: apps[0].upgrade.strategy.retryInterval: can only be set when name is 'RetryOnFailure'"]),
    ("HelmRelease", "upgrade: {serverSideApply: true}",
     "fluxgen.yaml:4: apps[0].upgrade.serverSideApply: must be 'enabled' or 'disabled' or 'auto', not true "
     "(YAML reads unquoted on, off, yes and no as true or false)"),
    ("HelmRelease", "install: {crds: Replace}",
     "fluxgen.yaml:4: apps[0].install.crds: must be 'Skip' or 'Create' or 'CreateReplace'"),
    ("HelmRelease", "intall: {crds: Create}",
     "fluxgen.yaml:4: apps[0].intall: unknown field; did you mean 'install'?"),
    ("HelmRelease", "wait: true",
     "fluxgen.yaml:4: apps[0].wait: applies to kustomize apps (a Kustomization field), and this is a chart app"),
    ("HelmRelease", "retryInterval: 1m",
     "fluxgen.yaml:4: apps[0].retryInterval: applies to kustomize apps (a Kustomization field), and this is a "
     "chart app; use install.strategy.retryInterval or upgrade.strategy.retryInterval"),
    ("HelmRelease", "kubeConfig: {secretRef: {name: a}, configMapRef: {name: b}}",
     "fluxgen.yaml:4: apps[0].kubeConfig: set exactly one of configMapRef or secretRef"),
    ("HelmRelease", "valuesFrom: [{kind: Secrets, name: x}]",
     "fluxgen.yaml:4: apps[0].valuesFrom[0].kind: must be 'Secret' or 'ConfigMap'"),
    ("HelmRelease", "valuesFrom: [{kind: Secret}]", "fluxgen.yaml:4: apps[0].valuesFrom[0].name: required field"),
    ("HelmRelease", "valuesFrom: [{kind: Secret, name: x, targetPath: 'a b'}]",
     "fluxgen.yaml:4: apps[0].valuesFrom[0].targetPath: must be a Helm --set path such as a.b[0].c"),
    ("HelmRelease", "maxHistory: '5'", "fluxgen.yaml:4: apps[0].maxHistory: must be integer"),
    ("HelmRelease", "test: {filters: [{exclude: true}]}", "fluxgen.yaml:4: apps[0].test.filters[0].name: required field"),
    ("HelmRelease", "uninstall: {deletionPropagation: Orphan}",
     "fluxgen.yaml:4: apps[0].uninstall.deletionPropagation: must be 'background' or 'foreground' or 'orphan'"),
    ("HelmRelease", "releaseName: " + "r" * 54, "fluxgen.yaml:4: apps[0].releaseName: must be at most 53 characters long"),
    ("Kustomization", "values: {replicas: 2}",
     "fluxgen.yaml:5: apps[0].values: applies to chart apps (a HelmRelease field), and this is a kustomize app"),
    ("Kustomization", "driftDetection: {mode: enabled}",
     "fluxgen.yaml:5: apps[0].driftDetection: applies to chart apps (a HelmRelease field), and this is a "
     "kustomize app; use force"),
    ("Kustomization", "decryption: {provider: age}", "fluxgen.yaml:5: apps[0].decryption.provider: must be 'sops'"),
    ("Kustomization", "postBuild: {substitute: {enabled: true}}",
     "fluxgen.yaml:5: apps[0].postBuild.substitute.enabled: must be a string, not true (YAML reads unquoted y, n, yes, "
     "no, on and off as true or false: quote it)"),
    ("Kustomization", "healthChecks: [{name: site}]", "fluxgen.yaml:5: apps[0].healthChecks[0].kind: required field"),
    ("Kustomization", "patches: [{target: {kind: Deployment}}]", "fluxgen.yaml:5: apps[0].patches[0].patch: required field"),
    ("Kustomization", "deletionPolicy: Remove",
     "fluxgen.yaml:5: apps[0].deletionPolicy: must be 'MirrorPrune' or 'Delete' or 'WaitForTermination' or 'Orphan'"),
    ("Kustomization", "namePrefix: ''", "fluxgen.yaml:5: apps[0].namePrefix: must not be empty"),
    ("Kustomization", "retryInterval: 1d",
     "fluxgen.yaml:5: apps[0].retryInterval: must be a Go duration such as 30s, 5m, 1h or 1h30m (Flux has no 'd' "
     "unit: write 24h)"),
    ("Kustomization", "kubeConfig: {}", "fluxgen.yaml:5: apps[0].kubeConfig: set exactly one of configMapRef "
                                        "or secretRef"),
    ("GitRepository", "provider: gitlab",
     "fluxgen.yaml:4: apps[0].git.provider: must be 'generic' or 'aws' or 'azure' or 'github'"),
    ("GitRepository", "serviceAccountName: reader",
     "fluxgen.yaml:4: apps[0].git.serviceAccountName: can only be set when provider is 'azure' or 'aws'"),
    ("GitRepository", "timeout: 1h",
     "fluxgen.yaml:4: apps[0].git.timeout: must be a duration in ms, s or m such as 30s or 5m (a source timeout "
     "takes no 'h')"),
    ("GitRepository", "verify: {mode: HEAD}", "fluxgen.yaml:4: apps[0].git.verify.secretRef: required field"),
    ("GitRepository", "ignore: [a, b]", "fluxgen.yaml:4: apps[0].git.ignore: must be a string"),
    ("HelmRepository", "secretRef: {}", "fluxgen.yaml:3: apps[0].chart.source.secretRef.name: required field"),
    ("HelmRepository", "timeout: 2h",
     "fluxgen.yaml:3: apps[0].chart.source.timeout: must be a duration in ms, s or m such as 30s or 5m (a source "
     "timeout takes no 'h')"),
    ("HelmRepository", "intervall: 1h",
     "fluxgen.yaml:3: apps[0].chart.source.intervall: unknown field; did you mean 'interval'?"),
    ("OCIRepository", "verify: {secretRef: {name: keys}}",
     "fluxgen.yaml:3: apps[0].chart.source.verify.provider: required field"),
    ("OCIRepository", "provider: github",
     "fluxgen.yaml:3: apps[0].chart.source.provider: must be 'generic' or 'aws' or 'azure' or 'gcp'"),
]


@pytest.mark.parametrize("kind, fragment, message", REFUSED, ids=[f"{k}-{f[:30]}" for k, f, _ in REFUSED])
def test_options_the_crds_refuse_are_refused_first_with_the_place_named(kind, fragment, message):
    base = objects(spec_with(kind, {}))[kind]
    naive = copy.deepcopy(base)
    for action in ("install", "upgrade"):  # fluxgen's RetryOnFailure strategies would hide what the option lacks
        naive["spec"].pop(action, None)
    naive["spec"] = merge_options(naive["spec"], yaml.safe_load(f"{{{fragment}}}"))
    assert crds.problems(naive), "the CRDs accept this; it does not belong in this table"
    assert refusal(BASES[kind].format(option=fragment)) == (message if isinstance(message, list) else [message])


def test_what_flux_would_silently_ignore_is_refused_too():  # the CRDs accept these; Flux's docs say they do nothing
    assert refusal(BASES["HelmRepository"].format(option="type: oci")) == [
        "fluxgen.yaml:3: apps[0].chart.source.type: oci needs an oci:// chart.repository"]
    assert refusal(BASES["HelmRepository"].format(option="provider: aws")) == [
        "fluxgen.yaml:3: apps[0].chart.source.provider: applies to OCI Helm repositories only (chart.source.type: oci)"]
    assert refusal(BASES["OCIRepository"].format(option="passCredentials: true")) == [
        "fluxgen.yaml:3: apps[0].chart.source.passCredentials: is not an OCIRepository field (only a HelmRepository "
        "has it), and chart.repository makes this source an OCIRepository"]


def test_rules_that_span_fields_hold_after_merging_defaults():
    text = textwrap.dedent("""\
        defaults:
          install: {strategy: {name: RetryOnFailure, retryInterval: 2m}}
          git: {url: https://git.example.com/fleet, provider: azure, serviceAccountName: reader}
        apps:
          - name: web
            chart: {repository: https://charts.example.com, name: web}
            install: {strategy: {name: RemediateOnFailure}}
          - name: site
            kustomize: {path: site}
            git: {provider: generic}
    """)
    assert refusal(text) == [
        "fluxgen.yaml:2: apps[0].install.strategy.retryInterval: can only be set when name is 'RetryOnFailure' "
        "(after merging defaults)",
        "fluxgen.yaml:3: apps[1].git.serviceAccountName: can only be set when provider is 'azure' or 'aws' "
        "(after merging defaults)",
    ]


# ---- generated options: whatever the schema accepts, the CRDs accept --------------------------------

def from_rules(rules: dict) -> st.SearchStrategy:
    """Values for a cerberus rule set (valid ones mostly; fluxgen itself filters the rest)."""
    if "allowed" in rules:
        return st.sampled_from(rules["allowed"])
    kind = rules.get("type")
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(-10, 10)
    if kind == "string":
        if "regex" in rules:
            return st.from_regex(rules["regex"], fullmatch=True).filter(lambda s: len(s) <= rules.get("maxlength", 99))
        return st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1,
                       max_size=min(8, rules.get("maxlength", 8)))
    if kind == "list":
        return st.lists(from_rules(rules["schema"]), min_size=rules.get("minlength", 0), max_size=2)
    if kind == "dict" and "valuesrules" in rules:
        return st.dictionaries(st.from_regex(r"\A[a-z][a-z0-9_]{0,6}\Z"), from_rules(rules["valuesrules"]), max_size=2)
    if kind == "dict":
        fields = rules["schema"]
        return st.fixed_dictionaries({k: from_rules(v) for k, v in fields.items() if v.get("required")},
                                     optional={k: from_rules(v) for k, v in fields.items() if not v.get("required")})
    raise AssertionError(f"no strategy for {rules}")


def _options_of(fields: dict) -> st.SearchStrategy:
    return st.fixed_dictionaries({}, optional={k: from_rules(v) for k, v in fields.items()})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(kind=st.sampled_from(["HelmRelease", "Kustomization"]), data=st.data())
def test_every_option_the_schema_accepts_renders_to_objects_the_crds_accept(kind, data):
    options = data.draw(_options_of(flux_schema.HELMRELEASE if kind == "HelmRelease" else flux_schema.KUSTOMIZATION))
    source = data.draw(_options_of(flux_schema.GITREPOSITORY if kind == "Kustomization" else
                                   data.draw(st.sampled_from([flux_schema.HELMREPOSITORY, flux_schema.OCIREPOSITORY]))))
    app = {"name": "app", **options}
    if kind == "Kustomization":
        app |= {"kustomize": {"path": "app"}, "git": {"url": "https://git.example.com/app", **source}}
    else:
        repository = "oci://ghcr.io/x" if "provider" in source or "verify" in source else "https://charts.example.com"
        app |= {"chart": {"repository": repository, "name": "app", "source": source}}
    try:
        spec = parse_spec(yaml.safe_dump({"apps": [app]}), "fluxgen.yaml", Path("."))
    except SpecError as err:
        assert all(line.startswith("fluxgen.yaml:") for line in lines(err.problems))
        return
    for obj in rendered(spec.apps):
        assert crds.problems(obj) == [], obj
        if obj["kind"] == "Namespace":
            continue
        mine = options if obj["kind"] == kind else source
        assert is_within(mine, obj["spec"])


# ---- nothing out of reach: every CRD spec field is an option or derived by fluxgen ------------------

DERIVED = {
    "HelmRelease": {"chart", "chartRef", "interval", "releaseName", "targetNamespace", "values", "dependsOn"},
    "Kustomization": {"sourceRef", "path", "interval", "targetNamespace", "dependsOn"},
    "GitRepository": {"url", "ref"},
    "HelmRepository": {"url", "accessFrom"},  # accessFrom: "not implemented" in Flux
    "OCIRepository": {"url", "ref", "layerSelector"},
}
OPTIONS = {"HelmRelease": APP, "Kustomization": APP, "GitRepository": GIT,
           "HelmRepository": CHART["source"]["schema"], "OCIRepository": CHART["source"]["schema"]}


def _crd_spec(kind: str) -> dict:
    for (_, crd_kind), (_, raw) in crds._crds().items():
        if crd_kind == kind:
            return raw["properties"]["spec"]
    raise AssertionError(kind)


def _missing(crd: dict, ours: dict, path: str) -> list[str]:
    """Fields the CRD has below `path` that fluxgen's rules do not know."""
    found = []
    for name, sub in crd.get("properties", {}).items():
        if name not in ours:
            found.append(f"{path}{name}")
            continue
        rules = ours[name]
        if sub.get("type") == "object" and "schema" in rules:
            found += _missing(sub, rules["schema"], f"{path}{name}.")
        if sub.get("type") == "array" and isinstance(rules.get("schema"), dict) and "schema" in rules["schema"]:
            found += _missing(sub["items"], rules["schema"]["schema"], f"{path}{name}[].")
    return found


def test_every_chart_field_of_a_helmrelease_can_be_set_or_is_derived():
    chart = _crd_spec("HelmRelease")["properties"]["chart"]["properties"]
    spec = copy.deepcopy(chart["spec"])
    for name in ("chart", "version", "sourceRef"):  # fluxgen's chart.name, chart.version and the source
        spec["properties"].pop(name)
    assert _missing(spec, CHART, "chart.") == []
    assert _missing(chart["metadata"], CHART["metadata"]["schema"], "chart.metadata.") == []


@pytest.mark.parametrize("kind", sorted(OPTIONS))
def test_every_field_of_the_crd_can_be_set_or_is_derived(kind):
    crd = copy.deepcopy(_crd_spec(kind))
    for name in DERIVED[kind]:
        crd["properties"].pop(name, None)
    assert _missing(crd, OPTIONS[kind], "") == []
