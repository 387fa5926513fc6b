"""SLTrain engine: memory-efficient LLaMA pretraining with sparse + low-rank weights."""

__version__ = "0.1.0"
