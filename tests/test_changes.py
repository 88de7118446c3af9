"""Affected pipelines and their reasons, on real git repositories with scripted histories.

The seed workspace (tests/conftest.py) has five pipelines rendered from the template:
rj_smtr__gps_relatorio imports rj_smtr__gps_onibus, rj_smtr__painel depends on
rj_smtr__gps_relatorio through the workspace, rj_sme__planilhas installs openpyxl.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from conftest import OLD_OPENPYXL, OLD_PYTEST, PlanSeed, commit_files, git

from pipeline_tools.changes import (
    BaseRef,
    Changes,
    GitError,
    Purpose,
    Reason,
    dependency_graph,
    find_changes,
)
from pipeline_tools.reporter import Reporter
from pipeline_tools.settings import load_settings
from pipeline_tools.workspace import discover

ONIBUS = "rj_smtr__gps_onibus"
RELATORIO = "rj_smtr__gps_relatorio"
PAINEL = "rj_smtr__painel"
PLANILHAS = "rj_sme__planilhas"
CADASTRO = "rj_smas__cadastro"
EVERY = sorted([ONIBUS, RELATORIO, PAINEL, PLANILHAS, CADASTRO])
PREVIOUS = BaseRef(None, "previous commit")


def changes_in(
    repo: Path,
    base: BaseRef = PREVIOUS,
    *,
    purpose: Purpose = "deploy",
    head: str = "HEAD",
    environ: dict[str, str] | None = None,
) -> Changes:
    """Run the changes step on `repo` as it is checked out, with a private reporter."""
    workspace = discover(load_settings(repo, environ=environ or {}))
    reporter = Reporter(out=io.StringIO(), err=io.StringIO())
    return find_changes(workspace, base, head, purpose=purpose, reporter=reporter)


def reasons(changes: Changes) -> dict[str, list[Reason]]:
    return {pipeline.name: list(pipeline.reasons) for pipeline in changes.affected}


def test_a_change_in_a_subfolder_affects_its_pipeline(plan_repo: Path) -> None:
    commit_files(plan_repo, "query", {f"pipelines/{PLANILHAS}/queries/escolas.sql": "select 1\n"})

    changes = changes_in(plan_repo)

    query = f"pipelines/{PLANILHAS}/queries/escolas.sql"
    assert reasons(changes) == {PLANILHAS: [Reason("file", query, "modified")]}
    assert changes.base_source == "previous commit"
    assert changes.base == git(plan_repo, "rev-parse", "HEAD~1").strip()


def test_a_shared_module_change_affects_its_dependents_transitively(plan_repo: Path) -> None:
    geo = f"pipelines/{ONIBUS}/utils/geo.py"
    commit_files(plan_repo, "geo", {geo: "def distance(a: float, b: float) -> float: ...\n# km\n"})

    changes = changes_in(plan_repo)

    assert reasons(changes) == {
        ONIBUS: [Reason("file", geo, "modified")],
        RELATORIO: [Reason("dependency", geo, "modified", via=(ONIBUS,))],
        PAINEL: [Reason("dependency", geo, "modified", via=(RELATORIO, ONIBUS))],
    }
    assert reasons(changes)[PAINEL][0].describe() == (
        f"depends on {RELATORIO}, which depends on {ONIBUS} ({geo} modified)"
    )


def test_the_dependency_graph_has_workspace_sources_and_imports(plan_repo: Path) -> None:
    graph = dependency_graph(discover(load_settings(plan_repo, environ={})))

    assert graph == {
        CADASTRO: (),
        PLANILHAS: (),
        ONIBUS: (),
        RELATORIO: (ONIBUS,),
        PAINEL: (RELATORIO,),
    }


def test_a_lock_change_affects_only_the_pipelines_whose_locked_set_changed(
    plan_repo: Path, plan_seed: PlanSeed
) -> None:
    commit_files(plan_repo, "upgrade openpyxl", {"uv.lock": plan_seed.lock_openpyxl_upgraded})
    new = re.search(r'name = "openpyxl"\nversion = "([^"]+)"', plan_seed.lock_openpyxl_upgraded)
    assert new is not None and new.group(1) != OLD_OPENPYXL

    for purpose in ("deploy", "check"):
        changes = changes_in(plan_repo, purpose=purpose)

        upgrade = f"openpyxl {OLD_OPENPYXL} -> {new.group(1)}"
        assert reasons(changes) == {
            PLANILHAS: [Reason("lock", "uv.lock", "modified", packages=(upgrade,))]
        }


def test_a_lock_that_cannot_be_read_affects_every_pipeline(plan_repo: Path) -> None:
    lock = (plan_repo / "uv.lock").read_text()
    commit_files(plan_repo, "conflict", {"uv.lock": "<<<<<<< HEAD\n" + lock})

    changes = changes_in(plan_repo)

    assert [pipeline.name for pipeline in changes.affected] == EVERY
    [reason] = changes.affected[0].reasons
    assert (reason.kind, reason.path) == ("lock", "uv.lock")
    assert reason.packages[0].startswith("cannot compare per pipeline, uv.lock at ")


def test_a_dev_dependency_lock_change_affects_checks_but_no_deploy(
    plan_repo: Path, plan_seed: PlanSeed
) -> None:
    commit_files(plan_repo, "older pytest", {"uv.lock": plan_seed.lock_pytest_downgraded})

    deploy = changes_in(plan_repo, purpose="deploy")
    check = changes_in(plan_repo, purpose="check")

    assert deploy.affected == ()
    assert [pipeline.name for pipeline in check.affected] == EVERY
    packages = check.affected[0].reasons[0].packages
    assert any(line.startswith("pytest ") and f"-> {OLD_PYTEST}" in line for line in packages)


@pytest.mark.parametrize(
    "path", ["Dockerfile", "pyproject.toml", "src/prefect_rj_iplanrio/__init__.py"]
)
def test_a_repo_wide_input_affects_every_pipeline(plan_repo: Path, path: str) -> None:
    commit_files(plan_repo, "repo-wide", {path: (plan_repo / path).read_text() + "# changed\n"})

    changes = changes_in(plan_repo)

    assert reasons(changes) == {name: [Reason("repo-wide", path, "modified")] for name in EVERY}


def test_a_readme_change_affects_nothing(plan_repo: Path) -> None:
    commit_files(
        plan_repo,
        "docs",
        {
            f"pipelines/{ONIBUS}/README.md": "# GPS\n\nNew text.\n",
            f"pipelines/{PLANILHAS}/docs/columns.md": "| column |\n",
            "README.md": "# pipelines\n\nMore.\n",
        },
    )

    assert changes_in(plan_repo, purpose="deploy").affected == ()
    assert changes_in(plan_repo, purpose="check").affected == ()


def test_a_test_change_affects_checks_only_and_not_the_dependents(plan_repo: Path) -> None:
    test_file = f"pipelines/{ONIBUS}/tests/test_flow.py"
    content = (plan_repo / test_file).read_text() + "\n# one more case\n"
    commit_files(plan_repo, "tests", {test_file: content})

    assert changes_in(plan_repo, purpose="deploy").affected == ()
    assert reasons(changes_in(plan_repo, purpose="check")) == {
        ONIBUS: [Reason("file", test_file, "modified")]
    }


def test_a_library_change_affects_every_check_and_no_deploy(plan_repo: Path) -> None:
    commit_files(plan_repo, "noxfile", {"noxfile.py": '"""Sessions."""\n'})

    assert changes_in(plan_repo, purpose="deploy").affected == ()
    check = reasons(changes_in(plan_repo, purpose="check"))
    assert check == {name: [Reason("check-input", "noxfile.py", "added")] for name in EVERY}


def test_a_rename_is_a_deletion_plus_an_addition(plan_repo: Path) -> None:
    git(plan_repo, "mv", f"pipelines/{CADASTRO}", "pipelines/rj_smas__cadastro_unico")
    commit_files(plan_repo, "rename", {})

    changes = changes_in(plan_repo)

    assert changes.deleted == (CADASTRO,)
    assert changes.previous_deployments == {
        CADASTRO: ("rj-smas--cadastro--staging", "rj-smas--cadastro--prod")
    }
    [renamed] = changes.affected
    assert renamed.name == "rj_smas__cadastro_unico"
    assert {reason.kind for reason in renamed.reasons} == {"file"}
    assert {reason.status for reason in renamed.reasons} == {"added"}
    files = git(plan_repo, "ls-files", "pipelines/rj_smas__cadastro_unico").split()
    assert sorted(reason.path for reason in renamed.reasons) == sorted(
        name for name in files if not name.endswith(".md") and "/tests/" not in name
    )


def test_a_deleted_pipeline_is_reported_not_planned(plan_repo: Path) -> None:
    commit_files(plan_repo, "drop", {f"pipelines/{CADASTRO}": None})

    changes = changes_in(plan_repo)

    assert changes.affected == ()
    assert changes.deleted == (CADASTRO,)
    assert changes.previous_deployments[CADASTRO] == (
        "rj-smas--cadastro--staging",
        "rj-smas--cadastro--prod",
    )


def test_deleting_an_imported_pipeline_affects_what_imports_it(plan_repo: Path) -> None:
    commit_files(plan_repo, "drop", {f"pipelines/{ONIBUS}": None})

    changes = changes_in(plan_repo)

    assert changes.deleted == (ONIBUS,)
    assert {name: [r.kind for r in found] for name, found in reasons(changes).items()} == {
        RELATORIO: ["dependency"],
        PAINEL: ["dependency"],
    }
    assert reasons(changes)[RELATORIO][0].status == "deleted"


def test_a_merge_commit_is_compared_with_its_first_parent(plan_repo: Path) -> None:
    query = f"pipelines/{PLANILHAS}/queries/escolas.sql"
    flow = f"pipelines/{CADASTRO}/flow.py"
    git(plan_repo, "switch", "--quiet", "--create", "feature")
    commit_files(plan_repo, "feature work", {query: "select 2\n"})
    git(plan_repo, "switch", "--quiet", "main")
    commit_files(plan_repo, "main work", {flow: (plan_repo / flow).read_text() + "# main\n"})
    git(plan_repo, "merge", "--quiet", "--no-ff", "--message", "merge feature", "feature")

    changes = changes_in(plan_repo)

    assert reasons(changes) == {PLANILHAS: [Reason("file", query, "modified")]}
    assert changes.base == git(plan_repo, "rev-parse", "HEAD^1").strip()
    assert changes.base_source == "previous commit (the first parent of this merge)"


def test_a_pull_request_compares_with_the_merge_base_of_its_target(plan_repo: Path) -> None:
    query = f"pipelines/{PLANILHAS}/queries/escolas.sql"
    flow = f"pipelines/{CADASTRO}/flow.py"
    git(plan_repo, "switch", "--quiet", "--create", "feature")
    commit_files(plan_repo, "feature work", {query: "select 2\n"})
    git(plan_repo, "switch", "--quiet", "main")
    commit_files(plan_repo, "main moved on", {flow: (plan_repo / flow).read_text() + "# main\n"})
    git(plan_repo, "switch", "--quiet", "feature")

    changes = changes_in(plan_repo, BaseRef("main", "main", branch=True))

    assert reasons(changes) == {PLANILHAS: [Reason("file", query, "modified")]}
    assert changes.base == git(plan_repo, "merge-base", "main", "feature").strip()
    assert changes.base_source == "merge base with main"


def test_a_base_the_head_contains_can_fall_back_to_the_previous_commit(plan_repo: Path) -> None:
    query = f"pipelines/{PLANILHAS}/queries/escolas.sql"
    commit_files(plan_repo, "on main", {query: "select 2\n"})
    base = BaseRef("main", "main", branch=True, parent_when_contained=True)

    changes = changes_in(plan_repo, base)

    assert reasons(changes) == {PLANILHAS: [Reason("file", query, "modified")]}
    assert changes.base_source.startswith("previous commit")


def test_a_deployed_revision_off_the_history_is_compared_directly(plan_repo: Path) -> None:
    query = f"pipelines/{PLANILHAS}/queries/escolas.sql"
    git(plan_repo, "switch", "--quiet", "--create", "abandoned")
    deployed = commit_files(plan_repo, "deployed from a branch", {query: "select 3\n"})
    git(plan_repo, "switch", "--quiet", "main")
    commit_files(plan_repo, "readme", {"README.md": "# pipelines\n\nv2\n"})

    direct = changes_in(plan_repo, BaseRef(deployed, "last deploy", merge_base=False))
    merged = changes_in(plan_repo, BaseRef(deployed, "--base"))

    assert reasons(direct) == {PLANILHAS: [Reason("file", query, "modified")]}
    assert merged.affected == ()


def test_the_first_commit_affects_every_pipeline(plan_repo: Path) -> None:
    changes = changes_in(plan_repo)

    assert [pipeline.name for pipeline in changes.affected] == EVERY
    assert all(r.status == "added" for p in changes.affected for r in p.reasons)


def test_a_shallow_clone_fetches_the_history_it_needs(plan_repo: Path, tmp_path: Path) -> None:
    query = f"pipelines/{PLANILHAS}/queries/escolas.sql"
    commit_files(plan_repo, "query", {query: "select 2\n"})
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", "--depth=1", plan_repo.as_uri(), str(clone))
    assert git(clone, "rev-parse", "--is-shallow-repository").strip() == "true"
    reporter = Reporter(out=io.StringIO(), err=io.StringIO())

    workspace = discover(load_settings(clone, environ={}))
    changes = find_changes(workspace, PREVIOUS, reporter=reporter)

    assert reasons(changes) == {PLANILHAS: [Reason("file", query, "modified")]}
    assert isinstance(reporter.out, io.StringIO)
    assert "$ git fetch --no-tags --quiet --deepen=50 origin" in reporter.out.getvalue()


@pytest.mark.parametrize("depth", ["50", "1"])
def test_a_shallow_pull_request_clone_fetches_its_target_branch(
    plan_repo: Path, tmp_path: Path, depth: str
) -> None:
    query = f"pipelines/{PLANILHAS}/queries/escolas.sql"
    flow = f"pipelines/{CADASTRO}/flow.py"
    git(plan_repo, "switch", "--quiet", "--create", "feature")
    commit_files(plan_repo, "feature work", {query: "select 2\n"})
    git(plan_repo, "switch", "--quiet", "main")
    for number in range(3):
        content = (plan_repo / flow).read_text() + f"# main {number}\n"
        commit_files(plan_repo, f"main moved on {number}", {flow: content})
    clone = tmp_path / "clone"
    options = ["--quiet", "--depth=1", "--single-branch", "--branch=feature"]
    git(tmp_path, "clone", *options, plan_repo.as_uri(), str(clone))

    base = BaseRef("main", "main", branch=True)
    changes = changes_in(clone, base, environ={"PIPELINES_FETCH_DEPTH": depth})

    assert reasons(changes) == {PLANILHAS: [Reason("file", query, "modified")]}
    main = git(plan_repo, "rev-parse", "main").strip()
    assert git(clone, "rev-parse", "origin/main").strip() == main


def test_a_shallow_clone_without_its_remote_says_what_to_fetch(
    plan_repo: Path, tmp_path: Path
) -> None:
    commit_files(plan_repo, "query", {f"pipelines/{PLANILHAS}/queries/escolas.sql": "select 2\n"})
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", "--depth=1", plan_repo.as_uri(), str(clone))
    git(clone, "remote", "remove", "origin")

    with pytest.raises(GitError, match=r"shallow clone in .*; fetch more history \(git fetch"):
        changes_in(clone)


def test_an_unknown_base_is_one_clear_error(plan_repo: Path) -> None:
    with pytest.raises(GitError) as raised:
        changes_in(plan_repo, BaseRef("no-such-branch", "--base no-such-branch"))

    message = str(raised.value)
    assert message.startswith("the base revision 'no-such-branch' is not a commit")
    assert "git fetch origin no-such-branch" in message
    assert "\n" not in message


def test_a_folder_outside_git_is_one_clear_error(plan_seed: PlanSeed) -> None:
    with pytest.raises(GitError, match="is not inside a git repository; run `git init`"):
        changes_in(plan_seed.folder)
