"""Drives `cenports sandbox --tls` with BigCommerce's official Python client (PyPI `bigcommerce`).

The acceptance check: a real third-party client works against the sandbox unchanged except for
the base URL. The client builds every URL as "https://" + host + path and takes the host from
BC_API_ENDPOINT, so the only settings are BC_API_ENDPOINT=127.0.0.1:PORT and
REQUESTS_CA_BUNDLE=<the sandbox's CA>. Everything below uses the client's public API as its
README documents it; the only other HTTP call is to the sandbox's own control API (to lower the
quota), which is not part of BigCommerce.

Usage: official_client.py CREDENTIALS_DIR EXPECTED_ORDERS EXPECTED_PRODUCTS
Exits 0 when every check passes; otherwise prints which step failed and why, and exits 1.
"""

import os
import sys
import time
import traceback

import bigcommerce
import requests
from bigcommerce.exception import ClientRequestException, RateLimitingException

# Order statuses (GET /v2/order_statuses): the ones this script moves an order through.
AWAITING_FULFILLMENT = 11
COMPLETED = 10


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def read_credentials(directory, profile):
    """The fields of a BigCommerce API account file (`NAME: value` lines)."""
    fields = {}
    with open(os.path.join(directory, profile + ".txt")) as f:
        for line in f:
            name, sep, value = line.rstrip("\n").partition(": ")
            if sep:
                fields[name] = value
    # API PATH is https://HOST/stores/{store_hash}/v3/
    fields["STORE HASH"] = fields["API PATH"].rstrip("/").split("/")[-2]
    return fields


def connect(creds, **options):
    return bigcommerce.api.BigcommerceApi(
        client_id=creds["CLIENT ID"],
        store_hash=creds["STORE HASH"],
        access_token=creds["ACCESS TOKEN"],
        **options,
    )


def main():
    directory, expected_orders, expected_products = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    endpoint = os.environ["BC_API_ENDPOINT"]
    merchant = read_credentials(directory, "merchant-guide")
    store_hash = merchant["STORE HASH"]
    api = connect(merchant)
    steps = []

    def step(name):
        steps.append(name)
        print("--", name, flush=True)

    step("GET /v2/store: Store.all()")
    store = api.Store.all()
    check(store.id == store_hash, "store id %r is not the store hash %r" % (store["id"], store_hash))
    check(store.name, "the store has no name: %r" % store)
    print("   store:", store.name, store.plan_name)

    step("GET /v2/orders/count: Orders.count()")
    count = api.Orders.count()
    check(count == expected_orders, "Orders.count() = %r, expected %d" % (count, expected_orders))

    step("GET /v2/orders?limit=50&page=N until an empty page: Orders.all(limit=50, page=N)")
    ids, page, sizes = [], 1, []
    while True:
        orders = api.Orders.all(limit=50, page=page)
        # Past the last page BigCommerce answers 204 No Content, which the client turns into one
        # empty Orders object (truthy: it holds the connection) instead of a list.
        if not isinstance(orders, list):
            check(not any(k for k in orders if not k.startswith("_")), "page %d is %r" % (page, orders))
            break
        sizes.append(len(orders))
        ids.extend(order.id for order in orders)
        page += 1
        check(page < 100, "paging does not end")
    check(len(ids) == expected_orders, "paged %d orders (pages %r), expected %d" % (len(ids), sizes, expected_orders))
    check(len(set(ids)) == len(ids), "an order appears on two pages")
    print("   pages:", sizes)

    step("autopaging: Orders.iterall()")
    all_ids = [order.id for order in api.Orders.iterall()]
    check(sorted(all_ids) == sorted(ids), "iterall gave %d orders, paging gave %d" % (len(all_ids), len(ids)))

    step("GET /v2/orders/{id}: Orders.get(id), awaiting fulfillment")
    candidates = api.Orders.all(status_id=AWAITING_FULFILLMENT, limit=50)
    check(candidates, "no order awaits fulfillment")
    order = api.Orders.get(candidates[0].id)
    check(order.id == candidates[0].id, "Orders.get returned order %r" % order["id"])
    check(order.status_id == AWAITING_FULFILLMENT, "status_id %r" % order.status_id)
    print("   order:", order.id, order.status, order.total_inc_tax)

    step("GET /v2/orders/{id}/products and /shipping_addresses: order.products(), order.shipping_addresses()")
    products = order.products()
    addresses = order.shipping_addresses()
    check(products and isinstance(products, list), "no products: %r" % products)
    check(addresses and isinstance(addresses, list), "no shipping addresses: %r" % addresses)
    address = addresses[0]
    check(address.order_id == order.id, "the address belongs to order %r" % address.order_id)
    lines = [p for p in products if p.order_address_id == address.id]
    check(lines, "no product ships to address %r" % address.id)
    one = api.OrderProducts.get(order.id, lines[0].id)
    check(one.id == lines[0].id, "OrderProducts.get returned %r" % one["id"])

    step("GET /v2/orders/{id}/products: product_options (value = option value id, display_value = label)")
    # The generated store's variants have sizes, colours, scents...: read lines until one has
    # options. A choice option's `value` is the chosen option value's id as a string; its label
    # is in `display_value`.
    options = []
    for candidate in ids[:200]:
        for line in api.OrderProducts.all(candidate):
            options.extend(line.product_options)
        if options:
            break
    check(options, "no order line with options in the first 200 orders")
    for option in options:
        for field in ("display_name", "display_name_customer", "display_name_merchant",
                      "display_value", "display_value_customer", "display_value_merchant",
                      "value", "type", "name", "display_style"):
            check(field in option, "option without %s: %r" % (field, option))
        if option["type"] in ("Multiple choice", "Swatch", "Checkbox", "Product Pick List"):
            check(option["value"].isdigit(), "a choice option's value is not an id: %r" % option)
            check(option["display_value"] and option["display_value"] != option["value"],
                  "a choice option's display_value is not its label: %r" % option)
    print("   options:", ["%s=%s (value %s)" % (o["display_name"], o["display_value"], o["value"]) for o in options])

    step("POST /v2/orders/{id}/shipments: OrderShipments.create(order_address_id, items)")
    items = [{"order_product_id": p.id, "quantity": p.quantity} for p in lines]
    shipment = api.OrderShipments.create(
        order.id,
        order_address_id=address.id,
        items=items,
        tracking_number="1Z999AA10123456784",
        shipping_provider="ups",
    )
    check(shipment.id, "the created shipment has no id: %r" % shipment)
    check(shipment.order_id == order.id, "the shipment is for order %r" % shipment["order_id"])
    # The resource objects drop fields named like dict methods (`items`): read the raw JSON.
    raw = api.connection.get("orders/%d/shipments" % order.id, shipment.id)
    check(len(raw["items"]) == len(items), "shipment items %r, sent %r" % (raw["items"], items))

    step("GET /v2/orders/{id}/shipments: order.shipments(), OrderShipments.count(id)")
    shipments = api.Orders.get(order.id).shipments()
    check(shipment.id in [s.id for s in shipments], "shipment %r not listed: %r" % (shipment.id, shipments))
    check(api.OrderShipments.count(order.id) == len(shipments), "shipment count differs from the list")
    fetched = order.shipments(shipment.id)
    check(fetched.tracking_number == "1Z999AA10123456784", "tracking number %r" % fetched.tracking_number)

    step("PUT /v2/orders/{id}: Orders.get(id).update(status_id=...)")
    updated = api.Orders.get(order.id).update(status_id=COMPLETED)
    check(updated.status_id == COMPLETED, "update answered status_id %r" % updated.status_id)
    check(api.Orders.get(order.id).status_id == COMPLETED, "the new status did not stick")

    step("v3 catalog: OAuthConnection(api_path='/stores/{}/v3/{}').get('/catalog/products')")
    # The README's way to reach v3. OAuthConnection's host defaults to api.bigcommerce.com and,
    # unlike BigcommerceApi, does not read BC_API_ENDPOINT: the host is passed, as for any store.
    v3 = bigcommerce.connection.OAuthConnection(
        client_id=merchant["CLIENT ID"],
        store_hash=store_hash,
        access_token=merchant["ACCESS TOKEN"],
        host=endpoint,
        api_path="/stores/{}/v3/{}",
    )
    first = v3.get("/catalog/products", include_fields="name,sku", limit=5, page=1)
    check(set(first) >= {"data", "meta"}, "not a v3 envelope: %r" % list(first))
    check(len(first["data"]) == 5, "limit=5 gave %d products" % len(first["data"]))
    check(set(first["data"][0]) <= {"id", "name", "sku"}, "include_fields ignored: %r" % first["data"][0])
    pagination = first["meta"]["pagination"]
    check(pagination["total"] == expected_products, "meta.pagination.total %r" % pagination["total"])
    seen, page = [], 1
    while True:
        body = v3.get("catalog/products", limit=10, page=page)
        seen.extend(p["id"] for p in body["data"])
        if page >= body["meta"]["pagination"]["total_pages"]:
            break
        page += 1
    check(len(set(seen)) == expected_products, "paged %d products, expected %d" % (len(set(seen)), expected_products))
    product = v3.get("catalog/products", seen[0])
    check(product["data"]["id"] == seen[0], "GET /catalog/products/{id} returned %r" % product)
    check(v3.rate_limit.get("requests_quota"), "the v3 connection did not read the rate-limit headers")

    step("PUT /v3/catalog/products/{id}/variants/{variant_id}: one variant's stock")
    tracked = None
    page = 1
    while tracked is None:
        body = v3.get("catalog/products", include="variants", limit=50, page=page)
        tracked = next((p for p in body["data"] if p["inventory_tracking"] == "variant"), None)
        if page >= body["meta"]["pagination"]["total_pages"]:
            break
        page += 1
    check(tracked, "no product is tracked by variant")
    variant = tracked["variants"][0]
    level = variant["inventory_level"] + 3
    path = "catalog/products/%d/variants/%d" % (tracked["id"], variant["id"])
    written = v3.put(path, {"inventory_level": level})
    check(written["data"]["inventory_level"] == level, "PUT answered %r" % written)
    read_back = v3.get(path)
    check(read_back["data"]["inventory_level"] == level, "the new level did not stick: %r" % read_back)
    product_level = v3.get("catalog/products", tracked["id"])["data"]["inventory_level"]
    expected = tracked["inventory_level"] + 3
    check(product_level == expected, "the product reports %r, expected %r" % (product_level, expected))
    print("   variant:", variant["sku"], variant["inventory_level"], "->", level)

    step("403 for a read-only account's write: ClientRequestException")
    read_only = connect(read_credentials(directory, "read-only"))
    try:
        read_only.Orders.get(order.id).update(status_id=AWAITING_FULFILLMENT)
    except ClientRequestException as error:
        check(error.status_code == 403, "expected 403, got %r: %s" % (error.status_code, error))
        check(not isinstance(error, RateLimitingException), "a 403 was reported as rate limiting")
    else:
        raise CheckFailed("a read-only account changed an order")

    step("rate limits: headers read into connection.rate_limit")
    api.Store.all()
    limits = api.connection.rate_limit
    check(
        set(limits) == {"ms_until_reset", "window_size_ms", "requests_remaining", "requests_quota"},
        "rate_limit %r" % limits,
    )

    step("rate limits: quota 10 per 1 s; rate_limiting_management waits instead of failing")
    control = "https://%s/_sandbox/stores/%s/rate_limit" % (endpoint, store_hash)
    response = requests.put(control, json={"quota": 10, "window_ms": 1000}, timeout=10)
    check(response.status_code == 200, "the control API answered %d: %s" % (response.status_code, response.text))
    waits = []
    managed = connect(
        merchant,
        rate_limiting_management={
            "min_requests_remaining": 2,
            "wait": True,
            "callback_function": lambda: waits.append(time.monotonic()),
        },
    )
    started = time.monotonic()
    for _ in range(25):
        managed.Orders.count()
    elapsed = time.monotonic() - started
    check(waits, "the client never reached min_requests_remaining: %r" % managed.connection.rate_limit)
    check(elapsed >= 1.0, "25 requests at 10 per second took only %.2f s" % elapsed)
    check(managed.connection.rate_limit["requests_quota"] == 10, "quota %r" % managed.connection.rate_limit)
    print("   25 requests, %d waits, %.1f s" % (len(waits), elapsed))

    step("rate limits: without management the 11th request in a window is a RateLimitingException")
    # A fresh, longer window, so that the 11 requests cannot straddle two windows.
    response = requests.put(control, json={"quota": 10, "window_ms": 5000}, timeout=10)
    check(response.status_code == 200, "the control API answered %d: %s" % (response.status_code, response.text))
    unmanaged = connect(merchant)
    try:
        for _ in range(11):
            unmanaged.Orders.count()
    except RateLimitingException as error:
        check(error.status_code == 429, "status %r" % error.status_code)
        check(0 < int(error.retry_after) <= 5000, "X-Rate-Limit-Time-Reset-Ms %r" % error.retry_after)
    else:
        raise CheckFailed("11 requests in a window of 10 were all served")

    print("OK: %d steps passed with bigcommerce %s" % (len(steps), client_version()))
    return 0


def client_version():
    try:
        from importlib.metadata import version

        return version("bigcommerce")
    except Exception:  # pragma: no cover - only for the message
        return "?"


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:  # any failure, the client's exceptions included
        print("FAILED: %s: %s" % (type(error).__name__, error), file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)
