"""experiments/coupling.md: the traffic <-> mobility dependency model on Hangzhou held-out users.

Part 1 (inference): fit :class:`zen.coupling.CouplingModel` on the training users of
``data=hangzhou`` (K signatures and K=1, "no signature"), then on the held-out users infer

* A  — the mobility state of every located slot from the traffic side only;
* A2 — the mobility state of a random half of the located slots from the traffic side plus the
  user's mobility in the other half (filling in);
* B  — low vs high traffic of every active slot from the mobility side;

against the majority class and the per-slot marginal (most likely state given the slot's other
side and 4-hour period, no memory, from the training users), and, for A2, the user's own most
frequent observed state. 95 % intervals: bootstrap over held-out users.

Part 2 (generation, with ``--synthetic`` dataset folders): per-user Spearman correlations of
traffic x mobility slot features (zen.evaluation.coupling), each sample against the held-out
users, with the floor (training users) and its bootstrap spread.

    python scripts/coupling.py [--folds 5] [--synthetic coupled=DIR none=DIR] [--json out.json]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from zen.api import compose
from zen.coupling import CouplingModel
from zen.coupling.model import joint_masks, slot_periods
from zen.measures.slots import MOBILITY_FEATURES, TRAFFIC_FEATURES, slot_features, slot_grid
from zen.stages.common import load_real

BOOT = 2000
#: the traffic x mobility pairs experiments/coupling.md follows (Spearman rho across users)
PAIRS = [("active_slot_share", "cell_changes_per_slot"), ("night_share", "home_slot_share"),
         ("events_per_active_slot", "moving_slot_share"), ("events_per_slot", "distinct_cells"),
         ("events_per_slot", "cell_entropy")]


def boot_ci(correct: np.ndarray, total: np.ndarray, rng: np.random.Generator) -> tuple[float, float, float]:
    """Pooled accuracy and its 95 % bootstrap interval over users (``[users]`` counts)."""
    idx = rng.integers(0, len(total), (BOOT, len(total)))
    acc = correct[idx].sum(axis=1) / np.maximum(total[idx].sum(axis=1), 1)
    return float(correct.sum() / total.sum()), float(np.quantile(acc, 0.025)), float(np.quantile(acc, 0.975))


def per_user(pred: np.ndarray, truth: np.ndarray, where: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return ((pred == truth) & where).sum(axis=1), where.sum(axis=1)


def marginal_table(grid, traffic, period, target: str) -> np.ndarray:
    """Most likely target state per (period, other side's state) on the training users."""
    obs = grid.mobility >= 0
    p = np.broadcast_to(period, grid.events.shape)[obs]
    m, t = grid.mobility[obs], traffic[obs]
    if target == "mobility":
        table = np.zeros((p.max() + 1, 3, 4))
        np.add.at(table, (p, t, m), 1)
    else:
        table = np.zeros((p.max() + 1, 4, 3))
        np.add.at(table, (p, m, t), 1)
        table[..., 0] = -1  # only low vs high is inferred
    return table.argmax(axis=2)


def inference_counts(tr, ho, k: int, seed: int) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Per held-out user (correct, total) of every method on every task, fitted on ``tr``."""
    rng = np.random.default_rng(seed)
    models = {f"chain K={k}": CouplingModel.fit(tr.records, tr.start, tr.days, tr.antennas, n_signatures=k,
                                                seed=seed),
              "chain K=1 (no signature)": CouplingModel.fit(tr.records, tr.start, tr.days, tr.antennas,
                                                            n_signatures=1, seed=seed)}
    ref = next(iter(models.values()))
    gt, g = (slot_grid(d.records, d.start, d.days, d.antennas) for d in (tr, ho))
    feats = slot_features(ho.records, ho.start, ho.days, ho.antennas, grid=g)
    t_tr, t_ho = gt.traffic(ref.high_from), g.traffic(ref.high_from)
    period = slot_periods(g.slot_hour, ref.period_hours)
    located, active = g.mobility >= 0, g.events > 0
    hide = located & (rng.random(located.shape) < 0.5)
    shown = np.where(hide, -1, g.mobility)
    majority_m = np.bincount(gt.mobility[gt.mobility >= 0], minlength=4).argmax()
    majority_t = 1 + np.bincount(t_tr[gt.events > 0], minlength=3)[1:].argmax()
    marg_m = marginal_table(gt, t_tr, slot_periods(gt.slot_hour, ref.period_hours), "mobility")
    marg_t = marginal_table(gt, t_tr, slot_periods(gt.slot_hour, ref.period_hours), "traffic")
    P = np.broadcast_to(period, g.events.shape)
    own = np.array([np.bincount(shown[u][shown[u] >= 0], minlength=4).argmax() if (shown[u] >= 0).any()
                    else majority_m for u in range(len(g.users))])
    preds: dict[str, dict[str, np.ndarray]] = {"A": {}, "A2": {}, "B": {}}
    for task in preds:
        preds[task]["majority"] = np.full(g.events.shape, majority_m if task != "B" else majority_t)
    preds["A"]["marginal (slot, period)"] = marg_m[P, t_ho]
    preds["A2"]["marginal (slot, period)"] = marg_m[P, t_ho]
    preds["A2"]["user's own most frequent"] = np.broadcast_to(own[:, None], g.events.shape)
    preds["B"]["marginal (slot, period)"] = marg_t[P, np.maximum(g.mobility, 0)]
    for name, model in models.items():
        sig_t, sig_m = model.signatures(feats, TRAFFIC_FEATURES), model.signatures(feats, MOBILITY_FEATURES)
        preds["A"][name] = model.infer_mobility(g, sig_t).argmax(axis=2)
        gamma = model.chain.posterior(joint_masks(shown, t_ho), sig_t, period)
        preds["A2"][name] = gamma.reshape(*gamma.shape[:2], 4, 3).sum(axis=3).argmax(axis=2)
        preds["B"][name] = 1 + model.infer_traffic(g, sig_m)[..., 1:].argmax(axis=2)
    truth = {"A": (g.mobility, located), "A2": (g.mobility, hide), "B": (t_ho, active)}
    return {task: {name: per_user(pred, *truth[task]) for name, pred in by.items()}
            for task, by in preds.items()}


def summarise(counts: dict, k: int, seed: int) -> dict:
    """Pooled accuracies with bootstrap intervals, and the chain's paired gain over the best baseline."""
    out = {}
    chain = f"chain K={k}"
    for task, by in counts.items():
        out[task] = {"slots": int(next(iter(by.values()))[1].sum())}
        for name, (c, n) in by.items():
            acc, lo, hi = boot_ci(c, n, np.random.default_rng(seed + 1))
            out[task][name] = {"accuracy": acc, "ci95": [lo, hi]}
        base = max((b for b in by if not b.startswith("chain")), key=lambda b: out[task][b]["accuracy"])
        idx = np.random.default_rng(seed + 2).integers(0, len(by[chain][1]), (BOOT, len(by[chain][1])))
        n = by[chain][1][idx].sum(axis=1)
        gain = (by[chain][0][idx].sum(axis=1) - by[base][0][idx].sum(axis=1)) / np.maximum(n, 1)
        out[task]["chain minus best baseline"] = {
            "baseline": base, "gain": out[task][chain]["accuracy"] - out[task][base]["accuracy"],
            "ci95": [float(np.quantile(gain, 0.025)), float(np.quantile(gain, 0.975))]}
    return out


def inference(data, split, k: int, seed: int, folds: int = 0) -> dict:
    """The configured split (``folds=0``) or ``folds``-fold cross-validation over all users."""
    if not folds:
        counts = inference_counts(data.subset(split.train), data.subset(split.holdout), k, seed)
        return {"users": {"train": len(split.train), "holdout": len(split.holdout)}, "signatures": k,
                **summarise(counts, k, seed)}
    users = np.random.default_rng(seed).permutation(data.user_ids)
    parts = [inference_counts(data.subset(np.setdiff1d(users, fold)), data.subset(np.sort(fold)), k, seed)
             for fold in np.array_split(users, folds)]
    counts = {task: {name: tuple(np.concatenate([p[task][name][i] for p in parts]) for i in (0, 1))
                     for name in parts[0][task]} for task in parts[0]}
    return {"users": {"folds": folds, "all": len(users)}, "signatures": k, **summarise(counts, k, seed)}


def correlations(data, split, synthetic: dict[str, str], seed: int) -> dict:
    from zen.evaluation.coupling import coupling_distance, floor_spread, sample_features
    from zen.io.dataset import read_dataset

    def pairs(sample) -> dict[str, float]:
        f = sample_features(sample)
        return {f"{a} x {b}": float(f[[a, b]].corr(method="spearman").iloc[0, 1]) for a, b in PAIRS}

    tr, ho = data.subset(split.train), data.subset(split.holdout)
    out = {"floor (training users)": coupling_distance(tr, ho), "floor spread": floor_spread(tr, ho, seed),
           "pairs": {"held-out real": pairs(ho), "training real": pairs(tr)}}
    for label, folder in synthetic.items():
        ds = read_dataset(folder)
        out[label] = coupling_distance(ds, ho)
        out["pairs"][label] = pairs(ds)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--signatures", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--folds", type=int, default=0, help="k-fold cross-validation (0: the split)")
    ap.add_argument("--synthetic", nargs="*", default=[], help="label=dataset folder")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    data, split = load_real(compose("train", ["data=hangzhou"]).data)
    result = {"inference": inference(data, split, args.signatures, args.seed, args.folds)}
    if args.synthetic:
        result["correlations"] = correlations(data, split, dict(s.split("=", 1) for s in args.synthetic),
                                              args.seed)
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
