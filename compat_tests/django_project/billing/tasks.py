"""The billing app's tasks, routed to their own queue by ``CELERY_TASK_ROUTES``."""

from celery import Task, shared_task


class BillingTask(Task):
    """A base class for the app's tasks, with Celery's hooks."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        from orders.tasks import _notes

        _notes.rpush("billing:failures", f"{self.name}:{type(exc).__name__}")


@shared_task(base=BillingTask)
def invoice(order):
    if order["status"] != "shipped":
        raise ValueError(f"order {order['id']} is not shipped")
    return f"invoice for order {order['id']}: {order['item']}"


@shared_task(base=BillingTask)
def nightly_report():
    return "report"
