"""Real-browser tests: headless Debian chromium (Playwright, no download) against a live server
on the synthetic atlas. Screenshots go to the test's temporary folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from portal_browser import (
    browser_page,
    count,
    drag_on_axis,
    live_server,
    require_chromium,
    screenshot,
    set_axes,
    set_sort,
    wait_ready,
)

from patchatlas.datasets.synthetic_atlas import SyntheticAtlas
from patchatlas.web import create_app
from patchatlas.web.service import t_type_family

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base_url(synth: SyntheticAtlas):
    with live_server(create_app(synth.url)) as url:
        yield url


@pytest.fixture(scope="module")
def chromium() -> Path:
    return require_chromium()


def test_search_facets_narrow_the_cards(
    base_url: str, chromium: Path, synth: SyntheticAtlas, tmp_path: Path
) -> None:
    cells = synth.cells
    with browser_page(chromium) as page:
        page.goto(base_url + "/")
        wait_ready(page)
        n = len(cells)
        assert count(page) == n
        assert page.locator(".card").count() == min(n, 60)
        page.check('input[data-col="species"][value="human"]')
        human = int((cells["species"] == "human").sum())
        assert count(page) == human
        ids = page.eval_on_selector_all(".card", "els => els.map(e => e.dataset.cellId)")
        assert len(ids) == human and set(ids) <= set(cells.index[cells["species"] == "human"])
        page.uncheck('input[data-col="species"][value="human"]')
        fam = t_type_family(
            cells["subclass"] if "subclass" in cells else cells["t_type"] * np.nan, cells["t_type"]
        )
        page.check('input[data-col="t_type_family"][value="Sst"]')
        page.check('input[data-col="layer"][value="5"]')
        expected = int(((fam == "Sst") & (cells["layer"] == "5")).sum())
        assert count(page) == expected < n
        # the facet counts update live: with Sst chosen, the layer list counts Sst cells only
        n_l4 = page.inner_text('[data-count="layer|4"]')
        assert int(n_l4) == int(((fam == "Sst") & (cells["layer"] == "4")).sum())
        # data availability
        page.click("#reset")
        page.check('input[data-avail="has_sweeps"]')
        assert count(page) == len(synth.trace_cells)
        screenshot(page, tmp_path, "search_facets")
        assert page.errors == []


def test_search_brushing(
    base_url: str, chromium: Path, synth: SyntheticAtlas, tmp_path: Path
) -> None:
    with browser_page(chromium) as page:
        page.goto(base_url + "/")
        wait_ready(page)
        set_axes(page, ["input_resistance", "rheobase", "tau", "ap_width"])
        drag_on_axis(page, "input_resistance", 0.55, 0.85)
        lo, hi = page.evaluate("window.patchatlasSearch.brushes['input_resistance']")
        x = synth.ephys["input_resistance"]
        expected = int(((x >= lo) & (x <= hi)).sum())
        assert 0 < count(page) == expected < len(x)
        shown = page.evaluate("window.patchatlasSearch.selected()")
        assert all(lo <= x[c] <= hi for c in shown)
        # a second brush intersects
        drag_on_axis(page, "rheobase", 0.5, 1.0)
        lo2, hi2 = page.evaluate("window.patchatlasSearch.brushes['rheobase']")
        r = synth.ephys["rheobase"]
        both = int(((x >= lo) & (x <= hi) & (r >= lo2) & (r <= hi2)).sum())
        assert count(page) == both
        # sort the cards by a feature, descending
        set_sort(page, "rheobase", descending=True)
        ids = page.eval_on_selector_all(".card", "els => els.map(e => e.dataset.cellId)")
        vals = [r[c] for c in ids]
        assert vals == sorted(vals, reverse=True)
        screenshot(page, tmp_path, "search_brushed")
        # clicking the axis clears its brush
        axes = page.evaluate("window.pcAxes")
        ax = next(a for a in axes if a["name"] == "rheobase")
        box = page.locator("#pc").bounding_box()
        scale = box["width"] / page.evaluate("document.getElementById('pc').width")
        page.mouse.click(box["x"] + ax["x"] * scale, box["y"] + (ax["top"] + 5) * scale)
        assert count(page) == expected
        assert page.errors == []


def _nonblank(page, selector: str) -> int:
    return page.evaluate(
        """sel => { const c = document.querySelector(sel); const d = c.getContext('2d')
            .getImageData(0, 0, c.width, c.height).data; let n = 0;
            for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }""",
        selector,
    )


def test_cell_page_shows_sweeps(
    base_url: str, chromium: Path, synth: SyntheticAtlas, tmp_path: Path
) -> None:
    cid = synth.trace_cells[0]
    with browser_page(chromium) as page:
        page.goto(f"{base_url}/cells/{cid}")
        wait_ready(page)
        plot = page.locator("#sweep-plot")
        assert int(plot.get_attribute("data-points")) > 100
        # the markers are the stored spikes of the sweep shown, all in its stimulus window here
        n_stored = int(plot.get_attribute("data-spikes"))
        assert n_stored > 0 and int(plot.get_attribute("data-spikes-in-window")) == n_stored
        assert f"{n_stored} spikes in the stimulus window" in page.inner_text("#sweep-info")
        assert "stored analysis" in page.inner_text("#sweep-info")
        assert "stored spike" in page.inner_text("#phase-info")
        assert _nonblank(page, "#sweep-plot canvas") > 1000
        assert _nonblank(page, "#stim-plot canvas") > 500
        assert int(page.get_attribute("#fi", "data-drawn")) >= 5
        assert int(page.get_attribute("#phase", "data-drawn")) > 10
        assert page.locator("#features table").first.locator("tr").count() == 1 + 9
        assert "rheobase" in page.inner_text("#features")
        screenshot(page, tmp_path, "cell_page")
        # browse to the previous sweep
        before = page.inner_text("#sweep-info")
        page.click("#prev")
        page.wait_for_function(
            "b => document.getElementById('sweep-info').textContent !== b", arg=before
        )
        assert page.errors == []


def test_morphology_renders(
    base_url: str, chromium: Path, synth: SyntheticAtlas, tmp_path: Path
) -> None:
    cid = synth.swc_cells[0]
    with browser_page(chromium) as page:
        page.goto(f"{base_url}/cells/{cid}/morphology")
        wait_ready(page)
        for pid in ("#proj-xy", "#proj-zy", "#proj-xz"):
            assert int(page.get_attribute(pid, "data-segments")) > 300
            assert _nonblank(page, pid) > 500
        colours = page.evaluate(
            """() => { const c = document.getElementById('proj-xy'); const d = c.getContext('2d')
                .getImageData(0, 0, c.width, c.height).data; const s = new Set();
                for (let i = 0; i < d.length; i += 4)
                    if (d[i+3] > 200) s.add(d[i] + ',' + d[i+1] + ',' + d[i+2]);
                return [...s]; }"""
        )
        # axon blue, basal red, apical magenta all drawn
        assert {"37,99,235", "220,38,38", "192,38,211"} <= set(colours)
        screenshot(page, tmp_path, "morphology")
        assert page.errors == []
        # stored as layer-aligned: the x-y and z-y views draw the 7 layer boundaries
        assert page.get_attribute("#proj-xy", "data-layers") == "7"
        assert page.get_attribute("#proj-zy", "data-layers") == "7"
        assert page.get_attribute("#proj-xz", "data-layers") is None
        assert "layer-aligned view" in (page.text_content("#cap-xy") or "")


def test_morphology_without_alignment_keeps_the_note(
    base_url: str, chromium: Path, synth: SyntheticAtlas
) -> None:
    with browser_page(chromium) as page:
        page.goto(f"{base_url}/cells/{synth.swc_cells[1]}/morphology")
        wait_ready(page)
        assert int(page.get_attribute("#proj-xy", "data-segments")) > 300
        assert page.get_attribute("#proj-xy", "data-layers") is None
        assert "when the reconstruction is aligned" in (page.text_content("#cap-xy") or "")
        assert page.errors == []


@pytest.mark.parametrize("path", ["/types", "/models", "/connectivity", "/features", "/docs"])
def test_other_pages_load(base_url: str, chromium: Path, tmp_path: Path, path: str) -> None:
    with browser_page(chromium) as page:
        page.goto(base_url + path)
        if path == "/docs":
            page.wait_for_selector(".opblock", timeout=30_000)
            assert page.locator(".opblock").count() > 15
        else:
            wait_ready(page)
        if path == "/connectivity":
            assert page.locator("#matrix td.mx").count() > 0
            assert int(page.get_attribute("#distance", "data-drawn")) > 0
        if path == "/models":
            assert page.locator("#models tr").count() > 1
        if path == "/types":
            assert int(page.get_attribute("#groups", "data-drawn")) > 0
        screenshot(page, tmp_path, path.strip("/"))
        assert page.errors == []


def test_empty_atlas_with_failures_in_the_browser(
    failed_url: str, chromium: Path, tmp_path: Path
) -> None:
    with live_server(create_app(failed_url)) as base, browser_page(chromium) as page:
        page.goto(base + "/")
        wait_ready(page)
        assert count(page) == 0
        notice = page.inner_text("#ingest-failures")
        assert "1 file failed to ingest" in notice and "patchatlas atlas errors sqlite:" in notice
        assert page.is_visible("#ingest-failures")
        screenshot(page, tmp_path, "search_ingest_failed")
        assert page.errors == []
