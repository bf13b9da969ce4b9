"""Sampler variants on the quickstart space, from the layer-fronts cache (sampler cost only).

Mimics the sweep (batches of one population, repeats re-asked) in memory
and prints the hypervolume fraction of the enumerated front at 300 trials,
mean and worst over seeds 0..N-1. The cache is bench_search.py's --cache.

    python benchmarks/bench_sampler_variants.py CACHE nsga2_32,nsga3_32 [SEEDS]
"""
import sys, pickle, time, warnings
from pathlib import Path
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / "benchmarks"))
import numpy as np, optuna
from optuna.trial import TrialState
optuna.logging.set_verbosity(optuna.logging.ERROR)
warnings.simplefilter("ignore")
from codesign.config import load_config
from codesign.search.settings import parse_search
from codesign.search.space import SearchSpace, grid_space
from codesign.search.fronts import outcome_from_fronts
from codesign.search.pareto import normalize
from _hv import hv3
cfg = load_config(ROOT / "configs" / "quickstart.yaml"); s = parse_search(cfg)
memo = pickle.load(open(sys.argv[1], "rb"))
space = SearchSpace(cfg, False); dists = space.flat()
hs = cfg.spaces[0]
table = {}
for a, (fr, _) in memo.items():
    o = outcome_from_fronts(cfg, a, fr, s.metrics, per_layer=True)
    table[a] = o
def vals(o):
    v = [o.metrics[m] for m in s.objectives]
    ok = o.fits == 0 and all(b.violation(o.metrics[b.metric]) <= 0 for b in s.constraints)
    return v, ok, {"fits": o.fits, **{b.name: (b.violation(o.metrics[b.metric]) if np.isfinite(o.metrics[b.metric]) else 0) for b in s.constraints}}
allv = np.array([vals(o)[0] for o in table.values() if vals(o)[1]])
lo, hi = allv.min(0), allv.max(0); hvt = hv3(normalize(allv, lo, hi))
print("designs", len(table), "feasible", len(allv))
def run(make, seed, n=300, batch=32, enqueue=()):
    st = optuna.create_study(directions=["minimize"]*3, sampler=make(seed))
    for p in enqueue: st.enqueue_trial(p)
    seen, pts, done = set(), [], 0
    while done < n:
        out, tries = [], 0
        while len(out) < min(batch, n - done):
            t = st.ask(dists); tries += 1
            k = tuple(sorted(t.params.items()))
            if k in seen and tries <= 3 * batch:
                st.tell(t, state=TrialState.FAIL); continue
            seen.add(k); out.append(t)
        for t in out:
            a = hs.arch_from(t.params)
            if a not in table: raise KeyError(a)
            v, ok, cons = vals(table[a])
            for kk, vv in cons.items(): t.set_constraint(kk, vv)
            st.tell(t, [x if np.isfinite(x) else 1e30 for x in v])
            if ok: pts.append(v)
        done += len(out)
    return hv3(normalize(np.array(pts), lo, hi)) / hvt
S = optuna.samplers
C = {
 "nsga2_32": lambda sd: S.NSGAIISampler(population_size=32, seed=sd),
 "nsga2_16": lambda sd: S.NSGAIISampler(population_size=16, seed=sd),
 "nsga2_24": lambda sd: S.NSGAIISampler(population_size=24, seed=sd),
 "nsga2_48": lambda sd: S.NSGAIISampler(population_size=48, seed=sd),
 "nsga2_32_mut0.4": lambda sd: S.NSGAIISampler(population_size=32, mutation_prob=0.4, seed=sd),
 "nsga3_32": lambda sd: S.NSGAIIISampler(population_size=32, seed=sd),
 "nsga3_16": lambda sd: S.NSGAIIISampler(population_size=16, seed=sd),
 "nsga3_24": lambda sd: S.NSGAIIISampler(population_size=24, seed=sd),
 "nsga3_48": lambda sd: S.NSGAIIISampler(population_size=48, seed=sd),
 "nsga3_32_cx5": lambda sd: S.NSGAIIISampler(population_size=32, crossover_prob=0.5, seed=sd),
 "nsga3_32_sw3": lambda sd: S.NSGAIIISampler(population_size=32, swapping_prob=0.3, seed=sd),
 "nsga3_32_mut3": lambda sd: S.NSGAIIISampler(population_size=32, mutation_prob=0.3, seed=sd),
 "nsga3_32_mut1": lambda sd: S.NSGAIIISampler(population_size=32, mutation_prob=0.1, seed=sd),
 "tpe_mv_liar": lambda sd: S.TPESampler(seed=sd, multivariate=True, constant_liar=True),
 "tpe_mv_liar_s20": lambda sd: S.TPESampler(seed=sd, multivariate=True, constant_liar=True, n_startup_trials=20),
 "tpe_liar": lambda sd: S.TPESampler(seed=sd, constant_liar=True),
}
from codesign.search.warm import spread
C["nsga2_32_spread"] = "spread"
C["nsga3_32_spread"] = "spread3"
NSEEDS = int(sys.argv[3]) if len(sys.argv) > 3 else 3
names = sys.argv[2].split(",") if len(sys.argv) > 2 else list(C)
for name in names:
    t0 = time.perf_counter()
    if C[name] == "spread":
        r = [run(C["nsga2_32"], sd, enqueue=spread(space, 32, sd)) for sd in range(NSEEDS)]
    elif C[name] == "spread3":
        r = [run(C["nsga3_32"], sd, enqueue=spread(space, 32, sd)) for sd in range(NSEEDS)]
    else:
        pop = int(name.split("_")[1]) if name.startswith("nsga") else 32
        r = [run(C[name], sd, batch=pop) for sd in range(NSEEDS)]
    print(f"{name:<20} mean {100*np.mean(r):.2f}% worst {100*min(r):.2f}%  {time.perf_counter()-t0:.0f}s", flush=True)
