"""The CI templates (ci/templates/): valid against the schemas GitHub and GitLab publish (as
check-jsonschema vendors them, offline), clean under zizmor, and running only harness commands
the CLI accepts, wired to each other (the merge reads what the shards write, the database the
run reads is the one the job keeps)."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis.database import (
    DirectoryBasedExampleDatabase,
    GitHubArtifactDatabase,
    MultiplexedDatabase,
    ReadOnlyDatabase,
)
from ruamel.yaml import YAML

from harness import cli
from harness.campaign import plan
from harness.engines import database

TEMPLATES = Path(__file__).resolve().parent.parent / "ci" / "templates"
GITHUB = TEMPLATES / "github-iovconf.yml"
GITLAB = TEMPLATES / "gitlab-iovconf.yml"
#: the variables the runners set that the templates' scripts read, with sample values
GITHUB_RUNNER = {"GITHUB_REPOSITORY": "octo-org/qemu", "GITHUB_STEP_SUMMARY": "step-summary.md"}
#: what the GitHub template's ${{ }} expressions may be (the matrix ones are filled per job)
GITHUB_EXPRESSIONS = {"github.token": "sample-token"}


def load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def tool(name: str) -> str:
    """A console tool of the test extra, from this environment's scripts directory."""
    found = shutil.which(name, path=sysconfig.get_path("scripts")) or shutil.which(name)
    assert found, f"{name} is not installed: pip install -e '.[test]' (ci/setup.sh does)"
    return found


# -- schemas -----------------------------------------------------------------


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def mangled(path: Path, tmp_path: Path, old: str, new: str) -> Path:
    text = path.read_text()
    assert old in text
    copy = tmp_path / path.name
    copy.write_text(text.replace(old, new, 1))
    return copy


@pytest.mark.parametrize(
    ("path", "schema", "old", "new"),
    [
        (GITHUB, "vendor.github-workflows", "runs-on:", "run-on:"),
        (GITLAB, "vendor.gitlab-ci", "when: always", "when: sometimes"),
    ],
    ids=["github", "gitlab"],
)
def test_each_template_is_valid_against_its_ci_s_schema(
    path: Path, schema: str, old: str, new: str, tmp_path: Path
) -> None:
    result = check_jsonschema(schema, path)
    assert result.returncode == 0, result.stdout + result.stderr
    # the same file with one key or value wrong is refused: the check reads what it is given
    broken = check_jsonschema(schema, mangled(path, tmp_path, old, new))
    assert broken.returncode == 1, broken.stdout + broken.stderr


# -- zizmor ------------------------------------------------------------------


def zizmor(path: Path) -> list[dict[str, Any]]:
    """zizmor's findings on ``path`` (offline audits, no configuration: nothing ignored)."""
    result = subprocess.run(
        [tool("zizmor"), "--offline", "--no-config", "--persona", "pedantic", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode in (0, 11, 12, 13, 14), result.stderr  # 1x: findings of severity x
    findings: list[dict[str, Any]] = json.loads(result.stdout)
    return findings


def test_zizmor_finds_nothing_in_the_github_template() -> None:
    assert [(f["ident"], f["desc"]) for f in zizmor(GITHUB)] == []


def test_zizmor_finds_what_the_template_avoids(tmp_path: Path) -> None:
    """The audits do run on the file: undo the template's defences and each one is reported."""
    text = GITHUB.read_text()
    text = re.sub(r"@[0-9a-f]{40}  # (v[\d.]+)", r"@\1", text)  # tags instead of commits
    text = text.replace("persist-credentials: false", "fetch-depth: 1")  # the default: credentials kept
    text = text.replace('--shard "$SHARD/', '--shard "${{ matrix.shard }}/')  # an expression in run:
    naive = tmp_path / "naive.yml"
    naive.write_text(text)
    found = {f["ident"] for f in zizmor(naive)}
    assert {"unpinned-uses", "artipacked", "template-injection"} <= found


# -- the commands the templates run --------------------------------------------


@dataclass(frozen=True)
class Script:
    where: str  # job (and step) name, for messages
    text: str
    env: dict[str, str]


#: ``python`` in a template's script: each call's arguments go to a file of their own
_RECORD_PYTHON = """
python() {
    iovconf_calls=$(( ${iovconf_calls:-0} + 1 ))
    printf '%s\\0' "$@" > "$IOVCONF_TEMPLATE_CALLS/$iovconf_calls"
}
"""


def harness_calls(script: Script, workdir: Path) -> list[list[str]]:
    """The ``python -m harness`` argument lists ``script`` runs, as bash expands them with its
    environment (every ``python`` call is recorded, none is run)."""
    calls = workdir / "calls"
    shutil.rmtree(calls, ignore_errors=True)
    calls.mkdir(parents=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(workdir),
        **script.env,
        "IOVCONF_TEMPLATE_CALLS": str(calls),
    }
    result = subprocess.run(
        ["bash", "-e", "-c", _RECORD_PYTHON + script.text],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"{script.where}: {result.stderr}"
    argvs = [calls.joinpath(name).read_text().split("\0")[:-1] for name in sorted(os.listdir(calls), key=int)]
    return [argv[2:] for argv in argvs if argv[:2] == ["-m", "harness"]]


def _expand(value: object, expressions: dict[str, str], where: str) -> str:
    def one(m: re.Match[str]) -> str:
        expression = m.group(1).strip()
        assert expression in expressions, f"{where}: no sample value for ${{{{ {expression} }}}}"
        return expressions[expression]

    return re.sub(r"\$\{\{(.*?)\}\}", one, str(value))


def github_scripts() -> Iterator[Script]:
    """Every ``run:`` of the GitHub template, once per matrix job, with its environment."""
    workflow = load(GITHUB)
    for job_id, job in workflow["jobs"].items():
        shards = job.get("strategy", {}).get("matrix", {}).get("shard", [None])
        for shard in shards:
            expressions = dict(GITHUB_EXPRESSIONS)
            if shard is not None:
                expressions |= {"matrix.shard": str(shard), "strategy.job-total": str(len(shards))}
            for step in job["steps"]:
                if "run" not in step:
                    continue
                where = f"{job_id}: {step.get('name', step['run'])}"
                assert "${{" not in step["run"], f"{where}: an expression in run: (pass it in env:)"
                env = dict(GITHUB_RUNNER)
                for scope in (workflow, job, step):
                    env |= {k: _expand(v, expressions, where) for k, v in scope.get("env", {}).items()}
                yield Script(where, step["run"], env)


def gitlab_scripts() -> Iterator[Script]:
    """Every job's before_script and script of the GitLab template, once per parallel job."""
    pipeline = load(GITLAB)
    default = pipeline.get("default", {})
    for name, job in pipeline.items():
        if not isinstance(job, dict) or "script" not in job:
            continue
        total = job.get("parallel", 1)
        for index in range(1, total + 1):
            lines = [*job.get("before_script", default.get("before_script", [])), *job["script"]]
            env = {k: str(v) for k, v in pipeline.get("variables", {}).items()}
            env |= {k: str(v) for k, v in job.get("variables", {}).items()}
            if "parallel" in job:
                env |= {"CI_NODE_INDEX": str(index), "CI_NODE_TOTAL": str(total)}
            yield Script(f"{name} {index}/{total}", "\n".join(lines), env)


TEMPLATE_SCRIPTS = {"github": github_scripts, "gitlab": gitlab_scripts}


def template_calls(which: str, workdir: Path) -> list[tuple[str, list[str]]]:
    return [(s.where, argv) for s in TEMPLATE_SCRIPTS[which]() for argv in harness_calls(s, workdir)]


@pytest.mark.parametrize("which", sorted(TEMPLATE_SCRIPTS))
def test_every_harness_command_of_a_template_is_one_the_cli_accepts(which: str, tmp_path: Path) -> None:
    calls = template_calls(which, tmp_path)
    for where, argv in calls:
        try:
            args = cli.parser().parse_args(argv)
        except SystemExit:
            pytest.fail(f"{which} template, {where}: the harness refuses {argv}")
        if args.command == "run":
            assert not isinstance(plan.shard(args.shard, args.engine), str), (where, argv)
            assert args.shard is None or args.json, f"{where}: a shard's results must be kept (--json)"
    commands = [(argv[0], "--shard" in argv, "quick" in argv) for _, argv in calls]
    assert ("run", False, True) in commands  # the quick profile
    assert ("run", True, False) in commands  # the exhaustive shards
    assert ("merge", False, False) in commands


@pytest.mark.parametrize("which", sorted(TEMPLATE_SCRIPTS))
def test_the_merge_reads_every_shard_the_matrix_writes(which: str, tmp_path: Path) -> None:
    calls = [cli.parser().parse_args(argv) for _, argv in template_calls(which, tmp_path)]
    shards = [a for a in calls if a.command == "run" and a.shard]
    (merge,) = [a for a in calls if a.command == "merge"]
    n = len(shards)
    assert {a.shard for a in shards} == {f"{k}/{n}" for k in range(1, n + 1)}  # each shard once
    written = [Path(a.json).name for a in shards]
    assert len(set(written)) == len(shards)  # no shard overwrites another's results
    patterns = [Path(f).name for f in merge.files]
    assert all(any(fnmatch.fnmatch(name, p) for p in patterns) for name in written), (written, patterns)


def _run_db(which: str, workdir: Path) -> Any:
    (quick,) = [
        a
        for a in (cli.parser().parse_args(argv) for _, argv in template_calls(which, workdir))
        if a.command == "run" and a.profile == "quick"
    ]
    return database.open_database(quick.db)


def test_github_keeps_the_database_it_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The quick run saves to a directory, reads the newest database an earlier run uploaded
    (GitHubArtifactDatabase, by artifact name), and the job uploads that directory under that name."""
    monkeypatch.chdir(tmp_path)
    db = _run_db("github", tmp_path)
    assert isinstance(db, MultiplexedDatabase)
    (local,) = [d for d in db._wrapped if isinstance(d, DirectoryBasedExampleDatabase)]
    (shared,) = [d._wrapped for d in db._wrapped if isinstance(d, ReadOnlyDatabase)]
    assert isinstance(shared, GitHubArtifactDatabase)
    assert f"{shared.owner}/{shared.repo}" == GITHUB_RUNNER["GITHUB_REPOSITORY"]
    steps = load(GITHUB)["jobs"]["quick"]["steps"]
    uploads = [s["with"] for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    (kept,) = [u for u in uploads if u["name"] == shared.artifact_name]
    assert Path(kept["path"]).resolve() == Path(local.path).resolve()
    # the job that reads the artifacts is allowed to
    assert load(GITHUB)["jobs"]["quick"]["permissions"]["actions"] == "read"


def test_gitlab_caches_the_database_it_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    db = _run_db("gitlab", tmp_path)
    assert isinstance(db, DirectoryBasedExampleDatabase)
    cache = load(GITLAB)["iovconf-quick"]["cache"]
    assert [Path(p).resolve() for p in cache["paths"]] == [Path(db.path).resolve()]
    assert cache["when"] == "always"  # the failing run's examples are the ones to keep


def test_the_github_template_checks_out_without_keeping_credentials() -> None:
    for job_id, job in load(GITHUB)["jobs"].items():
        checkouts = [s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@")]
        assert checkouts, job_id
        assert all(s["with"]["persist-credentials"] is False for s in checkouts), job_id
