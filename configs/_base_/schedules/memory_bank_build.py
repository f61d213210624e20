# "Training" of memory-bank models (PatchCore): one pass over the normal images, then the
# coreset bank is built and saved in epoch_1.pth (vmem.models.anomaly.MemoryBankBuildLoop).
train_cfg = dict(type='MemoryBankBuildLoop')
test_cfg = dict(type='TestLoop')
# mmengine's Runner.train() builds an optimizer whatever the loop; this one is never stepped.
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.0))
