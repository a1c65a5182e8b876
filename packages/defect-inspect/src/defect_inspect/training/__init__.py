"""Training of inspection models: the run config, the tasks, the loop with early stopping, checkpoints."""
