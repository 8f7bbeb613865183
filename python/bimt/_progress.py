"""Training progress in a notebook (a widget) and in a terminal (a bar), through tqdm."""

try:  # a notebook widget where Jupyter's widgets are installed, else a text bar
    import ipywidgets  # noqa: F401
    from tqdm.auto import tqdm
except ImportError:
    from tqdm import tqdm


class Progress:
    """A bar that the Rust side moves: ``update(step, total, message)`` is called with the
    GIL held, a few times a second, from the thread that called ``run`` or ``train``."""

    def __init__(self, quiet):
        self.quiet = quiet
        self.bar = None

    def __enter__(self):
        return self

    def __exit__(self, *_):
        if self.bar is not None:
            self.bar.close()

    def update(self, step, total, message):
        if self.quiet:
            return
        if self.bar is None:
            self.bar = tqdm(total=total, initial=step, unit="step", dynamic_ncols=True)
        elif total != self.bar.total:  # the restarts' candidates ended; the run starts
            self.bar.reset(total=total)
        self.bar.update(step - self.bar.n)
        if message:
            self.bar.set_postfix_str(message, refresh=False)
