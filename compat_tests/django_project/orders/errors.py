class OutOfStock(Exception):
    """Raised by a task; the caller catches it by its own class."""

    def __init__(self, item):
        super().__init__(f"{item} is out of stock")
        self.item = item
