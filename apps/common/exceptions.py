class ApplicationError(Exception):
    """A business rule refused the operation; `message` is safe to show, `extra` adds detail."""

    def __init__(self, message: str, *, extra: dict | None = None, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}
        self.code = code
