"""What the care team does, shared by the CLI and the inbox: review, requeue, corrections, accounts.

May import the pipeline (to send what is approved), the store and settings; never web or CLI.
"""
