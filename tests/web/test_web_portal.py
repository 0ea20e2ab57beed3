"""The portal as a lab's daily tool, in real headless Chromium on the synthetic atlas: searches kept
in the URL, the CSV of a selection against ``Atlas.cells()``, keyboard-only range filtering, the
390 px layout, labelled controls and one ``<h1>`` per page, the styled 404 page, QC facets, the
sweep browser (grouped by stimulus kind, overlays), type pages, the compare view, the status page
and uploads ingested in the background."""

from __future__ import annotations

import csv
import io
import secrets
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from portal_browser import (
    CHROMIUM_ARGS,
    count,
    live_server,
    require_chromium,
    screenshot,
    set_axes,
    set_sort,
    wait_ready,
)

from patchatlas.atlas import Atlas
from patchatlas.atlas import portal as Q
from patchatlas.datasets.synthetic_atlas import SyntheticAtlas, build_synthetic_atlas
from patchatlas.web import create_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base_url(synth: SyntheticAtlas):
    with live_server(create_app(synth.url)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    exe = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(exe), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture()
def page(browser: Any):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    p = ctx.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    p.errors = errors
    yield p
    ctx.close()


def _card_ids(page: Any) -> list[str]:
    return page.eval_on_selector_all(".card", "els => els.map(e => e.dataset.cellId)")


def test_search_state_round_trips_through_the_url(
    base_url: str, page: Any, synth: SyntheticAtlas, tmp_path: Path
) -> None:
    page.goto(base_url + "/")
    wait_ready(page)
    page.check('input[data-col="species"][value="mouse"]')
    page.fill("#q", "sst")
    page.wait_for_function("() => new URL(location.href).searchParams.get('q') === 'sst'")
    set_axes(page, ["input_resistance", "rheobase"])
    page.fill('[data-range="rheobase"][data-end="0"]', "40")
    page.press('[data-range="rheobase"][data-end="0"]', "Enter")
    set_sort(page, "tau", descending=True)
    page.select_option("#per", "30")
    expected_n = count(page)
    assert 0 < expected_n < len(synth.cells)
    page1 = _card_ids(page)
    if expected_n > 30:
        page.click("#page-next")
    state_url = page.url
    ids = _card_ids(page)
    q = dict(pd.Series(dict(x.split("=", 1) for x in state_url.split("?", 1)[1].split("&"))))
    assert q["q"] == "sst" and q["sort"] == "tau" and q["desc"] == "true" and q["per"] == "30"
    assert "rheobase%3A40..&" in state_url + "&" or "rheobase:40.." in state_url
    # reload: everything comes back
    page.reload()
    wait_ready(page)
    assert page.url == state_url and count(page) == expected_n and _card_ids(page) == ids
    assert page.is_checked('input[data-col="species"][value="mouse"]')
    assert page.input_value("#q") == "sst" and page.input_value("#sort") == "tau"
    assert page.is_checked("#desc") and page.input_value("#per") == "30"
    assert page.input_value('[data-range="rheobase"][data-end="0"]') == "40"
    assert [a["name"] for a in page.evaluate("window.pcAxes")] == ["input_resistance", "rheobase"]
    # the page's selection is the API's selection with the same query
    api = page.evaluate(
        "q => fetch('/api/cells?' + q + '&limit=1000').then(r => r.json())",
        state_url.split("?", 1)[1],
    )
    assert api["total"] == expected_n
    # a pasted link in a fresh page
    page.goto(base_url + "/")
    wait_ready(page)
    assert count(page) == len(synth.cells)
    page.goto(state_url)
    wait_ready(page)
    assert count(page) == expected_n and _card_ids(page) == ids
    # Back walks through the earlier states
    page.goto(base_url + "/")
    wait_ready(page)
    page.check('input[data-col="layer"][value="5"]')
    n_l5 = count(page)
    page.check('input[data-col="species"][value="mouse"]')
    n_both = count(page)
    page.go_back()
    page.wait_for_function(
        '() => !document.querySelector(\'input[data-col="species"][value="mouse"]\').checked'
    )
    assert count(page) == n_l5 and page.is_checked('input[data-col="layer"][value="5"]')
    page.go_forward()
    page.wait_for_function(
        '() => document.querySelector(\'input[data-col="species"][value="mouse"]\').checked'
    )
    assert count(page) == n_both
    assert page1 and page.errors == []
    screenshot(page, tmp_path, "search_url_state")


def test_csv_download_matches_the_atlas(
    base_url: str, page: Any, synth: SyntheticAtlas, tmp_path: Path
) -> None:
    page.goto(base_url + "/?species=mouse&range=rheobase:50..150&axes=rheobase,tau")
    wait_ready(page)
    n = count(page)
    with page.expect_download() as dl:
        page.click("#csv")
    path = dl.value.path()
    text = Path(path).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    header = text.splitlines()[0].split(",")
    assert "rheobase (pA)" in header and "tau (s)" in header
    atlas = Atlas(synth.url, mode="r")
    cells = atlas.cells()
    feats = atlas.ephys_features("cell")
    atlas.close()
    rb = feats["rheobase"].reindex(cells.index)
    want = cells.index[(cells["species"] == "mouse") & (rb >= 50) & (rb <= 150)]
    assert len(rows) == n == len(want) > 0
    assert {r["cell_id"] for r in rows} == set(want)
    for r in rows:
        c = r["cell_id"]
        assert r["layer"] == (cells.at[c, "layer"] or "")
        assert r["t_type"] == (cells.at[c, "t_type"] or "")
        assert float(r["rheobase (pA)"]) == pytest.approx(feats.at[c, "rheobase"], rel=1e-5)
        assert float(r["tau (s)"]) == pytest.approx(feats.at[c, "tau"], rel=1e-5)
    # a cell's own features as CSV, beside NWB and SWC on its page
    cid = synth.trace_cells[0]
    page.goto(f"{base_url}/cells/{cid}")
    wait_ready(page)
    assert page.is_visible("#nwb-link") and page.is_visible("#swc-link")
    with page.expect_download() as dl:
        page.click("#csv-link")
    cell_rows = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text())))
    got = {r["name"]: float(r["value"]) for r in cell_rows if r["kind"] == "ephys"}
    assert got["rheobase"] == pytest.approx(feats.at[cid, "rheobase"], rel=1e-5)
    assert {r["unit"] for r in cell_rows if r["name"] == "rheobase"} == {"pA"}
    assert page.errors == []


def test_keyboard_only_range_filtering(base_url: str, page: Any, synth: SyntheticAtlas) -> None:
    page.goto(base_url + "/?axes=rheobase,tau")
    wait_ready(page)
    page.focus("#q")
    target = '[data-range="rheobase"][data-end="0"]'
    for _ in range(400):  # Tab through the page until the rheobase minimum has the focus
        if page.evaluate("s => document.activeElement.matches(s)", target):
            break
        page.keyboard.press("Tab")
    else:
        pytest.fail("the range inputs cannot be reached with Tab")
    page.keyboard.type("60")
    page.keyboard.press("Tab")
    page.keyboard.type("120")
    page.keyboard.press("Enter")
    r = synth.ephys["rheobase"]
    expected = int(((r >= 60) & (r <= 120)).sum())
    page.wait_for_function("n => +document.getElementById('count').textContent === n", arg=expected)
    assert 0 < expected < len(r)
    assert page.evaluate("window.patchatlasSearch.brushes.rheobase") == [60, 120]
    assert "range=rheobase%3A60..120" in page.url or "range=rheobase:60..120" in page.url
    assert page.errors == []


PAGES = [
    "/",
    "/cells/{trace}",
    "/cells/{trace}/morphology",
    "/cells/{plain}",
    "/types/index",
    "/types/t_type_family/Sst",
    "/compare?cells={trace}&cells={plain}",
    "/status",
    "/types",
    "/models",
    "/connectivity",
    "/features",
    "/no/such/page",
]

A11Y = """() => {
  const bad = [];
  const visible = (e) => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
  for (const e of document.querySelectorAll('input, select, textarea, button')) {
    if (!visible(e) || e.type === 'hidden') continue;
    const named = (e.labels && e.labels.length) || e.getAttribute('aria-label') ||
      e.getAttribute('aria-labelledby') || e.title ||
      (e.tagName === 'BUTTON' && e.textContent.trim());
    if (!named) bad.push(e.outerHTML.slice(0, 80));
  }
  for (const c of document.querySelectorAll('canvas')) {
    if (!visible(c)) continue;
    const owner = c.closest('[role=img]');
    if (!owner || !(owner.getAttribute('aria-label') || owner.getAttribute('aria-describedby')))
      bad.push(c.outerHTML.slice(0, 80));
  }
  return {bad, h1: document.querySelectorAll('h1').length,
          width: document.documentElement.scrollWidth, inner: window.innerWidth};
}"""


def test_every_page_fits_390px_with_labels_and_one_h1(
    base_url: str, browser: Any, synth: SyntheticAtlas, tmp_path: Path
) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    plain = next(c for c in synth.cells.index if c not in synth.trace_cells)
    try:
        for path in PAGES:
            url = base_url + path.format(trace=synth.trace_cells[0], plain=plain)
            page.goto(url)
            wait_ready(page)
            got = page.evaluate(A11Y)
            assert got["width"] <= got["inner"] == 390, (path, got["width"])
            assert got["h1"] == 1, path
            assert got["bad"] == [], (path, got["bad"])
            name = path.strip("/").split("?")[0].replace("/", "_") or "search"
            screenshot(page, tmp_path, f"mobile_{name}")
    finally:
        ctx.close()
    assert errors == []


def test_styled_404_without_server_paths(base_url: str, page: Any, synth: SyntheticAtlas) -> None:
    resp = page.goto(base_url + "/cells/no-such-cell")
    wait_ready(page)
    assert resp is not None and resp.status == 404
    assert page.inner_text("h1") == "Not found"
    html = page.content()
    body = page.inner_text("main")
    assert "no-such-cell" in body
    for leak in (str(Path(synth.url.removeprefix("sqlite:///")).parent), "sqlite", "atlas.cells()"):
        assert leak not in html
    assert page.is_visible("header.top nav")  # the portal's header and navigation
    api = page.evaluate("() => fetch('/api/cells/no-such-cell').then(r => r.json())")
    assert "sqlite" not in api["detail"] and "no-such-cell" in api["detail"]
    resp = page.goto(base_url + "/types/t_type/No such type")
    assert resp is not None and resp.status == 404 and page.inner_text("h1") == "Not found"


def test_qc_facet_and_flags(base_url: str, page: Any, synth: SyntheticAtlas) -> None:
    atlas = Atlas(synth.url, mode="r")
    summary = Q.qc_summary(atlas)
    atlas.close()
    n_failed = int((summary["n_failed"] > 0).sum())
    n_passed = int((summary["n_failed"] == 0).sum())
    page.goto(base_url + "/")
    wait_ready(page)
    assert n_failed + n_passed == len(synth.trace_cells)
    if n_failed:
        page.check('input[data-col="qc"][value="failed"]')
        assert count(page) == n_failed
        page.uncheck('input[data-col="qc"][value="failed"]')
    if n_passed:
        page.check('input[data-col="qc"][value="passed"]')
        assert count(page) == n_passed
        page.uncheck('input[data-col="qc"][value="passed"]')
    page.check('input[data-col="qc"][value="not checked"]')
    assert count(page) == len(synth.cells) - len(summary)
    # the cell page states its QC status
    cid = synth.trace_cells[0]
    page.goto(f"{base_url}/cells/{cid}")
    wait_ready(page)
    want = "failed" if summary.at[cid, "n_failed"] else "passed"
    assert page.inner_text("#qc-pill") == want
    assert page.errors == []


def test_sweep_browser_groups_by_kind_and_overlays(
    base_url: str, page: Any, synth: SyntheticAtlas
) -> None:
    cid = synth.trace_cells[0]
    table = Atlas(synth.url, mode="r").sweeps(cid).table
    kinds = table["kind"].astype(str)
    page.goto(f"{base_url}/cells/{cid}")
    wait_ready(page)
    page.wait_for_selector("#sweep-plot[data-overlaid]")
    # one option group per stimulus kind, holding exactly that kind's sweeps
    groups = page.eval_on_selector_all(
        "#sweep-select optgroup",
        "gs => gs.map(g => [g.label, g.querySelectorAll('option').length])",
    )
    assert dict(groups) == kinds.value_counts().to_dict()
    assert len(groups) >= 2
    # overlay: every sweep of the selected kind drawn (up to 8), each in the legend
    big = kinds.value_counts().idxmax()
    numbers = table.loc[kinds == big, "number"].tolist()
    first = page.eval_on_selector(f'#sweep-select optgroup[label="{big}"] option', "o => o.value")
    page.select_option("#sweep-select", first)
    page.check("#overlay")
    n = min(8, len(numbers))
    page.wait_for_function(
        "n => document.getElementById('sweep-plot').dataset.overlaid === String(n)", arg=n
    )
    assert f"{n} sweeps overlaid" in page.inner_text("#sweep-info")
    legend = page.inner_text("#sweep-plot")
    for k in numbers[:n]:
        assert f"sweep {k} (mV)" in legend
    # a kind with one sweep: nothing else to overlay
    single = [k for k, c in kinds.value_counts().items() if c == 1]
    if single:
        value = page.eval_on_selector(
            f'#sweep-select optgroup[label="{single[0]}"] option', "o => o.value"
        )
        page.select_option("#sweep-select", value)
        page.wait_for_function(
            "() => document.getElementById('sweep-plot').dataset.overlaid === '1'"
        )
        assert "overlaid" not in page.inner_text("#sweep-info")
    assert page.errors == []


def test_type_page_and_compare_view(
    base_url: str, page: Any, synth: SyntheticAtlas, tmp_path: Path
) -> None:
    from patchatlas.web.service import t_type_family

    sub = synth.cells.get("subclass", pd.Series(None, index=synth.cells.index, dtype=object))
    fam = t_type_family(sub, synth.cells["t_type"])
    page.goto(base_url + "/types/index")
    wait_ready(page)
    page.click('a[href="/types/t_type_family/Sst"]')
    wait_ready(page)
    assert int(page.inner_text("#type-count")) == int((fam == "Sst").sum())
    assert page.locator("#dists canvas[data-drawn]").count() >= 1
    assert page.locator("#examples tr").count() > 1
    screenshot(page, tmp_path, "type_page")
    page.click("#search-link")
    wait_ready(page)
    assert count(page) == int((fam == "Sst").sum())
    # compare: tick two cards, follow the link
    page.goto(base_url + "/?has_sweeps=true")
    wait_ready(page)
    a, b = synth.trace_cells[:2]
    page.check(f'input[data-compare="{a}"]')
    page.check(f'input[data-compare="{b}"]')
    page.click("#compare-link")
    wait_ready(page)
    assert page.locator("#cmp-table th").count() == 2 + 2
    assert page.get_attribute("#cmp-sweeps", "data-overlaid") == "2"
    assert page.locator("#cmp-morph canvas:not([hidden])").count() == 2
    screenshot(page, tmp_path, "compare")
    assert page.errors == []


def test_status_page_lists_failures(failed_url: str, browser: Any) -> None:
    with live_server(create_app(failed_url)) as base:
        page = browser.new_page()
        page.goto(base + "/status")
        wait_ready(page)
        assert page.inner_text("#n-failed") == "1"
        text = page.inner_text("#errors")
        assert "broken.abf" in text and "/tmp" not in text
        assert page.locator("#runs tr").count() == 2  # header + the one run
        page.close()


def test_upload_ingests_in_the_background(browser: Any, synth: SyntheticAtlas, tmp_path: Path):
    atlas_dir = tmp_path / "atlas"
    syn = build_synthetic_atlas(
        f"sqlite:///{atlas_dir / 'atlas.db'}",
        atlas_dir / "files",
        n_cells=6,
        n_trace_cells=0,
        n_swc_cells=0,
        n_pairs=0,
        seed=5,
    )
    token = secrets.token_urlsafe(16)
    (tmp_path / "token").write_text(token)
    swc = sorted(Path(synth.folder).rglob("*.swc"))[0]
    broken = tmp_path / "broken.abf"
    broken.write_bytes(b"ABF2" + b"\0" * 60)
    meta = tmp_path / "metadata.csv"
    meta.write_text(
        f"cell_id,file,species,layer\nnew_cell,{swc.name},mouse,5\nbad_cell,broken.abf,mouse,2/3\n"
    )
    app = create_app(syn.url, token_file=tmp_path / "token", refresh_s=0.2)
    with live_server(app) as base:
        page = browser.new_page()
        page.goto(base + "/upload")
        wait_ready(page)
        page.set_input_files("#files", [str(swc), str(broken)])
        page.set_input_files("#metadata", str(meta))
        page.fill("#token", token)
        page.click("button[type=submit]")
        page.wait_for_function("() => document.body.dataset.job", timeout=120_000)
        assert page.get_attribute("body", "data-job") == "done"
        assert "1 done" in page.inner_text("#job-text") and "1 failed" in page.inner_text(
            "#job-text"
        )
        assert "broken.abf" in page.inner_text("#job-failures")
        assert page.evaluate("document.getElementById('job-progress').value") == 2
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            info = page.evaluate("() => fetch('/api/cells/new_cell').then(r => r.json())")
            if info.get("has_morphology"):
                break
            time.sleep(0.3)
        assert info["layer"] == "5" and info["has_morphology"]
        # a wrong token is refused with a message, nothing ingested
        page.goto(base + "/upload")
        wait_ready(page)
        page.set_input_files("#files", [str(swc)])
        page.fill("#token", "wrong")
        page.click("button[type=submit]")
        page.wait_for_function("() => document.body.dataset.job")
        assert page.get_attribute("body", "data-job") == "refused"
        assert "401" in page.inner_text("#job-text")
        page.close()
