"""How a run ends early."""


class TrainingCancelled(Exception):
    """The user asked the run to stop."""


class RunFailed(Exception):
    """The run cannot go on; the message is the reason stored on the run."""
