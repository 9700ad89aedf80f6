# The multi-exit ResNet-18 of multi-exit_resnet18_shapes.py at 32 px input (the 64 px crops
# resized): a quarter of the compute, for the from-scratch tasks of the benchmark on 2 CPU cores
# (configs/benchmark/mini.py).
_base_ = ['./multi-exit_resnet18_shapes.py', '../_base_/datasets/shapes_cls_32px.py']
train_dataloader = dict(dataset=dict(pipeline={{_base_.train_pipeline_32px}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_32px}}))
test_dataloader = dict(dataset=dict(pipeline={{_base_.test_pipeline_32px}}))
