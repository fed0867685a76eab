"""Source names and sharing: readable, deterministic, never one name for two sources."""

import pytest

from fluxgen.source_plan import derive_name, plan_sources
from fluxgen.sources import ClusterSource, normalize_url, oci_ref


@pytest.mark.parametrize("url, kind, name", [
    ("https://kubernetes.github.io/ingress-nginx", "HelmRepository", "ingress-nginx"),
    ("https://charts.jetstack.io", "HelmRepository", "jetstack"),
    ("https://charts.bitnami.com/bitnami", "HelmRepository", "bitnami"),
    ("https://prometheus-community.github.io/helm-charts", "HelmRepository", "prometheus-community"),
    ("https://helm.cilium.io/", "HelmRepository", "cilium"),
    ("oci://ghcr.io/stefanprodan/charts/podinfo", "OCIRepository", "podinfo"),
    ("https://github.com/org/gitops-repo.git", "GitRepository", "gitops-repo"),
    ("ssh://git@github.com/Org/Fleet_Infra.git", "GitRepository", "fleet-infra"),
])
def test_names_come_from_the_meaningful_part_of_the_url(url, kind, name):
    assert derive_name(url, kind) == name


def test_urls_compare_without_case_trailing_slash_or_dot_git():
    assert normalize_url("HTTPS://GitHub.com/org/repo.git/", "GitRepository") == "https://github.com/org/repo"
    assert normalize_url("https://charts.example.com/", "HelmRepository") == "https://charts.example.com"


@pytest.mark.parametrize("version, ref", [
    ("6.7.1", {"tag": "6.7.1"}), ("v1.2.3", {"tag": "v1.2.3"}), ("1.0.0-rc.1", {"tag": "1.0.0-rc.1"}),
    ("1.2.3+build.7", {"tag": "1.2.3_build.7"}), ("6.x", {"semver": "6.x"}),
    (">=1.0.0 <2.0.0", {"semver": ">=1.0.0 <2.0.0"}), (None, {"semver": "*"}),
])
def test_oci_versions_become_a_tag_when_exact_and_a_semver_range_otherwise(version, ref):
    assert oci_ref(version) == ref


def app(name, url, namespace="flux-system", **chart):
    return {"name": name, "namespace": namespace, "chart": {"repository": url, "name": name, **chart}, "git": {}}


def test_one_source_per_repository_and_namespace_in_order_of_first_use():
    apps = [app("a", "https://charts.example.com"), app("b", "https://helm.other.io"),
            app("c", "https://Charts.example.com/"), app("d", "https://charts.example.com", namespace="team")]
    plan = plan_sources(apps)
    sources, used = plan.sources, plan.used
    assert [(s.name, s.namespace) for s in sources] == [
        ("example", "flux-system"), ("other", "flux-system"), ("example", "team")]
    assert used[0] is used[2] and used[3] is not used[0]


def test_a_name_taken_by_a_different_source_gets_a_stable_suffix():
    first, second = app("a", "https://charts.one.io/charts/stable"), app("b", "https://two.dev/stable")
    sources = plan_sources([first, second]).sources
    assert sources[0].name == "one" and sources[1].name == "two"
    sources = plan_sources([app("a", "https://a.example.com/x"), app("b", "https://b.example.com/x")]).sources
    assert sources[0].name == "x" and sources[1].name.startswith("x-") and len(sources[1].name) == 8
    in_cluster = ClusterSource("HelmRepository", "flux-system", "x", {"url": "https://a.example.com/x"})
    again = plan_sources([app("b", "https://b.example.com/x")], existing=[in_cluster]).sources
    assert again[0].name == sources[1].name  # the suffix depends on the source, not on spec order


def test_a_suffixed_name_never_takes_a_name_given_explicitly():
    a, b = app("a", "https://a.example.com/x"), app("b", "https://b.example.com/x")
    suffixed = plan_sources([a, b]).sources[1].name
    c = app("c", "https://c.example.com/y", repositoryName=suffixed)
    plan = plan_sources([a, b, c])
    sources, used = plan.sources, plan.used
    names = [s.name for s in sources]
    assert len(set(names)) == 3 and used[2].name == suffixed
    assert used[1].name.startswith("x-") and used[1].name != suffixed
