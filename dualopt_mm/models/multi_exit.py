"""A multi-exit (anytime) image classifier and its per-exit accuracy metric.

``MultiExitImageClassifier`` puts one classification exit (global average pooling + a linear
layer) after every stage a backbone returns (e.g. mmpretrain's ``ResNet`` with
``out_indices=(0, 1, 2, 3)``). In ``mode='loss'`` it returns one loss per exit
(``loss_exit0`` ... ``loss_exit{K-1}``), the natural tasks of ``OSGDOptimWrapper``
(``tasks=[['exit0'], ['exit1'], ...]``, earliest exit first); with the plain ``OptimWrapper`` the
exits are trained on the sum of their losses. ``mode='predict'`` returns mmpretrain
``DataSample`` objects whose ``pred_score`` / ``pred_label`` are the final exit's and whose
``exit_scores`` field holds every exit's softmax scores (shape ``(K, num_classes)``).
``MultiExitAccuracy`` evaluates them per exit.

Only mmengine is imported at module level; mmpretrain (data preprocessor, backbone, loss,
``DataSample``) is imported when a model is built, so ``import dualopt_mm`` stays cheap and works
without mmpretrain.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel, BaseModule
from mmengine.registry import METRICS, MODELS

__all__ = ['MultiExitImageClassifier', 'MultiExitAccuracy']


class _Exit(BaseModule):
    """Global average pooling + linear classifier on one stage's feature map."""

    def __init__(self, in_channels: int, num_classes: int, init_cfg=None):
        super().__init__(init_cfg=init_cfg or dict(type='Normal', layer='Linear', std=0.01))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            x = self.pool(x)
        return self.fc(torch.flatten(x, 1))


@MODELS.register_module()
class MultiExitImageClassifier(BaseModel):
    """Image classifier with one exit per backbone stage (anytime prediction).

    Args:
        backbone: mmpretrain backbone config (or module) returning one feature map per exit,
            e.g. ``dict(type='ResNet', depth=18, out_indices=(0, 1, 2, 3))``.
        num_classes: number of classes.
        in_channels: channels of each returned stage (one exit each, earliest first).
        loss: mmpretrain loss config applied at every exit.
        loss_weights: optional weight per exit (default 1 each). OSGD sees the weighted losses.
        data_preprocessor: as for ``ImageClassifier`` (default ``ClsDataPreprocessor``).
        train_cfg: ``dict(augments=...)`` batch augmentations, as for ``ImageClassifier``.
        init_cfg: initialization config.

    ``mode='tensor'`` returns the tuple of per-exit logits.
    """

    def __init__(self, backbone, num_classes: int,
                 in_channels: Sequence[int] = (64, 128, 256, 512),
                 loss: Optional[dict] = None, loss_weights: Optional[Sequence[float]] = None,
                 data_preprocessor=None, train_cfg: Optional[dict] = None, init_cfg=None):
        from mmpretrain.registry import MODELS as PRETRAIN_MODELS

        if data_preprocessor is None:
            data_preprocessor = {}
        if isinstance(data_preprocessor, dict):
            data_preprocessor = dict(data_preprocessor)
            data_preprocessor.setdefault('type', 'ClsDataPreprocessor')
            data_preprocessor.setdefault('batch_augments', train_cfg)
            data_preprocessor = PRETRAIN_MODELS.build(data_preprocessor)
        elif not isinstance(data_preprocessor, nn.Module):
            raise TypeError(f'data_preprocessor should be a dict or nn.Module, '
                            f'got {type(data_preprocessor)}')
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)

        self.backbone = backbone if isinstance(backbone, nn.Module) \
            else PRETRAIN_MODELS.build(backbone)
        in_channels = list(in_channels)
        if not in_channels:
            raise ValueError('in_channels: expected one entry per exit')
        self.num_classes = num_classes
        self.exits = nn.ModuleList(_Exit(c, num_classes) for c in in_channels)
        loss = loss or dict(type='CrossEntropyLoss', loss_weight=1.0)
        self.loss_module = loss if isinstance(loss, nn.Module) else PRETRAIN_MODELS.build(loss)
        if loss_weights is not None and len(loss_weights) != len(in_channels):
            raise ValueError(f'loss_weights: expected {len(in_channels)} values (one per exit), '
                             f'got {len(loss_weights)}')
        self.loss_weights = None if loss_weights is None else [float(w) for w in loss_weights]

    @property
    def num_exits(self) -> int:
        return len(self.exits)

    def extract_feat(self, inputs: torch.Tensor) -> tuple:
        feats = self.backbone(inputs)
        if isinstance(feats, torch.Tensor):
            feats = (feats, )
        if len(feats) != self.num_exits:
            raise ValueError(f'The backbone returned {len(feats)} feature maps but the model has '
                             f'{self.num_exits} exits (in_channels); set the backbone\'s '
                             f'out_indices to one index per exit, e.g. (0, 1, 2, 3).')
        return tuple(feats)

    def exit_logits(self, inputs: torch.Tensor) -> tuple:
        """Logits of every exit, earliest first."""
        return tuple(head(f) for head, f in zip(self.exits, self.extract_feat(inputs)))

    def forward(self, inputs: torch.Tensor, data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        if mode == 'tensor':
            return self.exit_logits(inputs)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}".')

    def loss(self, inputs: torch.Tensor, data_samples: list) -> dict:
        if 'gt_score' in data_samples[0]:
            target = torch.stack([ds.gt_score for ds in data_samples])
        else:
            target = torch.cat([ds.gt_label for ds in data_samples])
        losses = {}
        for k, logits in enumerate(self.exit_logits(inputs)):
            loss = self.loss_module(logits, target, avg_factor=logits.size(0))
            if self.loss_weights is not None:
                loss = loss * self.loss_weights[k]
            losses[f'loss_exit{k}'] = loss
        return losses

    def predict(self, inputs: torch.Tensor, data_samples: Optional[list] = None) -> list:
        from mmpretrain.structures import DataSample
        scores = torch.stack([F.softmax(x, dim=1) for x in self.exit_logits(inputs)], dim=1)
        out: List = []
        for i in range(scores.size(0)):
            ds = data_samples[i] if data_samples is not None else DataSample()
            final = scores[i, -1].detach()
            ds.set_pred_score(final).set_pred_label(final.argmax(keepdim=True))
            ds.set_field(scores[i].detach(), 'exit_scores')
            out.append(ds)
        return out


@METRICS.register_module()
class MultiExitAccuracy(BaseMetric):
    """Top-k accuracy (%) of every exit of a multi-exit classifier.

    Reports ``exit{k}/top{t}`` for every exit ``k``, ``exits_mean/top{t}`` (the mean over exits,
    an anytime summary), and ``accuracy/top{t}`` for the final exit (the key mmpretrain's
    ``Accuracy`` reports, so it can replace it). Reads ``exit_scores`` (``(K, C)``) and
    ``gt_label`` from the predicted data samples.
    """
    default_prefix: Optional[str] = None

    def __init__(self, topk: Sequence[int] = (1, ), collect_device: str = 'cpu',
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        if not self.topk or any(int(t) < 1 for t in self.topk):
            raise ValueError(f'topk: expected positive integers, got {topk!r}')

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for ds in data_samples:
            if 'exit_scores' not in ds:
                raise KeyError('MultiExitAccuracy needs the `exit_scores` of a multi-exit '
                               'classifier (MultiExitImageClassifier) in its predictions')
            label = torch.as_tensor(ds['gt_label']).reshape(-1)[:1]
            self.results.append(dict(exit_scores=ds['exit_scores'].detach().cpu(),
                                     gt_label=label.cpu()))

    def compute_metrics(self, results: list) -> dict:
        scores = torch.stack([r['exit_scores'] for r in results])  # (N, K, C)
        labels = torch.cat([r['gt_label'] for r in results]).long()  # (N,)
        num_exits, num_classes = scores.shape[1], scores.shape[2]
        metrics = {}
        for t in self.topk:
            tt = min(int(t), num_classes)
            accs = []
            for k in range(num_exits):
                pred = scores[:, k].topk(tt, dim=1).indices
                acc = (pred == labels[:, None]).any(dim=1).float().mean().item() * 100.0
                metrics[f'exit{k}/top{t}'] = acc
                accs.append(acc)
            metrics[f'exits_mean/top{t}'] = sum(accs) / num_exits
            metrics[f'accuracy/top{t}'] = accs[-1]
        return metrics
