# Semantic FPN R18 with an auxiliary FCN head on the stride-16 FPN level (mmseg's usual deep
# supervision): two losses, `decode.loss_ce` and `aux.loss_ce`, summed by mmengine as usual.
_base_ = ['./fpn_r18_shapes.py']
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    auxiliary_head=dict(
        type='FCNHead', in_channels=64, in_index=2, channels=64, num_convs=1, concat_input=False,
        dropout_ratio=0.1, num_classes=6, norm_cfg=norm_cfg, align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)))
