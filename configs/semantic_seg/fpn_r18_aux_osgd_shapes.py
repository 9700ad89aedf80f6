# fpn_r18_aux_shapes.py trained with Orthogonalized SGD: the auxiliary head's gradient first, then
# the decode head's gradient minus its projection on it, per tensor; AdamW steps on the sum.
_base_ = ['./fpn_r18_aux_shapes.py']
optim_wrapper = dict(
    _delete_=True,
    type='OSGDOptimWrapper',
    tasks=[['^aux'], ['^decode']],
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.05))
