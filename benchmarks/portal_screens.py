"""Screenshots of every page type of the portal, in headless Chromium, into benchmarks/screens/.

    PYTHONPATH=src .venv/bin/python benchmarks/portal_screens.py [--shared ../shared/data]

Three atlases: the real Patch-seq tables (M1, V1, Lee 2023, Berg 2021, imported with the
harmonised vocabulary), a synthetic atlas with trace and SWC files (sweeps, compare view), and
one real Allen SWC ingested through the pipeline (3-D viewer). Built in a temporary folder.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "web"))

from portal_browser import CHROMIUM, CHROMIUM_ARGS, live_server, wait_ready  # noqa: E402

from patchatlas.atlas import Atlas  # noqa: E402
from patchatlas.datasets import published  # noqa: E402
from patchatlas.datasets.synthetic_atlas import build_synthetic_atlas  # noqa: E402
from patchatlas.pipeline import ingest  # noqa: E402
from patchatlas.web import create_app  # noqa: E402

REAL = {
    "m1_scala2021": "m1_scala2021",
    "v1_gouwens2020": "v1_gouwens2020_ephys_only",
    "lee2023": "human_lee2023_gaba_ephys_only",
    "berg2021": "human_berg2021_L23_ephys_only",
}
SWC = "morphology/allen_swc/Pvalb-IRES-Cre_Ai14_IVSCC_-172096.04.02.01_471781218_m.swc"


def shots(url: str, pages: list[tuple[str, str, int]], out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with live_server(create_app(url)) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for name, path, width in pages:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(base + path)
            wait_ready(page, 90_000)
            page.wait_for_timeout(300)
            page.screenshot(path=str(out / f"{name}.png"), full_page=True)
            print(f"{name}.png  {path}  ({width} px)")
            page.close()
        browser.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=HERE.parent.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=HERE / "screens")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        real = f"sqlite:///{t / 'real.db'}"
        atlas = Atlas(real)
        for name, folder in REAL.items():
            published.import_dataset(atlas, name, args.shared / "patchseq" / folder)
        cells = atlas.cells()
        atlas.close()
        m1 = next(c for c in cells.index if c.startswith("2018") and cells.at[c, "t_type"])
        shots(
            real,
            [
                ("portal_search", "/", 1400),
                (
                    "portal_search_state",
                    "/?species=mouse&t_type_family=Sst&axes=ri,tau,vrest,threshold_i_long_square"
                    "&range=ri:150..400&sort=tau&desc=true",
                    1400,
                ),
                ("portal_patchseq_cell", f"/cells/{m1}", 1400),
                ("portal_types_index", "/types/index", 1400),
                ("portal_type_page", "/types/subclass/Pvalb", 1400),
                ("portal_status", "/status", 1400),
                ("portal_404", "/cells/no-such-cell", 1400),
                ("portal_mobile_search", "/?dataset=berg2021&per=30", 390),
                ("portal_mobile_cell", f"/cells/{m1}", 390),
            ],
            args.out,
        )
        syn = build_synthetic_atlas(f"sqlite:///{t / 'syn.db'}", t / "files", n_cells=120, seed=7)
        a, b, c = syn.trace_cells[:3]
        shots(
            syn.url,
            [
                ("portal_cell_page", f"/cells/{a}", 1400),
                ("portal_compare", f"/compare?cells={a}&cells={b}&cells={c}", 1400),
                ("portal_upload", "/upload", 1400),
                ("portal_models", "/models", 1400),
                ("portal_connectivity", "/connectivity", 1400),
                ("portal_features", "/features", 1400),
                ("portal_expression_physiology", "/types", 1400),
            ],
            args.out,
        )
        src = args.shared / SWC
        (t / "swc").mkdir()
        shutil.copy(src, t / "swc" / src.name)
        url = f"sqlite:///{t / 'swc.db'}"
        ingest(t / "swc", url)
        shots(url, [("portal_morphology_3d", f"/cells/{src.stem}/morphology", 1400)], args.out)


if __name__ == "__main__":
    main()
