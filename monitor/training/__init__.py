"""How a model is made: datasets, losses, the trainer, evaluation and the model card (the train extra)."""
