"""MLflow from config, and the champion-challenger registry.

Config: ``mlflow.tracking_uri``, ``mlflow.registry_uri`` (null: the tracking URI), ``mlflow.artifact_location``
(the experiment's artifact root, used when the experiment is created), ``mlflow.experiment``. A relative
``sqlite:///file.db`` and a relative artifact folder are placed under the project folder.

Registry conventions (aliases, never the deprecated stages):
- every trained version of model NAME is registered under NAME and gets the alias ``challenger``;
- the alias ``champion`` marks the version that scores; the first version becomes champion;
- the registered-model tag ``champion_history`` is the JSON list of champion versions, oldest first, the
  last being the current one; ``promote`` appends, ``rollback`` drops the last and moves ``champion`` back
  to the one before it (tags ``promoted_at`` / ``promoted_by`` / ``rolled_back_at`` / ``rolled_back_by``
  on the versions record when and who).

A model's artifacts are code to whoever loads them (MLflow puts a model's ``code/`` folder on
``sys.path``): registration records a digest of the model's files (tag ``artifact_sha256``), a model with
a ``code`` entry is refused, and a version is loaded only from a copy whose digest matches.
"""
from __future__ import annotations

import atexit
import json
import math
import os
import shutil
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from inlife.config import Config, resolve_path
from inlife.errors import InlifeError

CHAMPION = "champion"
CHALLENGER = "challenger"
HISTORY_TAG = "champion_history"
HISTORY_KEEP = 100
ARTIFACT_TAG = "artifact_sha256"


class RegistryError(InlifeError):
    """A model, version or alias the command needs does not exist, or a registry operation is refused."""


def _resolve_uri(uri: str | None, root: Path) -> str | None:
    if uri is None:
        return None
    if uri.startswith("sqlite:///"):
        path = uri[len("sqlite:///"):]
        if not path.startswith("/"):
            return "sqlite:///" + resolve_path(path, root)
        return uri
    if "://" not in uri:
        return resolve_path(uri, root)  # a plain folder: file store
    return uri


def uris(conf: Config) -> dict[str, str]:
    root = Path(conf.project_root)
    tracking = _resolve_uri(conf.get("mlflow.tracking_uri"), root)
    registry = _resolve_uri(conf.get("mlflow.registry_uri"), root) or tracking
    artifacts = conf.get("mlflow.artifact_location")
    artifacts = artifacts if "://" in artifacts else resolve_path(artifacts, root)
    return {"tracking_uri": tracking, "registry_uri": registry, "artifact_location": artifacts}


def setup(conf: Config) -> str:
    """Point the MLflow client at the configured stores; return the experiment id (created if needed)."""
    import mlflow

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one line per stage, no bars
    u = uris(conf)
    if u["tracking_uri"].startswith("sqlite:///"):
        Path(u["tracking_uri"][len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(u["tracking_uri"])
    mlflow.set_registry_uri(u["registry_uri"])
    name = conf.get("mlflow.experiment")
    exp = mlflow.get_experiment_by_name(name)
    if exp is None:
        try:
            return mlflow.create_experiment(name, artifact_location=u["artifact_location"])
        except Exception:  # created meanwhile by another process
            exp = mlflow.get_experiment_by_name(name)
            if exp is None:
                raise
    return exp.experiment_id


def client(conf: Config):
    from mlflow import MlflowClient

    setup(conf)
    u = uris(conf)
    return MlflowClient(tracking_uri=u["tracking_uri"], registry_uri=u["registry_uri"])


def _version_by_alias(c, name: str, alias: str):
    from mlflow.exceptions import MlflowException

    try:
        return c.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def champion(c, name: str):
    """The champion ModelVersion of ``name``, or None."""
    return _version_by_alias(c, name, CHAMPION)


def challenger(c, name: str):
    return _version_by_alias(c, name, CHALLENGER)


def history(c, name: str) -> list[str]:
    rm = c.get_registered_model(name)
    try:
        return [str(v) for v in json.loads(rm.tags.get(HISTORY_TAG, "[]"))]
    except ValueError:
        return []


def _set_history(c, name: str, versions: list[str]) -> None:
    c.set_registered_model_tag(name, HISTORY_TAG, json.dumps([int(v) for v in versions[-HISTORY_KEEP:]]))


def _require_version(c, name: str, version: str):
    from mlflow.exceptions import MlflowException

    try:
        return c.get_model_version(name, str(version))
    except MlflowException:
        raise RegistryError(f"model {name} has no version {version}") from None


def promote(c, name: str, version: str | int, reason: str = "by hand") -> dict[str, Any]:
    """Make ``version`` the champion and append it to the champion history."""
    version = str(version)
    _require_version(c, name, version)
    previous = champion(c, name)
    c.set_registered_model_alias(name, CHAMPION, version)
    hist = history(c, name)
    if not hist or hist[-1] != version:
        hist.append(version)
    _set_history(c, name, hist)
    c.set_model_version_tag(name, version, "promoted_at", time.strftime("%Y-%m-%dT%H:%M:%S"))
    c.set_model_version_tag(name, version, "promoted_by", who())
    c.set_model_version_tag(name, version, "promotion_reason", reason[:4000])
    return {"model": name, "champion": version, "previous": str(previous.version) if previous else None,
            "history": hist}


def rollback(c, name: str) -> dict[str, Any]:
    """Restore the champion before the current one (the history's second last still-existing version)."""
    from mlflow.exceptions import MlflowException

    current = champion(c, name)
    hist = history(c, name)
    if current is not None and (not hist or hist[-1] != str(current.version)):
        hist.append(str(current.version))  # the alias was moved outside inlife: keep it in the history
    if len(hist) < 2:
        raise RegistryError(f"model {name}: no previous champion to roll back to "
                            f"(champion history: {hist or 'empty'})")
    dropped = hist.pop()
    while hist:
        try:
            c.get_model_version(name, hist[-1])
            break
        except MlflowException:
            hist.pop()  # deleted since: skip it
    if not hist:
        raise RegistryError(f"model {name}: the previous champions no longer exist")
    target = hist[-1]
    c.set_registered_model_alias(name, CHAMPION, target)
    _set_history(c, name, hist)
    c.set_model_version_tag(name, dropped, "rolled_back_at", time.strftime("%Y-%m-%dT%H:%M:%S"))
    c.set_model_version_tag(name, dropped, "rolled_back_by", who())
    return {"model": name, "champion": target, "rolled_back": dropped, "history": hist}


def gate(challenger_metrics: dict[str, float], champion_metrics: dict[str, float] | None, metric: str,
         tolerance: float) -> tuple[bool, str]:
    """Promote when the challenger is not worse than the champion by more than ``tolerance`` on ``metric``
    overall AND on the high-value tier (``hv_<metric>``; skipped, and said so, when either side lacks it)."""
    if champion_metrics is None:
        return True, "first version: no champion yet"
    reasons, ok = [], True
    for key, label in ((metric, "overall"), (f"hv_{metric}", "high-value tier")):
        new, old = challenger_metrics.get(key), champion_metrics.get(key)
        if new is None or old is None or not (math.isfinite(new) and math.isfinite(old)):
            if key == metric:
                return False, f"{label} {metric} missing (challenger {new}, champion {old})"
            reasons.append(f"{label}: not compared (challenger {new}, champion {old})")
            continue
        if new < old - tolerance:
            ok = False
            reasons.append(f"{label} {metric} {new:.4f} < champion {old:.4f} - tolerance {tolerance}")
        else:
            reasons.append(f"{label} {metric} {new:.4f} >= champion {old:.4f} - tolerance {tolerance}")
    return ok, "; ".join(reasons)


def describe(c, name: str) -> dict[str, Any]:
    """Versions with alias, run id, validation metrics and gate outcome; the champion history."""
    versions = sorted(c.search_model_versions(f"name='{name}'"), key=lambda v: int(v.version))
    champ, chall = champion(c, name), challenger(c, name)
    rows = []
    for v in versions:
        aliases = [a for a, mv in ((CHAMPION, champ), (CHALLENGER, chall)) if mv and mv.version == v.version]
        metrics = {}
        try:
            run = c.get_run(v.run_id)
            metrics = {k: run.data.metrics[k] for k in ("auc_pr", "auc_roc", "hv_auc_pr") if k in run.data.metrics}
        except Exception:
            pass
        rows.append({"version": str(v.version), "aliases": aliases, "run_id": v.run_id, "metrics": metrics,
                     "gate": v.tags.get("gate"), "created": v.creation_timestamp})
    return {"model": name, "champion": str(champ.version) if champ else None,
            "challenger": str(chall.version) if chall else None, "history": history(c, name), "versions": rows}


def registered_names(c) -> list[str]:
    return sorted(m.name for m in c.search_registered_models())


# Registered versions never change, so a process keeps the pipelines it loaded (a Spark model load costs
# seconds of small jobs): training re-scores the champion, scoring applies it, without reloading.
_LOADED: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
_LOADED_MAX = 16


def remember(conf: Config, name: str, version: str | int, model) -> None:
    key = (uris(conf)["registry_uri"], name, str(version))
    _LOADED[key] = model
    _LOADED.move_to_end(key)
    while len(_LOADED) > _LOADED_MAX:
        _LOADED.popitem(last=False)


def load_version(conf: Config, name: str, version: str | int):
    """The PipelineModel of ``models:/name/version``, loaded from a local copy whose files match the digest
    recorded at registration."""
    import tempfile

    import mlflow.spark

    key = (uris(conf)["registry_uri"], name, str(version))
    if key not in _LOADED:
        setup(conf)
        recorded = _require_version(client(conf), name, str(version)).tags.get(ARTIFACT_TAG)
        # Spark reads a pipeline's stages lazily, from the checked copy: it stays until the process ends
        tmp = Path(tempfile.mkdtemp(prefix="inlife-model-"))
        atexit.register(shutil.rmtree, tmp, True)
        local = download(name, version, tmp)
        what = f"model {name} version {version}"
        digest = artifact_digest(local, what)
        if recorded is None:
            raise RegistryError(f"{what}: no {ARTIFACT_TAG} tag was recorded at registration: not loaded")
        if digest != recorded:
            raise RegistryError(f"{what}: its files changed since registration ({ARTIFACT_TAG} {recorded[:12]}..., "
                                f"now {digest[:12]}...): not loaded")
        remember(conf, name, version, mlflow.spark.load_model(str(local), dfs_tmpdir=conf.get("mlflow.dfs_tmpdir")))
    return _LOADED[key]


def download(name: str, version: str | int, into: Path) -> Path:
    """A local copy of the files the registry serves for ``models:/name/version`` (MLflow adds its own
    ``registered_model_meta`` to them: what is digested at registration is this copy, as it is loaded)."""
    import mlflow.artifacts

    return Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{version}", dst_path=str(into)))


def record_digest(c, name: str, version: str) -> str:
    """Digest the registered version's files as the registry serves them (refusing a ``code`` entry) and
    record it on the version (tag ``artifact_sha256``), with who registered it."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        digest = artifact_digest(download(name, version, Path(tmp)), f"model {name} version {version}")
    c.set_model_version_tag(name, version, ARTIFACT_TAG, digest)
    c.set_model_version_tag(name, version, "registered_by", who())
    return digest


def who() -> str:
    """The operating-system user a registry change is recorded under."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def tree_digest(folder: Path) -> str:
    """SHA-256 over a model folder: every file's path (relative, in order) and the SHA-256 of its bytes."""
    import hashlib

    h = hashlib.sha256()
    for p in sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.relative_to(folder).as_posix()):
        f = hashlib.sha256()
        with p.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                f.update(block)
        h.update(p.relative_to(folder).as_posix().encode() + b"\0" + f.digest())
    return h.hexdigest()


def refuse_code(folder: Path, what: str) -> None:
    """Refuse a model folder with a ``code`` entry (a folder, or a flavour's ``code`` in MLmodel): code a
    model carries would run in whatever process loads it."""
    import yaml

    mlmodel = folder / "MLmodel"
    flavors = (yaml.safe_load(mlmodel.read_text(encoding="utf-8")) or {}).get("flavors", {}) if mlmodel.exists() else {}
    if (folder / "code").exists() or any(isinstance(f, dict) and f.get("code") for f in flavors.values()):
        raise RegistryError(f"{what}: the artifacts hold code (a 'code' entry), which loading would run; refused")


def artifact_digest(folder: Path, what: str) -> str:
    """The folder's ``tree_digest``, once ``refuse_code`` lets it pass."""
    refuse_code(folder, what)
    return tree_digest(folder)
