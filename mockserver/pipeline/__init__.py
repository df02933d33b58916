"""What every request passes through, once: its service found, its body read within the limit, a recorded
answer or the endpoint's, the charges settled, the journal (dispatch.py, which runs them in that order)."""
