"""A self-contained HTML report of a study: findings, tables and plots as inline PNG.

No scripts, no external files: one page that opens offline and can be mailed. It opens with
the answer (``wording.headline``: one line per variant) and the warnings, then: study details,
findings (one sentence per variant and KPI), variants, one figure and table per KPI,
throughput over time, bottleneck shares, and the state breakdown per station of every variant.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from analytics.whatif import plots
from analytics.whatif.results import StudyResult
from analytics.whatif.selectors import KpiSelector
from analytics.whatif.wording import (
    findings,
    format_interval,
    format_value,
    headline,
    method_note,
    unit_label,
)
from twin_io.files import written_whole

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;color:#222;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem}h2{margin-top:2.2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}
th,td{border-bottom:1px solid #eee;padding:.25rem .6rem;text-align:right}
th:first-child,td:first-child,td.text{text-align:left}
.better{color:#1a7f1a;font-weight:600}.worse{color:#c0392b;font-weight:600}
.higher,.lower{color:#117a8b;font-weight:600}.meta,.note{color:#555;font-size:.9rem}
.answer{background:#fff4c2;border-left:6px solid #e0a800;padding:.5rem 1rem;margin:.4rem 0}
.answer ul{margin:.2rem 0;padding-left:1.2rem}.answer h2{margin:.2rem 0;border:none}
.warning{background:#fde2e1;border-left:6px solid #c0392b;padding:.4rem 1rem;margin:.4rem 0}
img.plot{max-width:100%;display:block;margin:.5rem 0}code{font-size:.85rem}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="plot" alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _answer(result: StudyResult) -> list[str]:
    items = "".join(f"<li>{_e(s)}</li>" for s in headline(result))
    out = [
        '<div class="answer" id="answer"><h2>Answer</h2>'
        f"<p>Significant changes against the base:</p><ul>{items}</ul></div>"
    ]
    out += [f'<p class="warning">Warning: {_e(w.text)}</p>' for w in result.warnings]
    return out


def _header(result: StudyResult, generated: str | None) -> list[str]:
    study = result.study
    seeds = study.seeds()
    meta = (
        f"Scenario <b>{_e(study.base.scenario.name)}</b> · {len(study.variants)} variants × "
        f"{study.replications} replications (seeds {seeds[0]}–{seeds[-1]}) · run length "
        f"{study.run_length_s / 3600:.4g} h · warm-up {result.warmup.seconds / 3600:.3g} h "
        f"({_e(result.warmup.method)}) · study file <code>{_e(study.source)}</code>"
    )
    out = [
        f"<h1>What-if study: {_e(study.name)}</h1>",
        *_answer(result),
        f'<p class="meta">{meta}</p>',
    ]
    if generated:
        out.append(f'<p class="meta">Generated {_e(generated)}</p>')
    if study.spec.description:
        out.append(f"<p>{_e(study.spec.description)}</p>")
    return out


def _findings(result: StudyResult) -> list[str]:
    items = "".join(f"<li>{_e(s)}</li>" for s in findings(result))
    return [
        "<h2>Findings</h2>",
        f"<ul>{items}</ul>",
        f'<p class="note">{_e(method_note(result))}</p>',
    ]


def _variants(result: StudyResult) -> list[str]:
    rows = []
    for v in result.study.variants:
        changes = "<br>".join(f"<code>{_e(p)}: {_e(val)}</code>" for p, val in v.overrides)
        rows.append(
            f'<tr><td>{_e(v.name)}</td><td class="text">{_e(v.description)}</td>'
            f'<td class="text">{changes or "—"}</td></tr>'
        )
    return [
        "<h2>Variants</h2>",
        "<table><tr><th>variant</th><th>description</th><th>overrides</th></tr>"
        + "".join(rows)
        + "</table>",
    ]


def _kpi_table(result: StudyResult, sel: KpiSelector) -> str:
    level = 100 * result.study.spec.confidence
    unit = unit_label(sel)
    diff_unit = "pp" if unit == "%" else unit
    head = (
        f"<tr><th>variant</th><th>mean [{_e(unit)}]</th><th>{level:.4g} % CI</th>"
        f"<th>vs base [{_e(diff_unit)}]</th><th>diff CI</th><th>change</th>"
        "<th>verdict</th></tr>"
    )
    rows = []
    for name in result.variant_names:
        i = result.summary(name, sel.key).interval
        cells = [
            _e(name),
            _e(format_value(sel, i.mean, unit=False)),
            _e(format_interval(sel, i.low, i.high, unit=False)),
        ]
        if name == result.variant_names[0]:
            cells += ["", "", "", ""]
        else:
            c = result.comparison(name, sel.key)
            d = c.difference
            rel = "" if c.relative is None else f"{100 * c.relative:+.1f} %"
            cells += [
                _e(format_value(sel, d.mean, signed=True, unit=False)),
                _e(format_interval(sel, d.low, d.high, signed=True, unit=False)),
                _e(rel),
                f'<span class="{_e(c.verdict.split()[0])}">{_e(c.verdict)}</span>',
            ]
        rows.append("<tr>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _kpis(result: StudyResult) -> list[str]:
    out = ["<h2>KPIs by variant</h2>"]
    for sel in result.study.kpis:
        spec = sel.spec
        out.append(f"<h3>{_e(sel.label)}</h3>")
        out.append(
            f'<p class="note">{_e(spec.formula)} · unit {_e(spec.unit)} · better: '
            f"{_e(spec.compare_better)} · {_e(spec.description)}</p>"
        )
        out.append(_img(plots.kpi_figure(result, sel), f"{sel.label} by variant"))
        out.append(_kpi_table(result, sel))
    return out


def _profiles(result: StudyResult) -> list[str]:
    out = [
        "<h2>Throughput over time</h2>",
        _img(plots.timeline_figure(result), "throughput over time"),
        "<h2>Bottleneck shares</h2>",
        _img(plots.bottleneck_figure(result), "bottleneck share per station and variant"),
        "<h2>State breakdown per station</h2>",
    ]
    for i, name in enumerate(result.variant_names):
        opened = " open" if i == 0 else ""
        out.append(
            f"<details{opened}><summary>{_e(name)}</summary>"
            f"{_img(plots.states_figure(result, name), f'state breakdown: {name}')}"
            "</details>"
        )
    return out


def render_html(result: StudyResult, generated: str | None = None) -> str:
    """Return the whole report as one HTML document (``generated``: a time stamp to show)."""
    body = [
        *_header(result, generated),
        *_findings(result),
        *_variants(result),
        *_kpis(result),
        *_profiles(result),
    ]
    title = f"What-if study {result.study.name}"
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}'
        f"</title><style>{_CSS}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write_html(result: StudyResult, path: str | Path, generated: str | None = None) -> Path:
    """Write the report to ``path`` and return it."""
    path = Path(path)
    text = render_html(result, generated)
    with written_whole(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
