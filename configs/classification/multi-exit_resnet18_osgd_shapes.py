# The multi-exit ResNet-18 of multi-exit_resnet18_shapes.py trained with Orthogonalized SGD
# (Wan et al., ICML 2020): one gradient per exit, Gram-Schmidt from the earliest exit to the
# final one, then the same SGD step.
_base_ = ['./multi-exit_resnet18_shapes.py']
optim_wrapper = dict(
    _delete_=True,
    type='OSGDOptimWrapper',
    tasks=[['exit0'], ['exit1'], ['exit2'], ['exit3']],
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4))
