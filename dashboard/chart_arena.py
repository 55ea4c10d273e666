"""Arena charts: plain functions from the leaderboard (core.votes.leaderboard: one row per model with its
Bradley–Terry rating and interval, mean seconds, TFLOP and USD) or from per-category win rates
(core.arena.category_win_rates) to a figure. Colours are the models' fixed ones (dashboard.chart_style)."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.chart_scores import quality_front
from dashboard.chart_style import empty_figure, layout, model_colors, trace

# cost axis: (leaderboard column, axis title)
COSTS = {"seconds": ("mean_s", "mean seconds per call (steady state)"),
         "tflop": ("mean_tflop", "mean TFLOP per call (FLOPs = 2 × MACs)"),
         "usd": ("usd_per_image", "mean USD per image (APIs: list price; open models: GPU-time estimate)")}
ROW_PX = 26


def rating_vs_cost(board: pd.DataFrame, cost: str = "seconds", *, log: bool = False) -> go.Figure:
    """Arena rating (with its bootstrap 95 % interval) against a cost per model; the front (nothing both cheaper
    and better rated) dashed."""
    if cost not in COSTS:
        raise ValueError(f"cost: {cost!r} is not allowed; choose one of {', '.join(COSTS)}")
    column, x_title = COSTS[cost]
    title = f"Arena rating against {dict(seconds='seconds', tflop='FLOPs', usd='USD')[cost]}"
    if board is None or board.empty or column not in board.columns or board[column].notna().sum() == 0:
        why = "no votes yet" if board is None or board.empty else f"no rated model has a {x_title.split(' (')[0]}"
        return empty_figure(title, f"Nothing to plot: {why}.")
    points = board.dropna(subset=[column]).rename(columns={column: "cost"})
    colors = model_colors(points["model_key"])
    traces = []
    for _, p in points.iterrows():
        err = dict(type="data", symmetric=False, array=[p["high"] - p["rating"]], arrayminus=[p["rating"] - p["low"]],
                   color=colors[p["model_key"]], thickness=1.5) if pd.notna(p["low"]) else None
        traces.append(trace("scatter", x=[p["cost"]], y=[p["rating"]], mode="markers", name=p["model_key"],
                            text=[p["model_key"]], error_y=err,
                            customdata=[[p["low"], p["high"], p["votes"]]],
                            marker=dict(size=12, color=colors[p["model_key"]]),
                            hovertemplate="%{text}<br>cost %{x:.4g}<br>rating %{y:.0f} "
                                          "[%{customdata[0]:.0f}, %{customdata[1]:.0f}]<br>votes %{customdata[2]}"
                                          "<extra></extra>"))
    front = quality_front(points, "cost", "rating")
    if len(front) > 1:
        traces.append(trace("scatter", x=front["cost"], y=front["rating"], mode="lines", name="front",
                            line=dict(color="#111", dash="dash", width=2, shape="hv"), hoverinfo="skip"))
    note = ("one point per model: its Bradley–Terry rating from the arena's votes (1000 + 400·θ/ln 10; bars: "
            "bootstrap 95 % interval) against its mean cost; dashed: the front, where nothing is both cheaper "
            "and better rated")
    fig = layout(traces, title, x_title, "arena rating", note=note, height=520, legend="model",
                 margin=dict(t=120))
    if log:
        fig.update_xaxes(type="log")
    return fig


def category_win_rates(rates: pd.DataFrame) -> go.Figure:
    """Win rate (wins + ½ ties over games; both-bad votes left out) per model (rows) and prompt category (columns)."""
    title = "Arena win rate per model and prompt category"
    if rates is None or rates.empty:
        return empty_figure(title, "No votes yet (both-bad votes do not count as games).")
    table = rates.pivot_table(index="model_key", columns="category", values="win_rate", aggfunc="mean")
    games = rates.pivot_table(index="model_key", columns="category", values="games", aggfunc="sum").reindex_like(table)
    order = rates.groupby("model_key").apply(lambda g: (g["wins"].sum() + g["ties"].sum() / 2) / g["games"].sum(),
                                             include_groups=False).sort_values(ascending=False).index
    table, games = table.loc[order], games.loc[order]
    text = [[("" if pd.isna(v) else f"{v:.0%}<br>n={int(n)}") for v, n in zip(row, grow)]
            for row, grow in zip(table.to_numpy(), games.fillna(0).to_numpy())]
    note = "share of its games a model won (a tie counts half) in each prompt category; n: games; blank: none"
    fig = layout([trace("heatmap", z=table.to_numpy(), x=list(table.columns), y=list(table.index), zmin=0, zmax=1,
                        colorscale="RdBu", text=text, texttemplate="%{text}",
                        customdata=games.fillna(0).astype(int).to_numpy(), colorbar=dict(title=dict(text="win rate")),
                        hovertemplate="%{y} in %{x}<br>win rate %{z:.0%}<br>games %{customdata}<extra></extra>")],
                 title, "prompt category", "", note=note, height=max(320, ROW_PX * len(table) + 220),
                 margin=dict(l=10, t=110))
    fig.update_yaxes(autorange="reversed", automargin=True)
    return fig
