"""The project's own exception, with two arguments."""


class PaymentDeclined(Exception):
    def __init__(self, amount, reason):
        super().__init__(amount, reason)
        self.amount = amount
        self.reason = reason
