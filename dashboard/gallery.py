"""History → Grid: the X/Y/Z plot of A1111 and ComfyUI over stored generations.

Runs (or a tag) and prompt categories choose the rows; any two axes are the columns and rows, a third the
pages, every other axis that varies is held at one value. A cell shows its image, time and scores, with a
first call (warm-up included) marked; its button opens it large in a dialog with its details and buttons to
its neighbours along the row and the column. The page downloads as one PNG sheet. The pivoting and the sheet
are plain functions (dashboard.grid); this module only draws them.
"""
from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from core.explain import explain_error
from dashboard import data, formatting, gallery_data, grid, scores, tables, url_state

MAX_COLUMNS = 8  # image columns drawn at once (the PNG sheet has them all)
ROWS_PER_PAGE = 6
OPEN = "hist_grid_open"  # (column, row) of the cell shown large


def _latest_complete(runs: pd.DataFrame) -> int | None:
    """The newest finished run with images; else the newest finished run; else the newest run."""
    runs = runs.sort_values("created_at", ascending=False, kind="stable")
    finished = runs[runs["status"] == "finished"]
    for candidates in (finished[finished["ok"] > 0], finished, runs):
        if not candidates.empty:
            return int(candidates["id"].iloc[0])
    return None


def _run_label(runs: pd.DataFrame, run_id: int) -> str:
    row = runs.loc[runs["id"] == run_id]
    if row.empty:
        return f"run {run_id}"
    r = row.iloc[0]
    return f"run {run_id} · {r['label']}"


def _cell_scores(found: dict[str, dict[str, Any]] | None) -> dict[str, float]:
    """{short metric name: value} of one generation, tiny-scorer values marked."""
    out = {}
    for metric, score in (found or {}).items():
        tiny = score.get("weights") not in (None, "pretrained")
        out[scores.SHORT.get(metric, metric) + (" (tiny)" if tiny else "")] = score["value"]
    return out


def _sources(url: str, runs: pd.DataFrame) -> tuple[pd.DataFrame, str, str]:
    """The rows the grid reads (runs or a tag, prompt categories), a sentence saying which, and a key of them."""
    ids = [int(i) for i in runs["id"]]
    url_state.take("grid_runs", "hist_grid_runs", lambda t: [i for i in url_state.ints(t) if i in ids])
    if "hist_grid_runs" not in st.session_state:
        latest = _latest_complete(runs)
        st.session_state["hist_grid_runs"] = [latest] if latest is not None else []
    st.session_state["hist_grid_runs"] = [i for i in st.session_state["hist_grid_runs"] if i in ids]
    tags = gallery_data.run_tags(url)
    c_runs, c_tag = st.columns([3, 1])
    chosen = c_runs.multiselect("Runs", ids, key="hist_grid_runs", format_func=lambda r: _run_label(runs, r),
                                placeholder="choose runs, or a tag", help="opens on the newest finished run")
    tag = c_tag.selectbox("Runs tagged", ["any", *tags], key="hist_grid_tag", bind="query-params",
                          help="every run carrying this tag (with the runs chosen: only those carrying it)")
    url_state.put("grid_runs", url_state.joined(chosen))
    tag = None if tag == "any" else tag
    if not chosen and tag is None:
        return pd.DataFrame(columns=list(gallery_data.GRID_COLUMNS)), "", ""
    rows = gallery_data.grid_frame(url, tuple(chosen), tag)
    categories = grid.prompt_categories(rows)
    if len(categories) > 1:
        picked = st.multiselect("Prompt categories", categories, key="hist_grid_categories", bind="query-params",
                                format_func=lambda c: c or "(no category)", placeholder="every category")
        rows = grid.by_category(rows, picked)
    where = (f"{len(chosen)} run(s)" if chosen else "every run") + (f" tagged {tag}" if tag else "")
    if len(rows) >= gallery_data.GRID_LIMIT:
        where += f" (the newest {gallery_data.GRID_LIMIT:,} rows)"
    return rows, where, f"{sorted(chosen)}|{tag}"


def _axes(rows: pd.DataFrame, source: str) -> tuple[str, str, str | None, dict[str, Any]]:
    """X, Y and Z pickers (plain options: they bind to the URL) and a picker per other axis that varies. Other
    runs chosen: the axes start again from those that vary in them (a link keeps its own)."""
    x0, y0, z0 = grid.default_axes(rows)
    if st.session_state.get("hist_grid_source") not in (None, source):
        st.session_state.update(hist_grid_x=x0, hist_grid_y=y0, hist_grid_z=z0 or "none")
    st.session_state["hist_grid_source"] = source
    axes = list(grid.AXES)
    counts = {a: len(grid.axis_values(rows, a)) for a in axes}
    c_x, c_y, c_z = st.columns(3)
    x = c_x.selectbox("Columns (X)", axes, index=axes.index(x0), key="hist_grid_x", bind="query-params")
    y = c_y.selectbox("Rows (Y)", axes, index=axes.index(y0), key="hist_grid_y", bind="query-params")
    z_options = ["none", *axes]
    z = c_z.selectbox("Pages (Z)", z_options, index=z_options.index(z0 or "none"), key="hist_grid_z",
                      bind="query-params")
    z = None if z == "none" else z
    if len({x, y, z} - {None}) < len([a for a in (x, y, z) if a]):
        st.warning("X, Y and Z must be different axes: choose another one.")
        st.stop()
    st.caption("Values per axis here: " + ", ".join(f"{a} {n}" for a, n in counts.items()))
    holders = st.container(horizontal=True)

    def pick(axis: str, values: list[Any]) -> Any:
        key = f"hist_grid_fix_{axis}"
        if st.session_state.get(key, values[0]) not in values:
            st.session_state.pop(key)  # held at a value these rows do not have
        return holders.selectbox(f"{axis} held at", values, key=key, width=220,
                                 format_func=lambda v: grid.value_label(axis, v))

    fixed = grid.hold(rows, x, y, z, pick)
    return x, y, z, fixed


def _close() -> None:
    st.session_state.pop(OPEN, None)


def _move(cell: tuple[int, int]) -> None:
    st.session_state[OPEN] = cell


@st.dialog("Image", width="large", on_dismiss=_close)
def _lightbox(page: grid.Grid, found: dict[int, dict[str, Any]]) -> None:
    cell = st.session_state.get(OPEN)
    row = page.cell(*cell) if cell else None
    if row is None:
        st.info("This cell is empty now.")
        return
    xi, yi = cell
    st.markdown(f"**{grid.value_label(page.x, page.x_values[xi])}** × **{grid.value_label(page.y, page.y_values[yi])}**"
                + (f" · {page.title()}" if page.title() else ""))
    left, right = st.columns([3, 2])
    image = data.image_file(row.get("image_path")) if row.get("status") == "ok" else None
    if image:
        left.image(image, width=520)  # the dialog with its neighbour buttons fits a 900 px tall window
    elif row.get("status") == "ok":
        left.warning("Image missing or outside the output folder.")
    else:
        left.error(f"{row.get('status')}: {explain_error(row.get('error'))[0]}")
    if row.get("first_call"):
        right.markdown(":orange-badge[first call] its time includes the warm-up after the model loaded")
    values = {"time": formatting.fmt_seconds(row.get("total_s")), **_cell_scores(found.get(int(row["id"]))),
              "model": row.get("model_key"), "prompt": row.get("prompt"), "category": row.get("category"),
              "seed": row.get("seed"), "steps": row.get("steps"), "guidance": row.get("guidance"),
              "recipe": row.get("recipe"), "weights": row.get("weights"),
              "size": f"{row['width']}×{row['height']}" if row.get("width") else None,
              "rows in this cell": page.counts.get(cell, 1), "run": row.get("run_id"), "generation": row.get("id")}
    table = tables.key_values(values)
    right.dataframe(table, hide_index=True, width="stretch", height=35 * (len(table) + 1) + 3,  # every row
                    column_config={"field": st.column_config.TextColumn(width=115),
                                   "value": st.column_config.TextColumn(width="large")})
    right.caption(f"Full record: History → Generations, or the link `?gen={row['id']}`.")
    near = page.neighbours(xi, yi)
    across, down = (lambda c: page.x_values[c[0]]), (lambda c: page.y_values[c[1]])
    labels = {"left": ("←", page.x, across), "right": ("→", page.x, across), "up": ("↑", page.y, down),
              "down": ("↓", page.y, down)}
    buttons = st.columns(4)
    for col, (name, (arrow, axis, value)) in zip(buttons, labels.items()):
        target = near.get(name)
        text = grid.value_label(axis, value(target)) if target else "none"
        col.button(f"{arrow} {text if len(text) <= 24 else text[:23] + '…'}", key=f"hist_grid_go_{name}",
                   disabled=target is None, on_click=_move, args=(target,), width="stretch",
                   help=f"the next cell along the {'row' if name in ('left', 'right') else 'column'}")


def _draw(page: grid.Grid, found: dict[int, dict[str, Any]], first_row: int) -> None:
    shown_x = list(range(min(len(page.x_values), MAX_COLUMNS)))
    shown_y = list(range(first_row, min(len(page.y_values), first_row + ROWS_PER_PAGE)))
    widths = [1.3] + [2] * max(len(shown_x), 3)  # at least 3 image columns: images stay thumbnail-sized
    header = st.columns(widths)
    header[0].caption(f"{page.y} ↓   {page.x} →")
    for col, i in zip(header[1:], shown_x):
        col.markdown(f"**{grid.value_label(page.x, page.x_values[i])}**")
    for j in shown_y:
        cols = st.columns(widths, vertical_alignment="top")
        label = grid.value_label(page.y, page.y_values[j])
        cols[0].markdown(label if len(label) <= 90 else label[:89] + "…")
        for col, i in zip(cols[1:], shown_x):
            row = page.cell(i, j)
            if row is None:
                col.caption("–")
                continue
            image = data.image_file(row.get("image_path")) if row.get("status") == "ok" else None
            if image:
                col.image(image, width="stretch")
            elif row.get("status") == "ok":
                col.caption("image missing or outside the output folder")
            else:
                col.error(f"{row.get('status')}: {explain_error(row.get('error'))[0]}")
            caption = grid.cell_caption(row, _cell_scores(found.get(int(row["id"]))), page.counts.get((i, j), 1))
            # a first call (its time includes the warm-up after the model loaded) is marked in orange
            col.button(caption.replace(grid.FIRST_CALL, f":orange[{grid.FIRST_CALL}]"), key=f"hist_grid_cell_{i}_{j}",
                       type="tertiary", on_click=_move, args=((i, j),), icon=":material/open_in_full:",
                       help="open it large, with its neighbours" + ("; a first call: its time includes the warm-up"
                                                                    if row.get("first_call") else ""))


def show(url: str, runs: pd.DataFrame) -> None:
    """The grid view of History (`runs`: the newest runs, as dashboard.data.runs_frame gives them)."""
    if runs.empty:
        st.info("No runs yet: generate on the Generate page or start a batch on Benchmark.")
        return
    with st.container(border=True):
        rows, where, source = _sources(url, runs)
        if rows.empty:
            st.info("Choose one or more runs, or a tag." if not where else "No generations in these runs.")
            return
        x, y, z, fixed = _axes(rows, source)
    z_values = grid.axis_values(rows, z) if z else [None]
    c_page, c_rows, c_save = st.columns([2, 1, 1], vertical_alignment="bottom")
    z_value = z_values[0]
    if z:
        z_value = c_page.selectbox(f"Page: {z}", z_values, key=f"hist_grid_page_{z}",
                                   format_func=lambda v: grid.value_label(z, v))
    page = grid.pivot(rows, x, y, z, z_value, fixed)
    row_pages = max(1, -(-len(page.y_values) // ROWS_PER_PAGE))
    row_page = c_rows.number_input(f"Rows page (of {row_pages})", min_value=1, max_value=row_pages, value=1,
                                   key=f"hist_grid_rows_{x}_{y}")
    found = scores.scores_for(url, tuple(int(r["id"]) for r in page.cells.values()))
    captions = {c: grid.cell_caption(r, _cell_scores(found.get(int(r["id"]))), page.counts.get(c, 1))
                for c, r in page.cells.items()}
    c_save.download_button("PNG sheet", data=lambda: grid.sheet_png(page, gallery_data.load_image, captions),
                           file_name=f"grid-{x}-by-{y}{'-' + z + '-' + str(z_value) if z else ''}.png",
                           mime="image/png", key="hist_grid_png", on_click="ignore", icon=":material/download:",
                           help="this page as one PNG: every row and column, with axis labels")
    cut = f"; the first {MAX_COLUMNS} of {len(page.x_values)} columns shown (the sheet has all)" \
        if len(page.x_values) > MAX_COLUMNS else ""
    st.caption(f"{len(page.y_values)} {y} × {len(page.x_values)} {x}" + (f" × {len(z_values)} {z} pages" if z else "")
               + f" from {where}; {len(page.cells)} filled cell(s){cut}.")
    _draw(page, found, (int(row_page) - 1) * ROWS_PER_PAGE)
    if st.session_state.get(OPEN) is not None:
        _lightbox(page, found)
