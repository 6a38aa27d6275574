"""Draw docs/layers.png, the diagram of docs/walkthrough.md: the layers of sockweb, which may import
which, and the path of one request through them. Run: python docs/walkthrough_diagram.py (matplotlib)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

OUT = Path(__file__).with_name("layers.png")

# layer -> (x, y, width, height, colour, subtitle)
LAYERS = {
    "http": (
        0.6,
        0.4,
        5.0,
        1.3,
        "#dbeafe",
        "sans-io HTTP/1.1: bytes in, events out\nparser.py · response.py",
    ),
    "server": (
        0.6,
        2.4,
        2.3,
        1.6,
        "#dcfce7",
        "sockets, asyncio loop,\nWSGI environ, workers\nprotocol.py · wsgi.py",
    ),
    "web": (
        3.3,
        2.4,
        2.3,
        1.6,
        "#fef9c3",
        "toolkit: Request, Response,\nrouting, static files\nrouting/ · response.py",
    ),
    "web.dev": (0.6, 4.7, 2.3, 1.3, "#fce7f3", "dev server: reloader,\ndebugger"),
    "framework": (3.3, 4.7, 2.3, 1.3, "#ffedd5", "App, route, templates,\nsessions · app.py"),
    "demo": (3.3, 6.6, 2.3, 0.9, "#fde68a", "Shortly (framework/demo)"),
    "net": (0.6, 6.6, 2.3, 0.9, "#e5e7eb", "echo tools, stdlib only"),
}
# (importer, imported, lazy)
IMPORTS = [
    ("server", "http", False),
    ("web", "http", False),
    ("web.dev", "server", False),
    ("web.dev", "web", False),
    ("framework", "web", False),
    ("framework", "web.dev", True),
    ("demo", "framework", False),
]
# The request's journey, top to bottom: (layer, step)
STEPS = [
    ("server", "accept(): asyncio loop → HttpProtocol.connection_made"),
    ("server", "recv(): HttpProtocol.data_received(bytes)"),
    ("http", "RequestParser.feed / next_event → Request"),
    (
        "server",
        "head_environ → Exchange.run: app(environ, start_response),\n"
        "    inline on the loop or in the thread pool",
    ),
    ("framework", "App.wsgi_app → RequestContext (ContextVars)"),
    ("web", "MapAdapter.match(path, method) → endpoint, args"),
    ("framework", "view → render_template (Jinja2) → make_response"),
    ("web", "Response.__call__ → start_response(status, headers)"),
    ("http", "plan_response + BodyWriter: head and framed body"),
    ("server", "transport.write(): bytes on the wire; keep-alive or close"),
]


def centre(name: str) -> tuple[float, float]:
    x, y, w, h, *_ = LAYERS[name]
    return x + w / 2, y + h / 2


def edge_point(name: str, towards: tuple[float, float]) -> tuple[float, float]:
    """Where the line from the box centre towards a point leaves the box."""
    _, _, w, h, *_ = LAYERS[name]
    cx, cy = centre(name)
    dx, dy = towards[0] - cx, towards[1] - cy
    scale = min((w / 2) / abs(dx) if dx else float("inf"), (h / 2) / abs(dy) if dy else float("inf"))
    return cx + dx * scale, cy + dy * scale


def draw_layers(ax: plt.Axes) -> None:
    for name, (x, y, w, h, colour, subtitle) in LAYERS.items():
        ax.add_patch(
            FancyBboxPatch(
                (x, y),
                w,
                h,
                boxstyle="round,pad=0.02,rounding_size=0.12",
                facecolor=colour,
                edgecolor="#334155",
            )
        )
        ax.text(x + 0.15, y + h - 0.15, name, fontsize=12, fontweight="bold", va="top", color="#0f172a")
        ax.text(x + 0.15, y + h - 0.55, subtitle, fontsize=8.2, va="top", color="#334155", linespacing=1.3)
    for importer, imported, lazy in IMPORTS:
        start = edge_point(importer, centre(imported))
        end = edge_point(imported, centre(importer))
        ax.add_patch(
            FancyArrowPatch(
                start,
                end,
                arrowstyle="-|>",
                mutation_scale=14,
                color="#475569",
                linestyle=(0, (4, 3)) if lazy else "solid",
                linewidth=1.4,
                shrinkA=2,
                shrinkB=2,
            )
        )
    ax.text(0.6, 8.05, 'Layers: an arrow means "imports"', fontsize=13, fontweight="bold", color="#0f172a")
    ax.text(0.6, 7.72, "dashed: only inside a function (App.run → dev server)", fontsize=8.5, color="#475569")
    ax.set_xlim(0.3, 6.0)
    ax.set_ylim(0.1, 8.4)
    ax.axis("off")


def draw_journey(ax: plt.Axes) -> None:
    ax.text(
        0.0,
        1.035,
        "One request, accept() to view and back",
        fontsize=13,
        fontweight="bold",
        transform=ax.transAxes,
        color="#0f172a",
    )
    n = len(STEPS)
    top, bottom = 0.93, 0.05
    gap = (top - bottom) / (n - 1)
    for i, (layer, text) in enumerate(STEPS):
        y = top - i * gap
        colour = LAYERS[layer][4]
        ax.add_patch(
            FancyBboxPatch(
                (0.01, y - 0.036),
                0.19,
                0.072,
                boxstyle="round,pad=0.005,rounding_size=0.015",
                facecolor=colour,
                edgecolor="#334155",
                transform=ax.transAxes,
                clip_on=False,
            )
        )
        ax.text(
            0.105, y, layer, ha="center", va="center", fontsize=9, fontweight="bold", transform=ax.transAxes
        )
        ax.text(0.23, y, f"{i + 1}. {text}", va="center", fontsize=9, transform=ax.transAxes, color="#1e293b")
        if i < n - 1:
            ax.annotate(
                "",
                xy=(0.105, y - gap + 0.038),
                xytext=(0.105, y - 0.038),
                xycoords="axes fraction",
                arrowprops={"arrowstyle": "-|>", "color": "#64748b", "lw": 1.1},
            )
    ax.axis("off")


def main() -> None:
    fig = plt.figure(figsize=(13.5, 7.2), dpi=110)
    fig.patch.set_facecolor("white")
    draw_layers(fig.add_axes((0.02, 0.03, 0.4, 0.93)))
    draw_journey(fig.add_axes((0.45, 0.05, 0.53, 0.86)))
    fig.savefig(OUT, facecolor="white")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
