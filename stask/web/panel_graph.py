"""A task's small dependency graph as server-rendered inline SVG (no JavaScript library).

The task sits in the middle, its parents above and its children below, each a box with its id
and its status (coloured by the panel's CSS through ``status-<name>`` classes), lines from each
parent to the task and from the task to each child. At most :data:`MAX_SIDE` boxes are drawn
on each side ("+N more" says the rest). The SVG has its natural size and shrinks with the
page (its viewBox scales, 390 px too). Every text is escaped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import url_for
from flask_babel import gettext as _
from markupsafe import Markup, escape

from .panel_format import status_label, status_text

#: Boxes drawn per side, and per row.
MAX_SIDE = 12
PER_ROW = 4
BOX_W, BOX_H = 132, 44
GAP_X, GAP_Y = 16, 12
LEVEL_GAP = 36
MORE_H = 20
PAD = 8


def _box(node: dict[str, Any], x: int, y: int, current: bool = False) -> str:
    status = node.get("status")
    name = status_text(status) if status is not None else "deleted"
    label = status_label(status) if status is not None else _("deleted")
    cls = f"node status-{name}" + (" current" if current else "")
    box = (
        f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6"/>'
        f'<text x="{x + BOX_W // 2}" y="{y + 18}" class="node-id">#{int(node["id"])}</text>'
        f'<text x="{x + BOX_W // 2}" y="{y + 35}" class="node-status">{escape(label)}</text>'
    )
    title = (
        f"<title>#{int(node['id'])} {escape(node.get('identifier') or '')} · {escape(node.get('action') or '')}</title>"
    )
    if current:
        return f'<g class="{cls}" data-task="{int(node["id"])}">{title}{box}</g>'
    href = escape(url_for("stask_panel.task", task_id=int(node["id"])))
    return f'<a href="{href}" class="{cls}" data-task="{int(node["id"])}">{title}{box}</a>'


def _rows(count: int) -> int:
    return (count + PER_ROW - 1) // PER_ROW


def _width(columns: int) -> int:
    return PAD * 2 + columns * BOX_W + (columns - 1) * GAP_X


def _positions(count: int, top: int, width: int) -> list[tuple[int, int]]:
    """Top-left corners of ``count`` boxes in centred rows of at most :data:`PER_ROW`."""
    spots = []
    for index in range(count):
        row, col = divmod(index, PER_ROW)
        in_row = min(PER_ROW, count - row * PER_ROW)
        row_w = in_row * BOX_W + (in_row - 1) * GAP_X
        x0 = (width - row_w) // 2
        spots.append((x0 + col * (BOX_W + GAP_X), top + row * (BOX_H + GAP_Y)))
    return spots


def _side_height(count: int, more: int) -> int:
    if not count:
        return 0
    return _rows(count) * (BOX_H + GAP_Y) - GAP_Y + (MORE_H if more else 0) + LEVEL_GAP


def dependency_svg(task: dict[str, Any], relatives: dict[str, Any], more_text: Callable[[int], str]) -> Markup:
    """The graph of ``task`` (id, identifier, action, status) with ``relatives`` (as
    :meth:`WorkflowService.relatives` gives them); ``more_text(n)`` says "+n more"."""
    parents = relatives["parents"][:MAX_SIDE]
    children = relatives["children"][:MAX_SIDE]
    more_up = relatives["parents_total"] - len(parents)
    more_down = relatives["children_total"] - len(children)
    # as wide as the widest row (a small graph is drawn at its natural size, not stretched)
    width = _width(max(1, min(PER_ROW, max(len(parents), len(children)))))
    parts: list[str] = []
    lines: list[str] = []
    y = PAD
    if more_up:
        parts.append(f'<text x="{width // 2}" y="{y + 13}" class="more">{escape(more_text(more_up))}</text>')
        y += MORE_H
    up = _positions(len(parents), y, width)
    y += _side_height(len(parents), 0)
    me_x, me_y = (width - BOX_W) // 2, y
    for node, (x, top) in zip(parents, up, strict=True):
        parts.append(_box(node, x, top))
        lines.append(f'<line x1="{x + BOX_W // 2}" y1="{top + BOX_H}" x2="{me_x + BOX_W // 2}" y2="{me_y}"/>')
    parts.append(_box(task, me_x, me_y, current=True))
    y = me_y + BOX_H + LEVEL_GAP
    down = _positions(len(children), y, width)
    for node, (x, top) in zip(children, down, strict=True):
        parts.append(_box(node, x, top))
        lines.append(f'<line x1="{me_x + BOX_W // 2}" y1="{me_y + BOX_H}" x2="{x + BOX_W // 2}" y2="{top}"/>')
    y = y + _rows(len(children)) * (BOX_H + GAP_Y) - GAP_Y if children else me_y + BOX_H
    if more_down:
        parts.append(f'<text x="{width // 2}" y="{y + 15}" class="more">{escape(more_text(more_down))}</text>')
        y += MORE_H
    height = y + PAD
    label = escape(_("Dependencies of task %(id)s", id=int(task["id"])))
    return Markup(
        f'<svg class="dep-graph" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{label}" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMin meet">'
        f'<g class="edges">{"".join(lines)}</g>{"".join(parts)}</svg>'
    )
