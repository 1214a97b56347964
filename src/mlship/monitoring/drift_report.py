"""Render a drift result as markdown for pull requests and as one self-contained HTML page."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mlship.files import write_text
from mlship.monitoring.results import ColumnDrift, DomainClassifierResult, DriftResult

# Plots are drawn from at most this many rows per side: a histogram does not need more.
PLOT_ROWS = 200_000
MAX_FEATURE_PLOTS = 12
TOP_CATEGORIES = 15
TOP_IMPORTANCES = 15
REF_COLOR, CUR_COLOR = "#4C72B0", "#DD8452"


def _fmt(value: float, spec: str = ".3f") -> str:
    return "n/a" if not np.isfinite(value) else format(value, spec)


def _verdict_line(result: DriftResult) -> str:
    n_cols = len(result.columns)
    head = "**Drift detected**" if result.drifted else "**No drift detected**"
    parts = [f"{len(result.drifted_features)} of {n_cols} features drifted"]
    if result.drifted_features:
        parts[0] += ": " + ", ".join(f"`{n}`" for n in result.drifted_features[:10])
        if len(result.drifted_features) > 10:
            parts[0] += ", ..."
    if result.domain is not None:
        d = result.domain
        parts.append(
            f"domain classifier AUC {d.auc:.3f} [{d.auc_low:.3f}, {d.auc_high:.3f}]"
            + (" (drifted)" if d.drifted else "")
        )
    if result.prediction is not None:
        parts.append("predictions " + ("drifted" if result.prediction.drifted else "stable"))
    if result.performance is not None:
        p = result.performance
        parts.append(f"{p.metric} {p.reference:.3f} -> {p.current:.3f}")
    return f"{head} — " + "; ".join(parts)


def _test_cells(col: ColumnDrift) -> list[str]:
    """The cells both tables share: kind, test, its figures and the missing shares."""
    return [
        col.kind,
        col.test,
        _fmt(col.statistic, ".4g"),
        _fmt(col.p_adjusted, ".2g"),
        _fmt(col.effect),
        _fmt(col.psi),
        f"{col.missing_ref:.1%} → {col.missing_cur:.1%}",
    ]


def _md_row(col: ColumnDrift) -> str:
    new = f"{col.new_category_share:.1%}" if col.new_categories else ""
    cells = [
        f"`{col.name}`",
        *_test_cells(col),
        new,
        col.reason.replace("|", "\\|") if col.drifted else "",
    ]
    return "| " + " | ".join(cells) + " |"


_MD_HEADER = (
    "| feature | kind | test | statistic | p adj. | effect | PSI | missing | new cat. | reason |\n"
    "|---|---|---|---:|---:|---:|---:|---|---:|---|"
)


def to_markdown(result: DriftResult) -> str:
    """Return a compact markdown summary: verdict first, drifted features before the others."""
    ranked = result.ranked_columns()
    drifted = [c for c in ranked if c.drifted]
    stable = [c for c in ranked if not c.drifted]
    lines = [f"### {_verdict_line(result)}", ""]
    if drifted:
        lines += ["#### Drifted features", "", _MD_HEADER, *map(_md_row, drifted), ""]
    if stable:
        lines += [
            "<details><summary>" f"{len(stable)} stable features</summary>",
            "",
            _MD_HEADER,
            *map(_md_row, stable),
            "",
            "</details>",
            "",
        ]
    if result.domain is not None:
        d = result.domain
        top = ", ".join(f"`{k}` {v:.3f}" for k, v in d.importances[:5])
        lines += [
            "#### Domain classifier",
            "",
            f"ROC AUC {d.auc:.3f}, {d.ci_level:.0%} interval [{d.auc_low:.3f}, {d.auc_high:.3f}]"
            f" vs threshold {d.threshold:.2f} on {d.n_ref} + {d.n_cur} sampled rows."
            f" Top drivers: {top}.",
            "",
        ]
    if result.prediction is not None:
        p = result.prediction
        lines += [
            "#### Predictions",
            "",
            f"{p.test.upper()} statistic {_fmt(p.statistic, '.4g')}, p {_fmt(p.p_value, '.2g')},"
            f" PSI {_fmt(p.psi)}: " + (p.reason if p.drifted else "stable") + ".",
            "",
        ]
    if result.performance is not None:
        perf = result.performance
        lines += [
            "#### Performance",
            "",
            f"{perf.metric}: {perf.reference:.4f} → {perf.current:.4f}"
            f" (drop {perf.drop:+.4f}, tolerance {perf.threshold:.4f})"
            + (" — **degraded**." if perf.drifted else "."),
            "",
        ]
    lines.append(
        f"_{result.n_reference} reference rows, {result.n_current} current rows;"
        f" {result.settings.correction} correction at alpha {result.settings.alpha}._"
    )
    lines += [f"_Note: {n}_" for n in result.notes]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- plots


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    # No software tag: the same result renders to the same bytes across matplotlib patches.
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def _sample(series: pd.Series[Any], seed: int) -> pd.Series[Any]:
    if len(series) <= PLOT_ROWS:
        return series
    return series.sample(PLOT_ROWS, random_state=seed)


def _numeric_plot(col: ColumnDrift, ref: pd.Series[Any], cur: pd.Series[Any], seed: int) -> str:
    r = pd.to_numeric(_sample(ref, seed), errors="coerce").to_numpy(dtype=np.float64)
    c = pd.to_numeric(_sample(cur, seed), errors="coerce").to_numpy(dtype=np.float64)
    r, c = r[np.isfinite(r)], c[np.isfinite(c)]
    fig = Figure(figsize=(5.0, 2.8))
    ax = fig.add_subplot()
    both = np.concatenate([r, c])
    if both.size:
        # Clip the tails so one outlier does not squeeze the bulk into a single bar.
        low, high = np.quantile(both, [0.005, 0.995])
        edges = np.linspace(low, high, 41) if high > low else np.array([low - 0.5, low + 0.5])
        for values, color, label in ((r, REF_COLOR, "reference"), (c, CUR_COLOR, "current")):
            if values.size:
                ax.hist(
                    values, bins=edges.tolist(), density=True, alpha=0.5, color=color, label=label
                )
        ax.legend(fontsize=8)
    ax.set_title(col.name, fontsize=10)
    return _png(fig)


def _categorical_plot(col: ColumnDrift, ref: pd.Series[Any], cur: pd.Series[Any]) -> str:
    ref_share = ref.astype(object).value_counts(normalize=True, dropna=True)
    cur_share = cur.astype(object).value_counts(normalize=True, dropna=True)
    seen = set(ref_share.index)
    labels = list(ref_share.index) + [v for v in cur_share.index if v not in seen]
    r = ref_share.reindex(labels, fill_value=0.0).to_numpy(dtype=np.float64)
    c = cur_share.reindex(labels, fill_value=0.0).to_numpy(dtype=np.float64)
    top = np.argsort(-np.maximum(r, c), kind="stable")[:TOP_CATEGORIES]
    fig = Figure(figsize=(5.0, 2.8))
    ax = fig.add_subplot()
    x = np.arange(top.size)
    ax.bar(x - 0.2, r[top], width=0.4, color=REF_COLOR, label="reference")
    ax.bar(x + 0.2, c[top], width=0.4, color=CUR_COLOR, label="current")
    ax.set_xticks(x, [str(labels[i])[:12] for i in top], rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("share", fontsize=8)
    ax.legend(fontsize=8)
    ax.set_title(col.name, fontsize=10)
    return _png(fig)


def _roc_plot(domain: DomainClassifierResult) -> str:
    fig = Figure(figsize=(3.6, 3.4))
    ax = fig.add_subplot()
    fpr = [p[0] for p in domain.roc_curve]
    tpr = [p[1] for p in domain.roc_curve]
    ax.plot(fpr, tpr, color=CUR_COLOR, label=f"AUC {domain.auc:.3f}")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("false positive rate", fontsize=8)
    ax.set_ylabel("true positive rate", fontsize=8)
    ax.set_title("Domain classifier ROC", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)


def _importance_plot(domain: DomainClassifierResult) -> str:
    top = domain.importances[:TOP_IMPORTANCES][::-1]
    fig = Figure(figsize=(4.6, 0.25 * len(top) + 1.0))
    ax = fig.add_subplot()
    ax.barh([k for k, _ in top], [v for _, v in top], color=REF_COLOR)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("permutation importance (AUC drop)", fontsize=8)
    ax.set_title("What tells current from reference", fontsize=10)
    return _png(fig)


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
h1{font-size:1.3rem} h2{font-size:1.1rem;margin-top:1.5rem}
.verdict{padding:.6rem 1rem;border-radius:6px;font-weight:600}
.bad{background:#fde2e1} .ok{background:#e3f4e1}
table{border-collapse:collapse;font-size:.85rem} td,th{border:1px solid #ccc;padding:.25rem .5rem}
tr.drifted{background:#fff1f0} .plots img{margin:.3rem}
"""


def _html_row(col: ColumnDrift) -> str:
    cells = [
        col.name,
        *_test_cells(col),
        ", ".join(f"{k} ({v:.1%})" for k, v in col.new_categories[:5]),
        "drifted" if col.drifted else "stable",
        col.reason,
    ]
    tds = "".join(f"<td>{html.escape(c)}</td>" for c in cells)
    css = ' class="drifted"' if col.drifted else ""
    return f"<tr{css}>{tds}</tr>"


def to_html(result: DriftResult, reference: pd.DataFrame, current: pd.DataFrame) -> str:
    """Return one HTML page with inline plots and no external resources, drifted features first."""
    ranked = result.ranked_columns()
    verdict = _verdict_line(result).replace("**", "").replace("`", "")
    body = [
        "<h1>Drift report</h1>",
        f'<p class="verdict {"bad" if result.drifted else "ok"}">{html.escape(verdict)}</p>',
        "<h2>Features</h2>",
        "<table><thead><tr>"
        + "".join(
            f"<th>{h}</th>"
            for h in (
                "feature",
                "kind",
                "test",
                "statistic",
                "p adj.",
                "effect",
                "PSI",
                "missing",
                "new categories",
                "verdict",
                "reason",
            )
        )
        + "</tr></thead><tbody>",
        *map(_html_row, ranked),
        "</tbody></table>",
    ]
    plotted = [c for c in ranked if c.drifted][:MAX_FEATURE_PLOTS]
    if plotted:
        body.append('<h2>Drifted features</h2><div class="plots">')
        for col in plotted:
            if col.name not in reference.columns or col.name not in current.columns:
                continue
            ref, cur = reference[col.name], current[col.name]
            if col.kind == "numeric":
                body.append(_numeric_plot(col, ref, cur, result.settings.seed))
            else:
                body.append(_categorical_plot(col, ref, cur))
        body.append("</div>")
    if result.domain is not None:
        body += [
            '<h2>Domain classifier</h2><div class="plots">',
            _roc_plot(result.domain),
            _importance_plot(result.domain),
            "</div>",
        ]
    if result.notes:
        body.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in result.notes) + "</ul>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Drift report</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def write_reports(
    result: DriftResult, reference: pd.DataFrame, current: pd.DataFrame, out_dir: str | Path
) -> dict[str, Path]:
    """Write drift.json, drift.md and drift.html into ``out_dir`` atomically; return the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "drift.json", "markdown": out / "drift.md", "html": out / "drift.html"}
    write_text(
        paths["json"],
        json.dumps(result.to_dict(), indent=2, sort_keys=True, allow_nan=False) + "\n",
    )
    write_text(paths["markdown"], to_markdown(result))
    write_text(paths["html"], to_html(result, reference, current))
    return paths
