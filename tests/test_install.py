"""A new user's install: what `pip install` ships, under which name, and that it works there.

* the distribution is not called ``archive`` (an unrelated 2012 project on PyPI has that name), and
  every ``pip install`` hint in the code and the docs names ours;
* the bundled profiles live inside the package, so a wheel and an sdist ship them;
* a wheel built from a copy of the sources, installed (not editable) into a fresh virtual
  environment, finds its bundled profiles and validates and ingests from a folder outside the
  repository, with ``ARCHIVE_HOME`` in tmp; without a home it refuses instead of making ``./var``;
* a registry that finds no profile is an error (exit status 2), not an empty table.

The slow tests build without network: ``pip wheel --no-deps --no-build-isolation`` uses the
setuptools of the running environment (a test dependency) and the venv sees the running
environment's packages for the dependencies.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.cli import main
from archive.profiles import BUNDLED_PROFILES

REPO = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
DIST = PYPROJECT["project"]["name"]
BUNDLED = sorted(p.name for p in BUNDLED_PROFILES.glob("*.yaml"))
SUBMISSION = REPO / "tests" / "data" / "submissions" / "heritage-minimal"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# -- the name ----------------------------------------------------------------------------------


def test_distribution_name_is_ours_and_free_on_pypi() -> None:
    assert DIST == "archive-preservation"
    assert "archive" in PYPROJECT["project"]["scripts"]  # the command keeps its name
    assert PYPROJECT["project"]["scripts"]["archive"] == "archive.cli:main"


def _texts() -> list[Path]:
    files = [
        REPO / "README.md",
        REPO / "Makefile",
        REPO / "config" / "archive.yaml",
        *sorted((REPO / "docs").rglob("*.md")),
        *sorted((REPO / "archive").rglob("*.py")),
        *sorted((REPO / "profiles").glob("*.md")),
    ]
    return [f for f in files if f.is_file()]


def test_every_install_hint_names_the_distribution() -> None:
    """`pip install archive[...]` would install the unrelated project: every hint names ours."""
    wrong = []
    for path in _texts():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "unrelated" in line:
                continue  # the warning itself: "never `pip install archive`, an unrelated project"
            for _m in re.finditer(r"""(?:pip install|install)\s+['"]?archive(\[|\b(?!-))""", line):
                wrong.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not wrong, "install hints naming the PyPI project 'archive' instead of " + DIST + ":\n" + "\n".join(wrong)


def test_bundled_profiles_live_inside_the_package() -> None:
    assert BUNDLED_PROFILES == REPO / "archive" / "profiles" / "bundled"
    assert {"base.yaml", "heritage.yaml", "legal.yaml", "research.yaml"} <= set(BUNDLED)
    assert not list((REPO / "profiles").glob("*.yaml")), "profiles/ is for an organisation's own profiles"
    assert "profiles_dirs" in (REPO / "profiles" / "README.md").read_text(encoding="utf-8")


# -- an empty registry -------------------------------------------------------------------------


def test_no_profiles_at_all_is_an_error_not_an_empty_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from archive.profiles import bundled

    empty = tmp_path / "bundled"
    empty.mkdir()
    monkeypatch.setattr(bundled, "BUNDLED_PROFILES", empty)
    runner = CliRunner()
    for args in (["profiles", "list"], ["profiles", "list", "--json"]):
        result = runner.invoke(main, ["--home", str(tmp_path / "home"), *args])
        assert result.exit_code == 2, result.output
        assert "no profiles found" in result.output and str(empty) in result.output
        assert "reinstall" in result.output
    data = json.loads(runner.invoke(main, ["--home", str(tmp_path / "home"), "profiles", "list", "--json"]).stdout)
    assert data["ok"] is False and data["error"]["code"] == "E008" and data["error"]["type"] == "NoProfiles"
    sub = tmp_path / "sub"
    shutil.copytree(SUBMISSION, sub)
    ingest = runner.invoke(main, ["--home", str(tmp_path / "home"), "validate", str(sub), "-p", "heritage"])
    assert ingest.exit_code == 2 and "no profiles found" in ingest.output


# -- wheel and sdist ---------------------------------------------------------------------------


def _setuptools_ok() -> None:
    try:
        import setuptools
    except ImportError:  # pragma: no cover - the test extras install it
        pytest.fail("setuptools is missing: pip install -e '.[test]'")
    major = int(setuptools.__version__.split(".")[0])
    assert major >= 77, f"setuptools {setuptools.__version__} is too old to build offline: pip install -e '.[test]'"


def _sources(tmp_path: Path) -> Path:
    """A copy of what a source checkout ships (no .git, no .venv, no egg-info), outside the repository."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(
        REPO / "archive", src / "archive", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    )
    return src


def _pip(*args: str, cwd: Path, python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_CACHE_DIR": "1"}
    done = subprocess.run(
        [python, "-m", "pip", *args], check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _wheel(tmp_path: Path, source: Path) -> Path:
    out = tmp_path / "wheels"
    _pip("wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(out), str(source), cwd=tmp_path)
    (wheel,) = out.glob("*.whl")
    return wheel


def _bundled_in(names: list[str], prefix: str = "") -> list[str]:
    return sorted(
        Path(n).name for n in names if n.startswith(f"{prefix}archive/profiles/bundled/") and n.endswith(".yaml")
    )


def test_sdist_ships_the_bundled_profiles_and_builds_a_wheel_that_does(tmp_path: Path) -> None:
    _setuptools_ok()
    src = _sources(tmp_path)
    out = tmp_path / "sdist"
    build = "import sys; from setuptools import build_meta as b; print(b.build_sdist(sys.argv[1]))"
    done = subprocess.run(
        [sys.executable, "-c", build, str(out)], check=False, cwd=src, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (sdist,) = out.glob("*.tar.gz")
    assert sdist.name.startswith("archive_preservation-")
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    top = names[0].split("/")[0] + "/"
    assert _bundled_in(names, top) == BUNDLED
    assert any(n.endswith("archive/catalog/migrations/versions/0001_initial_catalog.py") for n in names)
    wheel = _wheel(tmp_path, sdist)
    with zipfile.ZipFile(wheel) as zf:
        assert _bundled_in(zf.namelist()) == BUNDLED
        assert "archive/py.typed" in zf.namelist()  # the package's type hints are for its users too


def _venv(tmp_path: Path) -> Path:
    """A fresh venv that sees the running environment's packages (the dependencies) but not the repository."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=600)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # the dependencies come from the running environment; a plain path line runs none of its .pth files,
    # so the repository's editable install does not leak in
    deps = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    Path(site, "zz_test_dependencies.pth").write_text("\n".join(deps) + "\n", encoding="utf-8")
    return venv


@pytest.mark.slow
def test_wheel_installed_in_a_fresh_venv_has_its_profiles_and_ingests(tmp_path: Path) -> None:
    _setuptools_ok()
    wheel = _wheel(tmp_path, _sources(tmp_path))
    assert wheel.name.startswith("archive_preservation-")
    with zipfile.ZipFile(wheel) as zf:
        assert _bundled_in(zf.namelist()) == BUNDLED
        assert "archive/py.typed" in zf.namelist()  # the package's type hints are for its users too
    venv = _venv(tmp_path)
    _pip("install", "--no-deps", "--ignore-installed", str(wheel), cwd=tmp_path, python=str(venv / "bin" / "python"))

    elsewhere = tmp_path / "elsewhere"  # neither the repository nor its config/archive.yaml
    elsewhere.mkdir()
    home = tmp_path / "home"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("ARCHIVE_", "PYTHON"))}
    env = {
        **base_env,
        "ARCHIVE_HOME": str(home),
        "ARCHIVE_WORKERS": "1",
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    }

    def archive(*args: str, environ: dict[str, str] = env) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(venv / "bin" / "archive"), *args],
            check=False,
            cwd=elsewhere,
            env=environ,
            capture_output=True,
            text=True,
            timeout=600,
        )

    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import archive; print(archive.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert Path(where.strip()).is_relative_to(venv), f"not the installed package: {where}"

    listed = archive("profiles", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    profiles = json.loads(listed.stdout)["profiles"]
    assert [p["id"] for p in profiles] == [Path(n).stem for n in BUNDLED]
    assert all(Path(p["source"]).is_relative_to(venv) for p in profiles)

    sub = elsewhere / "harbour-letter"
    shutil.copytree(SUBMISSION, sub)
    valid = archive("validate", str(sub), "--profile", "heritage", "--json")
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert json.loads(valid.stdout)["valid"] is True
    assert not home.exists()  # validate writes nothing

    stored = archive("ingest", str(sub), "--profile", "heritage")
    assert stored.returncode == 0, stored.stdout + stored.stderr
    package_id = stored.stdout.strip()
    assert UUID.fullmatch(package_id)
    assert f"Created a new archive at {home}" in stored.stderr and "ARCHIVE_HOME" in stored.stderr
    listing = json.loads(archive("list", "--json").stdout)
    assert [p["id"] for p in listing["packages"]] == [package_id]
    again = archive("ingest", str(sub), "--profile", "heritage")
    assert again.returncode == 0 and f"archive home: {home}" in again.stderr and "Created" not in again.stderr

    no_home = {k: v for k, v in env.items() if k != "ARCHIVE_HOME"}  # a new user who set nothing
    refused = archive("list", environ=no_home)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"no archive at {elsewhere / 'var'}" in refused.stderr and "ARCHIVE_HOME" in refused.stderr
    assert not (elsewhere / "var").exists()

    for profile in (venv / "lib").glob("python*/site-packages/archive/profiles/bundled/*.yaml"):
        profile.unlink()  # a broken install: no bundled profile left
    broken = archive("profiles", "list")
    assert broken.returncode == 2 and "no profiles found" in broken.stderr and "reinstall" in broken.stderr
