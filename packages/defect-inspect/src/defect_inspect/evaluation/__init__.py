"""Evaluation of inspection models: inference, metrics by defect-metrics, the files and pictures."""
