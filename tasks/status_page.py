"""The status page: one self-contained static HTML file (no server, no JavaScript, no outside resource) to open
from anywhere: the status table, per backup and destination a chart of its dated folders over the last weeks
(size per day, sealed or not, a gap where a day has none), the last run's alerts and each backup's log lines of
that run. Pure: it renders rows (tasks.status) it is given.
"""

import datetime
import html

from tasks.summary import format_bytes

DAYS_SHOWN = 28
STATE_COLOURS = {"OK": "#1b7f3b", "STALE": "#b00020", "FAILING": "#b00020", "NEVER": "#8a6d00"}
STYLE = """body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:14px}th{background:#f0f0f0}
.state{color:#fff;font-weight:bold;padding:2px 6px;border-radius:3px}pre{background:#f7f7f7;padding:.5em;
font-size:12px;overflow-x:auto}h2{margin-top:1.5em}.legend span{display:inline-block;width:10px;height:10px;
margin:0 4px 0 12px}"""


def e(text) -> str:
    return html.escape(str(text), quote=True)


def page(rows, host: str, generated: str, alerts: list[dict], tails: dict[str, list[str]]) -> str:
    """The whole document; `generated` (tasks.clock's stamp) is also the chart's last day."""
    body = [f"<h1>Backups of {e(host)}</h1><p>As seen {e(generated)}, from the destinations themselves.</p>",
            _table(rows), "<h2>Dated folders, last four weeks</h2>",
            '<p class="legend"><span style="background:#1b7f3b"></span>sealed<span style="background:#e0a000">'
            '</span>incomplete<span style="background:#eee;border:1px solid #ccc"></span>no folder</p>']
    today = datetime.date.fromisoformat(generated[:10])
    body += [_chart(row, today) for row in rows if row.folders]
    body.append("<h2>Alerts of the last run</h2>" + (
        "<ul>" + "".join(f"<li><b>{e(alert.get('level'))}</b> {e(alert.get('subject'))}: {e(alert.get('message'))}"
                         "</li>" for alert in alerts) + "</ul>" if alerts else "<p>None.</p>"))
    for name, lines in tails.items():
        body.append(f"<h2>Log of {e(name)}, last run</h2><pre>{e(chr(10).join(lines) or 'no lines')}</pre>")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Backups of {e(host)}</title>'
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n")


def _table(rows) -> str:
    head = "".join(f"<th>{name}</th>" for name in ("Backup", "Destination", "State", "Newest complete copy",
                                                    "Complete", "Incomplete", "Size", "Free", "Last run",
                                                    "Last verify", "Last drill"))
    cells = []
    for row in rows:
        state = f'<span class="state" style="background:{STATE_COLOURS[row.state]}">{row.state}</span>'
        newest = f"{row.newest} ({row.age_days} days)" if row.newest else "never"
        values = [row.backup, row.where, None, newest, row.complete, row.incomplete, _size(row.bytes),
                  _size(row.free), f"{(row.last_run_at or '')[:16]} {row.last_run or 'never'}",
                  row.last_verify or "never", row.last_drill or "never"]
        cells.append("<tr>" + "".join(f"<td>{state if value is None else e(value)}</td>" for value in values)
                     + "</tr>" + (f'<tr><td colspan="11">{e(row.note)}</td></tr>' if row.note else ""))
    return f"<table><tr>{head}</tr>{''.join(cells)}</table>"


def _chart(row, today: datetime.date) -> str:
    """An inline SVG bar per day of the DAYS_SHOWN days up to today: height by size, green sealed, amber
    incomplete, a grey stub where the day has no folder (the days a stale backup missed show as such)."""
    by_day = {folder.day: folder for folder in row.folders}
    days = [today - datetime.timedelta(days=back) for back in range(DAYS_SHOWN - 1, -1, -1)]
    biggest = max([folder.bytes for folder in row.folders] + [1])
    bars = []
    for position, day in enumerate(days):
        folder = by_day.get(day.isoformat())
        x = 10 + position * 22
        if folder is None:
            bars.append(f'<rect x="{x}" y="95" width="18" height="5" fill="#eee"><title>{day}: no folder</title>'
                        "</rect>")
            continue
        height = max(4, int(80 * folder.bytes / biggest))
        colour = "#1b7f3b" if folder.sealed else "#e0a000"
        bars.append(f'<rect x="{x}" y="{100 - height}" width="18" height="{height}" fill="{colour}"><title>'
                    f"{day}: {format_bytes(folder.bytes)}, {folder.files} files, "
                    f"{'sealed' if folder.sealed else 'incomplete'}</title></rect>")
    labels = f'<text x="10" y="114" font-size="10">{days[0]}</text><text x="{6 + 22 * DAYS_SHOWN}" ' \
             f'y="114" font-size="10" text-anchor="end">{days[-1]}</text>'
    return (f"<h3>{e(row.backup)} at {e(row.where)}</h3><svg xmlns=\"http://www.w3.org/2000/svg\" "
            f'width="{20 + 22 * DAYS_SHOWN}" height="120" role="img" aria-label="dated folders of {e(row.backup)}">'
            f"{''.join(bars)}{labels}</svg>")


def _size(count) -> str:
    return format_bytes(count) if count is not None else "?"
