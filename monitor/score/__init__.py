"""The score stage: stored posts through the model, in this process or on Ray actors."""
