"""The conda environment installs exactly what pyproject.toml declares."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _norm(spec: str) -> str:
    return spec.replace(" ", "").lower()


def test_environment_yml_installs_the_same_packages_and_ranges_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    declared = {_norm(s) for s in project["dependencies"] + extras["notebooks"] + extras["test"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    in_env = {_norm(s) for s in pip_section if not s.startswith("-e")}
    assert in_env == declared
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert python.replace("python", "") == project["requires-python"]
