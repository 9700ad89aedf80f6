"""Slow textbook references written from the equations in docs/optimizers.md and the class docstrings (float64, plain formulas)."""

from __future__ import annotations

import torch


def depth_of(groups, gi, pi):
    d = groups[gi].get("layer_depth")
    if d is not None:
        return d
    order = [(i, j) for i, g in enumerate(groups) for j in range(len(g["params"]))]
    n = len(order)
    return 0.0 if n == 1 else order.index((gi, pi)) / (n - 1)


def base_direction(base, theta, g, st, hp, lr, wd, maximize):
    """Return (theta', d) with the base step theta_hat = theta' - lr * d."""
    if maximize:
        g = -g
    if base == "sgd":
        g = g + wd * theta
        mu = hp["momentum"]
        if mu != 0:
            if "buf" not in st:
                st["buf"] = g.clone()
            else:
                st["buf"] = mu * st["buf"] + (1 - hp["dampening"]) * g
            d = g + mu * st["buf"] if hp["nesterov"] else st["buf"]
        else:
            d = g
        return theta, d
    b1, b2 = hp["betas"]
    st["t"] = st.get("t", 0) + 1
    t = st["t"]
    theta = theta * (1 - lr * wd)
    st["m"] = b1 * st.get("m", torch.zeros_like(theta)) + (1 - b1) * g
    st["v"] = b2 * st.get("v", torch.zeros_like(theta)) + (1 - b2) * g * g
    v = st["v"]
    if hp.get("amsgrad", False):
        st["vmax"] = torch.maximum(st.get("vmax", torch.zeros_like(theta)), v)
        v = st["vmax"]
    d = (st["m"] / (1 - b1**t)) / (torch.sqrt(v / (1 - b2**t)) + hp["eps"])
    return theta, d


class Reference:
    """method in {'dualopt','spd','random','hybrid','l2sp'}; groups: list of dicts of float64
    tensors (cloned) and full hyper-parameters (incl. 'lr', 'initial_lr' optional)."""

    def __init__(self, method, base, groups):
        self.method, self.base = method, base
        self.groups = [dict(g, params=[p.detach().clone() for p in g["params"]]) for g in groups]
        self.state = [[{} for _ in g["params"]] for g in self.groups]

    def step(self, grads, scale=1.0):
        for gi, g in enumerate(self.groups):
            lr = g["lr"]
            lr0 = g.get("initial_lr", lr)
            for pi, theta in enumerate(g["params"]):
                grad = grads[gi][pi]
                if grad is None:
                    continue
                st = self.state[gi][pi]
                pre = g.get("pretrained", True)
                maximize = g.get("maximize", False)
                wd = g["weight_decay"]
                m = self.method
                anchored = pre and (m in ("spd", "l2sp") or (m == "dualopt" and g["mode"] == "finetune"))
                if anchored and "anchor" not in st:
                    st["anchor"] = theta.clone()
                a = st.get("anchor")
                if m == "dualopt" and g["mode"] == "scratch":
                    wd = 0.0
                if m == "l2sp" and pre:
                    gs = -grad if maximize else grad
                    grad = gs + g["sp_alpha"] * (theta - a)
                    maximize = False
                if m == "spd" and pre:
                    gs = -grad if maximize else grad
                    c = -torch.sum(gs * (theta - a))
                    prev = torch.sqrt(torch.sum((theta - a) ** 2))
                s_t = scale if g.get("max_scale") is None else min(scale, g["max_scale"])
                th1, d = base_direction(self.base, theta, grad, st, g, lr, wd, maximize)
                if m == "hybrid":
                    gam = g["gamma"]
                    if g["variant"] == "abs":
                        dm = g["lr_out"] * th1.abs() * torch.tanh(g["lr_in"] * d)
                    else:
                        dm = th1 - th1 * torch.pow(2.0, -torch.sign(th1) * g["lr_out"] * torch.tanh(g["lr_in"] * d))
                    new = th1 - gam * dm - (1 - gam) * lr * d
                else:
                    new = th1 - lr * d
                if m == "random" and g.get("random_scaling", True):
                    new = theta + s_t * (new - theta)  # s_t times the whole displacement
                if m == "dualopt":
                    dep = depth_of(self.groups, gi, pi)
                    if g["mode"] == "finetune" and pre:
                        r = g["rollback_min"] + (g["rollback"] - g["rollback_min"]) * (1 - dep) ** g["rollback_power"]
                        lam = (lr / lr0) * r
                        new = new - lam * (new - a)
                    elif g["mode"] == "scratch":
                        s = g["decay_min"] + (1 - g["decay_min"]) * dep ** g["decay_power"]
                        new = (1 - lr * g["weight_decay"] * s) * new
                if m == "spd" and pre:
                    nn_ = torch.sqrt(torch.sum((new - a) ** 2))
                    r = min(max(((nn_ - prev) / (nn_ + g.get("projection_eps", 1e-12))).item(), 0.0), 1.0)
                    if c.item() < 0:
                        new = new - g["projection_decay"] * r * (new - a)
                g["params"][pi] = new

    def params(self):
        return [p for g in self.groups for p in g["params"]]
