"""Optimizer step time and state memory on the ResNet-50 parameter list (1 thread, fp32).

Measures every optimizer of ``dualopt_mm.optim`` (for-loop, foreach and fused paths where
supported) and torch's SGD / AdamW (for-loop, foreach, fused) in the same process, and writes
``results/perf/optim_step.md`` and ``.json``. Each row is timed interleaved with torch's fused
optimizer of the same base (alternating steps), and its ratio is taken within that run, so
machine-load drift affects both sides alike.

    python tools/bench_optim.py [--steps 30] [--warmup 5] [--out results/perf] [--only SPD] [--tiny]
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import dualopt_mm.optim as O  # noqa: E402


def resnet50_shapes() -> list[tuple[int, ...]]:
    """The 161 parameter shapes of torchvision's resnet50 (25,557,032 values), built by hand."""
    shapes = [(64, 3, 7, 7), (64,), (64,)]
    inplanes = 64
    for planes, blocks in [(64, 3), (128, 4), (256, 6), (512, 3)]:
        for b in range(blocks):
            width, out = planes, planes * 4
            shapes += [(width, inplanes, 1, 1), (width,), (width,),
                       (width, width, 3, 3), (width,), (width,),
                       (out, width, 1, 1), (out,), (out,)]
            if b == 0:
                shapes += [(out, inplanes, 1, 1), (out,), (out,)]
            inplanes = out
    shapes += [(1000, 2048), (1000,)]
    return shapes


BASE_KW = {"sgd": dict(lr=0.01, momentum=0.9), "adamw": dict(lr=1e-3)}
# a variant runs with the base's usual decay (what e.g. DualOpt's scratch mode moves out of it)
VARIANT_DECAY = {"sgd": 1e-4, "adamw": 0.05}


# (label, factory(params, impl_kwargs), base, target ratio or None, entry or None)
def candidates():
    """torch's SGD / AdamW, then every optimizer of the listing (``OPTIMIZERS_INFO``) and the
    variants its stages name; the target is the largest step budget of its stages."""
    out = [("torch SGD", lambda p, k: torch.optim.SGD(p, **BASE_KW["sgd"], **k), "sgd", None, None),
           ("torch AdamW", lambda p, k: torch.optim.AdamW(p, **BASE_KW["adamw"], **k), "adamw", None,
            None)]
    for e in O.OPTIMIZERS_INFO.values():
        stages = e.cls._stages
        budgets = [s.budget for s in stages if s.budget is not None]
        rows = [("", dict(seed=0) if e.random else {})]
        rows += [(f" {v}", dict(kw, weight_decay=VARIANT_DECAY[e.base]))
                 for s in stages for v, kw in s.variants.items()]
        for suffix, extra in rows:
            out.append((e.name + suffix, lambda p, k, e=e, extra=extra: e.cls(
                p, **BASE_KW[e.base], **extra, **k), e.base, max(budgets) if budgets else None, e))
    return out


def state_bytes(opt) -> int:
    n = 0
    for st in opt.state.values():
        for v in st.values():
            if torch.is_tensor(v) and v.dim() > 0:
                n += v.numel() * v.element_size()
    return n


def _setup(make, shapes, seed=0):
    gen = torch.Generator().manual_seed(seed)
    params = [torch.randn(s, generator=gen).mul_(0.05).requires_grad_() for s in shapes]
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen).mul_(1e-3)
    return params, make(params)


def time_pair(make_ref, make, shapes, steps, warmup) -> dict:
    """Time ``make``'s step interleaved with the reference's (torch fused, same base).

    Steps alternate (reference, candidate, reference, ...), so both see the same machine
    load; the ratios are taken from this one run: of the medians, and of the minima.
    """
    ref_params, ref = _setup(make_ref, shapes)
    params, opt = _setup(make, shapes)
    t_ref, t = [], []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        ref.step()
        t1 = time.perf_counter()
        opt.step()
        t2 = time.perf_counter()
        if i >= warmup:
            t_ref.append(t1 - t0)
            t.append(t2 - t1)
    nparam = sum(p.numel() for p in params)
    sb = state_bytes(opt)
    del opt, params, ref, ref_params
    gc.collect()
    med, med_ref = statistics.median(t), statistics.median(t_ref)
    return dict(median_ms=med * 1e3, min_ms=min(t) * 1e3, ref_median_ms=med_ref * 1e3,
                ref_min_ms=min(t_ref) * 1e3, ratio=med / med_ref, ratio_min=min(t) / min(t_ref),
                state_bytes_per_param=sb / nparam)


WHY = {
    "DualOptSGD": "the rollback is a separate lerp pass (read theta and the anchor, write theta: "
                  "12 B/param) after torch's fused SGD kernel (20 B/param), run per tensor "
                  "while it is in cache; fusing it into the kernel needs a custom kernel.",
    "DualOptSGD scratch": "met without the check; the default's finite check (one read of "
                          "every gradient) on top of the decay multiply (8 B/param) tips it over.",
    "DualOptAdamW": "the rollback lerp (12 B/param) after the fused AdamW kernel (28 B/param); "
                    "only the default's finite check tips it over.",
    "DualOptAdamW scratch": "the real-time decay multiply (8 B/param) after the fused AdamW "
                            "kernel.",
    "L2SPSGD": "g - alpha*theta0 must be built in a work buffer (read g and the anchor, write: "
               "12 B/param) before the fused SGD kernel, which adds the coupled alpha*theta.",
    "L2SPAdamW": "the same gradient build (12 B/param) before the fused Adam kernel.",
    "SPDSGD": "per tensor: theta - theta0 twice (before and after the base step), an inner "
              "product, two norms and the projection: 5 extra passes (~52 B/param) plus ~13 "
              "small gate ops per tensor; one pass would need a custom kernel.",
    "SPDAdamW": "the same 5 extra passes and gate ops around the fused AdamW kernel.",
    "RandomScaledSGD": "the scaling is free (lr*s into the fused kernel); only the default "
                       "finite-gradient check (one read of every gradient) costs.",
    "RandomScaledAdamW": "as RandomScaledSGD; the check is a smaller share of an AdamW step.",
    "HybridSGD": "the multiplicative part needs tanh(lr_in d) (as sigmoid: ~1x a fused SGD step "
                 "of pure compute), |theta| and the product: 4 extra passes after the fused "
                 "kernel.",
    "HybridAdamW": "as HybridSGD, plus d = m_hat/(sqrt(v_hat)+eps) rebuilt from the moments "
                   "(2 more passes).",
}


def _why(label: str) -> str:
    return WHY.get(label, "")


def _verdict(r_def: float, r_ign, tgt: float) -> str:
    if r_def <= tgt:
        return "met"
    if r_ign is not None and r_ign <= tgt:
        return f"met with nonfinite='ignore'; default misses by {100 * (r_def / tgt - 1):.0f}%"
    miss = min(r_def, r_ign) if r_ign is not None else r_def
    return f"**missed** by {100 * (miss / tgt - 1):.0f}%"


def render(data: dict) -> str:
    meta, rows = data["meta"], data["rows"]
    md = [f"# Optimizer step time, ResNet-50 parameter list ({meta['date']})", "",
          f"Machine: {meta['machine']} ({meta['cpu_capability']}), torch {meta['torch']}, "
          f"{meta['threads']} thread, {meta['tensors']} tensors / {meta['values'] / 1e6:.2f} M fp32 "
          f"values. Every row is timed interleaved with torch's fused optimizer of the same base "
          f"(alternating steps, {meta['steps']} timed after {meta['warmup']} warm-up), and its "
          "ratio is taken within that run: median / reference median, and min / reference min. "
          "Extra state = bytes/param beyond torch's optimizer of the same base. Absolute times "
          "drift on this shared VM (another job trains on the second core); compare ratios. "
          "Default settings check gradients for non-finite values (nonfinite='skip'); "
          "'nonfinite=ignore' is torch's behaviour (no check).", "",
          "## Targets (fastest path of each optimizer vs torch fused)", "",
          "| optimizer (path) | target | default | nonfinite=ignore | ignore, ratio of minima "
          "| extra state B/param | verdict |",
          "|---|---:|---:|---:|---:|---:|---|"]
    labels = []
    for r in rows:
        base_label = r["optimizer"].replace(" nonfinite=ignore", "").replace(" anchor bf16", "")
        if r["target"] and base_label not in labels:
            labels.append(base_label)
    notes = []
    for lab in labels:
        mine = [r for r in rows if r["optimizer"] == lab]
        ign = [r for r in rows if r["optimizer"] == lab + " nonfinite=ignore"]
        bf = [r for r in rows if r["optimizer"] == lab + " anchor bf16"]
        best = min(mine, key=lambda r: r["ratio"])
        same_path_ign = [r for r in ign if r["path"] == best["path"]]
        best_i = min(ign, key=lambda r: r["ratio"]) if ign else None
        best_i = same_path_ign[0] if same_path_ign else best_i
        tgt = best["target"]
        extra = best["extra_state_bytes_per_param"]
        extra_s = f"{extra:.1f}" + (f" (bf16 anchors: {bf[0]['extra_state_bytes_per_param']:.1f})"
                                    if bf else "")
        r_def = best["ratio"]
        r_ign = best_i["ratio"] if best_i else None
        verdict = _verdict(r_def, r_ign, tgt)
        r_min = (best_i or best)["ratio_min"]
        md.append(f"| {lab} ({best['path']}) | <= {tgt} | {r_def:.2f} | "
                  f"{'' if r_ign is None else f'{r_ign:.2f}'} | {r_min:.2f} | {extra_s} | {verdict} |")
        if verdict != "met":
            notes.append(f"- **{lab}**: {_why(lab)}")
    sanity = [r for r in rows if r["optimizer"].startswith("torch") and r["path"] == "fused"]
    md += ["", "Noise: torch fused timed against itself gives "
           + ", ".join(f"{r['optimizer']} {r['ratio']:.2f}" for r in sanity)
           + " (ideal 1.00). The finite-gradient check of the default reads every gradient once "
           "(one multi-tensor kernel, one host sync): about +0.4 of a fused SGD step and +0.25 of "
           "a fused AdamW step on this CPU; under GradScaler it is redundant "
           "(nonfinite='ignore').",
           "", "Why a target is missed (one reason each):", ""] + notes + [
        "", "Extra state is exactly the anchors (4 B/param fp32, 2 B/param bf16) for anchored "
        "methods and nothing for the others; work buffers are not state.", "",
        "## All measurements", "",
        "| optimizer | path | median ms | torch fused median ms (same run) | ratio | ratio of "
        "minima | state B/param | extra B/param |",
        "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        md.append(f"| {r['optimizer']} | {r['path']} | {r['median_ms']:.2f} | "
                  f"{r['ref_median_ms']:.2f} | {r['ratio']:.2f} | {r['ratio_min']:.2f} | "
                  f"{r['state_bytes_per_param']:.1f} | {r['extra_state_bytes_per_param']:.1f} |")
    return "\n".join(md) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=os.path.join("results", "perf"))
    ap.add_argument("--machine", default="2-core CPU cloud VM")
    ap.add_argument("--only", default=None, help="substring filter on labels (quick runs)")
    ap.add_argument("--render", default=None, help="only re-render the .md from this .json")
    ap.add_argument("--tiny", action="store_true",
                    help="a few small tensors instead of ResNet-50 (checks that the tool runs)")
    args = ap.parse_args(argv)
    if args.render:
        os.makedirs(args.out, exist_ok=True)
        with open(args.render) as f:
            md = render(json.load(f))
        with open(os.path.join(args.out, "optim_step.md"), "w") as f:
            f.write(md)
        print(md)
        return
    torch.set_num_threads(args.threads)
    shapes = [(8, 3, 3, 3), (8,), (10, 8)] if args.tiny else resnet50_shapes()
    nparams = sum(torch.Size(s).numel() for s in shapes)
    print(f"{'tiny' if args.tiny else 'ResNet-50'} parameter list: {len(shapes)} tensors, "
          f"{nparams / 1e6:.2f} M values, fp32, "
          f"{args.threads} thread(s); {args.steps} steps after {args.warmup} warm-up, each "
          "interleaved with torch fused")

    refs = {"sgd": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, fused=True),
            "adamw": lambda p: torch.optim.AdamW(p, lr=1e-3, fused=True)}
    ref_state = {"sgd": 4.0, "adamw": 8.0}
    paths = [("for-loop", dict(foreach=False)), ("foreach", dict(foreach=True)),
             ("fused", dict(fused=True))]
    rows = []
    for label, factory, base, target, entry in candidates():
        if args.only and args.only not in label and not label.startswith("torch"):
            continue
        for path, kw in paths:
            variants = [("", {})]
            if entry and (path == "fused" or not entry.supports_foreach):
                # the finite-gradient guard of the default nonfinite='skip' costs one read of the
                # gradients; 'ignore' is torch's behaviour (and right under GradScaler)
                variants.append((" nonfinite=ignore", dict(nonfinite="ignore")))
                probe = factory([torch.zeros(1, requires_grad=True)], {})
                if any(probe._group_anchored(g) for g in probe.param_groups):
                    variants.append((" anchor bf16", dict(anchor_dtype=torch.bfloat16)))
            for vname, vkw in variants:
                try:
                    res = time_pair(refs[base], lambda p: factory(p, {**kw, **vkw}), shapes,
                                    args.steps, args.warmup)
                except (ValueError, RuntimeError) as e:
                    if "not supported" in str(e) or "fused" in str(e):
                        continue
                    raise
                res.update(optimizer=label + vname, base=base, path=path, target=target,
                           default_settings=(vname == ""),
                           extra_state_bytes_per_param=0.0)
                res["extra_state_bytes_per_param"] = res["state_bytes_per_param"] - ref_state[base]
                res["ratio_to_torch_fused"] = res["ratio"]
                rows.append(res)
                print(f"{label + vname:38s} {path:9s} {res['median_ms']:8.2f} ms (ref "
                      f"{res['ref_median_ms']:6.2f})  ratio {res['ratio']:5.2f}  min-ratio "
                      f"{res['ratio_min']:5.2f}  state {res['state_bytes_per_param']:4.1f} B/param",
                      flush=True)

    meta = dict(machine=args.machine, torch=torch.__version__, python=platform.python_version(),
                threads=args.threads, date=datetime.date.today().isoformat(),
                cpu_capability=torch.backends.cpu.get_cpu_capability(),
                tensors=len(shapes), values=nparams, steps=args.steps, warmup=args.warmup,
                method="interleaved with torch fused of the same base")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "optim_step.json"), "w") as f:
        json.dump(dict(meta=meta, rows=rows), f, indent=1)
    md = render(dict(meta=meta, rows=rows))
    with open(os.path.join(args.out, "optim_step.md"), "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
