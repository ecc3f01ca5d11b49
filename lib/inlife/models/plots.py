"""PNG plots of a trained model (matplotlib, Agg backend): ROC, PR, cumulative gain, calibration, importance."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

PLOTS = ("roc", "pr", "gain", "calibration", "feature_importance")


def _save(fig, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def write_plots(folder: Path, title: str, c: dict[str, Any], metrics: dict[str, float],
                importance: list[tuple[str, float]], top: int = 20) -> list[Path]:
    """One PNG per entry of PLOTS in ``folder``; ``c`` are the validation curves (metrics.curves)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(c["fpr"], c["tpr"], label=f"AUC-ROC {metrics.get('auc_roc', float('nan')):.3f}")
    ax.plot([0, 1], [0, 1], "--", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=f"{title}: ROC")
    ax.legend(loc="lower right")
    out.append(_save(fig, folder, "roc"))

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(c["recall"], c["precision"], label=f"AUC-PR {metrics.get('auc_pr', float('nan')):.3f}")
    ax.axhline(c["base_rate"], ls="--", color="grey", label=f"base rate {c['base_rate']:.3f}")
    ax.set(xlabel="recall", ylabel="precision", ylim=(0, 1.02), title=f"{title}: precision-recall")
    ax.legend(loc="upper right")
    out.append(_save(fig, folder, "pr"))

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(c["share"], c["gain"], label="model")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="random")
    for t in (5, 10, 20):
        if f"capture_top{t}" in metrics:
            ax.plot([t / 100], [metrics[f"capture_top{t}"]], "o", color="C1")
    ax.set(xlabel="share of subscribers (most likely first)", ylabel="share of positives captured",
           title=f"{title}: cumulative gain")
    ax.legend(loc="lower right")
    out.append(_save(fig, folder, "gain"))

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "--", color="grey")
    ax.plot(c["cal_predicted"], c["cal_observed"], "o-", label=f"ECE {metrics.get('ece', float('nan')):.3f}")
    ax.set(xlabel="mean predicted probability", ylabel="observed rate", xlim=(0, 1), ylim=(0, 1),
           title=f"{title}: calibration (10 bins)")
    ax.legend(loc="upper left")
    out.append(_save(fig, folder, "calibration"))

    shown = importance[:top][::-1]
    fig, ax = plt.subplots(figsize=(6, max(3, 0.3 * len(shown) + 1)))
    ax.barh([n for n, _ in shown], [v for _, v in shown])
    ax.set(xlabel="importance (share)", title=f"{title}: feature importance")
    out.append(_save(fig, folder, "feature_importance"))
    return out
