"""notifications: a Provider and an Alert per entry, valid against the real CRDs, per cluster when
clusters differ, validated like every other option, and counted by check."""

import textwrap
from pathlib import Path

import crds
import pytest
import yaml
from click.testing import CliRunner

from fluxgen.cli import cli

APPS = textwrap.dedent("""\
    apps:
      - name: web
        namespace: apps
        chart: {repository: https://charts.example.com, name: web, version: 2.x}
      - name: site
        kustomize: {path: site}
        git: {url: https://github.com/org/fleet}
    """)


def run(tmp_path: Path, text: str, *args: str):
    spec = tmp_path / "fluxgen.yaml"
    spec.write_text(text)
    return CliRunner().invoke(cli, [*args[:1], "-f", str(spec), *args[1:]], prog_name="kubectl fluxgen")


def objects(tmp_path: Path, text: str, *args: str) -> list[dict]:
    result = run(tmp_path, text, "render", *args)
    assert result.exit_code == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc["kind"] in ("Provider", "Alert")]


def test_an_entry_gives_a_provider_and_an_error_alert_over_every_release_and_kustomization(tmp_path):
    found = objects(tmp_path, "notifications:\n  - name: slack\n    provider: {type: slack, channel: ops, "
                              "secretRef: {name: slack-webhook}}\n" + APPS)
    assert found == [
        {"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Provider",
         "metadata": {"name": "slack", "namespace": "flux-system"},
         "spec": {"channel": "ops", "secretRef": {"name": "slack-webhook"}, "type": "slack"}},
        {"apiVersion": "notification.toolkit.fluxcd.io/v1beta3", "kind": "Alert",
         "metadata": {"name": "slack", "namespace": "flux-system"},
         "spec": {"eventSeverity": "error", "providerRef": {"name": "slack"}, "eventSources": [
             {"kind": "Kustomization", "name": "*"},  # flux bootstrap's own, and the apps'
             {"kind": "HelmRelease", "name": "*", "namespace": "apps"}]}}]
    for obj in found:
        assert crds.problems(obj) == []


def test_alert_fields_are_flux_s_and_win_over_the_defaults(tmp_path):
    found = objects(tmp_path, textwrap.dedent("""\
        notifications:
          - name: teams
            namespace: monitoring
            provider: {type: msteams, secretRef: {name: teams-url}, timeout: 30s}
            alert:
              eventSeverity: info
              eventSources: [{kind: HelmRelease, name: '*', namespace: apps, matchLabels: {team: web}}]
              exclusionList: ['.*upgrade.*succeeded.*']
              eventMetadata: {cluster: prod}
        """) + APPS)
    alert = found[1]
    assert alert["metadata"] == {"name": "teams", "namespace": "monitoring"}
    assert alert["spec"]["eventSeverity"] == "info"
    assert alert["spec"]["eventSources"] == [{"kind": "HelmRelease", "name": "*", "namespace": "apps",
                                              "matchLabels": {"team": "web"}}]
    assert all(crds.problems(obj) == [] for obj in found)


def test_each_cluster_may_have_its_own(tmp_path):
    text = "notifications: [{name: slack, provider: {type: slack, channel: ops}}]\n" + APPS + textwrap.dedent("""\
        clusters:
          staging:
            notifications: [{name: discord, provider: {type: discord, secretRef: {name: hook}}}]
          production: {}
        """)
    assert [o["metadata"]["name"] for o in objects(tmp_path, text, "--cluster", "staging")] == ["discord", "discord"]
    assert [o["metadata"]["name"] for o in objects(tmp_path, text, "--cluster", "production")] == ["slack", "slack"]
    result = run(tmp_path, text, "render", "--output-dir", str(tmp_path / "out"))
    assert result.exit_code == 0, result.stderr
    assert yaml.safe_load((tmp_path / "out/clusters/staging/notifications/provider.yaml").read_text())["spec"][
        "type"] == "discord"
    assert (tmp_path / "out/clusters/production/notifications/alert.yaml").is_file()


@pytest.mark.parametrize("entry, message", [
    ("{name: slack, provider: {type: slak}}", "notifications[0].provider.type: must be one of slack, discord, msteams, rocket, "),
    ("{name: slack, provider: {channel: ops}}", "notifications[0].provider.type: required field"),
    ("{name: slack}", "notifications[0].provider: required field"),
    ("{name: Slack, provider: {type: slack}}", "notifications[0].name: must be a DNS-1123 label"),
    ("{name: slack, provider: {type: slack, commitStatusExpr: x}}",
     "notifications[0].provider.commitStatusExpr: can only be set when type is"),
    ("{name: slack, provider: {type: slack}, alert: {eventSeverity: warning}}",
     "notifications[0].alert.eventSeverity: must be 'info' or 'error'"),
    ("{name: slack, provider: {type: slack}, alert: {providerRef: {name: x}}}",
     "notifications[0].alert.providerRef: unknown field"),
])
def test_a_wrong_entry_is_refused_at_its_line(tmp_path, entry, message):
    result = run(tmp_path, "apiVersion: fluxgen/v1\nnotifications:\n  - " + entry + "\n" + APPS, "render")
    assert (result.exit_code, result.stdout) == (1, "")
    spec = tmp_path / "fluxgen.yaml"
    assert result.stderr.startswith(f"{spec}:3: {message}"), result.stderr


def test_two_entries_of_one_name_are_refused(tmp_path):
    text = "notifications:\n  - {name: slack, provider: {type: slack}}\n  - {name: slack, provider: {type: discord}}\n"
    result = run(tmp_path, text + APPS, "render")
    assert result.exit_code == 1 and "fluxgen.yaml:3: notifications[1].name: names another entry's" in result.stderr


def test_no_namespace_object_for_a_namespace_flux_objects_live_in(tmp_path):
    """Pruning it with the release would delete the Flux objects in it too."""
    text = textwrap.dedent("""\
        notifications: [{name: slack, namespace: ops, provider: {type: slack}}]
        apps:
          - {name: a, namespace: team, chart: {repository: https://charts.example.com, name: a, version: 1.x}}
          - {name: b, targetNamespace: team, chart: {repository: https://charts.example.com, name: b, version: 1.x}}
          - {name: c, targetNamespace: ops, chart: {repository: https://charts.example.com, name: c, version: 1.x}}
          - {name: d, chart: {repository: https://charts.example.com, name: d, version: 1.x}}
        """)
    result = run(tmp_path, text, "render")
    assert result.exit_code == 0, result.stderr
    namespaces = [doc["metadata"]["name"] for doc in yaml.safe_load_all(result.stdout) if doc["kind"] == "Namespace"]
    assert namespaces == ["a", "d"]
