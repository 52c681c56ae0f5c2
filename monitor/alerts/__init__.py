"""Alerts: rules turn stored scores into candidates for human review; channels deliver them."""
