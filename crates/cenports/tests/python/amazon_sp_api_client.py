"""Amazon's official Selling Partner API SDK for Python (PyPI `amzn-sp-api`, module `spapi`)
run against `cenports sandbox --channel amazon`, changed in nothing but its two endpoints.

Usage: python amazon_sp_api_client.py CREDENTIALS_FILE EXPECTED_ORDERS

The environment gives the endpoints, exactly as a seller's app would configure the SDK for
another region: SPAPI_ENDPOINT (the SP-API host, `SPAPIClient(endpoint=...)`) and LWA_ENDPOINT
(Login with Amazon's token URL, `SPAPIClient(oauth_endpoint=...)`). CREDENTIALS_FILE is the
sandbox's `amazon-merchant.json`: the app's client id and secret, the seller's refresh token,
seller and marketplace ids, and the `profiles` (app authorisations with fewer roles).

The sandbox's control API (SPAPI_ENDPOINT + /_sandbox, not part of Amazon's API) is used only
to move the sandbox's clock, standing in for waiting.

Every step goes through the SDK's own API classes and models. The last line is
`RESULT {json}`: what the script changed, for the Rust test to check in the sandbox.
Exits 0 when every check passes; otherwise prints which step failed and why, and exits 1.
"""

import datetime
import json
import os
import sys
import traceback

import requests
from spapi import (
    ApiClient,
    ApiException,
    Configuration,
    GetOrderApi,
    ListingsApi,
    OrdersV0Api,
    SearchOrdersApi,
    SPAPIClient,
    SPAPIConfig,
    TokensApi,
)
from spapi.models.listings_items_v2021_08_01 import ListingsItemPatchRequest, PatchOperation
from spapi.models.orders_v0 import ConfirmShipmentOrderItem, ConfirmShipmentRequest, PackageDetail
from spapi.models.tokens_v2021_03_01 import CreateRestrictedDataTokenRequest, RestrictedResource


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def client_for(credentials, region="NA"):
    """The SDK's client for one app authorisation, pointed at the sandbox."""
    config = SPAPIConfig(
        client_id=credentials["client_id"],
        client_secret=credentials["client_secret"],
        refresh_token=credentials["refresh_token"],
        region=region,
    )
    return SPAPIClient(
        config,
        oauth_endpoint=os.environ["LWA_ENDPOINT"],
        endpoint=os.environ["SPAPI_ENDPOINT"],
    )


class RestrictedDataToken:
    """Hands a restricted data token to the SDK as its access token.

    The Python SDK (unlike Amazon's Java one) has no helper for restricted data tokens, and
    `ApiClient` overwrites any `x-amz-access-token` header parameter with the value of
    `Configuration.access_token_cache.get_lwa_access_token()` on every call. So the RDT is given
    through that seam: an `ApiClient` whose token source returns the RDT.
    """

    def __init__(self, token):
        self.token = token

    def get_lwa_access_token(self):
        return self.token


def rdt_client(token):
    configuration = Configuration()
    configuration.host = os.environ["SPAPI_ENDPOINT"]
    configuration.access_token_cache = RestrictedDataToken(token)
    return ApiClient(configuration=configuration)


def errors_of(error):
    """The `errors` array of an ApiException's body: Amazon's `{"errors": [...]}`."""
    return json.loads(error.body)["errors"]


def header(error, name):
    return {k.lower(): v for k, v in error.headers.items()}.get(name.lower())


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def main():
    credentials_file, expected_orders = sys.argv[1], int(sys.argv[2])
    with open(credentials_file) as f:
        merchant = json.load(f)
    marketplace = merchant["marketplace_id"]
    seller = merchant["seller_id"]
    control = os.environ["SPAPI_ENDPOINT"] + "/_sandbox"
    steps = []
    result = {}

    def step(name):
        steps.append(name)
        print("--", name, flush=True)

    def advance_clock(seconds):
        response = requests.post(control + "/clock/advance", json={"seconds": seconds}, timeout=10)
        check(response.status_code == 200, "the control API answered %d: %s" % (response.status_code, response.text))

    # Amazon asks callers to stay two minutes behind its clock (a window ends at least two minutes
    # before the request): three minutes on, every order the sandbox made is inside the window.
    advance_clock(180)
    now = datetime.datetime.fromisoformat(requests.get(control + "/clock", timeout=10).json()["now"].replace("Z", "+00:00"))
    since = iso(now - datetime.timedelta(days=60))

    step("Login with Amazon: SPAPIClient exchanges the refresh token for an access token")
    client = client_for(merchant)
    token = client.access_token_cache.get_lwa_access_token()
    check(token.startswith("Atza|"), "the access token does not look like LWA's: %r" % token[:5])
    orders_api = OrdersV0Api(client.api_client)

    step("getOrders: OrdersV0Api.get_orders, every page by NextToken")
    ids, pages = [], []
    response = orders_api.get_orders([marketplace], created_after=since)
    while True:
        payload = response.payload
        pages.append(len(payload.orders))
        ids.extend(order.amazon_order_id for order in payload.orders)
        if not payload.next_token:
            break
        check(len(pages) < 50, "paging does not end")
        response = orders_api.get_orders([marketplace], next_token=payload.next_token)
    check(len(ids) == expected_orders, "paged %d orders (pages %r), expected %d" % (len(ids), pages, expected_orders))
    check(len(set(ids)) == len(ids), "an order appears on two pages")
    check(len(pages) > 1, "one page only: %r" % pages)
    print("   pages:", pages)

    step("getOrders with OrderStatuses=Unshipped, FulfillmentChannels=MFN")
    unshipped = orders_api.get_orders(
        [marketplace], created_after=since, order_statuses=["Unshipped"], fulfillment_channels=["MFN"]
    ).payload.orders
    check(unshipped, "no unshipped merchant-fulfilled order")
    for order in unshipped:
        check(order.order_status == "Unshipped" and order.fulfillment_channel == "MFN", "filter ignored: %r" % order)

    step("getOrder and getOrderItems: an unshipped order of two or more units")
    order_id, items = None, None
    for candidate in unshipped:
        lines = orders_api.get_order_items(candidate.amazon_order_id).payload
        check(lines.amazon_order_id == candidate.amazon_order_id, "items of order %r" % lines.amazon_order_id)
        if sum(i.quantity_ordered for i in lines.order_items) >= 2:
            order_id, items = candidate.amazon_order_id, lines.order_items
            break
    check(order_id, "no unshipped merchant-fulfilled order has two units")
    order = orders_api.get_order(order_id).payload
    check(order.amazon_order_id == order_id, "get_order returned %r" % order.amazon_order_id)
    check(order.buyer_info is None or order.buyer_info.buyer_email is None, "buyer info without an RDT: %r" % order.buyer_info)
    check(order.shipping_address.city and order.shipping_address.address_line1 is None,
          "the address without an RDT is not Amazon's partial one: %r" % order.shipping_address)
    print("   order:", order_id, order.order_status, order.order_total.amount, order.order_total.currency_code)
    print("   items:", [(i.seller_sku, i.quantity_ordered) for i in items])

    step("getOrderAddress without a restricted data token: 403 Unauthorized")
    try:
        orders_api.get_order_address(order_id)
    except ApiException as error:
        check(error.status == 403, "expected 403, got %r: %s" % (error.status, error.body))
        check(errors_of(error)[0]["code"] == "Unauthorized", "errors %r" % errors_of(error))
    else:
        raise CheckFailed("getOrderAddress answered personal data without a restricted data token")

    step("createRestrictedDataToken: TokensApi, then getOrderAddress with the RDT")
    resources = [
        RestrictedResource(method="GET", path="/orders/v0/orders/%s/address" % order_id),
        RestrictedResource(method="GET", path="/orders/2026-01-01/orders/{orderId}", data_elements=["shippingAddress"]),
    ]
    rdt = TokensApi(client.api_client).create_restricted_data_token(
        CreateRestrictedDataTokenRequest(restricted_resources=resources)
    )
    check(rdt.restricted_data_token.startswith("Atz.sprdt|"), "not an RDT: %r" % rdt.restricted_data_token[:10])
    check(rdt.expires_in > 0, "expires_in %r" % rdt.expires_in)
    restricted = rdt_client(rdt.restricted_data_token)
    address = OrdersV0Api(restricted).get_order_address(order_id).payload
    check(address.amazon_order_id == order_id, "the address of order %r" % address.amazon_order_id)
    check(address.shipping_address.name and address.shipping_address.address_line1,
          "the RDT did not open the full address: %r" % address.shipping_address)
    print("   ships to:", address.shipping_address.city, address.shipping_address.postal_code)
    try:
        OrdersV0Api(restricted).get_order_items(order_id)
    except ApiException as error:
        check(error.status == 403, "a resource the RDT does not name: expected 403, got %r" % error.status)
    else:
        raise CheckFailed("the RDT opened a resource it does not name")

    step("confirmShipment: OrdersV0Api.confirm_shipment of one unit, packageReferenceId 1 (204)")

    def package(reference, order_items):
        return ConfirmShipmentRequest(
            marketplace_id=marketplace,
            package_detail=PackageDetail(
                package_reference_id=reference,
                carrier_code="Canada Post",
                tracking_number="70233344455566%s" % reference,
                ship_date=now,
                order_items=[ConfirmShipmentOrderItem(order_item_id=i, quantity=q) for i, q in order_items],
            ),
        )

    first = [(items[0].order_item_id, 1)]
    data, status, _ = orders_api.confirm_shipment_with_http_info(order_id, package("1", first))
    check(status == 204 and data is None, "confirm_shipment answered %r %r" % (status, data))
    check(orders_api.get_order(order_id).payload.order_status == "PartiallyShipped", "one unit of two shipped: not PartiallyShipped")

    step("confirmShipment again with packageReferenceId 1: 400 InvalidInput, nothing shipped twice")
    try:
        orders_api.confirm_shipment(order_id, package("1", first))
    except ApiException as error:
        check(error.status == 400, "expected 400, got %r: %s" % (error.status, error.body))
        check(errors_of(error)[0]["code"] == "InvalidInput", "errors %r" % errors_of(error))
        check("already been confirmed" in errors_of(error)[0]["message"], "errors %r" % errors_of(error))
        print("   refused:", errors_of(error)[0]["message"])
    else:
        raise CheckFailed("the same packageReferenceId was confirmed twice")

    step("confirmShipment of the rest as packageReferenceId 2: the order is Shipped")
    rest = [(i.order_item_id, i.quantity_ordered - (1 if i is items[0] else 0)) for i in items]
    orders_api.confirm_shipment(order_id, package("2", [(i, q) for i, q in rest if q > 0]))
    check(orders_api.get_order(order_id).payload.order_status == "Shipped", "every unit confirmed: not Shipped")
    result.update(order_id=order_id, package_reference_ids=["1", "2"])

    step("searchOrders (2026-01-01): SearchOrdersApi.search_orders, every page by paginationToken")
    search = SearchOrdersApi(client.api_client)
    found, pages, token = [], [], None
    while True:
        if token:
            page = search.search_orders(pagination_token=token)
        else:
            page = search.search_orders(created_after=since, marketplace_ids=[marketplace], included_data=["FULFILLMENT"])
        pages.append(len(page.orders))
        found.extend(o.order_id for o in page.orders)
        token = page.pagination.next_token if page.pagination else None
        if not token:
            break
    check(sorted(found) == sorted(ids), "searchOrders found %d orders, getOrders %d" % (len(found), len(ids)))
    print("   pages:", pages)

    step("getOrder (2026-01-01): GetOrderApi.get_order with PACKAGES and RECIPIENT (with the RDT)")
    placed = GetOrderApi(restricted).get_order(order_id, included_data=["RECIPIENT", "PACKAGES"]).order
    check(placed.order_id == order_id, "get_order returned %r" % placed.order_id)
    references = sorted(p.package_reference_id for p in placed.packages)
    check(references == ["1", "2"], "packages %r" % references)
    check(placed.recipient.delivery_address.address_line1, "the RDT did not open the delivery address")

    step("getListingsItem: ListingsApi.get_listings_item with fulfillmentAvailability")
    listings = ListingsApi(client.api_client)
    sku = items[0].seller_sku
    item = listings.get_listings_item(seller, sku, [marketplace], included_data=["summaries", "fulfillmentAvailability"])
    check(item.sku == sku, "get_listings_item returned %r" % item.sku)
    product_type = item.summaries[0].product_type
    before = next(a.quantity for a in item.fulfillment_availability if a.fulfillment_channel_code == "DEFAULT")
    print("   listing:", sku, product_type, "quantity", before)

    step("patchListingsItem: fulfillment_availability quantity, read back")
    quantity = before + 7
    patch = ListingsItemPatchRequest(
        product_type=product_type,
        patches=[
            PatchOperation(
                op="replace",
                path="/attributes/fulfillment_availability",
                value=[{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
            )
        ],
    )
    submission = listings.patch_listings_item(seller, sku, [marketplace], patch)
    check(submission.status == "ACCEPTED", "the patch was %r: %r" % (submission.status, submission.issues))
    item = listings.get_listings_item(seller, sku, [marketplace], included_data=["fulfillmentAvailability"])
    after = next(a.quantity for a in item.fulfillment_availability if a.fulfillment_channel_code == "DEFAULT")
    check(after == quantity, "read back quantity %r, patched %r" % (after, quantity))
    result.update(sku=sku, quantity=quantity)

    step("profiles lacking a role: the SDK's ApiException 403 Unauthorized")
    no_listings = client_for(merchant["profiles"]["missing-listings"])
    no_orders = client_for(merchant["profiles"]["missing-orders"])
    refused = [
        ("missing-listings: getListingsItem", lambda: ListingsApi(no_listings.api_client).get_listings_item(seller, sku, [marketplace])),
        ("missing-orders: getOrders", lambda: OrdersV0Api(no_orders.api_client).get_orders([marketplace], created_after=since)),
    ]
    for name, call in refused:
        try:
            call()
        except ApiException as error:
            check(error.status == 403, "%s: expected 403, got %r: %s" % (name, error.status, error.body))
            check(errors_of(error)[0]["code"] == "Unauthorized", "%s: errors %r" % (name, errors_of(error)))
        else:
            raise CheckFailed("%s was served to an app without the role" % name)
    # Each profile keeps the roles it has.
    OrdersV0Api(no_listings.api_client).get_order(order_id)
    ListingsApi(no_orders.api_client).get_listings_item(seller, sku, [marketplace])

    step("429: getOrders past its burst; the SDK raises ApiException with QuotaExceeded")
    quota_error = None
    for _ in range(25):
        try:
            orders_api.get_orders([marketplace], created_after=since, max_results_per_page=1)
        except ApiException as error:
            quota_error = error
            break
    check(quota_error is not None, "25 getOrders in a row were all served (burst 20)")
    check(quota_error.status == 429, "expected 429, got %r: %s" % (quota_error.status, quota_error.body))
    check(errors_of(quota_error)[0]["code"] == "QuotaExceeded", "errors %r" % errors_of(quota_error))
    check(header(quota_error, "x-amzn-RateLimit-Limit") == "0.0167", "x-amzn-RateLimit-Limit %r" % header(quota_error, "x-amzn-RateLimit-Limit"))
    print("   the SDK does not retry: the caller waits for the bucket (the sandbox clock moves 60 s) and retries")
    advance_clock(60)
    orders_api.get_orders([marketplace], created_after=since, max_results_per_page=1)

    print("RESULT", json.dumps(result))
    print("OK: %d steps passed with amzn-sp-api %s" % (len(steps), client_version()))
    return 0


def client_version():
    try:
        from importlib.metadata import version

        return version("amzn-sp-api")
    except Exception:  # pragma: no cover - only for the message
        return "?"


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:  # any failure, the client's exceptions included
        print("FAILED: %s: %s" % (type(error).__name__, error), file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)
