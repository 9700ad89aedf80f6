# Full-scale: multi-exit_resnet18_8xb32_in1k.py trained with Orthogonalized SGD (one gradient per
# exit, Gram-Schmidt from the earliest exit to the final one, then the recipe's SGD step).
_base_ = './multi-exit_resnet18_8xb32_in1k.py'
optim_wrapper = dict(
    _delete_=True,
    type='OSGDOptimWrapper',
    tasks=[['exit0'], ['exit1'], ['exit2'], ['exit3']],
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
