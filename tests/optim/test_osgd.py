"""OSGD: orthogonality, priority order, K=1, and an end-to-end multi-exit network."""

import pytest
import torch
from torch import nn

from dualopt_mm.optim import orthogonalize_gradients, osgd_backward

F64 = torch.float64


def _r(*s, seed=0):
    return torch.randn(*s, generator=torch.Generator().manual_seed(seed), dtype=F64)


def _vs(gs):
    """Per-task v_k for a single tensor (the test's own Gram-Schmidt)."""
    vs = []
    for g in gs:
        v = g.clone()
        for vl in vs:
            if vl.dot(vl) > 1e-20:
                v = v - g.dot(vl) / vl.dot(vl) * vl
        vs.append(v)
    return vs


@pytest.mark.parametrize("granularity", ["tensor", "global"])
def test_orthogonality_and_first_task_priority(granularity):
    gs = [[_r(7, seed=k), _r(3, 2, seed=10 + k)] for k in range(4)]
    G = orthogonalize_gradients(gs, granularity=granularity)
    flat = lambda tl: torch.cat([t.reshape(-1) for t in tl])  # noqa: E731
    if granularity == "global":
        vs = _vs([flat(tg) for tg in gs])
        for k in range(4):
            for l in range(k):
                assert abs(vs[k].dot(vs[l])) < 1e-10
        torch.testing.assert_close(flat(G), sum(vs), rtol=0, atol=1e-12)
        g1 = flat(gs[0])
        torch.testing.assert_close(flat(G).dot(g1), g1.dot(g1), rtol=1e-12, atol=0)
    else:
        for i in range(2):
            vs = _vs([tg[i].reshape(-1) for tg in gs])
            assert torch.equal(vs[0], gs[0][i].reshape(-1))  # v_1 = g_1
            for k in range(4):
                for l in range(k):
                    assert abs(vs[k].dot(vs[l])) < 1e-10
            torch.testing.assert_close(G[i].reshape(-1), sum(vs), rtol=0, atol=1e-12)
            g1 = gs[0][i].reshape(-1)
            torch.testing.assert_close(G[i].reshape(-1).dot(g1), g1.dot(g1), rtol=1e-12, atol=0)


def test_priority_order_matters_and_parallel_task_vanishes():
    g1, g2 = _r(5, seed=1), _r(5, seed=2)
    a = orthogonalize_gradients([[g1], [g2]])[0]
    b = orthogonalize_gradients([[g2], [g1]])[0]
    assert not torch.allclose(a, b)
    # g2 = c g1  =>  v2 = 0  =>  G = g1
    G = orthogonalize_gradients([[g1], [-3.0 * g1]])[0]
    torch.testing.assert_close(G, g1, rtol=0, atol=1e-12)


def test_orthogonal_tasks_sum_and_single_task_raw_and_unused():
    e1 = torch.tensor([1.0, 0.0, 0.0], dtype=F64)
    e2 = torch.tensor([0.0, 2.0, 0.0], dtype=F64)
    G = orthogonalize_gradients([[e1, None, _r(2)], [e2, _r(4, seed=3), None], [None, None, None]])
    torch.testing.assert_close(G[0], e1 + e2)
    assert torch.equal(G[1], _r(4, seed=3))  # reached by one task only: its raw gradient
    assert torch.equal(G[2], _r(2))
    assert orthogonalize_gradients([[None], [None]]) == [None]


def test_zero_first_task_is_skipped():
    z, g = torch.zeros(4, dtype=F64), _r(4)
    torch.testing.assert_close(orthogonalize_gradients([[z], [g]])[0], g)


def test_k1_equals_sgd():
    torch.manual_seed(0)
    net_a = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    net_b = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    net_b.load_state_dict(net_a.state_dict())
    oa = torch.optim.SGD(net_a.parameters(), lr=0.1, momentum=0.9)
    ob = torch.optim.SGD(net_b.parameters(), lr=0.1, momentum=0.9)
    for t in range(10):
        x = _r(16, 4, seed=t)
        oa.zero_grad()
        osgd_backward([net_a(x).pow(2).mean()], net_a.parameters())
        oa.step()
        ob.zero_grad()
        net_b(x).pow(2).mean().backward()
        ob.step()
    for pa, pb in zip(net_a.parameters(), net_b.parameters()):
        assert torch.equal(pa, pb)


class MultiExit(nn.Module):
    """trunk -> exit1 ; trunk -> block2 -> exit2 (a tiny anytime network)."""

    def __init__(self):
        super().__init__()
        self.trunk = nn.Linear(3, 4)
        self.exit1 = nn.Linear(4, 1)
        self.block2 = nn.Linear(4, 4)
        self.exit2 = nn.Linear(4, 1)

    def forward(self, x):
        h = torch.tanh(self.trunk(x))
        return self.exit1(h), self.exit2(torch.tanh(self.block2(h)))


@pytest.mark.parametrize("granularity", ["tensor", "global"])
def test_end_to_end_multi_exit_hand_computation(granularity):
    torch.manual_seed(1)
    net = MultiExit().double()
    x, y = _r(8, 3, seed=4), _r(8, 1, seed=5)
    o1, o2 = net(x)
    l1, l2 = (o1 - y).pow(2).mean(), (o2 - y).pow(2).mean()
    params = list(net.parameters())
    # hand computation: separate gradients, then Gram-Schmidt by hand
    g1 = torch.autograd.grad(l1, params, retain_graph=True, allow_unused=True)
    g2 = torch.autograd.grad(l2, params, retain_graph=True, allow_unused=True)
    expected = []
    if granularity == "tensor":
        for a, b in zip(g1, g2):
            if a is None:
                expected.append(b)  # exit2 / block2: only task 2 reaches them
            elif b is None:
                expected.append(a)  # exit1: only task 1
            else:  # trunk: shared
                proj = (b * a).sum() / (a * a).sum()
                expected.append(a + (b - proj * a))
    else:
        z = lambda g, p: torch.zeros_like(p) if g is None else g  # noqa: E731
        f1 = torch.cat([z(a, p).reshape(-1) for a, p in zip(g1, params)])
        f2 = torch.cat([z(b, p).reshape(-1) for b, p in zip(g2, params)])
        G = f1 + (f2 - f2.dot(f1) / f1.dot(f1) * f1)
        off = 0
        for p in params:
            expected.append(G[off:off + p.numel()].view_as(p))
            off += p.numel()
    net.zero_grad()
    o1, o2 = net(x)
    osgd_backward([(o1 - y).pow(2).mean(), (o2 - y).pow(2).mean()], params, granularity=granularity)
    for p, e in zip(params, expected):
        torch.testing.assert_close(p.grad, e, rtol=0, atol=1e-12)
    # exit heads see only their own task's gradient (tensor granularity)
    if granularity == "tensor":
        assert torch.equal(net.exit1.weight.grad, g1[2])


def test_errors():
    with pytest.raises(ValueError, match="granularity"):
        orthogonalize_gradients([[_r(2)]], granularity="layer")
    with pytest.raises(ValueError, match="task_grads"):
        orthogonalize_gradients([[_r(2)], [_r(2), _r(2)]])
    with pytest.raises(ValueError, match="losses"):
        osgd_backward([], [])
