"""Data of the inspection models: generation outputs, real splits, defect-free images, class balance,
validation splits, cut-paste defects, and tensors for training."""
