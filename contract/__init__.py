"""The bottom room: the offer contract (`offer`), the operator catalogue (`catalogue`, `operators.json`), the
database-free rules over offers (`offer_query`) and the one UTC clock (`clock`). Every other room imports from
here; this package imports nothing of ours (checked by tests/test_architecture.py).
"""
