"""The BluePyOpt + NEURON baseline of ``benchmarks/biophys.py`` (runs in ``.venv-bluepyopt``).

Builds the Allen perisomatic model of specimen 464198958 the BluePyOpt way (``NrnFileMorphology``
with its axon replacement, ``NrnMODMechanism`` from the Allen .mod files compiled here with
``nrnivmodl``, the fit's passive parameters and reversal potentials as frozen parameters, the ten
somatic conductances free within the same bounds as the patchatlas side), the same step
protocols, eFEL features with the patchatlas targets, and runs ``DEAPOptimisation`` (IBEA, its
default) with a 2-process pool as ``map_function``. Prints one JSON line with the timings.

Usage (from benchmarks/biophys.py): ``.venv-bluepyopt/bin/python benchmarks/_bluepyopt_worker.py
CONFIG.json``. With ``cpu_sets`` in the config it times those parameter sets one at a time
(process CPU clock) instead of running the optimisations.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# eFEL names of the patchatlas fit features (the closest eFEL definitions)
EFEL = {
    "avg_rate": "mean_frequency",
    "peak_v": "peak_voltage",
    "fast_trough_v": "min_AHP_values",
    "v_baseline": "voltage_base",
    "width": "AP_width",
    "adapt": "adaptation_index2",
    "latency": "time_to_first_spike",
    "isi_cv": "ISI_CV",
    "mean_isi": "ISI_values",
    "first_isi": "inv_first_ISI",
}


def _compile(modfiles: str) -> str:
    d = tempfile.mkdtemp(prefix="bpo_mod_")
    for f in Path(modfiles).glob("*.mod"):
        shutil.copy(f, d)
    nrnivmodl = Path(sys.executable).parent / "nrnivmodl"
    subprocess.run([str(nrnivmodl), "."], cwd=d, check=True, capture_output=True)
    return d


def build(cfg: dict, *, cvode: bool):
    import bluepyopt.ephys as ephys

    fit = json.loads(Path(cfg["fit"]).read_text())
    passive, cond = fit["passive"][0], fit["conditions"][0]
    somatic = ephys.locations.NrnSeclistLocation("somatic", seclist_name="somatic")
    alls = ephys.locations.NrnSeclistLocation("all", seclist_name="all")
    regions = {
        "soma": ephys.locations.NrnSeclistLocation("somatic_r", seclist_name="somatic"),
        "axon": ephys.locations.NrnSeclistLocation("axonal", seclist_name="axonal"),
        "dend": ephys.locations.NrnSeclistLocation("basal", seclist_name="basal"),
        "apic": ephys.locations.NrnSeclistLocation("apical", seclist_name="apical"),
    }
    morph = ephys.morphologies.NrnFileMorphology(cfg["swc"], do_replace_axon=True)
    mech_names = sorted({g["mechanism"] for g in fit["genome"] if g["mechanism"]})
    mechs = [ephys.mechanisms.NrnMODMechanism("pas", suffix="pas", locations=[alls])]
    mechs += [
        ephys.mechanisms.NrnMODMechanism(m, suffix=m, locations=[somatic]) for m in mech_names
    ]
    P = ephys.parameters
    params = [
        P.NrnGlobalParameter("celsius", param_name="celsius", value=cond["celsius"], frozen=True),
        P.NrnGlobalParameter("v_init", param_name="v_init", value=cond["v_init"], frozen=True),
        P.NrnSectionParameter(
            "Ra", param_name="Ra", value=passive["ra"], locations=[alls], frozen=True
        ),
        P.NrnSectionParameter(
            "e_pas", param_name="e_pas", value=passive["e_pas"], locations=[alls], frozen=True
        ),
        P.NrnSectionParameter(
            "ena", param_name="ena", value=53.0, locations=[somatic], frozen=True
        ),
        P.NrnSectionParameter(
            "ek", param_name="ek", value=-107.0, locations=[somatic], frozen=True
        ),
    ]
    for c in passive["cm"]:
        params.append(
            P.NrnSectionParameter(
                f"cm.{c['section']}",
                param_name="cm",
                value=c["cm"],
                locations=[regions[c["section"]]],
                frozen=True,
            )
        )
    free = []
    for g in fit["genome"]:
        name = f"{g['name']}.{g['section']}"
        loc = [regions[g["section"]]]
        if name in cfg["bounds"]:
            lo, hi = cfg["bounds"][name]
            params.append(
                P.NrnSectionParameter(
                    name, param_name=g["name"], bounds=[lo, hi], locations=loc, frozen=False
                )
            )
            free.append(name)
        else:
            params.append(
                P.NrnSectionParameter(
                    name, param_name=g["name"], value=float(g["value"]), locations=loc, frozen=True
                )
            )
    cell = ephys.models.CellModel("peri", morph=morph, mechs=mechs, params=params)
    soma = ephys.locations.NrnSeclistCompLocation(
        "soma", seclist_name="somatic", sec_index=0, comp_x=0.5
    )
    protocols, objectives = {}, []
    delay_ms, tstop_ms = cfg["delay_s"] * 1e3, cfg["tstop_s"] * 1e3
    for k, t in enumerate(cfg["targets"]):
        name = f"step{k}"
        dur_ms = t["duration_s"] * 1e3
        stim = ephys.stimuli.NrnSquarePulse(
            step_amplitude=t["amplitude_pa"] * 1e-3,
            step_delay=delay_ms,
            step_duration=dur_ms,
            location=soma,
            total_duration=tstop_ms,
        )
        rec = ephys.recordings.CompRecording(name=f"{name}.soma.v", location=soma, variable="v")
        protocols[name] = ephys.protocols.SweepProtocol(name, [stim], [rec])
        for feat, (mean, sd) in t["features"].items():
            if feat not in EFEL:
                continue
            f = ephys.efeatures.eFELFeature(
                f"{name}.{EFEL[feat]}",
                efel_feature_name=EFEL[feat],
                recording_names={"": f"{name}.soma.v"},
                stim_start=delay_ms,
                stim_end=delay_ms + dur_ms,
                exp_mean=mean,
                exp_std=sd,
            )
            objectives.append(ephys.objectives.SingletonObjective(f.name, f))
    calc = ephys.objectivescalculators.ObjectivesCalculator(objectives)
    sim = ephys.simulators.NrnSimulator(dt=0.025, cvode_active=cvode)
    return ephys.evaluators.CellEvaluator(
        cell_model=cell,
        param_names=free,
        fitness_protocols=protocols,
        fitness_calculator=calc,
        sim=sim,
        # no subprocess per evaluation (its default): the pool's workers are daemonic, and
        # this is BluePyOpt's fastest setting
        isolate_protocols=False,
    )


_EV = None


def _eval(x):
    return _EV.evaluate_with_lists(x)


def main() -> None:
    import bluepyopt as bpopt
    import neuron

    cfg = json.loads(Path(sys.argv[1]).read_text())
    neuron.load_mechanisms(_compile(cfg["modfiles"]))
    out = {"bluepyopt": bpopt.__version__, "neuron": neuron.__version__, "runs": []}
    global _EV
    if cfg.get("cpu_sets"):  # CPU time per evaluation, one at a time in this process
        out["cpu"] = []
        for cvode in (False, True):
            _EV = build(cfg, cvode=cvode)
            sets = [[d[name] for name in _EV.param_names] for d in cfg["cpu_sets"]]
            _eval(sets[0])  # warm
            c0, w0 = time.process_time(), time.perf_counter()
            for x in sets:
                _eval(x)
            n = len(sets)
            out["cpu"].append(
                {
                    "cvode": cvode,
                    "cpu_s": (time.process_time() - c0) / n,
                    "wall_s": (time.perf_counter() - w0) / n,
                }
            )
        print(json.dumps(out))
        return
    for cvode in (False, True):
        _EV = build(cfg, cvode=cvode)
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(cfg["workers"]) as pool:
            mid = [[(lo * hi) ** 0.5 for lo, hi in (cfg["bounds"][n] for n in _EV.param_names)]]
            pool.map(_eval, mid * cfg["workers"])  # warm the workers
            opt = bpopt.optimisations.DEAPOptimisation(
                evaluator=_EV, offspring_size=cfg["population"], map_function=pool.map, seed=1
            )
            t0 = time.perf_counter()
            _pop, _hof, log, _hist = opt.run(max_ngen=cfg["generations"])
            wall = time.perf_counter() - t0
        nevals = int(sum(r["nevals"] for r in log))
        out["runs"].append(
            {"cvode": cvode, "evaluations": nevals, "seconds": wall, "evals_per_s": nevals / wall}
        )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
