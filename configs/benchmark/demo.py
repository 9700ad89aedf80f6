# The demo suite: minutes on 2 CPU cores, a paired first look, not a result. Classification
# fine-tuned from the upstream checkpoint for 2 epochs, AdamW vs DualOpt at one setting each (no
# search: budget 1), reported on 3 held-out seeds with the paired difference and its CI.
#   python tools/benchmark.py demo        (or: make demo)
_base_ = ['./_base_/methods.py']

name = 'demo'
description = 'ResNet-18 classification fine-tuned for 2 epochs: AdamW vs DualOpt, 3 reporting seeds'
upstream = dict(config='classification/resnet18_upstream.py', checkpoint='checkpoints/upstream_resnet18.pth')
seeds = dict(tuning=[100], reporting=[0, 1, 2])
search = dict(budget=1, defaults=False)
margins = {'accuracy/top1': 1.5, 'forgetting': 1.5}
methods = dict(
    adamw=dict(space=dict(_delete_=True, lr=[1e-3])),
    dualopt_adamw=dict(space=dict(_delete_=True, lr=[1e-3], rollback=[0.05])))
tasks = dict(
    classification_finetune=dict(
        config='classification/resnet18_shapes.py', regime='finetune', metric='accuracy/top1',
        methods=['adamw', 'dualopt_adamw'], baseline='adamw', length=2, forgetting=True,
        admission=dict(reference=53.3, trivial=20.0, source='resnet18_shapes.py, 10 epochs from scratch')))
claims = [
    dict(paper='DualOpt', claim='better fine-tuning than AdamW', method='dualopt_adamw', baseline='adamw',
         tasks=['classification_finetune'], column='metric', primary=True),
    dict(paper='DualOpt', claim='less forgetting than AdamW', method='dualopt_adamw', baseline='adamw',
         tasks=['classification_finetune'], column='forgetting'),
]
