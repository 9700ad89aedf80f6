"""Optimizer step time and state memory on the ResNet-50 parameter list (1 thread, fp32).

Measures every optimizer of ``dualopt_mm.optim`` (for-loop, foreach and fused paths where
supported) and torch's SGD / AdamW (for-loop, foreach, fused) in the same process, and writes
``results/perf/optim_step.md`` and ``.json``. Ratios are taken against torch's fused optimizer
of the same base, measured in the same run.

    python tools/bench_optim.py [--steps 40] [--warmup 5] [--out results/perf]
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


# (label, factory(params, impl_kwargs), base, target ratio or None)
def candidates():
    sgd = dict(lr=0.01, momentum=0.9)
    adamw = dict(lr=1e-3)
    return [
        ("torch SGD", lambda p, k: torch.optim.SGD(p, **sgd, **k), "sgd", None),
        ("torch AdamW", lambda p, k: torch.optim.AdamW(p, **adamw, **k), "adamw", None),
        ("DualOptSGD", lambda p, k: O.DualOptSGD(p, **sgd, **k), "sgd", 1.5),
        ("DualOptSGD scratch", lambda p, k: O.DualOptSGD(p, **sgd, mode="scratch", weight_decay=1e-4, **k), "sgd", 1.5),
        ("DualOptAdamW", lambda p, k: O.DualOptAdamW(p, **adamw, **k), "adamw", 1.5),
        ("DualOptAdamW scratch", lambda p, k: O.DualOptAdamW(p, **adamw, mode="scratch", weight_decay=0.05, **k), "adamw", 1.5),
        ("L2SPSGD", lambda p, k: O.L2SPSGD(p, **sgd, **k), "sgd", 1.5),
        ("L2SPAdamW", lambda p, k: O.L2SPAdamW(p, **adamw, **k), "adamw", 1.5),
        ("SPDSGD", lambda p, k: O.SPDSGD(p, **sgd, **k), "sgd", 2.0),
        ("SPDAdamW", lambda p, k: O.SPDAdamW(p, **adamw, **k), "adamw", 2.0),
        ("RandomScaledSGD", lambda p, k: O.RandomScaledSGD(p, **sgd, seed=0, **k), "sgd", 1.1),
        ("RandomScaledAdamW", lambda p, k: O.RandomScaledAdamW(p, **adamw, seed=0, **k), "adamw", 1.1),
        ("HybridSGD", lambda p, k: O.HybridSGD(p, **sgd, **k), "sgd", 2.5),
        ("HybridAdamW", lambda p, k: O.HybridAdamW(p, **adamw, **k), "adamw", 2.5),
    ]


def state_bytes(opt) -> int:
    n = 0
    for st in opt.state.values():
        for v in st.values():
            if torch.is_tensor(v) and v.dim() > 0:
                n += v.numel() * v.element_size()
    return n


def time_steps(make, shapes, steps, warmup, seed=0) -> tuple[float, float, float]:
    gen = torch.Generator().manual_seed(seed)
    params = [torch.randn(s, generator=gen).mul_(0.05).requires_grad_() for s in shapes]
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen).mul_(1e-3)
    opt = make(params)
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        opt.step()
        t1 = time.perf_counter()
        if i >= warmup:
            times.append(t1 - t0)
    nparam = sum(p.numel() for p in params)
    sb = state_bytes(opt)
    del opt, params
    gc.collect()
    return statistics.median(times) * 1e3, min(times) * 1e3, sb / nparam


WHY = {
    "DualOpt": "the rollback is one extra in-place pass (lerp: read theta and the anchor, write "
               "theta, 12 B/param) after torch's fused kernel (SGD: 20 B/param, AdamW: 28 B/param); "
               "on this memory-bound CPU that is +60% of an SGD step and +43% of an AdamW step. "
               "Fusing it into the base kernel needs a custom kernel (not pure PyTorch).",
    "L2SP": "builds g - alpha*anchor in one pass (12 B/param plus a fresh temporary per tensor) "
            "before torch's fused kernel, which then adds the coupled alpha*theta; the temporary "
            "and the extra pass cost about as much as SGD's whole fused step.",
    "SPD": "needs the inner product <g, theta - theta0> and two norms ||theta - theta0|| (before "
           "and after the base step) and the projection: ~5 extra memory passes, each a "
           "separate PyTorch op; a single fused kernel would need custom code.",
    "RandomScaled": "the scaling itself is free (lr*s into torch's fused kernel); the default "
                    "nonfinite='skip' guard reads every gradient once (one sum per tensor, one "
                    "host sync) before the step.",
    "Hybrid": "tanh over 25.6 M values alone costs ~65 ms on this CPU (5x a fused SGD step), plus "
              "|theta|, the product and the additive part; there is no fused kernel to reuse "
              "(the direction d must be materialised).",
}


def _why(label: str) -> str:
    for k, v in WHY.items():
        if label.startswith(k):
            return v
    return ""


def render(data: dict) -> str:
    meta, rows = data["meta"], data["rows"]
    md = [f"# Optimizer step time, ResNet-50 parameter list ({meta['date']})", "",
          f"Machine: {meta['machine']} ({meta['cpu_capability']}), torch {meta['torch']}, "
          f"{meta['threads']} thread, {meta['tensors']} tensors / {meta['values'] / 1e6:.2f} M fp32 "
          f"values, median of {meta['steps']} steps after {meta['warmup']} warm-up. Ratio = median "
          "/ torch's fused optimizer of the same base, same run. Extra state = bytes/param beyond "
          "torch's optimizer of the same base. Absolute times drift on this shared VM; compare "
          "ratios. Default settings check gradients for non-finite values (nonfinite='skip'); "
          "'nonfinite=ignore' is torch's behaviour (no check).", "",
          "## Targets (fastest path of each optimizer vs torch fused)", "",
          "| optimizer | target | default | nonfinite=ignore | ignore, ratio of min times | extra state B/param | verdict |",
          "|---|---:|---:|---:|---:|---:|---|"]
    ref_min = {r["base"]: r["min_ms"] for r in rows
               if r["optimizer"] in ("torch SGD", "torch AdamW") and r["path"] == "fused"}
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
        best = min(mine, key=lambda r: r["ratio_to_torch_fused"])
        best_i = min(ign, key=lambda r: r["ratio_to_torch_fused"]) if ign else None
        tgt = best["target"]
        extra = best["extra_state_bytes_per_param"]
        extra_s = f"{extra:.1f}" + (f" (bf16 anchors: {bf[0]['extra_state_bytes_per_param']:.1f})" if bf else "")
        r_def = best["ratio_to_torch_fused"]
        r_ign = best_i["ratio_to_torch_fused"] if best_i else None
        if r_def <= tgt:
            verdict = "met"
        elif r_ign is not None and r_ign <= tgt:
            verdict = f"met with nonfinite='ignore'; default misses by {100 * (r_def / tgt - 1):.0f}%"
        else:
            miss = min(r_def, r_ign) if r_ign is not None else r_def
            verdict = f"**missed** by {100 * (miss / tgt - 1):.0f}%"
        r_min = (best_i or best)["min_ms"] / ref_min[best["base"]]
        md.append(f"| {lab} ({best['path']}) | <= {tgt} | {r_def:.2f} | "
                  f"{'' if r_ign is None else f'{r_ign:.2f}'} | {r_min:.2f} | {extra_s} | {verdict} |")
        if verdict != "met":
            notes.append(f"- **{lab}**: {_why(lab)}")
    md += ["", "Timing noise on this shared 2-core VM is +-20% between runs (see the min column; "
           "a slow torch-fused reference median inflates or deflates every ratio of its base). "
           "DualOpt scratch's extra pass is a multiply (8 B/param) rather than a lerp.",
           "", "Why targets are missed:", ""] + notes + [
        "", "Extra state is exactly the anchors (4 B/param fp32, 2 B/param bf16) for anchored "
        "methods and nothing for the others; work buffers are not state.", "",
        "## All measurements", "",
        "| optimizer | path | median ms | ratio to torch fused | state B/param | extra B/param |",
        "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        md.append(f"| {r['optimizer']} | {r['path']} | {r['median_ms']:.2f} | "
                  f"{r['ratio_to_torch_fused']:.2f} | {r['state_bytes_per_param']:.1f} | "
                  f"{r['extra_state_bytes_per_param']:.1f} |")
    return "\n".join(md) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=os.path.join("results", "perf"))
    ap.add_argument("--machine", default="2-core CPU cloud VM")
    ap.add_argument("--only", default=None, help="substring filter on labels (quick runs)")
    ap.add_argument("--render", default=None, help="only re-render the .md from this .json")
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
    shapes = resnet50_shapes()
    nparams = sum(torch.Size(s).numel() for s in shapes)
    print(f"ResNet-50 parameter list: {len(shapes)} tensors, {nparams / 1e6:.2f} M values, fp32, "
          f"{args.threads} thread(s); median of {args.steps} steps after {args.warmup} warm-up")

    paths = [("for-loop", dict(foreach=False)), ("foreach", dict(foreach=True)),
             ("fused", dict(fused=True))]
    rows = []
    for label, factory, base, target in candidates():
        if args.only and args.only not in label and not label.startswith("torch"):
            continue
        for path, kw in paths:
            variants = [("", {})]
            if not label.startswith("torch") and (path == "fused" or "Hybrid" in label):
                # the finite-gradient guard of the default nonfinite='skip' costs one read of the
                # gradients; 'ignore' is torch's behaviour (and right under GradScaler)
                variants.append((" nonfinite=ignore", dict(nonfinite="ignore")))
                anchored = ("DualOpt" in label and "scratch" not in label) or "SPD" in label or "L2SP" in label
                if anchored:
                    variants.append((" anchor bf16", dict(anchor_dtype=torch.bfloat16)))
            for vname, vkw in variants:
                try:
                    med, best, bpp = time_steps(lambda p: factory(p, {**kw, **vkw}), shapes,
                                                args.steps, args.warmup)
                except (ValueError, RuntimeError) as e:
                    if "not supported" in str(e) or "fused" in str(e):
                        continue
                    raise
                rows.append(dict(optimizer=label + vname, base=base, path=path, median_ms=med,
                                 min_ms=best, state_bytes_per_param=bpp, target=target,
                                 default_settings=(vname == "")))
                print(f"{label + vname:38s} {path:9s} {med:8.2f} ms  (min {best:7.2f})  "
                      f"state {bpp:4.1f} B/param", flush=True)

    ref = {r["base"]: r["median_ms"] for r in rows
           if r["optimizer"] in ("torch SGD", "torch AdamW") and r["path"] == "fused"}
    ref_state = {r["base"]: r["state_bytes_per_param"] for r in rows
                 if r["optimizer"] in ("torch SGD", "torch AdamW") and r["path"] == "fused"}
    for r in rows:
        r["ratio_to_torch_fused"] = r["median_ms"] / ref[r["base"]] if r["base"] in ref else None
        r["extra_state_bytes_per_param"] = r["state_bytes_per_param"] - ref_state.get(r["base"], 0.0)

    meta = dict(machine=args.machine, torch=torch.__version__, python=platform.python_version(),
                threads=args.threads, date=datetime.date.today().isoformat(),
                cpu_capability=torch.backends.cpu.get_cpu_capability(),
                tensors=len(shapes), values=nparams, steps=args.steps, warmup=args.warmup)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "optim_step.json"), "w") as f:
        json.dump(dict(meta=meta, rows=rows), f, indent=1)
    md = render(dict(meta=meta, rows=rows))
    with open(os.path.join(args.out, "optim_step.md"), "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
