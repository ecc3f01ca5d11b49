"""Configuration: conf/base.yaml, one environment overlay, environment variables, --set overrides.

``base.yaml`` is also the schema. Every key the project knows is declared there with a default whose type
is the key's type; an overlay, an ``INLIFE_<SECTION>__<KEY>`` variable or ``--set section.key=value`` may
only set keys that exist in it, with a value of the same type. Three conventions keep it short:

- a default of ``"???"`` means *required*: something after base must set it;
- a default of ``null`` accepts any type;
- an empty mapping ``{}`` is an open section (free keys, e.g. extra Spark settings or table locations);
  ``!open`` before a mapping makes an open section that comes with entries (``lake.constraints``).

Errors name the key and the file (or variable, or ``--set``) that carried the bad value.
"""
from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from inlife.errors import ConfigError
from inlife.yamlschema import Loader

REQUIRED = "???"
ENV_PREFIX = "INLIFE_"
DEFAULT_ENV = "local"


def default_conf_dir() -> Path:
    """The conf/ folder: $INLIFE_CONF_DIR, else ./conf, else the one beside the source tree."""
    if os.environ.get("INLIFE_CONF_DIR"):
        return Path(os.environ["INLIFE_CONF_DIR"])
    here = Path.cwd() / "conf"
    if (here / "base.yaml").exists():
        return here
    # lib/inlife/config.py -> project root
    return Path(__file__).resolve().parents[2] / "conf"


def _type_name(value: Any) -> str:
    return {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "mapping"}.get(
        type(value), type(value).__name__)


class OpenSection(dict):
    """A mapping of base.yaml tagged ``!open``: free keys, like ``{}``, with default entries."""


class _Loader(Loader):
    pass


_Loader.add_constructor("!open", lambda loader, node: OpenSection(loader.construct_mapping(node, deep=True)))


def _is_open(default: Any) -> bool:
    return isinstance(default, OpenSection) or (isinstance(default, dict) and not default)


def _compatible(default: Any, value: Any) -> bool:
    if default is None or default == REQUIRED:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, int):
        return isinstance(value, int)
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, list):
        return isinstance(value, list)
    if isinstance(default, dict):
        return isinstance(value, dict)
    return True


def _merge(schema: Mapping, target: dict, overlay: Mapping, origin: str, prefix: str = "") -> None:
    """Merge ``overlay`` into ``target`` key by key, checking each against ``schema`` (base.yaml)."""
    for key, value in overlay.items():
        path = f"{prefix}{key}"
        if key not in schema:
            known = ", ".join(sorted(map(str, schema))) or "none"
            raise ConfigError(f"{origin}: unknown key '{path}' (known keys here: {known})")
        default = schema[key]
        if isinstance(default, dict) and not _is_open(default) and isinstance(value, dict):
            _merge(default, target.setdefault(key, {}), value, origin, path + ".")
            continue
        if not _compatible(default, value):
            raise ConfigError(
                f"{origin}: '{path}' must be {_type_name(default)} (as declared in base.yaml), "
                f"got {_type_name(value)} {value!r}")
        if _is_open(default) and isinstance(value, dict):
            # Open sections merge rather than replace, so an overlay can add one entry.
            target.setdefault(key, {}).update(copy.deepcopy(value))
        else:
            target[key] = copy.deepcopy(value)


def _missing(tree: Mapping, prefix: str = "") -> Iterable[str]:
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _missing(value, f"{prefix}{key}.")
        elif value == REQUIRED:
            yield f"{prefix}{key}"


def _parts(schema: Mapping, dotted: str) -> list[str]:
    """The keys of ``dotted``: once it reaches an open section (``spark.conf``), the rest is one key, so
    ``spark.conf.spark.sql.ansi.enabled`` sets Spark's ``spark.sql.ansi.enabled``."""
    parts = dotted.split(".")
    node: Any = schema
    for i, part in enumerate(parts):
        if i and isinstance(node, Mapping) and _is_open(node):
            return parts[:i] + [".".join(parts[i:])]
        node = node.get(part) if isinstance(node, Mapping) else None
    return parts


def _nest(schema: Mapping, dotted: str, value: Any) -> dict:
    out: dict = {}
    node = out
    parts = _parts(schema, dotted)
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return out


def _read_yaml(path: Path) -> dict:
    from inlife.yamlschema import read_mapping

    return read_mapping(path, "configuration file", _Loader)


def available_envs(conf_dir: Path, schema: Mapping | None = None) -> list[str]:
    """Overlay files in conf/: those whose top-level keys are all sections of base.yaml (so sources.yaml,
    tags.yaml and other rule files are not mistaken for environments), and the default, which needs none."""
    schema = schema if schema is not None else _read_yaml(conf_dir / "base.yaml")
    out = [DEFAULT_ENV]
    for p in sorted(conf_dir.glob("*.yaml")):
        if p.stem == "base":
            continue
        try:
            keys = set(_read_yaml(p))
        except ConfigError:
            keys = set()
        if keys <= set(schema) and p.stem != DEFAULT_ENV:
            out.append(p.stem)
    return sorted(out)


def parse_set(items: Iterable[str]) -> list[tuple[str, Any]]:
    """``["spark.master=local[2]", ...]`` -> ``[("spark.master", "local[2]"), ...]``, YAML-typed values."""
    pairs = []
    for item in items or ():
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected section.key=value")
        key, raw = item.split("=", 1)
        pairs.append((key.strip(), _scalar(raw)))
    return pairs


def _scalar(raw: str) -> Any:
    try:
        return yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError:
        return raw


class Config:
    """Merged, validated configuration. ``conf.get("lake.root")``, ``conf["lake"]["root"]``."""

    def __init__(self, data: dict, env: str, conf_dir: Path, project_root: Path):
        self._data = data
        self.env = env
        self.conf_dir = conf_dir
        self.project_root = project_root

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def get(self, dotted: str, default: Any = KeyError) -> Any:
        node: Any = self._data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                if default is KeyError:
                    raise ConfigError(f"configuration has no key '{dotted}'")
                return default
            node = node[part]
        return node

    def path(self, dotted: str) -> str:
        """A path-valued key, made absolute against the project root (URIs with a scheme pass through)."""
        return resolve_path(self.get(dotted), self.project_root)

    def as_dict(self) -> dict:
        return copy.deepcopy(self._data)

    def with_overrides(self, overrides: Mapping[str, Any]) -> Config:
        """A copy with dotted-key overrides applied and validated (used by tests and jobs)."""
        base = _read_yaml(self.conf_dir / "base.yaml")
        data = copy.deepcopy(self._data)
        for key, value in overrides.items():
            _merge(base, data, _nest(base, key, value), f"override {key}={value!r}")
        return Config(data, self.env, self.conf_dir, self.project_root)

    def __repr__(self) -> str:
        return f"Config(env={self.env!r}, conf_dir={str(self.conf_dir)!r})"


def resolve_path(value: str, root: Path) -> str:
    if "://" in value or value.startswith("/"):
        return value
    return str((root / value).resolve())


def load_config(env: str | None = None, overrides: Iterable[str] | None = None,
                conf_dir: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Load base.yaml, the ``env`` overlay, ``INLIFE_*`` variables and ``--set`` overrides, in that order."""
    conf_dir = Path(conf_dir) if conf_dir else default_conf_dir()
    environ = os.environ if environ is None else environ
    env = env or environ.get("INLIFE_ENV") or DEFAULT_ENV
    base_file = conf_dir / "base.yaml"
    if not base_file.exists():
        raise ConfigError(f"{base_file}: not found (set INLIFE_CONF_DIR or run from the project folder)")
    schema = _read_yaml(base_file)
    data = copy.deepcopy(schema)

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", env):
        raise ConfigError(f"environment {env!r}: an environment is the name of a file in {conf_dir} "
                          f"(have: {', '.join(available_envs(conf_dir, schema))}), not a path")
    overlay_file = conf_dir / f"{env}.yaml"
    if overlay_file.exists():
        _merge(schema, data, _read_yaml(overlay_file), str(overlay_file))
    elif env != DEFAULT_ENV:        # base.yaml is local mode already: a local.yaml is the machine's own, if any
        choices = available_envs(conf_dir, schema)
        raise ConfigError(f"{overlay_file}: no such environment '{env}' (have: {', '.join(choices)})")

    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue  # INLIFE_ENV, INLIFE_CONF_DIR are not config keys
        dotted = name[len(ENV_PREFIX):].lower().replace("__", ".")
        _merge(schema, data, _nest(schema, dotted, _scalar(environ[name])), f"environment variable {name}")

    for key, value in parse_set(overrides or ()):
        _merge(schema, data, _nest(schema, key, value), f"--set {key}={value!r}")

    missing = list(_missing(data))
    if missing:
        raise ConfigError(f"{base_file}: required value(s) not set: {', '.join(missing)} "
                          f"(set them in conf/{env}.yaml, with --set or INLIFE_ variables)")
    return Config(data, env, conf_dir.resolve(), conf_dir.resolve().parent)
