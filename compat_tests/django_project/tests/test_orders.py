"""The shop's tests: tasks run eagerly against the test database, and in Celery's
embedded test worker."""

import pytest
from billing.tasks import invoice
from orders.errors import OutOfStock
from orders.models import Order
from orders.tasks import reserve, ship


def test_ship_saves_the_order(eager):
    order = Order.objects.create(item="widget")
    result = ship.delay(order.pk)
    assert result.get() == {"id": order.pk, "item": "widget", "status": "shipped"}
    order.refresh_from_db()
    assert order.status == "shipped"


def test_chain_runs_eagerly(eager):
    order = Order.objects.create(item="gizmo")
    result = (ship.s(order.pk) | invoice.s()).delay()
    assert result.get() == f"invoice for order {order.pk}: gizmo"


def test_invoice_refuses_an_unshipped_order():
    result = invoice.apply(args=({"id": 1, "item": "x", "status": "new"},))
    assert result.failed()
    with pytest.raises(ValueError, match="order 1 is not shipped"):
        result.get()


def test_reserve_in_eager_mode(eager):
    assert reserve.delay("widget").get() == {"item": "widget", "retries": 0}


def test_reserve_gives_up_after_its_retries():
    result = reserve.apply(args=("unobtainium",))  # retried eagerly, then failed
    assert result.failed()
    with pytest.raises(OutOfStock, match="unobtainium is out of stock"):
        result.get()


def test_a_task_in_the_embedded_worker(celery_app, celery_worker):
    @celery_app.task
    def mul(x, y):
        return x * y

    celery_worker.reload()
    assert mul.delay(6, 7).get(timeout=10) == 42
